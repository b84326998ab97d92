// predict, eval and info as users run them.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, QUICK, run } from '../helpers/cli.js';
import { BIN } from '../helpers/paths.js';
import { HAS_SHAKESPEARE, NEEDS_SHAKESPEARE, noteShakespeare, SHAKESPEARE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { saveModel } from '../../src/io/checkpoint.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';

noteShakespeare(import.meta.url);
const dir = tmpDir();
const model = path.join(dir, 'ts.safetensors');

beforeAll(async () => {
  if (!HAS_SHAKESPEARE) return;
  const r = (await cli(['train', '--corpus', 'tinyshakespeare', '--cell', 'lstm', '--hidden', '32', '--epochs', '1', '--batch-size', '32',
    '--num-steps', '32', '--batching', 'sequential', '--val-frac', '0.1', '--out', model]));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}, 120_000);

describe.skipIf(!HAS_SHAKESPEARE)(`predict ${NEEDS_SHAKESPEARE}`, () => {
  it('samples with a seed, repeatably, and streams one line per sample', async () => {
    const args = ['predict', 'ROMEO:', '--model', model, '--temperature', '1', '--num-preds', '40', '--samples', '3', '--seed', '7'];
    const a = (await cli(args));
    expect(a.code).toBe(0);
    expect(a.stdout).toBe((await cli(args)).stdout);
    const samples = a.stdout.split(/(?=ROMEO:)/);
    expect(samples).toHaveLength(3);
    expect(new Set(samples).size).toBe(3);
    expect((await cli([...args.slice(0, -1), '8'])).stdout).not.toBe(a.stdout);
  });

  it('prints one JSON object, every sample in it', async () => {
    const r = (await cli(['predict', 'KING', '--model', model, '--temperature', '0.7', '--top-k', '5', '--samples', '2', '--json']));
    expect(r.stdout.endsWith('}\n')).toBe(true);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.stdout) as { prefix: string; samples: { sample: number; text: string }[] };
    expect(j.prefix).toBe('KING');
    expect(j.samples.map((s) => s.sample)).toEqual([1, 2]);
    for (const s of j.samples) {
      expect(Object.keys(s)).toEqual(['sample', 'text']);
      expect(s.text.startsWith('KING')).toBe(true);
      expect([...s.text].length).toBe(24);
    }
  });

  it('greedy equals temperature 0 equals the default', async () => {
    const g = (await cli(['predict', 'the ', '--model', model])).stdout;
    expect((await cli(['predict', 'the ', '--model', model, '--temperature', '0'])).stdout).toBe(g);
  });

  it('starts an empty prefix from the first-step distribution', async () => {
    const r = (await cli(['predict', '', '--model', model, '--num-preds', '30', '--temperature', '1', '--json']));
    expect(r.code).toBe(0);
    expect([...JSON.parse(r.stdout).samples[0].text]).toHaveLength(30);
  });

  it('warns once about tokens outside the vocabulary, or refuses them with --strict', async () => {
    const r = (await cli(['predict', 'ROMEO ☃ ✓', '--model', model]));
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe('deeprnn: warning: the prefix has tokens outside the model\'s vocabulary, read as <unk>: "☃", "✓"');
    const s = (await cli(['predict', 'ROMEO ☃', '--model', model, '--strict']));
    expect(s.code).toBe(2);
    expect(s.stderr.trim()).toBe('deeprnn: error: the prefix has tokens outside the model\'s vocabulary: "☃"');
  });

  it('validates the sampling options', async () => {
    const bad = async (args: string[], msg: string) => {
      const r = (await cli(['predict', 'A', '--model', model, ...args]));
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`deeprnn: error: ${msg}`);
    };
    await bad(['--top-k', '3'], '--top-k needs sampling: give --temperature above 0');
    await bad(['--temperature', '-1'], '--temperature must be a number >= 0, got "-1"');
    await bad(['--temperature', '1', '--top-p', '0'], '--top-p must be a number in (0, 1], got "0"');
    await bad(['--samples', '0'], '--samples must be an integer from 1 to 100000, got "0"');
    // Greedy decoding draws nothing: several samples would be one, a seed would change nothing.
    await bad(['--samples', '3'], '--samples 3 needs sampling: greedy decoding (--temperature 0) gives the same continuation every time; give --temperature above 0');
    await bad(['--seed', '5'], '--seed needs sampling: greedy decoding (--temperature 0) draws nothing; give --temperature above 0');
    await bad(['--seed', '5', '--temperature', '0'], '--seed needs sampling: greedy decoding (--temperature 0) draws nothing; give --temperature above 0');
  });
});

describe.skipIf(!HAS_SHAKESPEARE)(`eval ${NEEDS_SHAKESPEARE}`, () => {
  it('reports perplexity, bits per token and accuracy per corpus, with the checkpoint\'s tokenizer', async () => {
    const other = path.join(dir, 'other.txt');
    writeFileSync(other, readFileSync(SHAKESPEARE, 'utf8').slice(0, 20000));
    const r = (await cli(['eval', model, '--corpus', 'tinyshakespeare', other, '--json']));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.tokenizer).toBe('char');
    const ts = j.results.tinyshakespeare;
    expect(ts.tokens).toBeGreaterThan(1_100_000);
    expect(ts.bitsPerToken).toBeCloseTo(Math.log2(ts.perplexity), 10);
    expect(ts.perplexity).toBeLessThan(30);
    expect(ts.accuracy).toBeGreaterThan(0.1);
    expect(j.results[other].tokens).toBe(19999);
    const table = (await cli(['eval', model, '--corpus', other])).stdout.split('\n');
    expect(table[0]).toMatch(/^corpus\s+tokens\s+perplexity\s+bits\/token\s+accuracy\s+unknown$/);
  });

  it('--max-ppl, --write-baseline and --baseline give a verdict for CI', async () => {
    const base = path.join(dir, 'base.json');
    expect((await cli(['eval', model, '--corpus', 'tinyshakespeare', '--write-baseline', base, '--max-ppl', '1000'])).code).toBe(0);
    expect(JSON.parse(readFileSync(base, 'utf8')).results.tinyshakespeare.perplexity).toBeGreaterThan(1);
    expect((await cli(['eval', model, '--corpus', 'tinyshakespeare', '--baseline', base])).code).toBe(0);
    const strict = JSON.parse(readFileSync(base, 'utf8'));
    strict.results.tinyshakespeare.perplexity /= 1.5;
    const tight = path.join(dir, 'tight.json');
    writeFileSync(tight, JSON.stringify(strict));
    const r = (await cli(['eval', model, '--corpus', 'tinyshakespeare', '--baseline', tight]));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^deeprnn: regression: perplexity [\d.]+ on tinyshakespeare regressed from the baseline's [\d.]+ \(tolerance 0.02\)$/);
    const m = (await cli(['eval', model, '--corpus', 'tinyshakespeare', '--max-ppl', '1.5']));
    expect(m.code).toBe(1);
    expect(m.stderr.trim()).toMatch(/^deeprnn: regression: perplexity [\d.]+ on tinyshakespeare exceeds --max-ppl 1.5$/);
    const missing = (await cli(['eval', model, '--corpus', 'timemachine', '--baseline', base]));
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(`deeprnn: error: --baseline ${base} has no result for corpus "timemachine"`);
    writeFileSync(path.join(dir, 'junk.json'), '{"version": 1}');
    const junk = (await cli(['eval', model, '--corpus', 'timemachine', '--baseline', path.join(dir, 'junk.json')]));
    expect(junk.code).toBe(2);
    expect(junk.stderr).toContain('is not a deeprnn baseline');
  });
});

describe.skipIf(!HAS_SHAKESPEARE)(`info ${NEEDS_SHAKESPEARE}`, () => {
  it('describes the model, its tensors, tokenizer and history', async () => {
    const j = JSON.parse((await cli(['info', model, '--json'])).stdout);
    expect(j.cell).toBe('lstm');
    expect(j.layers).toBe(2);
    expect(j.tokenizer).toBe('char');
    expect(j.vocabSize).toBe(66);
    expect(j.tensors[0]).toEqual({ name: 'rnn.weight_ih_l0', shape: [128, 66], count: 8448, dtype: 'F32' });
    expect([j.precision, j.storedWeights, j.bf16State]).toEqual(['fp32', 'fp32', []]);
    expect(j.parameters).toBe(j.tensors.reduce((a: number, t: { count: number }) => a + t.count, 0));
    expect(j.history.epochs).toBe(1);
    expect(j.formatVersion).toBe(1);
    const text = (await cli(['info', model])).stdout;
    expect(text).toMatch(/^checkpoint .* \(format version 1; this deeprnn reads up to 1\)\nmodel: lstm, 2 layers, hidden 32, 32, dropout 0\ntokenizer: char, vocabulary of 66\nparameters: [\d,]+\n {2}rnn.weight_ih_l0/);
  });
});

describe('predict reads the prefix as the model\'s training text was read', () => {
  it('"\\r\\n" as "\\n" for a model whose run read line ends so (before: "\\r" outside the vocabulary, read as <unk>)', async () => {
    const text = path.join(dir, 'crlf.txt');
    writeFileSync(text, 'the king said\r\nthe queen said\r\n'.repeat(40));
    const out = path.join(dir, 'crlf.safetensors');
    const t = await cli(['train', '--corpus', text, '--tokenizer', 'char', '--hidden', '8', '--epochs', '1', '--batch-size', '8',
      '--num-steps', '8', '--batching', 'sequential', '--val-frac', '0.2', '--out', out]);
    expect(t.code, t.stderr).toBe(0);
    const lf = await cli(['predict', '--model', out, '--num-preds', '8', '--strict', 'said\nthe']);
    const crlf = await cli(['predict', '--model', out, '--num-preds', '8', '--strict', 'said\r\nthe']);
    const cr = await cli(['predict', '--model', out, '--num-preds', '8', '--strict', 'said\rthe']);
    expect(lf.code, lf.stderr).toBe(0);
    expect(crlf).toEqual(lf);
    expect(cr).toEqual(lf);
    expect(lf.stdout.startsWith('said\nthe')).toBe(true);
  }, 60_000);
});

describe('predict stopped by outputs that overflow', () => {
  it('ends the text so far with its line end, and the error has a line of its own (before, glued to the text)', async () => {
    // rnn-relu, every weight 0.5: its state grows without bound, finite for the first tokens
    const tok = Tokenizer.fit('char', 'abc');
    const m = new RNNLM({ cell: 'rnn-relu', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(1));
    m.params.fill(0.5);
    const file = path.join(dir, 'overflow.safetensors');
    saveModel(file, m, tok);
    const r = await cli(['predict', '--model', file, '--num-preds', '200', '--threads', '1', 'a']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^a[^\n]+\n$/);
    expect(r.stderr).toMatch(/^deeprnn: error: the model's outputs are not finite after \d+ generated tokens/);
    // --json: stdout stays empty (its one object is never made)
    const j = await cli(['predict', '--model', file, '--num-preds', '200', '--threads', '1', '--json', 'a']);
    expect(j.code).toBe(1);
    expect(j.stdout).toBe('');
    expect(j.stderr).toMatch(/^deeprnn: error: the model's outputs are not finite after \d+ generated tokens/);
  });
});

describe('predict --json and a reader that goes away', () => {
  it('stops quietly (exit 0) soon after, as without --json, not after the last token', async () => {
    // (before, --json wrote only at the end and found the reader gone then: 10 million tokens times
    // 1000 samples ran for hours; here a kill at 60 s would say so)
    const out = path.join(dir, 'gone.safetensors');
    const t = await cli(['train', ...QUICK, '--out', out]);
    expect(t.code, t.stderr).toBe(0);
    const r = await run('bash', ['-c', `timeout -s KILL 60 "${process.execPath}" "${BIN}" predict --model '${out}' --json --threads 1 `
      + `--temperature 1 --num-preds 10000000 --samples 1000 it | true; echo "status \${PIPESTATUS[0]}"`]);
    expect(r.stdout.trim()).toBe('status 0');
    expect(r.stderr).toBe('');
    // to a file or /dev/null (no pipe, no reader to lose) it runs to the end
    const file = path.join(dir, 'gone.json');
    const f = await run('bash', ['-c', `"${process.execPath}" "${BIN}" predict --model '${out}' --json --threads 1 --temperature 1 `
      + `--num-preds 20000 --samples 30 it > '${file}' && "${process.execPath}" "${BIN}" predict --model '${out}' --json --threads 1 `
      + `--temperature 1 --num-preds 20000 --samples 30 it > /dev/null`]);
    expect(f.code, f.stderr).toBe(0);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { samples: { text: string }[] };
    expect(json.samples).toHaveLength(30);
  }, 90_000);
});
