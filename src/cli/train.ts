// deeprnn train: the book's deep RNN language model run, every option
// validated; checkpoints on a schedule, --resume, and a clean stop on SIGINT /
// SIGTERM (the run itself is on a worker thread: train-thread.ts).
import type { Command } from 'commander';
import { CELLS } from '../nn/config.js';
import { DEFAULT_LR, OPTIMIZERS } from '../train/optim.js';
import { SCHEDULES } from '../train/schedule.js';
import { sparkline } from '../train/metrics.js';
import { TOKENIZERS } from '../data/tokenizer.js';
import { resumeSettings, type RunSettings } from '../train/run.js';
import { DEFAULT_CHECKPOINT } from './defaults.js';
import { UsageError } from './errors.js';
import { choiceOption, intOption, numberOption, threadsOption } from './options.js';
import { Progress } from './progress.js';
import { trainInThread, type ThreadResult } from './train-thread.js';
import { write } from './output.js';

interface RawTrainOptions {
  cell: string;
  layers: string;
  hidden: string;
  dropout: string;
  epochs: string;
  batchSize: string;
  numSteps: string;
  numTrain: string;
  numVal: string;
  lr: string;
  clip: string;
  seed: string;
  threads?: string;
  corpus: string[];
  tokenizer?: string;
  minFreq?: string;
  batching: string;
  valFrac?: string;
  dataDir?: string;
  out: string;
  impl: string;
  saveEvery: string;
  keep: string;
  skipNonfinite?: boolean;
  resume?: string;
  json?: boolean;
  optimizer: string;
  momentum?: string;
  nesterov?: boolean;
  betas?: string;
  eps?: string;
  weightDecay?: string;
  alpha?: string;
  lrSchedule: string;
  warmup: string;
  lrDecay: string;
  lrDecayAfter: string;
  minLr: string;
  clipMode: string;
  earlyStop?: string;
}

/** The most epochs a run may have in all. */
export const MAX_EPOCHS = 100_000;

/** Options that define the run; on --resume they come from the checkpoint and may not be given. */
const RUN_DEFINING = [
  'cell', 'layers', 'hidden', 'dropout', 'batchSize', 'numSteps', 'numTrain', 'numVal', 'lr', 'clip', 'seed',
  'tokenizer', 'minFreq', 'batching', 'valFrac', 'optimizer', 'momentum', 'nesterov', 'betas', 'eps', 'weightDecay', 'alpha',
  'lrSchedule', 'warmup', 'lrDecay', 'lrDecayAfter', 'minLr', 'clipMode',
] as const;

function flag(name: string): string {
  return '--' + name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export function parseSaveEvery(raw: string): RunSettings['saveEvery'] {
  const m = /^\s*(\d+)\s*(s?)\s*$/.exec(raw);
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--save-every must be a number of epochs (e.g. 5) or of steps (e.g. 200s), got "${raw}"`);
  }
  return m[2] ? { steps: n } : { epochs: n };
}

export function parseTrainOptions(o: RawTrainOptions, given: (name: string) => boolean = () => false): RunSettings {
  if (o.out.trim() === '') throw new UsageError('--out must be a file path, got ""');
  if (o.valFrac !== undefined && (given('numTrain') || given('numVal'))) {
    throw new UsageError('--val-frac splits by fraction: give it or --num-train / --num-val, not both');
  }
  const hidden = o.hidden.split(',').map((h) => intOption('--hidden', h.trim(), 1, 1 << 20));
  const layers = intOption('--layers', o.layers, 1, 64);
  if (hidden.length > 1 && given('layers') && hidden.length !== layers) {
    throw new UsageError(`--hidden lists ${hidden.length} sizes but --layers is ${layers}; give one size, or one per layer`);
  }
  const optimizer = choiceOption('--optimizer', o.optimizer, OPTIMIZERS);
  const only = (name: string, kinds: readonly string[]) => {
    if (given(name) && !kinds.includes(optimizer)) throw new UsageError(`${flag(name)} applies to --optimizer ${kinds.join('|')}, not ${optimizer}`);
  };
  only('momentum', ['sgd', 'rmsprop']);
  only('nesterov', ['sgd']);
  only('betas', ['adam', 'adamw']);
  only('eps', ['adam', 'adamw', 'rmsprop']);
  only('alpha', ['rmsprop']);
  const betas = o.betas === undefined ? undefined : o.betas.split(',').map((b) => numberOption('--betas', b, (v) => v >= 0 && v < 1, 'two numbers in [0, 1), e.g. 0.9,0.999'));
  if (betas && betas.length !== 2) throw new UsageError(`--betas must be two numbers in [0, 1), e.g. 0.9,0.999, got "${o.betas}"`);
  const nonNeg = (name: string, raw: string | undefined) => (raw === undefined ? undefined : numberOption(name, raw, (v) => v >= 0, 'a number >= 0'));
  const schedule = choiceOption('--lr-schedule', o.lrSchedule, SCHEDULES);
  const lr = given('lr') ? numberOption('--lr', o.lr, (v) => v > 0, 'a positive number') : DEFAULT_LR[optimizer];
  // The floor of the decayed rate and the end of the cosine: above the rate it would raise it.
  const minLr = numberOption('--min-lr', o.minLr, (v) => v >= 0 && v <= lr, `a number from 0 to the learning rate (--lr ${lr})`);
  return {
    cell: choiceOption('--cell', o.cell, CELLS),
    layers: hidden.length > 1 ? hidden.length : layers,
    hidden,
    optimizer: {
      kind: optimizer,
      momentum: nonNeg('--momentum', o.momentum),
      nesterov: Boolean(o.nesterov),
      betas: betas as [number, number] | undefined,
      eps: o.eps === undefined ? undefined : numberOption('--eps', o.eps, (v) => v > 0, 'a positive number'),
      weightDecay: nonNeg('--weight-decay', o.weightDecay),
      alpha: o.alpha === undefined ? undefined : numberOption('--alpha', o.alpha, (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    },
    schedule: {
      kind: schedule,
      warmup: intOption('--warmup', o.warmup, 0, 1_000_000_000),
      decay: numberOption('--lr-decay', o.lrDecay, (v) => v > 0 && v <= 1, 'a number in (0, 1]'),
      decayAfter: intOption('--lr-decay-after', o.lrDecayAfter, 0, 1_000_000),
      minLr,
    },
    clipMode: choiceOption('--clip-mode', o.clipMode, ['norm', 'value'] as const),
    earlyStop: o.earlyStop === undefined ? undefined : intOption('--early-stop', o.earlyStop, 1, 1_000_000),
    dropout: numberOption('--dropout', o.dropout, (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    // Each epoch adds a line of history to every checkpoint: 100,000 of them stay well within the header limit.
    epochs: intOption('--epochs', o.epochs, 1, MAX_EPOCHS),
    batchSize: intOption('--batch-size', o.batchSize, 1, 10_000_000),
    numSteps: intOption('--num-steps', o.numSteps, 1, 1_000_000),
    numTrain: intOption('--num-train', o.numTrain, 1, 1_000_000_000),
    numVal: intOption('--num-val', o.numVal, 1, 1_000_000_000),
    lr,
    clip: numberOption('--clip', o.clip, (v) => v >= 0, 'a number >= 0 (0 turns clipping off)'),
    seed: intOption('--seed', o.seed, 0, 4294967295),
    threads: threadsOption(o.threads),
    corpus: o.corpus,
    tokenizer: o.tokenizer === undefined ? undefined : choiceOption('--tokenizer', o.tokenizer, TOKENIZERS),
    minFreq: o.minFreq === undefined ? undefined : intOption('--min-freq', o.minFreq, 1, 1_000_000_000),
    batching: choiceOption('--batching', o.batching, ['random', 'sequential'] as const),
    valFrac: o.valFrac === undefined ? null : numberOption('--val-frac', o.valFrac, (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    dataDir: o.dataDir,
    out: o.out,
    impl: choiceOption('--impl', o.impl, ['native', 'scratch'] as const),
    saveEvery: parseSaveEvery(o.saveEvery),
    keep: intOption('--keep', o.keep, 0, 1_000_000),
    skipNonFinite: Boolean(o.skipNonfinite),
  };
}

function report(result: ThreadResult, s: RunSettings, json: boolean, progress: Progress): void {
  const { history } = result;
  const last = history[history.length - 1];
  const best = history.length ? history.reduce((a, b) => (b.valPpl < a.valPpl ? b : a)) : undefined;
  // Training throughput over the epochs: tokens trained on / time spent training them.
  const perEpoch = s.numTrain * s.numSteps;
  const trainSeconds = history.reduce((a, m) => a + (m.tokensPerSec > 0 ? perEpoch / m.tokensPerSec : 0), 0);
  const tps = trainSeconds > 0 ? (perEpoch * history.length) / trainSeconds : 0;
  const skipped = history.reduce((a, m) => a + m.skipped, 0) + result.state.skipped;
  if (json) {
    write(JSON.stringify({
      train_ppl: last?.trainPpl ?? null,
      val_ppl: last?.valPpl ?? null,
      best_val_ppl: best?.valPpl ?? null,
      best_epoch: best?.epoch ?? null,
      epochs: history.length,
      seconds: result.seconds,
      tokens_per_s: tps,
      skipped_steps: skipped,
      stopped: result.stopped,
      early_stop: result.early,
      epoch: result.state.epoch,
      batch: result.state.batch,
      checkpoint: s.out,
    }) + '\n');
    return;
  }
  if (last && best) {
    progress.log(
      `done: train ppl ${last.trainPpl.toFixed(3)}, val ppl ${last.valPpl.toFixed(3)}, best val ppl ${best.valPpl.toFixed(3)} `
        + `(epoch ${best.epoch}), ${result.seconds.toFixed(1)} s, ${Math.round(tps)} tokens/s`
        + `${skipped ? `, ${skipped} non-finite updates skipped` : ''}; checkpoint ${s.out}`,
    );
    if (result.early) progress.log(`stopped early: no better validation perplexity in the last ${s.earlyStop} epochs`);
    const vals = history.map((h) => h.valPpl);
    progress.log(`val ppl ${vals[0]!.toFixed(2)} ${sparkline(vals)} ${last.valPpl.toFixed(2)} (best ${best.valPpl.toFixed(2)} at epoch ${best.epoch})`);
  }
}

/** The options of a training run (train and compare share them). */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--layers <n>', 'number of stacked layers', '2')
    .option('--hidden <n>', 'hidden units per layer, or one size per layer: 256,128', '32')
    .option('--dropout <p>', 'dropout between layers', '0')
    .option('--epochs <n>', 'epochs (with --resume: in all)', '100')
    .option('--batch-size <n>', 'windows per batch', '1024')
    .option('--num-steps <n>', 'time steps per window', '32')
    .option('--num-train <n>', 'training windows', '10000')
    .option('--num-val <n>', 'validation windows', '5000')
    .option('--lr <x>', 'learning rate (default: 2 for sgd, the book\'s; PyTorch\'s 0.001 for adam/adamw, 0.01 for rmsprop)', '2')
    .option('--optimizer <kind>', `${OPTIMIZERS.join('|')}`, 'sgd')
    .option('--momentum <m>', 'sgd, rmsprop: momentum', undefined)
    .option('--nesterov', 'sgd: Nesterov momentum')
    .option('--betas <b1,b2>', 'adam, adamw: betas (default 0.9,0.999)')
    .option('--eps <e>', 'adam, adamw, rmsprop: epsilon (default 1e-8)')
    .option('--weight-decay <w>', 'L2 penalty (adamw: decoupled; default 0, adamw 0.01)')
    .option('--alpha <a>', 'rmsprop: smoothing constant (default 0.99)')
    .option('--lr-schedule <kind>', `${SCHEDULES.join('|')}`, 'constant')
    .option('--warmup <steps>', 'linear learning-rate warm-up over this many steps', '0')
    .option('--lr-decay <f>', 'step/exp: factor of each decay', '0.97')
    .option('--lr-decay-after <epochs>', 'step: epochs between decays; exp: decay at the end of every epoch from this one (char-rnn: 10)', '10')
    .option('--min-lr <x>', 'floor of the decayed rate; end of the cosine', '0')
    .option('--clip <x>', 'clip threshold (0: off)', '1')
    .option('--clip-mode <mode>', "norm: global gradient norm (the book's); value: each gradient value (char-rnn's)", 'norm')
    .option('--early-stop <patience>', 'stop when the validation perplexity has not improved for this many epochs')

    .option('--seed <n>', 'seed for initialisation, shuffling and dropout', '42')
    .option('--threads <n>', 'threads (default: OMP_NUM_THREADS, else the cores this process may use)')
    .option('--corpus <name|file|dir...>', 'registry corpora, text files or directories of .txt files (joined in order)', ['timemachine'])
    .option('--tokenizer <kind>', 'd2l (letters and space, lowercased) | char (every character) | word (default: the corpus\'s, else char)')
    .option('--min-freq <n>', 'word tokenizer: words seen fewer times become <unk>')
    .option('--batching <kind>', "random (the book's shuffled windows) or sequential (contiguous streams, state carried)", 'random')
    .option('--val-frac <f>', 'validate on this fraction at the end of the text instead of --num-train / --num-val windows')
    .option('--data-dir <dir>', 'where corpora are cached (default: $DEEPRNN_DATA_DIR or ~/.cache/deeprnn)')
    .option('--out <path>', 'checkpoint to write (the latest state; the best is saved beside it as NAME.best.safetensors)', DEFAULT_CHECKPOINT)
    .option('--save-every <n>', 'save every N epochs, or every N steps with "Ns"', '1')
    .option('--keep <k>', 'also keep the K most recent numbered checkpoints (NAME.eEPOCH.safetensors)', '0')
    .option('--skip-nonfinite', 'skip (and count) updates whose loss or gradient is not finite instead of stopping');
}

export function registerTrain(program: Command): void {
  addRunOptions(program
    .command('train')
    .description("train a stacked RNN language model (defaults: the book's 10.3 run on The Time Machine)")
    .option('--cell <kind>', `cell: ${CELLS.join('|')}`, 'gru'))
    .option('--resume <ckpt>', 'continue the run stored in a checkpoint exactly (writes to it unless --out is given)')
    .option('--impl <impl>', 'native (C++) or scratch (float64 TypeScript, slow)', 'native')
    .option('--json', 'print one JSON object with the results on stdout, nothing else')
    .action(async (raw: RawTrainOptions, cmd: Command) => {
      let s: RunSettings;
      if (raw.resume) {
        const given = (name: string) => cmd.getOptionValueSource(name) === 'cli';
        for (const name of RUN_DEFINING) {
          if (given(name)) throw new UsageError(`${flag(name)} cannot be given with --resume: the run's settings come from the checkpoint`);
        }
        const parsed = parseTrainOptions(raw, given);
        try {
          s = resumeSettings(raw.resume, {
            out: given('out') ? parsed.out : raw.resume,
            dataDir: parsed.dataDir,
            threads: parsed.threads,
            saveEvery: parsed.saveEvery,
            keep: parsed.keep,
            ...(given('epochs') ? { epochs: parsed.epochs } : {}),
            ...(given('corpus') ? { corpus: parsed.corpus } : {}),
            ...(given('impl') ? { impl: parsed.impl } : {}),
            ...(given('skipNonfinite') ? { skipNonFinite: parsed.skipNonFinite } : {}),
          });
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      } else {
        s = parseTrainOptions(raw, (name) => cmd.getOptionValueSource(name) === 'cli');
      }
      const progress = new Progress(s.epochs, Boolean(raw.json));
      const { result, signal: sig } = await trainInThread(s, raw.resume, progress);
      report(result, s, Boolean(raw.json), progress);
      if (result.stopped && sig) {
        process.stderr.write(
          `stopped at epoch ${result.state.epoch + 1}, batch ${result.state.batch}; checkpoint ${s.out}; `
            + `resume with: deeprnn train --resume ${s.out}\n`,
        );
        process.exitCode = sig === 'SIGINT' ? 130 : 143;
      }
    });
}
