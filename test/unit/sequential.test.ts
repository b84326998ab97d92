// Sequential batching: contiguous streams, the hidden state carried from batch
// to batch (native and the float64 oracle agree), the split, and resume.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SequentialDataModule, WindowDataModule } from '../../src/data/datamodule.js';
import { loadTrainingCheckpoint } from '../../src/io/checkpoint.js';
import { CELLS } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { Rng } from '../../src/rng.js';
import { resumeSettings, runTraining, type RunSettings } from '../../src/train/run.js';
import { expectClose } from '../helpers/compare.js';
import { DATA_DIR } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const tokens = Int32Array.from({ length: 400 }, (_, i) => (i * 7) % 11);

describe('SequentialDataModule', () => {
  const dm = new SequentialDataModule(tokens, { numSteps: 5, batchSize: 4, numTrain: 0, numVal: 0, valFrac: 0.25 });

  it('reads N contiguous streams T tokens at a time', () => {
    expect(dm.trainEnd).toBe(300);
    const rng = new Rng(1);
    const offset = new Rng(1).below(5);
    const batches = Array.from(dm.trainBatches(rng), (b) => ({ inputs: [...b.inputs], targets: [...b.targets] }));
    expect(batches).toHaveLength(dm.numTrainBatches);
    const stream = Math.floor((300 - 5) / 4);
    batches.forEach((b, k) => {
      for (let n = 0; n < 4; n++) {
        for (let t = 0; t < 5; t++) {
          const p = offset + n * stream + k * 5 + t;
          expect(b.inputs[t * 4 + n]).toBe(tokens[p]);
          expect(b.targets[t * 4 + n]).toBe(tokens[p + 1]);
          expect(p + 1).toBeLessThan(300);
        }
      }
    });
  });

  it('validates on the text after the training text, disjoint', () => {
    for (const b of dm.valBatches()) for (const x of b.inputs) expect(x).toBeGreaterThanOrEqual(0);
    const first = dm.valBatches().next().value!;
    expect(first.inputs[0]).toBe(tokens[300]);
    const w = new WindowDataModule(tokens, { numSteps: 5, batchSize: 4, numTrain: 0, numVal: 0, valFrac: 0.25 });
    expect(w.numTrain).toBe(295);
    expect(w.valStart).toBe(300);
    expect(w.numVal).toBe(95);
  });

  it('refuses splits too small for the streams', () => {
    expect(() => new SequentialDataModule(tokens, { numSteps: 50, batchSize: 8, numTrain: 0, numVal: 0, valFrac: 0.25 }))
      .toThrow('sequential batching with batch size 8 and numSteps 50 needs at least 450 training and 401 validation tokens, the split gives 300 and 100');
    expect(() => new WindowDataModule(tokens, { numSteps: 5, batchSize: 4, numTrain: 0, numVal: 0, valFrac: 0.99 }))
      .toThrow('valFrac 0.99 splits the 400 tokens into 4 for training and 396 for validation; each needs at least numSteps + 1 = 6');
  });

  it('refuses no validation windows (before, the trainer read the missing validation as a divergence)', () => {
    for (const DM of [WindowDataModule, SequentialDataModule]) {
      expect(() => new DM(tokens, { numSteps: 5, batchSize: 4, numTrain: 10, numVal: 0 }))
        .toThrow('numVal must be a whole number of windows from 1 (every epoch ends with validation), got 0');
      expect(() => new DM(tokens, { numSteps: 5, batchSize: 4, numTrain: 2.5, numVal: 3 }))
        .toThrow('numTrain must be a whole number of windows from 1, got 2.5');
      expect(() => new DM(tokens, { numSteps: 5, batchSize: 4, numTrain: 10, numVal: NaN }))
        .toThrow('numVal must be a whole number of windows from 1 (every epoch ends with validation), got NaN');
    }
  });
});

describe.each(CELLS)('%s carrying state', (cell) => {
  it('native matches the oracle over consecutive batches, and carrying changes the loss', () => {
    const cfg = { cell, vocabSize: 11, hidden: [6, 5], dropout: 0 };
    const nat = new RNNLM(cfg, new Rng(2));
    const ref = new RNNLMScratch(cfg);
    ref.params.set(nat.params);
    const dm = new SequentialDataModule(tokens, { numSteps: 4, batchSize: 3, numTrain: 0, numVal: 0, valFrac: 0.5 });
    const it = dm.trainBatches(new Rng(3));
    const first = it.next().value!;
    nat.resetState();
    ref.resetState();
    nat.forward(first, { train: false, carry: true });
    ref.forward(first, { train: false, carry: true });
    const second = it.next().value!;
    nat.zeroGrad();
    ref.zeroGrad();
    const carried = nat.forward(second, { train: true, carry: true });
    expectClose(`${cell} carried loss`, [carried], [ref.forward(second, { train: true, carry: true })], 1e-5);
    nat.backward();
    ref.backward();
    expectClose(`${cell} carried grads`, nat.grads, ref.grads, 1e-4);
    const fresh = nat.forward(second, { train: false });
    expect(Math.abs(carried - fresh)).toBeGreaterThan(1e-4);
    expect(nat.carriedState()!.length).toBe(cell === 'lstm' ? 4 : 2);
  });

  it('carriedState() is a snapshot on both models: a later batch leaves it as it was, writing into it changes nothing', () => {
    // (before, the native model gave its live buffers: a kept state changed under the caller)
    const cfg = { cell, vocabSize: 11, hidden: [6, 5], dropout: 0 };
    const batch = { T: 3, N: 2, inputs: Int32Array.from([1, 2, 3, 4, 5, 6]), targets: Int32Array.from([2, 3, 4, 5, 6, 7]) };
    for (const m of [new RNNLM(cfg, new Rng(2)), new RNNLMScratch(cfg, new Rng(2))]) {
      m.resetState();
      m.evaluate(batch, { carry: true });
      const kept = m.carriedState()!;
      const copy = kept.map((a) => a.slice());
      m.evaluate(batch, { carry: true });
      kept.forEach((a, i) => expect(Array.from(a), `${m.constructor.name} ${cell} state ${i}`).toEqual(Array.from(copy[i]!)));
      const now = m.carriedState()!;
      expect(Array.from(now[0]!)).not.toEqual(Array.from(kept[0]!));
      now[0]!.fill(NaN);
      expect(Number.isFinite(m.evaluate(batch, { carry: true }).lossSum), `${m.constructor.name} ${cell}`).toBe(true);
    }
  });
});

describe('resume with sequential batches', () => {
  it('continues mid-epoch exactly, carried state included', async () => {
    const dir = tmpDir();
    const s = (out: string): RunSettings => ({
      cell: 'lstm', layers: 2, hidden: [10], dropout: 0, epochs: 2, batchSize: 8, numSteps: 12, numTrain: 0, numVal: 0,
      valFrac: 0.1, batching: 'sequential', lr: 1, clip: 1, seed: 3, impl: 'native', corpus: ['timemachine'],
      dataDir: DATA_DIR, out, skipNonFinite: false,
    });
    const full = await runTraining(s(path.join(dir, 'full.safetensors')));
    const out = path.join(dir, 'part.safetensors');
    await runTraining(s(out), {
      onTrainer: (t) => {
        const orig = t.opts.onBatch;
        t.opts.onBatch = (done, total, loss, tok, seconds) => {
          orig?.(done, total, loss, tok, seconds);
          if (t.history.length === 1 && done === 100) t.stop();
        };
      },
    });
    const ck = loadTrainingCheckpoint(out);
    expect([ck.meta.state.epoch, ck.meta.state.batch]).toEqual([1, 100]);
    expect(ck.carry).toHaveLength(4);
    const resumed = await runTraining(resumeSettings(out, { dataDir: DATA_DIR }), {}, out);
    expect(resumed.history.map((h) => h.valLoss)).toEqual(full.history.map((h) => h.valLoss));
    expect(Buffer.from(resumed.model.params.buffer).equals(Buffer.from(full.model.params.buffer))).toBe(true);
  });
});
