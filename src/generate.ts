// Decoding: the book's greedy predict, and sampling with temperature, top-k
// and top-p (nucleus) as char-rnn users expect. The model runs one token at a
// time through a Stepper; no buffer is allocated per token.
import type { Tokenizer } from './data/tokenizer.js';
import { InputError } from './errors.js';
import type { RNNLM } from './nn/rnnlm.js';
import type { Rng } from './rng.js';

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

export interface SampleOptions {
  /** 0 (default): greedy, the argmax every step. */
  temperature?: number;
  /** Sample among the k most likely tokens only. */
  topK?: number;
  /** Sample among the most likely tokens whose probabilities add up to at least p. */
  topP?: number;
  /** Draws the samples (needed when temperature > 0). */
  rng?: Rng;
}

/** Picks the next token from logits; reuses its scratch arrays across calls. */
export class Sampler {
  private readonly probs: Float64Array;
  private readonly order: Int32Array;

  constructor(
    vocabSize: number,
    readonly opts: SampleOptions = {},
  ) {
    const t = opts.temperature ?? 0;
    if (!(t >= 0) || !Number.isFinite(t)) throw new InputError(`temperature must be a number >= 0, got ${t}`);
    if (t > 0 && !opts.rng) throw new InputError('sampling with a temperature needs a random generator');
    this.probs = new Float64Array(vocabSize);
    this.order = new Int32Array(vocabSize);
  }

  pick(logits: ArrayLike<number>): number {
    const t = this.opts.temperature ?? 0;
    if (t === 0) return argmax(logits);
    const { probs, order } = this;
    const V = probs.length;
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, logits[i]! / t);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += probs[i] = Math.exp(logits[i]! / t - max);
    let keep = V;
    const { topK, topP } = this.opts;
    if (topK !== undefined || topP !== undefined) {
      for (let i = 0; i < V; i++) order[i] = i;
      order.sort((a, b) => probs[b]! - probs[a]! || a - b);
      if (topK !== undefined) keep = Math.min(keep, Math.max(1, topK));
      if (topP !== undefined) {
        let acc = 0;
        let n = 0;
        while (n < keep && acc < topP * sum) acc += probs[order[n++]!]!;
        keep = Math.max(1, n);
      }
      let kept = 0;
      for (let r = 0; r < keep; r++) kept += probs[order[r]!]!;
      let u = this.opts.rng!.uniform() * kept;
      for (let r = 0; r < keep; r++) {
        u -= probs[order[r]!]!;
        if (u < 0) return order[r]!;
      }
      return order[keep - 1]!;
    }
    let u = this.opts.rng!.uniform() * sum;
    for (let i = 0; i < V; i++) {
      u -= probs[i]!;
      if (u < 0) return i;
    }
    return argmax(logits);
  }
}

export interface GenerateOptions extends SampleOptions {
  numPreds: number;
  /** Each piece of text as it is produced: the prefix (as the tokenizer reads it) first, then every token. */
  onText?: (text: string) => void;
  /**
   * Keep the text to return it (default true). A caller that streams it with
   * onText passes false: the text then never accumulates in memory, however
   * long, and generate returns "".
   */
  collect?: boolean;
}

/**
 * The prefix followed by numPreds tokens: the model is warmed up on the
 * prefix, then every picked token is appended and fed back (the book's
 * predict when greedy). An empty prefix starts from a token picked from the
 * model's first-step distribution (the output layer on the zero state).
 */
export function generate(model: RNNLM, tokenizer: Tokenizer, prefix: string, opts: GenerateOptions): string {
  const ids = tokenizer.encode(prefix);
  const sampler = new Sampler(model.config.vocabSize, opts);
  const stepper = model.stepper();
  const collect = opts.collect ?? true;
  let text = '';
  const emit = (s: string) => {
    if (collect) text += s;
    opts.onText?.(s);
  };
  emit(tokenizer.decode(ids));
  let logits: Float32Array;
  if (ids.length === 0) {
    logits = stepper.initialLogits();
  } else {
    for (let i = 0; i < ids.length - 1; i++) stepper.feed(ids[i]!);
    logits = stepper.feed(ids[ids.length - 1]!);
  }
  for (let i = 0; i < opts.numPreds; i++) {
    const next = sampler.pick(logits);
    emit(tokenizer.vocab.token(next));
    if (i < opts.numPreds - 1) logits = stepper.feed(next);
  }
  return text;
}

/** The book's predict: the prefix and numPreds greedily predicted tokens. */
export function predict(model: RNNLM, tokenizer: Tokenizer, prefix: string, numPreds: number): string {
  return generate(model, tokenizer, prefix, { numPreds });
}
