// Validation of command-line values: each failure names the option, what was
// expected and what was received.
import { chooseThreads } from '../threads.js';
import { UsageError } from './errors.js';
import { warn } from './output.js';

export function intOption(name: string, raw: string | undefined, min: number, max: number): number {
  const v = raw === undefined ? NaN : Number(raw);
  if (raw === undefined || !/^\s*[+-]?\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${raw ?? ''}"`);
  }
  return v;
}

export function numberOption(name: string, raw: string | undefined, check: (v: number) => boolean, expected: string): number {
  const v = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v) || !check(v)) throw new UsageError(`${name} must be ${expected}, got "${raw ?? ''}"`);
  return v;
}

export function choiceOption<T extends string>(name: string, raw: string | undefined, choices: readonly T[]): T {
  if (raw === undefined || !choices.includes(raw as T)) {
    throw new UsageError(`${name} must be one of ${choices.join('|')}, got "${raw ?? ''}"`);
  }
  return raw as T;
}

/**
 * The thread count for --threads (undefined: not given): as asked, else
 * OMP_NUM_THREADS, else the cores this process may use; never more than those
 * cores, with a one-line warning when a request is capped.
 */
export function threadsOption(raw: string | undefined): number {
  const choice = chooseThreads(raw === undefined ? undefined : intOption('--threads', raw, 1, 1024));
  if (choice.note) warn(choice.note);
  return choice.threads;
}
