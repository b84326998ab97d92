// Tokenizers turn text into token ids and back. Each one cuts raw text into
// pieces with a regular expression and maps each piece to a token; that works
// on a whole text or on a stream of chunks (the last piece of a chunk is held
// back until the next one, so a run of spaces or a word split by a chunk
// boundary is still one piece). A tokenizer is stored in a checkpoint as JSON
// (kind + vocabulary) so the same text maps to the same ids.
import { InputError } from '../errors.js';
import { choice, describe, plural, strictInteger } from '../validate.js';
import { UNK, Vocab } from './vocab.js';

export const TOKENIZERS = ['d2l', 'char', 'word'] as const;
export type TokenizerKind = (typeof TOKENIZERS)[number];

export interface TokenizerJSON {
  kind: TokenizerKind;
  tokens: string[];
  /** word: the minimum count a word needed to enter the vocabulary. */
  minFreq?: number;
}

/** Token ids of a corpus: 2 bytes per token when the vocabulary allows it. */
export type TokenArray = Uint16Array | Int32Array;

interface Scheme {
  /** Cuts raw text into pieces; every character belongs to exactly one piece. */
  pieces: RegExp;
  /** The token a piece stands for. */
  token: (piece: string) => string;
  /**
   * Whether no later text can change the pieces before this one: where a
   * chunk may be cut. Pieces from the last such one on wait for more text.
   */
  boundary: (piece: string) => boolean;
}

const SCHEMES: Record<TokenizerKind, Scheme> = {
  // The book's: each run of non-letters is one space, letters lowercased.
  d2l: {
    pieces: /[A-Za-z]|[^A-Za-z]+/g,
    token: (p) => (p.length === 1 && /[A-Za-z]/.test(p) ? p.toLowerCase() : ' '),
    boundary: () => true,
  },
  // char-rnn's: every Unicode code point as it is.
  char: { pieces: /[\s\S]/gu, token: (p) => p, boundary: () => true },
  // Words (runs of letters, combining marks and digits, \p{L}\p{M}\p{N}, with
  // inner apostrophes), runs of white space, and single other characters:
  // decoding the tokens gives the text back. Marks belong to words, so "é"
  // written as e + U+0301 and Devanagari vowel signs stay inside their word.
  // White space ends a word for certain, and so does a single symbol other
  // than an apostrophe (which may join the word before it to letters after
  // it): a text without white space (punctuation, minified JSON) is cut at
  // its symbols, not carried whole from chunk to chunk.
  word: {
    pieces: /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*|\s+|[^\p{L}\p{M}\p{N}\s]/gu,
    token: (p) => p,
    boundary: (p) => /^\s/.test(p) || /^[^\p{L}\p{M}\p{N}\s'’]$/u.test(p),
  },
};

/** Tokens of `text`; unless `final`, the pieces from the last boundary on wait: the carry, to go before the next chunk. */
function cut(scheme: Scheme, text: string, final: boolean): { tokens: string[]; carry: string } {
  if (scheme === SCHEMES.char) return { tokens: Array.from(text), carry: '' }; // code points need no carry
  if (scheme === SCHEMES.d2l) return cutD2l(text, final);
  const pieces: string[] = [];
  const starts: number[] = [];
  scheme.pieces.lastIndex = 0;
  let m: RegExpExecArray | null;
  try {
    while ((m = scheme.pieces.exec(text)) !== null) {
      pieces.push(m[0]);
      starts.push(m.index);
    }
  } catch (e) {
    // V8's matcher runs out of stack on a run of some millions of word characters
    if (!(e instanceof RangeError)) throw e;
    throw new InputError('the word tokenizer cannot cut a run of millions of characters without white space '
      + '(one word, or a text with no spaces, that long); use --tokenizer char for such a text');
  }
  let keep = pieces.length;
  if (!final) {
    keep = 0;
    for (let i = pieces.length - 1; i >= 0; i--) {
      if (scheme.boundary(pieces[i]!)) {
        keep = i;
        break;
      }
    }
  }
  return {
    tokens: pieces.slice(0, keep).map(scheme.token),
    carry: keep < pieces.length ? text.slice(starts[keep]) : '',
  };
}

/** The d2l scheme's tokens by code: 0-25 the letters a-z, 26 the space. */
const D2L_TOKENS: readonly string[] = [...'abcdefghijklmnopqrstuvwxyz '];
const D2L_SPACE = 26;
/** The code of a letter of either case by its char code (below 128), else -1. */
const D2L_CODE = new Int8Array(128).fill(-1);
for (let c = 0; c < 26; c++) D2L_CODE[65 + c] = D2L_CODE[97 + c] = c;

/**
 * The d2l scheme's cut without the regular expression (it read a corpus at
 * about 3 MB/s) and without a string per token: letters lowercased, each run of
 * other characters one space, as codes (D2L_TOKENS); unless `final`, a run at
 * the end waits for the next chunk, as its last piece would.
 */
function cutD2lCodes(text: string, final: boolean): { codes: Uint8Array; carry: string } {
  // A space is written only before a letter or at the end: at most one code per character, plus one.
  const codes = new Uint8Array(text.length + 1);
  let n = 0;
  let run = -1; // where the current run of non-letters started
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const k = c < 128 ? D2L_CODE[c]! : -1;
    if (k >= 0) {
      if (run >= 0) codes[n++] = D2L_SPACE;
      run = -1;
      codes[n++] = k;
    } else if (run < 0) {
      run = i;
    }
  }
  if (run >= 0 && final) codes[n++] = D2L_SPACE;
  // A run of non-letters at the end waits for the next chunk: it is one space
  // whatever its length, so one character of it stands for all (a text
  // without letters is not read again and again).
  return { codes: codes.subarray(0, n), carry: run < 0 || final ? '' : ' ' };
}

function cutD2l(text: string, final: boolean): { tokens: string[]; carry: string } {
  const { codes, carry } = cutD2lCodes(text, final);
  return { tokens: Array.from(codes, (k) => D2L_TOKENS[k]!), carry };
}

/** What `cut` gives for each chunk of a stream, the carry of one chunk going before the next. */
function* carried<T>(chunks: Iterable<string>, cut: (text: string, final: boolean) => { out: T; carry: string }): Generator<T> {
  let carry = '';
  for (const chunk of chunks) {
    const r = cut(carry + chunk, false);
    carry = r.carry;
    yield r.out;
  }
  if (carry) yield cut(carry, true).out;
}

/** The d2l codes of a stream of text chunks, as tokenStream cuts them. */
function d2lCodeStream(chunks: Iterable<string>): Generator<Uint8Array> {
  return carried(chunks, (text, final) => {
    const r = cutD2lCodes(text, final);
    return { out: r.codes, carry: r.carry };
  });
}

/** Tokens of a stream of text chunks, piece boundaries kept across chunks. */
export function tokenStream(kind: TokenizerKind, chunks: Iterable<string>): Generator<string[]> {
  const scheme = SCHEMES[kind];
  return carried(chunks, (text, final) => {
    const r = cut(scheme, text, final);
    return { out: r.tokens, carry: r.carry };
  });
}

/** A tokenizer kind as a caller gives it: one of TOKENIZERS. */
function checkKind(kind: unknown): asserts kind is TokenizerKind {
  choice('the tokenizer kind', kind, TOKENIZERS);
}

export class Tokenizer {
  constructor(
    readonly kind: TokenizerKind,
    readonly vocab: Vocab,
    readonly minFreq = 1,
  ) {
    checkKind(kind);
    if (!(vocab instanceof Vocab)) throw new InputError(`a Tokenizer needs a Vocab (Tokenizer.fit makes both), got ${describe(vocab)}`);
    strictInteger('minFreq', minFreq, 1, Number.MAX_SAFE_INTEGER);
  }

  /** A tokenizer whose vocabulary is every token of `text` seen at least `minFreq` times. */
  static fit(kind: TokenizerKind, text: string, minFreq = 1): Tokenizer {
    checkKind(kind);
    if (typeof text !== 'string') throw new InputError(`Tokenizer.fit needs the text as a string, got ${describe(text)}`);
    return Tokenizer.fromCounts(kind, countTokens(kind, [text]), minFreq, 'minFreq');
  }

  /** `name`: the option as the caller's messages name it (the library's minFreq). */
  static fromCounts(kind: TokenizerKind, counts: Map<string, number>, minFreq = 1, name = '--min-freq'): Tokenizer {
    checkKind(kind);
    strictInteger(name, minFreq, 1, Number.MAX_SAFE_INTEGER);
    if (kind !== 'word' && minFreq !== 1) throw new InputError(`${name} applies to the word tokenizer only, got ${minFreq} with ${kind}`);
    const vocab = Vocab.fromCounts(counts, minFreq);
    // A model needs a token besides <unk> to predict: a vocabulary of <unk> alone is the option's doing, not the model's.
    if (vocab.size < 2 && minFreq > 1 && counts.size > 0) {
      let most = 0;
      for (const c of counts.values()) most = Math.max(most, c);
      throw new InputError(`${name} ${minFreq} leaves no token but <unk> in the vocabulary `
        + `(every token of the corpus is seen fewer times; the most frequent is seen ${plural(most, 'time')})`);
    }
    return new Tokenizer(kind, vocab, minFreq);
  }

  /** Token strings of `text` (the d2l tokenizer's are lowercase letters and single spaces). */
  split(text: string): string[] {
    if (typeof text !== 'string') throw new InputError(`the text to tokenize must be a string, got ${describe(text)}`);
    return cut(SCHEMES[this.kind], text, true).tokens;
  }

  /** The text as the tokenizer sees it: decode(encode(text)) when every token is known. */
  normalize(text: string): string {
    return this.split(text).join('');
  }

  encode(text: string): Int32Array {
    return Int32Array.from(this.split(text), (t) => this.vocab.id(t));
  }

  /** Ids of a stream of chunks into one array of the smallest fitting type. */
  encodeChunks(chunks: Iterable<string>, count: number): TokenArray {
    const out = this.vocab.size <= 65536 ? new Uint16Array(count) : new Int32Array(count);
    let i = 0;
    if (this.kind === 'd2l') {
      const ids = D2L_TOKENS.map((t) => this.vocab.id(t));
      for (const codes of d2lCodeStream(chunks)) {
        for (let j = 0; j < codes.length; j++) out[i++] = ids[codes[j]!]!;
      }
    } else {
      for (const tokens of tokenStream(this.kind, chunks)) {
        for (const t of tokens) out[i++] = this.vocab.id(t);
      }
    }
    if (i !== count) throw new Error(`the corpus changed while it was read (${i} tokens, ${count} counted before)`);
    return out;
  }

  /** The distinct tokens of `text` that are not in the vocabulary (they encode as '<unk>'). */
  unknown(text: string): string[] {
    return [...new Set(this.split(text).filter((t) => !this.vocab.has(t)))];
  }

  decode(ids: ArrayLike<number>): string {
    // (null, a number, a string: named, not a TypeError from inside the loop)
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
      throw new InputError(`decode needs a list of token ids (an array or a typed array), got ${describe(ids)}`);
    }
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.vocab.token(ids[i]!);
    return s;
  }

  toJSON(): TokenizerJSON {
    return { kind: this.kind, tokens: [...this.vocab.tokens], ...(this.kind === 'word' ? { minFreq: this.minFreq } : {}) };
  }
}

/** How often each token occurs in a stream of text chunks. */
export function countTokens(kind: TokenizerKind, chunks: Iterable<string>, counts = new Map<string, number>()): Map<string, number> {
  if (kind === 'd2l') {
    // By code, then into the map in the order the tokens were first seen, as the general loop does.
    const n = new Float64Array(D2L_TOKENS.length);
    const order: number[] = [];
    for (const codes of d2lCodeStream(chunks)) {
      for (let j = 0; j < codes.length; j++) {
        const k = codes[j]!;
        if (n[k] === 0) order.push(k);
        n[k] = n[k]! + 1;
      }
    }
    for (const k of order) counts.set(D2L_TOKENS[k]!, (counts.get(D2L_TOKENS[k]!) ?? 0) + n[k]!);
    return counts;
  }
  for (const tokens of tokenStream(kind, chunks)) {
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return counts;
}

/**
 * A text as a model reads it whose training text was read with `lineEnds`
 * (data/corpus.ts's LineEnds): "lf" makes "\r\n" and a lone "\r" a "\n", as
 * the corpus was read, "kept" leaves them. Without a record (a model made in
 * code, a card from before cards had one): "lf" unless the vocabulary knows
 * "\r", which a corpus read so never gives. A prefix pasted from a Windows
 * file then reads as the training text did in predict, generate() and
 * generateOnnx alike.
 */
export function asTrainingRead(text: string, lineEnds: LineEnds | undefined, tokenizer: Tokenizer): string {
  const lf = (lineEnds ?? unsaidLineEnds(tokenizer)) === 'lf';
  return lf && text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

/** How a text's line ends are read: "lf", "\r\n" and a lone "\r" as "\n" (as Python's open() reads a text), or "kept". */
export const LINE_ENDS = ['lf', 'kept'] as const;
export type LineEnds = (typeof LINE_ENDS)[number];
export const isLineEnds = (v: unknown): v is LineEnds => LINE_ENDS.includes(v as LineEnds);

/** The line ends of a model that records none: "lf" unless its vocabulary knows "\r", which a text read so never gives. */
export function unsaidLineEnds(tokenizer: Tokenizer): LineEnds {
  return tokenizer.vocab.has('\r') ? 'kept' : 'lf';
}

/** What each kind's tokens are, for a message. */
const TOKEN_FORMS: Record<TokenizerKind, string> = {
  d2l: 'its tokens are the letters a to z and the space',
  char: 'its tokens are single characters',
  word: 'its tokens are words and punctuation marks, without spaces',
};

export function tokenizerFromJSON(json: unknown): Tokenizer {
  const j = json as Partial<TokenizerJSON> | null;
  if (!j || typeof j !== 'object' || typeof j.kind !== 'string' || !Array.isArray(j.tokens)
    || !j.tokens.every((t) => typeof t === 'string')) {
    throw new InputError('tokenizer must be an object with a "kind" string and a "tokens" array of strings');
  }
  if (!TOKENIZERS.includes(j.kind)) throw new InputError(`unknown tokenizer kind "${j.kind}" (expected one of ${TOKENIZERS.join(', ')})`);
  const minFreq = j.minFreq ?? 1;
  if (!Number.isSafeInteger(minFreq) || minFreq < 1) throw new InputError(`tokenizer minFreq ${JSON.stringify(j.minFreq)} is invalid`);
  const tokenizer = new Tokenizer(j.kind, new Vocab(j.tokens), minFreq);
  // Every token but <unk> is one the tokenizer makes of a text: the text of it alone cuts into it alone
  // (a char token of two characters, an upper-case d2l letter or an empty word would never be read).
  const never = j.tokens.find((t) => {
    if (t === UNK) return false;
    const cut = tokenizer.split(t);
    return cut.length !== 1 || cut[0] !== t;
  });
  if (never !== undefined) {
    throw new InputError(`tokenizer: the ${j.kind} tokenizer never makes the token ${JSON.stringify(never)} of its vocabulary (${TOKEN_FORMS[j.kind]})`);
  }
  return tokenizer;
}
