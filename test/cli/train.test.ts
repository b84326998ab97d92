// deeprnn train and predict as a user runs them (spawns bin/deeprnn).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';
import { cli, QUICK, run } from '../helpers/cli.js';
import { BIN, TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();

describe('deeprnn train', () => {
  it('prints one line per epoch when stdout is not a terminal and writes a checkpoint', async () => {
    const out = path.join(dir, 'plain.safetensors');
    const r = (await cli(['train', ...QUICK, '--out', out]));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^epoch 1\/2 {2}train ppl \d+\.\d{3} {2}val ppl \d+\.\d{3} {2}val bits \d+\.\d{3} {2}val acc \d\.\d{3} {2}lr 2 {2}grad norm \d+\.\d{3} {2}tokens\/s \d+ {2}\d+\.\d\ds$/);
    expect(lines[1]).toMatch(/^epoch 2\/2 /);
    expect(lines[2]).toMatch(/^done: train ppl .* best val ppl .*checkpoint /);
    const ck = loadTrainingCheckpoint(out);
    expect(ck.meta.config).toEqual({ cell: 'gru', vocabSize: 28, hidden: [16, 16], dropout: 0 });
    expect(ck.meta.history).toHaveLength(2);
    expect(ck.meta.training.lr).toBe(2);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('with --json prints only one JSON object on stdout', async () => {
    const out = path.join(dir, 'json.safetensors');
    const r = (await cli(['train', ...QUICK, '--cell', 'lstm', '--layers', '3', '--dropout', '0.2', '--out', out, '--json', '--threads', '1']));
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    expect(Object.keys(j)).toEqual(['trainPpl', 'valPpl', 'bestValPpl', 'bestEpoch', 'epochs', 'seconds', 'tokensPerSec', 'skippedSteps',
      'stopped', 'earlyStop', 'epoch', 'batch', 'checkpoint', 'timings']);
    expect(j.epochs).toBe(2);
    // Where the time went: start-up, the run's parts adding up to the run, all within the process's total.
    const t = j.timings;
    expect(Object.keys(t)).toEqual(['startup', 'data', 'setup', 'training', 'validation', 'checkpoints', 'other', 'run', 'total']);
    for (const k of Object.keys(t)) expect(t[k], k).toBeGreaterThanOrEqual(0);
    for (const k of ['startup', 'data', 'training', 'validation', 'checkpoints']) expect(t[k], k).toBeGreaterThan(0);
    expect(t.data + t.setup + t.training + t.validation + t.checkpoints + t.other).toBeCloseTo(t.run, 3);
    expect(t.startup + t.run).toBeLessThanOrEqual(t.total + 1e-3);
    expect(t.run).toBeGreaterThanOrEqual(j.seconds - 1e-3);
    expect(j.checkpoint).toBe(out);
    expect(j.valPpl).toBeGreaterThan(1);
    expect(j.valPpl).toBeLessThan(28);
    // The run's tokens/s is the one helper's, from the epochs' rates; the best epoch the lowest validation perplexity.
    const history = loadTrainingCheckpoint(out).meta.history;
    expect(j.tokensPerSec).toBeCloseTo(2 / (1 / history[0]!.tokensPerSec + 1 / history[1]!.tokensPerSec), 6);
    expect(j.bestValPpl).toBe(Math.min(...history.map((h) => h.valPpl)));
    expect(r.stderr).toMatch(/epoch 2\/2/);
    expect(loadTrainingCheckpoint(out).meta.config.hidden).toEqual([16, 16, 16]);
  });

  it('gives the same result with the same seed, and the scratch implementation agrees', async () => {
    const run = async (impl: string, seed: string) =>
      JSON.parse((await cli(['train', ...QUICK, '--epochs', '1', '--hidden', '8', '--impl', impl, '--seed', seed, '--out', path.join(dir, `${impl}${seed}.safetensors`), '--json'])).stdout);
    const a = await run('native', '1');
    expect(a.valPpl).toBeGreaterThan(1);
    expect((await run('native', '1')).valPpl).toBe(a.valPpl);
    expect((await run('native', '2')).valPpl).not.toBe(a.valPpl);
    const s = await run('scratch', '1');
    expect(Math.abs(s.valPpl - a.valPpl) / a.valPpl).toBeLessThan(1e-4);
  });

  it('trains on a local text file', async () => {
    const file = path.join(dir, 'book.txt');
    writeFileSync(file, readFileSync(TIMEMACHINE, 'utf8').slice(0, 30_000));
    const out = path.join(dir, 'local.safetensors');
    const r = (await cli(['train', ...QUICK, '--epochs', '1', '--corpus', file, '--out', out, '--json']));
    expect(r.code).toBe(0);
    expect(loadTrainingCheckpoint(out).meta.training.corpus).toEqual([file]);
    expect(loadTrainingCheckpoint(out).meta.tokenizer.kind).toBe('char');
  });

  it('records a corpus given by a relative path as its absolute path, so that a resume from another directory finds it', async () => {
    const sub = path.join(dir, 'rel');
    mkdirSync(path.join(sub, 'texts'), { recursive: true });
    writeFileSync(path.join(sub, 'texts', 'plain.txt'), readFileSync(TIMEMACHINE, 'utf8').slice(0, 30_000));
    const out = path.join(sub, 'rel.safetensors');
    expect((await cli(['train', ...QUICK, '--epochs', '1', '--corpus', 'texts/plain.txt', '--out', out], { cwd: sub })).code).toBe(0);
    expect(loadTrainingCheckpoint(out).meta.training.corpus).toEqual([path.join(sub, 'texts', 'plain.txt')]);
    const r = await cli(['train', '--resume', out, '--epochs', '2'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(loadTrainingCheckpoint(out).meta.state.epoch).toBe(2);
  });

  it('records the tokens per chunk, and a resume continues with them (DEEPRNN_CHUNK_TOKENS set to others is refused)', async () => {
    // Results depend on the chunk size by rounding. Before, a run trained with
    // DEEPRNN_CHUNK_TOKENS=512 and resumed without it ended with other weights, without a word.
    const sub = path.join(dir, 'chunks');
    mkdirSync(sub);
    const args = ['train', ...QUICK, '--batch-size', '128', '--dropout', '0.2'];
    const small = { DEEPRNN_CHUNK_TOKENS: '1024' };
    const full = path.join(sub, 'full.safetensors');
    const half = path.join(sub, 'half.safetensors');
    expect((await cli([...args, '--epochs', '2', '--out', full], { env: small })).code).toBe(0);
    expect((await cli([...args, '--epochs', '1', '--out', half], { env: small })).code).toBe(0);
    expect(loadTrainingCheckpoint(half).meta.training.chunkTokens).toBe(1024);
    const other = await cli(['train', '--resume', half, '--epochs', '2'], { env: { DEEPRNN_CHUNK_TOKENS: '2048' } });
    expect(other.code).toBe(2);
    expect(other.stderr).toBe(`deeprnn: error: DEEPRNN_CHUNK_TOKENS=2048 differs from the 1024 tokens per chunk that ${half} was trained with; results depend `
      + 'on it (by rounding), so a resume continues with the checkpoint\'s: unset DEEPRNN_CHUNK_TOKENS, or set it to 1024\n');
    expect(loadTrainingCheckpoint(half).meta.state.epoch).toBe(1);
    const r = await cli(['train', '--resume', half, '--epochs', '2']);
    expect(r.code, r.stderr).toBe(0);
    const weights = (f: string) => Buffer.from(loadTrainingCheckpoint(f).model.params.buffer);
    expect(weights(half).equals(weights(full))).toBe(true);
    // A checkpoint from before the size was recorded resumes with the variable, as it did then.
    const legacy = path.join(sub, 'legacy.safetensors');
    expect((await cli([...args, '--epochs', '1', '--out', legacy], { env: small })).code).toBe(0);
    const ck = loadTrainingCheckpoint(legacy);
    delete (ck.meta.training as { chunkTokens?: number }).chunkTokens;
    saveCheckpoint(legacy, ck.model, ck.meta, undefined, ck.optimizerState);
    expect(loadTrainingCheckpoint(legacy).meta.training.chunkTokens).toBeUndefined();
    const old = await cli(['train', '--resume', legacy, '--epochs', '2'], { env: small });
    expect(old.code, old.stderr).toBe(0);
    expect(weights(legacy).equals(weights(full))).toBe(true);
    // The default is recorded too (512 tokens for a model this small), and its chunks differ (the check above can fail).
    const plain = path.join(sub, 'plain.safetensors');
    expect((await cli([...args, '--epochs', '2', '--out', plain])).code).toBe(0);
    expect(loadTrainingCheckpoint(plain).meta.training.chunkTokens).toBe(512);
    expect(weights(plain).equals(weights(full))).toBe(false);
    // A scratch run records no chunks (its model has none): a native resume of its checkpoint takes the model's default,
    // or the variable (before, it took 2048, the size of checkpoints from before the size was recorded)
    const scratch = path.join(sub, 'scratch.safetensors');
    expect((await cli(['train', '--resume', half, '--epochs', '2', '--impl', 'scratch', '--out', scratch])).code).toBe(0);
    expect(loadTrainingCheckpoint(scratch).meta.training.chunkTokens).toBeUndefined();
    const back = path.join(sub, 'back.safetensors');
    const resumed2 = await cli(['train', '--resume', scratch, '--epochs', '3', '--impl', 'native', '--out', back]);
    expect(resumed2.code, resumed2.stderr).toBe(0);
    expect(loadTrainingCheckpoint(back).meta.training.chunkTokens).toBe(512);
  });
});

describe('line ends', () => {
  // Corpora are read with CRLF and CR as LF (before, "\r" was a token of its own): a run records
  // it, and one resumed from a checkpoint from before goes on reading them as it did.
  it('a run records that it read line ends as LF; a checkpoint from before resumes reading them as kept', async () => {
    const sub = path.join(dir, 'line-ends');
    mkdirSync(sub);
    const crlf = path.join(sub, 'crlf.txt');
    writeFileSync(crlf, readFileSync(TIMEMACHINE, 'utf8').slice(0, 40_000).replace(/\n/g, '\r\n'));
    const args = ['train', '--corpus', crlf, '--tokenizer', 'char', '--hidden', '8', '--num-train', '200', '--num-val', '100', '--batch-size', '50'];
    const fresh = path.join(sub, 'fresh.safetensors');
    expect((await cli([...args, '--epochs', '1', '--out', fresh])).code).toBe(0);
    const ck = loadTrainingCheckpoint(fresh);
    expect(ck.meta.training.lineEnds).toBe('lf');
    expect(ck.tokenizer.vocab.has('\r')).toBe(false);
    expect(ck.tokenizer.vocab.has('\n')).toBe(true);
    // eval reads a text as the checkpoint's run did: as LF for this one; kept for one from before
    const evalTokens = async (f: string) => JSON.parse((await cli(['eval', f, '--corpus', crlf, '--json'])).stdout).results[crlf].tokens as number;
    const lfTokens = await evalTokens(fresh);
    const before = path.join(sub, 'before.safetensors');
    const copy = loadTrainingCheckpoint(fresh);
    delete (copy.meta.training as { lineEnds?: string }).lineEnds;
    saveCheckpoint(before, copy.model, copy.meta, undefined, copy.optimizerState);
    const crs = (readFileSync(crlf, 'utf8').match(/\r/g) ?? []).length;
    expect(crs).toBeGreaterThan(100);
    expect(await evalTokens(before)).toBe(lfTokens + crs);
    expect((await cli(['info', before])).stdout).toContain(', line ends kept ("\\r" read as it is)');
    expect((await cli(['info', fresh])).stdout).not.toContain('line ends');
    // From before: no record. The resume reads the text as that run did and records it.
    const full = path.join(sub, 'full.safetensors');
    const legacy = path.join(sub, 'legacy.safetensors');
    const book = ['train', ...QUICK, '--hidden', '8', '--num-train', '200', '--num-val', '100', '--batch-size', '50'];
    expect((await cli([...book, '--epochs', '2', '--out', full])).code).toBe(0);
    expect((await cli([...book, '--epochs', '1', '--out', legacy])).code).toBe(0);
    const old = loadTrainingCheckpoint(legacy);
    delete (old.meta.training as { lineEnds?: string }).lineEnds;
    saveCheckpoint(legacy, old.model, old.meta, undefined, old.optimizerState);
    const r = await cli(['train', '--resume', legacy, '--epochs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(loadTrainingCheckpoint(legacy).meta.training.lineEnds).toBe('kept');
    // (The Time Machine has no "\r": either way the same run, bit for bit.)
    const weights = (f: string) => Buffer.from(loadTrainingCheckpoint(f).model.params.buffer);
    expect(weights(legacy).equals(weights(full))).toBe(true);
  });
});

describe('checkpoints at every position', () => {
  it('each one a run writes with --save-every 1s loads in info, predict and eval, the one before validation included', async () => {
    const out = path.join(dir, 'steps', 'm.safetensors');
    const args = ['--hidden', '8', '--num-train', '200', '--num-val', '100', '--batch-size', '50', '--epochs', '1', '--save-every', '1s', '--keep', '100'];
    expect((await cli(['train', ...args, '--out', out])).code).toBe(0);
    const snaps = readdirSync(path.dirname(out)).filter((f) => /^m\.e/.test(f)).sort();
    expect(snaps).toEqual(['m.e0000-b1.safetensors', 'm.e0000-b2.safetensors', 'm.e0000-b3.safetensors', 'm.e0000-b4.safetensors', 'm.e0001.safetensors']);
    // After the epoch's last batch, before validation: the only checkpoint after a kill -9 there.
    const last = path.join(path.dirname(out), 'm.e0000-b4.safetensors');
    const info = JSON.parse((await cli(['info', last, '--json'])).stdout);
    expect(info.position).toEqual({ epoch: 0, batch: 4, steps: 4 });
    expect((await cli(['predict', 'it', '--model', last])).code).toBe(0);
    expect((await cli(['eval', last, '--corpus', 'timemachine'])).code).toBe(0);
  });

  it('a run resumed from the checkpoint of an epoch\'s last batch records that epoch\'s scheduled rate (before: the base --lr)', async () => {
    const out = path.join(dir, 'sched', 'm.safetensors');
    const args = ['--hidden', '8', '--num-train', '96', '--num-val', '32', '--batch-size', '32', '--epochs', '3', '--lr-schedule', 'step',
      '--lr-decay', '0.5', '--lr-decay-after', '1', '--save-every', '1s', '--keep', '100'];
    expect((await cli(['train', ...args, '--out', out])).code).toBe(0);
    const lrs = (f: string) => loadTrainingCheckpoint(f).meta.history.map((m) => m.lr);
    expect(lrs(out)).toEqual([2, 1, 0.5]);
    for (const snap of ['m.e0001-b3.safetensors', 'm.e0002-b3.safetensors']) {
      const resumed = path.join(dir, 'sched', `r-${snap}`);
      const r = await cli(['train', '--resume', path.join(dir, 'sched', snap), '--epochs', '3', '--out', resumed]);
      expect(r.code, r.stderr).toBe(0);
      expect(lrs(resumed)).toEqual([2, 1, 0.5]);
    }
  });
});

describe('deeprnn predict', () => {
  it("prints the prefix and 20 greedily predicted characters", async () => {
    const model = path.join(dir, 'plain.safetensors');
    const r = (await cli(['predict', 'it has', '--model', model]));
    expect(r.code).toBe(0);
    const text = r.stdout.replace(/\n$/, '');
    expect(text.startsWith('it has')).toBe(true);
    expect(text).toHaveLength(26);
    expect(text).toMatch(/^[a-z <unk>]+$/);
    const j = JSON.parse((await cli(['predict', 'It Has', '--model', model, '--json', '--num-preds', '5'])).stdout);
    expect(j).toEqual({ prefix: 'It Has', samples: [{ sample: 1, text: text.slice(0, 11) }] });
  });

  it('streams any number of tokens in constant memory (400,000 sampled tokens in a 12 MB heap)', async () => {
    const model = path.join(dir, 'plain.safetensors');
    const r = await run('bash', ['-c', `"${process.execPath}" --max-old-space-size=12 "${BIN}" predict "it has" --model "${model}" --num-preds 400000 --temperature 1 | wc -c`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Number(r.stdout.trim())).toBeGreaterThanOrEqual(6 + 400_000 + 1);
  });

  it('reads the default checkpoint path that train writes', async () => {
    const cwd = tmpDir();
    expect((await cli(['train', ...QUICK, '--epochs', '1'], { cwd })).code).toBe(0);
    expect(existsSync(path.join(cwd, 'checkpoints', 'deeprnn.safetensors'))).toBe(true);
    const r = (await cli(['predict', 'the time'], { cwd }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^the time.{20}\n$/);
  });
});

describe('output to a closed pipe', () => {
  it('stops writing quietly when the reader goes away', async () => {
    const dir = tmpDir();
    const model = path.join(dir, 'm.safetensors');
    expect((await cli(['train', ...QUICK, '--epochs', '1', '--out', model])).code).toBe(0);
    const r = await run('bash', ['-c', `"${process.execPath}" "${BIN}" predict "it has" --model "${model}" --num-preds 200000 | head -c 10`]);
    expect(r.stdout.startsWith('it has')).toBe(true);
    expect(r.stdout).toHaveLength(10);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
