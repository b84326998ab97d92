/**
 * Something the user gave was wrong: an option, a file, a corpus, a
 * checkpoint, a size. The CLI prints its message as one line and exits 2.
 */
export class InputError extends Error {
  override name = 'InputError';
}
