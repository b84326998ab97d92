// Corpus registry (data/corpora.json), corpora shipped in data/, the data
// directory, download and sha1 check.
import { createHash } from 'node:crypto';
import { closeSync, constants, createWriteStream, existsSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import { access, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { accessDenied, fileHead, makeDirs } from '../io/files.js';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import type { LineEnds } from './tokenizer.js';

export interface CorpusEntry {
  name: string;
  description: string;
  file: string;
  url: string;
  sha1: string;
  tokenizer: string;
  /** The copy in the package's data/ folder, for a corpus that ships with deeprnn. */
  shippedPath?: string;
}

/** The package's data/ folder: the registry and the corpora that ship. */
const packageDataDir = fileURLToPath(new URL('../../data/', import.meta.url));

let registryCache: Map<string, CorpusEntry> | undefined;

export function corpusRegistry(): Map<string, CorpusEntry> {
  if (!registryCache) {
    type Raw = Omit<CorpusEntry, 'name' | 'shippedPath'> & { shipped?: boolean };
    const raw = JSON.parse(readFileSync(path.join(packageDataDir, 'corpora.json'), 'utf8')) as Record<string, Raw>;
    registryCache = new Map(Object.entries(raw).map(([name, { shipped, ...e }]) => {
      const entry: CorpusEntry = { name, ...e };
      if (shipped) entry.shippedPath = path.join(packageDataDir, e.file);
      return [name, entry];
    }));
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
 * Path of a registry corpus: the copy shipped in the package when there is
 * one, else the file in `dataDir`, downloaded first when missing (from
 * DEEPRNN_MIRROR + file when that is set, else from the registry URL).
 * A file whose sha1 differs from the registry's is refused.
 */
export async function ensureCorpus(entry: CorpusEntry, dataDir: string, log?: (msg: string) => void): Promise<string> {
  checkDataDir(dataDir);
  if (entry.shippedPath && existsSync(entry.shippedPath)) {
    await verifySha1(entry.shippedPath, entry.sha1, `${entry.shippedPath} (the copy of ${entry.name} shipped with deeprnn)`, 'reinstall deeprnn');
    return entry.shippedPath;
  }
  const file = path.join(dataDir, entry.file);
  if (!existsSync(file)) {
    const mirror = process.env.DEEPRNN_MIRROR;
    // A setting that is no http(s) URL is a wrong input (exit 2), not a network that failed (exit 1).
    if (mirror && !isHttpUrl(mirror)) {
      throw new InputError(`DEEPRNN_MIRROR must be an http:// or https:// URL of a folder that serves ${entry.file}, got ${JSON.stringify(mirror)}`);
    }
    const url = mirror ? mirror.replace(/\/?$/, '/') + entry.file : entry.url;
    try {
      makeDirs(dataDir);
    } catch (e) {
      throw new InputError(`cannot create the data directory ${dataDir}: ${reason(e)}; ${workaround(entry, file)}`);
    }
    try {
      await access(dataDir, constants.W_OK);
    } catch (e) {
      throw new InputError(`the data directory ${dataDir} is not writable: ${reason(e)}; ${workaround(entry, file)}`);
    }
    log?.(`downloading ${entry.name} from ${url} to ${file}`);
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      try {
        await download(url, tmp);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        // The server answered but the file could not be written here.
        if (err.syscall === 'open' && err.path === tmp) {
          throw new InputError(`cannot write ${tmp}: ${reason(e)}; ${workaround(entry, file)}`);
        }
        throw new Error(`${err.message}; ${workaround(entry, file)}`);
      }
      await verifySha1(tmp, entry.sha1, url);
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
  await verifySha1(file, entry.sha1, file);
  return file;
}

/** The ways to give deeprnn a registry corpus without downloading it. */
function workaround(entry: CorpusEntry, file: string): string {
  return `to use a copy of ${entry.file} (sha1 ${entry.sha1}) from elsewhere, put it at ${file}, `
    + `or pass --data-dir DIR or set DEEPRNN_DATA_DIR=DIR for a directory DIR that holds it `
    + `(or set DEEPRNN_MIRROR to a URL that serves it)`;
}

/** Refuses a data directory that exists as something else, or lies under a file. */
function checkDataDir(dataDir: string): void {
  let p = dataDir;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      const parent = path.dirname(p);
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && parent !== p) {
        p = parent;
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') {
        p = path.dirname(p);
        continue;
      }
      throw new InputError(`cannot use the data directory ${dataDir}: ${reason(e)}`);
    }
    if (st.isDirectory()) return;
    const what = st.isFile() ? 'a file' : 'not a directory';
    throw new InputError(p === dataDir
      ? `the data directory ${dataDir} is ${what}; expected a directory (set it with --data-dir or DEEPRNN_DATA_DIR)`
      : `the data directory ${dataDir} cannot be created: ${p} is ${what}; expected a directory (set it with --data-dir or DEEPRNN_DATA_DIR)`);
  }
}

/** What a file-system error means, in words. */
export function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'ENOENT':
      return 'no such file or directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EISDIR':
      return 'a directory is in the way';
    default:
      return err.code ? `${err.code} (${err.message})` : err.message;
  }
}

async function verifySha1(file: string, expected: string, label: string, fix = 'delete or replace the file'): Promise<void> {
  const actual = await sha1File(file);
  if (actual !== expected) {
    throw new InputError(`${label} has sha1 ${actual}, expected ${expected}; ${fix}`);
  }
}

/** HTTP(S) GET to a file, following up to 5 redirects. */
export async function download(url: string, dest: string, redirects = 5, timeoutMs = 60_000): Promise<void> {
  // Loaded here: a run on a corpus already cached needs neither.
  const get = url.startsWith('https:') ? (await import('node:https')).get : url.startsWith('http:') ? (await import('node:http')).get : undefined;
  return new Promise((resolve, reject) => {
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

/**
 * The bytes at the end of `last` (its last 4 at most) that start a UTF-8
 * sequence the next bytes must finish, or none: where a scan for a bad byte
 * must start so that it begins on a character's first byte.
 */
function unfinished(last: Buffer): Buffer {
  for (let j = last.length - 1; j >= 0; j--) {
    const c = last[j]!;
    if ((c & 0xc0) === 0x80) continue;  // a continuation byte: its lead is further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return j + need > last.length ? Buffer.from(last.subarray(j)) : Buffer.alloc(0);
  }
  return Buffer.alloc(0);
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
      brokenLink(spec, `--corpus "${spec}"`);
      // (a file in a directory this user may not enter is there, not missing)
      const denied = accessDenied(spec);
      if (denied) throw new InputError(`--corpus "${spec}" cannot be read (${denied})`);
      const names = [...corpusRegistry().keys()].join(', ');
      throw new InputError(`--corpus "${spec}" is neither a known corpus (${names}) nor an existing file or directory`);
    }
    const st = statSync(spec);
    if (st.isDirectory()) {
      // Its .txt files (any case: NOTES.TXT too), not its subdirectories.
      let names: string[];
      try {
        names = readdirSync(spec).sort();
      } catch (e) {
        if (!PATH_FAULTS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
        throw new InputError(`--corpus "${spec}" is a directory that cannot be read (${(e as Error).message})`);
      }
      // (a directory that may be listed but not entered: its files' stat fails, named as the directory's
      // listing is; before, a bare "EACCES: permission denied, stat ...")
      const look = (f: string, throwIfNoEntry: boolean) => {
        try {
          return statSync(f, { throwIfNoEntry });
        } catch (e) {
          if (!PATH_FAULTS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
          throw new InputError(`--corpus "${spec}": ${f} cannot be read (${(e as NodeJS.ErrnoException).code})`);
        }
      };
      const files = names.filter(isCorpusFileName).map((f) => path.join(spec, f))
        .filter((f) => {
          brokenLink(f, `--corpus "${spec}": ${f}`);
          const st = look(f, true)!;
          return st.isFile() && st.size > 0;
        });
      if (files.length === 0) {
        const subdir = names.find((f) => !f.startsWith('.') && look(path.join(spec, f), false)?.isDirectory());
        const why = subdir === undefined ? '' : `; its subdirectories are not read (give ${path.join(spec, subdir)} as a --corpus of its own)`;
        throw new InputError(`--corpus "${spec}" is a directory with no non-empty .txt files${why}`);
      }
      for (const f of files) out.push({ name: f, path: path.resolve(f), bytes: statSync(f).size });
      continue;
    }
    if (!st.isFile()) throw new InputError(`--corpus "${spec}" is not a regular file or directory`);
    if (st.size === 0) {
      throw new InputError(`--corpus "${spec}" is empty: its size is 0 bytes (a file that reports no size, as those under /proc do, cannot be read as a corpus)`);
    }
    out.push({ name: spec, path: path.resolve(spec), bytes: st.size });
  }
  return out;
}

/**
 * The names in a --corpus directory that are read: .txt (any case: NOTES.TXT
 * too), not hidden ones, as a shell's *.txt (an editor's or macOS's
 * ._book.txt beside the books).
 */
export const isCorpusFileName = (name: string): boolean => /\.txt$/i.test(name) && !name.startsWith('.');

/** The errors of opening a corpus that are its path's (permissions, a name gone or not a file), not the machine's. */
const PATH_FAULTS = new Set(['EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'ENXIO']);

/** Refuses a symbolic link whose target does not exist, or that loops, naming both. */
function brokenLink(file: string, what: string): void {
  let target: string;
  try {
    if (!lstatSync(file).isSymbolicLink() || existsSync(file)) return;
    target = readlinkSync(file);
  } catch {
    return;
  }
  let loops = false;
  try {
    statSync(file);
  } catch (e) {
    loops = (e as NodeJS.ErrnoException).code === 'ELOOP';
  }
  throw new InputError(loops ? `${what} is a symbolic link to "${target}" that leads back to itself (a loop of links)`
    : `${what} is a symbolic link to "${target}", which does not exist`);
}

/** Whether `s` is an http(s) URL of a folder: FILE is appended to it (no query or fragment to append after). */
function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '' && !/\s/.test(s) && u.search === '' && u.hash === '';
  } catch {
    return false;
  }
}

/** Bytes read per chunk. */
const CHUNK = 1 << 20;

/**
 * How a text's line ends are read: 'lf', as Python's open() reads a text file
 * ("\r\n" and a lone "\r" are "\n"), or 'kept' as they are (how deeprnn read
 * every text before, and so how a run whose checkpoint records none is resumed).
 */
export type { LineEnds } from './tokenizer.js';

/** Reads "\r\n" and a lone "\r" as "\n" across the pieces of one text, wherever the pieces cut them. */
export class LineEndReader {
  private cr = false;

  next(text: string): string {
    if (!text) return text;
    if (this.cr && text.startsWith('\n')) text = text.slice(1);
    this.cr = text.endsWith('\r');
    return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
  }
}

/**
 * What a corpus's first bytes say it is when it is not UTF-8 text that a user
 * may have named by mistake: UTF-32 or UTF-16 by their byte-order marks (whose
 * NUL bytes would otherwise be called binary), a gzip file, or a checkpoint
 * (safetensors: an 8-byte header length, then its JSON header), as when
 * `eval --corpus FILE CKPT` takes the checkpoint for a second corpus.
 */
function refuseKnownBinary(name: string, b: Buffer): void {
  const bom = (...xs: number[]) => b.length >= xs.length && xs.every((x, i) => b[i] === x);
  const unicode = bom(0xff, 0xfe, 0, 0) ? ['UTF-32', 'little', 'FF FE 00 00'] : bom(0, 0, 0xfe, 0xff) ? ['UTF-32', 'big', '00 00 FE FF']
    : bom(0xff, 0xfe) ? ['UTF-16', 'little', 'FF FE'] : bom(0xfe, 0xff) ? ['UTF-16', 'big', 'FE FF'] : null;
  if (unicode) {
    const [enc, end, marks] = unicode;
    throw new InputError(`--corpus "${name}" is ${enc} (${end}-endian: it starts with the byte-order mark ${marks}); `
      + `expected UTF-8: convert it, e.g. iconv -f ${enc} -t UTF-8`);
  }
  if (bom(0x1f, 0x8b)) throw new InputError(`--corpus "${name}" is gzip-compressed; expected a UTF-8 text file: decompress it first (gunzip)`);
  if (isSafetensorsStart(b)) {
    throw new InputError(`--corpus "${name}" is a checkpoint (safetensors), not a text; a checkpoint is given with --model (eval, predict) `
      + 'or with --init-from or --resume (train)');
  }
}

/** Whether bytes begin as a safetensors file does: an 8-byte little-endian header length, then the JSON header's "{". */
function isSafetensorsStart(b: Buffer): boolean {
  return b.length >= 9 && b.readUInt32LE(4) === 0 && b.readUInt32LE(0) > 1 && b[8] === 0x7b; // {
}

/** Whether `file` is a regular file that begins as a safetensors file (a checkpoint); false when it cannot be read. */
export function looksLikeCheckpoint(file: string): boolean {
  const head = fileHead(file, 9);
  return head !== null && isSafetensorsStart(head);
}

/**
 * The text of the sources as a stream of chunks, files joined by a newline.
 * Line ends are read as `lineEnds` says: by default as Python's open() reads a
 * text file, "\r\n" and a lone "\r" as "\n" (a text saved on Windows reads as the
 * same text saved elsewhere: the same tokens, not a "\r" the tokenizer may not
 * know). A UTF-8 byte-order mark is dropped.
 * Refuses a file that looks binary or is not UTF-8, naming the byte offset.
 * `onBytes` sees every chunk's raw bytes (for hashing and progress).
 */
export function* readCorpus(sources: CorpusSource[], onBytes?: (bytes: Buffer) => void, lineEnds: LineEnds = 'lf'): Generator<string> {
  for (let s = 0; s < sources.length; s++) {
    const src = sources[s]!;
    if (s > 0) yield '\n';
    const lines = lineEnds === 'lf' ? new LineEndReader() : null;
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
    const buf = Buffer.allocUnsafe(CHUNK);
    let fd: number;
    try {
      fd = openSync(src.path, 'r');
    } catch (e) {
      // A permission, a file gone since the listing: the corpus's fault, named as the option gave it
      // (a lack of file descriptors, an I/O error: the machine's, as they are).
      if (!PATH_FAULTS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
      throw new InputError(`--corpus "${src.name}" cannot be read (${(e as Error).message})`);
    }
    let offset = 0;
    let tail: Buffer = Buffer.alloc(0);
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, null);
        const bytes = buf.subarray(0, n);
        if (offset === 0) refuseKnownBinary(src.name, bytes);
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
        tail = unfinished(Buffer.concat([tail, bytes.subarray(Math.max(0, n - 4))]).subarray(-4));
        offset += n;
        if (lines) text = lines.next(text);
        if (text) yield text;
        if (n === 0) break;
      }
    } finally {
      closeSync(fd);
    }
  }
}
