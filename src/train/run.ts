// One training run from settings to checkpoint: load the corpus, build the
// data, the model and the trainer, train, save. The CLI and the regression
// tests both call this.
import { loadCorpus, resolveDataDir } from '../data/corpus.js';
import { WindowDataModule } from '../data/datamodule.js';
import { D2LCharTokenizer, type Tokenizer } from '../data/tokenizer.js';
import { FORMAT_VERSION, saveCheckpoint, type TrainingSettings } from '../io/checkpoint.js';
import { native, type CellKind } from '../native.js';
import type { ModelConfig } from '../nn/config.js';
import type { LanguageModel } from '../nn/lm.js';
import { RNNLM } from '../nn/rnnlm.js';
import { RNNLMScratch } from '../nn/scratch.js';
import { Rng } from '../rng.js';
import { SGD } from './optim.js';
import { Trainer, type EpochMetrics } from './trainer.js';

export interface RunSettings extends TrainingSettings {
  cell: CellKind;
  layers: number;
  hidden: number;
  dropout: number;
  dataDir?: string;
  /** Checkpoint path; written after every epoch. Null: no checkpoint. */
  out: string | null;
  threads?: number;
}

export interface RunHooks {
  log?: (msg: string) => void;
  onEpoch?: (m: EpochMetrics) => void;
  onBatch?: (epoch: number, done: number, total: number, loss: number, tokens: number) => void;
}

export interface RunResult {
  history: EpochMetrics[];
  model: LanguageModel;
  tokenizer: Tokenizer;
  seconds: number;
}

/** Corpus, tokenizer and windows for the settings; throws on data that cannot make them. */
export async function prepareData(s: RunSettings, log?: (msg: string) => void) {
  const corpus = await loadCorpus(s.corpus, resolveDataDir(s.dataDir), log);
  const tokenizer = D2LCharTokenizer.fit(corpus.text);
  const tokens = tokenizer.encode(corpus.text);
  const data = new WindowDataModule(tokens, {
    numSteps: s.numSteps,
    numTrain: s.numTrain,
    numVal: s.numVal,
    batchSize: s.batchSize,
  });
  return { corpus, tokenizer, data };
}

export async function runTraining(s: RunSettings, hooks: RunHooks = {}): Promise<RunResult> {
  if (s.threads !== undefined) native().setThreads(s.threads);
  const { tokenizer, data } = await prepareData(s, hooks.log);
  const config: ModelConfig = {
    cell: s.cell,
    vocabSize: tokenizer.vocab.size,
    hidden: Array.from({ length: s.layers }, () => s.hidden),
    dropout: s.dropout,
  };
  const rng = new Rng(s.seed);
  const model = s.impl === 'scratch' ? new RNNLMScratch(config, rng) : new RNNLM(config, rng);
  const optimizer = new SGD(s.lr);
  const training: TrainingSettings = {
    corpus: s.corpus, epochs: s.epochs, batchSize: s.batchSize, numSteps: s.numSteps, numTrain: s.numTrain,
    numVal: s.numVal, lr: s.lr, clip: s.clip, seed: s.seed, impl: s.impl,
  };
  const start = performance.now();
  const trainer = new Trainer({
    epochs: s.epochs,
    clip: s.clip,
    onBatch: (done, total, loss, tokens) => hooks.onBatch?.(trainer.history.length + 1, done, total, loss, tokens),
    onEpoch: (m) => {
      if (s.out) {
        saveCheckpoint(s.out, model as RNNLM | RNNLMScratch, {
          version: FORMAT_VERSION,
          config,
          tokenizer: tokenizer.toJSON(),
          training,
          optimizer: optimizer.toJSON(),
          rng: rng.state(),
          history: trainer.history,
        });
      }
      hooks.onEpoch?.(m);
    },
  });
  const history = await trainer.fit(model, data, optimizer, rng);
  return { history, model, tokenizer, seconds: (performance.now() - start) / 1000 };
}
