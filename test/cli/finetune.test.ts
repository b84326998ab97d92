// deeprnn train --init-from: fine-tuning a checkpoint's model on another
// corpus, with its tokenizer (one warning for unknown characters, or an error
// with --strict), and an error for every option that contradicts its model.
import { copyFileSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint } from '../../src/io/checkpoint.js';
import { cli } from '../helpers/cli.js';
import { HAS_SHAKESPEARE, NEEDS_SHAKESPEARE, noteShakespeare, TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

noteShakespeare(import.meta.url);
const dir = tmpDir();
const TINY = ['--hidden', '8', '--num-train', '200', '--num-val', '100', '--batch-size', '50', '--epochs', '1'];
/** A character model of The Time Machine (lowercase letters, punctuation, no digits or capitals it has not seen). */
const base = path.join(dir, 'base.safetensors');
/** 200 lines of 50 characters, 5 of them (":", "2", "3", "$", "~") outside the checkpoint's vocabulary. */
const other = path.join(dir, 'other.txt');

beforeAll(async () => {
  const text = path.join(dir, 'lower.txt');
  writeFileSync(text, readFileSync(TIMEMACHINE, 'utf8').slice(0, 30_000).replace(/[^a-z .,\n]/g, ''));
  expect((await cli(['train', ...TINY, '--corpus', text, '--out', base])).code).toBe(0);
  writeFileSync(other, 'the time machine, said the traveller: 23 $ and ~.\n'.repeat(200));
});

async function refused(args: string[], message: string) {
  const out = path.join(dir, 'never.safetensors');
  const r = await cli(['train', ...TINY, ...args, ...(args.includes('--out') ? [] : ['--out', out])]);
  expect(r.stderr.trim()).toBe(`deeprnn: error: ${message}`);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(existsSync(out)).toBe(false);
}

describe('train --init-from', () => {
  it('records the checkpoint it started from by its absolute path, as the corpus is (before: as typed, so info elsewhere named another file)', async () => {
    const out = path.join(dir, 'relative.safetensors');
    const r = await cli(['train', ...TINY, '--corpus', 'other.txt', '--init-from', 'base.safetensors', '--out', 'relative.safetensors'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const meta = loadTrainingCheckpoint(out).meta.training;
    expect([meta.initFrom, meta.corpus]).toEqual([base, [other]]);
  });

  it("starts from the checkpoint's model and tokenizer with a fresh optimizer; unknown characters give one warning", async () => {
    const out = path.join(dir, 'tuned.safetensors');
    const r = await cli(['train', ...TINY, '--epochs', '2', '--init-from', base, '--corpus', other, '--optimizer', 'adam', '--out', out]);
    expect(r.code).toBe(0);
    // One warning, with the count, the rate and the characters, most frequent first (here all equally so: in order of appearance).
    expect(r.stderr).toBe(`deeprnn: warning: 1,000 of the 10,000 tokens of --corpus ${other} (10.00%) are not in the vocabulary of --init-from ${base} `
      + '(5 distinct: ":", "2", "3", "$", "~"); they are read as <unk> (--strict refuses them)\n');
    const ck = loadTrainingCheckpoint(out);
    const start = loadTrainingCheckpoint(base);
    expect(ck.meta.config).toEqual(start.meta.config);
    expect(ck.tokenizer.toJSON()).toEqual(start.tokenizer.toJSON());
    expect(ck.meta.training.initFrom).toBe(base);
    expect(ck.meta.training.corpus).toEqual([other]);
    expect(ck.meta.optimizer.kind).toBe('adam');
    expect(ck.meta.history.map((h) => h.epoch)).toEqual([1, 2]);
    const info = (await cli(['info', '--model', out])).stdout;
    expect(info).toContain(`training: corpus ${other} from the weights of ${base}, random batches of 50 x 32`);
  });

  it('refuses to start from one of --out\'s own numbered checkpoints, which the run keeps aside and replaces', async () => {
    // Before, the source was renamed to *.bak, the run wrote its own snapshot under its name,
    // and the checkpoint's initFrom named a file that held another model.
    const out = path.join(dir, 'snap.safetensors');
    expect((await cli(['train', ...TINY, '--epochs', '2', '--keep', '2', '--out', out])).code).toBe(0);
    const e1 = path.join(dir, 'snap.e0001.safetensors');
    const before = readFileSync(e1);
    const link = path.join(dir, 'snap-link.safetensors');
    symlinkSync(e1, link);
    for (const from of [e1, link]) {
      const r = await cli(['train', ...TINY, '--init-from', from, '--keep', '1', '--out', out]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`deeprnn: error: --init-from ${from} is one of --out ${out}'s numbered checkpoints (or the backup of one), `
        + 'which this run keeps aside as *.bak and replaces with its own: copy it elsewhere first, or choose another --out\n');
    }
    expect(readFileSync(e1).equals(before)).toBe(true);
    expect(existsSync(`${e1}.bak`)).toBe(false);
    // The backup of one, which keeping the snapshot aside would replace.
    copyFileSync(e1, `${e1}.bak`);
    const bak = await cli(['train', ...TINY, '--init-from', `${e1}.bak`, '--keep', '1', '--out', out]);
    expect(bak.code).toBe(2);
    expect(bak.stderr).toContain(`--init-from ${e1}.bak is one of --out ${out}'s numbered checkpoints (or the backup of one)`);
    expect(readFileSync(`${e1}.bak`).equals(before)).toBe(true);
    // A name of that form that is no file is named as missing.
    const none = path.join(dir, 'snap.e0007.safetensors');
    const missing = await cli(['train', ...TINY, '--init-from', none, '--out', out]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${none} does not exist`);
  });

  it('a model trained in bf16 is fine-tuned in bf16 unless --precision is given (before, in fp32 without a word)', async () => {
    const bf16 = path.join(dir, 'bf16.safetensors');
    expect((await cli(['train', ...TINY, '--precision', 'bf16', '--out', bf16])).code).toBe(0);
    const precision = (f: string) => loadTrainingCheckpoint(f).meta.training.precision ?? 'fp32';
    for (const [extra, want] of [[[], 'bf16'], [['--precision', 'fp32'], 'fp32']] as const) {
      const out = path.join(dir, `tuned-${want}.safetensors`);
      const r = await cli(['train', ...TINY, '--init-from', bf16, ...extra, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(precision(out)).toBe(want);
    }
  });

  it('--strict refuses the unknown characters before training', async () => {
    const r = await cli(['train', ...TINY, '--init-from', base, '--corpus', other, '--strict', '--out', path.join(dir, 'strict.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`deeprnn: error: 1,000 of the 10,000 tokens of --corpus ${other} (10.00%) are not in the vocabulary of --init-from ${base} `
      + '(5 distinct: ":", "2", "3", "$", "~"); without --strict they are read as <unk>\n');
    expect(r.stdout).toBe('');
    expect(existsSync(path.join(dir, 'strict.safetensors'))).toBe(false);
  });

  it('a corpus the checkpoint knows every character of trains without a warning', async () => {
    const known = path.join(dir, 'known.txt');
    writeFileSync(known, 'the time machine, said the traveller.\n'.repeat(200));
    const r = await cli(['train', ...TINY, '--init-from', base, '--corpus', known, '--strict', '--out', path.join(dir, 'known.safetensors')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each([
    [['--cell', 'lstm'], 'cell gru', 'gru'],
    [['--hidden', '16'], 'hidden sizes 8,8', '8,8'],
    [['--layers', '3'], '2 layers', '2'],
    [['--tokenizer', 'd2l'], 'tokenizer char', 'char'],
  ])('refuses %j, which contradicts the checkpoint', async (args, has, theirs) => {
    await refused(['--init-from', base, '--corpus', other, ...args],
      `${args[0]} ${args[1]} contradicts --init-from ${base}, whose model has ${has}; fine-tuning keeps the checkpoint's model and tokenizer: `
        + `leave ${args[0]} out or give ${theirs}`);
  });

  it('refuses --min-freq with a checkpoint whose tokenizer is not the word one, as a fresh run does (1, its default, is accepted)', async () => {
    await refused(['--init-from', base, '--corpus', other, '--min-freq', '3'],
      `--min-freq applies to the word tokenizer only, and --init-from ${base} reads text with its char tokenizer: leave --min-freq out`);
    const r = await cli(['train', ...TINY, '--init-from', base, '--corpus', other, '--min-freq', '1', '--out', path.join(dir, 'freq1.safetensors')]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('options that agree with the checkpoint are accepted', async () => {
    const r = await cli(['train', ...TINY, '--init-from', base, '--corpus', other, '--cell', 'gru', '--layers', '2', '--tokenizer', 'char',
      '--out', path.join(dir, 'agree.safetensors')]);
    expect(r.code).toBe(0);
  });

  it('refuses --init-from with --resume, --strict without --init-from, and an --out over the checkpoint it reads', async () => {
    await refused(['--init-from', base, '--resume', base], "--init-from starts a new run from a checkpoint's weights and --resume continues one: give one of them");
    await refused(['--strict'], "--strict applies to --init-from (a checkpoint's vocabulary reading a new corpus)");
    await refused(['--init-from', base, '--corpus', other, '--out', base], `--out ${base} would overwrite --init-from ${base}, which this command reads; choose another path`);
    const missing = path.join(dir, 'missing.safetensors');
    await refused(['--init-from', missing], `checkpoint ${missing} does not exist (train one with "deeprnn train --out ${missing}")`);
  });

  it('a model saved without training state starts a fine-tuning run but cannot be resumed', async () => {
    const { RNNLM } = await import('../../src/nn/rnnlm.js');
    const saved = path.join(dir, 'saved.safetensors');
    RNNLM.load(base).save(saved);
    const resumed = await cli(['train', '--resume', saved, '--out', path.join(dir, 'never.safetensors')]);
    expect(resumed.stderr).toBe(`deeprnn: error: checkpoint ${saved} holds a model without training state (saved by RNNLM.save); `
      + 'start a new run from its weights with --init-from instead of --resume\n');
    expect(resumed.code).toBe(2);
    const r = await cli(['train', ...TINY, '--init-from', saved, '--corpus', other, '--out', path.join(dir, 'from-saved.safetensors')]);
    expect(r.code).toBe(0);
    // info and eval read it too: no training settings to show, the book's 32 steps to evaluate with.
    const info = await cli(['info', '--model', saved]);
    expect(info.stdout).toMatch(/\nparameters: [\d,]+\n/);
    expect(info.stdout.trimEnd().split('\n').at(-1)).toBe('training: none recorded (a model saved by RNNLM.save: weights, configuration and tokenizer only)');
    const j = JSON.parse((await cli(['info', '--model', saved, '--json'])).stdout);
    expect([j.training, j.position, j.history]).toEqual([null, null, null]);
    const e = await cli(['eval', '--model', saved, '--corpus', other, '--json']);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout).results[other].tokens).toBe(9_999);
  });

  it.skipIf(!HAS_SHAKESPEARE)(`fine-tunes a Time Machine model on tiny Shakespeare by its corpus name, and eval reads both ${NEEDS_SHAKESPEARE}`, async () => {
    const tm = path.join(dir, 'tm.safetensors');
    const sh = path.join(dir, 'sh.safetensors');
    expect((await cli(['train', ...TINY, '--out', tm])).code).toBe(0);
    const r = await cli(['train', ...TINY, '--init-from', tm, '--corpus', 'tinyshakespeare', '--out', sh]);
    // The book's d2l tokenizer knows every character of any text: no warning.
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const e = await cli(['eval', '--model', sh, '--corpus', 'timemachine', 'tinyshakespeare', '--json']);
    expect(e.code).toBe(0);
    const j = JSON.parse(e.stdout) as { tokenizer: string; results: Record<string, { perplexity: number; unknownRate: number }> };
    expect(j.tokenizer).toBe('d2l');
    expect(Object.keys(j.results)).toEqual(['timemachine', 'tinyshakespeare']);
    expect(j.results.tinyshakespeare!.unknownRate).toBe(0);
    expect(j.results.tinyshakespeare!.perplexity).toBeLessThan(28);
  });
});
