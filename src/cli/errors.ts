/** Bad user input (an option, a file): printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
