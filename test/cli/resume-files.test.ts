// A resumed run and the files about it: an --out that is the resumed run's best
// checkpoint is refused (it replaced the best weights), another text is named
// as such even when it is too short for the run's sizes, and a corpus moved
// since the checkpoint was written is named as the checkpoint's.
import { cpSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, QUICK } from '../helpers/cli.js';
import { TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const run = path.join(dir, 'full.safetensors');
const best = path.join(dir, 'full.best.safetensors');
const books = path.join(dir, 'books');

beforeAll(async () => {
  mkdirSync(books);
  writeFileSync(path.join(books, 'a.txt'), readFileSync(TIMEMACHINE, 'utf8').slice(0, 60_000));
  const r = await cli(['train', ...QUICK, '--corpus', books, '--out', run]);
  expect(r.code, r.stderr).toBe(0);
});

describe('resume', () => {
  it("refuses an --out that is the resumed run's best checkpoint, and leaves it as it was", async () => {
    const before = readFileSync(best);
    const r = await cli(['train', '--resume', run, '--epochs', '3', '--out', best]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`deeprnn: error: --out ${best} is the best checkpoint of the run resumed from ${run}: this run would replace `
      + `its weights; choose another --out, or resume in place (--out ${run})\n`);
    expect(readFileSync(best).equals(before)).toBe(true);
    // Into another --out, or in place, it runs.
    const other = path.join(dir, 'other.safetensors');
    expect((await cli(['train', '--resume', run, '--epochs', '3', '--out', other])).code).toBe(0);
    expect(readFileSync(best).equals(before)).toBe(true);
  });

  it('names another text as such, even one too short for the run', async () => {
    const short = path.join(dir, 'short.txt');
    writeFileSync(short, 'a short text of a few words only\n');
    const r = await cli(['train', '--resume', run, '--epochs', '3', '--corpus', short, '--out', path.join(dir, 'short.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^deeprnn: error: --resume: corpus "${short.replace(/[.]/g, '\\.')}" is not the text the checkpoint trained on \\(sha1 [0-9a-f]{40}, expected [0-9a-f]{40}\\)\n$`));
  });

  it('refuses the same bytes cut into other files (joined with a newline, another text), and takes them in a directory', async () => {
    // Before, the sha1 of the bytes alone matched, and the run went on with one token fewer.
    const text = readFileSync(TIMEMACHINE, 'utf8').slice(0, 60_000);
    const cut = path.join(dir, 'cut');
    mkdirSync(cut);
    writeFileSync(path.join(cut, 'q1.txt'), text.slice(0, 23));
    writeFileSync(path.join(cut, 'q2.txt'), text.slice(23));
    const whole = path.join(cut, 'whole.txt');
    writeFileSync(whole, text);
    const ck = path.join(cut, 'two.safetensors');
    const t = await cli(['train', ...QUICK, '--epochs', '1', '--corpus', path.join(cut, 'q1.txt'), path.join(cut, 'q2.txt'), '--out', ck]);
    expect(t.code, t.stderr).toBe(0);
    const r = await cli(['train', '--resume', ck, '--epochs', '2', '--corpus', whole]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`deeprnn: error: --resume: corpus "${whole}" holds the bytes the checkpoint trained on, but cut into other files `
      + '(1 file of 60,000 bytes; the checkpoint\'s: 2 files of 23 and 59,977 bytes): files are joined with a newline, so it is another text; '
      + 'give the files the run read, in the same order\n');
    const inDir = path.join(dir, 'cut-dir');
    mkdirSync(inDir);
    cpSync(path.join(cut, 'q1.txt'), path.join(inDir, 'q1.txt'));
    cpSync(path.join(cut, 'q2.txt'), path.join(inDir, 'q2.txt'));
    const ok = await cli(['train', '--resume', ck, '--epochs', '2', '--corpus', inDir]);
    expect(ok.code, ok.stderr).toBe(0);
    // several corpora are named each in its quotes (before, "q1.txt q2.txt" read as one path with a space)
    writeFileSync(path.join(cut, 'q3.txt'), 'another text\n');
    const other = await cli(['train', '--resume', ck, '--epochs', '2', '--corpus', path.join(cut, 'q1.txt'), path.join(cut, 'q3.txt')]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(new RegExp(`^deeprnn: error: --resume: corpus "${path.join(cut, 'q1.txt')}" "${path.join(cut, 'q3.txt')}" is not the text `
      .replace(/[.]/g, '\\.')));
  });

  it('a corpus moved since is named as the checkpoint\'s, and --corpus where it is now resumes', async () => {
    const copy = path.join(dir, 'moved.safetensors');
    cpSync(run, copy);
    const moved = path.join(dir, 'books2');
    renameSync(books, moved);
    try {
      const r = await cli(['train', '--resume', copy, '--epochs', '3']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`deeprnn: error: the corpus the checkpoint ${copy} trained on, ${books}, is not there any more (moved or deleted): `
        + "give --corpus with the same text where it is now (its sha1 is checked against the checkpoint's)\n");
      const ok = await cli(['train', '--resume', copy, '--epochs', '3', '--corpus', moved]);
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      renameSync(moved, books);
    }
  });
});
