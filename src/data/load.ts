// A corpus from --corpus to token ids in two streaming passes (count, then
// encode into an array of exactly the right size), so a large text needs about
// 2 bytes per token plus the chunk being read, never the whole text as a string.
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import { readCorpus, resolveCorpora, type CorpusSource } from './corpus.js';
import { countTokens, Tokenizer, TOKENIZERS, type TokenArray, type TokenizerKind } from './tokenizer.js';

export interface LoadedCorpus {
  sources: CorpusSource[];
  tokenizer: Tokenizer;
  tokens: TokenArray;
  /** sha1 of the bytes read, every file in order. */
  sha1: string;
  bytes: number;
}

export interface LoadOptions {
  dataDir: string;
  /** Use this tokenizer (e.g. a checkpoint's) instead of fitting one. */
  tokenizer?: Tokenizer;
  /** The kind to fit; default: the first registry corpus's, else char. */
  kind?: TokenizerKind;
  minFreq?: number;
  log?: (msg: string) => void;
  /** Bytes read so far of the two passes' total. */
  onProgress?: (done: number, total: number) => void;
}

export async function loadCorpusTokens(specs: string[], opts: LoadOptions): Promise<LoadedCorpus> {
  const sources = await resolveCorpora(specs, opts.dataDir, opts.log);
  const kind = opts.tokenizer?.kind ?? opts.kind ?? defaultKind(sources);
  const bytes = sources.reduce((a, s) => a + s.bytes, 0);
  let done = 0;
  const hash = createHash('sha1');
  const counts = countTokens(kind, readCorpus(sources, (b) => {
    hash.update(b);
    done += b.length;
    opts.onProgress?.(done, 2 * bytes);
  }));
  let count = 0;
  for (const c of counts.values()) count += c;
  const tokenizer = opts.tokenizer ?? Tokenizer.fromCounts(kind, counts, opts.minFreq ?? 1);
  counts.clear();
  const tokens = tokenizer.encodeChunks(readCorpus(sources, (b) => {
    done += b.length;
    opts.onProgress?.(done, 2 * bytes);
  }), count);
  return { sources, tokenizer, tokens, sha1: hash.digest('hex'), bytes };
}

/** The whole text of small corpora, as one string. */
export async function readCorpusText(specs: string[], dataDir: string): Promise<string> {
  return [...readCorpus(await resolveCorpora(specs, dataDir))].join('');
}

function defaultKind(sources: CorpusSource[]): TokenizerKind {
  const t = sources.find((s) => s.tokenizer)?.tokenizer ?? 'char';
  if (!TOKENIZERS.includes(t as TokenizerKind)) throw new InputError(`the corpus registry names an unknown tokenizer "${t}"`);
  return t as TokenizerKind;
}
