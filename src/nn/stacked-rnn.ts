// StackedRNN: L recurrent layers of one cell, each layer's output sequence the
// next one's input, with the cell math in the native addon (one call per layer
// per sequence). Layer 0 takes token ids (one-hot input as a gather).
import { native, type CellKind } from '../native.js';
import type { Rng } from '../rng.js';
import { gatesOf, layerInput, type ModelConfig, type ParamInfo } from './config.js';
import { fillDropoutMask } from './lm.js';
import { Module, rnnLayerViews } from './module.js';
import { Workspace } from './workspace.js';

/** Hidden (and, for LSTM, cell) state of one layer: (N, H) each. */
export interface LayerState {
  h: Float32Array;
  c: Float32Array | null;
}

interface LayerRun {
  x: Float32Array | null; // (T, N, I) input, null for the token layer
  y: Float32Array; // (T, N, H) output
  out: Float32Array; // what the next layer sees: y, or y * dropout mask
  mask: Float32Array | null;
  saved: Float32Array;
  h0: Float32Array;
  c0: Float32Array | null;
  hT: Float32Array;
  cT: Float32Array | null;
}

function copyInto(dst: Float32Array, src: Float32Array): Float32Array {
  dst.set(src);
  return dst;
}

export class StackedRNN extends Module<Float32Array> {
  private readonly layers: ReturnType<typeof rnnLayerViews<Float32Array>>[];
  private readonly ws = new Workspace();
  private runs: LayerRun[] = [];
  private tokens: Int32Array | null = null;
  private T = 0;
  private N = 0;

  /** `params` and `grads` cover exactly the rnn.* entries of `table` (which start at offset 0). */
  constructor(
    readonly config: ModelConfig,
    table: ParamInfo[],
    params: Float32Array,
    grads: Float32Array,
  ) {
    super(table, params, grads);
    this.layers = config.hidden.map((_, l) => rnnLayerViews(this, l));
  }

  get cell(): CellKind {
    return this.config.cell;
  }

  /**
   * Runs the stack over tokens (T, N) from `initial` states (zeros when absent).
   * Returns the top layer's output (T, N, H_top), valid until the next forward.
   */
  forward(tokens: Int32Array, T: number, N: number, opts: { train: boolean; rng?: Rng; initial?: LayerState[] }): Float32Array {
    const nat = native();
    const { cell, hidden, vocabSize, dropout } = this.config;
    const G = gatesOf(cell);
    const M = T * N;
    const lstm = cell === 'lstm';
    this.tokens = tokens;
    this.T = T;
    this.N = N;
    this.runs = [];
    let x: Float32Array | null = null;
    for (let l = 0; l < hidden.length; l++) {
      const H = hidden[l]!;
      const w = this.layers[l]!;
      const gx = this.ws.get('gx', M * G * H);
      if (l === 0) nat.embeddingForward(gx, tokens, w.wih, w.bih, M, vocabSize, G * H);
      else nat.linearForward(gx, x!, w.wih, w.bih, M, layerInput(this.config, l), G * H);
      const init = opts.initial?.[l];
      const run: LayerRun = {
        x,
        y: this.ws.get(`y${l}`, M * H),
        out: this.ws.get(`y${l}`, M * H),
        mask: null,
        saved: this.ws.get(`saved${l}`, nat.savedSize(cell, T, N, H)),
        // Copies: the caller may overwrite its state before backward() needs it.
        h0: init ? copyInto(this.ws.get(`h0_${l}`, N * H), init.h) : this.ws.zeros(`h0_${l}`, N * H),
        c0: lstm ? (init?.c ? copyInto(this.ws.get(`c0_${l}`, N * H), init.c) : this.ws.zeros(`c0_${l}`, N * H)) : null,
        hT: this.ws.get(`hT${l}`, N * H),
        cT: lstm ? this.ws.get(`cT${l}`, N * H) : null,
      };
      nat.cellForward(cell, run.y, run.hT, run.cT, run.saved, gx, run.h0, run.c0, w.whh, w.bhh, T, N, H);
      if (opts.train && dropout > 0 && l < hidden.length - 1) {
        if (!opts.rng) throw new Error('training with dropout needs an rng');
        run.mask = this.ws.get(`mask${l}`, M * H);
        fillDropoutMask(run.mask, dropout, opts.rng);
        run.out = this.ws.get(`drop${l}`, M * H);
        for (let i = 0; i < M * H; i++) run.out[i] = run.y[i]! * run.mask[i]!;
      }
      this.runs.push(run);
      x = run.out;
    }
    return x!;
  }

  /** Final state of every layer after the last forward (views, valid until the next forward). */
  finalState(): LayerState[] {
    return this.runs.map((r) => ({ h: r.hT, c: r.cT }));
  }

  /** Accumulates gradients for the last forward, given dL/dY of the top layer (T, N, H_top). */
  backward(dTop: Float32Array): void {
    const nat = native();
    const { cell, hidden, vocabSize } = this.config;
    const G = gatesOf(cell);
    const { T, N } = this;
    const M = T * N;
    const lstm = cell === 'lstm';
    let dy = dTop;
    for (let l = hidden.length - 1; l >= 0; l--) {
      const H = hidden[l]!;
      const w = this.layers[l]!;
      const run = this.runs[l]!;
      const dgx = this.ws.get('dgx', M * G * H);
      const dh0 = this.ws.get('dh0', N * H);
      const dc0 = lstm ? this.ws.get('dc0', N * H) : null;
      nat.cellBackward(cell, dgx, dh0, dc0, w.dwhh, w.dbhh, dy, null, null, run.saved, run.y, run.h0, run.c0, w.whh, T, N, H);
      if (l === 0) {
        nat.embeddingBackward(w.dwih, w.dbih, dgx, this.tokens!, M, vocabSize, G * H);
      } else {
        const I = layerInput(this.config, l);
        const dx = this.ws.get(l % 2 ? 'dxa' : 'dxb', M * I);
        nat.linearBackward(dx, w.dwih, w.dbih, dgx, run.x!, w.wih, M, I, G * H);
        const below = this.runs[l - 1]!;
        if (below.mask) for (let i = 0; i < dx.length; i++) dx[i] = dx[i]! * below.mask[i]!;
        dy = dx;
      }
    }
  }
}
