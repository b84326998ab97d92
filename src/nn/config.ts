// Model configuration and the one table of parameters: names and shapes as
// PyTorch's nn.RNN/GRU/LSTM + nn.Linear, offsets into one flat buffer.
import { native, type CellInfo, type CellKind } from '../native.js';
import type { Rng } from '../rng.js';
import { InputError } from '../errors.js';
import { choice, number, refuseUnknownKeys, show, strictInteger } from '../validate.js';

/**
 * The cell kinds, in the order of native code's descriptors (TypeScript needs
 * the names as a type; a test checks them against native().cells()). Everything
 * else about a cell comes from its descriptor: cellInfo().
 */
export const CELLS: readonly CellKind[] = ['rnn', 'rnn-relu', 'gru', 'lstm', 'mgu'];

let infos: Map<string, CellInfo> | null = null;

/** The native descriptor of a cell kind (gate blocks, what it saves, whether it carries c). */
export function cellInfo(cell: CellKind): CellInfo {
  infos ??= new Map(native().cells().map((c) => [c.name, c]));
  const c = infos.get(cell);
  if (!c) throw new Error(`cell must be one of ${[...infos.keys()].join('|')}, got "${cell}"`);
  return c;
}

/** Whether a cell carries a cell state c beside h (its carried state and checkpoints hold both). */
export function carriesC(cell: CellKind): boolean {
  return cellInfo(cell).carriesC;
}

export interface ModelConfig {
  cell: CellKind;
  /** Size of the vocabulary: one-hot input width and output width. */
  vocabSize: number;
  /** Hidden size of each layer, bottom first; its length is the number of layers. */
  hidden: number[];
  /** Dropout between layers (not after the last), inverted, training only. */
  dropout: number;
}

export interface ParamInfo {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

export function gatesOf(cell: CellKind): number {
  return cellInfo(cell).gates;
}

/** Input width of layer l: the vocabulary (one-hot) for the first, else the layer below. */
export function layerInput(cfg: ModelConfig, l: number): number {
  return l === 0 ? cfg.vocabSize : cfg.hidden[l - 1]!;
}

/** (name, shape, offset) of every parameter, in PyTorch's state_dict order. */
export function paramTable(cfg: ModelConfig): ParamInfo[] {
  const table: ParamInfo[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    table.push({ name, shape, offset, size });
    offset += size;
  };
  const G = gatesOf(cfg.cell);
  cfg.hidden.forEach((H, l) => {
    add(`rnn.weight_ih_l${l}`, [G * H, layerInput(cfg, l)]);
    add(`rnn.weight_hh_l${l}`, [G * H, H]);
    add(`rnn.bias_ih_l${l}`, [G * H]);
    add(`rnn.bias_hh_l${l}`, [G * H]);
  });
  const top = cfg.hidden[cfg.hidden.length - 1]!;
  add('linear.weight', [cfg.vocabSize, top]);
  add('linear.bias', [cfg.vocabSize]);
  return table;
}

/** Where one layer's parameters start in the flat buffer (PyTorch's weight_ih_l, weight_hh_l, bias_ih_l, bias_hh_l). */
export interface LayerOffsets {
  W_ih: number;
  W_hh: number;
  b_ih: number;
  b_hh: number;
}

/** Every layer's offsets, then the output layer's weight and bias: the native LmShape's, by name. */
export interface ModelOffsets {
  layers: LayerOffsets[];
  W_out: number;
  b_out: number;
}

export function modelOffsets(table: ParamInfo[], layers: number): ModelOffsets {
  const at = (name: string) => {
    const p = table.find((q) => q.name === name);
    if (!p) throw new Error(`no parameter named "${name}"`);
    return p.offset;
  };
  return {
    layers: Array.from({ length: layers }, (_, l) => ({
      W_ih: at(`rnn.weight_ih_l${l}`),
      W_hh: at(`rnn.weight_hh_l${l}`),
      b_ih: at(`rnn.bias_ih_l${l}`),
      b_hh: at(`rnn.bias_hh_l${l}`),
    })),
    W_out: at('linear.weight'),
    b_out: at('linear.bias'),
  };
}

export function paramCount(table: ParamInfo[]): number {
  const last = table[table.length - 1];
  return last ? last.offset + last.size : 0;
}

/**
 * PyTorch's default initialisation: every recurrent weight and bias of a layer
 * uniform(-1/sqrt(H), 1/sqrt(H)); nn.Linear's weight and bias uniform(-1/sqrt(in), 1/sqrt(in)).
 */
export function initParams(params: Float32Array | Float64Array, cfg: ModelConfig, rng: Rng): void {
  const top = cfg.hidden[cfg.hidden.length - 1]!;
  for (const p of paramTable(cfg)) {
    const layer = /_l(\d+)$/.exec(p.name);
    const fanIn = layer ? cfg.hidden[Number(layer[1])]! : top;
    const bound = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < p.size; i++) params[p.offset + i] = (2 * rng.uniform() - 1) * bound;
  }
}

/** The most layers a model may have, and units a layer may have. */
export const MAX_LAYERS = 64;
export const MAX_HIDDEN = 1 << 20;

/** The configuration frozen, its hidden sizes too: what a model keeps, so that nothing changes it under the weights. */
export function frozenConfig(c: ModelConfig): ModelConfig {
  return Object.freeze({ ...c, hidden: Object.freeze([...c.hidden]) as number[] });
}

/** The keys of a ModelConfig (the type lists each once). */
const MODEL_CONFIG_KEYS = Object.keys({ cell: true, vocabSize: true, hidden: true, dropout: true } satisfies Record<keyof ModelConfig, true>);

/**
 * checkModelConfig for a config a program gives (a model's constructor): a key
 * it does not have is refused first, a likely one named (`hiden` for hidden).
 */
export function checkNewModelConfig(c: unknown, what: string): ModelConfig {
  if (typeof c === 'object' && c !== null && !Array.isArray(c)) refuseUnknownKeys(c, MODEL_CONFIG_KEYS, what);
  return checkModelConfig(c);
}

/**
 * A model configuration as a caller or a file gives it, checked field by
 * field: the cell among CELLS, the vocabulary at least 2, 1 to MAX_LAYERS
 * layers of 1 to MAX_HIDDEN units, dropout in [0, 1). Each failure names the
 * field (`config.cell must be one of ..., got "tree"`).
 */
export function checkModelConfig(c: unknown, where = 'config'): ModelConfig {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new InputError(`${where} must be an object, got ${show(c)}`);
  const o = c as Record<string, unknown>;
  const cell = choice(`${where}.cell`, o.cell, CELLS);
  const vocabSize = strictInteger(`${where}.vocabSize`, o.vocabSize, 2, Number.MAX_SAFE_INTEGER);
  const hidden: number[] = [];
  if (Array.isArray(o.hidden) && o.hidden.length >= 1 && o.hidden.length <= MAX_LAYERS) {
    // (by index: every() skips the holes of a sparse list)
    for (let l = 0; l < o.hidden.length; l++) {
      const h: unknown = o.hidden[l];
      if (typeof h === 'number' && Number.isSafeInteger(h) && h >= 1 && h <= MAX_HIDDEN) hidden.push(h);
    }
  }
  if (!Array.isArray(o.hidden) || hidden.length !== o.hidden.length || hidden.length === 0) {
    throw new InputError(`${where}.hidden must be a list of 1 to ${MAX_LAYERS} integers from 1 to ${MAX_HIDDEN} (one per layer), got ${show(o.hidden)}`);
  }
  if (typeof o.dropout !== 'number') throw new InputError(`${where}.dropout must be a number in [0, 1), got ${show(o.dropout)}`);
  const dropout = number(`${where}.dropout`, o.dropout, (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  return { cell, vocabSize, hidden, dropout };
}
