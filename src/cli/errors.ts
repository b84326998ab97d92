import { InputError } from '../errors.js';

/** A wrong command-line value: printed as one line, exit code 2. */
export class UsageError extends InputError {
  override name = 'UsageError';
}
