// Corpus registry, the shipped Time Machine, data directory, download (from a
// server on 127.0.0.1) and the sha1 check.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusRegistry, download, ensureCorpus, looksLikeCheckpoint, readCorpus, resolveCorpora, resolveDataDir, type CorpusEntry } from '../../src/data/corpus.js';
import { loadCorpusTokens, loadTextTokens, readCorpusText } from '../../src/data/load.js';
import { InputError } from '../../src/errors.js';
import { DATA_DIR, HAS_SHAKESPEARE, NEEDS_SHAKESPEARE, noteShakespeare, ROOT, TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeDataModule, SequentialDataModule, WindowDataModule } from '../../src/data/datamodule.js';

noteShakespeare(import.meta.url);
const dir = tmpDir();
const body = readFileSync(TIMEMACHINE);
let server: http.Server;
let base = '';
const hits: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/timemachine.txt') res.end(body);
    else if (req.url === '/moved/timemachine.txt') res.writeHead(302, { location: '/timemachine.txt' }).end();
    else if (req.url === '/corrupt/timemachine.txt') res.end(body.subarray(0, 1000));
    else if (req.url === '/loop/timemachine.txt') res.writeHead(302, { location: '/loop/timemachine.txt' }).end();
    else if (req.url === '/slow/timemachine.txt') setTimeout(() => res.end(body), 3000);
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The Time Machine's entry as if it did not ship, from `url`. */
const entry = (url: string): CorpusEntry => {
  const { shippedPath: _, ...tm } = corpusRegistry().get('timemachine')!;
  return { ...tm, url };
};

describe('registry', () => {
  it("names timemachine with d2l's URL and sha1", () => {
    const tm = corpusRegistry().get('timemachine')!;
    expect(tm.url).toBe('http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt');
    expect(tm.sha1).toBe('090b5e7e70c295757f55df93cb0a180b9691891a');
    expect(tm.file).toBe('timemachine.txt');
    expect(tm.shippedPath).toBe(path.join(ROOT, 'data', 'timemachine.txt'));
    expect(body.length).toBe(178_979);
    expect(createHash('sha1').update(body).digest('hex')).toBe(tm.sha1);
    expect(corpusRegistry().get('tinyshakespeare')!.shippedPath).toBeUndefined();
  });
});

describe('the shipped Time Machine', () => {
  it('is used without a data directory and without a network', async () => {
    const nowhere = path.join(dir, 'no-such-dir');
    const tm = corpusRegistry().get('timemachine')!;
    const before = hits.length;
    expect(await ensureCorpus({ ...tm, url: `${base}/timemachine.txt` }, nowhere)).toBe(TIMEMACHINE);
    expect(hits.length).toBe(before);
    expect(existsSync(nowhere)).toBe(false);
  });

  it('is refused when its sha1 differs, with the fix named', async () => {
    const copy = path.join(dir, 'shipped-copy.txt');
    writeFileSync(copy, 'not the book');
    const tm = { ...corpusRegistry().get('timemachine')!, shippedPath: copy };
    await expect(ensureCorpus(tm, dir)).rejects.toThrow(
      `${copy} (the copy of timemachine shipped with deeprnn) has sha1 ${createHash('sha1').update('not the book').digest('hex')}, `
      + 'expected 090b5e7e70c295757f55df93cb0a180b9691891a; reinstall deeprnn',
    );
  });
});

describe('data directory', () => {
  it('prefers the option, then DEEPRNN_DATA_DIR, then the user cache', () => {
    const saved = { d: process.env.DEEPRNN_DATA_DIR, x: process.env.XDG_CACHE_HOME };
    try {
      process.env.DEEPRNN_DATA_DIR = '/env/dir';
      expect(resolveDataDir('/opt/dir')).toBe('/opt/dir');
      expect(resolveDataDir()).toBe('/env/dir');
      delete process.env.DEEPRNN_DATA_DIR;
      process.env.XDG_CACHE_HOME = '/xdg';
      expect(resolveDataDir()).toBe('/xdg/deeprnn');
      delete process.env.XDG_CACHE_HOME;
      expect(resolveDataDir()).toBe(path.join(os.homedir(), '.cache', 'deeprnn'));
    } finally {
      if (saved.d === undefined) delete process.env.DEEPRNN_DATA_DIR;
      else process.env.DEEPRNN_DATA_DIR = saved.d;
      if (saved.x === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved.x;
    }
  });
});

describe('download', () => {
  it('downloads a missing corpus, verifies it, and then uses the cached file', async () => {
    const d = path.join(dir, 'fresh');
    const logs: string[] = [];
    const file = await ensureCorpus(entry(`${base}/moved/timemachine.txt`), d, (m) => logs.push(m));
    expect(readFileSync(file)).toEqual(body);
    expect(logs[0]).toContain('downloading timemachine');
    const before = hits.length;
    await ensureCorpus(entry(`${base}/timemachine.txt`), d);
    expect(hits.length).toBe(before);
    expect(readdirSync(d)).toEqual(['timemachine.txt']);
  });

  it('honours DEEPRNN_MIRROR', async () => {
    process.env.DEEPRNN_MIRROR = `${base}/moved`;
    try {
      const file = await ensureCorpus(entry('http://127.0.0.1:1/unused'), path.join(dir, 'mirror'));
      expect(readFileSync(file)).toEqual(body);
    } finally {
      delete process.env.DEEPRNN_MIRROR;
    }
  });

  it('refuses a DEEPRNN_MIRROR that is no http(s) URL as a wrong input, before it makes a directory', async () => {
    // (before: a failed download, exit 1, with the data directory made)
    for (const bad of ['notaurl', 'ftp://host/x', 'http://', 'http://a b/x', 'https://host/x?token=1']) {
      process.env.DEEPRNN_MIRROR = bad;
      const d = path.join(dir, 'badmirror', 'data');
      try {
        await expect(ensureCorpus(entry('http://127.0.0.1:1/unused'), d)).rejects.toThrow(new InputError(
          `DEEPRNN_MIRROR must be an http:// or https:// URL of a folder that serves timemachine.txt, got ${JSON.stringify(bad)}`));
        expect(existsSync(path.join(dir, 'badmirror'))).toBe(false);
      } finally {
        delete process.env.DEEPRNN_MIRROR;
      }
    }
  });

  it('refuses a download whose sha1 differs and leaves nothing behind', async () => {
    const d = path.join(dir, 'corrupt');
    const url = `${base}/corrupt/timemachine.txt`;
    const bad = createHash('sha1').update(body.subarray(0, 1000)).digest('hex');
    await expect(ensureCorpus(entry(url), d)).rejects.toThrow(
      `${url} has sha1 ${bad}, expected 090b5e7e70c295757f55df93cb0a180b9691891a; delete or replace the file`,
    );
    expect(readdirSync(d)).toEqual([]);
  });

  it('refuses a cached file whose sha1 differs', async () => {
    const d = path.join(dir, 'tampered');
    mkdirSync(d);
    const file = path.join(d, 'timemachine.txt');
    writeFileSync(file, 'not the book');
    await expect(ensureCorpus(entry(`${base}/timemachine.txt`), d)).rejects.toThrow(
      `${file} has sha1 ${createHash('sha1').update('not the book').digest('hex')}, expected 090b5e7e70c295757f55df93cb0a180b9691891a`,
    );
  });

  it('names the file it cannot write', async () => {
    const d = path.join(dir, 'blocked');
    const tmp = path.join(d, `timemachine.txt.tmp-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
    await expect(ensureCorpus(entry(`${base}/timemachine.txt`), d)).rejects.toThrow(new InputError(`cannot write ${tmp}: a directory is in the way; `
      + `to use a copy of timemachine.txt (sha1 090b5e7e70c295757f55df93cb0a180b9691891a) from elsewhere, put it at ${path.join(d, 'timemachine.txt')}, `
      + 'or pass --data-dir DIR or set DEEPRNN_DATA_DIR=DIR for a directory DIR that holds it (or set DEEPRNN_MIRROR to a URL that serves it)'));
  });

  it('gives up on redirect loops and silent servers', async () => {
    await expect(download(`${base}/loop/timemachine.txt`, path.join(dir, 'loop.txt'))).rejects.toThrow(`download of ${base}/loop/timemachine.txt redirected too many times`);
    await expect(download(`${base}/slow/timemachine.txt`, path.join(dir, 'slow.txt'), 5, 200)).rejects.toThrow(new RegExp(`^download of ${base}/slow/timemachine.txt timed out after 0.2 s$`));
  });

  it('reports HTTP errors and unreachable servers with the ways around a download', async () => {
    const around = (d: string) => `; to use a copy of timemachine.txt (sha1 090b5e7e70c295757f55df93cb0a180b9691891a) from elsewhere, `
      + `put it at ${path.join(dir, d, 'timemachine.txt')}, or pass --data-dir DIR or set DEEPRNN_DATA_DIR=DIR for a directory DIR `
      + 'that holds it (or set DEEPRNN_MIRROR to a URL that serves it)';
    await expect(ensureCorpus(entry(`${base}/nothing.txt`), path.join(dir, 'e404'))).rejects.toThrow(
      new Error(`download of ${base}/nothing.txt failed: HTTP 404${around('e404')}`),
    );
    await expect(ensureCorpus(entry('ftp://example/timemachine.txt'), path.join(dir, 'eftp'))).rejects.toThrow(
      new Error(`cannot download ftp://example/timemachine.txt: only http and https URLs are supported${around('eftp')}`),
    );
    await expect(ensureCorpus(entry('http://127.0.0.1:1/timemachine.txt'), path.join(dir, 'edown'))).rejects.toThrow(
      new Error(`download of http://127.0.0.1:1/timemachine.txt failed: connect ECONNREFUSED 127.0.0.1:1${around('edown')}`),
    );
  });
});

describe('the data directory', () => {
  it('must be a directory, or creatable as one', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    await expect(ensureCorpus(entry(`${base}/timemachine.txt`), file)).rejects.toThrow(
      new InputError(`the data directory ${file} is a file; expected a directory (set it with --data-dir or DEEPRNN_DATA_DIR)`),
    );
    await expect(ensureCorpus(corpusRegistry().get('timemachine')!, file)).rejects.toThrow(`the data directory ${file} is a file`);
    const under = path.join(file, 'sub', 'dir');
    await expect(ensureCorpus(entry(`${base}/timemachine.txt`), under)).rejects.toThrow(
      new InputError(`the data directory ${under} cannot be created: ${file} is a file; expected a directory (set it with --data-dir or DEEPRNN_DATA_DIR)`),
    );
  });
});

describe('resolveCorpora and loading', () => {
  it('reads the shipped Time Machine with its tokenizer', async () => {
    const [tm] = await resolveCorpora(['timemachine'], path.join(dir, 'no-such-dir'));
    expect(tm).toEqual({ name: 'timemachine', path: TIMEMACHINE, bytes: 178_979, tokenizer: 'd2l' });
  });

  it.skipIf(!HAS_SHAKESPEARE)(`reads registry corpora from the data directory with their tokenizers ${NEEDS_SHAKESPEARE}`, async () => {
    const [ts] = await resolveCorpora(['tinyshakespeare'], DATA_DIR);
    expect(ts!.path).toBe(path.join(DATA_DIR, 'tinyshakespeare.txt'));
    expect(ts!.bytes).toBe(1_115_394);
    expect(ts!.tokenizer).toBe('char');
  });

  it('reads files and directories of .txt files, and refuses missing, empty and text-less paths', async () => {
    const books = path.join(dir, 'books');
    mkdirSync(books);
    writeFileSync(path.join(books, 'b.txt'), 'second book');
    writeFileSync(path.join(books, 'a.txt'), 'first book');
    writeFileSync(path.join(books, 'notes.md'), 'not text');
    writeFileSync(path.join(books, 'empty.txt'), '');
    writeFileSync(path.join(books, 'C.TXT'), 'third book');
    mkdirSync(path.join(books, 'more'));
    writeFileSync(path.join(books, 'more', 'd.txt'), 'not read');
    // Hidden files are not read, as a shell's *.txt leaves them (before, macOS's binary ._a.txt stopped the run as "binary").
    writeFileSync(path.join(books, '._a.txt'), Buffer.from([0, 5, 22, 7, 0, 2]));
    writeFileSync(path.join(books, '.notes.txt'), 'hidden');
    const sources = await resolveCorpora([books, path.join(books, 'a.txt')], dir);
    expect(sources.map((s) => path.basename(s.path))).toEqual(['C.TXT', 'a.txt', 'b.txt', 'a.txt']);
    expect([...readCorpus(sources)].join('')).toBe('third book\nfirst book\nsecond book\nfirst book');
    expect(await readCorpusText([books], dir)).toBe('third book\nfirst book\nsecond book');
    const nope = path.join(dir, 'nope.txt');
    await expect(resolveCorpora([], dir)).rejects.toThrow('--corpus needs at least one name or file');
    await expect(resolveCorpora([nope], dir)).rejects.toThrow(`--corpus "${nope}" is neither a known corpus (timemachine, tinyshakespeare) nor an existing file or directory`);
    const bare = path.join(dir, 'bare');
    mkdirSync(bare);
    await expect(resolveCorpora([bare], dir)).rejects.toThrow(`--corpus "${bare}" is a directory with no non-empty .txt files`);
    mkdirSync(path.join(bare, '.git'));  // hidden: not offered
    await expect(resolveCorpora([bare], dir)).rejects.toThrow(new RegExp(`is a directory with no non-empty \\.txt files$`));
    mkdirSync(path.join(bare, 'inner'));
    writeFileSync(path.join(bare, 'inner', 'x.txt'), 'text');
    await expect(resolveCorpora([bare], dir)).rejects.toThrow(`--corpus "${bare}" is a directory with no non-empty .txt files; `
      + `its subdirectories are not read (give ${path.join(bare, 'inner')} as a --corpus of its own)`);
    const empty = path.join(dir, 'empty.txt');
    writeFileSync(empty, '');
    await expect(resolveCorpora([empty], dir)).rejects.toThrow(`--corpus "${empty}" is empty: its size is 0 bytes`);
    expect(existsSync(empty)).toBe(true);
  });

  it('names broken symbolic links, alone or in a directory', async () => {
    const books = path.join(dir, 'linked');
    mkdirSync(books);
    writeFileSync(path.join(books, 'a.txt'), 'a book');
    symlinkSync('gone.txt', path.join(books, 'b.txt'));
    await expect(resolveCorpora([books], dir)).rejects.toThrow(
      new InputError(`--corpus "${books}": ${path.join(books, 'b.txt')} is a symbolic link to "gone.txt", which does not exist`),
    );
    const link = path.join(books, 'b.txt');
    await expect(resolveCorpora([link], dir)).rejects.toThrow(new InputError(`--corpus "${link}" is a symbolic link to "gone.txt", which does not exist`));
    const loop = path.join(dir, 'loop.txt');
    symlinkSync('loop.txt', loop);
    await expect(resolveCorpora([loop], dir)).rejects.toThrow(new InputError(`--corpus "${loop}" is a symbolic link to "loop.txt" that leads back to itself (a loop of links)`));
  });

  it('names the byte offset of invalid UTF-8 across chunks', () => {
    const file = path.join(dir, 'bad.txt');
    writeFileSync(file, Buffer.concat([Buffer.from('x'.repeat(5_000_000)), Buffer.from([0xc3, 0x28])]));
    const src = [{ name: file, path: file, bytes: 5_000_002 }];
    expect(() => [...readCorpus(src)]).toThrow(`--corpus "${file}" is not valid UTF-8 at byte offset 5000000`);
    const cut = path.join(dir, 'cut.txt');
    writeFileSync(cut, Buffer.concat([Buffer.from('abc'), Buffer.from([0xe2, 0x82])]));
    expect(() => [...readCorpus([{ name: cut, path: cut, bytes: 5 }])]).toThrow(`--corpus "${cut}" is not valid UTF-8 at byte offset 3`);
    // The scan starts on a character's first byte, wherever the chunks (1 MiB) cut the text: a valid
    // multi-byte character just before the bad byte, or ending a chunk, is never blamed.
    const MiB = 2 ** 20;
    const cases: [Buffer, number][] = [
      [Buffer.concat([Buffer.from('abc def '.repeat(30) + '€'), Buffer.from([0xe2])]), 243],
      [Buffer.concat([Buffer.from('a'.repeat(MiB - 4) + '😀' + 'b'.repeat(100)), Buffer.from([0xff]), Buffer.from('c')]), MiB + 100],
      [Buffer.concat([Buffer.from('a'.repeat(MiB - 1) + '€' + 'b'.repeat(10)), Buffer.from([0x80])]), MiB + 12],
      [Buffer.concat([Buffer.from('a'.repeat(MiB - 2)), Buffer.from('€').subarray(0, 2), Buffer.from('x')]), MiB - 2],
    ];
    for (const [bytes, at] of cases) {
      writeFileSync(cut, bytes);
      expect(() => [...readCorpus([{ name: cut, path: cut, bytes: bytes.length }])]).toThrow(`--corpus "${cut}" is not valid UTF-8 at byte offset ${at}`);
    }
  });

  it('says what a corpus is when its first bytes show UTF-32, gzip or a checkpoint (before: "looks binary", UTF-32 called UTF-16)', () => {
    const f = path.join(dir, 'what.txt');
    const read = (bytes: Buffer) => {
      writeFileSync(f, bytes);
      return () => [...readCorpus([{ name: f, path: f, bytes: bytes.length }])];
    };
    const le32 = Buffer.alloc(4 * 5);
    [...'text'].forEach((c, i) => le32.writeUInt32LE(c.charCodeAt(0), 4 * (i + 1)));
    le32.writeUInt32LE(0xfeff, 0);
    expect(read(le32)).toThrow(new InputError(`--corpus "${f}" is UTF-32 (little-endian: it starts with the byte-order mark FF FE 00 00); expected UTF-8: convert it, e.g. iconv -f UTF-32 -t UTF-8`));
    const be32 = Buffer.from(le32);
    for (let i = 0; i < be32.length; i += 4) be32.writeUInt32BE(le32.readUInt32LE(i), i);
    expect(read(be32)).toThrow(new InputError(`--corpus "${f}" is UTF-32 (big-endian: it starts with the byte-order mark 00 00 FE FF); expected UTF-8: convert it, e.g. iconv -f UTF-32 -t UTF-8`));
    expect(read(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]))).toThrow(new InputError(`--corpus "${f}" is gzip-compressed; expected a UTF-8 text file: decompress it first (gunzip)`));
    const header = Buffer.from('{"__metadata__":{"format":"pt"}}');
    const st = Buffer.alloc(8);
    st.writeUInt32LE(header.length, 0);
    expect(read(Buffer.concat([st, header]))).toThrow(new InputError(`--corpus "${f}" is a checkpoint (safetensors), not a text; a checkpoint is given with --model (eval, predict) or with --init-from or --resume (train)`));
    // Other NUL bytes stay "binary"; a text that merely starts with these letters is read.
    expect(read(Buffer.from([0x1f, 0, 0, 0]))).toThrow(new InputError(`--corpus "${f}" looks binary (a NUL byte at offset 1); expected a UTF-8 text file`));
    expect(read(Buffer.from('{"a": 1} is a text'))()).toEqual(['{"a": 1} is a text']);
  });

  it('looksLikeCheckpoint leaves a FIFO alone: its waiting writer is not cut off (before, opened and closed under it: SIGPIPE)', async () => {
    const fifo = path.join(dir, 'pipe.txt');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `printf 'some text' > "${fifo}"; echo $?`]);
    let said = '';
    writer.stdout.on('data', (b: Buffer) => { said += b.toString(); });
    await new Promise((r) => setTimeout(r, 200));  // the writer waits in its open
    expect(looksLikeCheckpoint(fifo)).toBe(false);
    expect(readFileSync(fifo, 'utf8')).toBe('some text');
    await new Promise((r) => writer.on('close', r));
    expect(said.trim()).toBe('0');
  });

  it("reads line ends as Python's open() does: CRLF and a lone CR are a newline, wherever the chunks cut them", async () => {
    // Before, "\r" stayed: a char model read a Windows copy of a text as other
    // tokens ("\r" an unknown one), its perplexity far above the same text's.
    const MiB = 2 ** 20;
    const lf = 'first line\nsecond line\n\nlast, with no end';
    const read = (bytes: Buffer) => {
      const f = path.join(dir, 'lines.txt');
      writeFileSync(f, bytes);
      return [...readCorpus([{ name: f, path: f, bytes: bytes.length }])].join('');
    };
    expect(read(Buffer.from(lf.replace(/\n/g, '\r\n')))).toBe(lf);
    expect(read(Buffer.from(lf.replace(/\n/g, '\r')))).toBe(lf);
    expect(read(Buffer.from(`\ufeff${lf.replace(/\n/g, '\r\n')}\r\n`))).toBe(`${lf}\n`);
    expect(read(Buffer.from('a\r\r\nb\n\rc\r'))).toBe('a\n\nb\n\nc\n');
    // "\r" the last byte of a 1 MiB chunk and "\n" the first of the next: one newline
    const pad = 'x'.repeat(MiB - 1);
    expect(read(Buffer.from(`${pad}\r\nend`))).toBe(`${pad}\nend`);
    expect(read(Buffer.from(`${pad}\r\rend`))).toBe(`${pad}\n\nend`);
    // a 2-byte character cut by the chunk's end just before "\r\n"
    const cut = `${'y'.repeat(MiB - 1)}é\r\nz`;
    expect(read(Buffer.from(cut))).toBe(`${'y'.repeat(MiB - 1)}é\nz`);
    // the same tokens, so the same vocabulary, as the text with newlines
    const f = path.join(dir, 'crlf.txt');
    writeFileSync(f, lf.replace(/\n/g, '\r\n'));
    const g = path.join(dir, 'lf.txt');
    writeFileSync(g, lf);
    const [a, b] = await Promise.all([loadCorpusTokens([f], { dataDir: dir, kind: 'char' }), loadCorpusTokens([g], { dataDir: dir, kind: 'char' })]);
    expect([...a.tokenizer.vocab.tokens]).toEqual([...b.tokenizer.vocab.tokens]);
    expect([...a.tokens]).toEqual([...b.tokens]);
    // and as a text given in memory (train({ text })), which reads as a file with that text does
    const t = loadTextTokens([lf.replace(/\n/g, '\r\n')], { kind: 'char' });
    expect([...t.tokens]).toEqual([...b.tokens]);
    expect(t.sha1).toBe(a.sha1);
    // 'kept': as deeprnn read every text before (a resumed run from then reads it so)
    const kept = await loadCorpusTokens([f], { dataDir: dir, kind: 'char', lineEnds: 'kept' });
    expect(kept.tokenizer.vocab.has('\r')).toBe(true);
    expect(kept.tokens.length).toBe(a.tokens.length + (lf.match(/\n/g) ?? []).length);
    expect(loadTextTokens([lf.replace(/\n/g, '\r\n')], { kind: 'char', lineEnds: 'kept' }).tokenizer.vocab.has('\r')).toBe(true);
  });

  it('loads tokens in two streaming passes, 2 bytes each for small vocabularies', async () => {
    const c = await loadCorpusTokens(['timemachine'], { dataDir: DATA_DIR });
    expect(c.tokens).toBeInstanceOf(Uint16Array);
    expect(c.tokens.length).toBe(173_428);
    expect(c.tokenizer.kind).toBe('d2l');
    expect(c.sha1).toBe('090b5e7e70c295757f55df93cb0a180b9691891a');
  });

  it.skipIf(!HAS_SHAKESPEARE)(`joins registry corpora with a newline ${NEEDS_SHAKESPEARE}`, async () => {
    const both = await loadCorpusTokens(['timemachine', 'tinyshakespeare'], { dataDir: DATA_DIR, kind: 'char' });
    expect(both.tokens.length).toBe(body.toString('utf8').length + 1 + 1_115_394);
    expect(both.tokenizer.decode(both.tokens.subarray(0, 16))).toBe(body.toString('utf8').slice(0, 16));
  });
});

describe("the library's loaders name wrong arguments", () => {
  it('loadCorpusTokens, loadTextTokens and makeDataModule refuse what they cannot read, by name (before: TypeErrors, a string read letter by letter, or silence)', async () => {
    await expect(loadCorpusTokens(['timemachine'], { dataDir: dir, kind: 'bpe' as never })).rejects.toThrow('kind must be one of d2l|char|word, got "bpe"');
    await expect(loadCorpusTokens(['timemachine'], { dataDir: dir, tokenizer: {} as never }))
      .rejects.toThrow("tokenizer must be a Tokenizer (Tokenizer.fit, or a model's tokenizer), got another object");
    await expect(loadCorpusTokens('timemachine' as never, { dataDir: dir }))
      .rejects.toThrow('the corpora must be a list of corpus names, files or directories, got "timemachine"');
    await expect(loadCorpusTokens(['timemachine'], { dataDir: dir, lineEnds: 'crlf' as never })).rejects.toThrow('lineEnds must be "lf" or "kept", got "crlf"');
    expect(() => loadTextTokens([''], {})).toThrow('texts must be a non-empty list of non-empty strings: item 0 is empty');
    expect(() => loadTextTokens([], {})).toThrow('texts must be a non-empty list of non-empty strings, got []');
    const tokens = new Int32Array(1000);
    const ok = { numSteps: 4, batchSize: 2, numTrain: 10, numVal: 5 };
    expect(() => makeDataModule(tokens, { ...ok, numSteps: 0 })).toThrow('numSteps must be a whole number from 1, got 0');
    expect(() => makeDataModule(tokens, { ...ok, batchSize: 2.5 })).toThrow('batchSize must be a whole number from 1, got 2.5');
    expect(() => makeDataModule(tokens, { ...ok, batchSize: 0 })).toThrow('batchSize must be a whole number from 1, got 0');
    expect(() => makeDataModule(tokens, { ...ok, batching: 'x' as never })).toThrow('batching must be "random" or "sequential", got "x"');
    expect(() => makeDataModule(tokens, { ...ok, valFrac: 1.5 })).toThrow('valFrac must be a number in (0, 1), got 1.5');
    expect(() => makeDataModule(tokens, null as never)).toThrow('the data options must be an object, got null');
    expect(() => new WindowDataModule(tokens, undefined as never)).toThrow('the data options must be an object, got nothing (undefined)');
    expect(() => new SequentialDataModule(tokens, null as never)).toThrow('the data options must be an object, got null');
    expect(makeDataModule(tokens, ok).numTrainBatches).toBe(5);
  });
});
