// Decoding: the book's greedy predict, and sampling with temperature, top-k
// and top-p (nucleus) as char-rnn users expect. The model runs one token at a
// time through a Stepper; no buffer is allocated per token. The options are
// checked here for the library and for deeprnn predict alike.
import { asTrainingRead, Tokenizer } from './data/tokenizer.js';
import { InputError } from './errors.js';
import type { RNNLM } from './nn/rnnlm.js';
import { checkRng, Rng } from './rng.js';
import { describe, integer, number, refuseUnknownKeys, strictInteger, type Naming } from './validate.js';

export function argmax(x: ArrayLike<number>): number {
  // (before: an empty list gave 0, an index it does not have, and a NaN won or lost by where it stood)
  const n = typeof x === 'object' && x !== null ? x.length : undefined;
  if (typeof n !== 'number' || !(n >= 1)) throw new InputError(`argmax: needs a list of at least one number, got ${describe(x)}`);
  let best = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (typeof v !== 'number' || Number.isNaN(v)) throw new InputError(`argmax: value ${i} is ${describe(v)}, not a number: there is no largest`);
    if (v > x[best]!) best = i;
  }
  return best;
}

export interface SampleOptions {
  /** 0 (default): greedy, the argmax every step. */
  temperature?: number;
  /** Sample among the k most likely tokens only. */
  topK?: number;
  /** Sample among the most likely tokens whose probabilities add up to at least p. */
  topP?: number;
  /** Draws the samples when temperature > 0 (default: a generator seeded with `seed`). */
  rng?: Rng;
  /** Seed of the sampling when no rng is given (default 42, as deeprnn predict's). */
  seed?: number;
}

/** The sampling options checked: temperature, top-k and top-p (which need a temperature above 0), seed. */
export function checkSampling(o: { temperature?: unknown; topK?: unknown; topP?: unknown; seed?: unknown }, n: Pick<Naming, 'name'>): {
  temperature: number; topK?: number; topP?: number; seed: number;
} {
  const temperature = o.temperature === undefined ? 0 : number(n.name('temperature'), o.temperature, (v) => v >= 0, 'a number >= 0');
  const topK = o.topK === undefined ? undefined : integer(n.name('topK'), o.topK, 1, 1 << 30);
  const topP = o.topP === undefined ? undefined : number(n.name('topP'), o.topP, (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  const seed = o.seed === undefined ? 42 : integer(n.name('seed'), o.seed, 0, 4294967295);
  if (temperature === 0 && (topK !== undefined || topP !== undefined)) {
    throw new InputError(`${n.name(topK !== undefined ? 'topK' : 'topP')} needs sampling: give ${n.name('temperature')} above 0`);
  }
  return { temperature, topK, topP, seed };
}

/** The most tokens one call generates. */
export const MAX_PREDS = 10_000_000;

/** The options a Sampler knows (SampleOptions). */
const SAMPLE_OPTIONS = ['temperature', 'topK', 'topP', 'rng', 'seed'] as const;

/** The sampling options of a larger set (generate's), for a Sampler. */
export function samplingOptions(o: SampleOptions): SampleOptions {
  const { temperature, topK, topP, rng, seed } = o;
  return { temperature, topK, topP, rng, seed };
}

/** Picks the next token from logits; reuses its scratch arrays across calls. */
export class Sampler {
  private readonly probs: Float64Array;
  private readonly order: Int32Array;

  readonly opts: SampleOptions;

  constructor(vocabSize: number, opts: SampleOptions = {}) {
    // (before: any vocabulary size was taken, -1 failed as a RangeError and 0 or NaN picked the argmax at any temperature)
    strictInteger('Sampler: vocabSize', vocabSize, 1, 2 ** 30);
    if (typeof opts !== 'object' || opts === null) throw new InputError(`Sampler: the options must be an object, got ${describe(opts)}`);
    // A misspelt option (topk) is refused, not dropped; numbers are numbers, as the library's other options
    // (a string is the command line's to read: checkSampling takes its flags' text).
    refuseUnknownKeys(opts, SAMPLE_OPTIONS, 'Sampler');
    for (const key of ['temperature', 'topK', 'topP', 'seed'] as const) {
      const v = opts[key];
      if (v !== undefined && typeof v !== 'number') throw new InputError(`${key} must be a number, got ${describe(v)}`);
    }
    const checked = checkSampling(opts, { name: (k) => k });
    if (opts.rng !== undefined) checkRng(opts.rng, 'rng (or left out, to draw from seed)');
    // A seed that would change nothing is refused, as the command line's --seed with greedy decoding is.
    if (opts.seed !== undefined && checked.temperature === 0) throw new InputError('seed needs sampling: greedy decoding (temperature 0) draws nothing; give temperature above 0');
    if (opts.seed !== undefined && opts.rng !== undefined) throw new InputError('give seed or rng, not both: rng draws the samples, and seed would be ignored');
    this.opts = { ...checked, rng: opts.rng ?? (checked.temperature > 0 ? new Rng(checked.seed) : undefined) };
    this.probs = new Float64Array(vocabSize);
    this.order = new Int32Array(vocabSize);
  }

  /** The next token's id from the logits of every token of the vocabulary (vocabSize of them). */
  pick(logits: ArrayLike<number>): number {
    if (logits?.length !== this.probs.length) {
      // (describe() gives an array's length, not a typed array's)
      const length = typeof logits?.length === 'number' && !Array.isArray(logits) ? ` of length ${logits.length}` : '';
      throw new InputError(`pick: the logits must be ${this.probs.length} numbers (one per token of the vocabulary), got ${describe(logits)}${length}`);
    }
    // A NaN is no logit: before, it was picked as the argmax or by top-k, or never, by where it stood.
    // -Infinity is a token never picked, so one at least must be above it; +Infinity is a token
    // always picked (the first of them, when several are).
    let open = false;
    for (let i = 0; i < logits.length; i++) {
      const v = logits[i];
      if (typeof v !== 'number' || Number.isNaN(v)) {
        throw new InputError(`pick: logit ${i} is ${describe(v)}, not a number (give -Infinity for a token never to pick)`);
      }
      open ||= v > -Infinity;
    }
    if (!open) throw new InputError('pick: every logit is -Infinity, so no token may be picked');
    const t = this.opts.temperature ?? 0;
    if (t === 0) return argmax(logits);
    const { probs, order } = this;
    const V = probs.length;
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, logits[i]! / t);
    // A temperature so small that a logit over it overflows: the limit as it goes to 0 is the argmax.
    if (!Number.isFinite(max)) return argmax(logits);
    let sum = 0;
    for (let i = 0; i < V; i++) sum += probs[i] = Math.exp(logits[i]! / t - max);
    let keep = V;
    const { topK, topP } = this.opts;
    if ((topK !== undefined && topK < V) || (topP !== undefined && topP < 1)) {
      for (let i = 0; i < V; i++) order[i] = i;
      order.sort((a, b) => probs[b]! - probs[a]! || a - b);
      if (topK !== undefined) keep = Math.min(keep, Math.max(1, topK));
      if (topP !== undefined) {
        // Of what top-k kept (all when it is off): the nucleus of the distribution renormalised
        // over those tokens, as transformers' top-k and then top-p filters are.
        let within = keep === V ? sum : 0;
        for (let r = 0; r < keep && keep < V; r++) within += probs[order[r]!]!;
        let acc = 0;
        let n = 0;
        while (n < keep && acc < topP * within) acc += probs[order[n++]!]!;
        keep = Math.max(1, n);
      }
    }
    // Filters that keep every token (top-p 1, a top-k of the vocabulary or more) change nothing:
    // the draw is then the unfiltered one, in vocabulary order, and a seed gives the same text.
    if (keep < V) {
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

/** The options generate knows (GenerateOptions). */
const GENERATE_OPTIONS = ['numPreds', 'temperature', 'topK', 'topP', 'rng', 'seed', 'onText', 'collect'] as const;

/** The tokenizer of generate(model, prefix, ...): the model's own. */
function modelTokenizer(model: RNNLM): Tokenizer {
  if (!model.tokenizer) {
    throw new InputError('this model has no tokenizer (models from train() and RNNLM.load() have one): '
      + 'pass it, generate(model, tokenizer, prefix, options), or set model.tokenizer');
  }
  return model.tokenizer;
}

/** The longest string V8 makes (2^29 - 24 characters on 64-bit). */
const MAX_STRING = 2 ** 29 - 24;

/**
 * The prefix followed by numPreds tokens: the model is warmed up on the
 * prefix, then every picked token is appended and fed back (the book's
 * predict when greedy). An empty prefix starts from a token picked from the
 * model's first-step distribution (the output layer on the zero state).
 * The tokenizer may be left out for a model that has one (from train() or
 * RNNLM.load()): generate(model, 'it has', { numPreds: 20 }).
 */
export function generate(model: RNNLM, prefix: string, opts: GenerateOptions): string;
export function generate(model: RNNLM, tokenizer: Tokenizer, prefix: string, opts: GenerateOptions): string;
export function generate(model: RNNLM, a: Tokenizer | string, b: string | GenerateOptions, c?: GenerateOptions): string {
  if (typeof model !== 'object' || model === null || typeof model.stepper !== 'function') {
    throw new InputError(`generate needs an RNNLM model, got ${model === null ? 'null' : typeof model}`);
  }
  const withTokenizer = typeof a === 'object' && a !== null;
  if (withTokenizer && !(a instanceof Tokenizer)) {
    throw new InputError(`generate's second argument must be a Tokenizer (Tokenizer.fit, Tokenizer.fromJSON or a model's tokenizer) or the prefix, got ${describe(a)}`);
  }
  const [tokenizer, prefix, opts] = withTokenizer ? [a, b, c] : [typeof a === 'string' ? modelTokenizer(model) : null, a, b as GenerateOptions];
  if (typeof prefix !== 'string' || !tokenizer) throw new InputError(`the prefix must be a string, got ${describe(prefix)}`);
  if (typeof opts !== 'object' || opts === null) throw new InputError('generate needs options: { numPreds, temperature, topK, topP, seed }');
  refuseUnknownKeys(opts, GENERATE_OPTIONS, 'generate');
  // (a number, not a string that reads as one: before, '5' was taken, and a string's + would have gone wrong)
  strictInteger('numPreds', opts.numPreds, 0, MAX_PREDS);
  if (opts.onText !== undefined && typeof opts.onText !== 'function') throw new InputError(`onText must be a function, got ${describe(opts.onText)}`);
  if (opts.collect !== undefined && typeof opts.collect !== 'boolean') throw new InputError(`collect must be true or false, got ${describe(opts.collect)}`);
  if (tokenizer.vocab.size !== model.config.vocabSize) {
    // (ids past the model's outputs, or outputs past the tokenizer's tokens: text that means nothing)
    throw new InputError(`the tokenizer has ${tokenizer.vocab.size} tokens but the model's vocabSize is ${model.config.vocabSize}`);
  }
  // (read as the model's training text was: a "\r\n" pasted from a Windows file, as predict reads it)
  const ids = tokenizer.encode(asTrainingRead(prefix, model.lineEnds, tokenizer));
  const sampler = new Sampler(model.config.vocabSize, samplingOptions(opts));
  const stepper = model.stepper();
  const collect = opts.collect ?? true;
  let text = '';
  let made = 0;
  const emit = (s: string) => {
    if (collect) {
      if (text.length + s.length > MAX_STRING) {
        throw new InputError(`the generated text passed the longest string JavaScript holds (${MAX_STRING.toLocaleString('en-US')} characters) `
          + `after ${made.toLocaleString('en-US')} of ${opts.numPreds.toLocaleString('en-US')} tokens: ask for fewer tokens, or let it stream `
          + '(the command line without --json; the library: collect false with onText)');
      }
      text += s;
    }
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
    // Outputs that overflowed (a state that grew without bound, as rnn-relu's may) pick nothing: every
    // argmax of them is token 0 (before, printed for ever without a word).
    for (let k = 0; k < logits.length; k++) {
      if (!Number.isFinite(logits[k])) {
        throw new Error(`the model's outputs are not finite after ${i.toLocaleString('en-US')} generated tokens (${logits[k]} for `
          + `${JSON.stringify(tokenizer.vocab.token(k))}): its state or weights overflow, and no token can be chosen`);
      }
    }
    const next = sampler.pick(logits);
    made = i;
    emit(tokenizer.vocab.token(next));
    if (i < opts.numPreds - 1) logits = stepper.feed(next);
  }
  return text;
}

/** The book's predict: the prefix and numPreds greedily predicted tokens (the tokenizer may be left out, as for generate). */
export function predict(model: RNNLM, prefix: string, numPreds: number): string;
export function predict(model: RNNLM, tokenizer: Tokenizer, prefix: string, numPreds: number): string;
export function predict(model: RNNLM, a: Tokenizer | string, b: string | number, c?: number): string {
  return typeof a === 'string' ? generate(model, a, { numPreds: b as number }) : generate(model, a, b as string, { numPreds: c! });
}
