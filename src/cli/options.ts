// Command-line values: the checks are the library's (src/validate.ts), with
// options named as typed (--batch-size); each failure names the option, what
// was expected and what was received. Options are declared here with their
// defaults as values (numbers show unquoted in --help).
import { Option, type Command } from 'commander';
import { native, PRECISIONS, type Precision } from '../native.js';
import { chooseThreads } from '../threads.js';
import { choice, flagName, integer, number, type Naming } from '../validate.js';
import { UsageError } from './errors.js';
import { warn, type Format } from './output.js';

export const intOption = (name: string, raw: unknown, min: number, max: number): number => integer(name, raw, min, max);

export const numberOption = (name: string, raw: unknown, check: (v: number) => boolean, expected: string): number =>
  number(name, raw, check, expected);

export const choiceOption = <T extends string>(name: string, raw: unknown, choices: readonly T[]): T => choice(name, raw, choices);

/** The command line's naming: --batch-size, given when typed (not a default). */
export function cliNaming(given: (key: string) => boolean): Naming {
  return { name: flagName, given };
}

/**
 * An option for --help: `defaultValue` is shown as commander shows it
 * (numbers bare, strings quoted) unless `shown` says it in words; a
 * required option says so.
 */
export function option(flags: string, description: string, defaultValue?: unknown, shown?: string): Option {
  const o = new Option(flags, description);
  if (defaultValue !== undefined) o.default(defaultValue, shown);
  return o;
}

export function requiredOption(flags: string, description: string): Option {
  return new Option(flags, `${description} (required)`).makeOptionMandatory();
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

/**
 * --format and --json (the same as --format json), for a command whose output
 * comes in `formats`; `csv` says what a CSV row is, where the output is tabular.
 */
export function formatOptions(formats: readonly Format[], csv?: string): Option[] {
  return [
    option('--format <format>', `${formats.join('|')}: text for the terminal${csv ? `, one JSON object, or CSV with ${csv}` : ' or one JSON object'}`, 'text'),
    option('--json', 'the same as --format json: stdout carries one JSON object and nothing else'),
  ];
}

/** The format a command prints in: --format, or json with --json (which contradicts any other --format). */
export function outputFormat(cmd: Command, formats: readonly Format[]): Format {
  const format = choiceOption('--format', cmd.getOptionValue('format'), formats);
  if (cmd.getOptionValue('json') === true) {
    if (cmd.getOptionValueSource('format') === 'cli' && format !== 'json') {
      throw new UsageError(`--json is --format json: give --json or --format ${format}, not both`);
    }
    return 'json';
  }
  return format;
}

/** Adds the options, as declared, to a command. */
export function addOptions(cmd: Command, options: readonly Option[]): Command {
  for (const o of options) cmd.addOption(o);
  return cmd;
}

/** --precision of eval and predict: undefined (the checkpoint's training precision) unless given. */
export function precisionOption(raw: unknown): Precision | undefined {
  if (raw === undefined) return undefined;
  if (!PRECISIONS.includes(raw as Precision)) throw new UsageError(`--precision must be one of ${PRECISIONS.join('|')}, got ${JSON.stringify(raw)}`);
  return raw as Precision;
}

/** One line on stderr when bf16 products run on the float32 fallback: the same numbers, more slowly. */
export function bf16Note(): void {
  const info = native().info();
  if (info.bf16 === 'avx512bf16' || info.bf16 === 'amx') return;
  if (info.bf16 === 'emulated (amx-model)') {
    process.stderr.write('note: bf16 products run on a software model of the AMX tiles (DEEPRNN_BF16=amx-model): the AMX path\'s results, far slower\n');
    return;
  }
  const why = info.bf16Hardware ? 'DEEPRNN_BF16 chose it' : 'this CPU has no bf16 instructions (AVX512-BF16)';
  // the fallback gives vdpbf16ps's bits; where AMX is the default, the default rounds otherwise
  const same = info.bf16Amx ? 'vdpbf16ps\'s results (AMX, the default here, rounds otherwise)' : 'the same results';
  process.stderr.write(`note: bf16 products run on the float32 fallback, ${info.bf16} (${why}): ${same}, slower than fp32\n`);
}
