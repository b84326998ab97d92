// Corpus registry (data/corpora.json), data directory, download and sha1 check.
import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';

export interface CorpusEntry {
  name: string;
  description: string;
  file: string;
  url: string;
  sha1: string;
  tokenizer: string;
}

const registryPath = fileURLToPath(new URL('../../data/corpora.json', import.meta.url));

let registryCache: Map<string, CorpusEntry> | undefined;

export function corpusRegistry(): Map<string, CorpusEntry> {
  if (!registryCache) {
    const raw = JSON.parse(readFileSync(registryPath, 'utf8')) as Record<string, Omit<CorpusEntry, 'name'>>;
    registryCache = new Map(Object.entries(raw).map(([name, e]) => [name, { name, ...e }]));
  }
  return registryCache;
}

/** --data-dir, else DEEPRNN_DATA_DIR, else the per-user cache ($XDG_CACHE_HOME or ~/.cache)/deeprnn. */
export function resolveDataDir(option?: string): string {
  if (option) return path.resolve(option);
  const env = process.env.DEEPRNN_DATA_DIR;
  if (env) return path.resolve(env);
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'deeprnn');
}

export async function sha1File(file: string): Promise<string> {
  return createHash('sha1').update(await readFile(file)).digest('hex');
}

/**
 * Path of a registry corpus in `dataDir`, downloading it first when missing
 * (from DEEPRNN_MIRROR + file when that is set, else from the registry URL).
 * A file whose sha1 differs from the registry's is refused.
 */
export async function ensureCorpus(entry: CorpusEntry, dataDir: string, log?: (msg: string) => void): Promise<string> {
  const file = path.join(dataDir, entry.file);
  if (!existsSync(file)) {
    const mirror = process.env.DEEPRNN_MIRROR;
    const url = mirror ? mirror.replace(/\/?$/, '/') + entry.file : entry.url;
    log?.(`downloading ${entry.name} from ${url} to ${file}`);
    await mkdir(dataDir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      await download(url, tmp);
      await verifySha1(tmp, entry.sha1, url);
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
  }
  await verifySha1(file, entry.sha1, file);
  return file;
}

async function verifySha1(file: string, expected: string, label: string): Promise<void> {
  const actual = await sha1File(file);
  if (actual !== expected) {
    throw new InputError(`${label} has sha1 ${actual}, expected ${expected}; delete or replace the file`);
  }
}

/** HTTP(S) GET to a file, following up to 5 redirects. */
export function download(url: string, dest: string, redirects = 5, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : url.startsWith('http:') ? http.get : undefined;
    if (!get) {
      reject(new Error(`cannot download ${url}: only http and https URLs are supported`));
      return;
    }
    const req = get(url, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) reject(new Error(`download of ${url} redirected too many times`));
        else download(new URL(res.headers.location, url).toString(), dest, redirects - 1, timeoutMs).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new Error(`download of ${url} failed: HTTP ${status}`));
        return;
      }
      const out = createWriteStream(dest);
      res.pipe(out);
      out.on('finish', () => out.close((err) => (err ? reject(err) : resolve())));
      out.on('error', reject);
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`download of ${url} timed out after ${timeoutMs / 1000} s`)));
    req.on('error', (err) => reject(err.message.startsWith('download of ') ? err : new Error(`download of ${url} failed: ${err.message}`)));
  });
}

/** Offset of the first byte that breaks UTF-8 (overlong forms and surrogates included), or -1. */
export function invalidUtf8Offset(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) [n, min, cp] = [1, 0x80, c & 0x1f];
    else if (c >= 0xe0 && c <= 0xef) [n, min, cp] = [2, 0x800, c & 0x0f];
    else if (c >= 0xf0 && c <= 0xf4) [n, min, cp] = [3, 0x10000, c & 0x07];
    else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** One file of a corpus. */
export interface CorpusSource {
  /** The registry name or the path as given. */
  name: string;
  path: string;
  bytes: number;
  /** The registry's tokenizer for this corpus, if it is a registry corpus. */
  tokenizer?: string;
}

/**
 * The files named by --corpus: registry names (downloaded and verified when
 * missing), text files, and directories (every *.txt file in them, sorted).
 */
export async function resolveCorpora(specs: string[], dataDir: string, log?: (msg: string) => void): Promise<CorpusSource[]> {
  if (specs.length === 0) throw new InputError('--corpus needs at least one name or file');
  const out: CorpusSource[] = [];
  for (const spec of specs) {
    const entry = corpusRegistry().get(spec);
    if (entry) {
      const file = await ensureCorpus(entry, dataDir, log);
      out.push({ name: entry.name, path: file, bytes: statSync(file).size, tokenizer: entry.tokenizer });
      continue;
    }
    if (!existsSync(spec)) {
      const names = [...corpusRegistry().keys()].join(', ');
      throw new InputError(`--corpus "${spec}" is neither a known corpus (${names}) nor an existing file or directory`);
    }
    const st = statSync(spec);
    if (st.isDirectory()) {
      const files = readdirSync(spec).filter((f) => f.endsWith('.txt')).sort().map((f) => path.join(spec, f))
        .filter((f) => statSync(f).isFile() && statSync(f).size > 0);
      if (files.length === 0) throw new InputError(`--corpus "${spec}" is a directory with no non-empty .txt files`);
      for (const f of files) out.push({ name: f, path: path.resolve(f), bytes: statSync(f).size });
      continue;
    }
    if (!st.isFile()) throw new InputError(`--corpus "${spec}" is not a regular file or directory`);
    if (st.size === 0) throw new InputError(`--corpus "${spec}" is empty`);
    out.push({ name: spec, path: path.resolve(spec), bytes: st.size });
  }
  return out;
}

/** Bytes read per chunk. */
const CHUNK = 1 << 20;

/**
 * The text of the sources as a stream of chunks, files joined by a newline.
 * Refuses a file that looks binary or is not UTF-8, naming the byte offset.
 * `onBytes` sees every chunk's raw bytes (for hashing and progress).
 */
export function* readCorpus(sources: CorpusSource[], onBytes?: (bytes: Buffer) => void): Generator<string> {
  for (let s = 0; s < sources.length; s++) {
    const src = sources[s]!;
    if (s > 0) yield '\n';
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
    const buf = Buffer.allocUnsafe(CHUNK);
    const fd = openSync(src.path, 'r');
    let offset = 0;
    let tail = Buffer.alloc(0);
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, null);
        const bytes = buf.subarray(0, n);
        const nul = bytes.indexOf(0);
        if (nul >= 0) {
          throw new InputError(`--corpus "${src.name}" looks binary (a NUL byte at offset ${offset + nul}); expected a UTF-8 text file`);
        }
        onBytes?.(bytes);
        let text: string;
        try {
          text = decoder.decode(bytes, { stream: n > 0 });
        } catch {
          // A sequence may have started in the previous chunk: scan from its last bytes.
          const scan = Buffer.concat([tail, bytes]);
          const bad = invalidUtf8Offset(scan);
          throw new InputError(`--corpus "${src.name}" is not valid UTF-8 at byte offset ${offset - tail.length + (bad >= 0 ? bad : scan.length)}`);
        }
        tail = n >= 3 ? Buffer.from(bytes.subarray(n - 3)) : Buffer.concat([tail, bytes]).subarray(-3);
        offset += n;
        if (text) yield text;
        if (n === 0) break;
      }
    } finally {
      closeSync(fd);
    }
  }
}
