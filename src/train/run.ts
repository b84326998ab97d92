// One training run from settings to checkpoints: load the corpus, build the
// data, the model and the trainer (or take them from a checkpoint to resume),
// train, and save on the schedule asked for. The CLI and the regression tests
// both call this.
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveDataDir } from '../data/corpus.js';
import { makeDataModule } from '../data/datamodule.js';
import { loadCorpusTokens } from '../data/load.js';
import type { Tokenizer, TokenizerKind } from '../data/tokenizer.js';
import { checkWritable, FORMAT_VERSION, loadCheckpoint, saveCheckpoint, type TrainingSettings } from '../io/checkpoint.js';
import { native, type CellKind } from '../native.js';
import type { ModelConfig } from '../nn/config.js';
import type { LanguageModel } from '../nn/lm.js';
import { formatBytes, trainingBytes } from '../nn/memory.js';
import { RNNLM } from '../nn/rnnlm.js';
import { RNNLMScratch } from '../nn/scratch.js';
import { Rng } from '../rng.js';
import { makeOptimizer, type OptimizerSettings } from './optim.js';
import { learningRate, type ScheduleSettings } from './schedule.js';
import { appendMetrics, metricsPath, plotPath } from './metrics.js';
import { writePlot } from '../io/plot.js';
import { initialState, Trainer, type EpochMetrics, type TrainState } from './trainer.js';
import { InputError } from '../errors.js';

export interface RunSettings extends Omit<TrainingSettings, 'corpusSha1' | 'batching' | 'valFrac'> {
  cell: CellKind;
  /** Hidden size of every layer (one value: all layers). */
  hidden: number[];
  /** Optimizer and its hyper-parameters (default: the book's plain SGD with lr). */
  optimizer?: Omit<OptimizerSettings, 'lr'>;
  /** Learning-rate schedule (default: constant). */
  schedule?: Omit<ScheduleSettings, 'lr'>;
  clipMode?: 'norm' | 'value';
  /** Stop when the validation perplexity has not improved for this many epochs. */
  earlyStop?: number;
  /** Tokenizer to fit (default: the first registry corpus's, else char). */
  tokenizer?: TokenizerKind;
  /** word tokenizer: minimum count for a word to enter the vocabulary. */
  minFreq?: number;
  batching?: TrainingSettings['batching'];
  valFrac?: number | null;
  layers: number;
  dropout: number;
  dataDir?: string;
  /** Checkpoint path (the latest state); null: no checkpoints. */
  out: string | null;
  threads?: number;
  /** Save every this many epochs (default 1), or every `steps` optimizer steps. */
  saveEvery?: { epochs: number } | { steps: number };
  /** Numbered snapshots to keep beside the latest and the best (0: none). */
  keep?: number;
}

export interface RunHooks {
  log?: (msg: string) => void;
  onEpoch?: (m: EpochMetrics) => void;
  onBatch?: (epoch: number, done: number, total: number, loss: number, tokens: number) => void;
  /** The trainer, once it exists (to stop it from a signal handler). */
  onTrainer?: (t: Trainer) => void;
  /** Corpus bytes read of the total, while loading. */
  onLoad?: (done: number, total: number) => void;
}

export interface RunResult {
  history: EpochMetrics[];
  model: LanguageModel;
  tokenizer: Tokenizer;
  seconds: number;
  /** Stopped by Trainer.stop() before the last epoch. */
  stopped: boolean;
  /** Ended by --early-stop. */
  early: boolean;
  state: TrainState;
}

/** A checkpoint could not be written; the previous one is intact. */
export class CheckpointWriteError extends Error {
  override readonly name = 'CheckpointWriteError';
}

/** Where the best and the numbered checkpoints go, beside `out`. */
export function checkpointPaths(out: string) {
  const ext = path.extname(out) || '.safetensors';
  const stem = out.slice(0, out.length - path.extname(out).length);
  return {
    best: `${stem}.best${ext}`,
    snapshot: (s: TrainState) => `${stem}.e${String(s.epoch).padStart(4, '0')}${s.batch ? `-b${s.batch}` : ''}${ext}`,
  };
}

/** Corpus, tokenizer and batches for the settings; throws on data that cannot make them. */
export async function prepareData(s: RunSettings, tokenizer?: Tokenizer, hooks: RunHooks = {}) {
  const corpus = await loadCorpusTokens(s.corpus, {
    dataDir: resolveDataDir(s.dataDir),
    tokenizer,
    kind: s.tokenizer,
    minFreq: s.minFreq,
    log: hooks.log,
    onProgress: hooks.onLoad,
  });
  const data = makeDataModule(corpus.tokens, {
    numSteps: s.numSteps,
    numTrain: s.numTrain,
    numVal: s.numVal,
    batchSize: s.batchSize,
    valFrac: s.valFrac ?? undefined,
    batching: s.batching,
  });
  return { corpus, tokenizer: corpus.tokenizer, data, sha1: corpus.sha1 };
}

/** Refuses a model and batch that would not fit in this machine's memory, before allocating them. */
export function checkMemory(config: ModelConfig, s: RunSettings): void {
  const need = trainingBytes(config, s.numSteps, s.batchSize, s.impl === 'scratch');
  const have = os.totalmem();
  if (need.total > have) {
    throw new InputError(
      `the model and batch need about ${formatBytes(need.total)} (parameters ${formatBytes(need.params)}, `
        + `activations ${formatBytes(need.activations)}) but this machine has ${formatBytes(have)}; `
        + 'reduce --hidden, --layers, --batch-size or --num-steps',
    );
  }
}

/** Settings to continue the run stored in a checkpoint, for `epochs` epochs in all. */
export function resumeSettings(file: string, over: Partial<RunSettings>): RunSettings {
  const { meta } = loadCheckpoint(file);
  const t = meta.training;
  const c = meta.config;
  return {
    ...t,
    tokenizer: meta.tokenizer.kind,
    minFreq: meta.tokenizer.minFreq,
    cell: c.cell,
    layers: c.hidden.length,
    hidden: c.hidden,
    optimizer: meta.optimizer,
    schedule: meta.schedule,
    clipMode: meta.clipMode,
    dropout: c.dropout,
    out: file,
    ...over,
  };
}

export async function runTraining(s: RunSettings, hooks: RunHooks = {}, resumeFrom?: string): Promise<RunResult> {
  if (s.threads !== undefined) native().setThreads(s.threads);
  if (s.out) checkWritable(s.out);
  const ck = resumeFrom ? loadCheckpoint(resumeFrom) : null;
  const { tokenizer, data, sha1 } = await prepareData(s, ck?.tokenizer, hooks);
  if (ck && ck.meta.training.corpusSha1 !== sha1) {
    throw new InputError(
      `--resume: corpus "${s.corpus.join(' ')}" is not the text the checkpoint trained on (sha1 ${sha1}, expected ${ck.meta.training.corpusSha1})`,
    );
  }
  const config: ModelConfig = ck?.meta.config ?? {
    cell: s.cell,
    vocabSize: tokenizer.vocab.size,
    hidden: s.hidden.length === 1 ? Array.from({ length: s.layers }, () => s.hidden[0]!) : s.hidden,
    dropout: s.dropout,
  };
  checkMemory(config, s);
  let rng: Rng;
  let model: RNNLM | RNNLMScratch;
  let state: TrainState;
  if (ck) {
    rng = Rng.fromState(ck.meta.state.rng);
    if (s.impl === 'scratch') {
      model = new RNNLMScratch(config);
      model.params.set(ck.model.params);
    } else {
      model = ck.model;
    }
    state = { ...ck.meta.state };
    if (ck.carry && state.batch > 0) model.setCarriedState(ck.carry, s.batchSize);
  } else {
    rng = new Rng(s.seed);
    model = s.impl === 'scratch' ? new RNNLMScratch(config, rng) : new RNNLM(config, rng);
    state = initialState(rng);
  }
  const optimizer = makeOptimizer({ ...(s.optimizer ?? { kind: 'sgd' }), lr: s.lr });
  if (ck) optimizer.loadState(ck.optimizerState, ck.meta.optimizer.steps);
  // A constant rate without warm-up needs no schedule: the optimizer keeps s.lr.
  const scheduled = s.schedule && (s.schedule.kind !== 'constant' || s.schedule.warmup > 0);
  const schedule: ScheduleSettings | undefined = scheduled ? { ...s.schedule!, lr: s.lr } : undefined;
  const totalSteps = s.epochs * data.numTrainBatches;
  const training: TrainingSettings = {
    corpus: s.corpus, corpusSha1: sha1, epochs: s.epochs, batchSize: s.batchSize, numSteps: s.numSteps,
    numTrain: s.numTrain, numVal: s.numVal, lr: s.lr, clip: s.clip, seed: s.seed, impl: s.impl,
    skipNonFinite: s.skipNonFinite, batching: s.batching ?? 'random', valFrac: s.valFrac ?? null,
  };
  const start = performance.now();
  const every = s.saveEvery ?? { epochs: 1 };
  const keep = s.keep ?? 0;
  const paths = s.out ? checkpointPaths(s.out) : null;
  const snapshots: string[] = [];
  let best = Math.min(Infinity, ...(ck?.meta.history.map((h) => h.valPpl) ?? []));
  let savedAt = -1;

  const write = (file: string) => {
    // Mid-epoch with sequential batches, the carried state is part of the position.
    const carried = data.carry && state.batch > 0 ? model.carriedState() : null;
    try {
      saveCheckpoint(file, model, {
        version: FORMAT_VERSION, config, tokenizer: tokenizer.toJSON(), training,
        optimizer: optimizer.toJSON(), schedule, clipMode: s.clipMode, state, history: trainer.history,
      }, carried ? { state: carried, N: s.batchSize } : undefined, optimizer.state());
    } catch (e) {
      throw new CheckpointWriteError(`could not write checkpoint ${file} (${(e as Error).message}); the previous checkpoint there is intact`);
    }
  };
  const save = () => {
    if (!s.out || !paths) return;
    write(s.out);
    savedAt = state.step;
    if (keep > 0) {
      const snap = paths.snapshot(state);
      write(snap);
      snapshots.push(snap);
      while (snapshots.length > keep) rmSync(snapshots.shift()!, { force: true });
    }
  };

  const trainer = new Trainer({
    epochs: s.epochs,
    clip: s.clip,
    clipMode: s.clipMode,
    earlyStop: s.earlyStop,
    schedule: schedule ? (step, epochs) => learningRate(schedule, step, epochs, totalSteps) : undefined,
    skipNonFinite: s.skipNonFinite,
    onBatch: (done, total, loss, tokens) => {
      if ('steps' in every && state.batch > 0 && state.step > 0 && state.step % every.steps === 0 && savedAt !== state.step) save();
      hooks.onBatch?.(state.epoch + 1, done, total, loss, tokens);
    },
    onEpoch: (m) => {
      const due = 'epochs' in every ? state.epoch % every.epochs === 0 : savedAt !== state.step;
      if (due || state.epoch === s.epochs) save();
      if (paths && m.valPpl < best) {
        best = m.valPpl;
        write(paths.best);
      }
      if (s.out) appendMetrics(metricsPath(s.out), m);
      hooks.onEpoch?.(m);
    },
  });
  if (ck) trainer.history.push(...ck.meta.history);
  hooks.onTrainer?.(trainer);
  const { stopped, early } = await trainer.fit(model, data, optimizer, rng, state);
  if ((stopped || early) && savedAt !== state.step) save();
  if (s.out && trainer.history.length > 0) {
    writePlot(plotPath(s.out), [{ label: `${config.cell} ${config.hidden.join('x')}`, epochs: trainer.history }]);
  }
  return { history: trainer.history, model, tokenizer, seconds: (performance.now() - start) / 1000, stopped, early: Boolean(early), state };
}
