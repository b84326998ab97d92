// What the Trainer needs from a language model, whatever its implementation.
import type { Batch } from '../data/datamodule.js';
import { InputError } from '../errors.js';
import { describe, refuseUnknownKeys, strictInteger } from '../validate.js';
import type { Rng } from '../rng.js';
import type { ModelConfig, ParamInfo } from './config.js';
import type { FloatArray } from './module.js';

/** Refuses what is no batch before any of it is read (its arrays are checked where they are read). */
export function checkBatch(batch: unknown, what: string): asserts batch is Batch {
  if (typeof batch !== 'object' || batch === null) {
    throw new InputError(`${what}: the batch must be {T, N, inputs, targets} (a DataModule's batch, or one made the same way), got ${describe(batch)}`);
  }
  strictInteger(`${what}: batch.T`, (batch as Partial<Batch>).T, 1, 2 ** 31 - 1);
  strictInteger(`${what}: batch.N`, (batch as Partial<Batch>).N, 1, 2 ** 31 - 1);
}

export interface ForwardOptions {
  /** Training mode: dropout on, and what backward() needs is kept. */
  train: boolean;
  /** Draws the dropout masks (required when training with dropout > 0). */
  rng?: Rng;
  /**
   * Start from the state the last carrying forward ended in (zeros after
   * resetState() or when the batch width changes) and keep the final state:
   * sequential batches. Gradients do not flow into the carried state.
   */
  carry?: boolean;
  /**
   * Data-parallel training: compute only rank `rank` of `size`'s share of the
   * batch's windows (shardRange). The loss returned is the share's loss sum
   * over the whole batch's T*N; the share's chunk gradients of the whole
   * batch's mean loss are kept in native code (grads is left as it is, and
   * keptChunks says whether there are any) for World.sumChunks. With
   * carry the carried state keeps the batch's width; this share's rows are
   * updated and every other row is zeroed, for the caller to sum over the ranks.
   */
  shard?: Shard;
}

/** One rank's part of every batch. */
export interface Shard {
  rank: number;
  size: number;
}

/** Refuses a shard that names no rank of its size (a rank past the last read other ranks' windows, or none). */
export function checkShard(shard: unknown, what: string): asserts shard is Shard {
  if (typeof shard !== 'object' || shard === null) {
    throw new InputError(`${what}: shard must be {rank, size} (this rank's part of each batch), got ${describe(shard)}`);
  }
  const size = strictInteger(`${what}: shard.size`, (shard as Partial<Shard>).size, 1, 2 ** 31 - 1);
  strictInteger(`${what}: shard.rank`, (shard as Partial<Shard>).rank, 0, size - 1);
}

/**
 * Refuses forward()'s options when they are no object, name an option that
 * does not exist, or hold a value of the wrong kind (before: null was a
 * TypeError from inside, train: 'no' trained, an rng without nextU32 a
 * TypeError at the first mask). `shard` is checked as checkShard checks it.
 */
export function checkForwardOptions(opts: unknown, what: string): asserts opts is ForwardOptions {
  if (typeof opts !== 'object' || opts === null) throw new InputError(`${what}: the options must be { train, rng, carry, shard }, got ${describe(opts)}`);
  refuseUnknownKeys(opts, ['train', 'rng', 'carry', 'shard'], what);
  const o = opts as Partial<Record<keyof ForwardOptions, unknown>>;
  if (typeof o.train !== 'boolean') throw new InputError(`${what}: train must be true or false, got ${describe(o.train)}`);
  if (o.carry !== undefined && typeof o.carry !== 'boolean') throw new InputError(`${what}: carry must be true or false, got ${describe(o.carry)}`);
  if (o.rng !== undefined && typeof (o.rng as Partial<Rng> | null)?.nextU32 !== 'function') {
    throw new InputError(`${what}: rng must be an Rng (it draws the dropout masks), got ${describe(o.rng)}`);
  }
  // (null, as undefined, is no shard: mpiWorld() outside a job)
  if (o.shard != null) checkShard(o.shard, what);
}

/** evaluate()'s options, checked as forward's are (before, a Map, or carri: true, was taken as no options). */
export function checkEvaluateOptions(opts: unknown, what: string): asserts opts is { carry?: boolean; shard?: Shard | null } {
  if (typeof opts !== 'object' || opts === null) throw new InputError(`${what}: the options must be { carry, shard }, got ${describe(opts)}`);
  refuseUnknownKeys(opts, ['carry', 'shard'], what);
  const o = opts as { carry?: unknown; shard?: unknown };
  if (o.carry !== undefined && typeof o.carry !== 'boolean') throw new InputError(`${what}: carry must be true or false, got ${describe(o.carry)}`);
  if (o.shard != null) checkShard(o.shard, what);
}

export interface EvalResult {
  /** Cross-entropy summed over every target token (nats). */
  lossSum: number;
  /** Targets that were the argmax of the prediction. */
  correct: number;
  /** Target tokens. */
  count: number;
}

export interface LanguageModel {
  readonly config: ModelConfig;
  readonly table: ParamInfo[];
  readonly params: FloatArray;
  readonly grads: FloatArray;
  zeroGrad(): void;
  /** Mean cross-entropy over the batch's T*N targets (opts left out: { train: false }, evaluation). */
  forward(batch: Batch, opts?: ForwardOptions): number;
  /** Accumulates d(mean loss)/d(params) into grads, for the last training forward. */
  backward(): void;
  /**
   * The sum of squares of grads as the last training forward and backward
   * left them, when the model computed it there (as sumSquares(grads) gives
   * it); else null. Wrong if grads were changed since.
   */
  gradSquares?(): number | null;
  /** Says that grads were changed after the step (clipped, say): gradSquares() is null until the next training step. */
  gradsChanged?(): void;
  /** With shard: only the share's windows are scored (the counts are the share's); a carried state keeps the other rows as they were. */
  evaluate(batch: Batch, opts?: { carry?: boolean; shard?: Shard }): EvalResult;
  /** Zeros the carried state. */
  resetState(): void;
  /** The carried state as float32 copies (h of every layer, then c for LSTM: a snapshot the next batch leaves as it is), or null when there is none. */
  carriedState(): Float32Array[] | null;
  /** After a training forward with a shard: the share had windows, and their chunk gradients are kept for World.sumChunks. */
  readonly keptChunks?: boolean;
  /** The carried state of width N as one buffer (models that train in shards: their rows are summed over the ranks). */
  stateBuffer?(N: number): Float32Array;
  /** Sets the carried state for batches of width N (arrays as carriedState() gives them). */
  setCarriedState(state: Float32Array[], N: number): void;
  /** @internal A raw copy of the carried state (its precision, non-finite values too); the function puts it back. */
  keepCarriedState?(): () => void;
}

/** Inverted dropout mask: each value 0 with probability p, else 1/(1-p); drawn in index order. */
export function fillDropoutMask(mask: Float32Array | Float64Array, p: number, rng: Rng): void {
  const keep = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.nextU32() / 4294967296 < p ? 0 : keep;
}
