// Vocabulary: the sorted set of tokens plus '<unk>', as the book builds it.
import { describe } from '../validate.js';
import { InputError } from '../errors.js';

export const UNK = '<unk>';

export class Vocab {
  readonly tokens: readonly string[];
  readonly unk: number;
  private readonly index: Map<string, number>;

  constructor(tokens: readonly string[]) {
    const seen = new Set<string>();
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      // (a hole of a sparse list is no token either)
      if (typeof t !== 'string') throw new InputError(`vocabulary token ${i} is ${describe(t)}, not a string`);
      // JSON's quoting: a tab or a newline shows as \t, \n
      if (seen.has(t)) throw new InputError(`vocabulary lists ${JSON.stringify(t)} twice`);
      seen.add(t);
    }
    if (!seen.has(UNK)) throw new InputError(`vocabulary has no "${UNK}" token`);
    this.tokens = [...tokens];
    this.index = new Map(this.tokens.map((t, i) => [t, i]));
    this.unk = this.index.get(UNK)!;
  }

  /** Sorted set of the tokens with at least `minFreq` occurrences, plus '<unk>'. */
  static build(tokens: Iterable<string>, minFreq = 1): Vocab {
    const freq = new Map<string, number>();
    for (const t of tokens) freq.set(t, (freq.get(t) ?? 0) + 1);
    return Vocab.fromCounts(freq, minFreq);
  }

  /** As build, from counts; sorted by UTF-16 code units (code-point order within the BMP, as Python's for ASCII). */
  static fromCounts(freq: Map<string, number>, minFreq = 1): Vocab {
    const kept = [...freq].filter(([, f]) => f >= minFreq).map(([t]) => t);
    const set = [...new Set([UNK, ...kept])];
    set.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new Vocab(set);
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  /** Index of a token, '<unk>' for unknown ones. */
  id(token: string): number {
    return this.index.get(token) ?? this.unk;
  }

  token(id: number): string {
    const t = Number.isInteger(id) ? this.tokens[id] : undefined;
    if (t === undefined) {
      throw new InputError(Number.isInteger(id) ? `token id ${id} is outside the vocabulary of ${this.size}`
        : `token id ${describe(id)} is not a whole number (ids are 0 to ${this.size - 1})`);
    }
    return t;
  }
}
