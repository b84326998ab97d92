// safetensors encoding and the checkpoint format: round trips, atomic writes,
// and a clear error for each way a file can be wrong.
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { carryNames, FORMAT_VERSION, loadCheckpoint, loadTrainingCheckpoint, saveCheckpoint, type CheckpointMeta } from '../../src/io/checkpoint.js';
import { writeFileAtomic } from '../../src/io/files.js';
import { decodeSafetensors, encodeSafetensors, type Tensor } from '../../src/io/safetensors.js';
import type { ModelConfig } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { Rng } from '../../src/rng.js';
import { generate } from '../../src/generate.js';
import { train } from '../../src/train/library.js';
import { initialState } from '../../src/train/trainer.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const tokenizer = Tokenizer.fit('d2l', 'hello world');
const config: ModelConfig = { cell: 'lstm', vocabSize: tokenizer.vocab.size, hidden: [6, 4], dropout: 0.1 };

function meta(over: Partial<CheckpointMeta> = {}): CheckpointMeta {
  return {
    version: FORMAT_VERSION,
    config,
    tokenizer: tokenizer.toJSON(),
    training: {
      corpus: ['x'], corpusSha1: 'abc', epochs: 1, batchSize: 2, numSteps: 3, numTrain: 4, numVal: 5, lr: 2, clip: 1, seed: 7,
      impl: 'native', skipNonFinite: false, batching: 'random', valFrac: null,
    },
    optimizer: { kind: 'sgd', lr: 2, steps: 0 },
    state: initialState(new Rng(1)),
    history: [],
    ...over,
  };
}

/** Writes a safetensors file from parts, for malformed cases. */
function rawFile(name: string, header: unknown, data = Buffer.alloc(0)): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

describe('safetensors', () => {
  it('round-trips tensors and metadata, header padded to 8 bytes', () => {
    const tensors = new Map<string, Tensor>([
      ['a', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
      ['b', { shape: [1], data: Float32Array.from([-0.5]) }],
    ]);
    const buf = encodeSafetensors(tensors, { k: 'v' });
    expect(Number(buf.readBigUInt64LE(0)) % 8).toBe(0);
    const back = decodeSafetensors(buf, 'mem');
    expect(back.metadata).toEqual({ k: 'v' });
    expect([...back.tensors.get('a')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.tensors.get('b')!.shape).toEqual([1]);
  });

  it.each([
    ['short', Buffer.from([1, 2, 3]), 'it has 3 bytes, fewer than the 8-byte header length'],
    ['huge header', Buffer.from([255, 255, 255, 255, 255, 255, 255, 127, 0]), 'the header length 9223372036854775807 exceeds the format\'s limit of 100000000 bytes'],
    ['header past the end', Buffer.concat([Buffer.from([100, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]), 'the header length 100 exceeds the file\'s 2 remaining bytes'],
    ['not json', Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x')]), 'the header is not JSON'],
  ])('refuses a %s file', (_name, buf, msg) => {
    expect(() => decodeSafetensors(buf as Buffer, 'f.safetensors')).toThrow(msg as string);
  });

  it('refuses bad dtypes, shapes, offsets and overlaps', () => {
    const data = Buffer.alloc(16);
    const bad = (header: unknown) => () => decodeSafetensors(readFileSync(rawFile('bad.safetensors', header, data)), 'bad');
    expect(bad({ a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } })).toThrow('tensor "a" has dtype "F64", only F32 and BF16 are supported');
    expect(bad({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } })).toThrow('tensor "a" has an invalid shape');
    expect(bad({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } })).toThrow('tensor "a" has invalid data_offsets');
    expect(bad({ a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } })).toThrow('outside the 16 data bytes');
    expect(bad({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } })).toThrow('tensor "a" of shape [3] needs 12 bytes as F32, its offsets give 8');
    expect(bad({ a: { dtype: 'BF16', shape: [3], data_offsets: [0, 8] } })).toThrow('tensor "a" of shape [3] needs 6 bytes as BF16, its offsets give 8');
    expect(bad({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }))
      .toThrow('tensor "b" overlaps the one before it');
    expect(bad({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } })).toThrow('bytes 0..8 of the data belong to no tensor');
    expect(bad({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } })).toThrow('the file has 8 bytes after the last tensor');
    expect(bad({ __metadata__: { a: 1 } })).toThrow('__metadata__ must map strings to strings');
    expect(bad([1, 2])).toThrow('the header is not a JSON object');
  });

  it('checks the layout whole before it copies a tensor: entries on the same bytes cost nothing (before, a copy each)', () => {
    // 400 entries on the same 1 MB: before, 400 MB of copies, then the refusal
    const floats = 2 ** 18;
    const header = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [floats], data_offsets: [0, 4 * floats] }]));
    const buf = readFileSync(rawFile('bomb.safetensors', header, Buffer.alloc(4 * floats)));
    const before = process.memoryUsage().arrayBuffers;
    expect(() => decodeSafetensors(buf, 'bomb')).toThrow('tensor "t1" overlaps the one before it');
    // (what was copied and not yet collected counts here)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });

  it('a value nested past the call stack, a name with control characters, a long string: each shown on one short line', () => {
    const data = Buffer.alloc(8);
    const read = (header: unknown) => () => decodeSafetensors(readFileSync(rawFile('odd.safetensors', header, data)), 'odd');
    // (before: "Maximum call stack size exceeded" in the message itself); the header's text written as it is
    const text = Buffer.from(`{"a":{"dtype":${'['.repeat(20_000)}1${']'.repeat(20_000)},"shape":[2],"data_offsets":[0,8]}}`);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    expect(() => decodeSafetensors(Buffer.concat([len, text, data]), 'deep')).toThrow('tensor "a" has dtype an array of 1, only F32 and BF16 are supported');
    expect(read({ 'x\n\u001b[32mok': { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }))
      .toThrow('tensor "x\\n\\u001b[32mok" has dtype "F64"');
    let message = '';
    try {
      read({ a: { dtype: 'x'.repeat(100_000), shape: [2], data_offsets: [0, 8] } })();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('... (100,002 characters), only F32 and BF16 are supported');
    expect(message.length).toBeLessThan(600);
  });
});

describe('checkpoints', () => {
  it('a file that is not one is refused from its first bytes; one over 2 GiB by name', () => {
    const dir = tmpDir();
    // Sparse files: zeros (a header length of 0, so no JSON), and a real checkpoint's bytes followed by
    // zeros up to past 2 GiB (its header passes; the file is too large to read into one buffer).
    const zeros = path.join(dir, 'zeros.safetensors');
    writeFileSync(zeros, '');
    truncateSync(zeros, 300 * 2 ** 20);
    expect(() => loadCheckpoint(zeros)).toThrow(`${zeros} is not a valid safetensors file: the header is not JSON`);
    const model = new RNNLM({ cell: 'gru', vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 }, new Rng(1));
    const good = path.join(dir, 'good.safetensors');
    saveCheckpoint(good, model, { version: FORMAT_VERSION, config: model.config, tokenizer: tokenizer.toJSON() });
    const big = path.join(dir, 'big.safetensors');
    writeFileSync(big, readFileSync(good));
    truncateSync(big, 2 ** 31 + 10);
    expect(() => loadCheckpoint(big)).toThrow(`checkpoint ${big} has 2,147,483,658 bytes, more than the 2,147,483,647 (2 GiB) that deeprnn reads`);
    // A header length past the file's end, and a file that ends inside its header: refused as before.
    const cut = path.join(dir, 'cut.safetensors');
    writeFileSync(cut, readFileSync(good).subarray(0, 40));
    expect(() => loadCheckpoint(cut)).toThrow(/is not a valid safetensors file: the header length \d+ exceeds the file's 32 remaining bytes/);
    expect(loadCheckpoint(good).model.params).toEqual(model.params);
    expect(() => loadCheckpoint('')).toThrow("the checkpoint's path is empty: name a .safetensors file");
  });

  it("RNNLM.save keeps a bf16 model's precision, so that what loads it predicts as it did; an fp32 file is as before", () => {
    // Before, a bf16 model saved and loaded came back fp32: other text, another eval.
    const dir = tmpDir();
    const model = new RNNLM({ cell: 'gru', vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 }, new Rng(1));
    model.tokenizer = tokenizer;
    const fp32 = path.join(dir, 'fp32.safetensors');
    model.save(fp32);
    expect(RNNLM.load(fp32).precision).toBe('fp32');
    expect(JSON.parse(decodeSafetensors(readFileSync(fp32), fp32).metadata.deeprnn!)).not.toHaveProperty('precision');
    model.precision = 'bf16';
    const bf16 = path.join(dir, 'bf16.safetensors');
    model.save(bf16);
    expect(RNNLM.load(bf16).precision).toBe('bf16');
    expect(RNNLM.load(bf16).params).toEqual(model.params);
    // a precision no deeprnn knows is refused by name
    const st = decodeSafetensors(readFileSync(bf16), bf16);
    const bad = path.join(dir, 'bad.safetensors');
    writeFileSync(bad, encodeSafetensors(st.tensors, { ...st.metadata, deeprnn: st.metadata.deeprnn!.replace('"precision":"bf16"', '"precision":"fp16"') }));
    expect(() => RNNLM.load(bad)).toThrow(`checkpoint ${bad}: precision "fp16" is invalid: it must be one of fp32|bf16`);
  });

  it('a finite weight past bf16\'s range is named as what the bf16 rounding cannot store, and nothing is written', () => {
    const dir = tmpDir();
    const model = new RNNLM({ cell: 'gru', vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 }, new Rng(1));
    model.tokenizer = tokenizer;
    const at = model.table.find((p) => p.name === 'linear.bias')!.offset;
    model.params[at] = 3.4e38;
    const file = path.join(dir, 'over.safetensors');
    expect(() => model.save(file, { dtype: 'bf16' })).toThrow(`not saving checkpoint ${file}: tensor "linear.bias" has ${model.params[at]} at index 0, `
      + "beyond bf16's largest finite value (3.3895e38), so it would be stored as infinity; save the weights as fp32 (train --save-dtype fp32; save(path) without dtype)");
    expect(existsSync(file)).toBe(false);
    model.save(file);
    expect(RNNLM.load(file).params[at]).toBe(model.params[at]);
  });

  it('round-trip weights, config, tokenizer and history', () => {
    const model = new RNNLM(config, new Rng(3));
    const file = path.join(dir, 'ok.safetensors');
    saveCheckpoint(file, model, meta());
    const ck = loadTrainingCheckpoint(file);
    expect(ck.model.params).toEqual(model.params);
    expect(ck.meta.config).toEqual(config);
    expect(ck.tokenizer.vocab.tokens).toEqual(tokenizer.vocab.tokens);
    expect(ck.meta.state).toEqual(initialState(new Rng(1)));
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it("checks the optimizer as its spec says: its hyperparameters' ranges, those it has, its buffers", () => {
    const model = new RNNLM(config, new Rng(3));
    const params = new Map(model.parameters().map((p) => [p.name, { shape: p.shape, data: p.data }]));
    const P = model.params.length;
    const load = (name: string, optimizer: unknown, buffers: string[] = []) => {
      const t = new Map(params);
      for (const b of buffers) t.set(`optimizer.${b}`, { shape: [P], data: new Float32Array(P) });
      const file = path.join(dir, name);
      writeFileSync(file, encodeSafetensors(t, { deeprnn: JSON.stringify({ ...meta(), optimizer }) }));
      return () => loadCheckpoint(file);
    };
    const sgd = { kind: 'sgd', lr: 2, steps: 3 };
    expect(load('o1', { ...sgd, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0 }, ['momentum_buffer'])().meta)
      .toMatchObject({ optimizer: { ...sgd, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0 } });
    expect(load('o2', { ...sgd, momentum: -1 })).toThrow('optimizer.momentum must be a number >= 0, got -1');
    expect(load('o3', { ...sgd, alpha: 0.9 })).toThrow('optimizer.alpha does not apply to optimizer sgd');
    expect(load('o4', { ...sgd, nesterov: 'yes' })).toThrow('optimizer.nesterov must be true or false, got "yes"');
    expect(load('o5', { ...sgd, nesterov: true })).toThrow('optimizer.nesterov needs optimizer.momentum above 0 (and no dampening)');
    expect(load('o6', { kind: 'rmsprop', lr: 0.01, steps: 0, alpha: 1 })).toThrow('optimizer.alpha must be a number in [0, 1), got 1');
    // The buffers a kind keeps are the spec's: Adam's moments, not SGD's momentum buffer.
    expect(load('o7', { kind: 'adam', lr: 0.001, steps: 1 }, ['exp_avg', 'exp_avg_sq'])().optimizerState).toHaveProperty('exp_avg_sq');
    expect(load('o8', { kind: 'adam', lr: 0.001, steps: 1 }, ['momentum_buffer'])).toThrow('unexpected tensor "optimizer.momentum_buffer"');
    // After a step, the buffers its settings use must be there (before, a resume started them again from zeros, without a word);
    // before any step there are none yet, and plain SGD keeps none.
    expect(load('o9', { kind: 'adam', lr: 0.001, steps: 5 }, ['exp_avg']))
      .toThrow('tensor "optimizer.exp_avg_sq" is missing (the adam optimizer\'s state after 5 steps)');
    expect(load('o10', { kind: 'adam', lr: 0.001, steps: 0 })().optimizerState).toEqual({});
    expect(load('o11', { ...sgd, momentum: 0.9 })).toThrow('tensor "optimizer.momentum_buffer" is missing (the sgd optimizer\'s state after 3 steps)');
    expect(load('o12', sgd)().optimizerState).toEqual({});
    expect(load('o13', { kind: 'rmsprop', lr: 0.01, steps: 2 }, ['square_avg']))
      .toThrow('tensor "optimizer.momentum_buffer" is missing (the rmsprop optimizer\'s state after 2 steps)');
    // An average of squares is never negative (before, one loaded, and the resume's step blamed the learning rate).
    const negative = new Map(params);
    negative.set('optimizer.exp_avg', { shape: [P], data: new Float32Array(P) });
    negative.set('optimizer.exp_avg_sq', { shape: [P], data: new Float32Array(P).fill(0.5).fill(-1, 7, 8) });
    const neg = path.join(dir, 'o14');
    writeFileSync(neg, encodeSafetensors(negative, { deeprnn: JSON.stringify({ ...meta(), optimizer: { kind: 'adam', lr: 0.001, steps: 1 } }) }));
    expect(() => loadCheckpoint(neg)).toThrow('tensor "optimizer.exp_avg_sq" (an average of squares) has a negative value (-1) at index 7');
  });

  it('a header that is not UTF-8 is refused (before, its bad byte was read as U+FFFD)', () => {
    const json = Buffer.from('{"__metadata__":{"x":"\u00ff"}}');
    const bad = Buffer.concat([json.subarray(0, json.indexOf(0xc3)), Buffer.from([0xff]), json.subarray(json.indexOf(0xc3) + 2)]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(bad.length));
    const file = path.join(dir, 'latin1-header.safetensors');
    writeFileSync(file, Buffer.concat([len, bad]));
    expect(() => loadCheckpoint(file)).toThrow('the header is not UTF-8 text');
  });

  it('the carried state: all of it in a mid-epoch checkpoint of sequential batches, none elsewhere', () => {
    // Before, a file missing every carry tensor resumed from a zero state, and carry tensors beside random batches loaded.
    const model = new RNNLM(config, new Rng(3));
    const params = new Map(model.parameters().map((p) => [p.name, { shape: p.shape, data: p.data }]));
    const N = meta().training.batchSize;
    const all = carryNames(config);
    const write = (name: string, m: CheckpointMeta, carried: typeof all) => {
      const t = new Map(params);
      for (const c of carried) t.set(c.name, { shape: [N, config.hidden[c.layer]!], data: new Float32Array(N * config.hidden[c.layer]!) });
      const file = path.join(dir, name);
      writeFileSync(file, encodeSafetensors(t, { deeprnn: JSON.stringify(m) }));
      return () => loadCheckpoint(file);
    };
    const sequential = meta({ training: { ...meta().training, batching: 'sequential' }, state: { ...initialState(new Rng(1)), batch: 1, tokens: 6, lossSum: 9 } });
    expect(write('c1', sequential, all)().carry).toHaveLength(all.length);
    expect(write('c2', sequential, [])).toThrow(`tensor "${all[0]!.name}" is missing (the carried state is incomplete)`);
    expect(write('c3', sequential, all.slice(0, -1))).toThrow(`tensor "${all.at(-1)!.name}" is missing (the carried state is incomplete)`);
    expect(write('c4', meta(), all.slice(0, 1)))
      .toThrow(`unexpected tensor "${all[0]!.name}" (a carried state, which only a mid-epoch checkpoint of sequential batches holds)`);
    const start = meta({ training: { ...meta().training, batching: 'sequential' } });
    expect(write('c5', start, [])().carry).toBeNull();
  });

  it('stores a float64 scratch model as float32 with the same names', () => {
    const model = new RNNLMScratch(config, new Rng(3));
    const file = path.join(dir, 'scratch.safetensors');
    saveCheckpoint(file, model, meta({ training: { ...meta().training, impl: 'scratch' } }));
    expect(loadCheckpoint(file).model.params).toEqual(Float32Array.from(model.params));
  });

  it('keeps the previous file when a write fails', () => {
    const file = path.join(dir, 'keep.safetensors');
    writeFileSync(file, 'good');
    // The target is a directory's child whose parent is a file: the write must fail.
    expect(() => writeFileAtomic(path.join(file, 'child'), Buffer.from('x'))).toThrow();
    expect(readFileSync(file, 'utf8')).toBe('good');
    // A missing directory is made (makeDirs), as every output's is.
    writeFileAtomic(path.join(dir, 'no-such-dir', 'x'), Buffer.from('x'));
    expect(readFileSync(path.join(dir, 'no-such-dir', 'x'), 'utf8')).toBe('x');
  });

  it('gives a clear error for each inconsistency', () => {
    const model = new RNNLM(config, new Rng(3));
    const write = (name: string, m: unknown, tensors?: Map<string, Tensor>) => {
      const t = tensors ?? new Map(model.parameters().map((p) => [p.name, { shape: p.shape, data: p.data }]));
      const file = path.join(dir, name);
      writeFileSync(file, encodeSafetensors(t, m === undefined ? {} : { deeprnn: typeof m === 'string' ? m : JSON.stringify(m) }));
      return file;
    };
    expect(() => loadCheckpoint(path.join(dir, 'missing.safetensors'))).toThrow(/checkpoint .*missing.safetensors does not exist/);
    expect(() => loadCheckpoint(write('nometa', undefined))).toThrow('no "deeprnn" metadata: not a deeprnn checkpoint');
    expect(() => loadCheckpoint(write('badjson', '{'))).toThrow('the "deeprnn" metadata is not JSON');
    expect(() => loadCheckpoint(write('newer', meta({ version: FORMAT_VERSION + 1 }))))
      .toThrow(`format version ${FORMAT_VERSION + 1} is newer than this deeprnn reads (${FORMAT_VERSION}); upgrade deeprnn`);
    expect(() => loadCheckpoint(write('cell', meta({ config: { ...config, cell: 'tree' as never } }))))
      .toThrow(`checkpoint ${path.join(dir, 'cell')}: config.cell must be one of rnn|rnn-relu|gru|lstm|mgu, got "tree"`);
    expect(() => loadCheckpoint(write('hidden', meta({ config: { ...config, hidden: [] } }))))
      .toThrow('config.hidden must be a list of 1 to 64 integers from 1 to 1048576 (one per layer), got []');
    expect(() => loadCheckpoint(write('vocab', meta({ config: { ...config, vocabSize: config.vocabSize + 1 } }))))
      .toThrow(`the tokenizer has ${config.vocabSize} tokens but the model's vocabSize is ${config.vocabSize + 1}`);
    const fewer = new Map(model.parameters().filter((p) => p.name !== 'linear.bias').map((p) => [p.name, { shape: p.shape, data: p.data }]));
    expect(() => loadCheckpoint(write('missing-tensor', meta(), fewer))).toThrow('tensor "linear.bias" is missing');
    const extra = new Map(model.parameters().map((p) => [p.name, { shape: p.shape, data: p.data }]));
    extra.set('rnn.weight_ih_l9', { shape: [1], data: new Float32Array(1) });
    expect(() => loadCheckpoint(write('extra-tensor', meta(), extra))).toThrow('unexpected tensor "rnn.weight_ih_l9"');
    const reshaped = new Map(model.parameters().map((p) => [p.name, { shape: p.name === 'linear.weight' ? [p.shape[1]!, p.shape[0]!] : p.shape, data: p.data }]));
    expect(() => loadCheckpoint(write('shape', meta(), reshaped)))
      .toThrow(`tensor "linear.weight" has shape [4, ${config.vocabSize}], expected [${config.vocabSize}, 4]`);
    expect(existsSync(path.join(dir, 'shape'))).toBe(true);
    const nan = new Map(model.parameters().map((p) => [p.name, { shape: p.shape, data: Float32Array.from(p.data) }]));
    nan.get('rnn.weight_hh_l1')!.data[3] = NaN;
    expect(() => loadCheckpoint(write('nan', meta(), nan)))
      .toThrow('tensor "rnn.weight_hh_l1" has a non-finite value (NaN) at index 3; the weights are unusable');
    expect(() => loadCheckpoint(dir)).toThrow(`checkpoint ${dir} is not a regular file`);
  });

  it('checks the training metadata field by field', () => {
    const model = new RNNLM(config, new Rng(3));
    const t = new Map(model.parameters().map((p) => [p.name, { shape: p.shape, data: p.data }]));
    const load = (name: string, m: unknown) => {
      const file = path.join(dir, name);
      writeFileSync(file, encodeSafetensors(t, { deeprnn: JSON.stringify(m) }));
      return () => loadCheckpoint(file);
    };
    const base = meta();
    expect(load('m1', { ...base, training: undefined })).toThrow('no training settings');
    expect(load('m2', { ...base, training: { ...base.training, lr: -1 } })).toThrow('training.lr is -1, not a valid number');
    expect(load('m3', { ...base, training: { ...base.training, epochs: 1.5 } })).toThrow('training.epochs is 1.5, not a valid number');
    expect(load('m4', { ...base, state: { ...base.state, rng: [0, 0, 0, 0] } })).toThrow('state.rng must be four 32-bit unsigned integers, not all zero');
    expect(load('m5', { ...base, state: { ...base.state, rngEpoch: [1, 2, 3] } })).toThrow('state.rngEpoch must be four 32-bit unsigned integers');
    // Batch 2 of 2: saved after the last batch, before validation; batch 3 is past the end.
    expect(load('m6', { ...base, state: { ...base.state, batch: 2, tokens: 12, lossSum: 30 } })).not.toThrow();
    expect(load('m6b', { ...base, state: { ...base.state, batch: 3 } })).toThrow('state.batch 3 is past the end of an epoch of 2 batches');
    expect(load('m7', { ...base, state: { ...base.state, epoch: 1 } })).toThrow('history has 0 epochs but state.epoch is 1');
    expect(load('m8', { ...base, history: [{ epoch: 1 }], state: { ...base.state, epoch: 1 } })).toThrow('history[0].trainLoss is missing, not a valid number');
    expect(load('m13', { ...base, history: [{ epoch: 1, trainLoss: 'x' }], state: { ...base.state, epoch: 1 } })).toThrow('history[0].trainLoss is "x", not a valid number');
    // Found by fuzzing the readers: positions that do not hold together, numbers past a double's range,
    // counts of 0 windows, a flag that is no boolean (before, each loaded; a resume then failed or drifted).
    expect(load('m14', { ...base, state: { ...base.state, batch: 2 } }))
      .toThrow('state counts no tokens but 2 batches of this epoch (0 skipped) and a loss sum of 0: the position does not hold together');
    expect(load('m15', { ...base, state: { ...base.state, batch: 2, skipped: 2 } })).not.toThrow();  // every batch's loss non-finite, skipped
    expect(load('m16', { ...base, state: { ...base.state, batch: 1, tokens: 6, lossSum: -1 } })).toThrow('state.lossSum is -1, not a valid number');
    expect(load('m17', { ...base, optimizer: { ...base.optimizer, steps: 2 ** 53 - 1 } })).toThrow(`optimizer.steps is ${2 ** 53 - 1}, not a valid number`);
    expect(load('m18', { ...base, training: { ...base.training, numVal: 0 } }))
      .toThrow('training.numTrain 4 and numVal 0 must be 1 or more (the run\'s windows)');
    expect(load('m21', { ...base, training: { ...base.training, chunkTokens: 0 } }))
      .toThrow('training.chunkTokens 0 is invalid: it must be a whole number of tokens per chunk from 1 to 999999999');
    expect(load('m40', { ...base, training: { ...base.training, earlyStop: 1.5 } }))
      .toThrow('training.earlyStop 1.5 is invalid: it must be a whole number of epochs from 1');
    expect(load('m22', { ...base, training: { ...base.training, chunkTokens: 512 } })().meta).toMatchObject({ training: { chunkTokens: 512 } });
    expect(load('m41', { ...base, training: { ...base.training, lineEnds: 'crlf' } }))
      .toThrow('training.lineEnds "crlf" is invalid: it must be "lf" or "kept"');
    expect(load('m42', { ...base, training: { ...base.training, lineEnds: 'kept' } })().meta).toMatchObject({ training: { lineEnds: 'kept' } });
    expect(load('m19', { ...base, training: { ...base.training, skipNonFinite: 'yes' } }))
      .toThrow('training.skipNonFinite "yes" is invalid: it must be true or false');
    const huge = path.join(dir, 'm20');
    writeFileSync(huge, encodeSafetensors(t, { deeprnn: JSON.stringify({ ...base, training: { ...base.training, lr: 2 } }).replace('"lr":2,"clip"', '"lr":1e999,"clip"') }));
    expect(() => loadCheckpoint(huge)).toThrow('training.lr is Infinity, not a valid number');
    expect(load('m9', { ...base, optimizer: null })).toThrow('optimizer must be an object with a "kind"');
    expect(load('m10', { ...base, version: 0 })).toThrow('format version 0 is invalid');
    expect(load('m11', [])).toThrow('the "deeprnn" metadata is not an object');
    expect(load('m12', { ...base, config: { ...config, hidden: Array(65).fill(1) } })).toThrow('config.hidden must be a list of 1 to 64 integers from 1 to 1048576 (one per layer), got [1,');
    expect(load('m14', { ...base, config: undefined })).toThrow('no model config');
    expect(load('m15', { ...base, training: { ...base.training, corpus: 'x' } })).toThrow('training.corpus must be a list of corpus names or paths');
    expect(load('m16', { ...base, training: { ...base.training, corpusSha1: 3 } })).toThrow('training.corpusSha1 must be a string');
    expect(load('m17', { ...base, state: undefined })).toThrow('no trainer state');
    expect(load('m18', { ...base, history: {} })).toThrow('history must be an array');
    expect(load('m19', { ...base, history: [3], state: { ...base.state, epoch: 1 } })).toThrow('history[0] is not an object');
    expect(load('m20', { ...base, optimizer: { kind: 'adam', lr: 1, steps: 0, betas: [0.9, 1.5] } }))
      .toThrow('optimizer.betas must be two numbers in [0, 1), e.g. 0.9,0.999, got [0.9,1.5]');
    expect(load('m21', { ...base, schedule: { kind: 'linear' } })).toThrow('schedule must be an object with a "kind" of constant, step, exp, cosine');
    const schedule = { kind: 'exp', lr: 0.1, warmup: 0, decay: 0.9, decayAfter: 1, minLr: 5 };
    expect(load('m22', { ...base, schedule })).toThrow('schedule.minLr 5 is above schedule.lr 0.1');
    // a decay in [0, 1], as --lr-decay takes it (before, 3 loaded and tripled the rate every epoch)
    expect(load('m22b', { ...base, schedule: { ...schedule, minLr: 0, decay: 3 } })).toThrow('schedule.decay is 3, not a valid number');
    expect(load('m23', { ...base, training: { ...base.training, initFrom: 3 } })).toThrow('training.initFrom 3 must be a path');
    expect(load('m23p', { ...base, training: { ...base.training, corpusParts: [12, -1] } }))
      .toThrow('training.corpusParts [12,-1] is invalid: it must list the bytes of each file the run read');
    expect(load('m24', { ...base, config: null })).toThrow('config must be an object, got null');
    // an eps past float32's largest, which runs took before it was bounded, still loads (a new run refuses it)
    expect(load('m43', { ...base, optimizer: { ...base.optimizer, kind: 'adam', eps: 1e39 } as never })().meta).toMatchObject({ optimizer: { eps: 1e39 } });
    expect(load('m44', { ...base, optimizer: { ...base.optimizer, kind: 'adam', eps: 1e-46 } as never }))
      .toThrow('optimizer.eps must be a positive number that float32 holds (1.4e-45 to 3.4e38), got 1e-46');
  });
});

describe('how a loaded model reads a prefix\'s line ends (model.lineEnds)', () => {
  // A checkpoint's meta rewritten: what an older deeprnn wrote, or a damaged file.
  const rewrite = (file: string, edit: (m: Record<string, unknown>) => void) => {
    const st = decodeSafetensors(readFileSync(file), file);
    const m = JSON.parse(st.metadata.deeprnn!) as Record<string, unknown>;
    edit(m);
    writeFileSync(file, encodeSafetensors(st.tensors, { ...st.metadata, deeprnn: JSON.stringify(m) }));
  };

  it('save() records it and RNNLM.load() gives it back (before, a vocabulary that knows "\\r" made it "kept")', () => {
    const tok = Tokenizer.fit('char', 'a\r\nb ab\r\n');
    expect(tok.vocab.has('\r')).toBe(true);
    const m = new RNNLM({ cell: 'gru', vocabSize: tok.vocab.size, hidden: [4], dropout: 0 }, new Rng(1));
    const file = path.join(dir, 'le.safetensors');
    m.lineEnds = 'lf';
    m.save(file, { tokenizer: tok });
    const back = RNNLM.load(file);
    expect(back.lineEnds).toBe('lf');
    expect(generate(back, 'a\r\nb', { numPreds: 0 })).toBe('a\nb');
    m.lineEnds = undefined;  // unknown: by the vocabulary, which knows "\r"
    m.save(file, { tokenizer: tok });
    expect(RNNLM.load(file).lineEnds).toBe('kept');
    expect(generate(RNNLM.load(file), 'a\r\nb', { numPreds: 0 })).toBe('a\r\nb');
    rewrite(file, (meta) => { meta.lineEnds = 'crlf'; });
    expect(() => RNNLM.load(file)).toThrow(`checkpoint ${file}: lineEnds "crlf" is invalid: it must be "lf" or "kept"`);
  });

  it('a run\'s checkpoint from before line ends were recorded reads them "kept", in predict\'s way (its "\\r" outside the vocabulary: <unk>)', async () => {
    const out = path.join(dir, 'older.safetensors');
    const r = await train('the king said\r\nthe queen said\r\n'.repeat(40), { tokenizer: 'char', hidden: [8], numSteps: 8, numTrain: 60, numVal: 20, batchSize: 20, epochs: 1, out });
    expect(RNNLM.load(out).lineEnds).toBe('lf');
    expect(generate(RNNLM.load(out), 'said\r\nthe', { numPreds: 0 })).toBe('said\nthe');
    expect(r.tokenizer.vocab.has('\r')).toBe(false);
    rewrite(out, (meta) => { delete (meta.training as Record<string, unknown>).lineEnds; });
    const older = RNNLM.load(out);
    expect(older.lineEnds).toBe('kept');
    expect(generate(older, 'said\r\nthe', { numPreds: 0 })).toBe('said<unk>\nthe');
  });
});
