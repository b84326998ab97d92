// ONNX export checked by ONNX Runtime (onnxruntime-node): for every cell ONNX
// expresses, 1 to 3 layers of mixed widths, the logits of the exported graph
// and of deeprnn (native, one token at a time) agree within 1e-5 over 200
// tokens fed in runs of different lengths with the state carried between
// runs, and so do the final states; greedy and sampled generation give the
// same text; the graph uses the standard operators with the gate orders and
// attributes ONNX defines; the card (vocabulary, configuration, interface) is
// in the model's metadata; a cell ONNX cannot express is refused.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { generate } from '../../src/generate.js';
import { checkExportable, decodeOnnx, exportOnnx, ONNX_OPSET, onnxCard } from '../../src/io/onnx.js';
import type { CellKind } from '../../src/native.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';
import { train } from '../../src/train/library.js';
import { checkCard, generateOnnx, OnnxStepper, type OnnxCard } from '../../src/web/onnx-lm.js';
import { TIMEMACHINE } from '../helpers/paths.js';

const TEXT = readFileSync(TIMEMACHINE, 'utf8').slice(20_000, 50_000);
const CELLS: CellKind[] = ['rnn', 'rnn-relu', 'gru', 'lstm'];
const SHAPES = [[12], [24, 8], [8, 20, 12]];
const TOL = 1e-5;

const tensor = (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: readonly number[]) => new ort.Tensor(type, data, dims);

async function onnxStepper(model: RNNLM, tokenizer: Tokenizer): Promise<{ stepper: OnnxStepper; card: OnnxCard; bytes: Uint8Array }> {
  const { bytes, card } = exportOnnx(model, tokenizer);
  const session = await ort.InferenceSession.create(bytes);
  return { stepper: new OnnxStepper(session, tensor, card), card, bytes };
}

/** Trained briefly, so that the logits are a trained model's, not an initialisation's. */
const models = new Map<string, { model: RNNLM; tokenizer: Tokenizer }>();
beforeAll(async () => {
  for (const cell of CELLS) {
    for (const hidden of SHAPES) {
      const r = await train(TEXT, { cell, layers: hidden.length, hidden, numSteps: 16, numTrain: 300, numVal: 50, batchSize: 50, epochs: 2, lr: cell === 'rnn-relu' ? 0.5 : 2, seed: 3 });
      models.set(`${cell} ${hidden.join('x')}`, { model: r.model, tokenizer: r.tokenizer });
    }
  }
});

describe('ONNX export, run by ONNX Runtime', () => {
  for (const cell of CELLS) {
    for (const hidden of SHAPES) {
      const label = `${cell} ${hidden.join('x')}`;
      it(`${label}: logits and final states within ${TOL} of deeprnn over 200 tokens with carried state`, async () => {
        const { model, tokenizer } = models.get(label)!;
        const { stepper } = await onnxStepper(model, tokenizer);
        const reference = model.stepper();
        const ids = tokenizer.encode(TEXT.slice(1000, 1400)).slice(0, 200);
        expect(ids.length).toBe(200);
        const V = model.config.vocabSize;
        let maxDiff = 0;
        let at = 0;
        for (const n of [1, 57, 100, 42]) {
          const logits = await stepper.feedAll(ids.subarray(at, at + n));
          for (let t = 0; t < n; t++) {
            const ref = reference.feed(ids[at + t]!);
            for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(ref[v]! - logits[t * V + v]!));
          }
          at += n;
        }
        expect(at).toBe(200);
        // The final states: deeprnn's Stepper keeps them per layer (h, then c).
        const layers = (reference as unknown as { layers: { h: Float32Array; c: Float32Array | null }[] }).layers;
        const refState = [...layers.map((s) => s.h), ...layers.flatMap((s) => (s.c ? [s.c] : []))];
        let stateDiff = 0;
        stepper.state().forEach((s, i) => s.forEach((x, j) => (stateDiff = Math.max(stateDiff, Math.abs(x - refState[i]![j]!)))));
        console.log(`onnx ${label}: max |logit difference| ${maxDiff.toExponential(2)}, final state ${stateDiff.toExponential(2)} (200 tokens, runs of 1, 57, 100, 42)`);
        expect(maxDiff).toBeLessThanOrEqual(TOL);
        expect(stateDiff).toBeLessThanOrEqual(TOL);
        expect(stepper.state()).toHaveLength(cell === 'lstm' ? 2 * hidden.length : hidden.length);
      });

      it(`${label}: greedy and sampled generation give deeprnn's text`, async () => {
        const { model, tokenizer } = models.get(label)!;
        const { stepper } = await onnxStepper(model, tokenizer);
        for (const opts of [{}, { temperature: 1, seed: 7 }, { temperature: 0.8, topK: 5, topP: 0.9, seed: 11 }]) {
          for (const prefix of ['the time traveller', '']) {
            const want = generate(model, tokenizer, prefix, { numPreds: 120, ...opts });
            const got = await generateOnnx(stepper, tokenizer, prefix, { numPreds: 120, ...opts });
            expect(got, `${label} ${JSON.stringify(opts)} prefix ${JSON.stringify(prefix)}`).toBe(want);
          }
        }
        // both steppers' initial logits read the state carried now (before, deeprnn's gave the output bias whatever it had been fed)
        const native = model.stepper();
        stepper.reset();
        for (const id of tokenizer.encode('the time')) {
          native.feed(id);
          await stepper.feed([id]);
        }
        const mine = native.initialLogits();
        const theirs = await stepper.initialLogits();
        expect(Math.max(...Array.from(mine, (v, i) => Math.abs(v - theirs[i]!))), label).toBeLessThanOrEqual(TOL);
        expect(Array.from(native.initialLogits())).not.toEqual(Array.from(model.outputLayer().b));
        // a misspelt option is refused, as generate() refuses it (before: greedy text without a word)
        await expect(generateOnnx(stepper, tokenizer, 'the', { numPreds: 3, temprature: 1 } as never))
          .rejects.toThrow('generateOnnx: unknown option temprature (did you mean temperature?)');
        await expect(generateOnnx(stepper, tokenizer, 'the', { numPreds: 3, temperature: 1, topK: '2' } as never))
          .rejects.toThrow('topK must be a number, got "2"');
        await expect(generateOnnx(stepper, tokenizer, 'the', null as never))
          .rejects.toThrow('generateOnnx needs options: { numPreds, temperature, topK, topP, seed }');
        await expect(generateOnnx(stepper, tokenizer, 'the', { numPreds: 3, onText: 'x' } as never)).rejects.toThrow('onText must be a function, got "x"');
        await expect(generateOnnx(stepper, tokenizer, 'the', { numPreds: 3, stop: true } as never)).rejects.toThrow('stop must be a function, got true');
        await expect(generateOnnx(stepper, tokenizer, 7 as never, { numPreds: 3 })).rejects.toThrow('the prefix must be a string, got 7');
        // a tokenizer of another vocabulary, and ids the model has no input for, are refused (before: text from
        // all-zero inputs, a misleading id error, -1 read as the last token, 1.5 a RangeError)
        const V = tokenizer.vocab.size;
        const other = Tokenizer.fit('char', 'abcdefghijklmnopqrstuvwxyz0123456789 ');
        expect(other.vocab.size).not.toBe(V);
        await expect(generateOnnx(stepper, other, 'xyz', { numPreds: 3 }))
          .rejects.toThrow(`the tokenizer has ${other.vocab.size} tokens but the exported model's vocabSize is ${V}`);
        await expect(generateOnnx({} as never, tokenizer, 'the', { numPreds: 3 })).rejects.toThrow('generateOnnx\'s first argument must be an OnnxStepper, got an empty object');
        await expect(generateOnnx(stepper, null as never, 'the', { numPreds: 3 })).rejects.toThrow('generateOnnx\'s second argument must be a Tokenizer');
        for (const [bad, shown] of [[-1, '-1'], [V, String(V)], [1.5, '1.5']] as const) {
          await expect(stepper.feed([0, bad])).rejects.toThrow(`feed: token ids must be whole numbers from 0 to ${V - 1} (the model's vocabulary), got ${shown} at index 1`);
        }
        await expect(stepper.feed(null as never)).rejects.toThrow('feed needs token ids (an array of whole numbers), got null');
      });
    }
  }

  it('writes the standard operators: gate blocks reordered, GRU with linear_before_reset=1, rnn-relu with Relu, OneHot in, MatMul + Add out', () => {
    const ops = (cell: CellKind, hidden: number[]) => {
      const { model, tokenizer } = models.get(`${cell} ${hidden.join('x')}`)!;
      const m = decodeOnnx(exportOnnx(model, tokenizer).bytes) as { graph: { node: { op_type: string; attribute?: { name: string; i?: number; strings?: number[][] }[] }[] }; opset_import: { version: number }[] };
      return m;
    };
    const gru = ops('gru', [24, 8]);
    expect(gru.opset_import[0]!.version).toBe(ONNX_OPSET);
    expect(gru.graph.node.map((n) => n.op_type)).toEqual(['OneHot', 'GRU', 'Squeeze', 'GRU', 'Squeeze', 'MatMul', 'Add', 'Squeeze', 'MatMul', 'Add']);
    for (const n of gru.graph.node.filter((x) => x.op_type === 'GRU')) {
      expect(n.attribute!.find((a) => a.name === 'linear_before_reset')!.i).toBe(1);
    }
    expect(gru.graph.node.filter((n) => n.op_type === 'GRU').map((n) => n.attribute!.find((a) => a.name === 'hidden_size')!.i)).toEqual([24, 8]);
    const relu = ops('rnn-relu', [12]).graph.node.find((n) => n.op_type === 'RNN')!;
    expect(Buffer.from(relu.attribute!.find((a) => a.name === 'activations')!.strings![0]!).toString()).toBe('Relu');
    const tanh = ops('rnn', [12]).graph.node.find((n) => n.op_type === 'RNN')!;
    expect(Buffer.from(tanh.attribute!.find((a) => a.name === 'activations')!.strings![0]!).toString()).toBe('Tanh');
    expect(ops('lstm', [8, 20, 12]).graph.node.filter((n) => n.op_type === 'LSTM')).toHaveLength(3);
  });

  it('moves the gate blocks: ONNX GRU z,r,h from r,z,n; LSTM i,o,f,c from i,f,g,o (values untouched)', () => {
    const tok = Tokenizer.fit('char', 'abcd');
    const V = tok.vocab.size;
    for (const [cell, G, onnxFromTorch] of [['gru', 3, [1, 0, 2]], ['lstm', 4, [0, 3, 1, 2]]] as const) {
      const H = 2;
      const model = new RNNLM({ cell, vocabSize: V, hidden: [H], dropout: 0 }, new Rng(1));
      // Mark every row of weight_hh with its gate block index.
      const whh = model.param('rnn.weight_hh_l0');
      for (let g = 0; g < G; g++) whh.fill(g, g * H * H, (g + 1) * H * H);
      const m = decodeOnnx(exportOnnx(model, tok).bytes) as { graph: { initializer: { name: string; raw_data: number[] }[] } };
      const R = m.graph.initializer.find((t) => t.name === 'rnn.R_l0')!;
      const f = new Float32Array(new Uint8Array(R.raw_data).buffer);
      const blocks = Array.from({ length: G }, (_, k) => f[k * H * H]);
      expect(blocks, cell).toEqual(onnxFromTorch);
    }
  });

  it('puts the card (configuration, vocabulary, interface) in the metadata, and the card checks', () => {
    const { model, tokenizer } = models.get('lstm 24x8')!;
    const { bytes, card } = exportOnnx(model, tokenizer);
    const m = decodeOnnx(bytes) as { metadata_props: { key: string; value: string }[]; producer_name: string; ir_version: number };
    expect(m.producer_name).toBe('deeprnn');
    expect(m.ir_version).toBe(8);
    const meta = JSON.parse(m.metadata_props.find((p) => p.key === 'deeprnn')!.value) as OnnxCard;
    expect(meta).toEqual(card);
    expect(checkCard(meta)).toEqual(card);
    expect(card.tokenizer.tokens).toEqual(tokenizer.vocab.tokens);
    expect(card.config).toEqual({ cell: 'lstm', vocabSize: tokenizer.vocab.size, hidden: [24, 8] });
    expect(card.io).toEqual({
      tokens: 'tokens', h0: ['h0_l0', 'h0_l1'], c0: ['c0_l0', 'c0_l1'], logits: 'logits', hT: ['hT_l0', 'hT_l1'], cT: ['cT_l0', 'cT_l1'],
      initialLogits: 'initial_logits',
    });
    expect(() => checkCard({ ...card, format: 'other' })).toThrow('model card: not a deeprnn ONNX card (expected "format": "deeprnn-onnx")');
    expect(() => checkCard({ ...card, version: 2 })).toThrow('model card: card version 2 is not one this deeprnn reads (1)');
    expect(card.lineEnds).toBe('lf');
    expect(() => checkCard({ ...card, lineEnds: 'crlf' })).toThrow('model card: lineEnds must be "lf" or "kept", got "crlf"');
    // onnxCard(config, tokenizer) as before: unsaid, by the vocabulary (which knows no "\r" here); checked when said
    expect(onnxCard(model.config, tokenizer)).toEqual(card);
    expect(onnxCard(model.config, tokenizer, 'kept').lineEnds).toBe('kept');
    expect(() => onnxCard(model.config, tokenizer, 'crlf' as never)).toThrow('lineEnds must be "lf" or "kept", got "crlf"');
  });

  it('generate() and generateOnnx read a prefix\'s "\\r\\n" as the training text was read, as predict does (before: "\\r" read as <unk>)', async () => {
    const text = 'the king said\r\nthe queen said\r\n'.repeat(60);
    const r = await train(text, { tokenizer: 'char', cell: 'gru', hidden: [16], numSteps: 8, numTrain: 200, numVal: 40, batchSize: 20, epochs: 2, seed: 1 });
    expect(r.model.lineEnds).toBe('lf');
    expect(r.tokenizer.vocab.has('\r')).toBe(false);
    const lf = generate(r.model, 'said\nthe', { numPreds: 12 });
    expect(lf.startsWith('said\nthe')).toBe(true);
    for (const p of ['said\r\nthe', 'said\rthe']) expect(generate(r.model, p, { numPreds: 12 })).toBe(lf);
    const { stepper, card } = await onnxStepper(r.model, r.tokenizer);
    expect(card.lineEnds).toBe('lf');
    for (const p of ['said\nthe', 'said\r\nthe', 'said\rthe']) expect(await generateOnnx(stepper, r.tokenizer, p, { numPreds: 12 })).toBe(lf);
    // A model or card that keeps line ends reads "\r" as it is (outside this vocabulary: <unk>); one without a record, by its vocabulary.
    const kept = new OnnxStepper(await ort.InferenceSession.create(exportOnnx(r.model, r.tokenizer).bytes), tensor, { ...card, lineEnds: 'kept' });
    expect(await generateOnnx(kept, r.tokenizer, 'said\r\nthe', { numPreds: 0 })).toBe('said<unk>\nthe');
    const { lineEnds: _, ...older } = card;
    const unrecorded = new OnnxStepper(await ort.InferenceSession.create(exportOnnx(r.model, r.tokenizer).bytes), tensor, checkCard(older));
    expect(await generateOnnx(unrecorded, r.tokenizer, 'said\r\nthe', { numPreds: 12 })).toBe(lf);
    r.model.lineEnds = 'kept';
    expect(generate(r.model, 'said\r\nthe', { numPreds: 0 })).toBe('said<unk>\nthe');
    expect(exportOnnx(r.model, r.tokenizer).card.lineEnds).toBe('kept');
    r.model.lineEnds = undefined;
    expect(generate(r.model, 'said\r\nthe', { numPreds: 12 })).toBe(lf);
    expect(() => { r.model.lineEnds = 'crlf' as never; }).toThrow('lineEnds must be "lf", "kept" or undefined, got "crlf"');
  });

  it('runs a batch of several sequences at once (the batch dimension is free)', async () => {
    const { model, tokenizer } = models.get('gru 24x8')!;
    const { bytes, card } = exportOnnx(model, tokenizer);
    const session = await ort.InferenceSession.create(bytes);
    const T = 5;
    const N = 3;
    const ids = BigInt64Array.from({ length: T * N }, (_, i) => BigInt((i * 7) % tokenizer.vocab.size));
    const feeds: Record<string, ort.Tensor> = { tokens: new ort.Tensor('int64', ids, [T, N]) };
    card.io.h0.forEach((n, l) => (feeds[n] = new ort.Tensor('float32', new Float32Array(N * card.config.hidden[l]!), [1, N, card.config.hidden[l]!])));
    const out = await session.run(feeds);
    expect(out.logits!.dims).toEqual([T, N, tokenizer.vocab.size]);
    expect(out.initial_logits!.dims).toEqual([N, tokenizer.vocab.size]);
    // Column 1 of the batch equals the sequence run alone.
    const stepper = model.stepper();
    const data = out.logits!.data as Float32Array;
    const V = tokenizer.vocab.size;
    for (let t = 0; t < T; t++) {
      const ref = stepper.feed(Number(ids[t * N + 1]));
      for (let v = 0; v < V; v++) expect(Math.abs(ref[v]! - data[(t * N + 1) * V + v]!)).toBeLessThanOrEqual(TOL);
    }
  });

  it('refuses the minimal gated unit, which no ONNX operator computes', () => {
    const tokenizer = Tokenizer.fit('d2l', 'abc');
    const model = new RNNLM({ cell: 'mgu', vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 });
    const msg = "the minimal gated unit (mgu) cannot be exported to ONNX: ONNX's recurrent operators are RNN, GRU and LSTM, and none computes it; "
      + 'cells that export: rnn, rnn-relu, gru, lstm';
    expect(() => exportOnnx(model, tokenizer)).toThrow(msg);
    expect(() => checkExportable('mgu')).toThrow(msg);
  });

  it('refuses, by name, what is no model or no tokenizer, and non-finite weights (before: a TypeError from inside; NaN exported)', () => {
    const tokenizer = Tokenizer.fit('d2l', 'abc');
    const model = new RNNLM({ cell: 'gru', vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 });
    for (const [m, got] of [[{}, 'an empty object'], [null, 'null'], ['m.onnx', '"m.onnx"'], [{ config: {} }, 'an object with keys config']] as const) {
      expect(() => exportOnnx(m as never, tokenizer)).toThrow(`exportOnnx needs a model (an RNNLM: new RNNLM, RNNLM.load or train()'s), got ${got}`);
    }
    for (const [t, got] of [[undefined, 'nothing (undefined)'], [null, 'null'], ['m.onnx', '"m.onnx"'], [tokenizer.toJSON(), 'an object with keys']] as const) {
      expect(() => exportOnnx(model, t as never)).toThrow(`exportOnnx needs the model's tokenizer (Tokenizer.fit, Tokenizer.fromJSON or a model's tokenizer), got ${got}`);
    }
    for (const v of [NaN, Infinity, -Infinity]) {
      const bad = new RNNLM({ cell: 'lstm', vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 });
      bad.param('rnn.weight_hh_l0')[5] = v;
      expect(() => exportOnnx(bad, tokenizer)).toThrow(`this model cannot be exported to ONNX: tensor "rnn.weight_hh_l0" has a non-finite value (${v}) at index 5; the weights are unusable`);
    }
    expect(exportOnnx(model, tokenizer).bytes.length).toBeGreaterThan(0);
  });

  it('refuses, before building anything, a model whose weights do not fit in one ONNX file (before, it failed minutes later writing it)', () => {
    const tokenizer = Tokenizer.fit('d2l', 'abc');
    // Only the weights' count is read before the refusal: a stand-in for a model of 2^29 + 1 weights (2 GiB and 4 bytes).
    const big = { config: { cell: 'gru', vocabSize: tokenizer.vocab.size, hidden: [8], dropout: 0 }, params: { length: 2 ** 29 + 1 } };
    expect(() => exportOnnx(big as never, tokenizer)).toThrow('this model cannot be exported to ONNX: its 536,870,913 weights as float32 are '
      + '2,147,483,652 bytes, more than the 2,147,483,647 (2 GiB) that one ONNX file (a protobuf) holds and deeprnn writes no external data: export a smaller model');
  });
});
