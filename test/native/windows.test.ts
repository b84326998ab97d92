// A batch handed to the native step as windows of a token stream (Batch.windows:
// each chunk gathers its own tokens on its threads) must give bitwise what the
// same batch gives as time-major inputs and targets: training and evaluation,
// in chunks and split by units, with dropout and carried state, for 16- and
// 32-bit streams and any thread count. Ids outside the vocabulary are refused
// before anything is computed or written.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDataModule, type Batch } from '../../src/data/datamodule.js';
import { native } from '../../src/native.js';
import { CELLS, type ModelConfig } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const nat = native();
const allThreads = nat.info().threads;
afterAll(() => {
  nat.setThreads(allThreads);
  nat.setTeamSize(0);
});

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** The same batch without its windows: its inputs and targets, copied. */
function plain(b: Batch): Batch {
  return { T: b.T, N: b.N, inputs: Int32Array.from(b.inputs), targets: Int32Array.from(b.targets) };
}

function stream(n: number, V: number, seed: number, wide: boolean): Uint16Array | Int32Array {
  const r = new Rng(seed);
  const a = wide ? new Int32Array(n) : new Uint16Array(n);
  for (let i = 0; i < n; i++) a[i] = r.below(V);
  return a;
}

/** Losses, gradients, carried state and evaluation of a data module's first 3 batches (reused objects, read as yielded), each fed as `feed` makes it. */
function run(cfg: ModelConfig, batches: () => Iterable<Batch>, feed: (b: Batch) => Batch, carry: boolean, chunkTokens: number) {
  const m = new RNNLM(cfg, new Rng(3));
  m.chunkTokens = chunkTokens;
  const rng = new Rng(9);
  const out: Buffer[] = [];
  let n = 0;
  for (const b of batches()) {
    if (n++ === 3) break;
    m.zeroGrad();
    const loss = m.forward(feed(b), { train: true, rng, carry });
    out.push(Buffer.from(Float64Array.of(loss).buffer), bytes(m.grads));
    if (carry) for (const s of m.carriedState()!) out.push(bytes(s));
    const e = m.evaluate(feed(b));
    out.push(Buffer.from(Float64Array.of(e.lossSum, e.correct).buffer));
  }
  return Buffer.concat(out);
}

describe.each(CELLS)('%s: batches as windows of the token stream', (cell) => {
  it('give bitwise what their inputs and targets give, random and sequential, 16 and 32 bits, on 1 to 5 threads', async () => {
    const cfg: ModelConfig = { cell, vocabSize: 13, hidden: [20, 9], dropout: 0.25 };
    for (const batching of ['random', 'sequential'] as const) {
      for (const wide of [false, true]) {
        const tokens = stream(1200, 13, wide ? 5 : 6, wide);
        const dm = makeDataModule(tokens, { numSteps: 7, batchSize: 23, numTrain: 600, numVal: 300, batching });
        const batches = () => dm.trainBatches(new Rng(4));
        const carry = batching === 'sequential';
        // the windows form is what the data modules give; plain() drops it
        expect(batches().next().value!.windows?.starts.length).toBe(23);
        const want = run(cfg, batches, plain, carry, 5 * 7);
        for (const threads of [1, 2, 3, 5]) {
          nat.setThreads(threads);
          for (const team of [0, threads]) {
            nat.setTeamSize(team);
            const got = run(cfg, batches, (b) => b, carry, 5 * 7);
            expect(got.equals(want), `${batching} ${wide ? 'int32' : 'uint16'} threads ${threads} team ${team}`).toBe(true);
            // A turn of the event loop between cases: oversubscribed (5 threads on 2 cores) on a loaded machine the
            // whole test ran for over a minute without one, and vitest's messages to its worker timed out meanwhile.
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        nat.setThreads(allThreads);
        nat.setTeamSize(0);
      }
    }
  });
});

describe('windows of the token stream', () => {
  const cfg: ModelConfig = { cell: 'gru', vocabSize: 6, hidden: [4, 4], dropout: 0 };

  it('gather inputs and targets only when read, and again after the windows move', () => {
    const tokens = Uint16Array.from({ length: 40 }, (_, i) => i % 6);
    const dm = makeDataModule(tokens, { numSteps: 3, batchSize: 4, numTrain: 20, numVal: 8, batching: 'random' });
    const seen: number[][] = [];
    for (const b of dm.trainBatches(new Rng(1))) {
      const starts = [...b.windows!.starts];
      for (let n = 0; n < b.N; n++) {
        for (let t = 0; t < b.T; t++) {
          expect(b.inputs[t * b.N + n]).toBe(tokens[starts[n]! + t]);
          expect(b.targets[t * b.N + n]).toBe(tokens[starts[n]! + t + 1]);
        }
      }
      seen.push(starts);
    }
    expect(seen.length).toBe(5);
    expect(new Set(seen.flat()).size).toBe(20);
  });

  it('give way to inputs and targets once those are read: a reader that changes them is stepped on what it changed', () => {
    const tokens = Uint16Array.from({ length: 200 }, (_, i) => (i * 5) % 6);
    const dm = makeDataModule(tokens, { numSteps: 4, batchSize: 8, numTrain: 100, numVal: 20 });
    const m = new RNNLM(cfg, new Rng(1));
    const it = dm.trainBatches(new Rng(2));
    const b = it.next().value!;
    expect(b.windows).toBeDefined();
    const asGiven = m.evaluate(b).lossSum;
    b.inputs.fill(0);  // a reader masks every input
    b.targets.fill(1);
    expect(b.windows).toBeUndefined();
    const masked = m.evaluate(b).lossSum;
    expect(masked).not.toBe(asGiven);
    expect(masked).toBe(m.evaluate({ T: 4, N: 8, inputs: new Int32Array(32), targets: new Int32Array(32).fill(1) }).lossSum);
    // the next batch of the module has its windows again
    expect(it.next().value!.windows).toBeDefined();
  });

  it('refuse an id outside the vocabulary, naming it, with the gradients and carried state untouched', () => {
    const tokens = Int32Array.from({ length: 60 }, (_, i) => i % 6);
    tokens[37] = 6;  // step 4 of the window at 33
    const m = new RNNLM(cfg, new Rng(1));
    const batch = { T: 5, N: 4, get inputs(): Int32Array { throw new Error('not read'); }, get targets(): Int32Array { throw new Error('not read'); },
      windows: { tokens, starts: Int32Array.from([0, 10, 33, 50]) } };
    m.forward({ T: 5, N: 4, inputs: new Int32Array(20).fill(1), targets: new Int32Array(20).fill(2) }, { train: true, carry: true });
    const state = m.carriedState()!.map((s) => Float32Array.from(s));
    expect(state.some((s) => s.some((v) => v !== 0))).toBe(true);
    m.grads.fill(0.5);
    for (const threads of [1, 2]) {
      nat.setThreads(threads);
      expect(() => m.forward(batch, { train: true, carry: true })).toThrow(
        'lmTrainChunks: option "tokens"[37] = 6 (step 4 of the window at 33) is outside [0, 6)');
      expect(() => m.evaluate(batch, { carry: true })).toThrow('lmEvalChunks: option "tokens"[37] = 6 (step 4 of the window at 33) is outside [0, 6)');
      // a data-parallel share of the batch (windows 2 and 3 on rank 1 of 2) names the same place
      const shard = { rank: 1, size: 2 };
      expect(() => m.evaluate(batch, { shard })).toThrow('lmEvalChunks: option "tokens"[37] = 6 (step 4 of the window at 33) is outside [0, 6)');
      expect(m.grads.every((g) => g === 0.5)).toBe(true);
      m.carriedState()!.forEach((s, i) => expect(bytes(s).equals(bytes(state[i]!))).toBe(true));
    }
    nat.setThreads(allThreads);
  });

  it('are refused beside inputs and targets, and outside the stream', () => {
    const m = new RNNLM(cfg, new Rng(1));
    const model = { cell: 'gru' as const, L: 2, hidden: Int32Array.from([4, 4]), V: 6, params: m.params,
      offsets: (m as unknown as { offsets: Int32Array }).offsets };
    const tokens = new Uint16Array(12);
    const both = { ...model, inputs: new Int32Array(6), targets: new Int32Array(6), tokens, starts: Int32Array.from([0, 4]), T: 3, N: 2, rows: 2, state: null };
    expect(() => nat.lmEvalChunks(both)).toThrow('lmEvalChunks: give either inputs and targets or tokens and starts, not both');
    expect(() => nat.lmEvalChunks({ ...both, inputs: undefined, targets: undefined, starts: Int32Array.from([0, 9]) })).toThrow(
      'lmEvalChunks: option "starts"[1] = 9: a window of 4 tokens must lie inside the 12 tokens');
    expect(() => nat.lmEvalChunks({ ...both, inputs: undefined, targets: undefined, starts: Int32Array.from([0]) })).toThrow(
      'lmEvalChunks: option "starts" must have length 2, got 1');
    expect(() => nat.lmTrainChunks({ ...both, grads: m.grads, masks: null, scale: 1, inputs: undefined, targets: undefined, tokens: undefined })).toThrow(
      'lmTrainChunks: option "tokens" must be a Uint16Array or an Int32Array');
  });
});

describe('windows with fewer threads than asked', () => {
  it.runIf(nat.info().openmp)('give what inputs and targets give when OpenMP runs fewer (OMP_THREAD_LIMIT=1), and still refuse a bad id', () => {
    // A fresh process: the limit is read when OpenMP starts. Asks for 4 threads in teams of 4.
    const code = `import('./dist/index.js').then(({ RNNLM, Rng, native }) => {
      native().setThreads(4); native().setTeamSize(4);
      const tokens = Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 11);
      const starts = Int32Array.from({ length: 9 }, (_, n) => 3 + 17 * n);
      const T = 6, N = 9, inputs = new Int32Array(T * N), targets = new Int32Array(T * N);
      native().fillBatch({ tokens, starts, T, inputs, targets });
      const step = (batch) => { const m = new RNNLM({ cell: 'lstm', vocabSize: 11, hidden: [32, 16], dropout: 0 }, new Rng(1));
        const loss = m.forward(batch, { train: true }); return [loss, Buffer.from(m.grads.buffer).toString('base64')]; };
      const out = { windows: step({ T, N, inputs, targets, windows: { tokens, starts } }), plain: step({ T, N, inputs, targets }) };
      tokens[3 + 17 * 4 + 2] = 11;
      const m = new RNNLM({ cell: 'lstm', vocabSize: 11, hidden: [32, 16], dropout: 0 }, new Rng(1));
      try { m.forward({ T, N, inputs, targets, windows: { tokens, starts } }, { train: true }); } catch (e) { out.error = e.message; }
      out.untouched = m.grads.every((g) => g === 0);
      out.threads = native().info().threads;
      console.log(JSON.stringify(out)); })`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', code], { cwd: ROOT, env: { ...process.env, OMP_THREAD_LIMIT: '1' }, encoding: 'utf8' }));
    expect(out.windows).toEqual(out.plain);
    expect(out.error).toBe('lmTrainChunks: option "tokens"[73] = 11 (step 2 of the window at 71) is outside [0, 11)');
    expect(out.untouched).toBe(true);
  });
});
