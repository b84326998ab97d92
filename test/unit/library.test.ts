// The library as a program uses it: train(text) on strings in memory,
// model.save / RNNLM.load, generate; every option checked at the edge with the
// command line's messages (the same checks, the option named by its key);
// saveCheckpoint refuses what loadCheckpoint would refuse.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Tokenizer, tokenizerFromJSON } from '../../src/data/tokenizer.js';
import { generate, predict } from '../../src/generate.js';
import { checkCheckpointSize, FORMAT_VERSION, loadCheckpoint, loadTrainingCheckpoint, saveCheckpoint, type CheckpointMeta } from '../../src/io/checkpoint.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { native } from '../../src/native.js';
import { checkModelConfig } from '../../src/nn/config.js';
import { Rng } from '../../src/rng.js';
import { train, type TrainOptions } from '../../src/train/library.js';
import { Adam, DEFAULT_LR, makeOptimizer, OPTIMIZER_SPECS, OPTIMIZERS, optimizersWith, RMSprop, SGD } from '../../src/train/optim.js';
import { evaluateTokens } from '../../src/train/evaluate.js';
import { resolveRunSettings, RUN_DEFAULTS } from '../../src/train/settings.js';
import { initialState, Trainer, YIELD_MS } from '../../src/train/trainer.js';
import { flagName } from '../../src/validate.js';
import { TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const empty = tmpDir();
const data = tmpDir();
const book = readFileSync(TIMEMACHINE, 'utf8');
const TEXT = book.slice(10_000, 40_000);
const TINY: TrainOptions = { hidden: 8, numSteps: 16, numTrain: 200, numVal: 100, batchSize: 50, epochs: 1 };

describe('train(text)', () => {
  it('refuses an option it does not know (a typo, the command line\'s alone) and one that does not apply, as the command line does', async () => {
    const refusals: [Record<string, unknown>, string][] = [
      [{ batchsize: 5 }, 'unknown option batchsize (did you mean batchSize?)'],
      [{ epoch: 2 }, 'unknown option epoch (did you mean epochs?)'],
      [{ foo: 1 }, 'unknown option foo'],
      [{ resume: 'm.safetensors' }, 'unknown option resume (train(text) trains on the text it is given, from the start or from initFrom)'],
      [{ strict: true }, "strict applies to initFrom (a checkpoint's vocabulary reading a new corpus)"],
      [{ keep: 2 }, "keep applies to out (the run's checkpoints): without out nothing is written"],
      [{ tokenizer: 'word', minFreq: 100_000 }, 'minFreq 100000 leaves no token but <unk> in the vocabulary'],
      [{ saveEvery: '2' }, "saveEvery applies to out (the run's checkpoints): without out nothing is written"],
      [{ onBatch: 3 }, 'onBatch must be a function, got 3'],
    ];
    for (const [extra, message] of refusals) {
      await expect(train(TEXT, { ...TINY, ...extra } as TrainOptions), JSON.stringify(extra)).rejects.toThrow(message);
    }
    // the default, however written, is not a setting given
    for (const saveEvery of [1, '1', ' 1 ']) expect((await train(TEXT, { ...TINY, saveEvery })).history).toHaveLength(1);
  });

  it('takes null as a left-out option, for every option alike (its default), as undefined', async () => {
    // Before: precision: null ran fp32 unchecked, lr: null and threads: null were refused, saveDtype: null
    // without out "applied to out", and cell: null took its default.
    const nulls = { lr: null, precision: null, saveDtype: null, cell: null, optimizer: null, seed: null, threads: null, keep: null,
      saveEvery: null, impl: null, tokenizer: null, clip: null, onEpoch: null, out: null } as unknown as TrainOptions;
    const withNulls = await train(TEXT, { ...TINY, ...nulls });
    const plain = await train(TEXT, TINY);
    expect(withNulls.model.precision).toBe('fp32');
    expect(withNulls.model.params).toEqual(plain.model.params);
    expect(withNulls.history.map((m) => m.valPpl)).toEqual(plain.history.map((m) => m.valPpl));
  });

  it('gives onEpoch a copy: what the hook does to it changes neither the run nor its files', async () => {
    const run = (out: string, onEpoch?: (m: { valPpl: number; trainPpl: number; epoch: number }) => void) =>
      train(TEXT, { ...TINY, epochs: 3, earlyStop: 1, out, onEpoch });
    const plain = await run(path.join(dir, 'hook', 'plain.safetensors'));
    const seen: number[] = [];
    const hooked = await run(path.join(dir, 'hook', 'hooked.safetensors'), (m) => {
      seen.push(m.valPpl);
      m.valPpl = 1e6 / m.epoch;
      m.trainPpl = NaN;
    });
    expect(hooked.history).toEqual(plain.history.map((h, i) => ({ ...h, seconds: hooked.history[i]!.seconds, tokensPerSec: hooked.history[i]!.tokensPerSec })));
    expect(hooked.early).toBe(plain.early);
    expect(seen).toEqual(plain.history.map((h) => h.valPpl));
    const ck = loadTrainingCheckpoint(path.join(dir, 'hook', 'hooked.safetensors'));
    expect(ck.meta.history.map((h) => h.valPpl)).toEqual(seen);
    expect(ck.meta.history.every((h) => Number.isFinite(h.trainPpl))).toBe(true);
  });

  it('calls onBatch after every training batch, in order', async () => {
    const calls: number[][] = [];
    const r = await train(TEXT, { ...TINY, epochs: 2, onBatch: (epoch, done, total) => calls.push([epoch, done, total]) });
    expect(r.history).toHaveLength(2);
    const total = calls[0]![2]!;
    expect(calls).toEqual([1, 2].flatMap((epoch) => Array.from({ length: total }, (_, i) => [epoch, i + 1, total])));
  });

  it('takes { ...RUN_DEFAULTS, ... }: a default named again is not an option given (the schedule settings with constant, layers with a hidden list)', async () => {
    const r = await train(TEXT, { ...RUN_DEFAULTS, ...TINY, hidden: [8, 8, 8] } as TrainOptions);
    expect(r.history).toHaveLength(1);
    expect(r.model.config.hidden).toEqual([8, 8, 8]);
    await expect(train(TEXT, { ...RUN_DEFAULTS, ...TINY, lrDecay: 0.5 } as TrainOptions)).rejects.toThrow('lrDecay applies to lrSchedule step|exp, not constant');
  });

  it('trains on a string without reading or writing a file; save and load keep weights, config and tokenizer', async () => {
    // Run from an empty directory, with the data directory at an empty one: nothing is read from or written to either.
    const cwd = process.cwd();
    const env = process.env.DEEPRNN_DATA_DIR;
    process.chdir(empty);
    process.env.DEEPRNN_DATA_DIR = data;
    let result: Awaited<ReturnType<typeof train>>;
    try {
      result = await train(TEXT, { ...TINY, epochs: 2, tokenizer: 'd2l' });
    } finally {
      process.chdir(cwd);
      if (env === undefined) delete process.env.DEEPRNN_DATA_DIR;
      else process.env.DEEPRNN_DATA_DIR = env;
    }
    expect(readdirSync(empty)).toEqual([]);
    expect(readdirSync(data)).toEqual([]);
    const { model, tokenizer, history } = result;
    expect(history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(history[1]!.valPpl).toBeLessThan(history[0]!.valPpl);
    expect(model.tokenizer).toBe(tokenizer);
    expect(tokenizer.kind).toBe('d2l');
    expect(model.config).toEqual({ cell: 'gru', vocabSize: 28, hidden: [8, 8], dropout: 0 });

    const file = path.join(dir, 'lib.safetensors');
    model.save(file);
    const loaded = RNNLM.load(file);
    expect(loaded.params).toEqual(model.params);
    expect(loaded.config).toEqual(model.config);
    expect(loaded.tokenizer!.toJSON()).toEqual(tokenizer.toJSON());
    expect(generate(loaded, 'the time', { numPreds: 30 })).toBe(generate(model, tokenizer, 'the time', { numPreds: 30 }));
    expect(predict(loaded, 'the time', 30)).toBe(generate(loaded, 'the time', { numPreds: 30 }));
    // Sampling without an rng draws from the seed (default 42), as deeprnn predict does.
    const sampled = generate(loaded, 'the time', { numPreds: 30, temperature: 1 });
    expect(generate(loaded, 'the time', { numPreds: 30, temperature: 1, seed: 42 })).toBe(sampled);
    expect(generate(loaded, 'the time', { numPreds: 30, temperature: 1, seed: 7 })).not.toBe(sampled);

    // A model without training state: no optimizer, position or history.
    const ck = loadCheckpoint(file);
    expect(Object.keys(ck.meta).sort()).toEqual(['config', 'lineEnds', 'tokenizer', 'version']);
    expect(() => loadTrainingCheckpoint(file, 'resume needs one')).toThrow(
      `checkpoint ${file} holds a model without training state (saved by RNNLM.save); resume needs one`,
    );
  });

  it('an array of strings is the strings joined with a newline, as files are', async () => {
    const a = TEXT.slice(0, 15_000);
    const b = TEXT.slice(15_000);
    const joined = await train(`${a}\n${b}`, TINY);
    const parts = await train([a, b], TINY);
    expect(parts.model.params).toEqual(joined.model.params);
    expect(parts.history[0]!.valLoss).toBe(joined.history[0]!.valLoss);
    expect(parts.tokenizer.kind).toBe('char');
  });

  it('writes checkpoints with the training state when given out', async () => {
    const out = path.join(dir, 'run', 'm.safetensors');
    const before = performance.timeOrigin + performance.now();
    const r = await train(TEXT, { ...TINY, out, momentum: 0.9, dampening: 0.5 });
    const after = performance.timeOrigin + performance.now();
    // Where the run's time went: parts that add up to its total, which lies within the call.
    const t = r.timings;
    expect(t.startedAt).toBeGreaterThanOrEqual(before);
    expect(t.startedAt + 1000 * t.total).toBeLessThanOrEqual(after + 1);
    for (const k of ['data', 'training', 'validation', 'checkpoints'] as const) expect(t[k], k).toBeGreaterThan(0);
    expect(t.setup).toBeGreaterThanOrEqual(0);
    expect(t.other).toBeGreaterThanOrEqual(0);
    expect(t.data + t.setup + t.training + t.validation + t.checkpoints + t.other).toBeCloseTo(t.total, 9);
    expect(t.total).toBeGreaterThanOrEqual(r.seconds);
    const ck = loadTrainingCheckpoint(out);
    expect(ck.meta.optimizer).toEqual({ kind: 'sgd', lr: 2, momentum: 0.9, dampening: 0.5, nesterov: false, weightDecay: 0, steps: 4 });
    expect(Object.keys(ck.optimizerState)).toEqual(['momentum_buffer']);
    expect(ck.meta.training.corpus).toEqual(['(text)']);
    expect(ck.meta.state.epoch).toBe(1);
    expect(ck.meta.history).toHaveLength(1);
    expect(existsSync(path.join(dir, 'run', 'm.metrics.jsonl'))).toBe(true);
  });

  it('the best, the last and a snapshot written at one position hold the same bytes, each of its own position', async () => {
    const out = path.join(dir, 'same', 'm.safetensors');
    await train(TEXT, { ...TINY, epochs: 3, lr: 0.5, keep: 3, out });
    const run = path.join(dir, 'same');
    const bytes = (f: string) => readFileSync(path.join(run, f));
    const snaps = readdirSync(run).filter((f) => /\.e\d{4}\.safetensors$/.test(f)).sort();
    expect(snaps).toEqual(['m.e0001.safetensors', 'm.e0002.safetensors', 'm.e0003.safetensors']);
    expect(bytes('m.safetensors').equals(bytes('m.e0003.safetensors'))).toBe(true);
    snaps.forEach((f, i) => expect(loadTrainingCheckpoint(path.join(run, f)).meta.history).toHaveLength(i + 1));
    // The best is one of the snapshots, byte for byte: the one of the lowest validation perplexity.
    const h = loadTrainingCheckpoint(out).meta.history;
    const best = h.reduce((b, m, i) => (m.valPpl < h[b]!.valPpl ? i : b), 0);
    expect(bytes('m.best.safetensors').equals(bytes(snaps[best]!))).toBe(true);
  });

  it('refuses texts that are not strings or are empty, and options that are not an object', async () => {
    await expect(train('abc', null as never)).rejects.toThrow('options must be an object, got null');
    await expect(train('', TINY)).rejects.toThrow('text is empty');
    await expect(train(['abc', ''], TINY)).rejects.toThrow('text[1] is empty');
    await expect(train([], TINY)).rejects.toThrow('text must be a string or a non-empty array of strings, got []');
    await expect(train(42 as never, TINY)).rejects.toThrow('text must be a string or a non-empty array of strings, got number');
    await expect(train(['a', 3] as never, TINY)).rejects.toThrow('text must be a string or a non-empty array of strings, got an array whose item 1 is number');
  });
});

describe('Trainer: its methods as a library user calls them', () => {
  const setup = async (sequential = false) => {
    const { makeDataModule } = await import('../../src/data/datamodule.js');
    const tok = Tokenizer.fit('d2l', TEXT);
    const dm = makeDataModule(tok.encode(TEXT), sequential
      ? { numSteps: 8, batchSize: 4, numTrain: 0, numVal: 0, valFrac: 0.2, batching: 'sequential' as const }
      : { numSteps: 8, batchSize: 10, numTrain: 80, numVal: 20 });
    const model = (seed = 1) => new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(seed));
    return { dm, model, V: tok.vocab.size };
  };

  it('a stop that cut a fitEpoch() short is spent with it; one asked too late for it holds for the next (before, every later fitEpoch stopped after a batch)', async () => {
    const { dm, model } = await setup();
    const m = model(), rng = new Rng(2);
    const t = new Trainer({ epochs: 3, clip: 1 });
    t.stop();
    const st = initialState(rng);
    expect(await t.fitEpoch(m, dm, new SGD(1), rng, st)).toBeNull();
    expect(st.batch).toBe(1);
    // the next one runs the rest of the epoch
    expect((await t.fitEpoch(m, dm, new SGD(1), rng, st))?.epoch).toBe(1);
    expect(st).toMatchObject({ epoch: 1, batch: 0 });
    // a stop in an epoch's last batch cannot cut it short: the next fitEpoch() stops after its first batch, and spends it
    let t2: Trainer;
    t2 = new Trainer({ epochs: 3, clip: 1, onBatch: (done, total) => { if (done === total) t2.stop(); } });
    expect((await t2.fitEpoch(m, dm, new SGD(1), rng, st))?.epoch).toBe(2);
    expect(await t2.fitEpoch(m, dm, new SGD(1), rng, st)).toBeNull();
    expect(st.batch).toBe(1);
    const t3 = new Trainer({ epochs: 3, clip: 1 });
    expect(await t3.fit(m, dm, new SGD(1), rng, st)).toEqual({ stopped: false });
    expect(st.epoch).toBe(3);
  });

  it('a trainer that fits another model reads only that run\'s epochs for its early stop (before, the earlier run\'s stopped it before it began)', async () => {
    const { dm, model } = await setup();
    const t = new Trainer({ epochs: 2, clip: 1, earlyStop: 1 });
    expect(await t.fit(model(1), dm, new SGD(1), new Rng(2))).toMatchObject({ stopped: false });
    // an earlier run whose last epoch was its worst: it would meet the early stop at once
    const worse = { ...t.history[t.history.length - 1]!, valPpl: 1e9 };
    t.history.push(worse);
    const b = model(5), before = b.params.slice();
    expect(await t.fit(b, dm, new SGD(1), new Rng(2))).toEqual({ stopped: false });
    expect(b.params).not.toEqual(before);
    expect(t.history).toHaveLength(5);
    // another model resumed on it, without its history: the earlier model's epochs are not read as its own
    const rng0 = new Rng(4), c = model(7), cBefore = c.params.slice();
    const t3 = new Trainer({ epochs: 3, clip: 1, earlyStop: 1 });
    await t3.fit(model(1), dm, new SGD(1), new Rng(2));
    t3.history[t3.history.length - 1]!.valPpl = 1e9;
    expect(await t3.fit(c, dm, new SGD(1), rng0, { ...initialState(rng0), epoch: 2 })).toEqual({ stopped: false });
    expect(c.params).not.toEqual(cBefore);
    // a resumed run reads its own history, which the trainer holds from its start
    const r = new Trainer({ epochs: 3, clip: 1, earlyStop: 1 });
    r.history.push({ ...worse, epoch: 1, valPpl: 10 }, { ...worse, epoch: 2, valPpl: 20 });
    const rng = new Rng(3);
    expect(await r.fit(model(6), dm, new SGD(1), rng, { ...initialState(rng), epoch: 2 })).toEqual({ stopped: false, early: true });
  });

  it('validate() between batches of sequential data leaves the training as it was, for every model kind (before, its evaluation replaced the carried state)', async () => {
    const { dm, V } = await setup(true);
    expect(dm.carry).toBe(true);
    const kinds = {
      'native gru': () => new RNNLM({ cell: 'gru', vocabSize: V, hidden: [8], dropout: 0 }, new Rng(1)),
      'native lstm 8x6': () => new RNNLM({ cell: 'lstm', vocabSize: V, hidden: [8, 6], dropout: 0 }, new Rng(1)),
      // float64 state: a float32 copy put back would round it
      'scratch lstm 8x6': () => new RNNLMScratch({ cell: 'lstm', vocabSize: V, hidden: [8, 6], dropout: 0 }, new Rng(1)),
    };
    for (const [kind, make] of Object.entries(kinds)) {
      const run = async (validateAt: number | null) => {
        const m = make();
        let t: Trainer;
        t = new Trainer({ epochs: 1, clip: 1, onBatch: (done) => { if (done === validateAt) t.validate(m, dm); } });
        await t.fit(m, dm, new SGD(1), new Rng(2));
        return { params: Array.from(m.params), val: t.history[0]!.valLoss };
      };
      const plain = await run(null), validated = await run(2);
      expect(validated.params, kind).toEqual(plain.params);
      expect(validated.val, kind).toBe(plain.val);
    }
  });

  it('a run whose carried state overflowed under skipNonFinite still ends in its divergence (a first version of the put-back refused the non-finite state)', async () => {
    const { dm, V } = await setup(true);
    const m = new RNNLM({ cell: 'rnn-relu', vocabSize: V, hidden: [16], dropout: 0 }, new Rng(1));
    for (let i = 0; i < m.params.length; i++) m.params[i]! *= 5;
    await expect(new Trainer({ epochs: 1, clip: 1, skipNonFinite: true }).fit(m, dm, new SGD(0), new Rng(2)))
      .rejects.toThrow(/^training diverged in epoch 1: the training perplexity overflows/);
  });

  it('refuses a state whose batch is past the data\'s epoch, and arguments and options that are no model, DataModule, Optimizer, flag or World', async () => {
    const { dm, model } = await setup();
    const m = model(), rng = new Rng(2), t = new Trainer({ epochs: 1, clip: 1 });
    const past = { ...initialState(rng), batch: dm.numTrainBatches + 1 };
    await expect(t.fit(m, dm, new SGD(1), rng, past)).rejects.toThrow(`fit(..., state): state.batch is ${dm.numTrainBatches + 1}, past the ${dm.numTrainBatches} training batches of an epoch of this data`);
    await expect(t.fitEpoch(m, dm, new SGD(1), rng, past)).rejects.toThrow('fitEpoch(..., state): state.batch is');
    // a state at the epoch's end (every batch done, validation not yet) is one
    expect((await t.fitEpoch(m, dm, new SGD(1), rng, { ...initialState(rng), batch: dm.numTrainBatches, lossSum: 1, tokens: 1 }))?.epoch).toBe(1);
    expect(() => t.update(null as never, new SGD(1))).toThrow('update(model, ...) needs a model (an RNNLM or RNNLMScratch), got null');
    expect(() => t.update(m, undefined as never)).toThrow('update(model, optimizer) needs an Optimizer (SGD, Adam, RMSprop or makeOptimizer\'s), got nothing (undefined)');
    expect(() => t.validate(null as never, dm)).toThrow('validate(model, ...) needs a model');
    expect(() => t.validate(m, null as never)).toThrow('validate(model, data) needs a DataModule');
    expect(() => t.clipGradients(null as never)).toThrow('clipGradients(model) needs a model');
    expect(() => new Trainer({ epochs: 1, clip: 1, skipNonFinite: 'false' as never })).toThrow('skipNonFinite must be true or false, got "false"');
    expect(() => new Trainer({ epochs: 1, clip: 1, world: 1 as never })).toThrow('world must be a World (mpiWorld()\'s: rank, size, sum, sumChunks, barrier) or null, got 1');
    expect(() => new Trainer({ epochs: 1, clip: 1, world: { rank: 0, size: 1 } as never })).toThrow('world must be a World');
    const world = { rank: 0, size: 1, sum: () => {}, sumChunks: () => {}, barrier: () => {} };
    expect(new Trainer({ epochs: 1, clip: 1, world }).opts.world).toBe(world);
    expect(new Trainer({ epochs: 1, clip: 1, world: null }).opts.world).toBeNull();
  });
});

describe('a model whose outputs overflow (rnn-relu, every weight 0.5: its state grows without bound)', () => {
  const overflowing = () => {
    const tok = Tokenizer.fit('char', 'abc');
    const m = new RNNLM({ cell: 'rnn-relu', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(1));
    m.params.fill(0.5);
    return { m, tok };
  };

  it('generation stops with an error naming the overflow (before, token 0 for ever, without a word)', () => {
    const { m, tok } = overflowing();
    expect(() => generate(m, tok, 'a', { numPreds: 200 })).toThrow(/^the model's outputs are not finite after \d+ generated tokens \(Infinity for "<unk>"\): its state or weights overflow, and no token can be chosen$/);
    expect(() => generate(m, tok, 'a', { numPreds: 200, temperature: 1 })).toThrow(/outputs are not finite/);
    // its first tokens are finite, and generated
    expect(generate(m, tok, 'a', { numPreds: 10 }).startsWith('a')).toBe(true);
  });

  it('evaluation reports the overflow as an infinite perplexity, also for tokens past the last whole stream (before, setCarriedState refused the state)', () => {
    const { m, tok } = overflowing();
    const tokens = tok.encode('abc'.repeat(1667) + 'a');
    for (const batchSize of [4, 1]) {
      const r = evaluateTokens(m, tokens, { numSteps: 8, batchSize });
      expect(r.perplexity).toBe(Infinity);
      expect(r.tokens).toBe(tokens.length - 1);
    }
  });
});

describe('options are checked as the command line checks them', () => {
  // [library options, the library's message, the command line's value, its message]: one check, two namings.
  const cases: [Record<string, unknown>, string, Record<string, string>, string][] = [
    [{ dropout: 1.5 }, 'dropout must be a number in [0, 1), got 1.5', { dropout: '1.5' }, '--dropout must be a number in [0, 1), got "1.5"'],
    [{ cell: 'tree' }, 'cell must be one of rnn|rnn-relu|gru|lstm|mgu, got "tree"', { cell: 'tree' }, '--cell must be one of rnn|rnn-relu|gru|lstm|mgu, got "tree"'],
    [{ layers: 0 }, 'layers must be an integer from 1 to 64, got 0', { layers: '0' }, '--layers must be an integer from 1 to 64, got "0"'],
    [{ batchSize: 2.5 }, 'batchSize must be an integer from 1 to 10000000, got 2.5', { batchSize: '2.5' }, '--batch-size must be an integer from 1 to 10000000, got "2.5"'],
    [{ hidden: [8, 'x'] }, 'hidden must be a number or a list of numbers, got [8,"x"] ("x" is a string)', { hidden: '8,x' }, '--hidden must be an integer from 1 to 1048576, got "x"'],
    [{ hidden: [8, 8], layers: 3 }, 'hidden lists 2 sizes but layers is 3; give one size, or one per layer',
      { hidden: '8,8', layers: '3' }, '--hidden lists 2 sizes but --layers is 3; give one size, or one per layer'],
    [{ optimizer: 'adam', momentum: 0.9 }, 'momentum applies to optimizer sgd|rmsprop, not adam',
      { optimizer: 'adam', momentum: '0.9' }, '--momentum applies to --optimizer sgd|rmsprop, not adam'],
    [{ optimizer: 'adam', minLr: 0.01 }, 'minLr must be a number from 0 to the learning rate (lr 0.001), got 0.01',
      { optimizer: 'adam', minLr: '0.01' }, '--min-lr must be a number from 0 to the learning rate (--lr 0.001), got "0.01"'],
    [{ valFrac: 0.1, numTrain: 100 }, 'valFrac splits by fraction: give it or numTrain / numVal, not both',
      { valFrac: '0.1', numTrain: '100' }, '--val-frac splits by fraction: give it or --num-train / --num-val, not both'],
    [{ saveEvery: '5x' }, 'saveEvery must be a number of epochs (e.g. 5) or of steps (e.g. 200s), got "5x"',
      { saveEvery: '5x' }, '--save-every must be a number of epochs (e.g. 5) or of steps (e.g. 200s), got "5x"'],
    [{ hidden: [] }, 'hidden must be a size or a list of 1 to 64 sizes, got []', { hidden: '' }, '--hidden must be an integer from 1 to 1048576, got ""'],
    [{ optimizer: 'adam', betas: [0.9] }, 'betas must be two numbers in [0, 1), e.g. 0.9,0.999, got [0.9]',
      { optimizer: 'adam', betas: '0.9' }, '--betas must be two numbers in [0, 1), e.g. 0.9,0.999, got "0.9"'],
    [{ dampening: 1.5 }, 'dampening must be a number in [0, 1], got 1.5', { dampening: '1.5' }, '--dampening must be a number in [0, 1], got "1.5"'],
    [{ optimizer: 'rmsprop', dampening: 0.5 }, 'dampening applies to optimizer sgd, not rmsprop',
      { optimizer: 'rmsprop', dampening: '0.5' }, '--dampening applies to --optimizer sgd, not rmsprop'],
    [{ nesterov: true, momentum: 0.9, dampening: 0.1 }, 'nesterov needs momentum above 0 (and no dampening)',
      { nesterov: true as never, momentum: '0.9', dampening: '0.1' }, '--nesterov needs --momentum above 0 (and no dampening)'],
    [{ optimizer: 'adamw', eps: 0 }, 'eps must be a positive number that float32 holds (1.4e-45 to 3.4e38), got 0', { optimizer: 'adamw', eps: '0' }, '--eps must be a positive number that float32 holds (1.4e-45 to 3.4e38), got "0"'],
    [{ optimizer: 'sgd', alpha: 0.9 }, 'alpha applies to optimizer rmsprop, not sgd', { alpha: '0.9' }, '--alpha applies to --optimizer rmsprop, not sgd'],
  ];

  it.each(cases)('%j', async (lib, libMessage, cli, cliMessage) => {
    await expect(train(TEXT, { ...TINY, ...lib } as TrainOptions)).rejects.toThrow(libMessage);
    const given = (k: string) => k in cli;
    expect(() => resolveRunSettings(cli, { name: flagName, given }, { corpus: ['x'], out: 'x.safetensors' })).toThrow(cliMessage);
  });

  it('numbers given as strings are refused, as generate() refuses them (before, epochs: \'1\' and hidden: \'8\' ran)', async () => {
    await expect(train(TEXT, { ...TINY, epochs: '1' } as never)).rejects.toThrow('epochs must be a number, got "1" (a string)');
    await expect(train(TEXT, { ...TINY, hidden: '8' } as never)).rejects.toThrow('hidden must be a number or a list of numbers, got "8" (a string)');
    await expect(train(TEXT, { ...TINY, threads: '1' } as never)).rejects.toThrow('threads must be a number, got "1" (a string)');
    await expect(train(TEXT, { ...TINY, lr: '0.5' } as never)).rejects.toThrow('lr must be a number, got "0.5" (a string)');
    await expect(train(TEXT, { ...TINY, optimizer: 'adam', betas: '0.9,0.99' } as never)).rejects.toThrow('betas must be a pair of numbers, got "0.9,0.99" (a string)');
    await expect(train(TEXT, { ...TINY, optimizer: 'adam', betas: [0.9, '0.99'] } as never)).rejects.toThrow('betas must be a pair of numbers, got [0.9,"0.99"] ("0.99" is a string)');
    // saveEvery is typed number | string ('2s': every 2 steps), and stays so
    const r = await train(TEXT, { ...TINY, saveEvery: '2s', out: path.join(dir, 'every2s.safetensors') });
    expect(r.history).toHaveLength(1);
  });

  it('threads above the cores are capped with a warning', async () => {
    const warnings: string[] = [];
    const cores = os.availableParallelism();
    await train(TEXT, { ...TINY, threads: cores + 1, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([`threads ${cores + 1} is more than the ${cores} cores this process may use; using ${cores}`]);
  });

  it('threads is the run\'s: the process\'s count is put back when it ends, or fails (before, it stayed at the run\'s)', async () => {
    const nat = native();
    const before = nat.info().threads;
    nat.setThreads(2);
    await train(TEXT, { ...TINY, threads: 1 });
    expect(nat.info().threads).toBe(2);
    // The advice names the library's options (before, the command line's: --lr, --clip, --skip-nonfinite).
    await expect(train(TEXT, { ...TINY, threads: 1, lr: 1e30, clip: 0 })).rejects.toThrow(/(diverged|non-finite).*; try a lower lr or gradient clipping, clip 1\b(?!.*--)/);
    expect(nat.info().threads).toBe(2);
    nat.setThreads(before);
  });

  it('a model and batch too large for memory are refused naming the library\'s options (before, the command line\'s)', async () => {
    await expect(train(TEXT, { ...TINY, cell: 'lstm', layers: 1, hidden: 1_048_576 }))
      .rejects.toThrow(/^the model and batch need about .* but this machine has .*; reduce hidden, layers, batchSize or numSteps$/);
  });

  it('a text too short for the windows is refused naming the library\'s options (before, the command line\'s: num-steps, num-train + num-val)', async () => {
    const short = 'abcdefgh'.repeat(10);
    await expect(train(short, { ...TINY, tokenizer: 'char', numSteps: 200 })).rejects.toThrow('the corpus has 80 tokens, fewer than numSteps + 1 = 201');
    await expect(train(short, { ...TINY, tokenizer: 'char', numSteps: 4, numTrain: 70, numVal: 10 }))
      .rejects.toThrow('the corpus gives 76 windows of 5 tokens, fewer than numTrain + numVal = 80');
    await expect(train(short, { ...TINY, tokenizer: 'char', numSteps: 4, numTrain: null, numVal: null, valFrac: 0.99 } as TrainOptions))
      .rejects.toThrow('valFrac 0.99 splits the 80 tokens into 0 for training and 80 for validation; each needs at least numSteps + 1 = 5');
    await expect(train(short, { ...TINY, tokenizer: 'char', numSteps: 4, numTrain: 70, numVal: 5, batching: 'sequential' }))
      .rejects.toThrow('sequential batching needs numTrain + numVal + 2 * numSteps = 83 tokens, the corpus has 80');
  });

  it('an out that holds a file of another kind is refused, named as the library names it, and left as it was', async () => {
    const notes = path.join(tmpDir(), 'notes.safetensors');
    writeFileSync(notes, 'my notes\n');
    await expect(train(TEXT, { ...TINY, out: notes })).rejects.toThrow(`out ${notes} exists and is not a deeprnn checkpoint (not a safetensors file): `
      + "a run writes over an earlier run's checkpoint, never another file; move it away, or choose another out");
    expect(readFileSync(notes, 'utf8')).toBe('my notes\n');
  });

  it('a checkpoint too large to read back is refused before training, naming saveDtype (before, writing it failed at the end of the first epoch)', async () => {
    // An RNN of 24,000 units: 577 million weights, 2.3 GB as float32 (deeprnn reads at most
    // 2 GiB); this machine's memory is made to look large enough for its training.
    const spy = vi.spyOn(os, 'totalmem').mockReturnValue(2 ** 50);
    const out = path.join(dir, 'huge.safetensors');
    try {
      await expect(train(TEXT, { ...TINY, cell: 'rnn', layers: 1, hidden: 24_000, out }))
        .rejects.toThrow(/^not saving checkpoint .*huge\.safetensors: it would have at least 2,3\d\d,\d{3},\d{3} bytes, more than the 2,147,483,647 \(2 GiB\) that deeprnn reads; save the weights with saveDtype bf16 \(half their bytes\) or use a smaller model$/);
    } finally {
      spy.mockRestore();
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('huge'))).toEqual([]);
    expect(() => checkCheckpointSize('m.safetensors', 2 ** 31, false)).toThrow('not saving checkpoint m.safetensors: it would have 2,147,483,648 bytes, more than');
    expect(() => checkCheckpointSize('m.safetensors', 2 ** 31 - 1, false)).not.toThrow();
  });

  it('calls that overlap each keep their threads for every batch and validation, and the count outside them is put back after the last', async () => {
    // Before, each call put back the count it found at its start (the other run's) and
    // set its own only once: a run asking for 1 thread ran its batches on the other's 2.
    const nat = native();
    const before = nat.info().threads;
    const two = Math.min(2, os.availableParallelism());
    nat.setThreads(two);
    const seen: Record<number, Set<number>> = { 8: new Set(), 12: new Set() };
    const record = (o: { hidden: Int32Array }) => seen[o.hidden[0]!]?.add(nat.info().threads);
    const trainChunks = nat.lmTrainChunks.bind(nat), evalChunks = nat.lmEvalChunks.bind(nat);
    const spies = [
      vi.spyOn(nat, 'lmTrainChunks').mockImplementation((o) => (record(o), trainChunks(o))),
      vi.spyOn(nat, 'lmEvalChunks').mockImplementation((o) => (record(o), evalChunks(o))),
    ];
    // Each batch longer than the trainer's turn, so that the loop yields after it.
    const slow = () => { const end = performance.now() + YIELD_MS + 5; while (performance.now() < end); };
    const order: number[] = [];
    try {
      const a = train(TEXT, { ...TINY, epochs: 2, threads: 1, onBatch: () => { order.push(8); slow(); } });
      const b = train(TEXT, { ...TINY, epochs: 2, hidden: 12, threads: two, onBatch: () => { order.push(12); slow(); } });
      await Promise.all([a, b]);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    // The runs overlapped: each had batches before and after some of the other's.
    expect(order.indexOf(12)).toBeLessThan(order.lastIndexOf(8));
    expect(order.indexOf(8)).toBeLessThan(order.lastIndexOf(12));
    expect([...seen[8]!]).toEqual([1]);
    expect([...seen[12]!]).toEqual([two]);
    expect(nat.info().threads).toBe(two);
    nat.setThreads(before);
  });

  it('the model refuses a bad configuration before any native call', () => {
    expect(() => checkModelConfig(null)).toThrow('config must be an object, got null');
    expect(() => new RNNLM({ cell: 'tree' as never, vocabSize: 28, hidden: [8], dropout: 0 }))
      .toThrow('config.cell must be one of rnn|rnn-relu|gru|lstm|mgu, got "tree"');
    expect(() => new RNNLM({ cell: 'gru', vocabSize: 28, hidden: [8], dropout: 1.5 })).toThrow('config.dropout must be a number in [0, 1), got 1.5');
    expect(() => new RNNLM({ cell: 'gru', vocabSize: 1, hidden: [8], dropout: 0 })).toThrow('config.vocabSize must be an integer from 2 to');
    expect(() => new RNNLM({ cell: 'gru', vocabSize: 28, hidden: [0], dropout: 0 }))
      .toThrow('config.hidden must be a list of 1 to 64 integers from 1 to 1048576 (one per layer), got [0]');
    // NaN and Infinity as themselves (JSON would say null)
    expect(() => new RNNLM({ cell: 'gru', vocabSize: 28, hidden: [8, NaN, Infinity], dropout: 0 }))
      .toThrow('config.hidden must be a list of 1 to 64 integers from 1 to 1048576 (one per layer), got [8,NaN,Infinity]');
  });

  it('generate refuses top-k or top-p without a temperature, as deeprnn predict does', () => {
    const tokenizer = Tokenizer.fit('d2l', 'the time machine');
    const model = new RNNLM({ cell: 'gru', vocabSize: tokenizer.vocab.size, hidden: [8], dropout: 0 });
    model.tokenizer = tokenizer;
    expect(() => generate(model, 'the', { numPreds: 5, topK: 3 })).toThrow('topK needs sampling: give temperature above 0');
    expect(() => generate(model, 'the', { numPreds: 5, topP: 0.9 })).toThrow('topP needs sampling: give temperature above 0');
    expect(() => generate(model, 'the', { numPreds: 5, temperature: -1 })).toThrow('temperature must be a number >= 0, got -1');
    expect(() => generate(model, 'the', { numPreds: 5, temperature: 1, topP: 1.5 })).toThrow('topP must be a number in (0, 1], got 1.5');
    expect(() => generate(model, 'the', { numPreds: -1 })).toThrow('numPreds must be an integer from 0 to 10000000, got -1');
    expect(() => generate(model, 3 as never, { numPreds: 1 })).toThrow('the prefix must be a string, got 3');
    expect(() => generate(model, 'the', undefined as never)).toThrow('generate needs options: { numPreds, temperature, topK, topP, seed }');
    expect(generate(model, 'the', { numPreds: 5, temperature: 1, topK: 3 }).startsWith('the')).toBe(true);
    // A tokenizer of another size than the model's outputs, and no model, are refused before any step.
    expect(() => generate(model, Tokenizer.fit('char', 'ab'), 'ab', { numPreds: 5 })).toThrow("the tokenizer has 3 tokens but the model's vocabSize is 10");
    expect(() => generate(model, Tokenizer.fit('char', 'ab'), 'ab', { numPreds: 5, temperature: 1 })).toThrow("the tokenizer has 3 tokens but the model's vocabSize is 10");
    expect(() => generate(null as never, 'the', { numPreds: 5 })).toThrow('generate needs an RNNLM model, got null');
    expect(() => generate(model, 'the', { numPreds: 5, temperature: 1, rng: {} as never })).toThrow('rng (or left out, to draw from seed) must be an Rng (new Rng(seed)), got an empty object');
    expect(() => makeOptimizer(null as never)).toThrow('makeOptimizer needs settings { kind, lr, ... }, got null');
    // Unknown options are refused, a likely one named, as train() does (a typo used to be ignored).
    expect(() => generate(model, 'the', { numPreds: 5, temprature: 1 } as never)).toThrow('generate: unknown option temprature (did you mean temperature?)');
    expect(() => generate(model, 'the', { numPreds: 5, bogus: 1 } as never)).toThrow('generate: unknown option bogus (expected numPreds, temperature, topK, topP, rng, seed, onText, collect)');
    expect(() => makeOptimizer({ kind: 'sgd', lr: 1, momentun: 0.9 } as never)).toThrow('makeOptimizer: unknown option momentun (did you mean momentum?)');
    // toJSON()'s steps is known: a saved optimizer's settings make it again.
    expect(makeOptimizer(makeOptimizer({ kind: 'adam', lr: 0.01 }).toJSON() as never).toJSON()).toEqual(makeOptimizer({ kind: 'adam', lr: 0.01 }).toJSON());
    expect(() => evaluateTokens(model, new Int32Array(100), undefined as never)).toThrow('evaluateTokens needs options: { numSteps, batchSize }');
    const bare = new RNNLM(model.config);
    expect(() => generate(bare, 'the', { numPreds: 5 })).toThrow('this model has no tokenizer (models from train() and RNNLM.load() have one)');
    expect(() => bare.save(path.join(dir, 'bare.safetensors'))).toThrow('save needs the tokenizer the model reads text with');
    bare.save(path.join(dir, 'bare.safetensors'), { tokenizer });
    expect(RNNLM.load(path.join(dir, 'bare.safetensors')).tokenizer!.kind).toBe('d2l');
  });
});

describe('optimizers from their specs', () => {
  it('makeOptimizer and the classes take the spec defaults and check what they are given', () => {
    expect(makeOptimizer({ kind: 'adamw', lr: 1e-3 }).toJSON()).toEqual({ kind: 'adamw', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, steps: 0 });
    expect(new SGD(2).toJSON()).toEqual({ kind: 'sgd', lr: 2, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, steps: 0 });
    expect(new Adam(0.01, [0.8, 0.9], 1e-6, 0, true).toJSON()).toMatchObject({ kind: 'adamw', betas: [0.8, 0.9], weightDecay: 0 });
    expect(new RMSprop(0.01).toJSON()).toMatchObject({ kind: 'rmsprop', alpha: 0.99, momentum: 0 });
    expect(() => makeOptimizer({ kind: 'lion' as never, lr: 1 })).toThrow('optimizer must be one of sgd|adam|adamw|rmsprop, got "lion"');
    expect(() => makeOptimizer({ kind: 'adam', lr: 1, momentum: 0.9 })).toThrow('momentum applies to optimizer sgd|rmsprop, not adam');
    expect(() => new SGD(0.1, -1)).toThrow('momentum must be a number >= 0, got -1');
    expect(() => new SGD(0.1, 0, 1 as never)).toThrow('nesterov must be true or false, got 1');
    expect(() => new SGD(0.1, 0, true)).toThrow('nesterov needs momentum above 0 (and no dampening)');
    expect(() => new Adam(0.1, [0.9, 1])).toThrow('betas must be two numbers in [0, 1), e.g. 0.9,0.999, got [0.9,1]');
  });

  it('the kinds and default rates are the specs\'', () => {
    expect(OPTIMIZERS).toEqual(Object.keys(OPTIMIZER_SPECS));
    expect(DEFAULT_LR).toEqual({ sgd: 2, adam: 0.001, adamw: 0.001, rmsprop: 0.01 });
    expect(optimizersWith('eps')).toEqual(['adam', 'adamw', 'rmsprop']);
  });

  it('a beta or alpha that float32 rounds to 1 steps as the float64 update does (before, NaN weights); an eps float32 loses is refused', () => {
    const rng = new Rng(5);
    const p0 = Float64Array.from({ length: 5000 }, () => rng.uniform() - 0.5);
    const g0 = Float64Array.from(p0, (x, i) => (i % 7 === 0 ? 0 : Math.sin(x * 9)));
    for (const settings of [{ kind: 'adam', lr: 0.01, betas: [0.9, 0.99999999] }, { kind: 'adam', lr: 0.01, betas: [0.99999999, 0.999] },
      { kind: 'rmsprop', lr: 0.01, alpha: 0.99999999 }] as const) {
      const native32 = makeOptimizer(settings as never), ref64 = makeOptimizer(settings as never);
      const p32 = Float32Array.from(p0), p64 = Float64Array.from(p32);
      for (let t = 0; t < 3; t++) {
        native32.step(p32, Float32Array.from(g0));
        ref64.step(p64, Float64Array.from(Float32Array.from(g0)));
      }
      let worst = 0;
      // (relative: RMSprop's steps here are some 1e4 times lr, its average of squares being 1e-8 of d^2)
      for (let i = 0; i < p32.length; i++) worst = Math.max(worst, Math.abs(p32[i]! - p64[i]!) / Math.max(1, Math.abs(p64[i]!)));
      expect(worst, JSON.stringify(settings)).toBeLessThan(1e-5);
    }
    expect(() => makeOptimizer({ kind: 'adam', lr: 0.01, eps: 1e-46 }))
      .toThrow('eps must be a positive number that float32 holds (1.4e-45 to 3.4e38), got 1e-46');
    // (one that float32 makes Infinity: every update 0, a run that trains nothing without a word)
    expect(() => makeOptimizer({ kind: 'adam', lr: 0.01, eps: 3.5e38 }))
      .toThrow('eps must be a positive number that float32 holds (1.4e-45 to 3.4e38), got 3.5e+38');
    expect(makeOptimizer({ kind: 'adam', lr: 0.01, eps: 3.4e38 })).toBeDefined();
  });

  it('step, lr and loadState check what they are given (before: NaN weights, a climb up the loss, state taken as given)', () => {
    const g = Float64Array.of(0.1, 0.1, 0.1);
    for (const p of [new Float64Array(3), new Float32Array(3)]) {
      expect(() => new Adam(0.1).step(p, new (p.constructor as Float64ArrayConstructor)(2)))
        .toThrow(`step(params, grads): grads must be a ${p.constructor.name} of 3 values as the weights, got an instance of ${p.constructor.name} of 2 values`);
    }
    expect(() => new SGD(1).step([1, 2] as never, [1, 2] as never)).toThrow('step(params, grads) needs the weights as a Float32Array or Float64Array');
    const sgd = new SGD(1);
    expect(() => (sgd.lr = -1)).toThrow('lr must be a finite number of 0 or more, got -1');
    expect(() => (sgd.lr = NaN)).toThrow('lr must be a finite number of 0 or more, got NaN');
    sgd.lr = 0.5;
    expect(sgd.toJSON().lr).toBe(0.5);
    const adam = new Adam(0.1);
    expect(() => adam.loadState(null as never, 1)).toThrow('loadState(state, steps) needs the buffers by name (state()), got null');
    expect(() => adam.loadState({}, -1)).toThrow('loadState: steps must be a whole number of 0 or more, got -1');
    expect(() => adam.loadState({}, 1.5)).toThrow('loadState: steps must be a whole number of 0 or more, got 1.5');
    expect(() => adam.loadState({ exp_avg: Float32Array.of(NaN, 0, 0) }, 3)).toThrow('loadState: exp_avg holds NaN at index 0: expected a finite number');
    expect(() => adam.loadState({ exp_avg_sq: Float32Array.of(0, -1, 0) }, 3)).toThrow('loadState: exp_avg_sq holds -1 at index 1: expected a finite number of 0 or more');
    expect(() => adam.loadState({ exp_avgs: Float32Array.of(0) }, 3)).toThrow('unknown');
    expect(() => adam.loadState({ exp_avg: 5 } as never, 3)).toThrow('loadState: exp_avg must be an array of numbers, got 5');
    expect(adam.steps).toBe(0);
    adam.loadState({ exp_avg: Float32Array.of(5, 5) }, 3);
    expect(() => adam.step(new Float32Array(3), new Float32Array(3)))
      .toThrow('the exp_avg that loadState gave holds 2 values, but the weights stepped hold 3: a state is of one model\'s weights');
    // one optimizer with state, two models' weights: refused (each moved by the other's moments)
    const shared = new Adam(0.1);
    const a = Float64Array.of(1, 2, 3), b = Float64Array.of(1, 2, 3);
    shared.step(a, g);
    shared.step(a, g);
    expect(() => shared.step(b, g)).toThrow('this adam optimizer\'s exp_avg is of the weights it stepped before, not these: give each model an optimizer of its own');
    expect(Array.from(b)).toEqual([1, 2, 3]);
    // a state loaded in its place is of whichever weights it steps next
    shared.loadState(shared.state() as Record<string, Float32Array>, shared.steps);
    shared.step(b, g);
    expect(shared.steps).toBe(3);
  });
});

describe('saveCheckpoint writes only what loadCheckpoint reads', () => {
  const tokenizer = Tokenizer.fit('d2l', 'hello world');
  const config = { cell: 'gru' as const, vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 };
  const meta = (over: Partial<CheckpointMeta> = {}): CheckpointMeta => ({
    version: FORMAT_VERSION, config, tokenizer: tokenizer.toJSON(),
    training: {
      corpus: ['x'], corpusSha1: 'abc', epochs: 2, batchSize: 2, numSteps: 3, numTrain: 4, numVal: 5, lr: 2, clip: 1, seed: 7,
      impl: 'native', skipNonFinite: false, batching: 'random', valFrac: null,
    },
    optimizer: { kind: 'sgd', lr: 2, steps: 0 }, state: initialState(new Rng(1)), history: [], ...over,
  });
  const epoch = (e: number) => ({
    epoch: e, trainLoss: 1, trainPpl: Math.E, valLoss: 1, valPpl: Math.E, valAcc: 0.5, tokensPerSec: 1, seconds: 1, skipped: 0, lr: 2, gradNorm: 1,
  });

  it('refuses a meta the reader would refuse, and leaves the file there intact', () => {
    const model = new RNNLM(config, new Rng(3));
    const file = path.join(dir, 'refused.safetensors');
    saveCheckpoint(file, model, meta());
    const good = readFileSync(file);
    const cases: [Partial<CheckpointMeta>, string][] = [
      [{ history: [epoch(1), epoch(2)] }, 'history has 2 epochs but state.epoch is 0'],
      [{ config: { ...config, vocabSize: config.vocabSize + 1 } }, `the tokenizer has ${config.vocabSize} tokens but the model's vocabSize is ${config.vocabSize + 1}`],
      [{ state: { ...initialState(new Rng(1)), batch: 9, tokens: 60, lossSum: 90 } }, 'state.batch 9 is past the end of an epoch of 2 batches'],
      [{ optimizer: { kind: 'sgd', lr: -1, steps: 0 } }, 'optimizer.lr is -1, not a valid number'],
      // Values no run writes: a perplexity below 1, a negative loss, windows longer than the settings allow.
      [{ history: [{ ...epoch(1), valPpl: -5 }], state: { ...initialState(new Rng(1)), epoch: 1 } }, 'history[0].valPpl is -5, not a valid number'],
      [{ history: [{ ...epoch(1), trainLoss: -0.5 }], state: { ...initialState(new Rng(1)), epoch: 1 } }, 'history[0].trainLoss is -0.5, not a valid number'],
      [{ training: { ...meta().training, numSteps: 1e9 } }, 'training.numSteps is 1000000000, not a valid number'],
    ];
    for (const [over, message] of cases) {
      expect(() => saveCheckpoint(file, model, meta(over))).toThrow(`not saving checkpoint ${file}: ${message}`);
      expect(readFileSync(file).equals(good)).toBe(true);
    }
    const nan = new RNNLM(config, new Rng(3));
    nan.params[5] = NaN;
    expect(() => saveCheckpoint(file, nan, meta())).toThrow(`not saving checkpoint ${file}: tensor "rnn.weight_ih_l0" has a non-finite value (NaN) at index 5`);
    expect(readFileSync(file).equals(good)).toBe(true);
  });

  it('a checkpoint with only some of the training parts is refused', () => {
    const model = new RNNLM(config, new Rng(3));
    const t = new Map(model.parameters().map((p) => [p.name, { shape: p.shape, data: p.data }]));
    const file = path.join(dir, 'partial.safetensors');
    const { training: _t, optimizer: _o, ...rest } = meta();
    writeFileSync(file, encodeSafetensors(t, { deeprnn: JSON.stringify(rest) }));
    expect(() => loadCheckpoint(file)).toThrow(`checkpoint ${file}: no training settings`);
  });
});

describe('the lower-level classes check what they are given', () => {
  it('a token the stepper cannot feed, a negative learning rate, a bad epoch count or clip, a model too large to allocate', () => {
    const m = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [4], dropout: 0 }, new Rng(1));
    const st = m.stepper();
    for (const t of [1.5, NaN, 5, -1]) expect(() => st.feed(t)).toThrow(`feed: the token must be an id from 0 to 4, got ${t}`);
    // a string is shown as one (before, '1' read "got 1")
    expect(() => st.feed('1' as never)).toThrow('feed: the token must be an id from 0 to 4, got "1"');
    expect(st.feed(4)).toHaveLength(5);
    expect(() => new SGD(-1)).toThrow('lr must be a finite number of 0 or more, got -1');
    expect(() => makeOptimizer({ kind: 'adam' } as Parameters<typeof makeOptimizer>[0])).toThrow('lr must be a finite number of 0 or more, got nothing (undefined)');
    expect(() => new Trainer({ epochs: -1, clip: 1 })).toThrow('epochs must be a whole number of 0 or more, got -1');
    expect(() => new Trainer({ epochs: 1, clip: NaN })).toThrow('clip must be a number of 0 or more (0 or Infinity: off), got NaN');
    // A string is shown as one (before: "got 1" for clip '1', which read as a number refused).
    expect(() => new Trainer({ epochs: 1, clip: '1' as never })).toThrow('clip must be a number of 0 or more (0 or Infinity: off), got "1"');
    expect(() => new Trainer({ epochs: '2' as never, clip: 1 })).toThrow('epochs must be a whole number of 0 or more, got "2"');
    // precision is checked when set (before: 42 reached the addon, whose error said got "", and null ran as fp32).
    for (const [p, shown] of [[42, '42'], [null, 'null'], ['BF16', '"BF16"']] as const) {
      expect(() => { m.precision = p as never; }).toThrow(`precision must be one of fp32|bf16, got ${shown}`);
    }
    expect(m.precision).toBe('fp32');
    m.precision = 'bf16';
    expect(m.precision).toBe('bf16');
    m.precision = 'fp32';
    expect(() => new Trainer({ epochs: 1, clip: 1, clipMode: 'zzz' as never })).toThrow('clipMode must be norm or value, got "zzz"');
    expect(() => new Trainer({ epochs: 1, clip: 1, onEpoch: 5 as never })).toThrow('onEpoch must be a function, got 5');
    // save: a path that names a directory, a tokenizer that is not one
    const tk = Tokenizer.fit('char', 'abcd');
    expect(() => m.save(path.join(dir, 'x') + '/', { tokenizer: tk })).toThrow(`save needs a file path, got ${JSON.stringify(path.join(dir, 'x') + '/')}`);
    expect(existsSync(path.join(dir, 'x'))).toBe(false);
    expect(() => m.save(path.join(dir, 'y.safetensors'), { tokenizer: { kind: 'char' } as never })).toThrow('save: tokenizer must be a Tokenizer');
    expect(() => new RNNLM({ cell: 'gru', vocabSize: 28, hidden: [1_000_000, 1_000_000], dropout: 0 }))
      .toThrow('a model of 9,000,124,000,028 parameters needs 65.5 TiB for its weights and gradients: more than this process can allocate');
  });

  it('a batch, an rng, option keys and text that are not what they should be are named, not met as a TypeError inside', () => {
    const cfg = { cell: 'lstm' as const, vocabSize: 10, hidden: [8, 8], dropout: 0 };
    const m = new RNNLM(cfg, new Rng(1));
    const batch = { T: 3, N: 2, inputs: new Int32Array(6).fill(1), targets: new Int32Array(6).fill(2) };
    expect(() => m.evaluate(null as never)).toThrow('evaluate: the batch must be {T, N, inputs, targets} (a DataModule\'s batch, or one made the same way), got null');
    expect(() => m.forward({ ...batch, T: '3' } as never, { train: true })).toThrow('forward: batch.T must be an integer from 1 to 2147483647, got "3"');
    // forward without options evaluates: no gradients, and its loss is evaluate()'s
    m.zeroGrad();
    expect(m.forward(batch)).toBeCloseTo(m.evaluate(batch).lossSum / 6, 12);
    expect(m.grads.every((g) => g === 0)).toBe(true);
    expect(() => m.backward()).toThrow();
    expect(() => new RNNLM(cfg, 42 as never)).toThrow('new RNNLM(config, rng): rng must be an Rng (new Rng(seed)), got 42');
    expect(() => new RNNLM({ ...cfg, hiden: [4] } as never)).toThrow('new RNNLM(config): unknown option hiden (did you mean hidden?)');
    const { hidden: _h, ...noHidden } = cfg;  // the misspelt key named even when the right one is missing
    expect(() => new RNNLM({ ...noHidden, hiden: [4] } as never)).toThrow('new RNNLM(config): unknown option hiden (did you mean hidden?)');
    expect(() => new Trainer({ epochs: 1, clip: 1, clipp: 2 } as never)).toThrow('new Trainer(opts): unknown option clipp (did you mean clip?)');
    expect(() => new Trainer({ epochs: 1, clip: 1, threads: 0 })).toThrow('threads must be a whole number from 1 to 1024, got 0');
    expect(() => new Trainer(null as never)).toThrow('new Trainer(opts) needs options { epochs, clip, ... }, got null');
    expect(() => Tokenizer.fit('char', 'abc').encode(null as never)).toThrow('the text to tokenize must be a string, got null');
  });

  it('setCarriedState takes the arrays carriedState gives, checked whole before any is set', () => {
    const m = new RNNLM({ cell: 'lstm', vocabSize: 10, hidden: [8, 4], dropout: 0 }, new Rng(1));
    const good = [new Float32Array(16).fill(0.25), new Float32Array(8), new Float32Array(16), new Float32Array(8).fill(-0.5)];
    m.setCarriedState(good, 2);
    expect(m.carriedState()).toEqual(good);
    const refused: [unknown[] | null, number, string][] = [
      [good.slice(0, 1), 2, 'setCarriedState: the state must be 4 Float32Arrays (h of layer 0, h of layer 1, c of layer 0, c of layer 1), got an array of 1'],
      [null, 2, 'setCarriedState: the state must be 4 Float32Arrays (h of layer 0, h of layer 1, c of layer 0, c of layer 1), got null'],
      [[good[0], new Float32Array(3), good[2], good[3]], 2, 'setCarriedState: h of layer 1 must be a Float32Array of N x 4 = 8 values, got 3 values'],
      [[good[0], good[1], [0, 0] as never, good[3]], 2, 'setCarriedState: c of layer 0 must be a Float32Array of N x 8 = 16 values, got an array of 2'],
      [[good[0], good[1], good[2], new Float32Array(8).fill(NaN)], 2, 'setCarriedState: c of layer 1 holds NaN at index 0; a state must be finite'],
      [good, NaN, 'setCarriedState: N (the batch width) must be an integer from 1 to 2147483647, got NaN'],
    ];
    for (const [state, N, message] of refused) expect(() => m.setCarriedState(state as never, N)).toThrow(message);
    expect(m.carriedState()).toEqual(good);  // the state before the refusals stays
  });

  it('a vocabulary holds only tokens its tokenizer makes (and <unk>); every fitted one does', () => {
    // CRLF and tabs, combining marks, a joined emoji, a zero-width joiner, a lone surrogate, line and paragraph separators
    const odd = 'a\r\nb\tc  e\u0301 cafe\u0301 \u{1F468}\u200d\u{1F469} \u{1F389}! x\u200dy na\u00efve \u2014 "q" it\'s... \ud800 \u00a0 \u2028 \u2029 AB12 3.5e-3 foo_bar';
    for (const text of [readFileSync(TIMEMACHINE, 'utf8'), odd]) {
      for (const kind of ['d2l', 'char', 'word'] as const) {
        const t = Tokenizer.fit(kind, text);
        expect(tokenizerFromJSON(t.toJSON()).vocab.tokens).toEqual(t.vocab.tokens);
      }
    }
    expect(() => tokenizerFromJSON({ kind: 'char', tokens: ['<unk>', 'ab'] }))
      .toThrow('tokenizer: the char tokenizer never makes the token "ab" of its vocabulary (its tokens are single characters)');
    expect(() => tokenizerFromJSON({ kind: 'd2l', tokens: ['<unk>', 'A'] }))
      .toThrow('tokenizer: the d2l tokenizer never makes the token "A" of its vocabulary (its tokens are the letters a to z and the space)');
    expect(() => tokenizerFromJSON({ kind: 'word', tokens: ['<unk>', 'a b'] }))
      .toThrow('tokenizer: the word tokenizer never makes the token "a b" of its vocabulary (its tokens are words and punctuation marks, without spaces)');
    expect(() => tokenizerFromJSON({ kind: 'word', tokens: ['<unk>', ''] })).toThrow('never makes the token ""');
  });
});

describe('the model keeps what it was made with, checked', () => {
  it('a config object changed after the model was made changes nothing: the model keeps a frozen copy', () => {
    const cfg = { cell: 'lstm' as const, vocabSize: 7, hidden: [4, 3], dropout: 0 };
    const a = new RNNLM(cfg, new Rng(1));
    const batch = { T: 3, N: 2, inputs: Int32Array.from([0, 1, 2, 3, 4, 5]), targets: Int32Array.from([1, 2, 3, 4, 5, 6]) };
    const before = a.forward(batch, { train: false });
    (cfg as { cell: string }).cell = 'gru';
    cfg.hidden.push(5);
    const b = new RNNLM(cfg, new Rng(1));
    expect(a.config).toEqual({ cell: 'lstm', vocabSize: 7, hidden: [4, 3], dropout: 0 });
    expect(b.config.cell).toBe('gru');
    expect(a.forward(batch, { train: false })).toBe(before);
    expect(Object.isFrozen(a.config) && Object.isFrozen(a.config.hidden)).toBe(true);
  });

  it('refuses numbers given as strings and lists with holes, naming the field', () => {
    expect(() => new RNNLM({ cell: 'gru', vocabSize: '28' as never, hidden: [4], dropout: 0 }))
      .toThrow(`config.vocabSize must be an integer from 2 to ${Number.MAX_SAFE_INTEGER}, got "28"`);
    expect(() => new RNNLM({ cell: 'gru', vocabSize: 28, hidden: [4], dropout: '0.5' as never })).toThrow('config.dropout must be a number in [0, 1), got "0.5"');
    // eslint-disable-next-line no-sparse-arrays
    expect(() => new RNNLM({ cell: 'gru', vocabSize: 28, hidden: [4, , 3] as number[], dropout: 0 })).toThrow('config.hidden must be a list of 1 to 64 integers');
    expect(() => new RNNLM({ cell: 'gru', vocabSize: 28, hidden: ['4'] as never, dropout: 0 })).toThrow('config.hidden must be a list of 1 to 64 integers');
  });

  it('loadStateDict refuses values that are not finite numbers, naming the tensor and index, and leaves the model as it was', () => {
    const m = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [3], dropout: 0 }, new Rng(1));
    const before = Float32Array.from(m.params);
    const state = Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, Array.from(v, (x) => x + 1)]));
    const bias = 'rnn.bias_hh_l0';
    // (1e39 is finite as a double but Infinity as a float32 weight)
    for (const bad of [NaN, Infinity, 1e39, 'oops']) {
      const s = { ...state, [bias]: state[bias]!.map((x, i) => (i === 2 ? bad : x)) as number[] };
      expect(() => m.loadStateDict(s))
        .toThrow(`parameter "${bias}" holds ${typeof bad === 'string' ? '"oops"' : bad} at index 2: every weight must be a finite number within float32's range`);
      expect(m.params).toEqual(before);
    }
    m.loadStateDict(state);
    expect(m.params[0]).toBe(Math.fround(before[0]! + 1));
  });

  it('loadStateDict reads every value before it writes: two parameters swapped through stateDict()\'s views', () => {
    // (before, copied in place one by one: both ended as the old second one)
    for (const M of [RNNLM, RNNLMScratch]) {
      const m = new M({ cell: 'gru', vocabSize: 5, hidden: [3], dropout: 0 }, new Rng(1));
      const sd = m.stateDict();
      const ih = Array.from(sd['rnn.bias_ih_l0']!), hh = Array.from(sd['rnn.bias_hh_l0']!);
      expect(ih).not.toEqual(hh);
      m.loadStateDict({ ...sd, 'rnn.bias_ih_l0': sd['rnn.bias_hh_l0']!, 'rnn.bias_hh_l0': sd['rnn.bias_ih_l0']! });
      expect(Array.from(m.param('rnn.bias_ih_l0'))).toEqual(hh);
      expect(Array.from(m.param('rnn.bias_hh_l0'))).toEqual(ih);
    }
  });

  it('a model whose weights were transferred away is named as such by every use', () => {
    const m = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [3], dropout: 0 }, new Rng(1));
    const tk = Tokenizer.fit('char', 'abcd');
    structuredClone(m.params.buffer, { transfer: [m.params.buffer] });
    const detached = 'this model\'s weights were transferred away (their ArrayBuffer is detached): the model cannot be used';
    expect(() => m.stateDict()).toThrow(detached);
    expect(() => m.save(path.join(dir, 'gone.safetensors'), { tokenizer: tk })).toThrow(detached);
    expect(() => generate(m, tk, 'ab', { numPreds: 2 })).toThrow(detached);
    expect(() => m.forward({ T: 1, N: 1, inputs: Int32Array.of(0), targets: Int32Array.of(1) }, { train: true })).toThrow(detached);
    expect(() => m.evaluate({ T: 1, N: 1, inputs: Int32Array.of(0), targets: Int32Array.of(1) })).toThrow(detached);
    expect(existsSync(path.join(dir, 'gone.safetensors'))).toBe(false);
    // Its gradients alone, likewise (zeroGrad said "Cannot perform %TypedArray%.prototype.fill
    // on a detached ArrayBuffer", generate "Cannot perform Construct on a detached ArrayBuffer").
    const g = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [3], dropout: 0 }, new Rng(1));
    structuredClone(g.grads.buffer, { transfer: [g.grads.buffer] });
    const gone = 'this model\'s gradients were transferred away (their ArrayBuffer is detached): the model cannot be used';
    expect(() => g.zeroGrad()).toThrow(gone);
    expect(() => generate(g, tk, 'ab', { numPreds: 2 })).toThrow(gone);
    expect(() => g.forward({ T: 1, N: 1, inputs: Int32Array.of(0), targets: Int32Array.of(1) }, { train: true })).toThrow(/gradients were transferred away|option "grads" is a detached Float32Array/);
  });

  it('a tokenizer of an unknown kind, a vocabulary that is not one, a minFreq that is not a whole number are refused', () => {
    expect(() => Tokenizer.fit('chars' as never, 'abc')).toThrow('the tokenizer kind must be one of d2l|char|word, got "chars"');
    expect(() => new Tokenizer('char', undefined as never)).toThrow('a Tokenizer needs a Vocab (Tokenizer.fit makes both), got nothing (undefined)');
    expect(() => Tokenizer.fit('word', 'a b a', NaN)).toThrow('minFreq must be an integer from 1 to');
    expect(() => Tokenizer.fit('word', 'a b a', '2' as never)).toThrow(`minFreq must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}, got "2"`);
    expect(() => Tokenizer.fit('char', 'abc', 2)).toThrow('minFreq applies to the word tokenizer only, got 2 with char');
    expect(() => Tokenizer.fit('char', 5 as never)).toThrow('Tokenizer.fit needs the text as a string, got 5');
    const m = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [3], dropout: 0 }, new Rng(1));
    expect(() => generate(m, { kind: 'char' } as never, 'ab', { numPreds: 3 }))
      .toThrow('generate\'s second argument must be a Tokenizer (Tokenizer.fit, Tokenizer.fromJSON or a model\'s tokenizer) or the prefix, got an object with keys kind');
    // a model passed in its place is named, not printed whole
    expect(() => generate(m, m as never, 'ab', { numPreds: 3 })).toThrow(/or the prefix, got an instance of RNNLM$/);
  });

  it('an Rng refuses a seed that is not a whole number from 0 to 2^32 - 1 (it would alias another seed)', () => {
    for (const seed of [NaN, -1, 1.5, 2 ** 32, 2 ** 64 - 1]) {
      expect(() => new Rng(seed)).toThrow(`an Rng's seed must be an integer from 0 to 4294967295, got ${seed}`);
    }
    expect(new Rng(2 ** 32 - 1).nextU32()).not.toBe(new Rng(0).nextU32());
  });

  it('save refuses, naming it, a file name too long for the temporary file written beside it', () => {
    const m = new RNNLM({ cell: 'gru', vocabSize: 4, hidden: [3], dropout: 0 }, new Rng(1));
    const tk = Tokenizer.fit('char', 'abc');
    const name = `${'q'.repeat(238)}.safetensors`;
    expect(() => m.save(path.join(dir, name), { tokenizer: tk })).toThrow(new RegExp(`^cannot write .*${name}: its name is 250 bytes, and the temporary file written beside it first \\(\\.NAME\\.tmp-PID\\) needs \\d+; file systems take names of at most 255 bytes: use a name of at most \\d+ bytes$`));
    m.save(path.join(dir, `${'q'.repeat(200)}.safetensors`), { tokenizer: tk });
  });
});

describe('Trainer.watchStop', () => {
  it('stops after the batch in which another thread set the flag, with the signal it names; refuses a flag it cannot share', async () => {
    const { makeDataModule } = await import('../../src/data/datamodule.js');
    const tok = Tokenizer.fit('d2l', TEXT);
    const tokens = tok.encode(TEXT);
    for (const [value, signal] of [[1, 'SIGINT'], [2, 'SIGTERM'], [7, null]] as const) {
      const m = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(1));
      const dm = makeDataModule(tokens, { numSteps: 8, batchSize: 10, numTrain: 200, numVal: 50 });
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const t = new Trainer({ epochs: 3, clip: 1, onBatch: (done) => { if (done === 4) Atomics.store(flag, 0, value); } });
      t.watchStop(flag);
      const state = initialState(new Rng(2));
      const r = await t.fit(m, dm, new SGD(0.5), new Rng(2), state);
      expect(r.stopped).toBe(true);
      expect([state.epoch, state.batch]).toEqual([0, 4]);
      expect(t.stopSignal).toBe(signal);
    }
    // Set during an epoch's end (validation, its hooks): the run ends there, not a batch into the next epoch.
    const m = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(1));
    const dm = makeDataModule(tokens, { numSteps: 8, batchSize: 10, numTrain: 200, numVal: 50 });
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const atEnd = new Trainer({ epochs: 3, clip: 1, onEpoch: () => Atomics.store(flag, 0, 1) });
    atEnd.watchStop(flag);
    const state = initialState(new Rng(2));
    expect((await atEnd.fit(m, dm, new SGD(0.5), new Rng(2), state)).stopped).toBe(true);
    expect([state.epoch, state.batch, atEnd.history.length]).toEqual([1, 0, 1]);
    // Set at the last epoch's end: the run is complete, nothing was cut short.
    const last = new Trainer({ epochs: 1, clip: 1, onEpoch: () => Atomics.store(flag, 0, 1) });
    flag[0] = 0;
    last.watchStop(flag);
    const done = initialState(new Rng(2));
    expect(await last.fit(m, dm, new SGD(0.5), new Rng(2), done)).toEqual({ stopped: false });
    expect(done.epoch).toBe(1);
    const t = new Trainer({ epochs: 1, clip: 1 });
    const refused = 'watchStop needs an Int32Array of at least one element on a SharedArrayBuffer';
    expect(() => t.watchStop(new Int32Array(1))).toThrow(refused);
    expect(() => t.watchStop(new Int32Array(new SharedArrayBuffer(0)))).toThrow(refused);
    expect(() => t.watchStop(new Uint32Array(new SharedArrayBuffer(4)) as unknown as Int32Array)).toThrow(refused);
  });
});

describe('Trainer and weights that become non-finite', () => {
  it('leaves them as they were before the update, for a large model and then a smaller one fit by the same trainer', async () => {
    const { makeDataModule } = await import('../../src/data/datamodule.js');
    const tok = Tokenizer.fit('d2l', TEXT);
    const dm = makeDataModule(tok.encode(TEXT), { numSteps: 8, batchSize: 10, numTrain: 40, numVal: 20 });
    // An update that changes every weight and makes the last one infinite, from finite gradients.
    const breaking = new SGD(0.1);
    breaking.step = (params) => { for (let i = 0; i < params.length; i++) params[i]! += 1; params[params.length - 1] = Infinity; };
    breaking.stepChecked = () => null;  // the update in turns: backup, step, check
    // Plain SGD's one pass (its backup is the native one's), then a weight made infinite.
    const fused = new SGD(0.1);
    const real = fused.stepChecked.bind(fused);
    expect(real(new Float32Array(8), new Float32Array(8), new Float32Array(8), 1)).toBeNull();  // small: in turns
    fused.stepChecked = (params, grads, backup, scale) => {
      expect(real(params, grads, backup, scale)).toBe(true);
      params[params.length >> 1] = -Infinity;
      return false;
    };
    const t = new Trainer({ epochs: 1, clip: 1, skipNonFinite: true });
    for (const [hidden, optimizer] of [[128, breaking], [8, breaking], [128, fused]] as const) {  // 128: over 32K parameters, so that the backup is copied natively
      const m = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [hidden], dropout: 0 }, new Rng(1));
      if (hidden === 128) expect(m.params.length).toBeGreaterThan(1 << 15);
      const before = m.params.slice();
      const state = initialState(new Rng(2));
      expect(await t.fit(m, dm, optimizer, new Rng(2), state)).toEqual({ stopped: false });
      expect(t.history.at(-1)!.skipped).toBe(dm.numTrainBatches);
      expect(m.params).toEqual(before);
      t.history.length = 0;
    }
  });
});

describe('Trainer.fit', () => {
  it('refuses arguments that are not a model, a DataModule, an Optimizer and an Rng, and a model another fit() is training', async () => {
    // Before: TypeErrors from inside (reading 'numTrainBatches' of null, optimizer.step is not a
    // function, rng.state is not a function), and two fits of one model ran interleaved.
    const { makeDataModule } = await import('../../src/data/datamodule.js');
    const tok = Tokenizer.fit('d2l', TEXT);
    const dm = makeDataModule(tok.encode(TEXT), { numSteps: 8, batchSize: 10, numTrain: 40, numVal: 20 });
    const m = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(1));
    const t = new Trainer({ epochs: 1, clip: 1 });
    await expect(t.fit({} as never, dm, new SGD(1), new Rng(2))).rejects.toThrow('fit(model, ...) needs a model (an RNNLM or RNNLMScratch), got an empty object');
    await expect(t.fit(m, null as never, new SGD(1), new Rng(2))).rejects.toThrow('fit(model, data, ...) needs a DataModule (WindowDataModule, SequentialDataModule or makeDataModule\'s), got null');
    await expect(t.fit(m, dm, {} as never, new Rng(2))).rejects.toThrow('fit(model, data, optimizer, ...) needs an Optimizer (SGD, Adam, RMSprop or makeOptimizer\'s), got an empty object');
    await expect(t.fit(m, dm, new SGD(1), 42 as never)).rejects.toThrow('fit(model, data, optimizer, rng) needs an Rng, got 42');
    const first = t.fit(m, dm, new SGD(1), new Rng(2));
    await expect(new Trainer({ epochs: 1, clip: 1 }).fit(m, dm, new SGD(1), new Rng(2)))
      .rejects.toThrow('fit(model, ...): this model is being trained by another fit() or fitEpoch() that has not ended');
    expect(await first).toEqual({ stopped: false });
    // once it has ended, the model may be fit again
    expect(await new Trainer({ epochs: 1, clip: 1 }).fit(m, dm, new SGD(1), new Rng(2))).toEqual({ stopped: false });
  });

  it('fitEpoch on its own is a run as fit is: the trainer\'s threads, else the process\'s count, put back at its end (before, 1 thread, and the process left at it)', async () => {
    const { makeDataModule } = await import('../../src/data/datamodule.js');
    const tok = Tokenizer.fit('d2l', TEXT);
    const dm = makeDataModule(tok.encode(TEXT), { numSteps: 8, batchSize: 10, numTrain: 40, numVal: 20 });
    const m = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(1));
    const nat = native();
    const before = nat.info().threads;
    const two = Math.min(2, os.availableParallelism());
    nat.setThreads(two);
    const seen = new Set<number>();
    const trainChunks = nat.lmTrainChunks.bind(nat), evalChunks = nat.lmEvalChunks.bind(nat);
    const spies = [
      vi.spyOn(nat, 'lmTrainChunks').mockImplementation((o) => (seen.add(nat.info().threads), trainChunks(o))),
      vi.spyOn(nat, 'lmEvalChunks').mockImplementation((o) => (seen.add(nat.info().threads), evalChunks(o))),
    ];
    try {
      const rng = new Rng(2);
      const metrics = await new Trainer({ epochs: 1, clip: 1 }).fitEpoch(m, dm, new SGD(1), rng, initialState(rng));
      expect(metrics?.epoch).toBe(1);
      expect([...seen]).toEqual([two]);
      expect(nat.info().threads).toBe(two);
      seen.clear();
      await new Trainer({ epochs: 1, clip: 1, threads: 1 }).fitEpoch(m, dm, new SGD(1), rng, initialState(rng));
      expect([...seen]).toEqual([1]);
      expect(nat.info().threads).toBe(two);
    } finally {
      for (const spy of spies) spy.mockRestore();
      nat.setThreads(before);
    }
    // Its arguments are checked, and named, as fit's.
    const t = new Trainer({ epochs: 1, clip: 1 });
    await expect(t.fitEpoch(m, dm, new SGD(1), null as never, {} as never)).rejects.toThrow('fitEpoch(model, data, optimizer, rng) needs an Rng, got null');
    await expect(t.fitEpoch(m, dm, new SGD(1), new Rng(2), {} as never)).rejects.toThrow('fitEpoch(..., state): state lacks epoch, batch');
    const fitting = t.fit(m, dm, new SGD(1), new Rng(2));
    await expect(t.fitEpoch(m, dm, new SGD(1), new Rng(3), initialState(new Rng(3))))
      .rejects.toThrow('fitEpoch(model, ...): this model is being trained by a fit() or fitEpoch() that has not ended');
    expect(await fitting).toEqual({ stopped: false });
  });

  it('one run at a time per Trainer: a second fit() of another model is refused, and runs one after the other', async () => {
    // (before, two fits at once each read the other model's epochs for their early stop)
    const { makeDataModule } = await import('../../src/data/datamodule.js');
    const tok = Tokenizer.fit('d2l', TEXT);
    const dm = makeDataModule(tok.encode(TEXT), { numSteps: 8, batchSize: 10, numTrain: 40, numVal: 20 });
    const model = (seed: number) => new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [8], dropout: 0 }, new Rng(seed));
    const t = new Trainer({ epochs: 1, clip: 1, earlyStop: 1 });
    const first = t.fit(model(1), dm, new SGD(1), new Rng(2));
    const want = 'this Trainer is running a fit() or fitEpoch() that has not ended';
    const rng = new Rng(3);
    // (both asked before the first has run on: it ends at its first turn of the event loop)
    const second = t.fit(model(2), dm, new SGD(1), new Rng(2));
    const third = t.fitEpoch(model(3), dm, new SGD(1), rng, initialState(rng));
    await expect(second).rejects.toThrow(`fit(...): ${want}`);
    await expect(third).rejects.toThrow(`fitEpoch(...): ${want}`);
    expect(await first).toEqual({ stopped: false });
    expect(await t.fit(model(2), dm, new SGD(1), new Rng(2))).toEqual({ stopped: false });
    expect(t.history).toHaveLength(2);
  });

  it('keeps copies of its options and of a data module\'s: the caller\'s objects changed afterwards change nothing', async () => {
    // (before, both kept the caller's object: one reused for a second module changed the first's batches,
    // batchSize 0 made endless empty batches, and earlyStop -1 ended a run after one epoch)
    const { WindowDataModule, SequentialDataModule } = await import('../../src/data/datamodule.js');
    const tokens = Tokenizer.fit('d2l', TEXT).encode(TEXT);
    for (const Data of [WindowDataModule, SequentialDataModule]) {
      const o = { numSteps: 8, batchSize: 16, numTrain: 400, numVal: 200 };
      const d = new Data(tokens, o);
      const batches = d.numTrainBatches;
      o.numSteps = 20;
      o.batchSize = 0;
      expect(d.numTrainBatches).toBe(batches);
      expect(d.opts).toEqual({ numSteps: 8, batchSize: 16, numTrain: 400, numVal: 200 });
      const shapes = [...d.trainBatches(new Rng(1), 0)].map((b) => `${b.T}x${b.N}`);
      expect(shapes).toHaveLength(batches);
      expect(new Set(shapes)).toEqual(new Set(['8x16']));
    }
    const opts = { epochs: 3, clip: 1, earlyStop: 2 };
    const t = new Trainer(opts);
    opts.earlyStop = -1;
    opts.epochs = 1;
    expect(t.opts.earlyStop).toBe(2);
    expect(t.opts.epochs).toBe(3);
  });
});

describe('Trainer and plain SGD in one pass', () => {
  it('gives the weights and step count of the passes in turn, with clipping at work; a step() of its own is the one run', async () => {
    const { makeDataModule } = await import('../../src/data/datamodule.js');
    const tok = Tokenizer.fit('d2l', TEXT);
    const dm = makeDataModule(tok.encode(TEXT), { numSteps: 8, batchSize: 10, numTrain: 60, numVal: 20 });
    const run = async (optimizer: SGD) => {
      const m = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [128], dropout: 0 }, new Rng(1));
      const norms: number[] = [];
      const t = new Trainer({ epochs: 2, clip: 0.05, onEpoch: (e) => norms.push(e.gradNorm) });
      await t.fit(m, dm, optimizer, new Rng(2));
      return { m, norms, steps: optimizer.steps };
    };
    const fused = new SGD(1.5);
    let called = 0;
    const real = fused.stepChecked.bind(fused);
    fused.stepChecked = (...a) => { const r = real(...a); if (r !== null) called++; return r; };
    const inTurn = new SGD(1.5);
    inTurn.stepChecked = () => null;
    const [a, b] = [await run(fused), await run(inTurn)];
    expect(called).toBe(2 * dm.numTrainBatches);
    expect(a.norms.every((n) => n > 0.05)).toBe(true);  // every step clipped
    expect(Buffer.from(a.m.params.buffer).equals(Buffer.from(b.m.params.buffer))).toBe(true);
    expect([a.steps, a.norms]).toEqual([b.steps, b.norms]);
    // A subclass's step (or a wrapper of it) is what runs, not the one pass.
    class Counting extends SGD {
      count = 0;
      override step(params: Float32Array | Float64Array, grads: Float32Array | Float64Array): void {
        this.count++;
        super.step(params, grads);
      }
    }
    const counting = new Counting(1.5);
    const c = await run(counting);
    expect(counting.count).toBe(2 * dm.numTrainBatches);
    expect(Buffer.from(c.m.params.buffer).equals(Buffer.from(b.m.params.buffer))).toBe(true);
  });

  it('clipGradients clips the gradients as they are: a second call leaves clipped gradients as they are', async () => {
    const tok = Tokenizer.fit('d2l', TEXT);
    const { makeDataModule } = await import('../../src/data/datamodule.js');
    const dm = makeDataModule(tok.encode(TEXT), { numSteps: 8, batchSize: 10, numTrain: 20, numVal: 20 });
    const m = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [16], dropout: 0 }, new Rng(1));
    const batch = dm.trainBatches(new Rng(3), 0).next().value!;
    m.zeroGrad();
    m.forward(batch, { train: true });
    m.backward();
    const t = new Trainer({ epochs: 1, clip: 0.01 });
    expect(t.clipGradients(m)).toBeGreaterThan(0.01);
    const once = Float32Array.from(m.grads);
    expect(t.clipGradients(m)).toBeCloseTo(0.01, 6);
    expect(m.grads).toEqual(once);
  });

  it('update after clipGradients steps by the clipped gradients once, as the float64 model does', () => {
    // (before, update read the native model's sum of squares from the step, of the grads before
    // clipping, and clipped them again: a step some ten times too short)
    const cfg = { cell: 'gru' as const, vocabSize: 7, hidden: [6], dropout: 0 };
    const r = new Rng(2);
    const draw = () => Int32Array.from({ length: 12 }, () => r.nextU32() % 7);
    const batch = { T: 4, N: 3, inputs: draw(), targets: draw() };
    for (const M of [RNNLM, RNNLMScratch]) {
      const m = new M(cfg, new Rng(1));
      const before = Float64Array.from(m.params);
      const t = new Trainer({ epochs: 1, clip: 0.05 });
      m.zeroGrad();
      m.forward(batch, { train: true });
      m.backward();
      expect(t.clipGradients(m)).toBeGreaterThan(0.05);
      const { norm, bad } = t.update(m, new SGD(1));
      expect(bad).toBeNull();
      expect(norm).toBeCloseTo(0.05, 6);
      let step = 0;
      for (let i = 0; i < m.params.length; i++) step += (m.params[i]! - before[i]!) ** 2;
      expect(Math.sqrt(step)).toBeCloseTo(0.05, 5);
    }
  });
});

describe('train(text, { out })', () => {
  it('names out by its key when another live process holds the lock', async () => {
    const out = path.join(dir, 'locked.safetensors');
    // pid 1 is alive; a lock without a start time is taken to be its own
    writeFileSync(`${out}.lock`, JSON.stringify({ pid: 1 }));
    await expect(train(TEXT, { ...TINY, out })).rejects.toThrow(
      `out ${out} is in use by another deeprnn process (pid 1): wait for it to finish or choose another path (lock file ${out}.lock)`
      // (it may be another process that got the pid since: the way out is named)
      + `; the lock file does not record when its process started, so if pid 1 is no deeprnn process, remove ${out}.lock`);
    expect(existsSync(out)).toBe(false);
  });
});

describe('evaluateTokens', () => {
  it('refuses steps or a batch size that are not whole numbers of 1 or more, and a text of one token', () => {
    const m = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [4], dropout: 0 }, new Rng(1));
    const tokens = Int32Array.from({ length: 50 }, (_, i) => i % 5);
    expect(() => evaluateTokens(m, tokens, { numSteps: NaN, batchSize: 4 })).toThrow('numSteps must be a whole number of 1 or more, got NaN');
    expect(() => evaluateTokens(m, tokens, { numSteps: 4, batchSize: 0 })).toThrow('batchSize must be a whole number of 1 or more, got 0');
    expect(() => evaluateTokens(m, tokens, { numSteps: 4, batchSize: -3 })).toThrow('batchSize must be a whole number of 1 or more, got -3');
    expect(() => evaluateTokens(m, tokens.subarray(0, 1), { numSteps: 4, batchSize: 4 })).toThrow('the text has 1 token; evaluation needs at least 2');
    const r = evaluateTokens(m, tokens, { numSteps: 4, batchSize: 4 });
    expect(r.tokens).toBe(49);
    expect(Number.isFinite(r.perplexity)).toBe(true);
  });
});
