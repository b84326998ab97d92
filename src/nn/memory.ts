// How much memory a model and a batch shape need, to refuse a configuration
// that cannot fit before allocating any of it.
import { InputError } from '../errors.js';
import { cellInfo, gatesOf, paramCount, paramTable, type ModelConfig } from './config.js';

export interface MemoryEstimate {
  /** Parameters, gradients and a checkpoint's encoded copy. */
  params: number;
  /** Buffers of one training batch: inputs projections, outputs, saved gates, gradients, logits. */
  activations: number;
  total: number;
}

/**
 * Floats a training step keeps per token: per layer gx and dgx, y, the saved gates, the backward's extra
 * gradient (GRU's dgh), dropout's mask and output; the logits and the top layer's output and its gradient.
 */
export function activationFloatsPerToken(cfg: ModelConfig): number {
  const G = gatesOf(cfg.cell);
  const { saved, backwardExtra } = cellInfo(cfg.cell);
  let floats = 0;
  for (const H of cfg.hidden) floats += 2 * G * H + H + (saved + backwardExtra) * H + (cfg.dropout > 0 ? 2 * H : 0);
  return floats + cfg.vocabSize + 2 * cfg.hidden[cfg.hidden.length - 1]!;
}

/** Bytes to train `cfg` on batches of T steps x N windows with float32 (x2 for the float64 scratch model). */
export function trainingBytes(cfg: ModelConfig, T: number, N: number, float64 = false): MemoryEstimate {
  const bytes = float64 ? 8 : 4;
  const G = gatesOf(cfg.cell);
  const params = paramCount(paramTable(cfg)) * (2 * bytes + 4);
  // the tokens' activations, and each layer's recurrent scratch
  let floats = T * N * activationFloatsPerToken(cfg);
  for (const H of cfg.hidden) floats += G * H * (H + N);
  const activations = floats * bytes;
  return { params, activations, total: params + activations };
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/**
 * make(n), or an InputError with what `says` of the bytes it would take where
 * this process cannot allocate them (before, a RangeError from inside).
 */
export function allocate<A extends { BYTES_PER_ELEMENT: number }>(n: number, make: (n: number) => A, says: (bytes: string) => string): A {
  try {
    return make(n);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new InputError(says(formatBytes(make(0).BYTES_PER_ELEMENT * n)));
  }
}

/** Weights and gradients of n parameters each (the float64 model met a vocabulary of 1e12 as a RangeError). */
export function allocateWeights<A extends Float32Array | Float64Array>(n: number, make: (n: number) => A): [A, A] {
  // (the message counts both arrays)
  const says = () => `a model of ${n.toLocaleString('en-US')} parameters needs ${formatBytes(2 * make(0).BYTES_PER_ELEMENT * n)} `
    + 'for its weights and gradients: more than this process can allocate (use fewer or smaller layers)';
  return [allocate(n, make, says), allocate(n, make, says)];
}
