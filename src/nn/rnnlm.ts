// RNNLM: one-hot tokens -> StackedRNN -> linear output layer, mean
// cross-entropy; the output layer and the loss run fused in native code.
import type { Batch } from '../data/datamodule.js';
import { native } from '../native.js';
import { Rng } from '../rng.js';
import { gatesOf, initParams, layerInput, paramCount, paramTable, type ModelConfig } from './config.js';
import type { EvalResult, ForwardOptions, LanguageModel } from './lm.js';
import { fillDropoutMask } from './lm.js';
import { Module, rnnLayerViews } from './module.js';
import { CarriedState } from './carry.js';
import { StackedRNN } from './stacked-rnn.js';
import { Workspace } from './workspace.js';

/**
 * Training and evaluation batches of more than this many tokens run in chunks
 * of about this many tokens (T times the chunk's windows), each chunk through
 * the whole network on one thread, so that its activations stay in cache
 * (measured on the book's run: 2048 tokens beat 4096, 8192 and whole
 * batches). Results depend on it (by rounding) but never on the thread count.
 */
export const CHUNK_TOKENS = 2048;

/** Chunks keep their gradients apart until the end: at most this many bytes of them. */
export const CHUNK_GRAD_BYTES = 64 * 2 ** 20;

/**
 * Windows per chunk for a training batch of N windows of T steps, with chunks
 * of about `tokens` tokens and `params` parameters; Infinity when the batch
 * runs whole (it fits one chunk, or the chunks' gradients would take more
 * than CHUNK_GRAD_BYTES). The windows are shared out evenly (N=50 in two
 * chunks: 25 and 25), so that chunks balance across threads.
 */
export function chunkRows(T: number, N: number, params: number, tokens = CHUNK_TOKENS): number {
  const most = Math.max(1, Math.floor(tokens / T));
  if (N <= most) return Infinity;
  const chunks = Math.ceil(N / most);
  if (chunks * params * 4 > CHUNK_GRAD_BYTES) return Infinity;
  return Math.ceil(N / chunks);
}

export class RNNLM extends Module<Float32Array> implements LanguageModel {
  readonly rnn: StackedRNN;
  private readonly ws = new Workspace();
  private readonly W: Float32Array;
  private readonly b: Float32Array;
  private readonly dW: Float32Array;
  private readonly db: Float32Array;
  private dTop: Float32Array | null = null;
  private readonly carry: CarriedState<Float32Array>;
  /** Tokens per training chunk (see CHUNK_TOKENS); Infinity runs every batch whole. */
  chunkTokens = CHUNK_TOKENS;
  /** The last training forward ran in chunks and did the backward pass too. */
  private doneInForward = false;
  private readonly hiddenI32: Int32Array;
  private readonly offsets: Int32Array;

  /** A model with PyTorch's default initialisation drawn from `rng` (or seed 0). */
  constructor(
    readonly config: ModelConfig,
    rng: Rng = new Rng(0),
  ) {
    const table = paramTable(config);
    const n = paramCount(table);
    super(table, new Float32Array(n), new Float32Array(n));
    initParams(this.params, config, rng);
    const rnnTable = table.filter((p) => p.name.startsWith('rnn.'));
    const rnnSize = paramCount(rnnTable);
    this.rnn = new StackedRNN(config, rnnTable, this.params.subarray(0, rnnSize), this.grads.subarray(0, rnnSize));
    this.carry = new CarriedState(config, (n) => new Float32Array(n));
    this.W = this.param('linear.weight');
    this.b = this.param('linear.bias');
    this.dW = this.grad('linear.weight');
    this.db = this.grad('linear.bias');
    this.hiddenI32 = Int32Array.from(config.hidden);
    const at = new Map(table.map((p) => [p.name, p.offset]));
    const names = config.hidden.flatMap((_, l) =>
      ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'].map((w) => `rnn.${w}_l${l}`),
    );
    this.offsets = Int32Array.from([...names, 'linear.weight', 'linear.bias'].map((n) => at.get(n)!));
  }

  private get top(): number {
    return this.config.hidden[this.config.hidden.length - 1]!;
  }

  /**
   * Mean cross-entropy of the batch. In training mode the output layer's
   * gradient is computed in the same pass (fused) and backward() completes it.
   */
  forward(batch: Batch, opts: ForwardOptions): number {
    this.doneInForward = false;
    if (opts.train) {
      const rows = chunkRows(batch.T, batch.N, this.params.length, this.chunkTokens);
      if (batch.N > rows) return this.trainInChunks(batch, opts, rows);
    }
    const { T, N, targets } = batch;
    const M = T * N;
    const V = this.config.vocabSize;
    const H = this.top;
    const Y = this.runStack(batch, opts);
    const logits = this.ws.get('logits', M * V);
    if (!opts.train) {
      this.dTop = null;
      return native().xentForward(logits, Y, this.W, this.b, targets, M, H, V).loss / M;
    }
    const dY = this.ws.get('dY', M * H);
    const loss = native().xentForwardBackward(dY, this.dW, this.db, logits, Y, this.W, this.b, targets, M, H, V, 1 / M);
    this.dTop = dY;
    return loss / M;
  }

  backward(): void {
    if (this.doneInForward) {
      this.doneInForward = false;
      return;
    }
    if (!this.dTop) throw new Error('backward() needs a training forward() first');
    this.rnn.backward(this.dTop);
    this.dTop = null;
  }

  /**
   * A training forward and backward over the batch's windows in chunks of
   * `rows` (see CHUNK_TOKENS), in native code, chunks in parallel: the
   * gradients of all chunks add up to the whole batch's (the same masks, drawn
   * in the same order, the same carried state, the loss scaled by the whole
   * batch's size).
   */
  private trainInChunks(batch: Batch, opts: ForwardOptions, rows: number): number {
    const { T, N, inputs, targets } = batch;
    const { cell, hidden, vocabSize: V, dropout } = this.config;
    const M = T * N;
    let masks: Float32Array | null = null;
    if (dropout > 0 && hidden.length > 1) {
      if (!opts.rng) throw new Error('training with dropout needs an rng');
      let n = 0;
      for (let l = 0; l < hidden.length - 1; l++) n += M * hidden[l]!;
      masks = this.ws.get('masks', n);
      let at = 0;
      for (let l = 0; l < hidden.length - 1; l++) {
        const mask = masks.subarray(at, at + M * hidden[l]!);
        fillDropoutMask(mask, dropout, opts.rng);  // in layer order, as the unchunked forward draws them
        at += mask.length;
      }
    }
    const state = opts.carry ? this.carry.buffer(N) : null;
    const loss = native().lmTrainChunks(cell, hidden.length, this.hiddenI32, V, this.params, this.grads,
      this.offsets, inputs, targets, T, N, rows, masks, state, 1 / M);
    this.dTop = null;
    this.doneInForward = true;
    return loss / M;
  }

  evaluate(batch: Batch, opts: { carry?: boolean } = {}): EvalResult {
    const rows = chunkRows(batch.T, batch.N, 0, this.chunkTokens);
    if (batch.N > rows) {
      const { T, N, inputs, targets } = batch;
      const { cell, hidden, vocabSize: V } = this.config;
      const r = native().lmEvalChunks(cell, hidden.length, this.hiddenI32, V, this.params, this.offsets, inputs,
        targets, T, N, rows, opts.carry ? this.carry.buffer(N) : null);
      return { lossSum: r.loss, correct: r.correct, count: T * N };
    }
    const { T, N, targets } = batch;
    const M = T * N;
    const V = this.config.vocabSize;
    const Y = this.runStack(batch, { train: false, carry: opts.carry });
    const r = native().xentForward(this.ws.get('logits', M * V), Y, this.W, this.b, targets, M, this.top, V);
    return { lossSum: r.loss, correct: r.correct, count: M };
  }

  private runStack(batch: Batch, opts: ForwardOptions): Float32Array {
    const { T, N, inputs } = batch;
    if (!opts.carry) return this.rnn.forward(inputs, T, N, { train: opts.train, rng: opts.rng });
    const state = this.carry.for(N);
    const Y = this.rnn.forward(inputs, T, N, { train: opts.train, rng: opts.rng, initial: state });
    this.rnn.finalState().forEach((f, l) => {
      state[l]!.h.set(f.h);
      if (f.c) state[l]!.c!.set(f.c);
    });
    return Y;
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

  /** One-token-at-a-time decoding with preallocated buffers (batch 1). */
  stepper(): Stepper {
    return new Stepper(this);
  }

  /** @internal used by Stepper */
  outputLayer(): { W: Float32Array; b: Float32Array } {
    return { W: this.W, b: this.b };
  }
}

interface StepLayer {
  w: ReturnType<typeof rnnLayerViews<Float32Array>>;
  H: number;
  I: number;
  gx: Float32Array;
  y: Float32Array;
  hT: Float32Array;
  cT: Float32Array | null;
  saved: Float32Array;
  h: Float32Array;
  c: Float32Array | null;
}

/**
 * Runs the model forward one token at a time (batch 1), carrying the state of
 * every layer. Every buffer is allocated once: feeding a token allocates
 * nothing and makes one native call per layer plus the input and output
 * projections.
 */
export class Stepper {
  private readonly layers: StepLayer[];
  private readonly token = new Int32Array(1);
  private readonly W: Float32Array;
  private readonly b: Float32Array;
  readonly logits: Float32Array;

  constructor(private readonly model: RNNLM) {
    const { cell, hidden, vocabSize } = model.config;
    const nat = native();
    const lstm = cell === 'lstm';
    const G = gatesOf(cell);
    this.layers = hidden.map((H, l) => ({
      w: rnnLayerViews(model, l),
      H,
      I: layerInput(model.config, l),
      gx: new Float32Array(G * H),
      y: new Float32Array(H),
      hT: new Float32Array(H),
      cT: lstm ? new Float32Array(H) : null,
      saved: new Float32Array(nat.savedSize(cell, 1, 1, H)),
      h: new Float32Array(H),
      c: lstm ? new Float32Array(H) : null,
    }));
    const out = model.outputLayer();
    this.W = out.W;
    this.b = out.b;
    this.logits = new Float32Array(vocabSize);
  }

  reset(): void {
    for (const s of this.layers) {
      s.h.fill(0);
      s.c?.fill(0);
    }
  }

  /** Logits of the first step, before any token: the output layer on the zero state. */
  initialLogits(): Float32Array {
    this.logits.set(this.b);
    return this.logits;
  }

  /** Feeds one token; returns the logits of the next (a view reused by the next call). */
  feed(tokenId: number): Float32Array {
    const nat = native();
    const { cell, vocabSize } = this.model.config;
    const G = gatesOf(cell);
    this.token[0] = tokenId;
    let x: Float32Array | null = null;
    for (const s of this.layers) {
      if (x) nat.linearForward(s.gx, x, s.w.wih, s.w.bih, 1, s.I, G * s.H);
      else nat.embeddingForward(s.gx, this.token, s.w.wih, s.w.bih, 1, vocabSize, G * s.H);
      nat.cellForward(cell, s.y, s.hT, s.cT, s.saved, s.gx, s.h, s.c, s.w.whh, s.w.bhh, 1, 1, s.H);
      s.h.set(s.hT);
      if (s.c) s.c.set(s.cT!);
      x = s.y;
    }
    const top = this.layers[this.layers.length - 1]!;
    nat.linearForward(this.logits, x!, this.W, this.b, 1, top.H, vocabSize);
    return this.logits;
  }
}
