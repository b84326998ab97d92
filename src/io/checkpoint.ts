// Checkpoints: weights as safetensors with PyTorch's names; configuration,
// tokenizer, training settings, optimizer state, the trainer's position
// (epoch, batch, generator states) and per-epoch history as one JSON string in
// the safetensors __metadata__ under "deeprnn". A model saved without
// training (RNNLM.save) holds the configuration and tokenizer only. Reading
// trusts nothing: every field is checked, and weights must be finite; writing
// runs the same checks first, so nothing is written that would not load.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { isLineEnds, tokenizerFromJSON, unsaidLineEnds, type LineEnds, type Tokenizer, type TokenizerJSON } from '../data/tokenizer.js';
import { carriesC, checkModelConfig, paramCount, paramTable, type ModelConfig } from '../nn/config.js';
import {
  HYPER_KEYS, HYPERPARAMS, hasHyper, makeOptimizer, OPTIMIZERS, optimizerSpec, validHyper, type HyperKey, type HyperValues, type OptimizerKind, type OptimizerSettings,
} from '../train/optim.js';
import { SCHEDULES, type ScheduleKind, type ScheduleSettings } from '../train/schedule.js';
import type { FloatArray, Module } from '../nn/module.js';
import { MAX_CHUNK_TOKENS, RNNLM } from '../nn/rnnlm.js';
import { roundBf16 } from '../nn/bf16.js';
import type { RngState } from '../rng.js';
import { MAX_NUM_STEPS, type Batching } from '../data/datamodule.js';
import { PRECISIONS, type Precision } from '../native.js';
import type { EpochMetrics, TrainState } from '../train/trainer.js';
import { checkHeaderLength, decodeSafetensors, encodeSafetensors, headerBytes, parseHeader, type Dtype, type Tensor } from './safetensors.js';
import { accessDenied, writeFileAtomic } from './files.js';
import { InputError } from '../errors.js';
import { describe, show } from '../validate.js';

export const FORMAT_VERSION = 1;

export interface TrainingSettings {
  /** Registry names, files and directories, in order. */
  corpus: string[];
  /** sha1 of the corpus file the run trained on; a resumed run must read the same text. */
  corpusSha1: string;
  /** The bytes of each file (or text) read, in order (absent in checkpoints from before it was recorded). */
  corpusParts?: number[];
  epochs: number;
  batchSize: number;
  numSteps: number;
  numTrain: number;
  numVal: number;
  lr: number;
  clip: number;
  seed: number;
  impl: 'native' | 'scratch';
  /** The matrix products' arithmetic (absent in checkpoints from before it existed: fp32); eval and predict follow it. */
  precision?: Precision;
  /** How the run's checkpoints store the weights (absent: fp32); bf16 halves them, the rest stays float32. */
  saveDtype?: Precision;
  /**
   * Tokens per chunk of the native model (DEEPRNN_CHUNK_TOKENS, else
   * defaultChunkTokens(config): 512 for small models, else 2048). Results
   * depend on it by rounding, so a resume continues with it. Absent for the scratch model, and in checkpoints from before it
   * was recorded (their resume reads DEEPRNN_CHUNK_TOKENS, as then).
   */
  chunkTokens?: number;
  /**
   * The run's patience (train --early-stop), absent when it had none: a resume keeps it (before
   * it was not recorded, and a resume without the option trained on past the early stop).
   */
  earlyStop?: number;
  /**
   * How the run read its text's line ends: 'lf' ("\r\n" and "\r" as "\n"). Absent in
   * checkpoints from before it was recorded, whose runs kept them: a resume reads them so.
   */
  lineEnds?: LineEnds;
  skipNonFinite: boolean;
  batching: Batching;
  /** Validation fraction, or null for the book's window counts. */
  valFrac: number | null;
  /** The checkpoint whose weights the run started from (train --init-from), as given. */
  initFrom?: string;
}

/** What every checkpoint holds: the model and how it reads text. */
export interface ModelMeta {
  version: number;
  config: ModelConfig;
  tokenizer: TokenizerJSON;
  /** A model saved by RNNLM.save in bf16 precision: 'bf16' (absent: fp32; a run's checkpoint records training.precision). */
  precision?: Precision;
  /** A model saved by RNNLM.save: how its text's line ends were read (model.lineEnds), when it knew (a run's checkpoint records training.lineEnds). */
  lineEnds?: LineEnds;
}

/** A training run's checkpoint: the model, and everything to continue the run exactly. */
export interface CheckpointMeta extends ModelMeta {
  training: TrainingSettings;
  optimizer: OptimizerSettings & { steps: number };
  /** Learning-rate schedule (absent: constant). */
  schedule?: ScheduleSettings;
  clipMode?: 'norm' | 'value';
  state: TrainState;
  history: EpochMetrics[];
}

export interface Checkpoint<M extends ModelMeta = ModelMeta | CheckpointMeta> {
  /** A model saved by RNNLM.save holds a ModelMeta only; a training run's checkpoint the whole CheckpointMeta. */
  meta: M;
  /** The model, its tokenizer set. */
  model: RNNLM;
  tokenizer: Tokenizer;
  /** The hidden (then cell) state carried between sequential batches, when saved mid-epoch. */
  carry: Float32Array[] | null;
  /** The optimizer's state buffers by name (each as long as the parameters). */
  optimizerState: Record<string, Float32Array>;
  /** The tensors the file stores as BF16 (rounded), by name, in the file's order: what it holds, whatever its metadata says. */
  bf16Tensors: string[];
}

/**
 * How a checkpoint stores its tensors, read from the tensors themselves:
 * the weights ('fp32', 'bf16', or 'mixed' with how many of how many are
 * bf16) and the optimizer's or carried state's tensors stored as BF16.
 */
export function storedDtypes(ck: Pick<Checkpoint, 'model' | 'bf16Tensors'>): { weights: string; roundedState: string[] } {
  const names = new Set(ck.model.table.map((p) => p.name));
  const bf16Weights = ck.bf16Tensors.filter((n) => names.has(n)).length;
  const weights = bf16Weights === 0 ? 'fp32' : bf16Weights === names.size ? 'bf16' : `mixed (${bf16Weights} of ${names.size} weight tensors bf16)`;
  return { weights, roundedState: ck.bf16Tensors.filter((n) => !names.has(n)) };
}

/** Whether a checkpoint holds a training run's state (not only a model saved by RNNLM.save). */
export function hasTrainingState(meta: ModelMeta): meta is CheckpointMeta {
  return 'state' in meta;
}

/**
 * How a text is read for a checkpoint's model: as its run read its corpus
 * ("lf": "\r\n" and a lone "\r" as "\n"); a run from before line ends were
 * recorded kept "\r", and a model saved without a run, whose vocabulary knows
 * "\r", was fitted so.
 */
export function checkpointLineEnds(ck: { meta: ModelMeta; tokenizer: Tokenizer }): LineEnds {
  if (hasTrainingState(ck.meta)) return ck.meta.training.lineEnds ?? 'kept';
  return ck.meta.lineEnds ?? unsaidLineEnds(ck.tokenizer);
}

/** Tensor names of the carried state: h of every layer, then c for LSTM. */
export function carryNames(config: ModelConfig): { name: string; layer: number }[] {
  const h = config.hidden.map((_, l) => ({ name: `carry.h_l${l}`, layer: l }));
  return carriesC(config.cell) ? [...h, ...config.hidden.map((_, l) => ({ name: `carry.c_l${l}`, layer: l }))] : h;
}

/** The tensors of a checkpoint: weights, optimizer buffers ("optimizer.NAME", flat), carried state (N x H per layer). */
function checkpointTensors(
  model: Module<FloatArray>,
  config: ModelConfig,
  carry: { state: Float32Array[] | null; N: number } | undefined,
  optimizerState: Record<string, FloatArray>,
  dtype: Dtype = 'F32',
): Map<string, Tensor> {
  const f32 = (a: FloatArray) => (a instanceof Float32Array ? a : Float32Array.from(a));
  const tensors = new Map<string, Tensor>();
  // Only the weights take `dtype`: the optimizer's buffers and the carried state stay float32.
  // BF16 weights are rounded here, so that the checks before writing see what a reader will get.
  for (const p of model.parameters()) tensors.set(p.name, { shape: p.shape, data: dtype === 'BF16' ? roundBf16(f32(p.data)) : f32(p.data), dtype });
  for (const [name, buf] of Object.entries(optimizerState)) tensors.set(`optimizer.${name}`, { shape: [buf.length], data: f32(buf) });
  if (carry) {
    carryNames(config).forEach(({ name, layer }, i) => {
      const H = config.hidden[layer]!;
      tensors.set(name, { shape: [carry.N, H], data: carry.state?.[i] ?? new Float32Array(carry.N * H) });
    });
  }
  return tensors;
}

/**
 * Writes weights, the optimizer's state buffers (as "optimizer.NAME", flat) and
 * the carried state, if given, for batches of width N, with the metadata, atomically.
 * A header too large for the format is an error and nothing is written. dtype
 * BF16: the weights as bf16 (rounded to nearest even), half their bytes; the
 * rest stays float32.
 */
export function saveCheckpoint(...args: Parameters<typeof encodeCheckpoint>): void {
  const buf = encodeCheckpoint(...args);
  const file = args[0];
  writeFileAtomic(file, buf);
}

/**
 * The bytes saveCheckpoint writes to `file` (named in its errors), checked as
 * it checks them: a copy, which the model's training may go on changing.
 */
export function encodeCheckpoint(
  file: string,
  model: Module<FloatArray>,
  meta: ModelMeta | CheckpointMeta,
  carry?: { state: Float32Array[]; N: number },
  optimizerState: Record<string, FloatArray> = {},
  dtype: Dtype = 'F32',
): Buffer {
  const json = JSON.stringify(meta);
  // (before the tensors' copies are made: a model that cannot be saved costs no copy of its weights)
  const tensorBytes = (d: Dtype) => checkpointTensorBytes(model.params.length, meta.config, carry?.N ?? 0, optimizerState, d) + Buffer.byteLength(json);
  // (bf16 weights advised only where they would bring it within the limit)
  const advice = dtype === 'BF16' || tensorBytes('BF16') > MAX_CHECKPOINT_BYTES ? null : undefined;
  checkCheckpointSize(file, tensorBytes(dtype), true, advice);
  // What loadCheckpoint would refuse is not written: the reader's own checks, on what it would read.
  const tensors = checkpointTensors(model, meta.config, carry, optimizerState, dtype);
  if (dtype === 'BF16') {
    // A finite weight past bf16's range rounds to infinity: the rounding's fault, not the weights'.
    for (const p of model.parameters()) {
      const rounded = tensors.get(p.name)!.data;
      for (let i = 0; i < rounded.length; i++) {
        if (!Number.isFinite(rounded[i]!) && Number.isFinite(p.data[i]!)) {
          throw new InputError(`not saving checkpoint ${file}: tensor "${p.name}" has ${p.data[i]} at index ${i}, beyond bf16's largest finite value `
            + '(3.3895e38), so it would be stored as infinity; save the weights as fp32 (train --save-dtype fp32; save(path) without dtype)');
        }
      }
    }
  }
  checkContents(JSON.parse(json), tensors, (what) => new InputError(`not saving checkpoint ${file}: ${what}`));
  const buf = encodeSafetensors(tensors, { format: 'pt', deeprnn: json });
  checkCheckpointSize(file, buf.length, false, advice);
  return buf;
}

/**
 * The bytes of a checkpoint's tensors, its header aside: the weights in `dtype`,
 * the optimizer's buffers and the carried state (batches of width N; 0: none) in float32.
 */
export function checkpointTensorBytes(params: number, config: ModelConfig, N: number, optimizerState: Record<string, FloatArray>, dtype: Dtype): number {
  let floats = 0;
  for (const buf of Object.values(optimizerState)) floats += buf.length;
  if (N > 0) floats += carryNames(config).reduce((n, { layer }) => n + N * config.hidden[layer]!, 0);
  return params * (dtype === 'BF16' ? 2 : 4) + 4 * floats;
}

/**
 * Refuses a checkpoint that the reader would refuse as too large: of `bytes`
 * (`atLeast`: its tensors', the header aside); `bf16` says how to save the weights as bf16
 * (null: they are).
 */
export function checkCheckpointSize(file: string, bytes: number, atLeast: boolean, bf16: string | null = 'as bf16'): void {
  if (bytes <= MAX_CHECKPOINT_BYTES) return;
  const advice = bf16 === null ? 'use a smaller model' : `save the weights ${bf16} (half their bytes) or use a smaller model`;
  throw new InputError(`not saving checkpoint ${file}: it would have ${atLeast ? 'at least ' : ''}${bytes.toLocaleString('en-US')} bytes, `
    + `more than the ${MAX_CHECKPOINT_BYTES.toLocaleString('en-US')} (2 GiB) that deeprnn reads; ${advice}`);
}

/**
 * Saves a model without training state: weights, configuration and
 * tokenizer (RNNLM.save). It loads with RNNLM.load and in deeprnn predict,
 * eval, info and train --init-from.
 */
export function saveModel(file: string, model: RNNLM, tokenizer: Tokenizer | undefined, dtype: Dtype = 'F32'): void {
  if (!tokenizer) {
    throw new InputError('save needs the tokenizer the model reads text with: this model has none (models from train() and RNNLM.load() have one); '
      + 'pass save(path, { tokenizer })');
  }
  if (typeof tokenizer !== 'object' || typeof (tokenizer as Partial<Tokenizer>).toJSON !== 'function') {
    throw new InputError('save: tokenizer must be a Tokenizer (Tokenizer.fit, or a model\'s tokenizer)');
  }
  // A path that names a directory is not a file to write (train --out refuses it too).
  if (typeof file !== 'string' || file === '' || /[\\/]$/.test(file)) {
    throw new InputError(`save needs a file path, got ${show(file)}`);
  }
  // (bf16 precision recorded, so that what loads it predicts and evaluates as the model did; fp32 files stay as they were)
  try {
    saveCheckpoint(file, model, { version: FORMAT_VERSION, config: model.config, tokenizer: tokenizer.toJSON(),
      ...(model.precision === 'bf16' ? { precision: 'bf16' as const } : {}),
      // (so that what loads it reads text as the model did: before, a model whose vocabulary knows "\r" came back "kept")
      ...(model.lineEnds === undefined ? {} : { lineEnds: model.lineEnds }) }, undefined, {}, dtype);
  } catch (e) {
    // A write that failed names the file asked for (before, Node's error named only the temporary file beside it).
    if (e instanceof InputError || !(e as NodeJS.ErrnoException).code) throw e;
    const there = existsSync(file) ? 'the file there is as it was' : 'nothing was written there';
    throw new Error(`could not write checkpoint ${file} (${(e as Error).message}); ${there}`, { cause: e });
  }
}

/** The most bytes one epoch of history can add to a checkpoint's header: every number at its longest, JSON-escaped. */
export const HISTORY_ENTRY_BYTES = (() => {
  const long = -1.2345678901234567e-300;
  const worst: EpochMetrics = {
    epoch: Number.MAX_SAFE_INTEGER, trainLoss: long, trainPpl: long, valLoss: long, valPpl: long, valAcc: long,
    tokensPerSec: long, seconds: long, skipped: Number.MAX_SAFE_INTEGER, lr: long, gradNorm: long,
  };
  return JSON.stringify(JSON.stringify([worst, worst])).length - JSON.stringify(JSON.stringify([worst])).length;
})();

/** Room for the trainer's state and the optimizer's step count and rate to grow to their longest. */
const STATE_SLACK = 1024;

/**
 * A bound on the header of every checkpoint a run will write, from its
 * metadata now and up to `epochs` epochs of history (with the parts that the
 * vocabulary and the history take): checked against the reader's limit before
 * training, so that no checkpoint is written that cannot be read.
 */
export function checkpointHeaderBound(
  model: Module<FloatArray>,
  meta: CheckpointMeta,
  epochs: number,
  carryN: number | null,
  optimizerState: Record<string, FloatArray>,
): { total: number; vocabulary: number; history: number } {
  const shapes = checkpointTensors(model, meta.config, carryN === null ? undefined : { state: null, N: carryN }, optimizerState);
  const base = headerBytes(shapes, { format: 'pt', deeprnn: JSON.stringify({ ...meta, history: [] }) });
  const history = Math.max(epochs, meta.history.length) * HISTORY_ENTRY_BYTES;
  const vocabulary = JSON.stringify(JSON.stringify(meta.tokenizer.tokens)).length;
  return { total: base + history + STATE_SLACK, vocabulary, history };
}

/** Reads a checkpoint into a native RNNLM; every inconsistency is an Error naming the file. */
export function loadCheckpoint(file: string): Checkpoint {
  if (typeof file !== 'string') throw new InputError(`a checkpoint's path must be a string (a .safetensors file), got ${describe(file)}`);
  if (file === '') throw new InputError('the checkpoint\'s path is empty: name a .safetensors file');
  if (!existsSync(file)) {
    // (a checkpoint in a directory this user may not enter is there, not missing)
    const denied = accessDenied(file);
    if (denied) throw new InputError(`checkpoint ${file} cannot be read (${denied})`);
    throw new InputError(`checkpoint ${file} does not exist (train one with "deeprnn train --out ${file}")`);
  }
  if (!statSync(file).isFile()) throw new InputError(`checkpoint ${file} is not a regular file`);
  return decodeCheckpoint(readCheckpointBytes(file), file);
}

/** The most bytes a checkpoint may have: what one read into a Buffer can hold (2 GiB). */
export const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1;

/**
 * A checkpoint file's bytes, read only once its header length and header
 * have passed: a file that is not a checkpoint (zeros, another format) is
 * refused after its first bytes, not after reading all of it, and one too
 * large to read is refused by name.
 */
function readCheckpointBytes(file: string): Buffer {
  const fail = (what: string) => new InputError(`${file} is not a valid safetensors file: ${what}`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    // (a file this user may not read: before, Node's bare "EACCES: permission denied, open ...")
    throw new InputError(`checkpoint ${file} cannot be read (${(e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    const start = Buffer.alloc(8);
    readSync(fd, start, 0, 8, 0);
    const n = checkHeaderLength(start, size, fail);
    const header = Buffer.alloc(n);
    if (readSync(fd, header, 0, n, 8) < n) throw fail('the file ended inside its header');
    parseHeader(header, fail);
    if (size > MAX_CHECKPOINT_BYTES) {
      throw new InputError(`checkpoint ${file} has ${size.toLocaleString('en-US')} bytes, more than the `
        + `${MAX_CHECKPOINT_BYTES.toLocaleString('en-US')} (2 GiB) that deeprnn reads`);
    }
    // The bytes the checks above were of, however the file changes meanwhile (one
    // that shrank is refused by the full check of its header against them).
    const bytes = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const read = readSync(fd, bytes, got, size - got, got);
      if (read === 0) break;
      got += read;
    }
    return bytes.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Why the file at `file` is not one a run may write over, or null: nothing
 * there, an empty file, or a safetensors file whose header carries deeprnn's
 * metadata (a checkpoint, read no further than its header). Anything else
 * (a user's notes, another program's model) is not deeprnn's to replace.
 */
export function notACheckpoint(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    // nothing there; a file this user may not read cannot be told from a checkpoint, and
    // what keeps it from being written is said by checkWritable or the write
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size === 0) return null;  // (what is no file is checkWritable's to refuse)
    const start = Buffer.alloc(8);
    readSync(fd, start, 0, 8, 0);
    const n = checkHeaderLength(start, st.size, (what) => new Error(what));
    const header = Buffer.alloc(n);
    if (readSync(fd, header, 0, n, 8) < n) return 'not a safetensors file';
    const meta = parseHeader(header, (what) => new Error(what)).__metadata__ as Record<string, unknown> | undefined;
    return typeof meta?.deeprnn === 'string' ? null : 'a safetensors file without deeprnn\'s metadata';
  } catch {
    return 'not a safetensors file';
  } finally {
    closeSync(fd);
  }
}

/** Reads a training run's checkpoint; a model saved without training state is an error that says what `use` needs. */
export function loadTrainingCheckpoint(file: string, use = 'this needs a checkpoint that a training run wrote'): Checkpoint<CheckpointMeta> {
  const ck = loadCheckpoint(file);
  if (!hasTrainingState(ck.meta)) throw new InputError(`checkpoint ${file} holds a model without training state (saved by RNNLM.save); ${use}`);
  return ck as Checkpoint<CheckpointMeta>;
}

/** Decodes a checkpoint's bytes; `file` names it in errors. */
export function decodeCheckpoint(bytes: Buffer, file: string): Checkpoint {
  const st = decodeSafetensors(bytes, file);
  const fail = (what: string) => new InputError(`checkpoint ${file}: ${what}`);
  const raw = st.metadata.deeprnn;
  if (raw === undefined) throw fail('no "deeprnn" metadata: not a deeprnn checkpoint');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw fail('the "deeprnn" metadata is not JSON');
  }
  const { meta, tokenizer, carry, optimizerState } = checkContents(parsed, st.tensors, fail);
  const model = new RNNLM(meta.config);
  for (const p of model.table) model.params.set(st.tensors.get(p.name)!.data, p.offset);
  model.tokenizer = tokenizer;
  model.lineEnds = checkpointLineEnds({ meta, tokenizer });
  // Evaluation and generation follow the training's precision (the caller may set another).
  if ('training' in meta && meta.training.precision) model.precision = meta.training.precision;
  else if (meta.precision) model.precision = meta.precision;
  const bf16Tensors = [...st.tensors].filter(([, t]) => t.dtype === 'BF16').map(([name]) => name);
  return { meta, model, tokenizer, carry, optimizerState, bf16Tensors };
}

/** Index of the first value that is not finite, or -1 (a plain loop: checkpoints are checked on every save). */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/**
 * The one check of a checkpoint's contents, for the reader and the writer
 * alike: the metadata (as JSON gives it back) and the tensors by name, each
 * inconsistency an Error from `fail`.
 */
function checkContents(parsed: unknown, tensors: Map<string, Tensor>, fail: Fail): Omit<Checkpoint, 'model' | 'bf16Tensors'> {
  const meta = checkMeta(parsed, fail);
  let tokenizer: Tokenizer;
  try {
    tokenizer = tokenizerFromJSON(meta.tokenizer);
  } catch (e) {
    throw fail((e as Error).message);
  }
  const { config } = meta;
  if (tokenizer.vocab.size !== config.vocabSize) {
    throw fail(`the tokenizer has ${tokenizer.vocab.size} tokens but the model's vocabSize is ${config.vocabSize}`);
  }
  const training = hasTrainingState(meta) ? meta : null;
  const table = paramTable(config);
  const names = new Set(table.map((p) => p.name));
  const carrying = training ? carryNames(config) : [];
  const carryNamesSet = new Set(carrying.map((c) => c.name));
  const optimizerNames = new Set(training ? optimizerSpec(training.optimizer.kind).buffers.map((n) => `optimizer.${n}`) : []);
  const P = paramCount(table);
  const optimizerState: Record<string, Float32Array> = {};
  const nonNegative = new Set(training ? (optimizerSpec(training.optimizer.kind).nonNegative ?? []).map((n) => `optimizer.${n}`) : []);
  for (const [name, t] of tensors) {
    if (names.has(name) || carryNamesSet.has(name)) continue;
    if (!optimizerNames.has(name)) throw fail(`unexpected tensor ${show(name)}`);
    if (t.shape.length !== 1 || t.shape[0] !== P) throw fail(`tensor ${show(name)} has shape [${t.shape.join(', ')}], expected [${P}]`);
    if (firstNonFinite(t.data) >= 0) throw fail(`tensor ${show(name)} has non-finite values`);
    if (nonNegative.has(name)) {
      const at = t.data.findIndex((v) => v < 0);
      if (at >= 0) throw fail(`tensor ${show(name)} (an average of squares) has a negative value (${t.data[at]}) at index ${at}`);
    }
    optimizerState[name.slice('optimizer.'.length)] = t.data;
  }
  if (training && training.optimizer.steps > 0) {
    // The buffers the optimizer has after a step (those its settings use): a resume without
    // them would start them again from zeros and go on as another run.
    const { steps: _steps, ...settings } = training.optimizer;
    const probe = makeOptimizer(settings);
    probe.step(new Float32Array(1), new Float32Array(1));
    for (const buffer of Object.keys(probe.state())) {
      if (!optimizerState[buffer]) {
        throw fail(`tensor "optimizer.${buffer}" is missing (the ${training.optimizer.kind} optimizer's state after ${training.optimizer.steps} steps)`);
      }
    }
  }
  // Sequential batches carry the state across a mid-epoch checkpoint: all of it, and only there.
  const carries = training !== null && training.training.batching === 'sequential' && training.state.batch > 0;
  if (!carries) {
    const extra = carrying.find((c) => tensors.has(c.name));
    if (extra) throw fail(`unexpected tensor "${extra.name}" (a carried state, which only a mid-epoch checkpoint of sequential batches holds)`);
  }
  let carry: Float32Array[] | null = null;
  if (carries) {
    const N = training.training.batchSize;
    carry = carrying.map(({ name, layer }) => {
      const t = tensors.get(name);
      const H = config.hidden[layer]!;
      if (!t) throw fail(`tensor ${show(name)} is missing (the carried state is incomplete)`);
      if (t.shape.length !== 2 || t.shape[0] !== N || t.shape[1] !== H) {
        throw fail(`tensor ${show(name)} has shape [${t.shape.join(', ')}], expected [${N}, ${H}]`);
      }
      if (firstNonFinite(t.data) >= 0) throw fail(`tensor ${show(name)} has non-finite values`);
      return t.data;
    });
  }
  for (const p of table) {
    const t = tensors.get(p.name);
    if (!t) throw fail(`tensor "${p.name}" is missing`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw fail(`tensor "${p.name}" has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    }
    const bad = firstNonFinite(t.data);
    if (bad >= 0) throw fail(`tensor "${p.name}" has a non-finite value (${t.data[bad]}) at index ${bad}; the weights are unusable`);
  }
  return { meta, tokenizer, carry, optimizerState };
}

type Fail = (what: string) => Error;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// Every number finite whatever `check` says: JSON has no Infinity, and a number
// written past a double's range (1e999) is one only a hand or damage wrote.
function num(o: Record<string, unknown>, key: string, where: string, fail: Fail, check: (v: number) => boolean = Number.isFinite): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) {
    throw fail(`${where}.${key} is ${typeof v === 'number' ? String(v) : v === undefined ? 'missing' : show(v)}, not a valid number`);
  }
  return v;
}

const isCount = (v: number) => Number.isSafeInteger(v) && v >= 0;
/** A count of steps a run can go on adding to (2^52, far past any run; 2^53 - 1 + 1 is no longer exact). */
const isStepCount = (v: number) => isCount(v) && v <= 2 ** 52;
const isPositive = (v: number) => Number.isSafeInteger(v) && v >= 1;

function rngState(v: unknown, where: string, fail: Fail): RngState {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)
    || v.every((x) => x === 0)) {
    throw fail(`${where} must be four 32-bit unsigned integers, not all zero`);
  }
  return v as RngState;
}

/** The parts of a training run's checkpoint: all of them, or none (a model saved by RNNLM.save). */
const TRAINING_PARTS = ['training', 'optimizer', 'state', 'history'] as const;

function checkMeta(m: unknown, fail: Fail): ModelMeta | CheckpointMeta {
  if (!isObject(m)) throw fail('the "deeprnn" metadata is not an object');
  if (!Number.isInteger(m.version) || (m.version as number) < 1) throw fail(`format version ${show(m.version)} is invalid`);
  if ((m.version as number) > FORMAT_VERSION) {
    throw fail(`format version ${m.version} is newer than this deeprnn reads (${FORMAT_VERSION}); upgrade deeprnn`);
  }
  if (m.config === undefined) throw fail('no model config');
  let config: ModelConfig;
  try {
    config = checkModelConfig(m.config);
  } catch (e) {
    throw fail((e as Error).message);
  }
  if (m.precision !== undefined && !PRECISIONS.includes(m.precision as Precision)) {
    throw fail(`precision ${show(m.precision)} is invalid: it must be one of ${PRECISIONS.join('|')}`);
  }
  if (m.lineEnds !== undefined && !isLineEnds(m.lineEnds)) throw fail(`lineEnds ${show(m.lineEnds)} is invalid: it must be "lf" or "kept"`);
  const model: ModelMeta = { version: m.version as number, config, tokenizer: m.tokenizer as TokenizerJSON,
    ...(m.precision === undefined ? {} : { precision: m.precision as Precision }),
    ...(m.lineEnds === undefined ? {} : { lineEnds: m.lineEnds as LineEnds }) };
  if (TRAINING_PARTS.every((k) => m[k] === undefined)) return model;
  const t = m.training;
  if (!isObject(t)) throw fail('no training settings');
  if (!Array.isArray(t.corpus) || t.corpus.length === 0 || !t.corpus.every((c) => typeof c === 'string')) {
    throw fail('training.corpus must be a list of corpus names or paths');
  }
  if (typeof t.corpusSha1 !== 'string') throw fail('training.corpusSha1 must be a string');
  if (t.corpusParts !== undefined && !(Array.isArray(t.corpusParts) && t.corpusParts.length > 0
    && t.corpusParts.every((n) => Number.isSafeInteger(n) && (n as number) >= 0))) {
    throw fail(`training.corpusParts ${show(t.corpusParts)} is invalid: it must list the bytes of each file the run read`);
  }
  if (t.skipNonFinite !== undefined && typeof t.skipNonFinite !== 'boolean') {
    throw fail(`training.skipNonFinite ${show(t.skipNonFinite)} is invalid: it must be true or false`);
  }
  if (t.batching !== 'random' && t.batching !== 'sequential') throw fail(`training.batching ${show(t.batching)} is invalid`);
  if (t.valFrac !== null && !(typeof t.valFrac === 'number' && t.valFrac > 0 && t.valFrac < 1)) {
    throw fail(`training.valFrac ${show(t.valFrac)} is invalid`);
  }
  if (t.impl !== 'native' && t.impl !== 'scratch') throw fail(`training.impl ${show(t.impl)} is invalid`);
  if (t.precision !== undefined && !PRECISIONS.includes(t.precision as Precision)) {
    throw fail(`training.precision ${show(t.precision)} is invalid: it must be one of ${PRECISIONS.join('|')}`);
  }
  if (t.saveDtype !== undefined && !PRECISIONS.includes(t.saveDtype as Precision)) {
    throw fail(`training.saveDtype ${show(t.saveDtype)} is invalid: it must be one of ${PRECISIONS.join('|')}`);
  }
  if (t.initFrom !== undefined && typeof t.initFrom !== 'string') throw fail(`training.initFrom ${show(t.initFrom)} must be a path`);
  if (t.chunkTokens !== undefined && !(Number.isSafeInteger(t.chunkTokens) && (t.chunkTokens as number) >= 1 && (t.chunkTokens as number) <= MAX_CHUNK_TOKENS)) {
    throw fail(`training.chunkTokens ${show(t.chunkTokens)} is invalid: it must be a whole number of tokens per chunk from 1 to ${MAX_CHUNK_TOKENS}`);
  }
  if (t.earlyStop !== undefined && !(Number.isSafeInteger(t.earlyStop) && (t.earlyStop as number) >= 1)) {
    throw fail(`training.earlyStop ${show(t.earlyStop)} is invalid: it must be a whole number of epochs from 1`);
  }
  if (t.lineEnds !== undefined && !isLineEnds(t.lineEnds)) {
    throw fail(`training.lineEnds ${show(t.lineEnds)} is invalid: it must be "lf" or "kept"`);
  }
  const training: TrainingSettings = {
    corpus: t.corpus,
    corpusSha1: t.corpusSha1,
    ...(t.corpusParts === undefined ? {} : { corpusParts: t.corpusParts as number[] }),
    epochs: num(t, 'epochs', 'training', fail, isPositive),
    batchSize: num(t, 'batchSize', 'training', fail, isPositive),
    // (eval reads windows of this length)
    numSteps: num(t, 'numSteps', 'training', fail, (v) => isPositive(v) && v <= MAX_NUM_STEPS),
    numTrain: num(t, 'numTrain', 'training', fail, isCount),
    numVal: num(t, 'numVal', 'training', fail, isCount),
    lr: num(t, 'lr', 'training', fail, (v) => v > 0 && Number.isFinite(v)),
    clip: num(t, 'clip', 'training', fail, (v) => v >= 0 && Number.isFinite(v)),
    seed: num(t, 'seed', 'training', fail, isCount),
    impl: t.impl,
    ...(t.precision === undefined ? {} : { precision: t.precision as Precision }),
    ...(t.saveDtype === undefined ? {} : { saveDtype: t.saveDtype as Precision }),
    skipNonFinite: t.skipNonFinite === true,
    batching: t.batching,
    valFrac: t.valFrac,
    ...(t.initFrom === undefined ? {} : { initFrom: t.initFrom }),
    ...(t.chunkTokens === undefined ? {} : { chunkTokens: t.chunkTokens as number }),
    ...(t.earlyStop === undefined ? {} : { earlyStop: t.earlyStop as number }),
    ...(t.lineEnds === undefined ? {} : { lineEnds: t.lineEnds as LineEnds }),
  };
  // Without a validation fraction the run's windows are these counts (with one, they are not read).
  if (training.valFrac === null && (training.numTrain < 1 || training.numVal < 1)) {
    throw fail(`training.numTrain ${training.numTrain} and numVal ${training.numVal} must be 1 or more (the run's windows)`);
  }
  const optimizer = checkOptimizer(m.optimizer, fail);
  const schedule = m.schedule === undefined ? undefined : checkSchedule(m.schedule, fail);
  if (m.clipMode !== undefined && m.clipMode !== 'norm' && m.clipMode !== 'value') throw fail(`clipMode ${show(m.clipMode)} is invalid`);
  const s = m.state;
  if (!isObject(s)) throw fail('no trainer state');
  const state: TrainState = {
    epoch: num(s, 'epoch', 'state', fail, isCount),
    batch: num(s, 'batch', 'state', fail, isCount),
    step: num(s, 'step', 'state', fail, isStepCount),
    rngEpoch: rngState(s.rngEpoch, 'state.rngEpoch', fail),
    rng: rngState(s.rng, 'state.rng', fail),
    lossSum: num(s, 'lossSum', 'state', fail, (v) => v >= 0),  // (a sum of losses, never negative)
    tokens: num(s, 'tokens', 'state', fail, isCount),
    seconds: num(s, 'seconds', 'state', fail, (v) => v >= 0),
    skipped: num(s, 'skipped', 'state', fail, isCount),
    gradNormSum: s.gradNormSum === null ? NaN : num(s, 'gradNormSum', 'state', fail, (v) => v >= 0),
  };
  // state.batch equal to the epoch's batch count is a checkpoint saved after the
  // last batch, before (or during) validation: resuming validates and goes on.
  if (training.batching === 'random' && training.valFrac === null && state.batch > Math.ceil(training.numTrain / training.batchSize)) {
    throw fail(`state.batch ${state.batch} is past the end of an epoch of ${Math.ceil(training.numTrain / training.batchSize)} batches`);
  }
  // Batches of this epoch that ran count their tokens, unless every one of them was skipped for a non-finite loss.
  if (state.tokens === 0 && (state.lossSum !== 0 || state.skipped < state.batch)) {
    throw fail(`state counts no tokens but ${state.batch} batches of this epoch (${state.skipped} skipped) and a loss sum of ${state.lossSum}: `
      + 'the position does not hold together');
  }
  if (!Array.isArray(m.history)) throw fail('history must be an array');
  const history = m.history.map((h, i) => {
    if (!isObject(h)) throw fail(`history[${i}] is not an object`);
    const where = `history[${i}]`;
    // JSON has no Infinity or NaN: a diverged epoch's losses are written as null.
    // Losses are never negative, so perplexities never below 1.
    const metric = (k: string, ok: (v: number) => boolean) => (h[k] === null ? NaN : num(h, k, where, fail, ok));
    const atLeast = (min: number) => (v: number) => Number.isFinite(v) && v >= min;
    const e: EpochMetrics = {
      epoch: num(h, 'epoch', where, fail, isPositive),
      trainLoss: metric('trainLoss', atLeast(0)),
      trainPpl: metric('trainPpl', atLeast(1)),
      valLoss: metric('valLoss', atLeast(0)),
      valPpl: metric('valPpl', atLeast(1)),
      valAcc: num(h, 'valAcc', where, fail, (v) => v >= 0 && v <= 1),
      tokensPerSec: metric('tokensPerSec', atLeast(0)),
      seconds: num(h, 'seconds', where, fail, (v) => v >= 0),
      skipped: num(h, 'skipped', where, fail, isCount),
      lr: num(h, 'lr', where, fail, (v) => v >= 0),
      gradNorm: metric('gradNorm', atLeast(0)),
    };
    return e;
  });
  if (history.length !== state.epoch) throw fail(`history has ${history.length} epochs but state.epoch is ${state.epoch}`);
  return { ...model, training, optimizer, schedule, clipMode: m.clipMode as CheckpointMeta['clipMode'], state, history };
}

/** The optimizer's kind, rate, step count and hyperparameters, each checked as its spec says. */
function checkOptimizer(o: unknown, fail: Fail): OptimizerSettings & { steps: number } {
  if (!isObject(o) || !OPTIMIZERS.includes(o.kind as OptimizerKind)) throw fail(`optimizer must be an object with a "kind" of ${OPTIMIZERS.join(', ')}`);
  const kind = o.kind as OptimizerKind;
  const nonNeg = (v: number) => v >= 0 && Number.isFinite(v);
  const settings: OptimizerSettings & { steps: number } = {
    kind,
    lr: num(o, 'lr', 'optimizer', fail, nonNeg),
    steps: num(o, 'steps', 'optimizer', fail, isStepCount),
  };
  for (const key of HYPER_KEYS) {
    if (o[key] === undefined) continue;
    if (!hasHyper(kind, key)) throw fail(`optimizer.${key} does not apply to optimizer ${kind}`);
    // (an eps past float32's largest, which runs took before it was bounded, still loads: info, eval and predict read such a file)
    const olderEps = key === 'eps' && typeof o[key] === 'number' && Number.isFinite(o[key]) && Math.fround(o[key]) > 0;
    if (!validHyper(key, o[key]) && !olderEps) throw fail(`optimizer.${key} must be ${HYPERPARAMS[key].expected ?? 'true or false'}, got ${show(o[key])}`);
    (settings as Record<HyperKey, unknown>)[key] = o[key];
  }
  const spec = optimizerSpec(kind);
  const conflict = spec.conflict?.({ ...spec.hyper, ...settings } as HyperValues, (k) => `optimizer.${k}`);
  if (conflict) throw fail(conflict);
  return settings;
}

function checkSchedule(o: unknown, fail: Fail): ScheduleSettings {
  if (!isObject(o) || !SCHEDULES.includes(o.kind as ScheduleKind)) throw fail(`schedule must be an object with a "kind" of ${SCHEDULES.join(', ')}`);
  const nonNeg = (v: number) => v >= 0 && Number.isFinite(v);
  const schedule: ScheduleSettings = {
    kind: o.kind as ScheduleKind,
    lr: num(o, 'lr', 'schedule', fail, nonNeg),
    warmup: num(o, 'warmup', 'schedule', fail, isCount),
    // (in [0, 1] as --lr-decay takes it, (0, 1]: before, a decay of 3 loaded and tripled the rate every epoch)
    decay: num(o, 'decay', 'schedule', fail, (v) => v >= 0 && v <= 1),
    decayAfter: num(o, 'decayAfter', 'schedule', fail, isCount),
    minLr: num(o, 'minLr', 'schedule', fail, nonNeg),
  };
  if (schedule.minLr > schedule.lr) throw fail(`schedule.minLr ${schedule.minLr} is above schedule.lr ${schedule.lr}`);
  return schedule;
}
