// Finite differences check the float64 oracle's analytic gradients, every
// parameter of every cell, with 2 layers of different sizes.
import { describe, expect, it } from 'vitest';
import { CELLS } from '../../src/nn/config.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { Rng } from '../../src/rng.js';
import { randomBatch } from '../helpers/batch.js';

describe.each(CELLS)('%s oracle gradients', (cell) => {
  it('match central differences', () => {
    const model = new RNNLMScratch({ cell, vocabSize: 5, hidden: [4, 3], dropout: 0 }, new Rng(11));
    // Larger weights than the default init, so every term of the gradient matters.
    for (let i = 0; i < model.params.length; i++) model.params[i] = model.params[i]! * 3;
    const batch = randomBatch(4, 2, 5, 3);
    model.zeroGrad();
    model.forward(batch, { train: true });
    model.backward();
    const analytic = Float64Array.from(model.grads);
    const eps = 1e-6;
    let worst = 0;
    for (let i = 0; i < model.params.length; i++) {
      const p = model.params[i]!;
      model.params[i] = p + eps;
      const up = model.evaluate(batch).lossSum / 8;
      model.params[i] = p - eps;
      const down = model.evaluate(batch).lossSum / 8;
      model.params[i] = p;
      const numeric = (up - down) / (2 * eps);
      // Relative error, with a floor so round-off on near-zero gradients does not count.
      const err = Math.abs(numeric - analytic[i]!) / Math.max(Math.abs(numeric) + Math.abs(analytic[i]!), 1e-3);
      worst = Math.max(worst, err);
      expect(err, `parameter ${i}: numeric ${numeric} vs analytic ${analytic[i]}`).toBeLessThan(1e-5);
    }
    console.log(`${cell}: worst relative error ${worst.toExponential(2)} over ${model.params.length} parameters`);
  });
});
