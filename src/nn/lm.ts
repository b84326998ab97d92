// What the Trainer needs from a language model, whatever its implementation.
import type { Batch } from '../data/datamodule.js';
import type { Rng } from '../rng.js';
import type { ModelConfig, ParamInfo } from './config.js';
import type { FloatArray } from './module.js';

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
  /** Mean cross-entropy over the batch's T*N targets. */
  forward(batch: Batch, opts: ForwardOptions): number;
  /** Accumulates d(mean loss)/d(params) into grads, for the last training forward. */
  backward(): void;
  evaluate(batch: Batch, opts?: { carry?: boolean }): EvalResult;
  /** Zeros the carried state. */
  resetState(): void;
  /** The carried state as float32 arrays (h of every layer, then c for LSTM), or null when there is none. */
  carriedState(): Float32Array[] | null;
  /** Sets the carried state for batches of width N (arrays as carriedState() gives them). */
  setCarriedState(state: Float32Array[], N: number): void;
}

/** Inverted dropout mask: each value 0 with probability p, else 1/(1-p); drawn in index order. */
export function fillDropoutMask(mask: Float32Array | Float64Array, p: number, rng: Rng): void {
  const keep = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.nextU32() / 4294967296 < p ? 0 : keep;
}
