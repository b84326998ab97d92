// The library's entry points as a program calls them wrongly, or twice: a
// Trainer that was stopped trains again, its state and options are checked,
// its threads stay within the cores and are put back; the data modules, the
// loaders, generate, Rng.fromState and the float64 model name what is wrong.
import os from 'node:os';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { makeDataModule, WindowDataModule } from '../../src/data/datamodule.js';
import { readCorpusText } from '../../src/data/load.js';
import { TimeMachine } from '../../src/data/timemachine.js';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { generate } from '../../src/generate.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { native } from '../../src/native.js';
import { Rng } from '../../src/rng.js';
import { train, type TrainOptions } from '../../src/train/library.js';
import { SGD } from '../../src/train/optim.js';
import { initialState, Trainer } from '../../src/train/trainer.js';
import { TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const book = readFileSync(TIMEMACHINE, 'utf8');
const TEXT = book.slice(10_000, 40_000);
const tok = Tokenizer.fit('d2l', TEXT);
const ids = tok.encode(TEXT);
const data = () => makeDataModule(ids, { numSteps: 8, batchSize: 10, numTrain: 40, numVal: 20 });
const model = () => new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(1));

describe('Trainer.stop()', () => {
  it('ends the fit it stops; a later fit() goes on to the end (before, every later fit stopped after one batch)', async () => {
    const m = model();
    const dm = data();
    const rng = new Rng(3);
    const state = initialState(rng);
    const t = new Trainer({ epochs: 3, clip: 1, onBatch: (done) => { if (state.epoch === 0 && done === 2) t.stop('SIGINT'); } });
    expect(await t.fit(m, dm, new SGD(1), rng, state)).toEqual({ stopped: true });
    expect({ epoch: state.epoch, batch: state.batch, signal: t.stopSignal }).toEqual({ epoch: 0, batch: 2, signal: 'SIGINT' });
    expect(await t.fit(m, dm, new SGD(1), rng, state)).toEqual({ stopped: false });
    expect({ epoch: state.epoch, history: t.history.length, signal: t.stopSignal }).toEqual({ epoch: 3, history: 3, signal: null });
  });

  it('a stop asked before fit() holds for that fit (after its first batch), and only for it', async () => {
    const rng = new Rng(3);
    const state = initialState(rng);
    const t = new Trainer({ epochs: 1, clip: 1 });
    t.stop();
    const m = model();
    expect(await t.fit(m, data(), new SGD(1), rng, state)).toEqual({ stopped: true });
    expect(state.batch).toBe(1);
    expect(await t.fit(m, data(), new SGD(1), rng, state)).toEqual({ stopped: false });
    expect(state.epoch).toBe(1);
  });
});

describe('Trainer.stop() in the last batch', () => {
  it('is spent with the fit it was asked in, even when that fit ran to its end (a later fit trains on)', async () => {
    const m = model();
    const rng = new Rng(3);
    const state = initialState(rng);
    const t = new Trainer({ epochs: 1, clip: 1, onBatch: (done, total) => { if (state.epoch === 0 && done === total) t.stop('SIGINT'); } });
    expect(await t.fit(m, data(), new SGD(1), rng, state)).toEqual({ stopped: false });
    // (the same trainer again, with another epoch to run: it trains it, and is not stopped after a batch)
    Object.assign(t.opts, { epochs: 2, onBatch: undefined });
    expect(await t.fit(m, data(), new SGD(1), rng, state)).toEqual({ stopped: false });
    expect(state.epoch).toBe(2);
  });
});

describe('Trainer.fit(..., state)', () => {
  it('refuses a state that is no TrainState, naming what is wrong (before, {} trained nothing and epoch -1 trained an extra epoch)', async () => {
    const t = new Trainer({ epochs: 2, clip: 1 });
    const rng = new Rng(1);
    const fit = (state: unknown) => t.fit(model(), data(), new SGD(1), rng, state as never);
    await expect(fit('x')).rejects.toThrow('state must be a TrainState (initialState(rng), or a checkpoint\'s), got "x"');
    await expect(fit({})).rejects.toThrow('state lacks epoch, batch, step, rngEpoch, rng, lossSum, tokens, seconds, skipped, gradNormSum');
    await expect(fit({ ...initialState(rng), epoch: -1 })).rejects.toThrow('state.epoch must be a whole number of 0 or more, got -1');
    await expect(fit({ ...initialState(rng), epoch: NaN })).rejects.toThrow('state.epoch must be a whole number of 0 or more, got NaN');
    await expect(fit({ ...initialState(rng), lossSum: Infinity })).rejects.toThrow('state.lossSum must be a finite number, got Infinity');
    await expect(fit({ ...initialState(rng), rng: [0, 0, 0, 0] })).rejects.toThrow('state.rng is all zeros');
    expect(t.history).toHaveLength(0);
  });
});

describe('Trainer options', () => {
  it('earlyStop, schedule and what a schedule returns are checked', async () => {
    expect(() => new Trainer({ epochs: 3, clip: 1, earlyStop: -1 })).toThrow('earlyStop must be a whole number of epochs from 1, got -1');
    expect(() => new Trainer({ epochs: 3, clip: 1, earlyStop: 'x' as never })).toThrow('earlyStop must be a whole number of epochs from 1, got "x"');
    expect(() => new Trainer({ epochs: 3, clip: 1, schedule: 5 as never })).toThrow('schedule must be a function, got 5');
    for (const [lr, shown] of [[-5, '-5'], [NaN, 'NaN'], [Infinity, 'Infinity'], ['1', '"1"']] as const) {
      const t = new Trainer({ epochs: 1, clip: 1, schedule: () => lr as number });
      await expect(t.fit(model(), data(), new SGD(1), new Rng(1)))
        .rejects.toThrow(`schedule(0, 0) returned ${shown}: a learning rate must be a finite number of 0 or more`);
    }
  });

  it('threads: capped at the cores with a warning, and the process\'s count put back after fit() (before, 64 threads stayed)', async () => {
    const before = native().info().threads;
    const cores = os.availableParallelism();
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let t: Trainer;
    try {
      t = new Trainer({ epochs: 1, clip: 1, threads: 1000, onBatch: () => seen.push(native().info().threads) });
      expect(err.mock.calls.map((c) => String(c[0]))).toEqual([
        `deeprnn: warning: threads 1000 is more than ${cores === 1 ? 'the core' : `the ${cores} cores`} this process may use; using ${cores}\n`]);
    } finally {
      err.mockRestore();
    }
    const seen: number[] = [];
    await t.fit(model(), data(), new SGD(1), new Rng(1));
    expect(new Set(seen)).toEqual(new Set([cores]));
    expect(native().info().threads).toBe(before);
    // one thread asked: it runs at 1 and the process is back at its count after
    const one = new Trainer({ epochs: 1, clip: 1, threads: 1, onBatch: () => seen.push(native().info().threads) });
    seen.length = 0;
    await one.fit(model(), data(), new SGD(1), new Rng(1));
    expect(new Set(seen)).toEqual(new Set([1]));
    expect(native().info().threads).toBe(before);
  });

  it('train() and a Trainer overlapping: each at its own count, the process at its own after both (before, left at 1)', async () => {
    const before = native().info().threads;
    const seen: number[] = [];
    let plain: Promise<unknown> | null = null;
    const t = new Trainer({ epochs: 1_000_000, clip: 1, onBatch: () => seen.push(native().info().threads) });
    const onBatch = () => {
      // in train()'s first batch, a fit without threads begins: it runs at the count outside every run
      plain ??= t.fit(model(), data(), new SGD(1), new Rng(1));
    };
    await train(TEXT, { hidden: 8, numSteps: 16, numTrain: 200, numVal: 100, batchSize: 50, epochs: 2, threads: 1, onBatch });
    t.stop();
    await plain;
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set([before]));
    expect(native().info().threads).toBe(before);
  });

  it('a note about the threads is said once, to onWarning (before, again on stderr by the Trainer)', async () => {
    const warnings: string[] = [];
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const saved = process.env.OMP_THREAD_LIMIT;
    process.env.OMP_THREAD_LIMIT = 'abc';
    try {
      await train(TEXT, { hidden: 8, numSteps: 16, numTrain: 200, numVal: 100, batchSize: 50, epochs: 1, threads: 1, onWarning: (m) => warnings.push(m) });
      expect(err).not.toHaveBeenCalled();
    } finally {
      if (saved === undefined) delete process.env.OMP_THREAD_LIMIT;
      else process.env.OMP_THREAD_LIMIT = saved;
      err.mockRestore();
    }
    expect(warnings).toEqual(['OMP_THREAD_LIMIT="abc" is not a positive integer; ignored']);
  });

  it('an early stop is an epoch cut short: the last epoch no better than the best is none (before, early: true)', async () => {
    // (lr 40 on this text: the second epoch's validation is worse than the first's)
    const t = new Trainer({ epochs: 2, clip: 1, earlyStop: 1 });
    const r = await t.fit(model(), data(), new SGD(40), new Rng(1));
    expect(t.history[1]!.valPpl).toBeGreaterThan(t.history[0]!.valPpl);
    expect(t.shouldStopEarly()).toBe(true);
    expect(r).toEqual({ stopped: false });
    // the same with a third epoch to run: cut short
    const t3 = new Trainer({ epochs: 3, clip: 1, earlyStop: 1 });
    expect(await t3.fit(model(), data(), new SGD(40), new Rng(1))).toEqual({ stopped: false, early: true });
    expect(t3.history).toHaveLength(2);
  });
});

describe('the data modules and loaders', () => {
  it('name an unknown option, and tokens that are no Uint16Array or Int32Array (before: taken, or refused by the addon at the first batch)', async () => {
    const ok = { numSteps: 8, batchSize: 10, numTrain: 40, numVal: 20 };
    expect(() => new WindowDataModule(ids, { ...ok, batchsize: 3 } as never)).toThrow('the data options: unknown option batchsize (did you mean batchSize?)');
    expect(() => makeDataModule(ids, { ...ok, numstep: 3 } as never)).toThrow('the data options: unknown option numstep (did you mean numSteps?)');
    // a Map of options is refused wherever options are named (before, its entries, no keys, were not read)
    const map = new Map(Object.entries(ok));
    const plain = 'the options must be a plain object ({ name: value, ... }), got an instance of Map';
    expect(() => makeDataModule(ids, map as never)).toThrow(`the data options: ${plain}`);
    expect(() => new WindowDataModule(ids, map as never)).toThrow(`the data options: ${plain}`);
    await expect(TimeMachine.load(new Map([['batchSize', 10]]) as never)).rejects.toThrow(`TimeMachine.load(opts): ${plain}`);
    // the copy is what is checked and kept: a getter that answers otherwise later cannot pass with one value and keep another
    let reads = 0;
    const shifty = { numSteps: 8, numTrain: 40, numVal: 20, get batchSize() { return ++reads === 1 ? 10 : 0; } };
    const kept = new WindowDataModule(ids, shifty);
    expect(kept.opts.batchSize).toBe(10);
    expect(kept.numTrainBatches).toBe(4);
    expect(() => new Trainer(new Map([['epochs', 1], ['clip', 1]]) as never)).toThrow(`new Trainer(opts): ${plain}`);
    const m = model();
    const b = { T: 2, N: 1, inputs: Int32Array.of(1, 2), targets: Int32Array.of(2, 3) };
    expect(() => m.evaluate(b, new Map([['carry', true]]) as never)).toThrow(`evaluate: ${plain}`);
    expect(() => m.evaluate(b, { carri: true } as never)).toThrow('evaluate: unknown option carri (did you mean carry?)');
    expect(() => m.evaluate(b, null as never)).toThrow('evaluate: the options must be { carry, shard }, got null');
    expect(() => m.evaluate(b, { carry: 'yes' } as never)).toThrow('evaluate: carry must be true or false, got "yes"');
    expect(() => new RNNLMScratch({ cell: 'gru', vocabSize: 5, hidden: [4], dropout: 0 }, new Rng(1), { roundProducts: 'fp16' } as never))
      .toThrow('roundProducts must be none or bf16, got "fp16"');
    expect(() => new RNNLMScratch({ cell: 'gru', vocabSize: 5, hidden: [4], dropout: 0 }, new Rng(1), { round: 'bf16' } as never))
      .toThrow('new RNNLMScratch(config, rng, opts): unknown option round (expected roundProducts)');
    for (const [tokens, got] of [[Array.from(ids), `an array of ${ids.length}`], [Float64Array.from(ids), 'an instance of Float64Array']] as const) {
      expect(() => makeDataModule(tokens as never, ok))
        .toThrow(`the tokens must be a Uint16Array or an Int32Array of token ids (a tokenizer's encode(), or Int32Array.from(ids)), got ${got}`);
    }
    await expect(TimeMachine.load({ batchsize: 10 } as never)).rejects.toThrow('TimeMachine.load(opts): unknown option batchsize (did you mean batchSize?)');
    await expect(TimeMachine.load('x' as never)).rejects.toThrow('TimeMachine.load(opts): opts must be an object, got "x"');
    await expect(TimeMachine.load({ dataDir: 5 } as never)).rejects.toThrow("dataDir must be a directory's path, got 5");
    expect((await TimeMachine.load({ valFrac: null, batchSize: null } as never)).data.numTrainBatches).toBe(10);
    const tm = await TimeMachine.load(null);
    expect(tm.data.numTrainBatches).toBe(10);
  });

  it('readCorpusText takes a list of corpora and finds the shipped copy without a data directory (before: "t" is neither a known corpus ...)', async () => {
    await expect(readCorpusText('timemachine' as never)).rejects.toThrow('the corpora must be a list of corpus names, files or directories, got "timemachine"');
    await expect(readCorpusText(['timemachine'], 5 as never)).rejects.toThrow('dataDir must be a directory\'s path, got 5');
    expect((await readCorpusText(['timemachine'])).length).toBe(book.length);
  });
});

describe('the float64 model', () => {
  it('refuses token ids outside the vocabulary, as the native model does (before: a loss of NaN)', () => {
    const s = new RNNLMScratch({ cell: 'gru', vocabSize: 5, hidden: [4], dropout: 0 }, new Rng(1));
    const batch = (inputs: number[], targets: number[]) => ({ T: 2, N: 1, inputs: Int32Array.from(inputs), targets: Int32Array.from(targets) });
    expect(() => s.evaluate(batch([1, 2], [2, 99]))).toThrow('evaluate: batch.targets[1] = 99 is outside [0, 5)');
    expect(() => s.evaluate(batch([-1, 2], [2, 3]))).toThrow('evaluate: batch.inputs[0] = -1 is outside [0, 5)');
    expect(() => s.forward(batch([1, 2, 3], [2, 3]), { train: true })).toThrow('forward: batch.inputs holds 3 ids, not T*N = 2');
    expect(() => s.evaluate({ T: 2, N: 1, inputs: 'ab', targets: Int32Array.of(1, 2) } as never))
      .toThrow('evaluate: batch.inputs must be T*N = 2 token ids (an Int32Array, a Uint16Array or an array), got "ab"');
    expect(Number.isFinite(s.evaluate(batch([1, 2], [2, 4])).lossSum)).toBe(true);
  });
});

describe('generate, Rng.fromState, RNNLM.load, model.save and train()', () => {
  it('name a wrong argument (before: a TypeError, a string taken as a number, or a generator stuck at 0)', async () => {
    const m = model();
    m.tokenizer = tok;
    expect(() => generate(m, 'it', { numPreds: 3, onText: 3 as never })).toThrow('onText must be a function, got 3');
    expect(() => generate(m, 'it', { numPreds: 3, collect: 'no' as never })).toThrow('collect must be true or false, got "no"');
    expect(() => generate(m, 'it', { numPreds: '5' as never })).toThrow('numPreds must be an integer from 0 to 10000000, got "5"');
    expect(generate(m, 'it', { numPreds: 3 })).toHaveLength(5);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow('Rng.fromState(state) is all zeros, which no generator reaches (every draw would be 0)');
    expect(() => Rng.fromState([1] as never)).toThrow('Rng.fromState(state) must be a generator state: four whole numbers from 0 to 4294967295, got [1]');
    expect(() => Rng.fromState([1.5, 1, 2, 3])).toThrow('got [1.5,1,2,3]');
    expect(Rng.fromState(new Rng(7).state()).nextU32()).toBe(new Rng(7).nextU32());
    expect(() => RNNLM.load(null as never)).toThrow("a checkpoint's path must be a string (a .safetensors file), got null");
    const missingDir = path.join(tmpDir(), 'no', 'such', 'dir');
    // a directory that cannot be made (a file is in the way): the error names the file asked for
    const blocked = path.join(TIMEMACHINE, 'x.safetensors');
    expect(() => m.save(blocked)).toThrow(new RegExp(`^could not write checkpoint ${blocked.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(.*\\); nothing was written there$`));
    m.save(path.join(missingDir, 'ok.safetensors'));
    await expect(train(TEXT, [] as never)).rejects.toThrow('options must be an object, got []');
    // (before, a Map's entries were not read: the book's defaults ran)
    await expect(train(TEXT, new Map([['epochs', 1]]) as never)).rejects.toThrow('options must be a plain object ({ epochs: 3, ... }), got an instance of Map');
    // null is an option left out, and the type says so
    const opts: TrainOptions = { hidden: 8, numSteps: 16, numTrain: 200, numVal: 100, batchSize: 50, epochs: 1, lr: null, precision: null };
    expect((await train(TEXT, opts)).history).toHaveLength(1);
  });
});

describe('train(text, options): an option written is given', () => {
  const TINY: TrainOptions = { hidden: 8, numSteps: 16, numTrain: 200, numVal: 100, batchSize: 50, epochs: 1 };
  const dir = tmpDir();

  it('as on the command line, whatever its value (before, a value equal to the default was taken as left out)', async () => {
    await expect(train(TEXT, { ...TINY, hidden: [8, 8, 8], layers: 2 })).rejects.toThrow('hidden lists 3 sizes but layers is 2');
    const lstm = path.join(dir, 'lstm.safetensors');
    await train(TEXT, { ...TINY, cell: 'lstm', out: lstm });
    await expect(train(TEXT, { ...TINY, hidden: undefined, cell: 'gru', initFrom: lstm })).rejects.toThrow(`cell gru contradicts initFrom ${lstm}, whose model has cell lstm`);
    const { RUN_DEFAULTS } = await import('../../src/train/settings.js');
    // { ...RUN_DEFAULTS, ... }: the defaults it holds are not given
    const r = await train(TEXT, { ...RUN_DEFAULTS, ...TINY, hidden: [8, 8, 8] });
    expect(r.model.config.hidden).toEqual([8, 8, 8]);
    // a spread with a key set to null, or taken out, is still one (before the fix of the fix: lrDecay "given" to a constant schedule)
    expect((await train(TEXT, { ...RUN_DEFAULTS, ...TINY, hidden: null })).model.config.hidden).toEqual([32, 32]);
    const { lrDecay: _, ...fewer } = RUN_DEFAULTS;
    expect((await train(TEXT, { ...fewer, ...TINY })).history).toHaveLength(1);
  });

  it('initFrom a bf16 model fine-tunes in bf16 unless precision is given (before, fp32 without a word)', async () => {
    const bf16 = path.join(dir, 'bf16.safetensors');
    expect((await train(TEXT, { ...TINY, precision: 'bf16', out: bf16 })).model.precision).toBe('bf16');
    const tuned = await train(TEXT, { ...TINY, hidden: undefined, initFrom: bf16 });
    expect(tuned.model.precision).toBe('bf16');
    const fp32 = await train(TEXT, { ...TINY, hidden: undefined, initFrom: bf16, precision: 'fp32' });
    expect(fp32.model.precision).toBe('fp32');
    // the float64 reference has no bf16: it fine-tunes at its own precision (before this was kept: refused, naming an option not given)
    const scratch = await train(TEXT, { ...TINY, hidden: undefined, initFrom: bf16, impl: 'scratch' });
    expect(scratch.model.precision).toBe('fp32');
  });
});

describe('the lower-level calls name a wrong argument (before: TypeErrors and RangeErrors from inside, or options not read)', () => {
  const batch = { T: 2, N: 3, inputs: Int32Array.of(1, 2, 3, 4, 0, 1), targets: Int32Array.of(2, 3, 4, 0, 1, 2) };
  const cfg = { cell: 'gru' as const, vocabSize: 5, hidden: [6, 4], dropout: 0.5 };

  it('forward\'s options, for both models', () => {
    for (const m of [new RNNLM(cfg, new Rng(1)), new RNNLMScratch(cfg, new Rng(1))]) {
      expect(() => m.forward(batch, null as never)).toThrow('forward: the options must be { train, rng, carry, shard }, got null');
      expect(() => m.forward(batch, { train: 'no' } as never)).toThrow('forward: train must be true or false, got "no"');
      expect(() => m.forward(batch, { train: true, carry: 1 } as never)).toThrow('forward: carry must be true or false, got 1');
      expect(() => m.forward(batch, { train: true, rngs: new Rng(1) } as never)).toThrow('forward: unknown option rngs (did you mean rng?)');
      expect(() => m.forward(batch, { train: true, rng: { uniform: Math.random } } as never))
        .toThrow('forward: rng must be an Rng (it draws the dropout masks), got an object with keys uniform');
      expect(() => m.forward(batch, { train: true })).toThrow('forward: training with dropout needs an rng (to draw the masks)');
      expect(m.forward(batch, { train: true, rng: new Rng(2) })).toBeGreaterThan(0);
    }
  });

  it('the float64 model scores the whole batch: a shard is refused unless it is all of it (before, not read)', () => {
    const m = new RNNLMScratch({ ...cfg, dropout: 0 }, new Rng(1));
    const whole = m.evaluate(batch);
    expect(whole.count).toBe(6);
    expect(m.evaluate(batch, { shard: { rank: 0, size: 1 } })).toEqual(whole);
    expect(m.evaluate(batch, { shard: null })).toEqual(whole);
    expect(() => m.evaluate(batch, { shard: { rank: 1, size: 3 } })).toThrow('evaluate: the scratch model runs in one process: shard must be { rank: 0, size: 1 } or none, got size 3');
    expect(() => m.evaluate(batch, { shard: {} } as never)).toThrow('evaluate: shard.size must be an integer');
    expect(() => m.forward(batch, { train: true, shard: { rank: 0, size: 2 } })).toThrow('forward: the scratch model runs in one process');
  });

  it('evaluateTokens, save, learningRate, and sizes past what a process can allocate', async () => {
    const { evaluateTokens } = await import('../../src/train/evaluate.js');
    const { learningRate } = await import('../../src/train/schedule.js');
    const m = new RNNLM({ ...cfg, dropout: 0 }, new Rng(1));
    const toks = Int32Array.from({ length: 40 }, (_, i) => i % 5);
    expect(() => evaluateTokens(null as never, toks, { numSteps: 4, batchSize: 2 })).toThrow('evaluateTokens(model, ...) needs a model (an RNNLM or RNNLMScratch), got null');
    expect(() => evaluateTokens(m, null as never, { numSteps: 4, batchSize: 2 }))
      .toThrow('evaluateTokens(model, tokens, ...): the tokens must be a Uint16Array or an Int32Array of token ids');
    expect(() => evaluateTokens(m, toks, { numSteps: 4, batchSize: 2, unk: '0' } as never))
      .toThrow('unk must be the unknown token\'s id (a whole number of 0 or more), got "0"');
    expect(() => evaluateTokens(m, toks, { numSteps: 4, batchSize: 2, numstep: 9 } as never)).toThrow('evaluateTokens: unknown option numstep (did you mean numSteps?)');
    expect(() => evaluateTokens(m, toks, { numSteps: 4, batchSize: 2, world: { rank: 0, size: 1 } } as never))
      .toThrow('world must be a World (mpiWorld()\'s: rank, size, sum, sumChunks, barrier) or null');
    expect(evaluateTokens(m, toks, { numSteps: 4, batchSize: 2, unk: 0 }).unknownRate).toBeCloseTo(7 / 39, 12);
    expect(() => m.save(path.join(tmpDir(), 'm.safetensors'), { tokenizer: tok, dtyp: 'bf16' } as never)).toThrow('save: unknown option dtyp (did you mean dtype?)');
    expect(() => m.save(path.join(tmpDir(), 'm.safetensors'), 7 as never)).toThrow('save(file, opts): opts must be { tokenizer, dtype }, got 7');
    expect(() => learningRate({ kind: 'cosnie', lr: 1, warmup: 0, decay: 1, decayAfter: 1, minLr: 0 } as never, 0, 0, 10))
      .toThrow('schedule must be one of constant|step|exp|cosine, got "cosnie"');
    expect(() => new RNNLMScratch({ cell: 'gru', vocabSize: 1e12, hidden: [4], dropout: 0 }))
      .toThrow(/^a model of 17,000,000,000,072 parameters needs [\d.]+ TiB for its weights and gradients: more than this process can allocate/);
    const huge = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [128, 4], dropout: 0.5 });
    // (8 TiB: past what any process here could allocate, whatever the largest typed array)
    const windows = { tokens: new Uint16Array(2 ** 20 + 1), starts: new Int32Array(2 ** 14) };
    expect(() => huge.forward({ T: 2 ** 20, N: 2 ** 14, windows } as never, { train: true, rng: new Rng(1) }))
      .toThrow('the batch needs 8.0 TiB for its masks: more than this process can allocate (use a smaller batch or fewer steps)');
  });
});

describe('a run whose outputs are removed while it goes on', () => {
  const TINY: TrainOptions = { hidden: 8, numSteps: 16, numTrain: 200, numVal: 100, batchSize: 50, epochs: 5 };

  it('stops when its --out directory goes, naming the lock it lost (before: the directory was made again, and the run said done)', async () => {
    const gone = path.join(tmpDir(), 'gone');
    const out = path.join(gone, 'm.safetensors');
    const onEpoch = (m: { epoch: number }) => { if (m.epoch === 2) rmSync(gone, { recursive: true, force: true }); };
    await expect(train(TEXT, { ...TINY, out, onEpoch })).rejects.toThrow(`the lock ${out}.lock of out ${out} is gone (its directory removed, or the lock `
      + 'deleted, while the run went on): another run could write there now, so this run stops; the checkpoint '
      + `${out} is gone (removed while the run went on)`);
    expect(existsSync(gone)).toBe(false);
  });

  it('leaves what another run put in its place as it is: the locks, metrics and directory of a run that took the path over', async () => {
    // Before, the stopped run released "its" locks (the other run's), removed the metrics and the directory it had made.
    const taken = path.join(tmpDir(), 'taken');
    const out = path.join(taken, 'm.safetensors');
    const others = ['m.safetensors.lock', 'm.best.safetensors.lock', 'm.metrics.jsonl.lock'].map((f) => path.join(taken, f));
    const onEpoch = (m: { epoch: number }) => {
      if (m.epoch !== 2) return;
      rmSync(taken, { recursive: true, force: true });
      mkdirSync(taken);
      for (const f of others) writeFileSync(f, JSON.stringify({ pid: 1, start: null }));
      writeFileSync(path.join(taken, 'm.metrics.jsonl'), 'the other run\'s\n');
    };
    await expect(train(TEXT, { ...TINY, out, onEpoch })).rejects.toThrow(`the lock ${out}.lock of out ${out} is gone`);
    for (const f of others) expect(readFileSync(f, 'utf8')).toBe('{"pid":1,"start":null}');
    expect(readFileSync(path.join(taken, 'm.metrics.jsonl'), 'utf8')).toBe('the other run\'s\n');
  });

  it('stops when its metrics file goes, rather than start it again without the epochs before', async () => {
    const d = tmpDir();
    const out = path.join(d, 'm.safetensors');
    const metrics = path.join(d, 'm.metrics.jsonl');
    const onEpoch = (m: { epoch: number }) => { if (m.epoch === 2) rmSync(metrics); };
    await expect(train(TEXT, { ...TINY, out, onEpoch })).rejects.toThrow(`could not write metrics file ${metrics} (it was removed while the run went on, `
      + `with the epochs before this one); the checkpoint ${out} (epoch 3, batch 0) is intact`);
    expect(existsSync(metrics)).toBe(false);
  });
});
