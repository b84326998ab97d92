// Corpus registry, data directory, download (from a server on 127.0.0.1) and
// the sha1 check.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusRegistry, download, ensureCorpus, readCorpus, resolveCorpora, resolveDataDir, type CorpusEntry } from '../../src/data/corpus.js';
import { loadCorpusTokens, readCorpusText } from '../../src/data/load.js';
import { SHARED_DATA } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const body = readFileSync(path.join(SHARED_DATA, 'timemachine.txt'));
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

const entry = (url: string): CorpusEntry => ({ ...corpusRegistry().get('timemachine')!, url });

describe('registry', () => {
  it("names timemachine with d2l's URL and sha1", () => {
    const tm = corpusRegistry().get('timemachine')!;
    expect(tm.url).toBe('http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt');
    expect(tm.sha1).toBe('090b5e7e70c295757f55df93cb0a180b9691891a');
    expect(tm.file).toBe('timemachine.txt');
    expect(createHash('sha1').update(body).digest('hex')).toBe(tm.sha1);
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

  it('gives up on redirect loops and silent servers', async () => {
    await expect(download(`${base}/loop/timemachine.txt`, path.join(dir, 'loop.txt'))).rejects.toThrow(`download of ${base}/loop/timemachine.txt redirected too many times`);
    await expect(download(`${base}/slow/timemachine.txt`, path.join(dir, 'slow.txt'), 5, 200)).rejects.toThrow(new RegExp(`^download of ${base}/slow/timemachine.txt timed out after 0.2 s$`));
  });

  it('reports HTTP errors and unreachable servers', async () => {
    await expect(ensureCorpus(entry(`${base}/nothing.txt`), path.join(dir, 'e404'))).rejects.toThrow(`download of ${base}/nothing.txt failed: HTTP 404`);
    await expect(ensureCorpus(entry('ftp://example/timemachine.txt'), path.join(dir, 'eftp'))).rejects.toThrow('only http and https URLs are supported');
    await expect(ensureCorpus(entry('http://127.0.0.1:1/timemachine.txt'), path.join(dir, 'edown'))).rejects.toThrow('download of http://127.0.0.1:1/timemachine.txt failed:');
  });
});

describe('resolveCorpora and loading', () => {
  it('reads registry corpora from the data directory with their tokenizers', async () => {
    const [tm, ts] = await resolveCorpora(['timemachine', 'tinyshakespeare'], SHARED_DATA);
    expect(tm!.bytes).toBe(body.length);
    expect(tm!.tokenizer).toBe('d2l');
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
    const sources = await resolveCorpora([books, path.join(books, 'a.txt')], dir);
    expect(sources.map((s) => path.basename(s.path))).toEqual(['a.txt', 'b.txt', 'a.txt']);
    expect([...readCorpus(sources)].join('')).toBe('first book\nsecond book\nfirst book');
    expect(await readCorpusText([books], dir)).toBe('first book\nsecond book');
    const nope = path.join(dir, 'nope.txt');
    await expect(resolveCorpora([], dir)).rejects.toThrow('--corpus needs at least one name or file');
    await expect(resolveCorpora([nope], dir)).rejects.toThrow(`--corpus "${nope}" is neither a known corpus (timemachine, tinyshakespeare) nor an existing file or directory`);
    const bare = path.join(dir, 'bare');
    mkdirSync(bare);
    await expect(resolveCorpora([bare], dir)).rejects.toThrow(`--corpus "${bare}" is a directory with no non-empty .txt files`);
    const empty = path.join(dir, 'empty.txt');
    writeFileSync(empty, '');
    await expect(resolveCorpora([empty], dir)).rejects.toThrow(`--corpus "${empty}" is empty`);
    expect(existsSync(empty)).toBe(true);
  });

  it('names the byte offset of invalid UTF-8 across chunks', () => {
    const file = path.join(dir, 'bad.txt');
    writeFileSync(file, Buffer.concat([Buffer.from('x'.repeat(5_000_000)), Buffer.from([0xc3, 0x28])]));
    const src = [{ name: file, path: file, bytes: 5_000_002 }];
    expect(() => [...readCorpus(src)]).toThrow(`--corpus "${file}" is not valid UTF-8 at byte offset 5000000`);
    const cut = path.join(dir, 'cut.txt');
    writeFileSync(cut, Buffer.concat([Buffer.from('abc'), Buffer.from([0xe2, 0x82])]));
    expect(() => [...readCorpus([{ name: cut, path: cut, bytes: 5 }])]).toThrow(`--corpus "${cut}" is not valid UTF-8 at byte offset 3`);
  });

  it('loads tokens in two streaming passes, 2 bytes each for small vocabularies', async () => {
    const c = await loadCorpusTokens(['timemachine'], { dataDir: SHARED_DATA });
    expect(c.tokens).toBeInstanceOf(Uint16Array);
    expect(c.tokens.length).toBe(173_428);
    expect(c.tokenizer.kind).toBe('d2l');
    expect(c.sha1).toBe('090b5e7e70c295757f55df93cb0a180b9691891a');
    const both = await loadCorpusTokens(['timemachine', 'tinyshakespeare'], { dataDir: SHARED_DATA, kind: 'char' });
    expect(both.tokens.length).toBe(body.toString('utf8').length + 1 + 1_115_394);
    expect(both.tokenizer.decode(both.tokens.subarray(0, 16))).toBe(body.toString('utf8').slice(0, 16));
  });
});
