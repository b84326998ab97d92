// Fine-tuning (train --init-from, train(text, { initFrom })): the run starts
// from the checkpoint's exact weights, model and tokenizer, with a fresh
// optimizer, schedule and position, on another text.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeDataModule } from '../../src/data/datamodule.js';
import { loadTextTokens } from '../../src/data/load.js';
import { loadCheckpoint, loadTrainingCheckpoint } from '../../src/io/checkpoint.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';
import { train } from '../../src/train/library.js';
import { runTraining } from '../../src/train/run.js';
import { initFromSettings, libraryNaming, resolveRunSettings, RUN_DEFAULTS } from '../../src/train/settings.js';
import { TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const book = readFileSync(TIMEMACHINE, 'utf8');
const TINY = { hidden: 8, numSteps: 16, numTrain: 200, numVal: 100, batchSize: 50, epochs: 1 };

/** The checkpoint the runs start from: two epochs of Adam on the book's beginning. */
const base = path.join(dir, 'base.safetensors');
beforeAll(async () => {
  await train(book.slice(0, 40_000), { ...TINY, epochs: 2, tokenizer: 'd2l', optimizer: 'adam', lr: 0.01, out: base });
});

describe('fine-tuning', () => {
  it("continues from the checkpoint's exact weights: the first batch's loss is the checkpoint model's", async () => {
    const ck = loadTrainingCheckpoint(base);
    expect(Object.keys(ck.optimizerState).sort()).toEqual(['exp_avg', 'exp_avg_sq']);

    // Another text (the book's end) with the checkpoint's tokenizer: the batches the fine-tuning run draws first.
    const other = book.slice(-40_000);
    const seed = 5;
    const { tokens } = loadTextTokens([other], { tokenizer: ck.tokenizer });
    const data = makeDataModule(tokens, { numSteps: TINY.numSteps, numTrain: TINY.numTrain, numVal: TINY.numVal, batchSize: TINY.batchSize });
    const first = data.trainBatches(new Rng(seed)).next().value!;
    const expected = ck.model.forward(first, { train: true });
    const fresh = new RNNLM(ck.model.config, new Rng(seed)).forward(first, { train: true });
    expect(Math.abs(fresh - expected)).toBeGreaterThan(0.1);

    // The run's own loss of its first batch, seen through the run's hook.
    const seen: number[] = [];
    const options = { ...TINY, seed, initFrom: base };
    const naming = libraryNaming(options);
    const s = initFromSettings({ ...resolveRunSettings(options, naming, { corpus: ['(text)'], out: null }), text: [other], naming: 'library' }, ck.meta, base, naming);
    await runTraining(s, { onBatch: (_epoch, done, _total, loss) => done === 1 && seen.push(loss) });
    expect(seen).toEqual([expected]);
    // Settings that contradict the checkpoint's model (a caller of runTraining that did not take them from it) are refused.
    await expect(runTraining({ ...s, hidden: [16] }, {})).rejects.toThrow(
      `initFrom ${base}: the checkpoint's model is gru with hidden sizes 8,8, not gru with 16,16 as the settings say`,
    );
  });

  it('keeps the model and tokenizer, and starts a fresh optimizer, schedule and position', async () => {
    const ck = loadTrainingCheckpoint(base);
    const out = path.join(dir, 'tuned.safetensors');
    const r = await train(book.slice(-40_000), { ...TINY, epochs: 2, initFrom: base, out });
    const tuned = loadTrainingCheckpoint(out);
    expect(r.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(tuned.meta.state.epoch).toBe(2);
    expect(tuned.meta.training.initFrom).toBe(base);
    expect(tuned.meta.training.corpus).toEqual(['(text)']);
    // The defaults (plain SGD at the book's lr 2, 4 steps an epoch), not the checkpoint's Adam and its 8 steps.
    expect(tuned.meta.optimizer).toMatchObject({ kind: RUN_DEFAULTS.optimizer, lr: 2, steps: 8, momentum: 0 });
    expect(tuned.optimizerState).toEqual({});
    expect(tuned.meta.config).toEqual(ck.meta.config);
    expect(tuned.tokenizer.toJSON()).toEqual(ck.tokenizer.toJSON());
  });

  it('reads unknown tokens as <unk> with one warning, or refuses them with strict', async () => {
    const chars = path.join(dir, 'chars.safetensors');
    await train(book.slice(0, 30_000).replace(/[^a-z \n]/g, ''), { ...TINY, out: chars });
    const vocab = loadCheckpoint(chars).tokenizer.vocab;
    expect(vocab.has('Z')).toBe(false);
    const other = book.slice(-30_000);
    const warnings: string[] = [];
    await train(other, { ...TINY, initFrom: chars, onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(
      `^[\\d,]+ of the [\\d,]+ tokens of text \\([\\d.]+%\\) are not in the vocabulary of initFrom ${chars.replace(/[.]/g, '\\.')} `
        + '\\(\\d+ distinct: ".+"(, ".+")*(, \\.\\.\\.)?\\); they are read as <unk> \\(strict refuses them\\)$',
    ));
    await expect(train(other, { ...TINY, initFrom: chars, strict: true }))
      .rejects.toThrow(/are not in the vocabulary of initFrom .*; without strict they are read as <unk>$/);
    await expect(train(other, { ...TINY, initFrom: chars, cell: 'lstm' })).rejects.toThrow(
      `cell lstm contradicts initFrom ${chars}, whose model has cell gru; fine-tuning keeps the checkpoint's model and tokenizer: leave cell out or give gru`,
    );
  });
});
