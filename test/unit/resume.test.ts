// A run stopped between batches and resumed from its checkpoint ends with
// bitwise the same weights and the same per-epoch losses as one that was not.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint } from '../../src/io/checkpoint.js';
import { resumeSettings, runTraining, type RunSettings } from '../../src/train/run.js';
import { DATA_DIR, TIMEMACHINE } from '../helpers/paths.js';
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
        t.opts.onBatch = (done, total, loss, tokens, seconds) => {
          orig?.(done, total, loss, tokens, seconds);
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
    const saved = loadTrainingCheckpoint(out).meta.state;
    expect([saved.epoch, saved.batch]).toEqual(stopBatch === 7 ? [1, 0] : [stopEpoch, stopBatch]);
    const resumed = await runTraining(resumeSettings(out, { dataDir: DATA_DIR }), {}, out);
    expect(resumed.stopped).toBe(false);
    expect(losses(resumed.history)).toEqual(losses(full.history));
    expect(Buffer.from(resumed.model.params.buffer).equals(Buffer.from(full.model.params.buffer))).toBe(true);
    expect(resumed.state.step).toBe(full.state.step);
  });

  it('an epoch or batch the hooks hear of is on disk: checkpoints written in the background land before the news', async () => {
    const out = path.join(dir, 'news.safetensors');
    const heard: string[] = [];
    await runTraining(settings(out, { saveEvery: { steps: 3 } }), {
      onBatch: (epoch, done, total) => {
        // Saved every 3 steps and at the end of each epoch (7 batches): the last save is the last one due.
        const steps = (epoch - 1) * total + done;
        const due = Math.max(steps - (steps % 3), (epoch - 1) * total);
        if (due === 0) expect(existsSync(out)).toBe(false);
        else expect(loadTrainingCheckpoint(out).meta.state.step).toBe(due);
        heard.push(`b${epoch}.${done}`);
      },
      onEpoch: (m) => {
        const ck = loadTrainingCheckpoint(out).meta;
        expect([ck.state.epoch, ck.state.batch, ck.history.length]).toEqual([m.epoch, 0, m.epoch]);
        expect(readFileSync(path.join(dir, 'news.metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(m.epoch);
        expect(existsSync(path.join(dir, 'news.best.safetensors'))).toBe(true);
        heard.push(`e${m.epoch}`);
      },
    });
    // In order, none lost.
    const want = [1, 2, 3].flatMap((e) => [...Array.from({ length: 7 }, (_, b) => `b${e}.${b + 1}`), `e${e}`]);
    expect(heard).toEqual(want);
  });

  it('the loop goes on only when what settle gives has settled (the run bounds its background writes with it)', async () => {
    const log: string[] = [];
    await runTraining(settings(path.join(dir, 'settle.safetensors'), { epochs: 1 }), {
      onTrainer: (t) => {
        const onBatch = t.opts.onBatch;
        t.opts.onBatch = (done, ...rest) => {
          onBatch?.(done, ...rest);
          log.push(`b${done}`);
        };
        t.opts.settle = () => new Promise((resolve) => setTimeout(() => {
          log.push('s');
          resolve();
        }, 2));
      },
    });
    // 7 batches, then the epoch's own settle
    expect(log).toEqual([...Array.from({ length: 7 }, (_, b) => [`b${b + 1}`, 's']).flat(), 's']);
  });

  it('keeps the best and the K latest numbered checkpoints, saving every N steps', async () => {
    const out = path.join(dir, 'snap.safetensors');
    await runTraining(settings(out, { saveEvery: { steps: 5 }, keep: 2 }));
    const names = ['snap.e0002-b6.safetensors', 'snap.e0003.safetensors'];
    for (const n of names) expect(existsSync(path.join(dir, n)), n).toBe(true);
    expect(existsSync(path.join(dir, 'snap.e0002-b1.safetensors'))).toBe(false);
    expect(existsSync(path.join(dir, 'snap.best.safetensors'))).toBe(true);
    const best = loadTrainingCheckpoint(path.join(dir, 'snap.best.safetensors')).meta;
    const last = loadTrainingCheckpoint(out).meta;
    expect(last.state.epoch).toBe(3);
    expect(best.history[best.history.length - 1]!.valPpl).toBe(Math.min(...last.history.map((h) => h.valPpl)));
  });

  it('--keep holds across a stop and a resume: the K latest numbered checkpoints, no more', async () => {
    const sub = path.join(dir, 'keep');
    const out = path.join(sub, 'k.safetensors');
    const s = settings(out, { saveEvery: { steps: 2 }, keep: 2 });
    await runTraining(s, {
      onTrainer: (t) => {
        const orig = t.opts.onBatch;
        t.opts.onBatch = (done, total, loss, tokens, seconds) => {
          orig?.(done, total, loss, tokens, seconds);
          if (t.history.length === 1 && done === 5) t.stop();
        };
      },
    });
    const snaps = () => readdirSync(sub).filter((f) => /^k\.e\d{4}/.test(f)).sort();
    expect(snaps()).toEqual(['k.e0001-b3.safetensors', 'k.e0001-b5.safetensors']);
    await runTraining(resumeSettings(out, { dataDir: DATA_DIR, saveEvery: { steps: 2 }, keep: 2 }), {}, out);
    // 7 batches an epoch, 3 epochs: the last saves are after step 20 (epoch 3, batch 6) and at the end.
    expect(snaps()).toEqual(['k.e0002-b6.safetensors', 'k.e0003.safetensors']);
  });

  it('a run stopped before its first epoch ended leaves no empty metrics file; its resume writes one', async () => {
    const out = path.join(dir, 'early.safetensors');
    const metrics = path.join(dir, 'early.metrics.jsonl');
    const r = await runTraining(settings(out), {
      onTrainer: (t) => {
        const orig = t.opts.onBatch;
        t.opts.onBatch = (done, total, loss, tokens, seconds) => {
          orig?.(done, total, loss, tokens, seconds);
          if (t.history.length === 0 && done === 3) t.stop();
        };
      },
    });
    expect(r.stopped).toBe(true);
    expect(loadTrainingCheckpoint(out).meta.state.batch).toBe(3);
    expect(existsSync(metrics)).toBe(false);
    await runTraining(resumeSettings(out, { dataDir: DATA_DIR }), {}, out);
    expect(readFileSync(metrics, 'utf8').trim().split('\n')).toHaveLength(3);
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

  // A checkpoint saved after an epoch's last batch is the one on disk while that
  // epoch validates (and the only one after a kill -9 there): every position a
  // run saves at must load and continue exactly.
  it.each([
    ['random windows', { numTrain: 100 }],
    ['sequential batches', { batching: 'sequential', batchSize: 4 }],
    ['a validation fraction', { valFrac: 0.5, batchSize: 300, corpus: ['small'] }],
  ] as [string, Partial<RunSettings>][])('resumes exactly from a save at every batch position (%s)', async (what, over) => {
    const sub = path.join(dir, what.replace(/ /g, '-'));
    mkdirSync(sub);
    if (over.corpus) {
      const small = path.join(sub, 'small.txt');
      writeFileSync(small, readFileSync(TIMEMACHINE, 'utf8').slice(0, 2000));
      over = { ...over, corpus: [small] };
    }
    const run = (out: string) => settings(out, { cell: 'gru', hidden: [6], dropout: 0.2, epochs: 2, ...over });
    const full = await runTraining({ ...run(path.join(sub, 'full.safetensors')), saveEvery: { steps: 1 }, keep: 1000 });
    const snaps = readdirSync(sub).filter((f) => /^full\.e\d{4}/.test(f)).sort();
    const perEpoch = full.state.step / 2;
    // b1 .. b(last) and the epoch's end, for both epochs.
    expect(snaps).toHaveLength(2 * (perEpoch + 1));
    expect(snaps).toContain(`full.e0000-b${perEpoch}.safetensors`);
    for (const snap of snaps) {
      const copy = path.join(sub, `from-${snap}`);
      copyFileSync(path.join(sub, snap), copy);
      const st = loadTrainingCheckpoint(copy).meta.state;
      const resumed = await runTraining(resumeSettings(copy, { dataDir: DATA_DIR }), {}, copy);
      expect(losses(resumed.history), `${snap} at epoch ${st.epoch}, batch ${st.batch}`).toEqual(losses(full.history));
      expect(Buffer.from(resumed.model.params.buffer).equals(Buffer.from(full.model.params.buffer)), snap).toBe(true);
    }
  }, 60_000);

  it('an early stop holds across a resume: recorded in the checkpoint, met again at once, kept when a stop came in its validation', async () => {
    // Before: the patience was not recorded (a resume without --early-stop trained on), a resume with
    // it trained one more epoch, and a stop asked during the stopping epoch's validation lost it.
    const s0 = settings(path.join(dir, 'es-full.safetensors'), { lr: 30, epochs: 12, earlyStop: 1 });
    const full = await runTraining(s0);
    expect(full.early).toBe(true);
    const n = full.history.length;
    expect(n).toBeLessThan(12);
    expect(loadTrainingCheckpoint(s0.out!).meta.training.earlyStop).toBe(1);
    const again = await runTraining(resumeSettings(s0.out!, { dataDir: DATA_DIR }), {}, s0.out!);
    expect(again.early).toBe(true);
    expect(again.history.length).toBe(n);
    const out = path.join(dir, 'es-stop.safetensors');
    const r = await runTraining(settings(out, { lr: 30, epochs: 12, earlyStop: 1 }), {
      onTrainer: (t) => {
        const orig = t.opts.onEpoch;
        t.opts.onEpoch = (m) => {
          orig?.(m);
          if (t.history.length === n) t.stop();
        };
      },
    });
    expect({ stopped: r.stopped, early: r.early, epochs: r.history.length }).toEqual({ stopped: false, early: true, epochs: n });
  });

  it('a resume with another --impl warns that it is not exact (before, float32 became float64 without a word)', async () => {
    const out = path.join(dir, 'impl.safetensors');
    await runTraining(settings(out, { epochs: 1, hidden: [8], layers: 1, dropout: 0 }));
    const warnings: string[] = [];
    const r = await runTraining(resumeSettings(out, { dataDir: DATA_DIR, epochs: 2, impl: 'scratch' }), { warn: (m) => warnings.push(m) }, out);
    expect(r.history).toHaveLength(2);
    expect(warnings).toEqual([`${out} was trained by the native float32 model and the run continues with the float64 reference (scratch) `
      + '(--impl scratch), so it does not repeat an uninterrupted run bit for bit']);
    // A scratch run's own checkpoint is float32 too: its resume says so as well (before, nothing; its weights differed by up to 6e-8).
    const again: string[] = [];
    await runTraining(resumeSettings(out, { dataDir: DATA_DIR, epochs: 3 }), { warn: (m) => again.push(m) }, out);
    expect(again).toEqual([`${out} holds the float64 reference's (scratch) weights and state rounded to float32: the run continues from the `
      + 'rounded values, so it does not repeat an uninterrupted run bit for bit (native checkpoints resume exactly)']);
  });
});
