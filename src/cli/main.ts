// The deeprnn command-line program.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { native } from '../native.js';
import { InputError } from '../errors.js';
import { plural, terminalSafe } from '../validate.js';
import { defaultChunkTokens } from '../nn/rnnlm.js';
import { inJob, launcherRank, mpiSummary } from '../mpi.js';
import { registerBench } from './bench.js';
import { UsageError } from './errors.js';
import { OutputClosed, OutputError, streamFailure } from './output.js';
import { collectBeforeExit } from './exit.js';
import { registerCompare } from './compare.js';
import { registerPlot } from './plot.js';
import { registerEval } from './eval.js';
import { registerExport } from './export.js';
import { registerInfo } from './info.js';
import { registerPredict } from './predict.js';
import { registerServe } from './serve.js';
import { registerTrain } from './train.js';
import { stopTrainingForOutput } from './train-thread.js';

/** The version line; `tune`: time the GEMM tiles first, so that it names the one training will use. */
function version(tune: boolean): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  try {
    if (tune) native().tuneGemm();
    const info = native().info();
    return `deeprnn ${pkg.version} (simd ${info.simd}; available ${info.simdAvailable.join(', ')}; `
      + `GEMM tile ${info.gemmTile}, ${info.gemmTileChoice}; `
      + `${info.openmp ? `openmp, ${plural(info.threads, 'thread')}` : 'no openmp'}; bf16 ${info.bf16}${info.bf16Amx && info.bf16 !== 'amx' ? ', amx available (DEEPRNN_BF16=amx)' : ''}; ${mpiSummary()})`;
  } catch (e) {
    const msg = (e as Error).message.replace(/^(info|tuneGemm): /, '');
    return `deeprnn ${pkg.version} (${/DEEPRNN_(SIMD|GEMM_TILE|BF16)/.test(msg) ? 'kernels' : 'native addon'} unavailable: ${msg})`;
  }
}

/**
 * DEEPRNN_SIMD, DEEPRNN_GEMM_TILE and DEEPRNN_BF16, when set, name an
 * instruction set this CPU and build support, one of its GEMM tiles and a bf16
 * path, DEEPRNN_TEAM_SIZE and DEEPRNN_CHUNK_TOKENS are whole numbers,
 * DEEPRNN_PANELS and DEEPRNN_TN_ACROSS are 0 or 1; else an input error (exit 2).
 */
function checkSimdSetting(): void {
  defaultChunkTokens();
  const team = process.env.DEEPRNN_TEAM_SIZE;
  if (team !== undefined && !/^\d{1,6}$/.test(team.trim())) {
    throw new InputError(`DEEPRNN_TEAM_SIZE must be a whole number of threads per team (0: the cost model's choice), got "${team}"`);
  }
  const panels = process.env.DEEPRNN_PANELS;
  // (white space as the addon reads it: ASCII's, not every Unicode space trim() takes)
  if (panels !== undefined && !/^[ \t\n\v\f\r]*[01][ \t\n\v\f\r]*$/.test(panels)) {
    throw new InputError(`DEEPRNN_PANELS must be 0 (wide layers read W_hh in rows) or 1 (in panels, the default), got "${panels}"`);
  }
  const across = process.env.DEEPRNN_TN_ACROSS;
  // (exactly, as the addon reads it: "1" alone is on)
  if (across !== undefined && across !== '0' && across !== '1') {
    throw new InputError(`DEEPRNN_TN_ACROSS must be 0 (weight gradients down the rows, the default) or 1 (across the columns, as before), got "${across}"`);
  }
  if (process.env.DEEPRNN_SIMD === undefined && process.env.DEEPRNN_GEMM_TILE === undefined && process.env.DEEPRNN_BF16 === undefined) return;
  try {
    native().info();
  } catch (e) {
    const msg = (e as Error).message;
    if (/DEEPRNN_(SIMD|GEMM_TILE|BF16)/.test(msg)) throw new InputError(msg.replace(/^info: /, ''));
    throw e;
  }
}

/**
 * commander's message ("error: unknown option '--layer'\n(Did you mean
 * --layers?)\n") as one line with deeprnn's prefix.
 */
export function commanderError(str: string, command?: string): string {
  const lines = str.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const [first = 'error', ...rest] = lines;
  const hint = rest.map((l) => l.replace(/^\((.*)\)$/, '$1')).map((l) => l.charAt(0).toLowerCase() + l.slice(1));
  // A word that begins with "-" but reads as no option (a prefix "-5 apples", a negative number): how to pass it.
  const word = /^error: unknown option '(.*)'$/s.exec(first)?.[1];
  // (`command`: the command, when it takes an argument; train, compare and bench take none)
  if (command && word !== undefined && !/^--?[A-Za-z][A-Za-z0-9-]*(=.*)?$/s.test(word)) {
    hint.push(`an argument that begins with "-" goes last, after the options and --: deeprnn ${command} [options] -- "${word}"`);
  }
  return `deeprnn${rankLabel()}: ${first.startsWith('error: ') ? first : `error: ${first}`}${hint.length ? ` (${hint.join('; ')})` : ''}\n`;
}

/** In a job of several ranks, every rank but the first says which it is in its errors: " (rank N)", else "". */
function rankLabel(): string {
  return inJob() && launcherRank() !== 0 ? ` (rank ${launcherRank()})` : '';
}

/** `name` when it is a command that takes an argument (a prefix, a checkpoint, a directory), else undefined. */
function argumentTaker(program: Command, name: string | undefined): string | undefined {
  const command = program.commands.find((c) => c.name() === name);
  return command && command.registeredArguments.length > 0 ? name : undefined;
}

/** argv: the process's (node, script, args...); the GEMM timing runs only when it asks for --version. */
export function buildProgram(argv: string[] = []): Command {
  const program = new Command('deeprnn');
  const askedVersion = argv.slice(2).some((a) => a === '-V' || a === '--version');
  program
    .description('deep (stacked) RNN, GRU and LSTM language models')
    .version(version(askedVersion), '-V, --version')
    .exitOverride()
    .showHelpAfterError(false)
    // commander's own errors (an unknown option, a missing argument) as every other error: one line, one prefix.
    .configureOutput({ outputError: (str, write) => write(commanderError(str, argumentTaker(program, argv[2]))) })
    // A bad DEEPRNN_SIMD or DEEPRNN_GEMM_TILE is refused once, before any command does any work.
    .hook('preAction', (_program, command) => {
      refuseFlagValues(command, argv);
      checkSimdSetting();
      refuseInJob(command.name());
    });
  registerTrain(program);
  registerPredict(program);
  registerEval(program);
  registerCompare(program);
  registerPlot(program);
  registerInfo(program);
  registerExport(program);
  registerServe(program);
  registerBench(program);
  return program;
}

/**
 * An option that takes a value takes the next word, whatever it is: `--out
 * --json` would write files named "--json" and never see --json. A value that
 * is one of the command's own options (or -h, --help) is refused, naming both,
 * unless it was written with its option (`--out=--json`).
 */
function refuseFlagValues(command: Command, argv: readonly string[]): void {
  const flags = new Set(['-h', '--help']);
  for (const o of command.options) {
    if (o.long) flags.add(o.long);
    if (o.short) flags.add(o.short);
  }
  for (const o of command.options) {
    if (!(o.required || o.optional)) continue;  // a switch takes no value
    const key = o.attributeName();
    if (command.getOptionValueSource(key) !== 'cli') continue;
    const value: unknown = command.getOptionValue(key);
    for (const v of Array.isArray(value) ? value : [value]) {
      // (written --out=--json, the value is meant)
      if (typeof v === 'string' && flags.has(v) && !argv.some((a) => a === `${o.long}=${v}`)) {
        throw new UsageError(`${o.long ?? o.short} needs a value, and the next word is the option ${v}: give ${o.long ?? o.short} its value before ${v}`);
      }
    }
  }
}

/** The commands that run data-parallel under an MPI launcher (compare refuses a job with its own advice). */
const JOB_COMMANDS = new Set(['train', 'eval', 'compare']);

/**
 * Under an MPI launcher with several ranks, a command of one process would run
 * once per rank: the same output over and over, the same files written by
 * every rank at once, benchmarks timing against each other.
 */
function refuseInJob(command: string): void {
  if (!inJob() || JOB_COMMANDS.has(command)) return;
  throw new UsageError(`deeprnn ${command} runs in one process: run it without the MPI launcher `
    + '(under one, every rank would run it; train and eval are the commands that share the work of a job)');
}

export async function main(argv: string[]): Promise<number> {
  try {
    const program = buildProgram(argv);
    // `deeprnn help NAME` with a NAME that is no command: an error like `deeprnn NAME`'s, not the whole usage.
    const [first, topic] = argv.slice(2);
    if (first === 'help' && topic !== undefined && !topic.startsWith('-') && topic !== 'help'
      && !program.commands.some((c) => c.name() === topic || c.aliases().includes(topic))) {
      throw new UsageError(`unknown command '${topic}' (the commands: ${program.commands.map((c) => c.name()).join(', ')})`);
    }
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its own message already
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    if (e instanceof OutputClosed) return 0;
    if (e instanceof OutputError) outputReported = true;
    // (the library's own messages that name it, "deeprnn: the native addon ...", get the prefix once)
    const msg = ((e as Error).message ?? String(e)).replace(/^deeprnn: /, '');
    // (one line, whatever a file's strings in it hold: a newline or an escape sequence is written as \u000a, \u001b)
    process.stderr.write(`deeprnn${rankLabel()}: error: ${terminalSafe(msg)}\n`);
    if (e instanceof InputError || isFileError(e)) return 2;
    if (process.env.DEEPRNN_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

/** A file the user named could not be read. */
function isFileError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR';
}

// A reader that goes away (`deeprnn predict ... | head`) is not an error: stop
// writing, keep going. Any other failure of a standard stream (a full disk)
// ends the command with one line and exit code 1.
let outputReported = false;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') return;
  if (!outputReported) {
    outputReported = true;
    process.stderr.write(`deeprnn: error: ${streamFailure(e)}\n`);
  }
  // A training run stops after its batch and saves, as after a signal, and the
  // command then ends with exit code 1 (ending here would cut a native step short).
  if (stopTrainingForOutput()) {
    process.exitCode = 1;
    return;
  }
  process.exit(1);
});
// Standard error failing (a full disk) cannot be told: the command does its
// work (a training run trains on, predict prints its text) and ends with exit
// code 1, as GNU tools do. (Before, the process ended at the first line that
// could not be written: `train --json 2>/dev/full` lost the run at its first
// progress line, predict printed nothing after a warning.)
// (A code the command set already, 2 for a usage error or 130 after Ctrl-C, stays: the event comes a turn later.)
process.stderr.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE' && !process.exitCode) process.exitCode = 1;
});

const code = await main(process.argv);
if (code !== 0) process.exitCode = code;
// (serve returns only when it closes; train's thread has ended by now)
collectBeforeExit();
