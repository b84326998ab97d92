// Validation of user values, one set of checks for the command line and the
// library. A value is a string (as typed on the command line) or a number (as
// a program passes it); each failure names the option, what was expected and
// what was received, the option named as its caller calls it ("--batch-size"
// on the command line, "batchSize" in the library):
//   --layers must be an integer from 1 to 64, got "0"
//   layers must be an integer from 1 to 64, got 0
import { InputError } from './errors.js';

/** What a caller may pass for one option. */
export type RawValue = string | number | boolean | null | undefined | readonly unknown[] | object;

/** How the caller names an option (by its key in camelCase) and whether the caller gave it. */
export interface Naming {
  name: (key: string) => string;
  given: (key: string) => boolean;
}

/** Options whose flag is not their key in kebab case. */
const IRREGULAR_FLAGS: Readonly<Record<string, string>> = { skipNonFinite: '--skip-nonfinite' };

/** The command line's names: batchSize is --batch-size (skipNonFinite is --skip-nonfinite). */
export const flagName = (key: string): string => IRREGULAR_FLAGS[key] ?? '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** "1 epoch", "2 epochs": a count and its noun (`nouns` where the plural is not noun + s). */
export const plural = (n: number, noun: string, nouns = `${noun}s`): string => `${n} ${n === 1 ? noun : nouns}`;

/** A value as the message quotes it: strings in double quotes, numbers as they are. */
export function show(raw: unknown): string {
  if (raw === undefined) return 'nothing (undefined)';
  let s: string;
  try {
    // A list's numbers as numbers: NaN and Infinity are not JSON's null.
    if (Array.isArray(raw)) s = `[${raw.map((x) => (typeof x === 'number' || x === undefined ? String(x) : JSON.stringify(x) ?? String(x))).join(',')}]`;
    else if (typeof raw === 'string' || (typeof raw === 'object' && raw !== null)) s = JSON.stringify(raw);
    else s = String(raw);
  } catch {
    // (a value nested past the call stack, as a checkpoint's header may hold: before, the message itself failed)
    return Array.isArray(raw) ? `an array of ${raw.length}` : 'an object that JSON cannot show (nested too deeply, or cyclic)';
  }
  // Kept to a line (a header's 5 MB string was one message); JSON's escapes keep control characters out of it.
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN - 3)}... (${s.length.toLocaleString('en-US')} characters)` : s;
}

/** The most characters show() gives of one value. */
const MAX_SHOWN = 400;

/**
 * A message as a terminal may show it: control characters (a newline that
 * would begin a line of its own, an escape sequence that clears the screen)
 * written as \uXXXX. Error and warning lines pass through it, and so does
 * what `info` prints of a checkpoint's strings.
 */
export function terminalSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A value for a message, kept short whatever it is: show() for what prints
 * small, else what kind of thing it is (a model, an object with keys ...), so
 * that a large object passed by mistake does not become the message.
 */
export function describe(v: unknown): string {
  if (typeof v !== 'object' || v === null) {
    const s = typeof v === 'function' ? 'a function' : show(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  }
  if (Array.isArray(v)) return `an array of ${v.length}`;
  const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
  if (ctor && ctor !== 'Object') return `an instance of ${ctor}`;
  const keys = Object.keys(v);
  return keys.length ? `an object with keys ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}` : 'an empty object';
}

/** integer() for a value a program gives: a number, not a string that reads as one (a caller's slip). */
export function strictInteger(name: string, raw: unknown, min: number, max: number): number {
  if (typeof raw !== 'number') throw new InputError(`${name} must be an integer from ${min} to ${max}, got ${describe(raw)}`);
  return integer(name, raw, min, max);
}

export function integer(name: string, raw: unknown, min: number, max: number): number {
  const v = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new InputError(`${name} must be an integer from ${min} to ${max}, got ${show(raw)}`);
  }
  return v;
}

export function number(name: string, raw: unknown, check: (v: number) => boolean, expected: string): number {
  // Decimal only, as integer() reads (Number() would also take 0x10, 0b1 and 0o7)
  const v = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(raw) ? Number(raw) : NaN;
  // A number written with a digit other than 0 before its exponent that reads as 0 (1e-400) is
  // below what a double holds: not the 0 it would become (--clip 1e-400 would turn clipping off).
  if (v === 0 && typeof raw === 'string' && /[1-9]/.test(raw.split(/e/i)[0]!)) {
    throw new InputError(`${name} must be ${expected}, got ${show(raw)}, which is below the smallest number a double holds (it would read as 0)`);
  }
  if (!Number.isFinite(v) || !check(v)) throw new InputError(`${name} must be ${expected}, got ${show(raw)}`);
  return v;
}

export function choice<T extends string>(name: string, raw: unknown, choices: readonly T[]): T {
  if (typeof raw !== 'string' || !choices.includes(raw as T)) {
    throw new InputError(`${name} must be one of ${choices.join('|')}, got ${show(raw)}`);
  }
  return raw as T;
}

export function flag(name: string, raw: unknown): boolean {
  if (raw === undefined || raw === null) return false;
  if (typeof raw !== 'boolean') throw new InputError(`${name} must be true or false, got ${show(raw)}`);
  return raw;
}

/** A non-empty string (a path). */
export function text(name: string, raw: unknown, what = 'a file path'): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new InputError(`${name} must be ${what}, got ${show(raw)}`);
  return raw;
}

/** A list: an array as it is, a string split at commas. */
export function list(name: string, raw: unknown, expected: string): unknown[] {
  if (Array.isArray(raw)) return raw;
  if (typeof raw === 'string') return raw.split(',').map((s) => s.trim());
  if (typeof raw === 'number') return [raw];
  throw new InputError(`${name} must be ${expected}, got ${show(raw)}`);
}

/** Edits (insert, delete, replace) between two short strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The known name a mistyped one most likely meant (the same but for case, or a quarter of its letters off), if any. */
export function likelyName(name: string, known: readonly string[]): string | undefined {
  const k = name.toLowerCase();
  return known.find((c) => c.toLowerCase() === k || editDistance(c.toLowerCase(), k) <= Math.floor(name.length / 4));
}

/** Refuses a key of `o` (set, not undefined) that is not in `known`: `${what}: unknown option x (did you mean y?)`. */
/** A collection (Map, Set, array) where named options are wanted: its entries are no keys, and a spread drops them. */
export const isCollection = (o: unknown): boolean => o instanceof Map || o instanceof Set || Array.isArray(o);

export function refuseUnknownKeys(o: object, known: readonly string[], what: string): void {
  // A Map's entries are no keys: before, train(text, new Map([['epochs', 1]])) ran the defaults without a word.
  if (isCollection(o)) {
    throw new InputError(`${what}: the options must be a plain object ({ name: value, ... }), got ${describe(o)}`);
  }
  for (const [key, value] of Object.entries(o)) {
    if (value === undefined || known.includes(key)) continue;
    const like = likelyName(key, known);
    throw new InputError(`${what}: unknown option ${key}${like ? ` (did you mean ${like}?)` : ` (expected ${known.join(', ')})`}`);
  }
}
