// What a few training steps leave behind, for tests that compare runs bitwise
// (thread counts, team sizes, kernel tables, bf16 paths).
import { expect } from 'vitest';
import { native, type Precision } from '../../src/native.js';
import type { ModelConfig } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';
import { randomBatch } from './batch.js';

/** Bitwise equality of two float arrays (views included). */
export const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export interface Outcome {
  losses: number[];
  grads: Float32Array;
  evalLoss: number;
  correct: number;
  state: Float32Array;
}

/**
 * Two carried training steps with dropout and one carried evaluation, on
 * `threads` threads in teams of `team` (0: the cost model's), the products in
 * `precision`.
 */
export function outcome(cfg: ModelConfig, T: number, N: number, chunkTokens: number, threads: number, team: number, precision: Precision = 'fp32'): Outcome {
  const nat = native();
  nat.setThreads(threads);
  nat.setTeamSize(team);
  const m = new RNNLM(cfg, new Rng(3));
  m.precision = precision;
  m.chunkTokens = chunkTokens;
  const rng = new Rng(11);
  const losses: number[] = [];
  m.zeroGrad();
  for (let k = 0; k < 2; k++) {
    losses.push(m.forward(randomBatch(T, N, cfg.vocabSize, 20 + k), { train: true, rng, carry: true }));
    m.backward();
  }
  const grads = Float32Array.from(m.grads);
  const r = m.evaluate(randomBatch(T, N, cfg.vocabSize, 30), { carry: true });
  const state = Float32Array.from(m.carriedState()!.flatMap((a) => [...a]));
  return { losses, grads, evalLoss: r.lossSum, correct: r.correct, state };
}

/** Every part of two outcomes equal, bitwise. */
export function expectSame(label: string, a: Outcome, b: Outcome): void {
  expect(a.losses, `${label} losses`).toEqual(b.losses);
  expect(same(a.grads, b.grads), `${label} gradients bitwise`).toBe(true);
  expect(a.evalLoss, `${label} evaluation loss`).toBe(b.evalLoss);
  expect(a.correct, `${label} hits`).toBe(b.correct);
  expect(same(a.state, b.state), `${label} carried state bitwise`).toBe(true);
}
