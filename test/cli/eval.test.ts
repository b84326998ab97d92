// eval's report: the unknown-token rate (with a warning and the --max-unk
// gate), a table whose columns never run together, and a baseline that only
// ever holds numbers.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';
import { cli } from '../helpers/cli.js';
import { TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const model = path.join(dir, 'words.safetensors');
const english = path.join(dir, 'english.txt');
const french = path.join(dir, 'a-rather-long-directory-name', 'french-text-with-a-long-name.txt');

beforeAll(async () => {
  writeFileSync(english, readFileSync(TIMEMACHINE, 'utf8').slice(0, 40_000));
  (await import('node:fs')).mkdirSync(path.dirname(french));
  writeFileSync(french, "Il était une fois un voyageur du temps qui revenait d'un monde lointain et parlait de choses étranges.\n".repeat(40));
  const r = await cli(['train', '--corpus', english, '--tokenizer', 'word', '--hidden', '8', '--num-train', '200', '--num-val', '100',
    '--batch-size', '50', '--num-steps', '8', '--epochs', '1', '--out', model]);
  expect(r.code).toBe(0);
});

describe('eval', () => {
  it('reports the unknown-token rate, warns above 5% and fails --max-unk', async () => {
    const j = JSON.parse((await cli(['eval', model, '--corpus', english, french, '--json'])).stdout);
    expect(j.results[english].unknownRate).toBe(0);
    const rate = j.results[french].unknownRate;
    expect(rate).toBeGreaterThan(0.3);
    const r = await cli(['eval', model, '--corpus', french, '--max-unk', '0.1']);
    expect(r.code).toBe(1);
    const pct = `${(100 * rate).toFixed(1)}%`;
    expect(r.stderr.trim().split('\n')).toEqual([
      `deeprnn: warning: ${pct} of the tokens of ${french} are outside the checkpoint's vocabulary (read as <unk>); `
        + 'its perplexity is not comparable to that of a text the model knows (--max-unk F fails on this)',
      `deeprnn: regression: ${pct} of the tokens of ${french} are unknown, more than --max-unk 0.1`,
    ]);
    expect(r.stdout.split('\n')[1]).toMatch(new RegExp(`${pct}$`));
    const ok = await cli(['eval', model, '--corpus', english, '--max-unk', '0']);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    const bad = await cli(['eval', model, '--corpus', english, '--max-unk', '2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('deeprnn: error: --max-unk must be a fraction in [0, 1], got "2"');
  });

  it('a corpus whose name holds a newline or an escape sequence is shown escaped in the table and the one-line verdict', async () => {
    const odd = path.join(dir, 'nl\nname\u001b[31m.txt');
    writeFileSync(odd, readFileSync(english));
    const r = await cli(['eval', model, '--corpus', odd, '--max-ppl', '1']);
    expect(r.code).toBe(1);
    const shown = odd.replace('\n', '\\u000a').replace('\u001b', '\\u001b');
    expect(r.stderr).toMatch(new RegExp(`^deeprnn: regression: perplexity [\\d.,]+ on ${shown.replace(/[.[\\]/g, '\\$&')} exceeds --max-ppl 1\n$`));
    expect(r.stdout.split('\n')[1]!.startsWith(shown)).toBe(true);
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(2);  // the header and one row
    // JSON keeps the name as it is
    expect(Object.keys(JSON.parse((await cli(['eval', model, '--corpus', odd, '--json'])).stdout).results)).toEqual([odd]);
  });

  it('a checkpoint after --corpus (which takes every word after it) is named as such (before: the default checkpoint "does not exist")', async () => {
    const r = await cli(['eval', '--corpus', english, model], { cwd: dir });
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', `deeprnn: error: --corpus ${model} is a checkpoint, not a text (--corpus takes every word after it): `
      + `name it with --model ${model}, or give it before --corpus\n`]);
    // with a checkpoint named, a corpus that is one is refused when read
    const c = await cli(['eval', model, '--corpus', english, model]);
    expect(c.code).toBe(2);
    expect(c.stderr).toBe(`deeprnn: error: --corpus "${model}" is a checkpoint (safetensors), not a text; a checkpoint is given with --model (eval, predict) `
      + 'or with --init-from or --resume (train)\n');
  });

  it('aligns its table, however long a corpus name or large a figure, and keeps non-numbers out of a baseline', async () => {
    // A model whose output layer is blown up: finite weights that put all the mass on <unk>,
    // a token these texts do not hold: a loss of 1e30 nats, a perplexity past any double.
    const ck = loadCheckpoint(model);
    const huge = path.join(dir, 'huge.safetensors');
    const param = (name: string) => ck.model.parameters().find((p) => p.name === name)!.data;
    param('linear.weight').fill(0);
    param('linear.bias').fill(0)[ck.tokenizer.vocab.unk] = 1e30;
    saveCheckpoint(huge, ck.model, ck.meta);
    const base = path.join(dir, 'base.json');
    const r = await cli(['eval', huge, '--corpus', english, french, '--write-baseline', base]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^(deeprnn: warning: .*\\n)?deeprnn: error: the perplexity on ${english}, ${french} is not finite: `
      + `the model's outputs overflow \\(its weights have diverged\\); not writing --write-baseline ${base}$`));
    expect(existsSync(base)).toBe(false);
    // without a baseline to write, the run fails all the same, its table printed
    const plain = await cli(['eval', huge, '--corpus', english, '--json']);
    expect(plain.code).toBe(1);
    expect(JSON.parse(plain.stdout).results[english].perplexity).toBe(null);
    expect(plain.stderr.trim().split('\n').pop()).toBe(
      `deeprnn: error: the perplexity on ${english} is not finite: the model's outputs overflow (its weights have diverged)`);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    // Every cell is separated by at least two spaces and starts where its header does.
    const starts = (line: string) => [...line.matchAll(/(?:^|\s{2,})(\S+(?: \S+)*)/g)].map((m) => m.index! + m[0].length - m[1]!.length);
    const header = starts(lines[0]!);
    expect(lines[0]!.split(/\s{2,}/)).toEqual(['corpus', 'tokens', 'perplexity', 'bits/token', 'accuracy', 'unknown']);
    for (const line of lines.slice(1)) {
      const cells = line.split(/\s{2,}/);
      expect(cells, line).toHaveLength(6);
      expect(starts(line), line).toEqual(header);
      expect(cells[2]).toBe('inf');
      expect(cells[3]).toMatch(/^\d\.\d{3}e\+\d+$/);
    }
  });
});

describe('corpora named as an object\'s own keys', () => {
  it('__proto__ and constructor are corpora like any other: reported, written to a baseline, checked against it', async () => {
    const text = readFileSync(english, 'utf8');
    const names = ['__proto__', 'constructor'].map((n) => path.join(dir, 'keys', n));
    (await import('node:fs')).mkdirSync(path.join(dir, 'keys'));
    for (const n of names) writeFileSync(n, text);
    const args = ['eval', model, '--corpus', ...names];
    const j = JSON.parse((await cli([...args, '--json'])).stdout);
    expect(Object.keys(j.results)).toEqual(names);
    const csv = (await cli([...args, '--format', 'csv'])).stdout.trim().split('\n');
    expect(csv).toHaveLength(3);
    const base = path.join(dir, 'keys', 'base.json');
    expect((await cli([...args, '--write-baseline', base])).code).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(base, 'utf8')).results)).toEqual(names);
    const failing = await cli([...args, '--max-ppl', '1.01']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain(names[0]);
    // A run that fails its own checks writes no baseline (the one there stays as it was).
    const before = readFileSync(base, 'utf8');
    const failed = path.join(dir, 'keys', 'failed.json');
    const refused = await cli([...args, '--max-ppl', '1.01', '--write-baseline', failed]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`exceeds --max-ppl 1\\.01; not writing --write-baseline ${failed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`));
    expect(existsSync(failed)).toBe(false);
    expect((await cli([...args, '--baseline', base, '--max-ppl', '1.01', '--write-baseline', base])).code).toBe(2);
    expect(readFileSync(base, 'utf8')).toBe(before);
    // a baseline without them: refused by name, not read from Object's prototype
    const other = path.join(dir, 'keys', 'other.json');
    writeFileSync(other, JSON.stringify({ version: 1, results: { [english]: { perplexity: 10 } } }));
    const twice = await cli(['eval', model, '--corpus', names[0]!, names[0]!]);
    expect(twice.stderr).toBe(`deeprnn: error: --corpus names "${names[0]}" twice: each corpus is evaluated once, and reported by its name\n`);
    expect(twice.code).toBe(2);
    // one file under two names: refused likewise (before, two identical rows)
    const alias = `${path.join(dir, 'keys')}/./${path.basename(names[0]!)}`;
    const twiceNamed = await cli(['eval', model, '--corpus', names[0]!, alias]);
    expect(twiceNamed.stderr).toBe(`deeprnn: error: --corpus names one file twice, as "${names[0]}" and "${alias}": each corpus is evaluated once, and reported by its name\n`);
    expect(twiceNamed.code).toBe(2);
    // and the registry's name beside the path of its file (the shipped one)
    const shipped = TIMEMACHINE;
    const named = await cli(['eval', model, '--corpus', 'timemachine', shipped]);
    expect(named.stderr).toBe(`deeprnn: error: --corpus names one file twice, as "timemachine" and "${shipped}": each corpus is evaluated once, and reported by its name\n`);
    expect(named.code).toBe(2);
    // empty values (a variable that was not set) are refused: before, --baseline '' turned the
    // regression check off and eval passed
    // (before: "two checkpoints are named, the argument ... and --model , where ...")
    const noModel = await cli(['eval', model, '--model', '', '--corpus', names[0]!]);
    expect(noModel.stderr).toBe("deeprnn: error: --model's path is empty: name a .safetensors file\n");
    expect(noModel.code).toBe(2);
    const noArgument = await cli(['eval', '', '--corpus', names[0]!]);
    expect(noArgument.stderr).toBe("deeprnn: error: the checkpoint's path is empty: name a .safetensors file\n");
    expect(noArgument.code).toBe(2);
    for (const [flag, what] of [['--baseline', 'a file path'], ['--data-dir', 'a directory']]) {
      const empty = await cli(['eval', model, '--corpus', names[0]!, flag!, '']);
      expect(empty.stderr).toBe(`deeprnn: error: ${flag} must be ${what}, got ""\n`);
      expect(empty.code).toBe(2);
    }
    const missing = await cli(['eval', model, '--corpus', 'constructor', '--baseline', other], { cwd: path.join(dir, 'keys') });
    expect(missing.stderr).toBe(`deeprnn: error: --baseline ${other} has no result for corpus "constructor"\n`);
    expect(missing.code).toBe(2);
  });

  it('--write-baseline replaces an earlier baseline only: a checkpoint or a user\'s file there stays (before, replaced without a word)', async () => {
    const keep = path.join(dir, 'keep.safetensors');
    writeFileSync(keep, readFileSync(model));
    const notes = path.join(dir, 'notes.json');
    writeFileSync(notes, '{"mine": 1}\n');
    for (const file of [keep, notes]) {
      const before = readFileSync(file);
      const r = await cli(['eval', model, '--corpus', english, '--write-baseline', file]);
      expect({ code: r.code, err: r.stderr }).toEqual({ code: 2, err: `deeprnn: error: --write-baseline ${file} would replace a file that is not a baseline `
        + '(a JSON object with "version" and "results", as --write-baseline writes): move it away, or choose another path\n' });
      expect(readFileSync(file).equals(before)).toBe(true);
    }
    const base = path.join(dir, 'replaced.json');
    writeFileSync(base, '');  // an empty file holds nothing
    expect((await cli(['eval', model, '--corpus', english, '--write-baseline', base])).code).toBe(0);
    expect((await cli(['eval', model, '--corpus', english, '--write-baseline', base])).code).toBe(0);  // an earlier baseline
    expect(JSON.parse(readFileSync(base, 'utf8')).version).toBe(1);
  });

  it('a baseline that cannot be one (an infinite perplexity, or one below 1), or measured on other tokens, is refused', async () => {
    const base = path.join(dir, 'checked.json');
    expect((await cli(['eval', model, '--corpus', english, '--write-baseline', base])).code).toBe(0);
    const written = JSON.parse(readFileSync(base, 'utf8'));
    // before, 1e999 (Infinity) let every run pass
    for (const ppl of ['1e999', '0.5']) {
      const bad = path.join(dir, `bad-${ppl}.json`);
      writeFileSync(bad, JSON.stringify(written).replace(/"perplexity":[^,}]+/, `"perplexity":${ppl}`));
      const r = await cli(['eval', model, '--corpus', english, '--baseline', bad]);
      expect(r.stderr).toBe(`deeprnn: error: --baseline ${bad}: the perplexity of ${english} must be a finite number of 1 or more, got ${Number(ppl)}\n`);
      expect(r.code).toBe(2);
    }
    // another tokenizer's count of the same text: before, compared as if the same
    const other = path.join(dir, 'other-tokens.json');
    written.results[english].tokens += 1000;
    writeFileSync(other, JSON.stringify(written));
    const r = await cli(['eval', model, '--corpus', english, '--baseline', other]);
    const n = (written.results[english].tokens - 1000).toLocaleString('en-US');
    expect(r.stderr).toBe(`deeprnn: error: --baseline ${other} was measured on ${(written.results[english].tokens).toLocaleString('en-US')} tokens of ${english}, `
      + `and this checkpoint reads ${n} (another tokenizer, or the text changed): their perplexities do not compare; write a new baseline with --write-baseline\n`);
    expect(r.code).toBe(2);
    expect((await cli(['eval', model, '--corpus', english, '--baseline', base])).code).toBe(0);
  });

  it('a baseline records the tokenizer and vocabulary, and one of another is refused (a char text of letters counts as many tokens under d2l)', async () => {
    const base = path.join(dir, 'vocab.json');
    expect((await cli(['eval', model, '--corpus', english, '--write-baseline', base])).code).toBe(0);
    const written = JSON.parse(readFileSync(base, 'utf8'));
    const kind = loadCheckpoint(model).tokenizer.kind, V = loadCheckpoint(model).model.config.vocabSize;
    expect([written.tokenizer, written.vocabSize]).toEqual([kind, V]);
    const otherKind = kind === 'char' ? 'd2l' : 'char';
    for (const [tokenizer, vocabSize] of [[otherKind, V], [kind, V + 1]] as const) {
      const other = path.join(dir, `vocab-${tokenizer}-${vocabSize}.json`);
      writeFileSync(other, JSON.stringify({ ...written, tokenizer, vocabSize }));
      const r = await cli(['eval', model, '--corpus', english, '--baseline', other]);
      expect(r.stderr).toBe(`deeprnn: error: --baseline ${other} was measured with a ${tokenizer} tokenizer of ${vocabSize} tokens, and this checkpoint `
        + `has a ${kind} tokenizer of ${V}: their perplexities do not compare; write a new baseline with --write-baseline\n`);
      expect(r.code).toBe(2);
    }
    // Another vocabulary of the same kind and size (two word models of 11 tokens each): its tokens' sha1 differs.
    // Before, only the kind and the size were compared, and such a baseline passed.
    const tokens = loadCheckpoint(model).tokenizer.vocab.tokens;
    expect(written.vocabSha1).toBe(createHash('sha1').update(JSON.stringify(tokens)).digest('hex'));
    const swapped = path.join(dir, 'vocab-swapped.json');
    writeFileSync(swapped, JSON.stringify({ ...written, vocabSha1: createHash('sha1').update(JSON.stringify([...tokens].reverse())).digest('hex') }));
    const rs = await cli(['eval', model, '--corpus', english, '--baseline', swapped]);
    expect(rs.stderr).toBe(`deeprnn: error: --baseline ${swapped} was measured with another vocabulary of ${V} ${kind} tokens (its tokens differ from `
      + 'this checkpoint\'s): their perplexities do not compare; write a new baseline with --write-baseline\n');
    expect(rs.code).toBe(2);
    writeFileSync(swapped, JSON.stringify({ ...written, vocabSha1: 'abc' }));
    expect((await cli(['eval', model, '--corpus', english, '--baseline', swapped])).stderr)
      .toContain('is not a deeprnn baseline: its "vocabSha1" is "abc", not a sha1 in hex');
    // a baseline written before these were recorded is read as before; a malformed one is refused
    const { tokenizer: _t, vocabSize: _v, vocabSha1: _s, ...older } = written;
    const old = path.join(dir, 'vocab-old.json');
    writeFileSync(old, JSON.stringify(older));
    expect((await cli(['eval', model, '--corpus', english, '--baseline', old])).code).toBe(0);
    writeFileSync(old, JSON.stringify({ ...written, tokenizer: 'bytes' }));
    const junk = await cli(['eval', model, '--corpus', english, '--baseline', old]);
    expect(junk.stderr).toContain(`deeprnn: error: --baseline ${old} is not a deeprnn baseline: its "tokenizer" is "bytes" (expected {"version": 1,`);
    expect(junk.code).toBe(2);
    // each malformed part is named
    for (const [bad, why] of [
      [{ ...written, results: { [english]: { perplexity: null } } }, `the "perplexity" of ${JSON.stringify(english)} is null, not a number`],
      [{ ...written, results: { [english]: { perplexity: '11' } } }, `the "perplexity" of ${JSON.stringify(english)} is "11", not a number`],
      [{ ...written, results: [] }, 'its "results" is [], not an object'],
      [{ ...written, vocabSize: 0 }, 'its "vocabSize" is 0, not a positive integer'],
      [{ results: written.results }, 'its "version" is missing'],
      [[1, 2], 'it is not a JSON object'],
    ] as const) {
      writeFileSync(old, JSON.stringify(bad));
      const r = await cli(['eval', model, '--corpus', english, '--baseline', old]);
      expect(r.stderr).toContain(`--baseline ${old} is not a deeprnn baseline: ${why} (expected`);
      expect(r.code).toBe(2);
    }
    // a newer version is called newer; a byte order mark before the JSON is read past
    writeFileSync(old, JSON.stringify({ ...written, version: 2 }));
    const newer = await cli(['eval', model, '--corpus', english, '--baseline', old]);
    expect(newer.stderr).toBe(`deeprnn: error: --baseline ${old} is of baseline version 2, newer than this deeprnn reads (1); upgrade deeprnn\n`);
    expect(newer.code).toBe(2);
    writeFileSync(old, '\uFEFF' + JSON.stringify(written));
    expect((await cli(['eval', model, '--corpus', english, '--baseline', old])).code).toBe(0);
  });
});
