import type { Batch } from '../../src/data/datamodule.js';
import { Rng } from '../../src/rng.js';

/** A batch of uniformly random tokens in [0, V). */
export function randomBatch(T: number, N: number, V: number, seed: number): Batch {
  const rng = new Rng(seed);
  const inputs = new Int32Array(T * N);
  const targets = new Int32Array(T * N);
  for (let i = 0; i < T * N; i++) {
    inputs[i] = rng.below(V);
    targets[i] = rng.below(V);
  }
  return { T, N, inputs, targets };
}
