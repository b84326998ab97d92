// ONNX export: the stacked network as standard ONNX operators (opset 17),
// encoded by protobufjs with onnx.proto's messages (onnx-schema.ts).
//
//   tokens (T, N) int64 --OneHot--> x (T, N, V)
//   layer l: RNN | GRU | LSTM (x, W, R, B, "", h0_l[, c0_l]) -> Y (T, 1, N, H_l), hT_l[, cT_l]
//            x = Squeeze(Y, [1]) (T, N, H_l)
//   logits = MatMul(x, W_out^T) + b_out (T, N, V)
//   initial_logits = MatMul(Squeeze(h0_top, [0]), W_out^T) + b_out (N, V)
//
// T=steps, N=batch, V=vocab, H=hidden of a layer, G=gates, I=layer input.
// deeprnn's weights are PyTorch's: weight_ih (G*H, I), weight_hh (G*H, H),
// bias_ih and bias_hh (G*H), gate blocks r,z,n (GRU) and i,f,g,o (LSTM). ONNX
// wants W (1, G*H, I), R (1, G*H, H), B (1, 2*G*H) = [W_b, R_b] with its own
// block order, z,r,h (GRU) and i,o,f,c (LSTM): the blocks are reordered, values
// untouched. PyTorch's GRU, n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), is
// ONNX's GRU with linear_before_reset=1. The one-hot input makes layer 0's
// input product ONNX's own: no weight is folded or changed.
import type protobuf from 'protobufjs';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { describe } from '../validate.js';
import { isLineEnds, Tokenizer, unsaidLineEnds, type LineEnds } from '../data/tokenizer.js';
import { firstNonFinite } from './checkpoint.js';
import type { CellKind } from '../native.js';
import { roundBf16 } from '../nn/bf16.js';
import { carriesC, cellInfo, layerInput, type ModelConfig } from '../nn/config.js';
import type { Module } from '../nn/module.js';
import { CARD_FORMAT, onnxIO, type OnnxCard } from '../web/onnx-lm.js';
import { ONNX_PROTO } from './onnx-schema.js';

export const ONNX_OPSET = 17;
/** The IR version that goes with opset 17 (ONNX 1.12). */
export const ONNX_IR_VERSION = 8;

/** How a deeprnn cell is written as an ONNX operator: its gate blocks in ONNX's order, by deeprnn's gate names. */
interface OnnxCell {
  op: 'RNN' | 'GRU' | 'LSTM';
  /** ONNX's gate order, named as deeprnn's descriptor names the blocks (cellInfo(cell).gateNames). */
  gates: string[];
  attributes: Record<string, number | string[]>;
}

/** The cells ONNX expresses; a cell missing here has no ONNX operator. */
const ONNX_CELLS: Partial<Record<CellKind, OnnxCell>> = {
  rnn: { op: 'RNN', gates: ['h'], attributes: { activations: ['Tanh'] } },
  'rnn-relu': { op: 'RNN', gates: ['h'], attributes: { activations: ['Relu'] } },
  gru: { op: 'GRU', gates: ['z', 'r', 'n'], attributes: { linear_before_reset: 1 } },
  lstm: { op: 'LSTM', gates: ['i', 'o', 'f', 'g'], attributes: {} },
};

/** The cells an export accepts. */
export const ONNX_EXPORTABLE = Object.keys(ONNX_CELLS) as CellKind[];

/** The largest ONNX file: a protobuf message of at most 2^31 - 1 bytes. */
export const ONNX_MAX_BYTES = 2 ** 31 - 1;

/** Refuses a cell ONNX has no operator for, saying why and what can be exported. */
export function checkExportable(cell: CellKind): OnnxCell {
  const spec = ONNX_CELLS[cell];
  if (!spec) {
    const what = cell === 'mgu' ? 'the minimal gated unit (mgu)' : `the ${cell} cell`;
    throw new InputError(`${what} cannot be exported to ONNX: ONNX's recurrent operators are RNN, GRU and LSTM, and none computes it; `
      + `cells that export: ${ONNX_EXPORTABLE.join(', ')}`);
  }
  return spec;
}

/** Block permutation: onnxOrder[k] is the index of ONNX's k-th block among deeprnn's. */
function blockOrder(cell: CellKind, spec: OnnxCell): number[] {
  const names = cellInfo(cell).gateNames.split(',');
  const order = spec.gates.map((g) => names.indexOf(g));
  if (order.length !== names.length || order.some((i) => i < 0)) {
    throw new Error(`the ${cell} cell's gates ${names.join(',')} do not match ONNX ${spec.op}'s ${spec.gates.join(',')}`);
  }
  return order;
}

/** Rows of a (G*H, cols) matrix (or a G*H vector: cols 1) with its H-row blocks permuted. */
function reorderBlocks(a: Float32Array, H: number, cols: number, order: number[]): Float32Array {
  const out = new Float32Array(a.length);
  const block = H * cols;
  order.forEach((src, k) => out.set(a.subarray(src * block, (src + 1) * block), k * block));
  return out;
}

/** (rows, cols) transposed. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

const FLOAT = 1;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7, STRINGS: 8 } as const;

/** A float tensor as little-endian raw bytes (ONNX's raw_data is little-endian on every platform). */
function floatTensor(name: string, dims: number[], data: Float32Array) {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
  return { name, dims, data_type: FLOAT, raw_data: raw };
}

function int64Tensor(name: string, dims: number[], values: number[]) {
  return { name, dims, data_type: INT64, int64_data: values };
}

function attribute(name: string, v: number | number[] | string | string[]) {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: ATTR.INT, i: v } : { name, type: ATTR.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: ATTR.STRING, s: new TextEncoder().encode(v) };
  if (v.every((x) => typeof x === 'number')) return { name, type: ATTR.INTS, ints: v };
  return { name, type: ATTR.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
}

function node(op_type: string, input: string[], output: string[], name: string, attrs: Record<string, number | number[] | string | string[]> = {}) {
  return { op_type, input, output, name, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) };
}

/** A value's type: float or int64, with named (string) or fixed (number) dimensions. */
function valueInfo(name: string, elemType: number, dims: (string | number)[], doc: string) {
  const dim = dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d }));
  return { name, doc_string: doc, type: { tensor_type: { elem_type: elemType, shape: { dim } } } };
}

let modelType: protobuf.Type | null = null;

function onnxModelType(): protobuf.Type {
  // protobufjs (a CommonJS package) is loaded here, at the first export: its
  // load takes tens of milliseconds that every other command is spared.
  modelType ??= (createRequire(import.meta.url)('protobufjs') as typeof protobuf).parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The card of an export: configuration, tokenizer and the graph's interface. */
export function onnxCard(config: ModelConfig, tokenizer: Tokenizer, lineEnds?: LineEnds): OnnxCard {
  // (unsaid: as asTrainingRead reads a model without a record, written out so that the card says it)
  lineEnds ??= unsaidLineEnds(tokenizer);
  if (!isLineEnds(lineEnds)) throw new InputError(`lineEnds must be "lf" or "kept", got ${describe(lineEnds)}`);
  return {
    format: CARD_FORMAT,
    version: 1,
    producer: `deeprnn ${packageVersion()}`,
    opset: ONNX_OPSET,
    config: { cell: config.cell, vocabSize: config.vocabSize, hidden: [...config.hidden] },
    tokenizer: tokenizer.toJSON(),
    lineEnds,
    io: onnxIO(config.hidden.length, carriesC(config.cell)),
  };
}

export interface OnnxExport {
  /** The ONNX model (protobuf bytes). */
  bytes: Uint8Array;
  /** What NAME.json holds beside it (also in the model's metadata as "deeprnn"). */
  card: OnnxCard;
}

/**
 * The model as an ONNX ModelProto: a model whose cell ONNX cannot express
 * (mgu) is an InputError that says so. Dropout is a training-only operation
 * and has no part in the graph.
 */
export function exportOnnx(model: Module<Float32Array> & { config: ModelConfig }, tokenizer: Tokenizer): OnnxExport {
  // (before: a TypeError from inside for anything else, and non-finite weights written as they were)
  const m = model as Partial<typeof model> | null;
  const notModel = () => new InputError(`exportOnnx needs a model (an RNNLM: new RNNLM, RNNLM.load or train()'s), got ${describe(model)}`);
  if (typeof m !== 'object' || m === null || typeof m.config !== 'object' || m.config === null || typeof m.params?.length !== 'number') throw notModel();
  if (!(tokenizer instanceof Tokenizer)) {
    throw new InputError(`exportOnnx needs the model's tokenizer (Tokenizer.fit, Tokenizer.fromJSON or a model's tokenizer), got ${describe(tokenizer)}`);
  }
  const { config } = model;
  const spec = checkExportable(config.cell);
  if (tokenizer.vocab.size !== config.vocabSize) {
    throw new InputError(`the tokenizer has ${tokenizer.vocab.size} tokens but the model's vocabulary is ${config.vocabSize}`);
  }
  // Its weights alone, as float32, must fit in one protobuf (2 GiB); deeprnn writes no external data.
  const weightBytes = 4 * model.params.length;
  if (weightBytes > ONNX_MAX_BYTES) {
    throw new InputError(`this model cannot be exported to ONNX: its ${model.params.length.toLocaleString('en-US')} weights as float32 are `
      + `${weightBytes.toLocaleString('en-US')} bytes, more than the ${ONNX_MAX_BYTES.toLocaleString('en-US')} (2 GiB) that one ONNX file (a protobuf) holds `
      + 'and deeprnn writes no external data: export a smaller model');
  }
  if (!(model.params instanceof Float32Array) || typeof model.param !== 'function' || typeof model.parameters !== 'function') throw notModel();
  for (const p of model.parameters()) {
    const i = firstNonFinite(p.data);
    if (i >= 0) {
      throw new InputError(`this model cannot be exported to ONNX: tensor "${p.name}" has a non-finite value (${p.data[i]}) at index ${i}; the weights are unusable`);
    }
  }
  const order = blockOrder(config.cell, spec);
  const G = order.length;
  const V = config.vocabSize;
  const L = config.hidden.length;
  const card = onnxCard(config, tokenizer, (model as { lineEnds?: LineEnds }).lineEnds);
  const { io } = card;
  const initializer: ReturnType<typeof floatTensor | typeof int64Tensor>[] = [];
  const nodes: ReturnType<typeof node>[] = [];

  initializer.push(int64Tensor('onehot.depth', [], [V]));
  initializer.push(floatTensor('onehot.values', [2], Float32Array.from([0, 1])));
  initializer.push(int64Tensor('axes.1', [1], [1]));
  initializer.push(int64Tensor('axes.0', [1], [0]));
  nodes.push(node('OneHot', [io.tokens, 'onehot.depth', 'onehot.values'], ['x_l0'], 'onehot', { axis: -1 }));

  let x = 'x_l0';
  // A model that runs its products in bf16 (a checkpoint trained so, as predict reads it) exports
  // the weights it multiplies as they are rounded there, so that ONNX decoding follows predict.
  const bf16 = (model as { precision?: string }).precision === 'bf16';
  const product = (w: Float32Array) => (bf16 ? roundBf16(w) : w);
  for (let l = 0; l < L; l++) {
    const H = config.hidden[l]!;
    const I = layerInput(config, l);
    const W = reorderBlocks(product(model.param(`rnn.weight_ih_l${l}`)), H, I, order);
    const R = reorderBlocks(product(model.param(`rnn.weight_hh_l${l}`)), H, H, order);
    const B = new Float32Array(2 * G * H);
    B.set(reorderBlocks(model.param(`rnn.bias_ih_l${l}`), H, 1, order), 0);
    B.set(reorderBlocks(model.param(`rnn.bias_hh_l${l}`), H, 1, order), G * H);
    initializer.push(floatTensor(`rnn.W_l${l}`, [1, G * H, I], W));
    initializer.push(floatTensor(`rnn.R_l${l}`, [1, G * H, H], R));
    initializer.push(floatTensor(`rnn.B_l${l}`, [1, 2 * G * H], B));
    const inputs = [x, `rnn.W_l${l}`, `rnn.R_l${l}`, `rnn.B_l${l}`, '', io.h0[l]!];
    const outputs = [`y_l${l}`, io.hT[l]!];
    if (io.c0.length) {
      inputs.push(io.c0[l]!);
      outputs.push(io.cT[l]!);
    }
    nodes.push(node(spec.op, inputs, outputs, `${spec.op.toLowerCase()}_l${l}`, { hidden_size: H, ...spec.attributes }));
    x = `x_l${l + 1}`;
    nodes.push(node('Squeeze', [`y_l${l}`, 'axes.1'], [x], `squeeze_l${l}`));
  }

  const top = config.hidden[L - 1]!;
  initializer.push(floatTensor('linear.weight_t', [top, V], transpose(product(model.param('linear.weight')), V, top)));
  initializer.push(floatTensor('linear.bias', [V], Float32Array.from(model.param('linear.bias'))));
  nodes.push(node('MatMul', [x, 'linear.weight_t'], ['linear.xw'], 'linear_matmul'));
  nodes.push(node('Add', ['linear.xw', 'linear.bias'], [io.logits], 'linear_add'));
  nodes.push(node('Squeeze', [io.h0[L - 1]!, 'axes.0'], ['h0_top'], 'squeeze_h0_top'));
  nodes.push(node('MatMul', ['h0_top', 'linear.weight_t'], ['initial.xw'], 'initial_matmul'));
  nodes.push(node('Add', ['initial.xw', 'linear.bias'], [io.initialLogits], 'initial_add'));

  const state = (name: string, l: number, what: string) => valueInfo(name, FLOAT, [1, 'batch', config.hidden[l]!], `layer ${l}'s ${what}`);
  const graph = {
    name: `deeprnn_${config.cell}_${config.hidden.join('x')}`,
    doc_string: `deeprnn ${config.cell} language model: ${L} layers (${config.hidden.join(', ')} units), vocabulary of ${V}`,
    node: nodes,
    initializer,
    input: [
      valueInfo(io.tokens, INT64, ['seq', 'batch'], 'token ids, time-major'),
      ...io.h0.map((n, l) => state(n, l, 'initial h')),
      ...io.c0.map((n, l) => state(n, l, 'initial c')),
    ],
    output: [
      valueInfo(io.logits, FLOAT, ['seq', 'batch', V], 'next-token logits after each step'),
      ...io.hT.map((n, l) => state(n, l, 'final h')),
      ...io.cT.map((n, l) => state(n, l, 'final c')),
      valueInfo(io.initialLogits, FLOAT, ['batch', V], 'next-token logits of the initial state, before any token'),
    ],
  };
  const modelProto = {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'deeprnn',
    producer_version: packageVersion(),
    doc_string: graph.doc_string,
    graph,
    metadata_props: [{ key: 'deeprnn', value: JSON.stringify(card) }],
  };
  const Model = onnxModelType();
  const problem = Model.verify(modelProto);
  if (problem) throw new Error(`the ONNX model does not fit onnx.proto: ${problem}`);
  return { bytes: Model.encode(Model.fromObject(modelProto)).finish(), card };
}

/** Decodes an ONNX model's bytes (for tests and tools): the ModelProto as a plain object, snake_case keys. */
export function decodeOnnx(bytes: Uint8Array): Record<string, unknown> {
  const Model = onnxModelType();
  return Model.toObject(Model.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
