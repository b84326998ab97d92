// deeprnn train: the book's deep RNN language model run, every option
// validated (by the library's checks, src/train/settings.ts); checkpoints on
// a schedule, --resume, --init-from (fine-tuning), and a clean stop on SIGINT
// / SIGTERM (the run itself is on a worker thread: train-thread.ts).
import type { Command } from 'commander';
import { loadCheckpoint } from '../io/checkpoint.js';
import { CELLS } from '../nn/config.js';
import { HYPER_KEYS, HYPERPARAMS, OPTIMIZER_SPECS, OPTIMIZERS, optimizerSpec, optimizersWith, showHyper, type HyperKey } from '../train/optim.js';
import { SCHEDULES } from '../train/schedule.js';
import { bestEpoch, runTokensPerSec, sparkline } from '../train/metrics.js';
import { resumeSettings, type RunSettings, type RunTimings } from '../train/run.js';
import { initFromSettings, MAX_EPOCHS, resolveRunSettings, RUN_DEFAULTS } from '../train/settings.js';
import { flagName, text } from '../validate.js';
import { DEFAULT_CHECKPOINT } from './defaults.js';
import { UsageError } from './errors.js';
import { addOptions, bf16Note, cliNaming, formatOptions, option, outputFormat, threadsOption } from './options.js';
import { Progress } from './progress.js';
import { trainInThread, type ThreadResult } from './train-thread.js';
import { emit, type Report } from './output.js';
import { launcherRank } from '../mpi.js';
import { Writable } from 'node:stream';

/** A stream that drops what is written (a rank other than 0's progress). */
const discard = () => new Writable({ write: (_chunk, _enc, done) => done() }) as unknown as NodeJS.WriteStream;

/** What commander gives: strings as typed, the defaults as declared (numbers). */
export type RawTrainOptions = Record<string, unknown> & {
  corpus: string[];
  out: string;
  threads?: string;
  resume?: string;
  initFrom?: string;
  skipNonfinite?: boolean;
};

/** Options that define the run; on --resume they come from the checkpoint and may not be given. */
const RUN_DEFINING = [
  'cell', 'layers', 'hidden', 'dropout', 'batchSize', 'numSteps', 'numTrain', 'numVal', 'lr', 'clip', 'seed',
  'tokenizer', 'minFreq', 'batching', 'valFrac', 'optimizer', ...HYPER_KEYS,
  'lrSchedule', 'warmup', 'lrDecay', 'lrDecayAfter', 'minLr', 'clipMode', 'strict', 'precision',
];

/** A word of a command line as a POSIX shell reads it back: as it is when plain, else single-quoted. */
export function shellWord(w: string): string {
  // (a word that starts with "=" is quoted too: zsh expands =NAME to a command's path)
  return /^[\w@%+:,./-][\w@%+=:,./-]*$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`;
}

/**
 * The options given to this run that its checkpoint does not hold and a resume
 * takes again (how often it saves and keeps snapshots, where corpora are, the
 * threads), as typed, for the "resume with:" line.
 */
export function resumeOptions(raw: RawTrainOptions, given: (name: string) => boolean): string {
  const flags: [string, string][] = [['saveEvery', '--save-every'], ['keep', '--keep'], ['dataDir', '--data-dir'], ['threads', '--threads']];
  return flags.filter(([k]) => given(k) && raw[k] !== undefined).map(([k, flag]) => ` ${flag} ${shellWord(String(raw[k]))}`).join('');
}

/**
 * The run's settings from the command line: the library's checks and
 * defaults (resolveRunSettings), options named as typed. `out` null: the
 * caller decides where each run writes (compare).
 */
export function parseTrainOptions(o: RawTrainOptions, given: (name: string) => boolean, out: string | null): RunSettings {
  const { skipNonfinite, ...rest } = o;
  const s = resolveRunSettings({ ...rest, skipNonFinite: skipNonfinite }, cliNaming(given), { corpus: o.corpus, out });
  return { ...s, threads: threadsOption(o.threads) };
}

/** What a run reports at the end (the JSON object of train --json). */
export interface RunSummary {
  /** The last epoch's perplexities (null before the first epoch ends). */
  trainPpl: number | null;
  valPpl: number | null;
  bestValPpl: number | null;
  bestEpoch: number | null;
  epochs: number;
  seconds: number;
  /** Training tokens per second of training time. */
  tokensPerSec: number;
  skippedSteps: number;
  /** Stopped by a signal. */
  stopped: boolean;
  earlyStop: boolean;
  /** Where the run is: epochs completed and batches into the next. */
  epoch: number;
  batch: number;
  checkpoint: string | null;
  /**
   * Where the command's time went, in seconds: start-up (from the process's
   * start to the run's: loading, reading the options), then the run's parts
   * (RunTimings: data, setup, training, validation, checkpoints, other, and
   * their sum `run`), and `total`, from the process's start to this report.
   */
  timings: { startup: number; data: number; setup: number; training: number; validation: number; checkpoints: number; other: number; run: number; total: number };
}

/** The run's timings with this process's start-up and total (performance.now() counts from the process's start). */
function commandTimings(t: RunTimings): RunSummary['timings'] {
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    startup: round((t.startedAt - performance.timeOrigin) / 1000),
    data: round(t.data),
    setup: round(t.setup),
    training: round(t.training),
    validation: round(t.validation),
    checkpoints: round(t.checkpoints),
    other: round(t.other),
    run: round(t.total),
    total: round(performance.now() / 1000),
  };
}

/** The run's results: one JSON object, or the summary lines (none after a run a signal stopped: its own line says where it is). */
function report(result: ThreadResult, s: RunSettings, interrupted: boolean): Report {
  const { history } = result;
  const last = history[history.length - 1];
  const best = bestEpoch(history);
  const summary: RunSummary = {
    trainPpl: last?.trainPpl ?? null,
    valPpl: last?.valPpl ?? null,
    bestValPpl: best?.valPpl ?? null,
    bestEpoch: best?.epoch ?? null,
    epochs: history.length,
    seconds: result.seconds,
    tokensPerSec: runTokensPerSec(history),
    skippedSteps: history.reduce((a, m) => a + m.skipped, 0) + result.state.skipped,
    stopped: result.stopped,
    earlyStop: Boolean(result.early),
    epoch: result.state.epoch,
    batch: result.state.batch,
    checkpoint: s.out,
    timings: commandTimings(result.timings),
  };
  const text = () => {
    if (!last || !best || interrupted) return '';
    const r = summary;
    const vals = history.map((h) => h.valPpl);
    return [
      `done: train ppl ${last.trainPpl.toFixed(3)}, val ppl ${last.valPpl.toFixed(3)}, best val ppl ${best.valPpl.toFixed(3)} `
        + `(epoch ${best.epoch}), ${r.seconds.toFixed(1)} s, ${Math.round(r.tokensPerSec)} tokens/s`
        + `${r.skippedSteps ? `, ${r.skippedSteps} non-finite updates skipped` : ''}; checkpoint ${s.out}`,
      ...(r.earlyStop ? [`stopped early: no better validation perplexity in the last ${s.earlyStop} epochs`] : []),
      `val ppl ${vals[0]!.toFixed(2)} ${sparkline(vals)} ${last.valPpl.toFixed(2)} (best ${best.valPpl.toFixed(2)} at epoch ${best.epoch})`,
    ].join('\n') + '\n';
  };
  return { json: summary, text };
}

const D = RUN_DEFAULTS;


/**
 * A hyperparameter's --help, from the optimizer specs: the optimizers that
 * have it (unless all do), what it is, how an optimizer's differs, and its
 * default, or each optimizer's where they differ:
 *   L2 penalty, decoupled for adamw (default: 0 for sgd, adam, rmsprop; 0.01 for adamw)
 */
export function hyperHelp(key: HyperKey): string {
  const kinds = optimizersWith(key);
  const notes = kinds.filter((k) => optimizerSpec(k).notes?.[key]).map((k) => `, ${optimizerSpec(k).notes![key]} for ${k}`).join('');
  const byDefault = new Map<string, string[]>();
  for (const k of kinds) {
    const shown = showHyper(optimizerSpec(k).hyper[key]);
    byDefault.set(shown, [...(byDefault.get(shown) ?? []), k]);
  }
  const defaults = HYPERPARAMS[key].type === 'flag' ? ''
    : byDefault.size === 1 ? ` (default: ${[...byDefault.keys()][0]})`
      : ` (default: ${[...byDefault].map(([v, ks]) => `${v} for ${ks.join(', ')}`).join('; ')})`;
  const prefix = kinds.length === OPTIMIZERS.length ? '' : `${kinds.join(', ')}: `;
  return `${prefix}${HYPERPARAMS[key].help}${notes}${defaults}`;
}

/** The options of a training run (train and compare share them). */
export function addRunOptions(cmd: Command): Command {
  const lrs = OPTIMIZERS.map((k) => `${OPTIMIZER_SPECS[k].lr} for ${k}`).join(', ');
  cmd
    .addOption(option('--layers <n>', 'number of stacked layers (1-64)', D.layers))
    .addOption(option('--hidden <n>', 'hidden units per layer, or one size per layer: 256,128', D.hidden))
    .addOption(option('--dropout <p>', 'dropout between layers', D.dropout))
    // (compare has no --resume)
    .addOption(option('--epochs <n>', `epochs (1-${MAX_EPOCHS}${cmd.name() === 'train' ? '; with --resume: in all' : ''})`, D.epochs))
    .addOption(option('--batch-size <n>', 'windows per batch', D.batchSize))
    .addOption(option('--num-steps <n>', 'time steps per window', D.numSteps))
    .addOption(option('--num-train <n>', 'training windows', D.numTrain))
    .addOption(option('--num-val <n>', 'validation windows', D.numVal))
    .addOption(option('--lr <x>', `learning rate (default: ${lrs}: the book's for sgd, PyTorch's for the others)`))
    .addOption(option('--optimizer <kind>', OPTIMIZERS.join('|'), D.optimizer));
  // Each optimizer hyperparameter, as the specs describe it.
  for (const key of HYPER_KEYS) {
    const p = HYPERPARAMS[key];
    cmd.addOption(option(`${flagName(key)}${p.placeholder ? ` <${p.placeholder}>` : ''}`, hyperHelp(key)));
  }
  return cmd
    .addOption(option('--lr-schedule <kind>', SCHEDULES.join('|'), D.lrSchedule))
    .addOption(option('--warmup <steps>', 'linear learning-rate warm-up over this many steps', D.warmup))
    .addOption(option('--lr-decay <f>', 'step/exp: factor of each decay', D.lrDecay))
    .addOption(option('--lr-decay-after <epochs>', 'step: epochs between decays; exp: decay at the end of every epoch from this one (char-rnn: 10)', D.lrDecayAfter))
    .addOption(option('--min-lr <x>', 'floor of the decayed rate; end of the cosine', D.minLr))
    .addOption(option('--clip <x>', 'clip threshold (0: off)', D.clip))
    .addOption(option('--clip-mode <mode>', "norm: global gradient norm (the book's); value: each gradient value (char-rnn's)", D.clipMode))
    .addOption(option('--early-stop <patience>', 'stop when the validation perplexity has not improved for this many epochs'))
    .addOption(option('--seed <n>', 'seed for initialisation, shuffling and dropout', D.seed))
    .addOption(option('--threads <n>', 'threads (default: OMP_NUM_THREADS, else the cores this process may use)'))
    .addOption(option('--corpus <name|file|dir...>', 'registry corpora, text files or directories of .txt files (joined in order)', ['timemachine'], 'timemachine'))
    .addOption(option('--tokenizer <kind>', "d2l (letters and space, lowercased) | char (every character) | word (default: the first registry corpus's, else char)"))
    .addOption(option('--min-freq <n>', 'word tokenizer: words seen fewer times become <unk> (default: 1)'))
    .addOption(option('--batching <kind>', "random (the book's shuffled windows) or sequential (contiguous streams, state carried)", D.batching))
    .addOption(option('--val-frac <f>', 'validate on this fraction at the end of the text instead of --num-train / --num-val windows'))
    .addOption(option('--data-dir <dir>', 'where corpora are cached (default: $DEEPRNN_DATA_DIR, else $XDG_CACHE_HOME/deeprnn or ~/.cache/deeprnn)'))
    .addOption(option('--save-every <n>', 'save every N epochs, or every N steps with "Ns"', D.saveEvery))
    .addOption(option('--save-dtype <t>', 'how checkpoints store the weights: fp32, or bf16 (BF16 safetensors, half the size; optimizer state stays float32)', D.saveDtype))
    .addOption(option('--keep <k>', 'also keep the K most recent numbered checkpoints (NAME.eEPOCH.safetensors)', D.keep))
    .addOption(option('--skip-nonfinite', 'skip (and count) updates whose loss or gradient is not finite instead of stopping'))
    .addOption(option('--impl <impl>', 'native (C++) or scratch (float64 TypeScript, slow)', D.impl))
    .addOption(option('--precision <p>', "the matrix products' arithmetic: fp32, or bf16 (bf16 operands, float32 sums; weights, optimizer, gates and loss stay float32)", D.precision));
}

export function registerTrain(program: Command): void {
  const train = addRunOptions(program
    .command('train')
    .description("train a stacked RNN language model (defaults: the book's 10.3 run on The Time Machine)")
    .addOption(option('--cell <kind>', `cell: ${CELLS.join('|')}`, D.cell)))
    .addOption(option('--out <path>', 'checkpoint to write (the latest state; the best is saved beside it as NAME.best.safetensors)', DEFAULT_CHECKPOINT))
    .addOption(option('--resume <ckpt>', 'continue the run stored in a checkpoint exactly (writes to it unless --out is given)'))
    .addOption(option('--init-from <ckpt>', "start from a checkpoint's weights, model and tokenizer with a fresh optimizer and schedule (fine-tuning on --corpus)"))
    .addOption(option('--strict', "with --init-from: refuse a corpus with tokens outside the checkpoint's vocabulary instead of reading them as <unk>"));
  addOptions(train, formatOptions(['text', 'json']))
    .action(async (raw: RawTrainOptions, cmd: Command) => {
      const format = outputFormat(cmd, ['text', 'json']);
      const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
      let s: RunSettings;
      // (an empty --resume, a variable that was not set, is no request for a fresh run over its checkpoint)
      if (raw.resume !== undefined) text('--resume', raw.resume, 'a checkpoint path');
      if (raw.resume) {
        if (given('initFrom')) {
          throw new UsageError('--init-from starts a new run from a checkpoint\'s weights and --resume continues one: give one of them');
        }
        for (const name of RUN_DEFINING) {
          if (given(name)) throw new UsageError(`${flagName(name)} cannot be given with --resume: the run's settings come from the checkpoint`);
        }
        const parsed = parseTrainOptions(raw, given, raw.out);
        try {
          s = resumeSettings(raw.resume, {
            out: given('out') ? parsed.out : raw.resume,
            dataDir: parsed.dataDir,
            threads: parsed.threads,
            saveEvery: parsed.saveEvery,
            keep: parsed.keep,
            ...(given('saveDtype') ? { saveDtype: parsed.saveDtype } : {}),
            ...(given('epochs') ? { epochs: parsed.epochs } : {}),
            ...(given('corpus') ? { corpus: parsed.corpus } : {}),
            ...(given('impl') ? { impl: parsed.impl } : {}),
            ...(given('skipNonfinite') ? { skipNonFinite: parsed.skipNonFinite } : {}),
            ...(given('earlyStop') ? { earlyStop: parsed.earlyStop } : {}),
          });
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      } else {
        s = parseTrainOptions(raw, given, raw.out);
        if (s.initFrom) s = initFromSettings(s, loadCheckpoint(s.initFrom).meta, s.initFrom, cliNaming(given));
      }
      // Under an MPI launcher every rank trains and rank 0 alone speaks.
      const quiet = launcherRank() !== 0;
      if (s.precision === 'bf16' && !quiet) bf16Note();
      const progress = new Progress(s.epochs, format, quiet ? discard() : undefined);
      const { result, signal: sig, outputFailed } = await trainInThread(s, raw.resume, progress, quiet);
      // A signal here, or (under MPI) one that another rank received: every rank stopped after the same batch.
      const stopSignal = result.stopSignal ?? sig;
      const interrupted = result.stopped && stopSignal !== null;
      // After a failed standard output (main.ts said so and set exit code 1) nothing more goes to stdout.
      if (!quiet && !outputFailed) emit(report(result, s, interrupted), format);
      if ((interrupted || (outputFailed && result.stopped)) && !quiet) {
        process.stderr.write(
          `stopped at epoch ${result.state.epoch + 1}, batch ${result.state.batch}; checkpoint ${s.out}; `
            + `resume with: deeprnn train --resume ${shellWord(s.out ?? '')}${resumeOptions(raw, given)}\n`,
        );
      }
      if (outputFailed) return;
      if (interrupted) process.exitCode = stopSignal === 'SIGINT' ? 130 : 143;
    });
}
