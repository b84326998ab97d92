// A corpus from --corpus to token ids in two streaming passes (count, then
// encode into an array of exactly the right size), so a large text needs about
// 2 bytes per token plus the chunk being read, never the whole text as a string.
// Texts a program holds in memory (the library's train(text)) go the same way.
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import { show } from '../validate.js';
import { LineEndReader, readCorpus, resolveCorpora, resolveDataDir, type CorpusSource, type LineEnds } from './corpus.js';
import { countTokens, isLineEnds, Tokenizer, TOKENIZERS, type TokenArray, type TokenizerKind } from './tokenizer.js';

export interface LoadedCorpus {
  sources: CorpusSource[];
  tokenizer: Tokenizer;
  tokens: TokenArray;
  /** sha1 of the bytes read, every file in order (of a text in memory: of its UTF-8 bytes). */
  sha1: string;
  bytes: number;
  /** The bytes of each file or text, in order: where the newline joining them falls (the sha1 does not see it). */
  parts: number[];
  /**
   * With a given tokenizer (a checkpoint's): the tokens of the corpus that are
   * not in its vocabulary (read as <unk>), and the distinct ones, most frequent first.
   */
  unknown?: { count: number; distinct: string[] };
}

export interface LoadOptions {
  /** Where registry corpora that are not shipped are kept (default: resolveDataDir()). */
  dataDir?: string;
  /** Use this tokenizer (e.g. a checkpoint's) instead of fitting one. */
  tokenizer?: Tokenizer;
  /** The kind to fit; default: the first registry corpus's, else char. */
  kind?: TokenizerKind;
  minFreq?: number;
  /** How messages name minFreq (default --min-freq). */
  minFreqName?: string;
  log?: (msg: string) => void;
  /** Bytes read so far of the two passes' total. */
  onProgress?: (done: number, total: number) => void;
  /** How line ends are read (default 'lf': "\r\n" and "\r" as "\n"; see readCorpus). */
  lineEnds?: LineEnds;
}

/** The library's arguments, named where they are wrong (before: TypeErrors from inside, or a string read as a list of its letters). */
function checkLoadOptions(opts: unknown): asserts opts is Omit<LoadOptions, 'dataDir'> {
  if (typeof opts !== 'object' || opts === null) throw new InputError(`the load options must be an object, got ${show(opts)}`);
  const o = opts as Partial<LoadOptions>;
  if (o.kind !== undefined && !TOKENIZERS.includes(o.kind)) throw new InputError(`kind must be one of ${TOKENIZERS.join('|')}, got ${show(o.kind)}`);
  if (o.tokenizer !== undefined && !(o.tokenizer instanceof Tokenizer)) {
    const got = o.tokenizer === null ? 'null' : typeof o.tokenizer === 'object' ? 'another object' : show(o.tokenizer);
    throw new InputError(`tokenizer must be a Tokenizer (Tokenizer.fit, or a model's tokenizer), got ${got}`);
  }
  if (o.lineEnds !== undefined && !isLineEnds(o.lineEnds)) throw new InputError(`lineEnds must be "lf" or "kept", got ${show(o.lineEnds)}`);
}

/** Refuses corpora that are no list of names, files or directories (a string alone would be read letter by letter). */
function checkSpecs(specs: unknown): asserts specs is string[] {
  if (!Array.isArray(specs) || !specs.every((x) => typeof x === 'string')) {
    throw new InputError(`the corpora must be a list of corpus names, files or directories, got ${show(specs)}`);
  }
}

/** The data directory given, checked, else resolveDataDir()'s. */
function dataDirOf(dataDir: unknown): string {
  if (dataDir === undefined) return resolveDataDir();
  if (typeof dataDir !== 'string' || dataDir === '') throw new InputError(`dataDir must be a directory's path, got ${show(dataDir)}`);
  return dataDir;
}

export async function loadCorpusTokens(specs: string[], opts: LoadOptions = {}): Promise<LoadedCorpus> {
  checkSpecs(specs);
  checkLoadOptions(opts);
  const sources = await resolveCorpora(specs, dataDirOf(opts.dataDir), opts.log);
  const kind = opts.tokenizer?.kind ?? opts.kind ?? defaultKind(sources);
  const bytes = sources.reduce((a, s) => a + s.bytes, 0);
  return { sources, ...encode(kind, bytes, (onBytes) => readCorpus(sources, onBytes, opts.lineEnds), opts), parts: sources.map((s) => s.bytes) };
}

/** Code units per chunk of a text in memory (the streaming passes' chunk size, as for files). */
const TEXT_CHUNK = 1 << 20;

/** A text's chunks, never cutting a surrogate pair; `onBytes` sees each chunk's UTF-8 bytes. */
function* textChunks(texts: readonly string[], onBytes?: (b: Buffer) => void, lineEnds: LineEnds = 'lf'): Generator<string> {
  for (let t = 0; t < texts.length; t++) {
    if (t > 0) yield '\n';
    const text = texts[t]!;
    const lines = lineEnds === 'lf' ? new LineEndReader() : null;
    for (let i = 0; i < text.length;) {
      let end = Math.min(text.length, i + TEXT_CHUNK);
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
      const chunk = text.slice(i, end);
      onBytes?.(Buffer.from(chunk, 'utf8'));
      const read = lines ? lines.next(chunk) : chunk;
      if (read) yield read;
      i = end;
    }
  }
}

/**
 * Token ids of texts held in memory, joined with a newline as files are:
 * the same tokenizers, vocabulary and sha1 (of the UTF-8 bytes) as a file with
 * the same text would give, line ends read the same way. Each text must be a
 * non-empty string.
 */
export function loadTextTokens(texts: readonly string[], opts: Omit<LoadOptions, 'dataDir'>): Omit<LoadedCorpus, 'sources'> {
  if (!Array.isArray(texts) || texts.length === 0) {
    throw new InputError(`texts must be a non-empty list of non-empty strings, got ${Array.isArray(texts) ? '[]' : typeof texts === 'string' ? 'a string' : show(texts)}`);
  }
  const bad = texts.findIndex((t) => typeof t !== 'string' || t.length === 0);
  if (bad >= 0) {
    const t: unknown = texts[bad];
    throw new InputError(`texts must be a non-empty list of non-empty strings: item ${bad} is ${typeof t === 'string' ? 'empty' : show(t)}`);
  }
  checkLoadOptions(opts);
  const kind = opts.tokenizer?.kind ?? opts.kind ?? 'char';
  const parts = texts.map((t) => Buffer.byteLength(t, 'utf8'));
  const bytes = parts.reduce((a, b) => a + b, 0);
  return { ...encode(kind, bytes, (onBytes) => textChunks(texts, onBytes, opts.lineEnds), opts), parts };
}

/** The two passes: count the tokens (and fit the vocabulary), then encode them into an array of exactly that length. */
function encode(
  kind: TokenizerKind,
  bytes: number,
  read: (onBytes: (b: Buffer) => void) => Iterable<string>,
  opts: Omit<LoadOptions, 'dataDir'>,
): Omit<LoadedCorpus, 'sources' | 'parts'> {
  let done = 0;
  const hash = createHash('sha1');
  const counts = countTokens(kind, read((b) => {
    hash.update(b);
    done += b.length;
    opts.onProgress?.(done, 2 * bytes);
  }));
  let count = 0;
  for (const c of counts.values()) count += c;
  const tokenizer = opts.tokenizer ?? Tokenizer.fromCounts(kind, counts, opts.minFreq ?? 1, opts.minFreqName);
  let unknown: LoadedCorpus['unknown'];
  if (opts.tokenizer) {
    const outside = [...counts].filter(([t]) => !tokenizer.vocab.has(t)).sort((a, b) => b[1] - a[1]);
    unknown = { count: outside.reduce((a, [, c]) => a + c, 0), distinct: outside.map(([t]) => t) };
  }
  counts.clear();
  const tokens = tokenizer.encodeChunks(read((b) => {
    done += b.length;
    opts.onProgress?.(done, 2 * bytes);
  }), count);
  return { tokenizer, tokens, sha1: hash.digest('hex'), bytes, ...(unknown ? { unknown } : {}) };
}

/** The whole text of small corpora, as one string. */
export async function readCorpusText(specs: string[], dataDir?: string): Promise<string> {
  checkSpecs(specs);
  return [...readCorpus(await resolveCorpora(specs, dataDirOf(dataDir)))].join('');
}

function defaultKind(sources: CorpusSource[]): TokenizerKind {
  const t = sources.find((s) => s.tokenizer)?.tokenizer ?? 'char';
  if (!TOKENIZERS.includes(t as TokenizerKind)) throw new InputError(`the corpus registry names an unknown tokenizer "${t}"`);
  return t as TokenizerKind;
}
