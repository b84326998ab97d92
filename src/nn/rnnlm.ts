// RNNLM: one-hot tokens -> L recurrent layers -> linear output layer, mean
// cross-entropy. Every training and evaluation batch runs in native code
// (lmTrainChunks / lmEvalChunks): the batch cut into chunks of windows, each
// chunk through the whole network, chunks on teams of threads.
import type { Batch } from '../data/datamodule.js';
import { native, PRECISIONS, type Precision } from '../native.js';
import { checkRng, Rng } from '../rng.js';
import { carriesC, checkNewModelConfig, frozenConfig, gatesOf, initParams, layerInput, modelOffsets, paramCount, paramTable, type ModelConfig } from './config.js';
import type { EvalResult, ForwardOptions, LanguageModel, Shard } from './lm.js';
import { shardRange } from '../mpi.js';
import { checkBatch, checkEvaluateOptions, checkForwardOptions, fillDropoutMask } from './lm.js';
import { Module, rnnLayerViews } from './module.js';
import { CarriedState } from './carry.js';
import { Workspace } from './workspace.js';
import { isLineEnds, type LineEnds, type TokenArray, type Tokenizer } from '../data/tokenizer.js';
import { loadCheckpoint, saveModel } from '../io/checkpoint.js';
import { roundBf16 } from './bf16.js';
import { InputError } from '../errors.js';
import { describe, refuseUnknownKeys } from '../validate.js';
import { activationFloatsPerToken, allocateWeights } from './memory.js';

/**
 * A batch runs in chunks of about this many tokens (T times the chunk's
 * windows), each chunk through the whole network, so that its activations
 * stay in cache (measured on the book's run: 2048 tokens beat 4096, 8192 and
 * whole batches). Results depend on it (by rounding) but never on the thread
 * count: chunks run on teams of threads, and a team splits a chunk without
 * changing any sum. Small models take SMALL_CHUNK_TOKENS (defaultChunkTokens).
 */
export const CHUNK_TOKENS = 2048;

/**
 * Tokens per chunk of a model whose chunk of this many tokens keeps at most
 * CHUNK_CACHE_BYTES of activations, so that it stays in a server core's L2 of
 * 2 MiB. On a 16-core Xeon (Emerald Rapids) the book's run at 16 threads took
 * 4.1-4.5 s with chunks of 512 tokens against 5.6 s with 2048; on the 2-core
 * Zen 5 the same. Larger models keep 2048: no chunk of theirs with rows enough
 * for its products fits.
 */
export const SMALL_CHUNK_TOKENS = 512;
/**
 * The activations a chunk of SMALL_CHUNK_TOKENS may keep, as activationFloatsPerToken
 * counts them without dropout (an upper bound: the book's model counts 3.9 KiB a token
 * and keeps about 2.9 KiB, so that its chunk, and its LSTM's, stay in 2 MiB).
 */
export const CHUNK_CACHE_BYTES = 3 * 2 ** 20;

/**
 * The tokens per chunk of a new model: DEEPRNN_CHUNK_TOKENS when set (an
 * experiment's knob: results change with it, by rounding), else
 * SMALL_CHUNK_TOKENS when that many tokens' activations of `config` fit in
 * CHUNK_CACHE_BYTES, else CHUNK_TOKENS (also without a config).
 */
export function defaultChunkTokens(config?: ModelConfig): number {
  const env = chunkTokensFromEnv();
  if (env !== undefined) return env;
  // counted without dropout, so that a dropout rate (or one that does nothing, as on one layer) never changes the chunks
  const small = config && 4 * activationFloatsPerToken({ ...config, dropout: 0 }) * SMALL_CHUNK_TOKENS <= CHUNK_CACHE_BYTES;
  return small ? SMALL_CHUNK_TOKENS : CHUNK_TOKENS;
}

/** The most tokens per chunk DEEPRNN_CHUNK_TOKENS (and a checkpoint's training.chunkTokens) may give. */
export const MAX_CHUNK_TOKENS = 999_999_999;

/** DEEPRNN_CHUNK_TOKENS, checked, or undefined when it is not set. */
export function chunkTokensFromEnv(): number | undefined {
  const raw = process.env.DEEPRNN_CHUNK_TOKENS;
  if (raw === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(raw.trim())) {
    throw new InputError(`DEEPRNN_CHUNK_TOKENS must be a whole number of tokens per chunk from 1 to ${MAX_CHUNK_TOKENS}, got "${raw}"`);
  }
  return Number(raw);
}

/** Chunks keep their gradients apart until the end: at most this many bytes of them. */
export const CHUNK_GRAD_BYTES = 64 * 2 ** 20;

/**
 * Windows per chunk for a batch of N windows of T steps, with chunks of
 * about `tokens` tokens and `params` parameters (0 when evaluating): fewer,
 * larger chunks when their gradients would take more than CHUNK_GRAD_BYTES.
 * The windows are shared out evenly (N=50 in two chunks: 25 and 25), so
 * that chunks balance across threads.
 */
export function chunkRows(T: number, N: number, params: number, tokens = CHUNK_TOKENS): number {
  const most = Math.max(1, Math.floor(tokens / T));
  let chunks = Math.max(1, Math.ceil(N / most));
  if (params > 0) chunks = Math.min(chunks, Math.max(1, Math.floor(CHUNK_GRAD_BYTES / (4 * params))));
  return Math.ceil(N / chunks);
}

/** A batch's tokens as the native steps read them: its windows where it has them (Batch.windows), else inputs and targets. */
type BatchTokens = { inputs: Int32Array; targets: Int32Array } | { tokens: TokenArray | Int32Array; starts: Int32Array };

function batchTokens(batch: Batch): BatchTokens {
  const w = batch.windows;
  return w ? { tokens: w.tokens, starts: w.starts } : { inputs: batch.inputs, targets: batch.targets };
}

export class RNNLM extends Module<Float32Array> implements LanguageModel {
  private readonly ws = new Workspace();
  private readonly carry: CarriedState<Float32Array>;
  /** The last sharded training forward kept chunk gradients (see ForwardOptions.shard). */
  keptChunks = false;
  private chunkTokensValue: number;
  /** Tokens per chunk (see CHUNK_TOKENS, defaultChunkTokens); Infinity runs every batch as one chunk. */
  get chunkTokens(): number {
    return this.chunkTokensValue;
  }
  /** Checked when set: a whole number from 1, or Infinity (before, 0, -3 and 2.5 ran as one window a chunk, NaN failed at the first batch). */
  set chunkTokens(n: number) {
    if (!(n === Infinity || (Number.isSafeInteger(n) && n >= 1))) {
      throw new InputError(`chunkTokens must be a whole number of tokens per chunk from 1, or Infinity, got ${describe(n)}`);
    }
    this.chunkTokensValue = n;
  }
  private precisionValue: Precision = 'fp32';
  /** The matrix products' arithmetic in training and evaluation (bf16: bf16 operands, float32 sums). */
  get precision(): Precision {
    return this.precisionValue;
  }
  /** Checked when set: anything but a name of PRECISIONS (null, 42, 'BF16') is an error naming it. */
  set precision(p: Precision) {
    if (!PRECISIONS.includes(p)) throw new InputError(`precision must be one of ${PRECISIONS.join('|')}, got ${describe(p)}`);
    this.precisionValue = p;
  }
  /** The last training forward did the backward pass too. */
  private doneInForward = false;
  /** squares[0] is the sum of squares of grads as the last training forward left them (LanguageModel.gradSquares). */
  private readonly squares = new Float64Array(1);
  private squaresKnown = false;
  private readonly hiddenI32: Int32Array;
  /** Where each layer's W_ih, W_hh, b_ih, b_hh and then the output layer's W, b start: lmTrainChunks' offsets. */
  private readonly offsets: Int32Array;

  /** Weights and gradients of n parameters, or an error that says how much that is. */
  /** The model's configuration: a checked, frozen copy of the one it was made with. */
  readonly config: ModelConfig;

  /** A model with PyTorch's default initialisation drawn from `rng` (or seed 0). */
  constructor(config: ModelConfig, rng: Rng = new Rng(0)) {
    // A copy: a caller's object changed later (one object reused for several models) changes nothing here.
    config = frozenConfig(checkNewModelConfig(config, 'new RNNLM(config)'));
    checkRng(rng, 'new RNNLM(config, rng): rng');
    const table = paramTable(config);
    const n = paramCount(table);
    super(table, ...allocateWeights(n, (k) => new Float32Array(k)));
    this.config = config;
    this.chunkTokensValue = defaultChunkTokens(config);
    initParams(this.params, config, rng);
    this.carry = new CarriedState(config, (n) => new Float32Array(n));
    this.hiddenI32 = Int32Array.from(config.hidden);
    const o = modelOffsets(table, config.hidden.length);
    this.offsets = Int32Array.from([...o.layers.flatMap((l) => [l.W_ih, l.W_hh, l.b_ih, l.b_hh]), o.W_out, o.b_out]);
  }

  /**
   * Mean cross-entropy of the batch. In training mode the gradients are
   * computed in the same native call and added to grads; backward() then has
   * nothing left to do.
   */
  forward(batch: Batch, opts: ForwardOptions = { train: false }): number {
    this.checkAttached();
    checkBatch(batch, 'forward');
    checkForwardOptions(opts, 'forward');
    this.doneInForward = false;
    this.squaresKnown = false;
    if (!opts.train) return this.evaluate(batch, { carry: opts.carry, shard: opts.shard }).lossSum / (batch.T * batch.N);
    const { T, N } = batch;
    const { hidden, dropout } = this.config;
    const M = T * N;
    // The chunks are the whole batch's, whatever share of it this process computes.
    const rows = chunkRows(T, N, this.params.length, this.chunkTokens);
    let masks: Float32Array | null = null;
    if (dropout > 0 && hidden.length > 1) {
      if (!opts.rng) throw new InputError('forward: training with dropout needs an rng (to draw the masks)');
      let n = 0;
      for (let l = 0; l < hidden.length - 1; l++) n += M * hidden[l]!;
      masks = this.ws.get('masks', n);
      let at = 0;
      for (let l = 0; l < hidden.length - 1; l++) {
        const mask = masks.subarray(at, at + M * hidden[l]!);
        fillDropoutMask(mask, dropout, opts.rng);  // layer by layer, in index order: the whole batch's, on every rank
        at += mask.length;
      }
    }
    const state = opts.carry ? this.carry.buffer(N) : null;
    let loss: number;
    if (opts.shard) {
      const part = this.share(batch, opts.shard, rows, masks, state);
      // The chunks' gradients stay apart (keep) for the ranks to add in one process's order.
      loss = part.count === 0 ? 0 : native().lmTrainChunks({ ...this.lmModel(), grads: this.grads, ...part.tokens,
        T, N: part.count, rows, masks: part.masks, state: part.state, scale: 1 / M, keep: true });
      this.keptChunks = part.count > 0;
      if (state) {
        // The share's rows of the new state; the other ranks' rows come from their sums.
        state.fill(0);
        if (part.count > 0) this.copyStateRows(state, part.state!, N, part.first, part.count, true);
      }
    } else {
      loss = native().lmTrainChunks({ ...this.lmModel(), grads: this.grads, ...batchTokens(batch), T, N, rows, masks, state,
        scale: 1 / M, gradSquares: this.squares });
      this.squaresKnown = true;
    }
    this.doneInForward = true;
    return loss / M;
  }

  /** The carried state of width N as one buffer (the layout lmTrainChunks reads), for summing shards' rows over the ranks. */
  stateBuffer(N: number): Float32Array {
    return this.carry.buffer(N);
  }

  /**
   * A shard's windows of the batch (shardRange): its tokens (its share of the
   * windows' starts, or its columns of inputs and targets), dropout masks and
   * carried state, copied out of the whole batch's buffers.
   */
  private share(batch: Batch, shard: Shard, rows: number, masks: Float32Array | null, state: Float32Array | null, whole = rows) {
    const { T, N } = batch;
    const { first, count } = shardRange(N, whole, shard.rank, shard.size);
    const cols = (src: Int32Array, name: string) => {
      const out = this.ws.getI32(name, T * count);
      for (let t = 0; t < T; t++) out.set(src.subarray(t * N + first, t * N + first + count), t * count);
      return out;
    };
    const w = batch.windows;
    const tokens: BatchTokens = w ? { tokens: w.tokens, starts: w.starts.subarray(first, first + count) }
      : { inputs: cols(batch.inputs, 'shard.inputs'), targets: cols(batch.targets, 'shard.targets') };
    const part = { first, count, tokens, masks: null as Float32Array | null, state: null as Float32Array | null };
    const { hidden } = this.config;
    if (masks && count > 0) {
      let n = 0;
      for (let l = 0; l < hidden.length - 1; l++) n += T * count * hidden[l]!;
      part.masks = this.ws.get('shard.masks', n);
      let from = 0;
      let to = 0;
      for (let l = 0; l < hidden.length - 1; l++) {
        const H = hidden[l]!;
        for (let t = 0; t < T; t++) {
          part.masks.set(masks.subarray(from + (t * N + first) * H, from + (t * N + first + count) * H), to + t * count * H);
        }
        from += T * N * H;
        to += T * count * H;
      }
    }
    if (state && count > 0) {
      part.state = this.ws.get('shard.state', (state.length / N) * count);
      this.copyStateRows(state, part.state, N, first, count, false);
    }
    return part;
  }

  /**
   * Rows [first, first + count) of every (N, H) block of a carried state of
   * width N (every layer's h, then every layer's c) to a state of width count,
   * or back (toFull).
   */
  private copyStateRows(full: Float32Array, part: Float32Array, N: number, first: number, count: number, toFull: boolean): void {
    const widths = carriesC(this.config.cell) ? [...this.config.hidden, ...this.config.hidden] : this.config.hidden;
    let f = 0;
    let p = 0;
    for (const H of widths) {
      const rowsOfFull = full.subarray(f + first * H, f + (first + count) * H);
      const rowsOfPart = part.subarray(p, p + count * H);
      if (toFull) rowsOfFull.set(rowsOfPart);
      else rowsOfPart.set(rowsOfFull);
      f += N * H;
      p += count * H;
    }
  }

  backward(): void {
    if (!this.doneInForward) throw new Error('backward() needs a training forward() first');
    this.doneInForward = false;
  }

  override zeroGrad(): void {
    super.zeroGrad();
    this.squaresKnown = false;
  }

  /** The sum of squares of grads that the last (unsharded) training forward left, computed there by its threads; else null. */
  gradSquares(): number | null {
    return this.squaresKnown ? this.squares[0]! : null;
  }

  gradsChanged(): void {
    this.squaresKnown = false;
  }

  evaluate(batch: Batch, opts: { carry?: boolean; shard?: Shard } = {}): EvalResult {
    this.checkAttached();
    checkBatch(batch, 'evaluate');
    checkEvaluateOptions(opts, 'evaluate');
    const { T, N } = batch;
    const rows = chunkRows(T, N, 0, this.chunkTokens);
    const state = opts.carry ? this.carry.buffer(N) : null;
    if (opts.shard) {
      // With a carried state each rank keeps the same rows from batch to batch,
      // whatever T (the chunks change with it): shared by windows, not chunks.
      const part = this.share(batch, opts.shard, rows, null, state, state ? N : rows);
      if (part.count === 0) return { lossSum: 0, correct: 0, count: 0 };
      const r = native().lmEvalChunks({ ...this.lmModel(), ...part.tokens, T, N: part.count, rows, state: part.state });
      if (state) this.copyStateRows(state, part.state!, N, part.first, part.count, true);
      return { lossSum: r.loss, correct: r.correct, count: T * part.count };
    }
    const r = native().lmEvalChunks({ ...this.lmModel(), ...batchTokens(batch), T, N, rows, state });
    return { lossSum: r.loss, correct: r.correct, count: T * N };
  }

  /** How a batch of N windows of T steps runs on `threads` threads (default: the native setting): teams x threads per team. */
  teamPlan(T: number, N: number, train = true, threads = native().info().threads): { teams: number; size: number } {
    const { cell, hidden, vocabSize: V } = this.config;
    const rows = chunkRows(T, N, train ? this.params.length : 0, this.chunkTokens);
    return native().lmTeamPlan({ cell, L: hidden.length, hidden: this.hiddenI32, V, T, N, rows, train, threads });
  }

  /** The model as lmTrainChunks / lmEvalChunks read it. */
  private lmModel() {
    const { cell, hidden, vocabSize: V } = this.config;
    return { cell, L: hidden.length, hidden: this.hiddenI32, V, params: this.params, offsets: this.offsets,
      precision: this.precision };
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

  /** One-token-at-a-time decoding with preallocated buffers (batch 1). */
  stepper(): Stepper {
    this.checkAttached();
    return new Stepper(this);
  }

  /** @internal used by Stepper */
  outputLayer(): { W: Float32Array; b: Float32Array } {
    return { W: this.param('linear.weight'), b: this.param('linear.bias') };
  }

  /** The tokenizer the model reads and writes text with: set by train() and RNNLM.load(), saved by save(). */
  tokenizer?: Tokenizer;

  /**
   * How its training text's line ends were read ("lf": "\r\n" and a lone "\r"
   * as "\n"; "kept"), so that generate() reads a prefix alike: set by train()
   * and RNNLM.load(); unset, "lf" unless the tokenizer's vocabulary knows "\r".
   */
  get lineEnds(): LineEnds | undefined {
    return this.lineEndsValue;
  }

  set lineEnds(v: LineEnds | undefined) {
    if (v !== undefined && !isLineEnds(v)) throw new InputError(`lineEnds must be "lf", "kept" or undefined, got ${describe(v)}`);
    this.lineEndsValue = v;
  }

  private lineEndsValue: LineEnds | undefined;

  /**
   * Saves the weights, the configuration and the tokenizer (this.tokenizer,
   * or opts.tokenizer) as a checkpoint that RNNLM.load, deeprnn predict, eval
   * and info read, and train --init-from starts from. Written atomically;
   * dtype bf16 stores the weights as BF16 tensors (half the bytes, rounded to nearest even).
   */
  save(file: string, opts: { tokenizer?: Tokenizer; dtype?: Precision } = {}): void {
    // (null, as train()'s options take it, is no options; before, a TypeError from inside)
    opts ??= {};
    if (typeof opts !== 'object') throw new InputError(`save(file, opts): opts must be { tokenizer, dtype }, got ${describe(opts)}`);
    refuseUnknownKeys(opts, ['tokenizer', 'dtype'], 'save');
    if (opts.dtype !== undefined && opts.dtype !== 'fp32' && opts.dtype !== 'bf16') {
      throw new InputError(`dtype must be fp32 or bf16, got ${JSON.stringify(opts.dtype)}`);
    }
    saveModel(file, this, opts.tokenizer ?? this.tokenizer, opts.dtype === 'bf16' ? 'BF16' : 'F32');
  }

  /** A model (with its tokenizer) from a checkpoint that save() or a training run wrote. */
  static load(file: string): RNNLM {
    return loadCheckpoint(file).model;
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
  /** The model's precision when made: bf16 keeps rounded copies of the weights. */
  private readonly bf16: boolean;
  readonly logits: Float32Array;

  constructor(private readonly model: RNNLM) {
    const { cell, hidden, vocabSize } = model.config;
    const nat = native();
    const lstm = carriesC(cell);
    const G = gatesOf(cell);
    // bf16: the products read the weights rounded to bf16, as training's do; the activations stay
    // float32 (no bf16 kernel for one row at a time), so the logits are close to a bf16 run's, not equal.
    // The rounded matrices are copies, and so are the biases beside them: a bf16 stepper is the model
    // as it was when made or last reset() (before, new biases met old matrices after loadStateDict).
    const bf16 = model.precision === 'bf16';
    const weights = (l: number) => {
      const w = rnnLayerViews(model, l);
      return bf16 ? { ...w, wih: w.wih.slice(), whh: w.whh.slice(), bih: w.bih.slice(), bhh: w.bhh.slice() } : w;
    };
    this.layers = hidden.map((H, l) => ({
      w: weights(l),
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
    this.W = bf16 ? out.W.slice() : out.W;
    this.b = bf16 ? out.b.slice() : out.b;
    this.logits = new Float32Array(vocabSize);
    this.bf16 = bf16;
    if (bf16) this.takeWeights();
  }

  /** A bf16 stepper's copies become the model's weights as they are now, the matrices rounded to bf16. */
  private takeWeights(): void {
    this.layers.forEach((s, l) => {
      const w = rnnLayerViews(this.model, l);
      s.w.wih.set(roundBf16(w.wih));
      s.w.whh.set(roundBf16(w.whh));
      s.w.bih.set(w.bih);
      s.w.bhh.set(w.bhh);
    });
    const out = this.model.outputLayer();
    this.W.set(roundBf16(out.W));
    this.b.set(out.b);
  }

  /**
   * Back to the zero state, the start of a text. A bf16 stepper also takes
   * the model's weights as they are now (rounded again); an fp32 one reads
   * them as they are at every token.
   */
  reset(): void {
    for (const s of this.layers) {
      s.h.fill(0);
      s.c?.fill(0);
    }
    if (this.bf16) this.takeWeights();
  }

  /**
   * The logits of the next token from the state carried now, without feeding
   * one: before any token (or after reset()), the output layer on the zero
   * state (its bias); after feed(), the logits that feed() returned. (Before,
   * always the bias, where the exported model's initial_logits reads the
   * carried state.)
   */
  initialLogits(): Float32Array {
    const top = this.layers[this.layers.length - 1]!;
    native().linearForward(this.logits, top.h, this.W, this.b, 1, top.H, this.model.config.vocabSize);
    return this.logits;
  }

  /** Feeds one token; returns the logits of the next (a view reused by the next call). */
  feed(tokenId: number): Float32Array {
    const nat = native();
    const { cell, vocabSize } = this.model.config;
    if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= vocabSize) {
      throw new InputError(`feed: the token must be an id from 0 to ${vocabSize - 1}, got ${describe(tokenId)}`);
    }
    const G = gatesOf(cell);
    this.token[0] = tokenId;
    let x: Float32Array | null = null;
    for (const s of this.layers) {
      if (x) nat.linearForward(s.gx, x, s.w.wih, s.w.bih, 1, s.I, G * s.H);
      else nat.embeddingForward(s.gx, this.token, s.w.wih, s.w.bih, 1, vocabSize, G * s.H);
      nat.cellForward({ cell, y: s.y, hT: s.hT, cT: s.cT, saved: s.saved, gx: s.gx, h0: s.h, c0: s.c, whh: s.w.whh,
        bhh: s.w.bhh, T: 1, N: 1, H: s.H });
      s.h.set(s.hT);
      if (s.c) s.c.set(s.cT!);
      x = s.y;
    }
    const top = this.layers[this.layers.length - 1]!;
    nat.linearForward(this.logits, x!, this.W, this.b, 1, top.H, vocabSize);
    return this.logits;
  }
}
