// File identity (symlinks, hard links, files not there yet), atomic writes
// through symlinks, and the output lock: a live holder refuses, a dead one (or
// a reused pid) does not.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkWritable, makeDirs, realTarget, sameFile, writeFileAtomic, writeFileAtomicAsync, WriteQueue } from '../../src/io/files.js';
import { acquireLock } from '../../src/io/lock.js';
import { RunFiles } from '../../src/train/run-files.js';
import { native } from '../../src/native.js';
import { ROOT } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();

describe('file identity', () => {
  it('sees one file through a symlink, a hard link, a symlinked directory and a name not there yet', () => {
    const a = path.join(dir, 'a.txt');
    writeFileSync(a, 'a');
    symlinkSync(a, path.join(dir, 'sym.txt'));
    linkSync(a, path.join(dir, 'hard.txt'));
    mkdirSync(path.join(dir, 'real'));
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'alias'));
    expect(sameFile(path.join(dir, 'sym.txt'), a)).toBe(true);
    expect(sameFile(path.join(dir, 'hard.txt'), a)).toBe(true);
    expect(sameFile(path.join(dir, 'alias', 'new.txt'), path.join(dir, 'real', 'x', '..', 'new.txt'))).toBe(true);
    expect(sameFile(path.join(dir, 'alias', 'new.txt'), path.join(dir, 'real', 'other.txt'))).toBe(false);
    symlinkSync(path.join(dir, 'later.txt'), path.join(dir, 'dangling.txt'));
    expect(realTarget(path.join(dir, 'dangling.txt'))).toBe(path.join(realTarget(dir), 'later.txt'));
  });

  it('writes through a symlink, atomically, and leaves the link in place', () => {
    const target = path.join(dir, 'target.json');
    const link = path.join(dir, 'link.json');
    symlinkSync(target, link);
    writeFileAtomic(link, '{"a": 1}');
    writeFileAtomic(link, '{"a": 2}');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('{"a": 2}');
    const dev = path.join(dir, 'dev.json');
    symlinkSync('/dev/null', dev);
    expect(() => writeFileAtomic(dev, 'x')).toThrow(`${dev} is not a regular file`);
  });
});

describe('permissions of a file replaced', () => {
  // Before, every write made a new file of mode 0644: a private (0600) checkpoint
  // became readable by everyone, and a read-only one was replaced as any other.
  it('keep the mode of the file a write replaces (writable by its owner), sync and in the background', async () => {
    const d = path.join(dir, 'modes');
    mkdirSync(d);
    for (const [name, mode, after] of [['private', 0o600, 0o600], ['group', 0o640, 0o640], ['shared', 0o664, 0o664], ['owner-only-writes', 0o200, 0o200]] as const) {
      for (const write of ['sync', 'async'] as const) {
        const f = path.join(d, `${name}-${write}.bin`);
        writeFileSync(f, 'old');
        chmodSync(f, mode);
        if (write === 'sync') writeFileAtomic(f, 'new');
        else await writeFileAtomicAsync(f, Buffer.from('new'));
        expect(readFileSync(f, 'utf8')).toBe('new');
        expect(statSync(f).mode & 0o777, `${name} ${write}`).toBe(after);
      }
    }
    expect(readdirSync(d).filter((f) => !f.endsWith('.bin'))).toEqual([]);
  });

  it('a write refuses a file writable by no one (made so while a run went on), sync and in the background', async () => {
    const f = path.join(dir, 'modes', 'locked.bin');
    writeFileSync(f, 'old');
    chmodSync(f, 0o444);
    const msg = `${f} is read-only (mode 444): a file protected against writing is not replaced; make it writable (chmod u+w) or write elsewhere`;
    expect(() => writeFileAtomic(f, 'new')).toThrow(msg);
    await expect(writeFileAtomicAsync(f, Buffer.from('new'))).rejects.toThrow(msg);
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(statSync(f).mode & 0o777).toBe(0o444);
    expect(readdirSync(path.dirname(f)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('checkWritable refuses a file writable by no one, naming its mode', () => {
    const f = path.join(dir, 'protected.safetensors');
    writeFileSync(f, 'keep');
    chmodSync(f, 0o444);
    expect(() => checkWritable(f, '--out')).toThrow(`--out ${f} is read-only (mode 444): a file protected against writing is not replaced; `
      + 'make it writable (chmod u+w) or give another path');
    chmodSync(f, 0o644);
    expect(() => checkWritable(f, '--out')).not.toThrow();
    // a directory still to make whose name no file system takes is found before the work
    const long = 'd'.repeat(300);
    const deep = path.join(dir, 'new', long, 'x.json');
    expect(() => checkWritable(deep, '--write-baseline')).toThrow(`--write-baseline ${deep} cannot be written: the directory name `
      + `${'d'.repeat(40)}... is 300 bytes, and file systems take names of at most 255`);
    expect(readdirSync(dir).filter((n) => n === 'new' || n.startsWith('.deeprnn-probe-'))).toEqual([]);
  });
});

describe('atomic writes in the background', () => {
  it('write as writeFileAtomic does: through a symlink, nothing left beside the file', async () => {
    mkdirSync(path.join(dir, 'bg'));
    const target = path.join(dir, 'bg', 'target.bin');
    const link = path.join(dir, 'bg', 'link.bin');
    symlinkSync(target, link);
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    await writeFileAtomicAsync(link, data);
    await writeFileAtomicAsync(link, data.subarray(1000));
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target).equals(data.subarray(1000))).toBe(true);
    expect(readdirSync(path.join(dir, 'bg')).sort()).toEqual(['link.bin', 'target.bin']);
    const dev = path.join(dir, 'bg', 'dev.bin');
    symlinkSync('/dev/null', dev);
    await expect(writeFileAtomicAsync(dev, data)).rejects.toThrow(`${dev} is not a regular file`);
  });

  it('fail with the error writeFileAtomic gives (code and message), and remove the temporary file', async () => {
    const sync = (f: string) => {
      try {
        writeFileAtomic(f, 'x');
      } catch (e) {
        return e as NodeJS.ErrnoException;
      }
      throw new Error(`${f} was written`);
    };
    const locked = path.join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    try {
      writeFileSync(path.join(dir, 'plain.txt'), 'a file, not a directory');
      // a name too long for the filesystem fails at open (missing directories are created, a file in the way is named first)
      const cases = [path.join(dir, 'x'.repeat(300)), path.join(dir, 'plain.txt', 'm.bin')];
      // root may write anywhere: the read-only directory fails for other users only
      if (process.getuid?.() !== 0) cases.push(path.join(locked, 'm.bin'));
      for (const f of cases) {
        const want = sync(f);
        const got = await writeFileAtomicAsync(f, Buffer.from('x')).then(() => null, (e: NodeJS.ErrnoException) => e);
        expect(got, f).not.toBeNull();
        expect(got!.code).toBe(want.code);
        expect(got!.syscall).toBe(want.syscall);
        expect(got!.message).toBe(want.message);
      }
    } finally {
      chmodSync(locked, 0o700);
    }
  });

  it('refuse, naming the argument, a path that is empty or holds NUL, and data that is not a Buffer', () => {
    const nat = native();
    const ok = [path.join(dir, '.r.tmp'), path.join(dir, 'r.bin'), dir, Buffer.from('x')] as const;
    const names = ['tmp', 'target', 'dir'];
    for (let i = 0; i < 3; i++) {
      for (const bad of ['', `${ok[i]}\0.x`]) {
        const args: [string, string, string, Buffer] = [...ok];
        args[i] = bad;
        expect(() => nat.writeFileAtomic(...args)).toThrow(`writeFileAtomic: argument "${names[i]}" must be a path: not empty, no NUL character`);
      }
    }
    expect(() => nat.writeFileAtomic(ok[0], ok[1], ok[2], new Float32Array(2) as unknown as Buffer))
      .toThrow('writeFileAtomic: argument "data" must be a Buffer (a Uint8Array)');
    expect(readdirSync(dir).filter((f) => f.startsWith('r.bin') || f.startsWith('.r.tmp'))).toEqual([]);
  });

  it('end quietly when the thread that asked is torn down mid-write (a terminated worker, process.exit)', () => {
    const native = pathToFileURL(path.join(ROOT, 'dist', 'native.js')).href;
    const big = path.join(dir, 'big.bin');
    // A worker starts a 200 MB write and is terminated while it runs; then the process exits mid-write.
    const script = `
      import { Worker } from 'node:worker_threads';
      const w = new Worker(\`
        Promise.all([import('${native}'), import('node:worker_threads')]).then(([{ native }, { parentPort }]) => {
          native().writeFileAtomic('${big}.tmp-w', '${big}', '${dir}', Buffer.alloc(200 << 20, 1));
          parentPort.postMessage('started');
        });\`, { eval: true });
      w.once('message', async () => {
        await w.terminate();
        const { native } = await import('${native}');
        native().writeFileAtomic('${big}.tmp-m', '${big}', '${dir}', Buffer.alloc(200 << 20, 2));
        process.exit(3);
      });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect([r.status, r.signal]).toEqual([3, null]);
  });
});

describe('a run\'s snapshots', () => {
  it('are the plain files of a snapshot\'s name, oldest first: a directory or link of that name is the user\'s (before, --keep failed removing it, mid-save)', () => {
    const sub = path.join(dir, 'snaps');
    mkdirSync(sub);
    const files = new RunFiles(path.join(sub, 'm.safetensors'));
    writeFileSync(path.join(sub, 'm.e0002.safetensors'), '');
    writeFileSync(path.join(sub, 'm.e0001-b4.safetensors'), '');
    mkdirSync(path.join(sub, 'm.e0001.safetensors'));
    symlinkSync('m.e0002.safetensors', path.join(sub, 'm.e0003.safetensors'));
    expect(files.snapshots()).toEqual([path.join(sub, 'm.e0001-b4.safetensors'), path.join(sub, 'm.e0002.safetensors')]);
  });
});

describe('a failed run\'s best checkpoint', () => {
  it('takes the first free NAME.best.failed[-N].EXT, never replacing a file or a directory there, and says when all are taken', () => {
    const sub = path.join(dir, 'failed-best');
    mkdirSync(sub);
    const files = new RunFiles(path.join(sub, 'm.safetensors'));
    writeFileSync(path.join(sub, 'm.best.failed.safetensors'), 'earlier');
    mkdirSync(path.join(sub, 'm.best.failed-2.safetensors'));
    writeFileSync(files.best, 'best');
    expect(files.keepFailedBest()).toBe(path.join(sub, 'm.best.failed-3.safetensors'));
    expect(readFileSync(path.join(sub, 'm.best.failed-3.safetensors'), 'utf8')).toBe('best');
    expect(readFileSync(path.join(sub, 'm.best.failed.safetensors'), 'utf8')).toBe('earlier');
    expect(readdirSync(sub)).not.toContain('m.best.safetensors');
    for (let i = 4; i <= 99; i++) writeFileSync(files.failedBestName(i), '');
    writeFileSync(files.best, 'best again');
    expect(() => files.keepFailedBest())
      .toThrow(`${path.join(sub, 'm.best.failed.safetensors')} to m.best.failed-99.safetensors are all taken`);
    expect(readFileSync(files.best, 'utf8')).toBe('best again');
  });
});

describe('metrics lines', () => {
  it('are appended whole or not at all: a write cut short by a file size limit is cut back to the lines before it', () => {
    const metrics = pathToFileURL(path.join(ROOT, 'dist', 'train', 'metrics.js')).href;
    const file = path.join(dir, 'limited.metrics.jsonl');
    const before = `${'{"epoch":0}'.padEnd(8100, ' ')}\n`;
    writeFileSync(file, before);
    const m = { epoch: 1, trainLoss: Math.log(9), trainPpl: 9, valLoss: Math.log(10), valPpl: 10, valAcc: 0.5, tokensPerSec: 1e5, seconds: 1, skipped: 0, lr: 1, gradNorm: 0.5 };
    // 8 KiB of file at most (bash's ulimit -f counts 1 KiB blocks): the line of about 200 bytes fits only in part.
    const script = `import('${metrics}').then(({ appendMetrics }) => {
      try { appendMetrics('${file}', ${JSON.stringify(m)}); console.log('appended'); } catch (e) { console.log(e.code); }
    })`;
    const r = spawnSync('bash', ['-c', `ulimit -f 8 && exec "${process.execPath}" --input-type=module -e "$0"`, script], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('EFBIG');
    expect(readFileSync(file, 'utf8')).toBe(before);
    // Without the limit the same line is appended.
    const ok = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(ok.stdout.trim()).toBe('appended');
    expect(readFileSync(file, 'utf8').startsWith(before)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8').slice(before.length)).epoch).toBe(1);
  });
});

describe('write queue groups', () => {
  it('boundary() ends a group of writes and gives the end of the group before it: at most two groups pending', async () => {
    const q = new WriteQueue();
    const ended: string[] = [];
    const slow = (what: string) => () => new Promise<void>((r) => setTimeout(() => {
      ended.push(what);
      r();
    }, 20));
    expect(q.boundary()).toBeUndefined(); // nothing written yet
    q.add(slow('w1'), true);
    q.add(() => {
      ended.push('hook1');
    });
    expect(q.boundary()).toBeUndefined(); // the first group has none before it
    q.add(() => {
      ended.push('hook, no write');
    });
    expect(q.boundary()).toBeUndefined(); // no write since: not a group
    q.add(slow('w2'), true);
    const wait2 = q.boundary();
    expect(wait2).toBeDefined();
    await wait2;
    expect(ended).toEqual(['w1', 'hook1', 'hook, no write']);
    q.add(slow('w3'), true);
    await q.boundary();
    expect(ended).toEqual(['w1', 'hook1', 'hook, no write', 'w2']);
    await q.drain();
    expect(ended.at(-1)).toBe('w3');
  });
});

describe('write queue', () => {
  it('runs tasks one after another in order; the first failure is kept, later tasks skipped, check and drain throw it', async () => {
    const q = new WriteQueue();
    const seen: string[] = [];
    const later = (ms: number, what: string) => () => new Promise<void>((r) => setTimeout(() => {
      seen.push(what);
      r();
    }, ms));
    q.add(later(30, 'slow'));
    q.add(later(1, 'fast'));
    q.add(() => {
      seen.push('sync');
    });
    q.check();
    await q.drain();
    expect(seen).toEqual(['slow', 'fast', 'sync']);
    q.add(() => {
      throw new Error('disk full');
    });
    q.add(() => {
      seen.push('after');
    });
    await expect(q.drain()).rejects.toThrow('disk full');
    expect(() => q.check()).toThrow('disk full');
    expect(seen).toEqual(['slow', 'fast', 'sync']);
  });
});

/** A Worker that takes the lock `file` (the built lock.js) and holds it until it is terminated. */
async function holdInWorker(file: string): Promise<import('node:worker_threads').Worker> {
  const { Worker } = await import('node:worker_threads');
  const lock = pathToFileURL(path.join(ROOT, 'dist', 'io', 'lock.js')).href;
  const w = new Worker(`
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(lock)}).then(({ acquireLock }) => {
      acquireLock(${JSON.stringify(file)}, 'held');
      parentPort.postMessage('held');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    });`, { eval: true });
  await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject));
  return w;
}

describe('output lock', () => {
  it('refuses what is no lock file at its path, leaving it as it is (before, a FIFO hung the run for ever and a directory was moved aside)', () => {
    const sub = path.join(dir, 'nolock');
    mkdirSync(sub);
    const lock = path.join(sub, 'm.safetensors.lock');
    const fifo = spawnSync('mkfifo', [lock]);
    if (fifo.status === 0) {
      expect(() => acquireLock(lock, '--out m')).toThrow(`--out m cannot be locked: ${lock} is a FIFO, not a lock file deeprnn wrote; remove it or choose another path`);
      expect(lstatSync(lock).isFIFO()).toBe(true);
      rmSync(lock);
    }
    mkdirSync(lock);
    expect(() => acquireLock(lock, '--out m')).toThrow(`--out m cannot be locked: ${lock} is a directory, not a lock file deeprnn wrote`);
    expect(lstatSync(lock).isDirectory()).toBe(true);
    expect(readdirSync(sub)).toEqual(['m.safetensors.lock']);
    rmSync(lock, { recursive: true });
    symlinkSync('/dev/zero', lock);
    expect(() => acquireLock(lock, '--out m')).toThrow(`--out m cannot be locked: ${lock} is a symbolic link, not a lock file deeprnn wrote`);
    rmSync(lock);
    // pid 0 and -1 name no process (kill(0, 0) asks about the process group, and succeeds): a stale lock
    for (const pid of [0, -1]) {
      writeFileSync(lock, JSON.stringify({ pid, start: '1' }));
      acquireLock(lock, '--out m').release();
    }
    expect(readdirSync(sub)).toEqual([]);
  });

  it('refuses while a live process holds it and takes it over from a dead one or a reused pid', async () => {
    mkdirSync(path.join(dir, 'sub'));
    const lock = path.join(dir, 'sub', 'm.safetensors.lock');
    const held = acquireLock(lock, '--out m');
    expect(() => acquireLock(lock, '--out m')).toThrow(`--out m is in use by this process: wait for it to finish or choose another path (lock file ${lock})`);
    held.release();
    // Held by another live process.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    await new Promise((r) => child.once('spawn', r));
    writeFileSync(lock, JSON.stringify({ pid: child.pid, start: null }));
    expect(() => acquireLock(lock, '--out m')).toThrow(`--out m is in use by another deeprnn process (pid ${child.pid})`);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    // Its process is gone: the lock is stale.
    acquireLock(lock, '--out m').release();
    // A live pid that started at another time is not the holder (the pid was reused).
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start: '1' }));
    acquireLock(lock, '--out m').release();
    // An unreadable lock file is stale too.
    writeFileSync(lock, 'garbage');
    acquireLock(lock, '--out m').release();
    // What a process killed while taking the lock left beside it goes; a live one's stays.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    for (const f of [`${lock}.${dead}`, `${lock}.stale-${dead}`, `${lock}.1`]) writeFileSync(f, '{}');
    acquireLock(lock, '--out m').release();
    expect(readdirSync(path.dirname(lock)).sort()).toEqual(['m.safetensors.lock.1']);
  });

  it('a Worker terminated while it holds locks (a run in it) leaves none: the process takes them again (before, "in use by this process" until it ended)', async () => {
    const { Worker } = await import('node:worker_threads');
    const sub = path.join(dir, 'worker');
    const out = path.join(sub, 'w.safetensors');
    const lib = pathToFileURL(path.join(ROOT, 'dist', 'train', 'library.js')).href;
    const text = readFileSync(path.join(ROOT, 'data', 'timemachine.txt'), 'utf8').slice(0, 30_000);
    // a run long enough to be terminated in the middle of, that tells when its first epoch is saved
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      import(${JSON.stringify(lib)}).then(({ train }) => train(workerData, { hidden: 8, numSteps: 16, numTrain: 400, numVal: 50, batchSize: 20,
        epochs: 100000, out: ${JSON.stringify(out)}, onEpoch: () => parentPort.postMessage('epoch') }));`, { eval: true, workerData: text });
    await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject));
    const locks = () => readdirSync(sub).filter((f) => f.endsWith('.lock')).sort();
    expect(locks()).toEqual(['w.best.safetensors.lock', 'w.metrics.jsonl.lock', 'w.safetensors.lock']);
    expect(() => acquireLock(`${out}.lock`, 'out')).toThrow('out is in use by this process');
    await w.terminate();
    expect(locks()).toEqual([]);
    acquireLock(`${out}.lock`, 'out').release();
    // A lock taken over since (its file rewritten by another holder) is not removed: only the text the thread wrote goes.
    const taken = path.join(sub, 'taken.lock');
    const lock = pathToFileURL(path.join(ROOT, 'dist', 'io', 'lock.js')).href;
    const w2 = await holdInWorker(taken);
    expect(JSON.parse(readFileSync(taken, 'utf8')).pid).toBe(process.pid);
    writeFileSync(taken, '{"pid":2,"start":null}');
    await w2.terminate();
    expect(readFileSync(taken, 'utf8')).toBe('{"pid":2,"start":null}');
    rmSync(taken);
    // Nor one this process's main thread took after the Worker's was lost (its file removed): each taking has a token.
    const w3 = new Worker(`
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(lock)}).then(({ acquireLock }) => {
        const mine = acquireLock(${JSON.stringify(taken)}, 'taken');
        parentPort.postMessage('held');
        parentPort.once('message', () => {
          parentPort.postMessage(mine.held());
          mine.release();  // a late release: the main thread's lock stays
          parentPort.postMessage('released');
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
        });
      });`, { eval: true });
    const next = () => new Promise((resolve, reject) => w3.once('message', resolve).once('error', reject));
    await next();
    rmSync(taken);
    const main = acquireLock(taken, 'taken');
    w3.postMessage('go');
    expect(await next()).toBe(false);  // the Worker's lock is lost
    expect(await next()).toBe('released');
    expect(main.held()).toBe(true);
    await w3.terminate();
    expect(main.held()).toBe(true);
    main.release();
    expect(existsSync(taken)).toBe(false);
    // A lock path that is a FIFO by the time the Worker goes is left alone, and the Worker's end does not wait on it
    // (an open for reading would block until a writer came).
    const w4 = await holdInWorker(taken);
    rmSync(taken);
    if (spawnSync('mkfifo', [taken]).status === 0) {
      await w4.terminate();
      expect(lstatSync(taken).isFIFO()).toBe(true);
      rmSync(taken);
    } else {
      await w4.terminate();
    }
  }, 60_000);

  it('two Workers taking one lock by turns: each taking is whole (before, both wrote one PID-named file beside it, and a link met the other\'s half)', async () => {
    const { Worker } = await import('node:worker_threads');
    const sub = path.join(dir, 'turns');
    mkdirSync(sub);
    const file = path.join(sub, 'a.lock');
    const lock = pathToFileURL(path.join(ROOT, 'dist', 'io', 'lock.js')).href;
    const code = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(lock)}).then(({ acquireLock }) => {
        const counts = { taken: 0, refused: 0, other: [] };
        const end = Date.now() + 1000;
        while (Date.now() < end) {
          let l;
          try {
            l = acquireLock(${JSON.stringify(file)}, 'a');
          } catch (e) {
            if (/in use by this process/.test(e.message)) counts.refused++;
            else if (counts.other.length < 3) counts.other.push(e.message);
            continue;
          }
          counts.taken++;
          l.release();
        }
        parentPort.postMessage(counts);
      });`;
    const workers = [0, 1].map(() => new Worker(code, { eval: true }));
    const counts = await Promise.all(workers.map((w) => new Promise<{ taken: number; other: string[] }>((resolve, reject) => w.once('message', resolve).once('error', reject))));
    for (const c of counts) {
      expect(c.other).toEqual([]);
      expect(c.taken).toBeGreaterThan(0);
    }
    // (no temporary file of either is left; the lock itself may be, in the one race still open: a thread that
    // released and took it again while the other had it aside as stale)
    expect(readdirSync(sub).filter((f) => f !== 'a.lock')).toEqual([]);
  }, 60_000);

  it('removes the directories it created when nothing else was written there', () => {
    const lock = path.join(dir, 'new', 'deeper', 'm.lock');
    acquireLock(lock, '--out m').release();
    expect(() => lstatSync(path.join(dir, 'new'))).toThrow(/ENOENT/);
  });
});

describe('makeDirs', () => {
  const dir = tmpDir();

  it('makes the missing directories one level at a time and says which it made; names the one it cannot make', () => {
    expect(makeDirs(path.join(dir, 'a', 'b', 'c'))).toEqual([path.join(dir, 'a'), path.join(dir, 'a', 'b'), path.join(dir, 'a', 'b', 'c')]);
    expect(makeDirs(path.join(dir, 'a', 'b'))).toEqual([]);
    writeFileSync(path.join(dir, 'file'), 'x');
    expect(() => makeDirs(path.join(dir, 'file', 'd'))).toThrow(`cannot create the directory ${path.join(dir, 'file', 'd')}: ${path.join(dir, 'file')} is not a directory`);
    symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling'));
    expect(() => makeDirs(path.join(dir, 'dangling', 'd'))).toThrow(`cannot create the directory ${path.join(dir, 'dangling')}: ${path.join(dir, 'dangling')} is a symlink to nothing that exists`);
    symlinkSync(path.join(dir, 'loop'), path.join(dir, 'loop'));
    expect(() => makeDirs(path.join(dir, 'loop', 'd'))).toThrow(`cannot create the directory ${path.join(dir, 'loop')}: ${path.join(dir, 'loop')} is a symlink to nothing that exists`);
  });
});
