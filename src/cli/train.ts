// deeprnn train: the book's deep RNN language model run, every option validated.
import type { Command } from 'commander';
import { CELLS } from '../nn/config.js';
import { runTraining, type RunSettings } from '../train/run.js';
import { DEFAULT_CHECKPOINT } from './defaults.js';
import { UsageError } from './errors.js';
import { choiceOption, intOption, numberOption } from './options.js';
import { Progress } from './progress.js';

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
  corpus: string;
  dataDir?: string;
  out: string;
  impl: string;
  json?: boolean;
}

export function parseTrainOptions(o: RawTrainOptions): RunSettings {
  if (o.out.trim() === '') throw new UsageError('--out must be a file path, got ""');
  const settings: RunSettings = {
    cell: choiceOption('--cell', o.cell, CELLS),
    layers: intOption('--layers', o.layers, 1, 64),
    hidden: intOption('--hidden', o.hidden, 1, 65536),
    dropout: numberOption('--dropout', o.dropout, (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    epochs: intOption('--epochs', o.epochs, 1, 1_000_000),
    batchSize: intOption('--batch-size', o.batchSize, 1, 10_000_000),
    numSteps: intOption('--num-steps', o.numSteps, 1, 1_000_000),
    numTrain: intOption('--num-train', o.numTrain, 1, 1_000_000_000),
    numVal: intOption('--num-val', o.numVal, 1, 1_000_000_000),
    lr: numberOption('--lr', o.lr, (v) => v > 0, 'a positive number'),
    clip: numberOption('--clip', o.clip, (v) => v >= 0, 'a number >= 0 (0 turns clipping off)'),
    seed: intOption('--seed', o.seed, 0, 4294967295),
    threads: o.threads === undefined ? undefined : intOption('--threads', o.threads, 1, 1024),
    corpus: o.corpus,
    dataDir: o.dataDir,
    out: o.out,
    impl: choiceOption('--impl', o.impl, ['native', 'scratch'] as const),
  };
  return settings;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description("train a stacked RNN language model (defaults: the book's 10.3 run on The Time Machine)")
    .option('--cell <kind>', `cell: ${CELLS.join('|')}`, 'gru')
    .option('--layers <n>', 'number of stacked layers', '2')
    .option('--hidden <n>', 'hidden units per layer', '32')
    .option('--dropout <p>', 'dropout between layers', '0')
    .option('--epochs <n>', 'epochs', '100')
    .option('--batch-size <n>', 'windows per batch', '1024')
    .option('--num-steps <n>', 'time steps per window', '32')
    .option('--num-train <n>', 'training windows', '10000')
    .option('--num-val <n>', 'validation windows', '5000')
    .option('--lr <x>', 'SGD learning rate', '2')
    .option('--clip <x>', 'clip the global gradient norm to this (0: off)', '1')
    .option('--seed <n>', 'seed for initialisation, shuffling and dropout', '42')
    .option('--threads <n>', 'OpenMP threads (default: all cores)')
    .option('--corpus <name|file>', 'registry corpus name or a text file', 'timemachine')
    .option('--data-dir <dir>', 'where corpora are cached (default: $DEEPRNN_DATA_DIR or ~/.cache/deeprnn)')
    .option('--out <path>', 'checkpoint to write', DEFAULT_CHECKPOINT)
    .option('--impl <impl>', 'native (C++) or scratch (float64 TypeScript, slow)', 'native')
    .option('--json', 'print one JSON object with the results on stdout, nothing else')
    .action(async (raw: RawTrainOptions) => {
      const s = parseTrainOptions(raw);
      const progress = new Progress(s.epochs, Boolean(raw.json));
      const result = await runTraining(s, {
        log: (msg) => progress.log(msg),
        onBatch: (epoch, done, total, loss, tokens) => progress.batch(epoch, done, total, loss, tokens),
        onEpoch: (m) => progress.epoch(m),
      });
      progress.stop();
      const { history } = result;
      const last = history[history.length - 1]!;
      const best = history.reduce((a, b) => (b.valPpl < a.valPpl ? b : a));
      // Training throughput over the whole run: tokens trained on / time spent training them.
      const tokens = s.numTrain * s.numSteps * history.length;
      const trainSeconds = history.reduce((a, m) => a + (s.numTrain * s.numSteps) / m.tokensPerSec, 0);
      if (raw.json) {
        process.stdout.write(JSON.stringify({
          train_ppl: last.trainPpl,
          val_ppl: last.valPpl,
          best_val_ppl: best.valPpl,
          best_epoch: best.epoch,
          epochs: history.length,
          seconds: result.seconds,
          tokens_per_s: tokens / trainSeconds,
          checkpoint: s.out,
        }) + '\n');
      } else {
        progress.log(
          `done: train ppl ${last.trainPpl.toFixed(3)}, val ppl ${last.valPpl.toFixed(3)}, best val ppl ${best.valPpl.toFixed(3)} `
            + `(epoch ${best.epoch}), ${result.seconds.toFixed(1)} s, ${Math.round(tokens / trainSeconds)} tokens/s; checkpoint ${s.out}`,
        );
      }
    });
}
