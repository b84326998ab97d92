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
 * Weights and gradients of n parameters each, or an InputError that says how
 * much they would take (before, the float64 model met a vocabulary of 1e12 as
 * a RangeError from inside).
 */
export function allocateWeights<A extends Float32Array | Float64Array>(n: number, make: (n: number) => A): [A, A] {
  try {
    return [make(n), make(n)];
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const bytes = make(0).BYTES_PER_ELEMENT;
    throw new InputError(`a model of ${n.toLocaleString('en-US')} parameters needs ${formatBytes(2 * bytes * n)} for its weights and gradients: `
      + 'more than this process can allocate (use fewer or smaller layers)');
  }
}
