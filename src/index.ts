// The public library API.
export { native, type CellKind, type NativeBinding, type NativeInfo } from './native.js';
export { Rng, type RngState } from './rng.js';
export { CELLS, paramTable, paramCount, initParams, gatesOf, type ModelConfig, type ParamInfo } from './nn/config.js';
export { Module, type FloatArray, type Parameter } from './nn/module.js';
export { StackedRNN, type LayerState } from './nn/stacked-rnn.js';
export { RNNLM, Stepper } from './nn/rnnlm.js';
export { RNNLMScratch } from './nn/scratch.js';
export type { LanguageModel, ForwardOptions, EvalResult } from './nn/lm.js';
export { Vocab, UNK } from './data/vocab.js';
export { D2LCharTokenizer, tokenizerFromJSON, type Tokenizer, type TokenizerJSON } from './data/tokenizer.js';
export { WindowDataModule, type Batch, type WindowOptions } from './data/datamodule.js';
export { corpusRegistry, loadCorpus, ensureCorpus, resolveDataDir, type CorpusEntry } from './data/corpus.js';
export { Trainer, type EpochMetrics, type TrainerOptions } from './train/trainer.js';
export { SGD, type Optimizer } from './train/optim.js';
export { runTraining, type RunSettings } from './train/run.js';
export { saveCheckpoint, loadCheckpoint, FORMAT_VERSION, type Checkpoint, type CheckpointMeta } from './io/checkpoint.js';
export { predict, argmax } from './generate.js';
