// Validation of command-line values: each failure names the option, what was
// expected and what was received.
import { UsageError } from './errors.js';

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
