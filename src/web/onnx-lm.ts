// A deeprnn model exported to ONNX, run by ONNX Runtime: onnxruntime-web in
// the browser (deeprnn serve's playground), onnxruntime-node in the tests. The
// card that describes an export (NAME.json beside NAME.onnx, and the "deeprnn"
// entry of the model's metadata) and the names of the graph's inputs and
// outputs are defined here once, for the exporter and for its readers.
// Decoding uses deeprnn's own Sampler, Rng and Tokenizer, so the same prefix,
// seed and settings give the text deeprnn predict gives.
// This file runs in browsers: it imports nothing of Node's.
// T=steps, N=batch, V=vocab, H=hidden of a layer
import type { LineEnds, TokenizerJSON } from '../data/tokenizer.js';
import { asTrainingRead, isLineEnds, Tokenizer, tokenizerFromJSON } from '../data/tokenizer.js';
import { InputError } from '../errors.js';
import { describe, refuseUnknownKeys, strictInteger } from '../validate.js';
import { MAX_PREDS, Sampler, samplingOptions, type SampleOptions } from '../generate.js';

/** What NAME.json holds (and the model's "deeprnn" metadata entry). */
export interface OnnxCard {
  format: 'deeprnn-onnx';
  /** Of this card's layout. */
  version: 1;
  /** The deeprnn that wrote it ("deeprnn 0.1.0"). */
  producer: string;
  opset: number;
  config: { cell: string; vocabSize: number; hidden: number[] };
  /** The tokenizer (kind and vocabulary): ids are indices into tokens. */
  tokenizer: TokenizerJSON;
  /**
   * How the training text's line ends were read ("lf": "\r\n" and a lone "\r"
   * as "\n"; "kept"), as generateOnnx reads a prefix; absent in cards written
   * before it was recorded (then "lf" unless the vocabulary knows "\r").
   */
  lineEnds?: LineEnds;
  io: OnnxIO;
}

/** The graph's inputs and outputs by role; per-layer lists are bottom layer first, c empty unless the cell carries one. */
export interface OnnxIO {
  /** int64 (T, N): token ids, time-major. */
  tokens: string;
  /** float (1, N, H_l) each: every layer's initial h. */
  h0: string[];
  /** float (1, N, H_l) each: every layer's initial c (LSTM). */
  c0: string[];
  /** float (T, N, V): the next token's logits after each step. */
  logits: string;
  /** float (1, N, H_l) each: every layer's h after the last step. */
  hT: string[];
  /** float (1, N, H_l) each: every layer's c after the last step (LSTM). */
  cT: string[];
  /** float (N, V): the output layer on the top layer's initial h (the logits before any token, for an empty prefix). */
  initialLogits: string;
}

export const CARD_FORMAT = 'deeprnn-onnx';

/** The inputs' and outputs' names for `layers` layers. */
export function onnxIO(layers: number, carriesC: boolean): OnnxIO {
  const each = (p: string) => Array.from({ length: layers }, (_, l) => `${p}_l${l}`);
  return {
    tokens: 'tokens',
    h0: each('h0'),
    c0: carriesC ? each('c0') : [],
    logits: 'logits',
    hT: each('hT'),
    cT: carriesC ? each('cT') : [],
    initialLogits: 'initial_logits',
  };
}

/** A card as read from JSON, checked: what a reader needs is there and consistent. */
export function checkCard(json: unknown, where = 'model card'): OnnxCard {
  const c = json as Partial<OnnxCard> | null;
  const fail = (what: string) => new InputError(`${where}: ${what}`);
  if (!c || typeof c !== 'object' || c.format !== CARD_FORMAT) throw fail(`not a deeprnn ONNX card (expected "format": "${CARD_FORMAT}")`);
  if (c.version !== 1) throw fail(`card version ${JSON.stringify(c.version)} is not one this deeprnn reads (1)`);
  const cfg = c.config;
  if (!cfg || !Array.isArray(cfg.hidden) || cfg.hidden.length < 1 || !cfg.hidden.every((h) => Number.isSafeInteger(h) && h > 0)
    || !Number.isSafeInteger(cfg.vocabSize)) {
    throw fail('config must have "vocabSize" and a "hidden" list of layer widths');
  }
  const tokenizer = tokenizerFromJSON(c.tokenizer);
  if (c.lineEnds !== undefined && !isLineEnds(c.lineEnds)) throw fail(`lineEnds must be "lf" or "kept", got ${describe(c.lineEnds)}`);
  if (tokenizer.vocab.size !== cfg.vocabSize) throw fail(`the tokenizer has ${tokenizer.vocab.size} tokens but vocabSize is ${cfg.vocabSize}`);
  const io = c.io;
  if (!io || typeof io.tokens !== 'string' || !Array.isArray(io.h0) || io.h0.length !== cfg.hidden.length || !Array.isArray(io.c0)
    || !Array.isArray(io.hT) || !Array.isArray(io.cT) || io.c0.length !== io.cT.length) {
    throw fail('io must name the tokens, per-layer h0/c0/hT/cT and the logits');
  }
  return c as OnnxCard;
}

/** A tensor as onnxruntime-node and onnxruntime-web both give it. */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

/**
 * The part of an InferenceSession that decoding uses: run with the names of
 * the outputs to fetch (onnxruntime-node's and onnxruntime-web's sessions are
 * one, as they are, without a cast).
 */
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>, fetches: readonly string[]): Promise<Record<string, OrtTensor>>;
}

/** Makes a tensor: `new ort.Tensor(type, data, dims)` of whichever runtime. */
export type TensorFactory = (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: readonly number[]) => OrtTensor;

/**
 * Runs an exported model over tokens, carrying every layer's state from call
 * to call (batch 1): the ONNX counterpart of deeprnn's Stepper.
 */
export class OnnxStepper {
  readonly card: OnnxCard;
  private h: Float32Array[];
  private c: Float32Array[];
  private readonly fetches: string[];

  constructor(
    private readonly session: OrtSession,
    private readonly tensor: TensorFactory,
    card: OnnxCard,
  ) {
    this.card = card;
    const { hidden } = card.config;
    this.h = hidden.map((H) => new Float32Array(H));
    this.c = card.io.c0.map((_, l) => new Float32Array(hidden[l]!));
    this.fetches = [card.io.logits, ...card.io.hT, ...card.io.cT];
  }

  get vocabSize(): number {
    return this.card.config.vocabSize;
  }

  /** Every layer's state back to zeros. */
  reset(): void {
    for (const a of [...this.h, ...this.c]) a.fill(0);
  }

  private feeds(tokens: BigInt64Array): Record<string, OrtTensor> {
    const { io } = this.card;
    const feeds: Record<string, OrtTensor> = { [io.tokens]: this.tensor('int64', tokens, [tokens.length, 1]) };
    io.h0.forEach((name, l) => (feeds[name] = this.tensor('float32', this.h[l]!, [1, 1, this.h[l]!.length])));
    io.c0.forEach((name, l) => (feeds[name] = this.tensor('float32', this.c[l]!, [1, 1, this.c[l]!.length])));
    return feeds;
  }

  /** The logits before any token: the output layer on the carried top-layer state (zeros after reset: the output bias). */
  async initialLogits(): Promise<Float32Array> {
    const out = await this.session.run(this.feeds(new BigInt64Array(1)), [this.card.io.initialLogits]);
    return Float32Array.from(out[this.card.io.initialLogits]!.data as Float32Array);
  }

  /** Feeds tokens (one run of the graph); returns the logits after every one, (T, V), and carries the state. */
  async feedAll(ids: ArrayLike<number>): Promise<Float32Array> {
    if (typeof ids !== 'object' || ids === null || typeof ids.length !== 'number') {
      throw new InputError(`feed needs token ids (an array of whole numbers), got ${describe(ids)}`);
    }
    if (ids.length === 0) throw new InputError('feed needs at least one token');
    const tokens = new BigInt64Array(ids.length);
    const V = this.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      // (before, -1 read as the last token through the graph's Gather, V or more as an all-zero input, 1.5 a RangeError)
      const id = ids[i];
      if (!Number.isInteger(id) || id! < 0 || id! >= V) {
        throw new InputError(`feed: token ids must be whole numbers from 0 to ${V - 1} (the model's vocabulary), got ${describe(id)} at index ${i}`);
      }
      tokens[i] = BigInt(id!);
    }
    const out = await this.session.run(this.feeds(tokens), this.fetches);
    const { io } = this.card;
    // Copies: a runtime may reuse or free its output buffers.
    this.h = io.hT.map((name) => Float32Array.from(out[name]!.data as Float32Array));
    this.c = io.cT.map((name) => Float32Array.from(out[name]!.data as Float32Array));
    return Float32Array.from(out[io.logits]!.data as Float32Array);
  }

  /** Feeds tokens; returns the logits after the last one (V). */
  async feed(ids: ArrayLike<number>): Promise<Float32Array> {
    const all = await this.feedAll(ids);
    return all.subarray(all.length - this.vocabSize);
  }

  /** The carried state: h of every layer, then c (LSTM). */
  state(): Float32Array[] {
    return [...this.h, ...this.c];
  }
}

export interface OnnxGenerateOptions extends SampleOptions {
  numPreds: number;
  /** Each piece of text as it comes: the prefix (as the tokenizer reads it), then every token; a returned promise is awaited (a page paints). */
  onText?: (text: string) => void | Promise<void>;
  /** Asked before each token: true stops the generation. */
  stop?: () => boolean;
}

/** The options generateOnnx knows (OnnxGenerateOptions). */
const ONNX_GENERATE_OPTIONS = ['numPreds', 'temperature', 'topK', 'topP', 'rng', 'seed', 'onText', 'stop'] as const;

/** The tokenizer of a card. */
export function cardTokenizer(card: OnnxCard): Tokenizer {
  return tokenizerFromJSON(card.tokenizer);
}

/**
 * generate() of src/generate.ts on an exported model: the prefix warms the
 * model up, then each token is picked by the same Sampler (greedy, or sampled
 * with the same Rng) and fed back. The same model, prefix and options give
 * deeprnn predict's text.
 */
export async function generateOnnx(stepper: OnnxStepper, tokenizer: Tokenizer, prefix: string, opts: OnnxGenerateOptions): Promise<string> {
  if (typeof opts !== 'object' || opts === null) throw new InputError('generateOnnx needs options: { numPreds, temperature, topK, topP, seed }');
  // (as generate(): a misspelt option is refused; before, {temprature: 1} gave greedy text without a word)
  refuseUnknownKeys(opts, ONNX_GENERATE_OPTIONS, 'generateOnnx');
  strictInteger('numPreds', opts.numPreds, 0, MAX_PREDS);
  for (const [key, v] of [['onText', opts.onText], ['stop', opts.stop]] as const) {
    if (v !== undefined && typeof v !== 'function') throw new InputError(`${key} must be a function, got ${describe(v)}`);
  }
  if (typeof prefix !== 'string') throw new InputError(`the prefix must be a string, got ${describe(prefix)}`);
  if (!(stepper instanceof OnnxStepper)) throw new InputError(`generateOnnx's first argument must be an OnnxStepper, got ${describe(stepper)}`);
  if (!(tokenizer instanceof Tokenizer)) throw new InputError(`generateOnnx's second argument must be a Tokenizer (cardTokenizer(card)), got ${describe(tokenizer)}`);
  if (tokenizer.vocab.size !== stepper.vocabSize) {
    // (as generate(): before, a larger tokenizer's ids past the model's fed all-zero inputs, and text came without a word)
    throw new InputError(`the tokenizer has ${tokenizer.vocab.size} tokens but the exported model's vocabSize is ${stepper.vocabSize}`);
  }
  // (read as the training text was, as predict and generate() read it)
  const ids = tokenizer.encode(asTrainingRead(prefix, stepper.card.lineEnds, tokenizer));
  const sampler = new Sampler(stepper.vocabSize, samplingOptions(opts));
  stepper.reset();
  let text = '';
  const emit = async (s: string) => {
    text += s;
    await opts.onText?.(s);
  };
  await emit(tokenizer.decode(ids));
  let logits = ids.length === 0 ? await stepper.initialLogits() : await stepper.feed(ids);
  for (let i = 0; i < opts.numPreds; i++) {
    if (opts.stop?.()) break;
    const next = sampler.pick(logits);
    await emit(tokenizer.vocab.token(next));
    if (i < opts.numPreds - 1) logits = await stepper.feed([next]);
  }
  return text;
}
