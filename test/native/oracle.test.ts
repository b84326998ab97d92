// Native forward and backward against the float64 scratch oracle, for every
// cell, 1-3 layers, random shapes (including N = 1 and sizes that are not
// multiples of any vector width).
import { describe, expect, it } from 'vitest';
import { CELLS, type ModelConfig } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { Rng } from '../../src/rng.js';
import { randomBatch } from '../helpers/batch.js';
import { expectClose } from '../helpers/compare.js';

function pair(cfg: ModelConfig, seed: number) {
  const nat = new RNNLM(cfg, new Rng(seed));
  const ref = new RNNLMScratch(cfg, new Rng(seed));
  ref.params.set(nat.params); // identical float32 values in both
  return { nat, ref };
}

describe.each(CELLS)('%s: native vs float64 oracle', (cell) => {
  for (const layers of [1, 2, 3]) {
    it(`${layers} layer(s), random shapes`, () => {
      const r = new Rng(1000 + layers);
      for (let trial = 0; trial < 3; trial++) {
        const V = 3 + r.below(8);
        const hidden = Array.from({ length: layers }, () => 1 + r.below(12));
        const T = 1 + r.below(6);
        const N = trial === 0 ? 1 : 1 + r.below(7);
        const cfg: ModelConfig = { cell, vocabSize: V, hidden, dropout: 0 };
        const { nat, ref } = pair(cfg, 7 * trial + layers);
        const batch = randomBatch(T, N, V, trial + 31 * layers);
        const label = `${cell} L=${layers} V=${V} H=[${hidden}] T=${T} N=${N}`;
        nat.zeroGrad();
        ref.zeroGrad();
        const ln = nat.forward(batch, { train: true });
        const lr = ref.forward(batch, { train: true });
        expectClose(`${label} loss`, [ln], [lr], 1e-5);
        nat.backward();
        ref.backward();
        expectClose(`${label} grads`, nat.grads, ref.grads, 1e-4);
        const en = nat.evaluate(batch);
        const er = ref.evaluate(batch);
        expectClose(`${label} eval loss`, [en.lossSum], [er.lossSum], 1e-5);
        expect(en.count).toBe(er.count);
      }
    });
  }

  it('dropout between layers draws the same masks and gradients', () => {
    const cfg: ModelConfig = { cell, vocabSize: 6, hidden: [7, 5, 4], dropout: 0.4 };
    const { nat, ref } = pair(cfg, 3);
    const batch = randomBatch(4, 3, 6, 9);
    nat.zeroGrad();
    ref.zeroGrad();
    const ln = nat.forward(batch, { train: true, rng: new Rng(77) });
    const lr = ref.forward(batch, { train: true, rng: new Rng(77) });
    expectClose(`${cell} dropout loss`, [ln], [lr], 1e-5);
    nat.backward();
    ref.backward();
    expectClose(`${cell} dropout grads`, nat.grads, ref.grads, 1e-4);
    // Evaluation has no dropout: same loss as a training forward without it.
    const noDrop = new RNNLM({ ...cfg, dropout: 0 });
    noDrop.params.set(nat.params);
    expectClose(`${cell} eval ignores dropout`, [nat.evaluate(batch).lossSum], [noDrop.evaluate(batch).lossSum], 1e-6);
    expect(Math.abs(ln - noDrop.forward(batch, { train: false }))).toBeGreaterThan(1e-4);
  });
});

describe('larger shapes exercise the blocked and threaded paths', () => {
  it.each(CELLS)('%s with H=40, N=33, T=9', (cell) => {
    const cfg: ModelConfig = { cell, vocabSize: 29, hidden: [40, 37], dropout: 0 };
    const { nat, ref } = pair(cfg, 5);
    const batch = randomBatch(9, 33, 29, 4);
    nat.zeroGrad();
    ref.zeroGrad();
    expectClose(`${cell} big loss`, [nat.forward(batch, { train: true })], [ref.forward(batch, { train: true })], 1e-5);
    nat.backward();
    ref.backward();
    expectClose(`${cell} big grads`, nat.grads, ref.grads, 1e-4);
  });
});
