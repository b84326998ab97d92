// The book's StackedRNNScratch as a language model, in float64 TypeScript:
// every equation written out per time step and per example, forward and
// backward. It is the oracle the native code is tested against, and
// `deeprnn train --impl scratch` trains with it (slowly). With roundProducts
// 'bf16' it is the oracle of bf16 training: each matrix product reads its
// operands rounded to bf16 where the native bf16 run rounds them.
// T=steps, N=batch, I=input, H=hidden, V=vocab; batches are time-major (T, N).
import type { Batch } from '../data/datamodule.js';
import { checkRng, Rng } from '../rng.js';
import { checkNewModelConfig, frozenConfig, gatesOf, initParams, layerInput, paramCount, paramTable, type ModelConfig } from './config.js';
import { checkBatch, checkEvaluateOptions, checkForwardOptions, checkShard, fillDropoutMask, type EvalResult, type ForwardOptions, type LanguageModel, type Shard } from './lm.js';
import { CarriedState } from './carry.js';
import { allocateWeights } from './memory.js';
import { Module, rnnLayerViews } from './module.js';
import { bf16Operand } from './bf16.js';
import { InputError } from '../errors.js';
import { describe, refuseUnknownKeys } from '../validate.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

interface LayerParams {
  H: number;
  I: number;
  wih: Float64Array; // (G*H, I)
  whh: Float64Array; // (G*H, H)
  bih: Float64Array; // (G*H)
  bhh: Float64Array; // (G*H)
  dwih: Float64Array;
  dwhh: Float64Array;
  dbih: Float64Array;
  dbhh: Float64Array;
}

interface LayerCache {
  xr: Float64Array | null; // (T, N, I) input as the products read it; null for layer 0 (tokens)
  wihr: Float64Array; // W_ih as the products read it (layer 0: the gather table's values)
  whhr: Float64Array; // W_hh as the products read it
  y: Float64Array; // (T, N, H)
  out: Float64Array; // y after dropout: the next layer's input
  mask: Float64Array | null;
  gates: Float64Array; // (T, N, G*H) activated gates: rnn [h], gru [r, z, n], lstm [i, f, g, o], mgu [f, n]
  extra: Float64Array; // (T, N, H): gru W_hn h + b_hn, lstm c, mgu f h_{t-1}
  h0: Float64Array; // (N, H) initial state (zeros, or carried)
  c0: Float64Array; // (N, H) initial cell state (LSTM)
}

/** out (R) = W (R, C) v (C) + b (R), v read from v[vo..vo+C) */
function affine(out: Float64Array, W: Float64Array, v: ArrayLike<number>, vo: number, b: Float64Array, R: number, C: number): void {
  for (let r = 0; r < R; r++) {
    let s = b[r]!;
    for (let c = 0; c < C; c++) s += W[r * C + c]! * v[vo + c]!;
    out[r] = s;
  }
}

export interface ScratchOptions {
  /**
   * What the matrix products read of their operands. 'none' (the default):
   * the float64 values. 'bf16': each operand rounded to bf16 (bf16Operand)
   * where a native bf16 run (RNNLM.precision = 'bf16', native/kernels/lm.h)
   * rounds it: both operands of the input projections (layer 0: W_ih, its
   * one-hot input exact), of every step's recurrent product (mgu's second one
   * reads f h_{t-1}), of the output layer, and of the backward's
   * input-gradient and weight-gradient products (the gate gradients dgx, or
   * dgh where they differ, and the dlogits, against the weights, the layer
   * inputs and h_{t-1}); never the biases, their gradients, or layer 0's
   * W_ih gradient, which add float32 rows of dgx. The arithmetic stays float64.
   */
  roundProducts?: 'none' | 'bf16';
}

/** The scratch model runs in one process: a shard, checked, may only be the whole batch (rank 0 of 1). */
function checkWhole(shard: unknown, what: string): void {
  if (shard == null) return;
  checkShard(shard, what);
  if (shard.size !== 1) throw new InputError(`${what}: the scratch model runs in one process: shard must be { rank: 0, size: 1 } or none, got size ${shard.size}`);
}

export class RNNLMScratch extends Module<Float64Array> implements LanguageModel {
  private readonly layers: LayerParams[];
  /** One operand as the products read it, and a whole array (the same array when nothing is rounded). */
  private readonly q: (x: number) => number;
  private readonly rounded: (a: Float64Array) => Float64Array;
  private caches: LayerCache[] = [];
  private batch: Batch | null = null;
  private dTop: Float64Array | null = null;
  private readonly carry: CarriedState<Float64Array>;

  /** The model's configuration: a checked, frozen copy of the one it was made with. */
  readonly config: ModelConfig;

  constructor(config: ModelConfig, rng: Rng = new Rng(0), opts: ScratchOptions = {}) {
    config = frozenConfig(checkNewModelConfig(config, 'new RNNLMScratch(config)'));
    checkRng(rng, 'new RNNLMScratch(config, rng): rng');
    if (typeof opts !== 'object' || opts === null) throw new InputError(`new RNNLMScratch(config, rng, opts): opts must be { roundProducts }, got ${describe(opts)}`);
    refuseUnknownKeys(opts, ['roundProducts'], 'new RNNLMScratch(config, rng, opts)');
    if (opts.roundProducts !== undefined && opts.roundProducts !== 'none' && opts.roundProducts !== 'bf16') {
      throw new InputError(`roundProducts must be none or bf16, got ${describe(opts.roundProducts)}`);
    }
    const table = paramTable(config);
    const n = paramCount(table);
    super(table, ...allocateWeights(n, (k) => new Float64Array(k)));
    this.config = config;
    initParams(this.params, config, rng);
    this.carry = new CarriedState(config, (n) => new Float64Array(n));
    this.layers = config.hidden.map((H, l) => ({ H, I: layerInput(config, l), ...rnnLayerViews(this, l) }));
    const bf16 = opts.roundProducts === 'bf16';
    this.q = bf16 ? bf16Operand : (x) => x;
    this.rounded = bf16 ? (a) => a.map(bf16Operand) : (a) => a;
  }

  forward(batch: Batch, opts: ForwardOptions = { train: false }): number {
    this.checkAttached();
    checkBatch(batch, 'forward');
    checkForwardOptions(opts, 'forward');
    this.checkIds(batch, 'forward');
    checkWhole(opts.shard, 'forward');
    const Y = this.stackForward(batch, opts);
    const { lossSum, dlogitsTop } = this.output(Y, batch, opts.train);
    this.batch = batch;
    this.dTop = dlogitsTop;
    return lossSum / (batch.T * batch.N);
  }

  evaluate(batch: Batch, opts: { carry?: boolean; shard?: Shard | null } = {}): EvalResult {
    this.checkAttached();
    checkBatch(batch, 'evaluate');
    checkEvaluateOptions(opts, 'evaluate');
    this.checkIds(batch, 'evaluate');
    // (before, a shard was not read: the whole batch was scored where the native model scores a share)
    checkWhole(opts.shard, 'evaluate');
    const Y = this.stackForward(batch, { train: false, carry: opts.carry });
    const { lossSum, correct } = this.output(Y, batch, false);
    return { lossSum, correct, count: batch.T * batch.N };
  }

  /** Refuses token arrays of the wrong length and ids outside the vocabulary, as the native model does (before: a loss of NaN). */
  private checkIds(batch: Batch, what: string): void {
    const V = this.config.vocabSize;
    const n = batch.T * batch.N;
    for (const key of ['inputs', 'targets'] as const) {
      const a: unknown = batch[key];
      if (!(a instanceof Int32Array || a instanceof Uint16Array || a instanceof Uint32Array || Array.isArray(a))) {
        throw new InputError(`${what}: batch.${key} must be T*N = ${n} token ids (an Int32Array, a Uint16Array or an array), got ${describe(a)}`);
      }
      const ids = a as ArrayLike<unknown>;
      if (ids.length !== n) throw new InputError(`${what}: batch.${key} holds ${ids.length} ids, not T*N = ${n}`);
      for (let i = 0; i < n; i++) {
        const id = ids[i];
        if (!(Number.isInteger(id) && (id as number) >= 0 && (id as number) < V)) throw new InputError(`${what}: batch.${key}[${i}] = ${String(id)} is outside [0, ${V})`);
      }
    }
  }

  backward(): void {
    if (!this.dTop || !this.batch) throw new Error('backward() needs a training forward() first');
    this.stackBackward(this.dTop, this.batch);
    this.dTop = null;
  }

  resetState(): void {
    this.carry.reset();
  }

  carriedState(): Float32Array[] | null {
    return this.carry.toArrays();
  }

  setCarriedState(state: Float32Array[], N: number): void {
    this.carry.set(state, N);
  }

  /** @internal The carried state as it is, raw; the function puts it back (Trainer.validate). */
  keepCarriedState(): () => void {
    return this.carry.keep();
  }

  /** Runs every layer over the whole sequence; returns the top layer's output (T, N, H). */
  private stackForward(batch: Batch, opts: ForwardOptions): Float64Array {
    const { T, N, inputs } = batch;
    const { cell, dropout } = this.config;
    const G = gatesOf(cell);
    this.caches = [];
    let x: Float64Array | null = null;
    this.layers.forEach((p, l) => {
      const { H, I } = p;
      const y = new Float64Array(T * N * H);
      const gates = new Float64Array(T * N * G * H);
      const extra = new Float64Array(T * N * H);
      const gx = new Float64Array(G * H);
      const gh = new Float64Array(G * H);
      const carried = opts.carry ? this.carry.for(N)[l]! : null;
      const h0 = carried ? carried.h.slice() : new Float64Array(N * H);
      const c0 = carried?.c ? carried.c.slice() : new Float64Array(N * H);
      const xr = x && this.rounded(x);
      const wihr = this.rounded(p.wih);
      const whhr = this.rounded(p.whh);
      for (let n = 0; n < N; n++) {
        // H_0 = 0, or the state the previous batch ended in
        let h = h0.slice(n * H, (n + 1) * H);
        let c = c0.slice(n * H, (n + 1) * H);
        for (let t = 0; t < T; t++) {
          const row = t * N + n;
          // gx = W_ih x_t + b_ih (one-hot x: a column of W_ih)
          if (xr) affine(gx, wihr, xr, row * I, p.bih, G * H, I);
          else for (let r = 0; r < G * H; r++) gx[r] = wihr[r * I + inputs[row]!]! + p.bih[r]!;
          // gh = W_hh h_{t-1} + b_hh
          affine(gh, whhr, this.rounded(h), 0, p.bhh, G * H, H);
          const g = gates.subarray(row * G * H, (row + 1) * G * H);
          const hNew = new Float64Array(H);
          const cNew = new Float64Array(H);
          if (cell === 'mgu') {
            // f = sigmoid(gx_f + W_hf h + b_hf); the candidate's recurrent input is f h:
            // gh_n = W_hn (f h) + b_hn
            const fh = extra.subarray(row * H, (row + 1) * H);
            for (let j = 0; j < H; j++) {
              g[j] = sigmoid(gx[j]! + gh[j]!);
              fh[j] = g[j]! * h[j]!;
            }
            affine(gh.subarray(H), whhr.subarray(H * H), this.rounded(fh), 0, p.bhh.subarray(H), H, H);
          }
          for (let j = 0; j < H; j++) {
            if (cell === 'rnn' || cell === 'rnn-relu') {
              // h = phi(W_ih x + b_ih + W_hh h + b_hh)
              const a = gx[j]! + gh[j]!;
              hNew[j] = g[j] = cell === 'rnn' ? Math.tanh(a) : Math.max(a, 0);
            } else if (cell === 'gru') {
              // r, z = sigmoid(...); n = tanh(gx_n + r * gh_n); h = (1 - z) n + z h
              const r = sigmoid(gx[j]! + gh[j]!);
              const z = sigmoid(gx[H + j]! + gh[H + j]!);
              const nn = Math.tanh(gx[2 * H + j]! + r * gh[2 * H + j]!);
              g[j] = r;
              g[H + j] = z;
              g[2 * H + j] = nn;
              extra[row * H + j] = gh[2 * H + j]!;
              hNew[j] = (1 - z) * nn + z * h[j]!;
            } else if (cell === 'mgu') {
              // n = tanh(gx_n + W_hn (f h) + b_hn); h = (1 - f) h + f n
              const nn = Math.tanh(gx[H + j]! + gh[H + j]!);
              g[H + j] = nn;
              hNew[j] = (1 - g[j]!) * h[j]! + g[j]! * nn;
            } else {
              // i, f, o = sigmoid(...); g = tanh(...); c = f c + i g; h = o tanh(c)
              const ig = sigmoid(gx[j]! + gh[j]!);
              const fg = sigmoid(gx[H + j]! + gh[H + j]!);
              const gg = Math.tanh(gx[2 * H + j]! + gh[2 * H + j]!);
              const og = sigmoid(gx[3 * H + j]! + gh[3 * H + j]!);
              g[j] = ig;
              g[H + j] = fg;
              g[2 * H + j] = gg;
              g[3 * H + j] = og;
              cNew[j] = fg * c[j]! + ig * gg;
              extra[row * H + j] = cNew[j]!;
              hNew[j] = og * Math.tanh(cNew[j]!);
            }
          }
          h = hNew;
          c = cNew;
          y.set(h, row * H);
        }
        if (carried) {
          carried.h.set(h, n * H);
          carried.c?.set(c, n * H);
        }
      }
      let out = y;
      let mask: Float64Array | null = null;
      if (opts.train && dropout > 0 && l < this.layers.length - 1) {
        if (!opts.rng) throw new InputError('forward: training with dropout needs an rng (to draw the masks)');
        mask = new Float64Array(T * N * H);
        fillDropoutMask(mask, dropout, opts.rng);
        out = y.map((v, i) => v * mask![i]!);
      }
      this.caches.push({ xr, wihr, whhr, y, out, mask, gates, extra, h0, c0 });
      x = out;
    });
    return x!;
  }

  /** Linear output layer and cross-entropy; in training also d(mean loss)/dY_top and the output gradients. */
  private output(Y: Float64Array, batch: Batch, train: boolean): { lossSum: number; correct: number; dlogitsTop: Float64Array | null } {
    const { T, N, targets } = batch;
    const M = T * N;
    const V = this.config.vocabSize;
    const H = this.config.hidden[this.config.hidden.length - 1]!;
    const W = this.param('linear.weight');
    const b = this.param('linear.bias');
    const dW = this.grad('linear.weight');
    const db = this.grad('linear.bias');
    const Wr = this.rounded(W);
    const Yr = this.rounded(Y);
    const z = new Float64Array(V);
    const dY = train ? new Float64Array(M * H) : null;
    let lossSum = 0;
    let correct = 0;
    for (let m = 0; m < M; m++) {
      affine(z, Wr, Yr, m * H, b, V, H);
      let max = -Infinity;
      let arg = 0;
      for (let v = 0; v < V; v++) if (z[v]! > max) { max = z[v]!; arg = v; }
      let se = 0;
      for (let v = 0; v < V; v++) se += Math.exp(z[v]! - max);
      const tgt = targets[m]!;
      lossSum += max + Math.log(se) - z[tgt]!;
      if (arg === tgt) correct++;
      if (dY) {
        // dlogits = (softmax(z) - onehot(target)) / M
        for (let v = 0; v < V; v++) {
          const d = (Math.exp(z[v]! - max) / se - (v === tgt ? 1 : 0)) / M;
          const dr = this.q(d);
          db[v]! += d;
          for (let j = 0; j < H; j++) {
            dW[v * H + j]! += dr * Yr[m * H + j]!;
            dY[m * H + j]! += dr * Wr[v * H + j]!;
          }
        }
      }
    }
    return { lossSum, correct, dlogitsTop: dY };
  }

  /** Backpropagation through time, top layer first. */
  private stackBackward(dTop: Float64Array, batch: Batch): void {
    const { T, N, inputs } = batch;
    const { cell } = this.config;
    const G = gatesOf(cell);
    let dOut = dTop;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const p = this.layers[l]!;
      const { H, I } = p;
      const { xr, wihr, whhr, y, gates, extra, h0, c0 } = this.caches[l]!;
      const dx = xr ? new Float64Array(T * N * I) : null;
      const dgx = new Float64Array(G * H);
      const dgh = new Float64Array(G * H);
      for (let n = 0; n < N; n++) {
        let dh = new Float64Array(H); // dL/dh_t from step t+1
        let dc = new Float64Array(H);
        for (let t = T - 1; t >= 0; t--) {
          const row = t * N + n;
          const hPrev = t > 0 ? y.subarray((row - N) * H, (row - N + 1) * H) : h0.subarray(n * H, (n + 1) * H);
          const cPrev = t > 0 ? extra.subarray((row - N) * H, (row - N + 1) * H) : c0.subarray(n * H, (n + 1) * H);
          const g = gates.subarray(row * G * H, (row + 1) * G * H);
          const dhPrev = new Float64Array(H);
          const dcPrev = new Float64Array(H);
          if (cell === 'mgu') {
            // da_n = d f (1 - n^2); d(f h) = W_hn^T da_n; da_f = (d (n - h) + d(f h) h) f (1 - f);
            // dh_{t-1} = d (1 - f) + d(f h) f (+ W_hf^T da_f below)
            for (let j = 0; j < H; j++) {
              const d = dOut[row * H + j]! + dh[j]!;
              const f = g[j]!, nn = g[H + j]!;
              dgx[H + j] = dgh[H + j] = d * f * (1 - nn * nn);
            }
            const danr = this.rounded(dgh.subarray(H));
            for (let j = 0; j < H; j++) {
              let dfh = 0;
              for (let r = 0; r < H; r++) dfh += whhr[(H + r) * H + j]! * danr[r]!;
              const d = dOut[row * H + j]! + dh[j]!;
              const f = g[j]!, nn = g[H + j]!, hp = hPrev[j]!;
              dgx[j] = dgh[j] = (d * (nn - hp) + dfh * hp) * f * (1 - f);
              dhPrev[j] = d * (1 - f) + dfh * f;
            }
          }
          for (let j = 0; j < H && cell !== 'mgu'; j++) {
            const d = dOut[row * H + j]! + dh[j]!;
            if (cell === 'rnn' || cell === 'rnn-relu') {
              const h = g[j]!;
              // (a NaN h passes d, as the native kernels and PyTorch's threshold_backward do)
              dgx[j] = dgh[j] = cell === 'rnn' ? d * (1 - h * h) : h > 0 || Number.isNaN(h) ? d : 0;
            } else if (cell === 'gru') {
              const r = g[j]!, z = g[H + j]!, nn = g[2 * H + j]!, hn = extra[row * H + j]!;
              const dan = d * (1 - z) * (1 - nn * nn);
              const dar = dan * hn * r * (1 - r);
              const daz = d * (hPrev[j]! - nn) * z * (1 - z);
              dgx[j] = dgh[j] = dar;
              dgx[H + j] = dgh[H + j] = daz;
              dgx[2 * H + j] = dan;
              dgh[2 * H + j] = dan * r;
              dhPrev[j] = d * z;
            } else {
              const ig = g[j]!, fg = g[H + j]!, gg = g[2 * H + j]!, og = g[3 * H + j]!;
              const tc = Math.tanh(extra[row * H + j]!);
              const dct = dc[j]! + d * og * (1 - tc * tc);
              dgx[j] = dgh[j] = dct * gg * ig * (1 - ig);
              dgx[H + j] = dgh[H + j] = dct * cPrev[j]! * fg * (1 - fg);
              dgx[2 * H + j] = dgh[2 * H + j] = dct * ig * (1 - gg * gg);
              dgx[3 * H + j] = dgh[3 * H + j] = d * tc * og * (1 - og);
              dcPrev[j] = dct * fg;
            }
          }
          // The products' operands: the gate gradients, h_{t-1} and (mgu) f h_{t-1}
          const dgxr = this.rounded(dgx);
          const dghr = this.rounded(dgh);
          const hPrevr = this.rounded(hPrev);
          const fhr = cell === 'mgu' ? this.rounded(extra.subarray(row * H, (row + 1) * H)) : hPrevr;
          for (let r = 0; r < G * H; r++) {
            // dW_ih += dgx x^T, db_ih += dgx, dx = W_ih^T dgx
            p.dbih[r]! += dgx[r]!;
            if (xr) {
              for (let i = 0; i < I; i++) {
                p.dwih[r * I + i]! += dgxr[r]! * xr[row * I + i]!;
                dx![row * I + i]! += wihr[r * I + i]! * dgxr[r]!;
              }
            } else {
              p.dwih[r * I + inputs[row]!]! += dgx[r]!;
            }
            // dW_hh += dgh h_{t-1}^T, db_hh += dgh, dh_{t-1} += W_hh^T dgh
            // (mgu's candidate rows read f h_{t-1}, whose gradient is already in dh_{t-1})
            p.dbhh[r]! += dgh[r]!;
            const fhRows = cell === 'mgu' && r >= H;
            const rin = fhRows ? fhr : hPrevr;
            for (let j = 0; j < H; j++) {
              p.dwhh[r * H + j]! += dghr[r]! * rin[j]!;
              if (!fhRows) dhPrev[j]! += whhr[r * H + j]! * dghr[r]!;
            }
          }
          dh = dhPrev;
          dc = dcPrev;
        }
      }
      if (dx) {
        const below = this.caches[l - 1]!;
        if (below.mask) for (let i = 0; i < dx.length; i++) dx[i]! *= below.mask[i]!;
        dOut = dx;
      }
    }
  }
}
