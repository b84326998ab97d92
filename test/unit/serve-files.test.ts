// deeprnn serve's reading of a directory, without a server: names resolved
// inside it or refused, metrics read as they grow (a half-written line waits
// for its end, a rewritten file is read again), and the page's modules found
// from its entry's imports.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pageModules, PACKAGE_ROOT } from '../../src/serve/assets.js';
import { pathSegments, Refused, resolveInside } from '../../src/serve/paths.js';
import { findFiles, listedName, MetricsTail, RunsWatcher } from '../../src/serve/runs.js';
import { tmpDir } from '../helpers/tmp.js';

const root = tmpDir();

describe('paths', () => {
  it('resolves names inside the directory and refuses the rest', () => {
    const dir = path.join(root, 'served');
    mkdirSync(path.join(dir, 'sub'), { recursive: true });
    writeFileSync(path.join(dir, 'sub', 'a.safetensors'), 'x');
    writeFileSync(path.join(root, 'outside.safetensors'), 'secret');
    symlinkSync(path.join(root, 'outside.safetensors'), path.join(dir, 'out.safetensors'));
    symlinkSync(path.join(dir, 'sub', 'a.safetensors'), path.join(dir, 'in.safetensors'));
    expect(resolveInside(dir, 'sub/a.safetensors')).toBe(path.join(dir, 'sub', 'a.safetensors'));
    // A link that stays inside is followed.
    expect(resolveInside(dir, 'in.safetensors')).toBe(path.join(dir, 'sub', 'a.safetensors'));
    for (const name of ['../outside.safetensors', 'sub/../../outside.safetensors', '/etc/passwd', path.join(root, 'outside.safetensors'),
      '..\\outside.safetensors', 'sub/./a.safetensors', 'a\0b', 'out.safetensors', '']) {
      expect(() => resolveInside(dir, name), JSON.stringify(name)).toThrow(Refused);
    }
    expect(() => resolveInside(dir, 'none.safetensors')).toThrow(/ENOENT/);
    expect(() => resolveInside(dir, 'sub')).toThrow('sub is not a regular file');
  });

  it('decodes a URL path once and refuses dot segments of any encoding', () => {
    expect(pathSegments('/lib/web/app.js')).toEqual(['lib', 'web', 'app.js']);
    expect(pathSegments('/a%20b')).toEqual(['a b']);
    for (const p of ['/..', '/%2e%2e/x', '/%2E%2e/x', '/a/..%2Fb', '/a/%2e', '/a%5c..', '/%00']) expect(() => pathSegments(p), p).toThrow(Refused);
    // Decoded once only: "%252e%252e" is the name "%2e%2e", not "..".
    expect(pathSegments('/%252e%252e')).toEqual(['%2e%2e']);
    expect(() => pathSegments('/%E0%A4%A')).toThrow('is not valid percent-encoding');
  });
});

describe('metrics as they grow', () => {
  it('reads new complete lines only, both key styles, and reads a replaced file again', () => {
    const file = path.join(root, 'r.metrics.jsonl');
    writeFileSync(file, '');
    const tail = new MetricsTail(file);
    expect(tail.read()).toEqual({ reset: false, points: [] });
    appendFileSync(file, '{"epoch":1,"trainPpl":9,"valPpl":10}\n{"epoch":2,"train_ppl":8,"val_p');
    expect(tail.read()).toEqual({ reset: false, points: [{ epoch: 1, trainPpl: 9, valPpl: 10 }] });
    appendFileSync(file, 'pl":null}\nnot json\n');
    expect(tail.read()).toEqual({ reset: false, points: [{ epoch: 2, trainPpl: 8, valPpl: null }] });
    expect(tail.read()).toEqual({ reset: false, points: [] });
    // A resumed run rewrites the file (a new file renamed over it).
    writeFileSync(`${file}.new`, '{"epoch":1,"trainPpl":7,"valPpl":7.5}\n');
    renameSync(`${file}.new`, file);
    expect(tail.read()).toEqual({ reset: true, points: [{ epoch: 1, trainPpl: 7, valPpl: 7.5 }] });
    expect(new MetricsTail(path.join(root, 'none.metrics.jsonl')).read()).toBeNull();
  });

  it('reads a file rewritten in place again (the same inode, as large or larger: cp over it), and an appended one on', () => {
    // (before, taken as an append: the old epochs, then the new file's past the old end, one lost between)
    const file = path.join(root, 'cp.metrics.jsonl');
    const line = (e: number, v: number) => `{"epoch":${e},"trainPpl":${v},"valPpl":${v}}\n`;
    writeFileSync(file, line(1, 101) + line(2, 102) + line(3, 103));
    const tail = new MetricsTail(file);
    expect(tail.read()!.points.map((p) => p.valPpl)).toEqual([101, 102, 103]);
    const ino = statSync(file).ino;
    writeFileSync(file, line(1, 11) + line(2, 12) + line(3, 13) + line(4, 14));  // truncated and written: the same inode
    expect(statSync(file).ino).toBe(ino);
    expect(tail.read()).toEqual({ reset: true, points: [11, 12, 13, 14].map((v, i) => ({ epoch: i + 1, trainPpl: v, valPpl: v })) });
    // the same first bytes, other ones where the last read ended
    writeFileSync(file, line(1, 11) + line(2, 12) + line(3, 13) + line(4, 99) + line(5, 15));
    expect(tail.read()!.reset).toBe(true);
    appendFileSync(file, line(6, 16));
    expect(tail.read()).toEqual({ reset: false, points: [{ epoch: 6, trainPpl: 16, valPpl: 16 }] });
  });

  it('a perplexity below 1 is a gap and an epoch below 1 no epoch, as deeprnn plot reads them (before, a 0 plotted as Infinity)', () => {
    const file = path.join(root, 'low.metrics.jsonl');
    writeFileSync(file, '{"epoch":1,"trainPpl":20,"valPpl":19}\n{"epoch":2,"trainPpl":18,"valPpl":0}\n{"epoch":0,"trainPpl":5,"valPpl":5}\n'
      + '{"epoch":-1,"trainPpl":5,"valPpl":5}\n{"epoch":3,"trainPpl":0.5,"valPpl":-2}\n');
    expect(new MetricsTail(file).read()!.points).toEqual([
      { epoch: 1, trainPpl: 20, valPpl: 19 }, { epoch: 2, trainPpl: 18, valPpl: null }, { epoch: 3, trainPpl: null, valPpl: null },
    ]);
  });

  it('reads a large file a piece at a time, and drops a line longer than any epoch\'s (before: one buffer, over 4 GiB an error that ended the server)', () => {
    const file = path.join(root, 'huge.metrics.jsonl');
    writeFileSync(file, '{"epoch":1,"trainPpl":9,"valPpl":10}\n');
    truncateSync(file, 2 ** 28);  // a sparse 256 MiB: NUL bytes after the first line
    appendFileSync(file, '\n{"epoch":2,"trainPpl":8,"valPpl":9}\n');
    const tail = new MetricsTail(file);
    const first = tail.read()!;
    expect(first.points).toEqual([{ epoch: 1, trainPpl: 9, valPpl: 10 }]);
    let polls = 1;
    let last = first;
    while (polls < 40 && last.points.every((p) => p.epoch !== 2)) {
      last = tail.read()!;
      expect(last.points.filter((p) => p.epoch !== 2)).toEqual([]);
      polls++;
    }
    expect(last.points).toEqual([{ epoch: 2, trainPpl: 8, valPpl: 9 }]);
    expect(polls).toBeGreaterThan(15);  // 16 MiB a read
    rmSync(file);
  });

  it('reports new runs whole, growing runs by their new epochs, and runs that went away', () => {
    const dir = path.join(root, 'watched');
    mkdirSync(path.join(dir, 'exp'), { recursive: true });
    writeFileSync(path.join(dir, 'a.metrics.jsonl'), '{"epoch":1,"trainPpl":5,"valPpl":6}\n');
    const w = new RunsWatcher(dir);
    expect(w.poll()).toEqual([{ name: 'a', reset: true, points: [{ epoch: 1, trainPpl: 5, valPpl: 6 }] }]);
    expect(w.poll()).toEqual([]);
    writeFileSync(path.join(dir, 'exp', 'b.metrics.jsonl'), '{"epoch":1,"trainPpl":3,"valPpl":4}\n');
    appendFileSync(path.join(dir, 'a.metrics.jsonl'), '{"epoch":2,"trainPpl":4,"valPpl":5}\n');
    expect(w.poll()).toEqual([
      { name: 'a', reset: false, points: [{ epoch: 2, trainPpl: 4, valPpl: 5 }] },
      { name: 'exp/b', reset: true, points: [{ epoch: 1, trainPpl: 3, valPpl: 4 }] },
    ]);
    expect(w.snapshot().map((r) => [r.name, r.points.length])).toEqual([['a', 2], ['exp/b', 1]]);
    renameSync(path.join(dir, 'a.metrics.jsonl'), path.join(dir, 'a.metrics.jsonl.bak'));
    expect(w.poll()).toEqual([{ name: 'a', reset: true, points: [], removed: true }]);
  });
});

describe('what the listings leave out', () => {
  it('symlinks that lead out of the directory or to something not a regular file (a FIFO would block the server)', () => {
    const dir = path.join(root, 'links');
    mkdirSync(dir, { recursive: true });
    const outside = path.join(root, 'outside');
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(outside, 'secret.metrics.jsonl'), '{"epoch":1,"trainPpl":5,"valPpl":6}\n');
    writeFileSync(path.join(dir, 'own.metrics.jsonl'), '{"epoch":1,"trainPpl":5,"valPpl":6}\n');
    writeFileSync(path.join(outside, 'm.safetensors'), 'x');
    symlinkSync(path.join(outside, 'secret.metrics.jsonl'), path.join(dir, 'leak.metrics.jsonl'));
    symlinkSync(path.join(outside, 'm.safetensors'), path.join(dir, 'out.safetensors'));
    symlinkSync(path.join(dir, 'own.metrics.jsonl'), path.join(dir, 'alias.metrics.jsonl'));
    execFileSync('mkfifo', [path.join(outside, 'fifo')]);
    execFileSync('mkfifo', [path.join(dir, 'pipe.metrics.jsonl')]);
    symlinkSync(path.join(outside, 'fifo'), path.join(dir, 'hang.metrics.jsonl'));
    expect(findFiles(dir, (n) => n.endsWith('.metrics.jsonl'))).toEqual(['alias.metrics.jsonl', 'own.metrics.jsonl']);
    expect(findFiles(dir, (n) => n.endsWith('.safetensors'))).toEqual([]);
    // what the routes serve is what the lists could hold
    for (const name of ['a.safetensors', 'sub/a.safetensors', 'sub/deeper/a.safetensors']) expect(listedName(name), name).toBe(true);
    for (const name of ['.a.safetensors', '.hid/a.safetensors', 'sub/.a.safetensors', 'node_modules/a.safetensors', 'a/b/c/d.safetensors']) {
      expect(listedName(name), name).toBe(false);
    }
    expect(new RunsWatcher(dir).poll().map((r) => r.name)).toEqual(['alias', 'own']);
    // A FIFO put in place of a metrics file after the listing is read without blocking, as nothing.
    expect(new MetricsTail(path.join(dir, 'pipe.metrics.jsonl')).read()).toBeNull();
  });
});

describe("the page's modules", () => {
  it('are what its entry imports, all inside dist/, none of Node', () => {
    const modules = pageModules(path.join(PACKAGE_ROOT, 'dist'));
    expect(modules).toEqual(['data/tokenizer.js', 'data/vocab.js', 'errors.js', 'generate.js', 'rng.js', 'validate.js', 'web/app.js', 'web/chart.js', 'web/onnx-lm.js']);
  });

  it('refuses a module that imports a package or a builtin', () => {
    const dist = path.join(root, 'dist');
    mkdirSync(path.join(dist, 'web'), { recursive: true });
    writeFileSync(path.join(dist, 'web', 'app.js'), "import { a } from './x.js';\n");
    writeFileSync(path.join(dist, 'web', 'x.js'), "import fs from 'node:fs';\nexport const a = fs;\n");
    expect(() => pageModules(dist)).toThrow('web/x.js imports "node:fs", which a browser cannot load from this server');
  });
});
