// One output layer: every command's --json is one JSON object with camelCase
// keys, as NAME.metrics.jsonl is; --format csv where the output is tabular
// (eval, compare, info's tensors, bench) holds the same records; the two
// format options refuse to contradict each other; and plot still reads
// metrics files written with the snake_case keys of earlier versions.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, QUICK } from '../helpers/cli.js';
import { notCamelCase } from '../helpers/keys.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const model = path.join(dir, 'm.safetensors');
const metrics = path.join(dir, 'm.metrics.jsonl');

/** CSV (RFC 4180) as rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') cell += text[++i];
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n') {
      rows.push([...row, cell]);
      row = [];
      cell = '';
    } else cell += ch;
  }
  expect(cell, 'CSV ends with a line break').toBe('');
  return rows;
}

/** A command's stdout as CSV records, by their header. */
async function csv(args: string[]): Promise<{ header: string[]; records: Record<string, string>[] }> {
  const r = await cli([...args, '--format', 'csv']);
  expect(r.code, r.stderr).toBe(0);
  const [header, ...rows] = parseCsv(r.stdout);
  for (const row of rows) expect(row).toHaveLength(header!.length);
  return { header: header!, records: rows.map((row) => Object.fromEntries(row.map((c, i) => [header![i]!, c]))) };
}

async function json(args: string[]): Promise<Record<string, unknown>> {
  const r = await cli([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim().split('\n'), 'one line, one object').toHaveLength(1);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  const r = await cli(['train', ...QUICK, '--out', model]);
  expect(r.code, r.stderr).toBe(0);
});

describe('one naming style', () => {
  it('every JSON object and NAME.metrics.jsonl has camelCase keys', async () => {
    const outDir = path.join(dir, 'cmp');
    const outputs: [string, unknown, string[]][] = [
      ['train', await json(['train', ...QUICK, '--epochs', '1', '--out', path.join(dir, 't.safetensors')]), []],
      ['eval', await json(['eval', model, '--corpus', 'timemachine']), ['$.results']],
      ['info', await json(['info', model]), []],
      ['compare', await json(['compare', '--cells', 'rnn', ...QUICK, '--epochs', '1', '--out-dir', outDir]), []],
      ['plot', await json(['plot', metrics, '-o', path.join(dir, 'p.svg')]), []],
      ['predict', await json(['predict', 'it', '--model', model, '--temperature', '1', '--samples', '2']), []],
      ...readFileSync(metrics, 'utf8').trim().split('\n').map((l): [string, unknown, string[]] => ['metrics.jsonl', JSON.parse(l), []]),
    ];
    for (const [command, value, dataPaths] of outputs) expect(notCamelCase(value, dataPaths), command).toEqual([]);
    // The check sees snake_case where there is some.
    expect(notCamelCase({ a: [{ val_ppl: 1 }], results: { 'my_corpus.txt': { bitsPerToken: 1 } } }, ['$.results'])).toEqual(['$.a[].val_ppl']);
  });
});

describe('--format csv', () => {
  it('eval: one row per corpus, the JSON results in full', async () => {
    const j = (await json(['eval', model, '--corpus', 'timemachine'])) as { results: Record<string, Record<string, number>> };
    const { header, records } = await csv(['eval', model, '--corpus', 'timemachine']);
    expect(header).toEqual(['corpus', 'tokens', 'loss', 'perplexity', 'bitsPerToken', 'accuracy', 'unknownRate']);
    expect(records).toHaveLength(1);
    const row = records[0]!;
    expect(row.corpus).toBe('timemachine');
    for (const key of header.slice(1)) expect(Number(row[key]), key).toBe(j.results.timemachine![key]);
    // The text table is the one it was.
    const text = (await cli(['eval', model, '--corpus', 'timemachine'])).stdout.split('\n');
    expect(text[0]).toMatch(/^corpus {7}tokens {2}perplexity {2}bits\/token {2}accuracy {2}unknown$/);
    expect(text[1]).toMatch(/^timemachine {2}\d+ {2}\d+\.\d{3} +\d\.\d{3} +\d\.\d{4} +0\.0%$/);
  });

  it("info: one row per tensor; the text lists them under the model", async () => {
    const { header, records } = await csv(['info', model]);
    expect(header).toEqual(['name', 'shape', 'count', 'dtype']);
    expect(records[0]).toEqual({ name: 'rnn.weight_ih_l0', shape: '[48,28]', count: '1344', dtype: 'F32' });
    expect(records.map((r) => r.name).at(-1)).toBe('linear.bias');
    const j = await json(['info', model]);
    expect(Object.keys(j)).toEqual(['formatVersion', 'cell', 'layers', 'hidden', 'dropout', 'vocabSize', 'tokenizer', 'parameters', 'tensors',
      'precision', 'storedWeights', 'bf16State', 'training', 'optimizer', 'schedule', 'clipMode', 'position', 'history']);
    expect(records.reduce((a, r) => a + Number(r.count), 0)).toBe(j.parameters);
    const history = j.history as Record<string, number>;
    expect(Object.keys(history)).toEqual(['epochs', 'bestValPpl', 'bestEpoch', 'lastTrainPpl', 'lastValPpl', 'tokensPerSec']);
    const text = (await cli(['info', model])).stdout;
    expect(text).toContain('\n  rnn.weight_ih_l0        [48, 28]        1,344       F32\n');
    expect(text).toMatch(new RegExp(`\\nhistory: 2 epochs; best val ppl ${history.bestValPpl!.toFixed(3)} \\(epoch ${history.bestEpoch}\\); `
      + `last train ppl [\\d.]+, val ppl ${history.lastValPpl!.toFixed(3)}; ${Math.round(history.tokensPerSec!)} tokens/s\\n$`));
  });

  it('compare: one row per cell, every figure of the JSON results', async () => {
    const { header, records } = await csv(['compare', '--cells', 'rnn,mgu', ...QUICK, '--epochs', '1', '--out-dir', path.join(dir, 'cmp-csv')]);
    expect(header).toEqual(['cell', 'finalValPpl', 'bestValPpl', 'bestEpoch', 'seconds', 'tokensPerSec', 'parameters', 'checkpoint']);
    expect(records.map((r) => r.cell)).toEqual(['rnn', 'mgu']);
    for (const r of records) {
      expect(Number(r.finalValPpl)).toBeGreaterThan(1);
      expect(r.bestEpoch).toBe('1');
      expect(r.checkpoint).toBe(path.join(dir, 'cmp-csv', `${r.cell}.safetensors`));
    }
  });

  it('bench: one row per configuration and thread count, its notes on stderr', async () => {
    const r = await cli(['bench', '--configs', 'D', '--threads', '1', '--batches', '1', '--warmup', '0', '--repeat', '1', '--no-torch', '--format', 'csv']);
    expect(r.code, r.stderr).toBe(0);
    const [header, ...rows] = parseCsv(r.stdout);
    expect(header).toEqual(['config', 'threads', 'simd', 'teams', 'gemmTile', 'tokensPerSec', 'gflops', 'peakPercent', 'seconds', 'peakRssMb',
      'torchTokensPerSec', 'torchPeakRssMb', 'ratio', 'torchError']);
    expect(rows).toHaveLength(1);
    const row = Object.fromEntries(rows[0]!.map((c, i) => [header![i]!, c]));
    expect(row).toMatchObject({ config: 'D', threads: '1', teams: '', gemmTile: '', torchTokensPerSec: '', ratio: '', torchError: '' });
    expect(Number(row.tokensPerSec)).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/^machine: .*\nFMA peak GFLOP\/s: 1 thread /);
  });

  it('is refused where the output is not tabular, and --json contradicts any other --format', async () => {
    const bad = async (args: string[], msg: string) => {
      const r = await cli(args);
      expect(r.stderr).toBe(`deeprnn: error: ${msg}\n`);
      expect(r.stdout).toBe('');
      expect(r.code).toBe(2);
    };
    await bad(['train', '--format', 'csv'], '--format must be one of text|json, got "csv"');
    await bad(['predict', 'it', '--model', model, '--format', 'csv'], '--format must be one of text|json, got "csv"');
    await bad(['info', model, '--format', 'xml'], '--format must be one of text|json|csv, got "xml"');
    await bad(['eval', model, '--corpus', 'timemachine', '--json', '--format', 'csv'], '--json is --format json: give --json or --format csv, not both');
    expect(await json(['info', model, '--format', 'json'])).toEqual(await json(['info', model]));
  });
});

describe('plot reads metrics files of every version', () => {
  it('plots a metrics file written with the earlier snake_case keys as one written now', async () => {
    const lines = readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace('tokens_per_sec', 'tokens_per_s');
    const old = path.join(dir, 'old.metrics.jsonl');
    writeFileSync(old, lines.map((l) => JSON.stringify(Object.fromEntries(Object.entries(l).map(([k, v]) => [snake(k), v])))).join('\n') + '\n');
    expect(readFileSync(old, 'utf8')).toContain('"train_ppl":');
    const svg = (file: string) => readFileSync(file, 'utf8').replace(/data-label="[^"]+"/g, '').replace(/<text[^>]*>[^<]*<\/text>/g, '');
    const now = await cli(['plot', metrics, '-o', path.join(dir, 'now.svg')]);
    const then = await cli(['plot', old, '-o', path.join(dir, 'then.svg')]);
    expect(then.code, then.stderr).toBe(0);
    expect(then.stdout).toBe(`wrote ${path.join(dir, 'then.svg')} (old: 2 epochs)\n`);
    expect(now.code).toBe(0);
    expect(svg(path.join(dir, 'then.svg'))).toBe(svg(path.join(dir, 'now.svg')));
    expect(svg(path.join(dir, 'then.svg'))).toMatch(/points="\d/);
  });
});

describe('info tells how a run optimizes', () => {
  it('the optimizer with its hyperparameters, steps and rate now, the schedule, the clipping, the precisions: in text and --json', async () => {
    const file = path.join(dir, 'adam.safetensors');
    const r = await cli(['train', ...QUICK, '--optimizer', 'adam', '--lr-schedule', 'cosine', '--warmup', '3', '--precision', 'bf16',
      '--save-dtype', 'bf16', '--clip-mode', 'value', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse((await cli(['info', file, '--json'])).stdout);
    expect(j.optimizer).toMatchObject({ kind: 'adam', betas: [0.9, 0.999], eps: 1e-8, steps: j.position.steps });
    expect(j.schedule).toMatchObject({ kind: 'cosine', lr: 0.001, warmup: 3, minLr: 0 });
    expect(j.clipMode).toBe('value');
    const line = (await cli(['info', file])).stdout.split('\n').find((l) => l.startsWith('optimization: '));
    expect(line).toBe(`optimization: adam (betas 0.9,0.999, eps 1e-8, weightDecay 0), ${j.position.steps} steps, rate now ${Number(j.optimizer.lr.toPrecision(3))}; `
      + 'schedule cosine (warmup 3, min-lr 0); clip value 1; products in bf16, weights stored as bf16');
    // the book's run: plain SGD, constant
    const plain = (await cli(['info', model])).stdout.split('\n').find((l) => l.startsWith('optimization: '));
    expect(plain).toMatch(/^optimization: sgd \(momentum 0, dampening 0, nesterov false, weightDecay 0\), \d+ steps, rate now 2; schedule constant; clip norm 1; products in fp32, weights stored as fp32$/);
  });
});
