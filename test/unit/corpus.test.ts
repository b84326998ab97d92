// Corpus registry, data directory, download (from a server on 127.0.0.1) and
// the sha1 check.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusRegistry, ensureCorpus, loadCorpus, resolveDataDir, type CorpusEntry } from '../../src/data/corpus.js';
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

  it('reports HTTP errors and unreachable servers', async () => {
    await expect(ensureCorpus(entry(`${base}/nothing.txt`), path.join(dir, 'e404'))).rejects.toThrow(`download of ${base}/nothing.txt failed: HTTP 404`);
    await expect(ensureCorpus(entry('ftp://example/timemachine.txt'), path.join(dir, 'eftp'))).rejects.toThrow('only http and https URLs are supported');
    await expect(ensureCorpus(entry('http://127.0.0.1:1/timemachine.txt'), path.join(dir, 'edown'))).rejects.toThrow('download of http://127.0.0.1:1/timemachine.txt failed:');
  });
});

describe('loadCorpus', () => {
  it('reads a registry corpus from the data directory', async () => {
    const c = await loadCorpus('timemachine', SHARED_DATA);
    expect(c.text.length).toBe(body.length);
    expect(c.tokenizer).toBe('d2l');
  });

  it('reads a local file, and refuses missing, directory and empty paths', async () => {
    const file = path.join(dir, 'book.txt');
    copyFileSync(path.join(SHARED_DATA, 'timemachine.txt'), file);
    expect((await loadCorpus(file, dir)).name).toBe(file);
    await expect(loadCorpus(path.join(dir, 'nope.txt'), dir)).rejects.toThrow(`--corpus "${path.join(dir, 'nope.txt')}" is neither a known corpus (timemachine) nor an existing file`);
    await expect(loadCorpus(dir, dir)).rejects.toThrow(`--corpus "${dir}" is not a regular file`);
    const empty = path.join(dir, 'empty.txt');
    writeFileSync(empty, '');
    await expect(loadCorpus(empty, dir)).rejects.toThrow(`--corpus "${empty}" is empty`);
    expect(existsSync(empty)).toBe(true);
  });
});
