// serve's catalog of checkpoints: what does not load is remembered while the
// file is unchanged, but only the checkpoint's own errors; a failure of the
// moment (no descriptor left) is tried again on the next request.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';

const calls = { n: 0, failNext: false };
vi.mock('../../src/io/checkpoint.js', async (original) => {
  const real = await original<typeof import('../../src/io/checkpoint.js')>();
  return {
    ...real,
    loadCheckpoint: (file: string) => {
      calls.n++;
      if (calls.failNext) {
        calls.failNext = false;
        throw Object.assign(new Error(`EMFILE: too many open files, open '${file}'`), { code: 'EMFILE' });
      }
      return real.loadCheckpoint(file);
    },
  };
});

const { Catalog, ONNX_KEPT } = await import('../../src/serve/catalog.js');
const { RNNLM } = await import('../../src/nn/rnnlm.js');
const { Tokenizer } = await import('../../src/data/tokenizer.js');
const { Rng } = await import('../../src/rng.js');

const dir = tmpDir();

describe('serve catalog', () => {
  it('tries a checkpoint again after a failure of the moment, and remembers one that is not a checkpoint', () => {
    const good = path.join(dir, 'good.safetensors');
    const tokenizer = Tokenizer.fit('d2l', 'hello world');
    new RNNLM({ cell: 'gru', vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 }, new Rng(1)).save(good, { tokenizer });
    const catalog = new Catalog();
    calls.failNext = true;
    expect(() => catalog.info(good, 'good.safetensors')).toThrow('EMFILE');
    expect(() => catalog.onnx(good)).not.toThrow();
    expect(catalog.info(good, 'good.safetensors')).toMatchObject({ name: 'good.safetensors', cell: 'gru' });
    const bad = path.join(dir, 'bad.safetensors');
    writeFileSync(bad, Buffer.alloc(64));
    const before = calls.n;
    expect(() => catalog.info(bad, 'bad.safetensors')).toThrow('is not a valid safetensors file');
    expect(() => catalog.onnx(bad)).toThrow('is not a valid safetensors file');
    expect(() => catalog.info(bad, 'bad.safetensors')).toThrow('is not a valid safetensors file');
    expect(calls.n - before).toBe(1);
  });

  // Before, every export asked for was kept for the life of the server, that of a
  // deleted checkpoint too (a 200 MB model's export held after its file was gone).
  it('keeps the last ONNX_KEPT exports, serves one again without a new export, and forgets deleted checkpoints', () => {
    const tokenizer = Tokenizer.fit('d2l', 'hello world');
    const files = Array.from({ length: ONNX_KEPT + 2 }, (_, i) => {
      const f = path.join(dir, `m${i}.safetensors`);
      new RNNLM({ cell: 'gru', vocabSize: tokenizer.vocab.size, hidden: [4], dropout: 0 }, new Rng(i + 1)).save(f, { tokenizer });
      return f;
    });
    const catalog = new Catalog();
    const first = catalog.onnx(files[0]!);
    let before = calls.n;
    expect(catalog.onnx(files[0]!)).toBe(first);
    expect(calls.n).toBe(before);
    for (const f of files) catalog.onnx(f);
    expect(catalog.exportsHeld).toBe(ONNX_KEPT);
    // the oldest were dropped and are exported again when asked for; the newest were not
    before = calls.n;
    catalog.onnx(files.at(-1)!);
    expect(calls.n).toBe(before);
    expect(catalog.onnx(files[0]!).bytes).toEqual(first.bytes);
    expect(calls.n).toBe(before + 1);
    expect(catalog.exportsHeld).toBe(ONNX_KEPT);
    // deleted: forgotten at the next export asked for (no page need poll for it)
    for (const f of files.slice(1)) rmSync(f);
    catalog.onnx(files[0]!);
    expect(catalog.exportsHeld).toBe(1);
    rmSync(files[0]!);
    catalog.prune();
    expect(catalog.exportsHeld).toBe(0);
  });
});
