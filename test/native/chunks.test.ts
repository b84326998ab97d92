// Training batches wider than one chunk run through the whole network chunk by
// chunk in native code (RNNLM.trainInChunks / lmTrainChunks). Their loss and
// gradients must be the whole batch's: against the float64 oracle, against the
// unchunked native path, with dropout masks and with carried state, and
// bitwise the same with 1 thread and with all cores.
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { CELLS, type ModelConfig } from '../../src/nn/config.js';
import { CHUNK_TOKENS, RNNLM, SMALL_CHUNK_TOKENS } from '../../src/nn/rnnlm.js';
import { activationFloatsPerToken } from '../../src/nn/memory.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { Rng } from '../../src/rng.js';
import { randomBatch } from '../helpers/batch.js';
import { expectClose } from '../helpers/compare.js';

const nat = native();
const allThreads = nat.info().threads;
afterAll(() => nat.setThreads(allThreads));

/** A native model whose training batches run in chunks of 8 windows (N=37: 4 chunks of 8 and one of 5). */
function chunked(cfg: ModelConfig, seed: number, T: number): RNNLM {
  const m = new RNNLM(cfg, new Rng(seed));
  m.chunkTokens = 8 * T;  // N=37: 5 chunks, 8 windows each but the last (5)
  return m;
}

/** What a chunked model is checked against: the float64 oracle and the whole-batch native path, both with m's parameters. */
function references(cfg: ModelConfig, seed: number, m: RNNLM): { ref: RNNLMScratch; whole: RNNLM } {
  const ref = new RNNLMScratch(cfg, new Rng(seed));
  ref.params.set(m.params);
  const whole = new RNNLM(cfg, new Rng(seed));
  whole.chunkTokens = Infinity;
  whole.params.set(m.params);
  return { ref, whole };
}

function trainStep(m: RNNLM | RNNLMScratch, batch: ReturnType<typeof randomBatch>, rng?: Rng, carry = false): number {
  m.zeroGrad();
  const loss = m.forward(batch, { train: true, rng, carry });
  m.backward();
  return loss;
}

describe.each(CELLS)('%s in chunks', (cell) => {
  it('matches the float64 oracle for 1 to 3 layers with ragged sizes', () => {
    const r = new Rng(50);
    for (const layers of [1, 2, 3]) {
      const hidden = Array.from({ length: layers }, () => 3 + r.below(18));
      const cfg: ModelConfig = { cell, vocabSize: 11, hidden, dropout: 0 };
      const T = 3 + r.below(5);
      const m = chunked(cfg, layers, T);
      const { ref } = references(cfg, layers, m);
      const batch = randomBatch(T, 37, 11, 9 + layers);
      const label = `${cell} chunked H=[${hidden}] T=${T} N=37`;
      expectClose(`${label} loss`, [trainStep(m, batch)], [trainStep(ref, batch)], 1e-5);
      expectClose(`${label} grads`, m.grads, ref.grads, 1e-4);
    }
  });

  it('equals the unchunked native step within rounding, and draws the same dropout masks', () => {
    const cfg: ModelConfig = { cell, vocabSize: 9, hidden: [12, 7, 5], dropout: 0.3 };
    const T = 5;
    const a = chunked(cfg, 4, T);
    const { ref, whole: b } = references(cfg, 4, a);
    const batch = randomBatch(T, 29, 9, 3);
    const la = trainStep(a, batch, new Rng(8));
    expectClose(`${cell} chunked vs whole loss`, [la], [trainStep(b, batch, new Rng(8))], 1e-6);
    expectClose(`${cell} chunked vs whole grads`, a.grads, b.grads, 1e-5);
    expectClose(`${cell} chunked vs oracle, dropout`, [la], [trainStep(ref, batch, new Rng(8))], 1e-5);
    expectClose(`${cell} chunked vs oracle grads, dropout`, a.grads, ref.grads, 1e-4);
    // A different mask draw changes the loss: the masks are really applied.
    expect(Math.abs(la - trainStep(a, batch, new Rng(9)))).toBeGreaterThan(1e-5);
  });

  it('carries the state of every window across consecutive batches', () => {
    const cfg: ModelConfig = { cell, vocabSize: 7, hidden: [9, 6], dropout: 0 };
    const T = 4;
    const m = chunked(cfg, 6, T);
    const { ref } = references(cfg, 6, m);
    for (let k = 0; k < 3; k++) {
      const batch = randomBatch(T, 21, 7, 40 + k);
      expectClose(`${cell} carried batch ${k} loss`, [trainStep(m, batch, undefined, true)], [trainStep(ref, batch, undefined, true)], 1e-5);
      expectClose(`${cell} carried batch ${k} grads`, m.grads, ref.grads, 1e-4);
    }
    expectClose(`${cell} carried state`, m.carriedState()!.flatMap((a) => [...a]), ref.carriedState()!.flatMap((a) => [...a]), 1e-4);
  });
});

describe.each(CELLS)('%s evaluation in chunks', (cell) => {
  it('matches the oracle and the whole-batch evaluation, with and without carried state', () => {
    const cfg: ModelConfig = { cell, vocabSize: 10, hidden: [11, 7], dropout: 0 };
    const T = 4;
    const m = chunked(cfg, 12, T);
    const { ref, whole } = references(cfg, 12, m);
    const batch = randomBatch(T, 37, 10, 21);
    const a = m.evaluate(batch);
    const b = whole.evaluate(batch);
    const r = ref.evaluate(batch);
    expectClose(`${cell} chunked eval vs oracle`, [a.lossSum], [r.lossSum], 1e-5);
    expectClose(`${cell} chunked eval vs whole`, [a.lossSum], [b.lossSum], 1e-6);
    expect(a.count).toBe(T * 37);
    expect(a.correct).toBe(b.correct);
    expect(a.correct).toBe(r.correct);
    for (let k = 0; k < 3; k++) {
      const next = randomBatch(T, 37, 10, 60 + k);
      expectClose(`${cell} carried eval ${k}`, [m.evaluate(next, { carry: true }).lossSum], [ref.evaluate(next, { carry: true }).lossSum], 1e-5);
    }
    expectClose(`${cell} carried eval state`, m.carriedState()!.flatMap((x) => [...x]), ref.carriedState()!.flatMap((x) => [...x]), 1e-4);
  });
});

describe('the default chunk size', () => {
  it('small models (512 tokens of activations within 3 MiB) take chunks of 512 tokens, larger ones 2048; DEEPRNN_CHUNK_TOKENS sets both', () => {
    expect([SMALL_CHUNK_TOKENS, CHUNK_TOKENS]).toEqual([512, 2048]);
    const size = (cfg: ModelConfig) => new RNNLM(cfg).chunkTokens;
    const book: ModelConfig = { cell: 'gru', vocabSize: 28, hidden: [32, 32], dropout: 0 };
    // the book's model, its LSTM and with dropout: 3.9-4.5 KiB a token as counted
    expect(4 * activationFloatsPerToken(book)).toBe(3952);
    for (const cfg of [book, { ...book, cell: 'lstm' as const }, { ...book, dropout: 0.5 }]) expect(size(cfg)).toBe(512);
    // B's and C's models, the book's at 64 units, and a vocabulary of 2,000 words
    for (const cfg of [{ ...book, cell: 'lstm' as const, hidden: [256, 256], vocabSize: 65 }, { ...book, cell: 'lstm' as const, hidden: [512, 512], vocabSize: 65 },
      { ...book, hidden: [64, 64] }, { ...book, vocabSize: 2000 }]) expect(size(cfg)).toBe(2048);
    // dropout does not count: a one-layer model (where it does nothing) and a deeper one take the same chunks with it and without
    for (const cfg of [{ ...book, cell: 'lstm' as const, hidden: [80] }, { ...book, cell: 'mgu' as const, hidden: [128] }, { ...book, hidden: [40, 40] }]) {
      expect(size({ ...cfg, dropout: 0.5 })).toBe(size(cfg));
    }
    const saved = process.env.DEEPRNN_CHUNK_TOKENS;
    try {
      process.env.DEEPRNN_CHUNK_TOKENS = '300';
      expect([size(book), size({ ...book, hidden: [64, 64] })]).toEqual([300, 300]);
    } finally {
      if (saved === undefined) delete process.env.DEEPRNN_CHUNK_TOKENS;
      else process.env.DEEPRNN_CHUNK_TOKENS = saved;
    }
  });
});

describe('model.chunkTokens', () => {
  it('takes a whole number of tokens from 1 or Infinity, and refuses anything else by name (before, 0, -3 and 2.5 ran as one window a chunk)', () => {
    const m = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [4], dropout: 0 });
    for (const n of [1, 7, 4096, Infinity]) {
      m.chunkTokens = n;
      expect(m.chunkTokens).toBe(n);
    }
    for (const [bad, shown] of [[0, '0'], [-3, '-3'], [2.5, '2.5'], [NaN, 'NaN'], [null, 'null'], ['512', '"512"'], [undefined, 'nothing (undefined)']] as const) {
      expect(() => { m.chunkTokens = bad as unknown as number; }).toThrow(`chunkTokens must be a whole number of tokens per chunk from 1, or Infinity, got ${shown}`);
    }
    expect(m.chunkTokens).toBe(Infinity);
  });
});

describe('chunked training and threads', () => {
  it('gives bitwise the same loss and gradients with 1 thread and with all cores', () => {
    const cfg: ModelConfig = { cell: 'gru', vocabSize: 28, hidden: [32, 32], dropout: 0 };
    const batch = randomBatch(32, 256, 28, 5);
    const run = (threads: number) => {
      nat.setThreads(threads);
      const m = new RNNLM(cfg, new Rng(1));  // default chunks (512 tokens for this model): 16 windows of 32 steps, 16 chunks
      const loss = trainStep(m, batch);
      return { loss, grads: Float32Array.from(m.grads) };
    };
    const one = run(1);
    const all = run(Math.max(2, allThreads));
    expect(all.loss).toBe(one.loss);
    expect(Buffer.from(all.grads.buffer).equals(Buffer.from(one.grads.buffer))).toBe(true);
  });

  it('the sum of squares of the gradients from the training step is bitwise sumSquares(grads), for any threads and teams', () => {
    const cfg: ModelConfig = { cell: 'lstm', vocabSize: 13, hidden: [24, 17], dropout: 0 };
    const P = new RNNLM(cfg).params.length;
    expect(P > 4096 && P % 4096 !== 0).toBe(true);  // two blocks of the sum, the second ragged
    const batch = randomBatch(6, 37, 13, 3);
    try {
      for (const precision of ['fp32', 'bf16'] as const) {
        for (const [threads, team] of [[1, 0], [2, 0], [3, 0], [5, 0], [2, 2], [5, 3]] as const) {
          nat.setThreads(threads);
          nat.setTeamSize(team);
          for (const chunkTokens of [8 * 6, Infinity]) {  // 5 chunks, and one that writes grads directly
            const m = new RNNLM(cfg, new Rng(4));
            m.precision = precision;
            m.chunkTokens = chunkTokens;
            expect(m.gradSquares()).toBeNull();
            trainStep(m, batch);
            const first = m.gradSquares();
            expect(first).toBe(nat.sumSquares(m.grads));
            expect(first).toBeGreaterThan(0);
            m.forward(batch, { train: true });  // no zeroGrad: grads accumulate, and the figure is of the sum
            m.backward();
            expect(m.gradSquares()).toBe(nat.sumSquares(m.grads));
            expect(m.gradSquares()).not.toBe(first);
            m.zeroGrad();
            expect(m.gradSquares()).toBeNull();
            m.forward(batch, { train: true, shard: { rank: 0, size: 2 } });  // a share: the ranks' sum is not known here
            expect(m.gradSquares()).toBeNull();
          }
        }
      }
    } finally {
      nat.setTeamSize(0);
      nat.setThreads(allThreads);
    }
  });

  it('forward and evaluate refuse a shard that names no rank of its size; an evaluating forward scores its share', () => {
    const cfg: ModelConfig = { cell: 'gru', vocabSize: 10, hidden: [8], dropout: 0 };
    const m = new RNNLM(cfg, new Rng(1));
    const batch = randomBatch(3, 4, 10, 5);
    const bad: [unknown, string][] = [
      [{ rank: 7, size: 2 }, 'shard.rank must be an integer from 0 to 1, got 7'],
      [{ rank: 2, size: 2 }, 'shard.rank must be an integer from 0 to 1, got 2'],
      [{ rank: -1, size: 2 }, 'shard.rank must be an integer from 0 to 1, got -1'],
      [{ rank: 0.5, size: 2 }, 'shard.rank must be an integer from 0 to 1, got 0.5'],
      [{ rank: NaN, size: 2 }, 'shard.rank must be an integer from 0 to 1, got NaN'],
      [{ rank: '0', size: 2 }, 'shard.rank must be an integer from 0 to 1, got "0"'],
      [{ rank: 0, size: 0 }, 'shard.size must be an integer from 1 to 2147483647, got 0'],
      [{ rank: 0, size: -1 }, 'shard.size must be an integer from 1 to 2147483647, got -1'],
      [{ rank: 0 }, 'shard.size must be an integer from 1 to 2147483647, got nothing (undefined)'],
      [3, 'shard must be {rank, size} (this rank\'s part of each batch), got 3'],
      ['0/2', 'shard must be {rank, size} (this rank\'s part of each batch), got "0/2"'],
    ];
    for (const [shard, msg] of bad) {
      expect(() => m.evaluate(batch, { shard } as never)).toThrow(`evaluate: ${msg}`);
      expect(() => m.forward(batch, { train: false, shard } as never)).toThrow(`forward: ${msg}`);
      expect(() => m.forward(batch, { train: true, shard } as never)).toThrow(`forward: ${msg}`);
    }
    // (before, a rank past the last scored columns past N, read from whatever the workspace held)
    const whole = m.evaluate(batch);
    // null is no shard, as undefined (mpiWorld() outside a job); a refused call leaves the gradients' sum of squares as it was
    expect(m.evaluate(batch, { shard: null } as never)).toEqual(whole);
    m.forward(batch, { train: true });
    m.backward();
    const squares = m.gradSquares();
    expect(squares).not.toBeNull();
    expect(() => m.forward(batch, { train: true, shard: { rank: 2, size: 2 } })).toThrow('forward: shard.rank');
    expect(m.gradSquares()).toBe(squares);
    const shares = [0, 1, 2].map((rank) => m.evaluate(batch, { shard: { rank, size: 3 } }));
    expect(shares.reduce((a, r) => a + r.count, 0)).toBe(whole.count);
    expect(shares.reduce((a, r) => a + r.lossSum, 0)).toBeCloseTo(whole.lossSum, 4);
    // evaluating, forward gives the share's loss sum over the whole batch's T*N, as training does
    expect(m.forward(batch, { train: false, shard: { rank: 1, size: 3 } })).toBe(shares[1]!.lossSum / (3 * 4));
  });

  it('lmTrainChunks refuses a gradSquares that is not a Float64Array of one element, or given with keep', () => {
    const cfg: ModelConfig = { cell: 'gru', vocabSize: 5, hidden: [4], dropout: 0 };
    const m = new RNNLM(cfg);
    const batch = randomBatch(2, 3, 5, 1);
    const model = (m as unknown as { lmModel(): object }).lmModel();
    const call = (extra: object) => nat.lmTrainChunks({ ...model, grads: m.grads, inputs: batch.inputs, targets: batch.targets, T: 2, N: 3,
      rows: 3, masks: null, state: null, scale: 1, ...extra } as never);
    expect(() => call({ gradSquares: new Float64Array(2) })).toThrow('lmTrainChunks: option "gradSquares" must have length 1, got 2');
    expect(() => call({ gradSquares: new Float32Array(1) })).toThrow('lmTrainChunks: option "gradSquares" must be a Float64Array');
    expect(() => call({ gradSquares: new Float64Array(1), keep: true }))
      .toThrow('lmTrainChunks: option "gradSquares" does not apply with keep (grads are left as they are)');
    const sq = new Float64Array(1);
    m.zeroGrad();
    call({ gradSquares: sq });
    expect(sq[0]).toBe(nat.sumSquares(m.grads));
  });

  it('backward() after a chunked forward adds nothing more', () => {
    const cfg: ModelConfig = { cell: 'lstm', vocabSize: 5, hidden: [6], dropout: 0 };
    const m = chunked(cfg, 2, 3);
    const batch = randomBatch(3, 20, 5, 1);
    m.zeroGrad();
    m.forward(batch, { train: true });
    const after = Float32Array.from(m.grads);
    expect(after.some((g) => g !== 0)).toBe(true);
    m.backward();
    expect(Float32Array.from(m.grads)).toEqual(after);
    expect(() => m.backward()).toThrow('backward() needs a training forward() first');
  });
});

describe('the loss of large logits', () => {
  it('keeps log(sum) beside a large max: logits all 1e8 give log(V), not 0', () => {
    // Per row the loss is (max - z_target) + log(sum exp(z - max)). Added up as
    // max + log(sum) - z_target in float32, log(sum) was rounded away beside a
    // max of 1e8: a loss of 0, a perplexity of 1, for a model that knows nothing.
    const V = 28;
    for (const cell of ['gru', 'lstm'] as const) {
      const m = new RNNLM({ cell, vocabSize: V, hidden: [16], dropout: 0 }, new Rng(1));
      const param = (name: string) => m.parameters().find((p) => p.name === name)!.data;
      param('linear.weight').fill(0);
      param('linear.bias').fill(1e8);
      const batch = randomBatch(8, 70, V, 3);
      const tokens = batch.T * batch.N;
      expect(m.evaluate(batch).lossSum / tokens).toBeCloseTo(Math.log(V), 12);
      m.zeroGrad();
      expect(m.forward(batch, { train: true })).toBeCloseTo(Math.log(V), 12);
      // Between the two: a bias of 1e4 keeps the logits' differences to within 1e-3, the loss close to the unshifted one.
      param('linear.bias').fill(0);
      param('linear.weight').fill(0.01);
      const base = m.evaluate(batch).lossSum / tokens;
      param('linear.bias').fill(1e4);
      expect(Math.abs(m.evaluate(batch).lossSum / tokens - base)).toBeLessThan(2e-3);
    }
  });
});
