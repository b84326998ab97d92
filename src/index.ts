// The public library API.
export { native, type CellKind, type NativeBinding, type NativeInfo } from './native.js';
export { Rng, type RngState } from './rng.js';
export { CELLS, checkModelConfig, paramTable, paramCount, modelOffsets, initParams, gatesOf, type ModelConfig, type ParamInfo, type LayerOffsets, type ModelOffsets } from './nn/config.js';
export { Module, type FloatArray, type Parameter } from './nn/module.js';
export { RNNLM, Stepper } from './nn/rnnlm.js';
export { RNNLMScratch, type ScratchOptions } from './nn/scratch.js';
export type { LanguageModel, ForwardOptions, EvalResult } from './nn/lm.js';
export { Vocab, UNK } from './data/vocab.js';
export { Tokenizer, TOKENIZERS, tokenizerFromJSON, countTokens, type TokenizerJSON, type TokenizerKind, type TokenArray } from './data/tokenizer.js';
export { WindowDataModule, SequentialDataModule, makeDataModule, type Batch, type BatchWindows, type DataModule, type DataOptions } from './data/datamodule.js';
export { corpusRegistry, ensureCorpus, resolveDataDir, resolveCorpora, readCorpus, type CorpusEntry, type CorpusSource, type LineEnds } from './data/corpus.js';
export { loadCorpusTokens, loadTextTokens, readCorpusText, type LoadedCorpus } from './data/load.js';
export { TimeMachine, type TimeMachineOptions } from './data/timemachine.js';
export { Trainer, initialState, NonFiniteError, YIELD_MS, type EpochMetrics, type TrainerOptions, type TrainerTimes, type TrainState } from './train/trainer.js';
export { evaluateTokens, type EvalMetrics } from './train/evaluate.js';
export { InputError } from './errors.js';
export {
  OPTIMIZER_SPECS, OPTIMIZERS, DEFAULT_LR, HYPERPARAMS, HYPER_KEYS, optimizerSpec, optimizersWith, makeOptimizer, SpecOptimizer, SGD, Adam, RMSprop, FUSED_STEP_MIN,
  type Optimizer, type OptimizerKind, type OptimizerSettings, type OptimizerSpec, type HyperKey, type HyperValues, type HyperParam, type UpdateContext,
} from './train/optim.js';
export { learningRate, SCHEDULES, type ScheduleKind, type ScheduleSettings } from './train/schedule.js';
export { renderPlot, writePlot, type PlotRun } from './io/plot.js';
export { runTraining, type RunSettings, type RunHooks, type RunResult, type RunTimings } from './train/run.js';
export { train, type TrainOptions, type TrainResult } from './train/library.js';
export { resolveRunSettings, RUN_DEFAULTS, type RunOptions } from './train/settings.js';
export {
  saveCheckpoint, saveModel, loadCheckpoint, loadTrainingCheckpoint, hasTrainingState, FORMAT_VERSION, type Checkpoint, type CheckpointMeta, type ModelMeta,
} from './io/checkpoint.js';
export { predict, generate, argmax, checkSampling, Sampler, type SampleOptions, type GenerateOptions } from './generate.js';
export { exportOnnx, checkExportable, onnxCard, decodeOnnx, ONNX_OPSET, ONNX_EXPORTABLE, type OnnxExport } from './io/onnx.js';
export {
  OnnxStepper, generateOnnx, checkCard, cardTokenizer, onnxIO, type OnnxCard, type OnnxIO, type OnnxGenerateOptions, type OrtSession, type OrtTensor, type TensorFactory,
} from './web/onnx-lm.js';
