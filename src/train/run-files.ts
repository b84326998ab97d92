// The files a training run reads (its corpus, the checkpoint it resumes) and
// writes beside its checkpoint NAME.EXT: NAME.best.EXT, numbered snapshots
// NAME.eEPOCH[-bBATCH].EXT, NAME.metrics.jsonl, NAME.svg and the lock
// NAME.EXT.lock (and NAME.best.EXT.lock, NAME.metrics.jsonl.lock). A fresh run over an --out that an
// earlier run used keeps that run's metrics, best checkpoint, plot and
// snapshots aside as *.bak, so that nothing of two runs mixes.
import { existsSync, linkSync, lstatSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { corpusRegistry, isCorpusFileName } from '../data/corpus.js';
import { InputError } from '../errors.js';
import { NAME_MAX, realTarget, removeStaleTemps, sameFile, type FileRole } from '../io/files.js';
import { MAX_EPOCHS } from './settings.js';
import type { TrainState } from './trainer.js';

/** The files a --corpus list reads (a registry corpus: the shipped copy, else its place in the data directory, present or not). */
export function corpusFiles(specs: readonly string[], dataDir: string): string[] {
  const out: string[] = [];
  for (const spec of specs) {
    const entry = corpusRegistry().get(spec);
    if (entry) {
      out.push(entry.shippedPath && existsSync(entry.shippedPath) ? entry.shippedPath : path.join(dataDir, entry.file));
      continue;
    }
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(spec);
    } catch {
      continue; // reading it will fail with its own message
    }
    if (!st.isDirectory()) {
      out.push(spec);
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(spec);
    } catch {
      continue; // reading it will fail with its own message
    }
    for (const f of names.filter(isCorpusFileName).sort()) out.push(path.join(spec, f));
  }
  return out;
}

/** A regular file (not a link to one) of no bytes. */
function isEmptyFile(f: string): boolean {
  try {
    const st = lstatSync(f);
    return st.isFile() && st.size === 0;
  } catch {
    return false;
  }
}

/** The most failed runs' best checkpoints kept beside one --out. */
const MAX_FAILED_BESTS = 99;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class RunFiles {
  readonly best: string;
  readonly metrics: string;
  readonly plot: string;
  /** The lock sits beside what --out leads to, so that two names of one file share it. */
  readonly lock: string;
  /** The best checkpoint's, taken too: a run whose --out is another's best is refused. */
  readonly bestLock: string;
  /**
   * The metrics file's, taken too: --out NAME.ckpt and NAME.bin share NAME.metrics.jsonl
   * and NAME.svg, so a run on one while a run on the other goes on is refused.
   */
  readonly metricsLock: string;
  private readonly stem: string;
  private readonly ext: string;
  private readonly snapshotPattern: RegExp;

  constructor(readonly out: string) {
    this.ext = path.extname(out) || '.safetensors';
    this.stem = out.slice(0, out.length - path.extname(out).length);
    this.best = `${this.stem}.best${this.ext}`;
    this.metrics = `${this.stem}.metrics.jsonl`;
    this.plot = `${this.stem}.svg`;
    this.lock = `${realTarget(out)}.lock`;
    this.bestLock = `${realTarget(this.best)}.lock`;
    this.metricsLock = `${realTarget(this.metrics)}.lock`;
    this.snapshotPattern = new RegExp(`^${escape(path.basename(this.stem))}\\.e(\\d{4,})(?:-b(\\d+))?${escape(this.ext)}$`);
    this.checkNameLengths();
  }

  /**
   * Refuses, before any work, an --out whose name leaves no room for the
   * names of the files the run writes beside it (temporary files, locks,
   * backups, snapshots), which would fail mid-run with a bare ENAMETOOLONG.
   */
  private checkNameLengths(): void {
    const pid = '4194304'; // the longest process id (Linux's largest pid_max)
    const snapshot = path.basename(this.snapshot({ epoch: MAX_EPOCHS, batch: 999_999_999 }));
    const names = [this.out, this.best, this.failedBestName(MAX_FAILED_BESTS), this.metrics, this.plot, snapshot].map((f) => path.basename(f))
      .flatMap((n) => [`.${n}.tmp-${pid}`, `${n}.bak`]);
    // (a Worker's: PID-THREAD, the thread's number of up to six digits)
    for (const lock of [this.lock, this.bestLock, this.metricsLock]) names.push(`${path.basename(lock)}.${pid}-999999`, `${path.basename(lock)}.stale-${pid}-999999`);
    let longest = names[0]!;
    for (const n of names) if (Buffer.byteLength(n) > Buffer.byteLength(longest)) longest = n;
    const over = Buffer.byteLength(longest) - NAME_MAX;
    if (over > 0) {
      const name = path.basename(this.out);
      throw new InputError(`--out ${this.out}: its name is ${Buffer.byteLength(name)} bytes, and the files a run writes beside it have longer ones `
        + `(${longest.replace(pid, 'PID')}); file systems take names of at most ${NAME_MAX} bytes: use a name of at most ${Buffer.byteLength(name) - over} bytes`);
    }
  }

  /**
   * The i-th name where a fresh run that failed before its first checkpoint at
   * --out may keep its best (1: NAME.best.failed.EXT, then NAME.best.failed-2.EXT, ...).
   */
  failedBestName(i: number): string {
    return `${this.stem}.best.failed${i === 1 ? '' : `-${i}`}${this.ext}`;
  }

  /**
   * Moves a failed run's best checkpoint to the first failed-best name not
   * taken (a hard link that fails rather than replace a file, then the old
   * name removed): an earlier failed run's best, or a run resumed from one,
   * is never overwritten. Returns the name, or throws why it could not.
   */
  keepFailedBest(): string {
    for (let i = 1; i <= MAX_FAILED_BESTS; i++) {
      const name = this.failedBestName(i);
      try {
        linkSync(this.best, name);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      rmSync(this.best, { force: true });
      return name;
    }
    throw new Error(`${this.failedBestName(1)} to ${path.basename(this.failedBestName(MAX_FAILED_BESTS))} are all taken`);
  }

  /** A numbered snapshot's name: NAME.e0003.EXT after epoch 3, NAME.e0003-b5.EXT five batches into epoch 4. */
  snapshot(s: Pick<TrainState, 'epoch' | 'batch'>): string {
    return `${this.stem}.e${String(s.epoch).padStart(4, '0')}${s.batch ? `-b${s.batch}` : ''}${this.ext}`;
  }

  /** The position a snapshot's file name stands for, or null when it is not one of this --out's snapshots. */
  snapshotPosition(file: string): { epoch: number; batch: number } | null {
    if (path.resolve(path.dirname(file)) !== path.resolve(path.dirname(this.out))) return null;
    const m = this.snapshotPattern.exec(path.basename(file));
    return m ? { epoch: Number(m[1]), batch: Number(m[2] ?? 0) } : null;
  }

  /**
   * The snapshots on disk, oldest position first: plain files only (a
   * directory or link of a snapshot's name is the user's; before, --keep
   * failed removing it, after the checkpoint was saved and before the metrics).
   */
  snapshots(): string[] {
    const dir = path.dirname(this.out);
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
    } catch {
      return [];
    }
    const found = names.map((n) => path.join(dir, n)).map((f) => ({ f, p: this.snapshotPosition(f) }))
      .filter((x): x is { f: string; p: { epoch: number; batch: number } } => x.p !== null);
    found.sort((a, b) => a.p.epoch - b.p.epoch || a.p.batch - b.p.batch);
    return found.map((x) => x.f);
  }

  /** What the run writes, for the check against what it reads (snapshots are matched by name instead). */
  writes(): FileRole[] {
    const roles: FileRole[] = [
      { label: '--out', path: this.out },
      { label: 'the best checkpoint', path: this.best },
      { label: 'the metrics file', path: this.metrics },
      { label: 'the plot', path: this.plot },
      { label: 'the lock file', path: this.lock },
      { label: 'the metrics file\'s lock', path: this.metricsLock },
    ];
    return [...roles, ...roles.slice(1, 4).map((r) => ({ label: `${r.label}'s backup`, path: `${r.path}.bak` }))];
  }

  /**
   * Moves an earlier run's metrics, best checkpoint, plot and snapshots aside
   * (NAME.* to NAME.*.bak, replacing older backups), except `keep` (the
   * checkpoint being resumed). Returns the files moved.
   */
  setAside(keep?: string): string[] {
    const moved: string[] = [];
    for (const f of [this.metrics, this.best, this.plot, ...this.snapshots()]) {
      if (!existsSync(f) || (keep && sameFile(f, keep))) continue;
      // An empty file (the metrics a run killed before its first epoch began) holds nothing to keep,
      // and kept aside it would take the place of the backup of the run before it.
      if (isEmptyFile(f)) {
        rmSync(f, { force: true });
        continue;
      }
      try {
        if (existsSync(`${f}.bak`) && !statSync(`${f}.bak`).isFile()) throw new Error(`${f}.bak exists and is not a regular file`);
        renameSync(f, `${f}.bak`);
      } catch (e) {
        throw new InputError(`cannot keep ${f}, an earlier run's file, aside as ${f}.bak (${(e as Error).message}); move it away or choose another --out`);
      }
      moved.push(f);
    }
    return moved;
  }

  /** Removes the temporary files of this run's outputs that killed processes left. */
  removeStaleTemps(): string[] {
    return removeStaleTemps([this.out, this.best, this.metrics, this.plot], (name) => this.snapshotPattern.test(name));
  }
}
