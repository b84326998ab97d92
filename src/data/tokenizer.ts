// Tokenizers turn text into token ids and back; each one is stored in a
// checkpoint as JSON (kind + vocabulary) so the same text maps to the same ids.
import { Vocab } from './vocab.js';

export interface TokenizerJSON {
  kind: string;
  tokens: string[];
}

export interface Tokenizer {
  readonly kind: string;
  readonly vocab: Vocab;
  /** Text as the tokenizer sees it (normalised). */
  normalize(text: string): string;
  /** Token strings of a normalised text. */
  split(text: string): string[];
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  toJSON(): TokenizerJSON;
}

/**
 * The book's character tokenizer for The Time Machine: every run of
 * characters other than ASCII letters becomes one space, the text is
 * lowercased, and each character is a token.
 */
export class D2LCharTokenizer implements Tokenizer {
  readonly kind = 'd2l';

  constructor(readonly vocab: Vocab) {}

  static normalize(text: string): string {
    return text.replace(/[^A-Za-z]+/g, ' ').toLowerCase();
  }

  /** Tokenizer with the vocabulary of `text`. */
  static fit(text: string): D2LCharTokenizer {
    return new D2LCharTokenizer(Vocab.build(D2LCharTokenizer.normalize(text)));
  }

  normalize(text: string): string {
    return D2LCharTokenizer.normalize(text);
  }

  split(text: string): string[] {
    return [...text];
  }

  encode(text: string): Int32Array {
    const norm = this.normalize(text);
    const out = new Int32Array(norm.length);
    for (let i = 0; i < norm.length; i++) out[i] = this.vocab.id(norm[i]!);
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.vocab.token(ids[i]!);
    return s;
  }

  toJSON(): TokenizerJSON {
    return { kind: this.kind, tokens: [...this.vocab.tokens] };
  }
}

export const TOKENIZERS = ['d2l'] as const;

export function tokenizerFromJSON(json: unknown): Tokenizer {
  const j = json as Partial<TokenizerJSON> | null;
  if (!j || typeof j !== 'object' || typeof j.kind !== 'string' || !Array.isArray(j.tokens)
    || !j.tokens.every((t) => typeof t === 'string')) {
    throw new Error('tokenizer must be an object with a "kind" string and a "tokens" array of strings');
  }
  if (j.kind === 'd2l') return new D2LCharTokenizer(new Vocab(j.tokens));
  throw new Error(`unknown tokenizer kind "${j.kind}" (expected one of ${TOKENIZERS.join(', ')})`);
}
