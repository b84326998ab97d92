// What the commands print goes through here. A reader that goes away
// (`deeprnn predict ... | head`) ends the command quietly; any other failure to
// write (a full disk, /dev/full) ends it with one line naming the stream and
// the cause, exit code 1, never a stack trace.

/** The standard output was closed by its reader: stop, with no message and exit code 0. */
export class OutputClosed extends Error {
  override readonly name = 'OutputClosed';
}

/** The standard output could not be written. */
export class OutputError extends Error {
  override readonly name = 'OutputError';
}

/** The line that reports a failed write to a standard stream. */
export function streamFailure(e: NodeJS.ErrnoException, stream: 'output' | 'error' = 'output'): string {
  return `cannot write to the standard ${stream} (${e.code ?? 'error'}: ${e.message.replace(/^[A-Z]+: /, '')})`;
}

/** Writes to stdout; throws when the stream has failed (so that a long loop stops at once). */
export function write(text: string): void {
  process.stdout.write(text);
  const e = process.stdout.errored as NodeJS.ErrnoException | null;
  if (e) throw e.code === 'EPIPE' ? new OutputClosed('the standard output was closed') : new OutputError(streamFailure(e));
}

/** Writes a warning line to stderr. */
export function warn(message: string): void {
  process.stderr.write(`deeprnn: warning: ${message}\n`);
}

