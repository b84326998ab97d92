// DataModules for language models. Batches are time-major: inputs and targets
// of shape (T, N).
//  - WindowDataModule, the book's: windows of numSteps+1 tokens starting at
//    every position; windows 0..numTrain-1 train (reshuffled every epoch), the
//    next numVal validate. With a validation fraction, training windows lie in
//    the first part of the text and validation windows in the rest.
//  - SequentialDataModule, char-rnn's and the book's sequential partition: the
//    text cut into N contiguous streams read T tokens at a time, the hidden
//    state carried from batch to batch (truncated backpropagation through time).
import { InputError } from '../errors.js';
import { describe, isCollection, plural, refuseUnknownKeys, show } from '../validate.js';
import type { Rng } from '../rng.js';
import { native } from '../native.js';
import type { TokenArray } from './tokenizer.js';

/** The most steps a window may have (--num-steps; a checkpoint's numSteps, which eval reads windows of). */
export const MAX_NUM_STEPS = 1_000_000;

export interface Batch {
  /** Steps. */
  T: number;
  /** Windows (or streams) in the batch. */
  N: number;
  /** (T, N) token ids, time-major. */
  inputs: Int32Array;
  /** (T, N) next-token ids, time-major. */
  targets: Int32Array;
  /**
   * The batches of the data modules say where their windows lie in the token
   * stream: inputs[t, n] = tokens[starts[n] + t], targets one token later.
   * RNNLM hands these to its native step, whose chunks gather their own tokens
   * on their threads; inputs and targets are then gathered only if read. Once
   * they have been read (and so may have been changed), a batch of the data
   * modules has no windows until it moves on: it is stepped from the arrays.
   * A batch made by hand that has windows must have arrays that agree.
   */
  readonly windows?: BatchWindows | undefined;
}

export interface BatchWindows {
  readonly tokens: TokenArray | Int32Array;
  /** (N) the first token of each window of T + 1 tokens. */
  readonly starts: Int32Array;
}

export interface DataModule {
  /** Batches continue each other: the model carries its state from one to the next. */
  readonly carry: boolean;
  readonly numTrainBatches: number;
  readonly numValBatches: number;
  /** One epoch of training batches drawn with `rng`, skipping the first `from`. Buffers are reused. */
  trainBatches(rng: Rng, from?: number): Generator<Batch>;
  valBatches(): Generator<Batch>;
}

export type Batching = 'random' | 'sequential';

export interface DataOptions {
  numSteps: number;
  batchSize: number;
  /** Training and validation windows (the book's split), used when valFrac is not set. */
  numTrain: number;
  numVal: number;
  /** Fraction of the text, at its end, to validate on (disjoint from the training text). */
  valFrac?: number;
  batching?: Batching;
}

/** The keys of DataOptions (the type lists each once). */
export const DATA_OPTIONS = Object.keys({
  numSteps: true, batchSize: true, numTrain: true, numVal: true, valFrac: true, batching: true,
} satisfies Record<keyof DataOptions, true>);

/**
 * How a message names an option: by its key (numSteps), as the library's
 * callers give it; the command line passes its flags' names (--num-steps).
 */
export type OptionNamer = (key: string) => string;
const byKey: OptionNamer = (key) => key;

export function makeDataModule(tokens: TokenArray | Int32Array, o: DataOptions, name: OptionNamer = byKey): DataModule {
  checkCounts(o);
  if (o.batching !== undefined && o.batching !== 'random' && o.batching !== 'sequential') {
    throw new InputError(`batching must be "random" or "sequential", got ${show(o.batching)}`);
  }
  return o.batching === 'sequential' ? new SequentialDataModule(tokens, o, name) : new WindowDataModule(tokens, o, name);
}

/**
 * A batch of N windows of a token stream (Batch.windows). Its inputs and
 * targets are gathered (natively: a batch of the book's is 32K tokens) when
 * first read after its starts change. A training step that reads the windows
 * instead gathers each chunk's tokens on the chunk's own threads, with no pass
 * over the whole batch on one thread before them: on two threads that pass
 * took about 0.1 ms a batch of the book's, and the more threads the larger its
 * share of a step.
 */
export class WindowBatch implements Batch {
  /** (N) where each window starts: written by the data module, then moved(). */
  readonly starts: Int32Array;
  private readonly win: BatchWindows;
  private gathered: { inputs: Int32Array; targets: Int32Array } | null = null;
  /** inputs or targets were read (and gathered) since the last move: a reader may have changed them. */
  private read = false;

  constructor(
    readonly T: number,
    readonly N: number,
    tokens: TokenArray | Int32Array,
  ) {
    this.starts = new Int32Array(N);
    this.win = { tokens, starts: this.starts };
  }

  /** The windows, until inputs or targets are read (then the arrays are what the batch is). */
  get windows(): BatchWindows | undefined {
    return this.read ? undefined : this.win;
  }

  /** The starts were rewritten: inputs and targets are gathered again when read. */
  moved(): void {
    this.read = false;
  }

  get inputs(): Int32Array {
    return this.gather().inputs;
  }

  get targets(): Int32Array {
    return this.gather().targets;
  }

  private gather(): { inputs: Int32Array; targets: Int32Array } {
    const { T, N } = this;
    const g = this.gathered ?? (this.gathered = { inputs: new Int32Array(T * N), targets: new Int32Array(T * N) });
    if (!this.read) {
      native().fillBatch({ tokens: this.win.tokens, starts: this.starts, T, inputs: g.inputs, targets: g.targets });
      this.read = true;
    }
    return g;
  }
}

/** Reusable batches by batch width. */
class BatchBuffers {
  private readonly byN = new Map<number, WindowBatch>();

  constructor(private readonly tokens: TokenArray | Int32Array) {}

  /** The batch of N windows of T steps, its starts to be written (then call moved()). */
  get(T: number, N: number): WindowBatch {
    let b = this.byN.get(N);
    if (!b) {
      b = new WindowBatch(T, N, this.tokens);
      this.byN.set(N, b);
    }
    return b;
  }
}

function checkLength(tokens: unknown, numSteps: number, name: OptionNamer): asserts tokens is TokenArray | Int32Array {
  // (before, an Array or a Float64Array was taken here and refused by the addon at the first batch)
  if (!(tokens instanceof Uint16Array || tokens instanceof Int32Array)) {
    throw new InputError(`the tokens must be a Uint16Array or an Int32Array of token ids (a tokenizer's encode(), or Int32Array.from(ids)), got ${describe(tokens)}`);
  }
  if (tokens.length < numSteps + 1) {
    throw new InputError(`the corpus has ${plural(tokens.length, 'token')}, fewer than ${name('numSteps')} + 1 = ${numSteps + 1}`);
  }
}

/**
 * Without a validation fraction, the window counts: whole numbers from 1 (every
 * epoch ends with validation; none would read as a run whose loss diverged).
 */
function checkCounts(opts: DataOptions): void {
  // (the library's callers: the command line's options are checked before they come here)
  if (typeof opts !== 'object' || opts === null) throw new InputError(`the data options must be an object, got ${show(opts)}`);
  refuseUnknownKeys(opts, DATA_OPTIONS, 'the data options');
  for (const key of ['numSteps', 'batchSize'] as const) {
    const v = opts[key];
    if (!Number.isSafeInteger(v) || v < 1) throw new InputError(`${key} must be a whole number from 1, got ${show(v)}`);
  }
  if (opts.valFrac !== undefined && !(typeof opts.valFrac === 'number' && opts.valFrac > 0 && opts.valFrac < 1)) {
    throw new InputError(`valFrac must be a number in (0, 1), got ${show(opts.valFrac)}`);
  }
  if (opts.valFrac !== undefined) return;
  for (const key of ['numTrain', 'numVal'] as const) {
    const v = opts[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      const why = key === 'numVal' ? ' (every epoch ends with validation)' : '';
      throw new InputError(`${key} must be a whole number of windows from 1${why}, got ${show(v)}`);
    }
  }
}

/** Where validation text starts with a fraction: after the training text, which keeps at least one window. */
function fractionSplit(len: number, valFrac: number, numSteps: number, name: OptionNamer): number {
  const trainEnd = Math.floor(len * (1 - valFrac));
  if (trainEnd < numSteps + 1 || len - trainEnd < numSteps + 1) {
    throw new InputError(
      `${name('valFrac')} ${valFrac} splits the ${len} tokens into ${trainEnd} for training and ${len - trainEnd} for validation; `
        + `each needs at least ${name('numSteps')} + 1 = ${numSteps + 1}`,
    );
  }
  return trainEnd;
}

/**
 * A frozen copy of DataOptions, checked (checkCounts): what is no plain object
 * (a Map) is refused before the copy, which would drop its entries, and the
 * copy is what is checked and kept (an object whose getters answer otherwise
 * later cannot pass the check with one value and keep another).
 */
function copyOptions(opts: DataOptions): Readonly<DataOptions> {
  if (typeof opts !== 'object' || opts === null || isCollection(opts)) checkCounts(opts);
  const copy = Object.freeze({ ...opts });
  checkCounts(copy);
  return copy;
}

export class WindowDataModule implements DataModule {
  readonly carry = false;
  readonly numWindows: number;
  readonly numTrain: number;
  readonly numVal: number;
  /** First validation window. */
  readonly valStart: number;
  private readonly order: Int32Array;
  private readonly buffers: BatchBuffers;

  /** The options as given, copied (frozen): a change to the caller's object afterwards is not read. */
  readonly opts: Readonly<DataOptions>;

  constructor(
    readonly tokens: TokenArray | Int32Array,
    opts: DataOptions,
    name: OptionNamer = byKey,
  ) {
    // (before, the caller's object itself was kept: one reused for a second module changed the first's
    // batches, and a batchSize set to 0 afterwards made endless empty batches)
    opts = copyOptions(opts);
    this.opts = opts;
    const { numSteps, batchSize } = opts;
    checkLength(tokens, numSteps, name);
    this.buffers = new BatchBuffers(tokens);
    this.numWindows = tokens.length - numSteps;
    if (opts.valFrac !== undefined) {
      const trainEnd = fractionSplit(tokens.length, opts.valFrac, numSteps, name);
      this.numTrain = trainEnd - numSteps;
      this.valStart = trainEnd;
      this.numVal = this.numWindows - trainEnd;
    } else {
      if (opts.numTrain + opts.numVal > this.numWindows) {
        throw new InputError(
          `the corpus gives ${plural(this.numWindows, 'window')} of ${numSteps + 1} tokens, fewer than ${name('numTrain')} + ${name('numVal')} = ${opts.numTrain + opts.numVal}`,
        );
      }
      this.numTrain = opts.numTrain;
      this.numVal = opts.numVal;
      this.valStart = opts.numTrain;
    }
    if (batchSize > this.numTrain) {
      throw new InputError(`batch size ${batchSize} is larger than the ${this.numTrain} training windows`);
    }
    this.order = new Int32Array(this.numTrain);
  }

  get numTrainBatches(): number {
    return Math.ceil(this.numTrain / this.opts.batchSize);
  }

  get numValBatches(): number {
    return Math.ceil(this.numVal / this.opts.batchSize);
  }

  /**
   * Training batches in a random order that depends only on the rng's state
   * (a fresh permutation of the training windows each epoch); the last batch
   * may be smaller. `from` skips that many batches of the order (to continue
   * an epoch).
   */
  *trainBatches(rng: Rng, from = 0): Generator<Batch> {
    for (let i = 0; i < this.order.length; i++) this.order[i] = i;
    rng.shuffle(this.order);
    const { batchSize } = this.opts;
    for (let s = from * batchSize; s < this.numTrain; s += batchSize) {
      yield this.fill(this.order, s, Math.min(batchSize, this.numTrain - s), 0);
    }
  }

  /** Validation batches in order. */
  *valBatches(): Generator<Batch> {
    const { batchSize } = this.opts;
    for (let s = 0; s < this.numVal; s += batchSize) {
      yield this.fill(null, s, Math.min(batchSize, this.numVal - s), this.valStart);
    }
  }

  private fill(order: Int32Array | null, start: number, N: number, base: number): Batch {
    const b = this.buffers.get(this.opts.numSteps, N);
    const at = b.starts;
    for (let n = 0; n < N; n++) at[n] = base + (order ? order[start + n]! : start + n);
    b.moved();
    return b;
  }
}

export class SequentialDataModule implements DataModule {
  readonly carry = true;
  /** Training text [0, trainEnd) and validation text [valStart, valEnd). */
  readonly trainEnd: number;
  readonly valStart: number;
  readonly valEnd: number;
  private readonly trainStream: number;
  private readonly valStream: number;
  private readonly buffers: BatchBuffers;

  /** The options as given, copied (frozen): a change to the caller's object afterwards is not read. */
  readonly opts: Readonly<DataOptions>;

  constructor(
    readonly tokens: TokenArray | Int32Array,
    opts: DataOptions,
    name: OptionNamer = byKey,
  ) {
    // (before, the caller's object itself was kept: one reused for a second module changed the first's
    // batches, and a batchSize set to 0 afterwards made endless empty batches)
    opts = copyOptions(opts);
    this.opts = opts;
    const { numSteps: T, batchSize: N } = opts;
    checkLength(tokens, T, name);
    this.buffers = new BatchBuffers(tokens);
    if (opts.valFrac !== undefined) {
      this.trainEnd = fractionSplit(tokens.length, opts.valFrac, T, name);
      this.valStart = this.trainEnd;
      this.valEnd = tokens.length;
    } else {
      // The text the book's windows cover, then as much after it, disjoint.
      this.trainEnd = opts.numTrain + T;
      this.valStart = this.trainEnd;
      this.valEnd = this.valStart + opts.numVal + T;
      if (this.valEnd > tokens.length) {
        throw new InputError(
          `sequential batching needs ${name('numTrain')} + ${name('numVal')} + 2 * ${name('numSteps')} = ${this.valEnd} tokens, the corpus has ${tokens.length}`,
        );
      }
    }
    // Room for an offset of up to T - 1 tokens at the start of every epoch.
    this.trainStream = Math.floor((this.trainEnd - T) / N);
    this.valStream = Math.floor((this.valEnd - this.valStart - 1) / N);
    if (this.trainStream < T || this.valStream < T) {
      throw new InputError(
        `sequential batching with batch size ${N} and ${name('numSteps')} ${T} needs at least ${N * T + T} training and `
          + `${N * T + 1} validation tokens, the split gives ${this.trainEnd} and ${this.valEnd - this.valStart}`,
      );
    }
  }

  get numTrainBatches(): number {
    return Math.floor(this.trainStream / this.opts.numSteps);
  }

  get numValBatches(): number {
    return Math.floor(this.valStream / this.opts.numSteps);
  }

  /** N streams from a random offset in [0, T) drawn with `rng`, read T tokens at a time. */
  *trainBatches(rng: Rng, from = 0): Generator<Batch> {
    const offset = rng.below(this.opts.numSteps);
    for (let b = from; b < this.numTrainBatches; b++) yield this.fill(offset, this.trainStream, b);
  }

  *valBatches(): Generator<Batch> {
    for (let b = 0; b < this.numValBatches; b++) yield this.fill(this.valStart, this.valStream, b);
  }

  private fill(start: number, stream: number, b: number): Batch {
    const { numSteps: T, batchSize: N } = this.opts;
    const batch = this.buffers.get(T, N);
    const at = batch.starts;
    for (let n = 0; n < N; n++) at[n] = start + n * stream + b * T;
    batch.moved();
    return batch;
  }
}
