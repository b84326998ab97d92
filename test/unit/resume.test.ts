// A run stopped between batches and resumed from its checkpoint ends with
// bitwise the same weights and the same per-epoch losses as one that was not.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { resumeSettings, runTraining, type RunSettings } from '../../src/train/run.js';
import { DATA_DIR } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();

const settings = (out: string, over: Partial<RunSettings> = {}): RunSettings => ({
  cell: 'lstm', layers: 2, hidden: [12], dropout: 0.3, epochs: 3, batchSize: 32, numSteps: 10, numTrain: 200,
  numVal: 50, lr: 1, clip: 1, seed: 5, impl: 'native', corpus: ['timemachine'], dataDir: DATA_DIR, out,
  skipNonFinite: false, ...over,
});

const losses = (h: { trainLoss: number; valLoss: number; valAcc: number }[]) => h.map((m) => [m.trainLoss, m.valLoss, m.valAcc]);

describe('resume', () => {
  it.each([
    ['mid-epoch', 1, 3],
    ['at an epoch boundary', 2, 0],
    ['on the last batch of an epoch', 0, 7],
  ])('continues exactly when stopped %s', async (_what, stopEpoch, stopBatch) => {
    const full = await runTraining(settings(path.join(dir, `full-${stopEpoch}-${stopBatch}.safetensors`)));
    const out = path.join(dir, `part-${stopEpoch}-${stopBatch}.safetensors`);
    // 7 batches per epoch (200 windows / 32); stop after `stopBatch` of epoch stopEpoch + 1.
    const part = await runTraining(settings(out), {
      onTrainer: (t) => {
        const orig = t.opts.onBatch;
        t.opts.onBatch = (done, total, loss, tokens) => {
          orig?.(done, total, loss, tokens);
          if (stopBatch && done === stopBatch && t.history.length === stopEpoch) t.stop();
        };
        const origEpoch = t.opts.onEpoch;
        t.opts.onEpoch = (m) => {
          origEpoch?.(m);
          if (!stopBatch && m.epoch === stopEpoch) t.stop();
        };
      },
    });
    expect(part.stopped).toBe(true);
    const saved = loadCheckpoint(out).meta.state;
    expect([saved.epoch, saved.batch]).toEqual(stopBatch === 7 ? [1, 0] : [stopEpoch, stopBatch]);
    const resumed = await runTraining(resumeSettings(out, { dataDir: DATA_DIR }), {}, out);
    expect(resumed.stopped).toBe(false);
    expect(losses(resumed.history)).toEqual(losses(full.history));
    expect(Buffer.from(resumed.model.params.buffer).equals(Buffer.from(full.model.params.buffer))).toBe(true);
    expect(resumed.state.step).toBe(full.state.step);
  });

  it('keeps the best and the K latest numbered checkpoints, saving every N steps', async () => {
    const out = path.join(dir, 'snap.safetensors');
    await runTraining(settings(out, { saveEvery: { steps: 5 }, keep: 2 }));
    const names = ['snap.e0002-b6.safetensors', 'snap.e0003.safetensors'];
    for (const n of names) expect(existsSync(path.join(dir, n)), n).toBe(true);
    expect(existsSync(path.join(dir, 'snap.e0002-b1.safetensors'))).toBe(false);
    expect(existsSync(path.join(dir, 'snap.best.safetensors'))).toBe(true);
    const best = loadCheckpoint(path.join(dir, 'snap.best.safetensors')).meta;
    const last = loadCheckpoint(out).meta;
    expect(last.state.epoch).toBe(3);
    expect(best.history[best.history.length - 1]!.valPpl).toBe(Math.min(...last.history.map((h) => h.valPpl)));
  });

  it('refuses a corpus that is not the one the checkpoint trained on', async () => {
    const out = path.join(dir, 'corpus.safetensors');
    await runTraining(settings(out, { epochs: 1 }));
    const other = path.join(dir, 'other.txt');
    (await import('node:fs')).writeFileSync(other, 'a different text '.repeat(200));
    await expect(runTraining(resumeSettings(out, { corpus: [other], epochs: 2, dataDir: DATA_DIR }), {}, out)).rejects.toThrow(
      /^--resume: corpus ".*other.txt" is not the text the checkpoint trained on \(sha1 [0-9a-f]{40}, expected [0-9a-f]{40}\)$/,
    );
  });
});
