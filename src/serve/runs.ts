// What deeprnn serve shows of a directory: its checkpoints (*.safetensors) and
// its training runs (NAME.metrics.jsonl, one JSON line per epoch, appended by
// deeprnn train while it runs), found in the directory and its subdirectories
// (two levels). A metrics file is read from where the last read stopped, so a
// run that is going costs one small read per poll; a file that shrank or was
// replaced (a resumed run rewrites it) is read again from the start.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { resolveInside } from './paths.js';
import { terminalSafe } from '../validate.js';

/** One epoch of a run, as the page plots it. */
export interface RunPoint {
  epoch: number;
  trainPpl: number | null;
  valPpl: number | null;
}

export interface CheckpointEntry {
  /** Relative to the served directory, '/'-separated. */
  name: string;
  bytes: number;
  mtimeMs: number;
}

/** Subdirectory levels searched below the served directory. */
const DEPTH = 2;

/** An entry the lists leave out wherever it is: hidden, or node_modules. */
const skipped = (name: string) => name.startsWith('.') || name === 'node_modules';

/**
 * Whether a '/'-separated name relative to the served directory is one the
 * lists could hold (no hidden or node_modules part, at most DEPTH directories
 * down): the routes serve nothing else (before, /api/info and the export
 * answered for a hidden checkpoint, or one deeper, that no list showed).
 */
export const listedName = (rel: string): boolean => {
  const parts = rel.split('/');
  return parts.length <= DEPTH + 1 && !parts.some(skipped);
};

/** Whether a directory on the way to `rel` (not the served directory itself) is a symbolic link: the lists never go through one. */
export function throughLinkedDirectory(root: string, rel: string): boolean {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    try {
      if (lstatSync(path.join(root, ...parts.slice(0, i))).isSymbolicLink()) return true;
    } catch {
      return false;  // (gone: resolving it failed already, or will)
    }
  }
  return false;
}

/** Relative '/'-separated names of the files under `root` whose names `want` accepts (hidden entries and node_modules skipped). */
export function findFiles(root: string, want: (name: string) => boolean): string[] {
  const out: string[] = [];
  let realRoot: string | null = null;  // resolved once a listing meets a symlink
  const walk = (dir: string, rel: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (skipped(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (depth < DEPTH) walk(path.join(dir, e.name), r, depth + 1);
      } else if (e.isFile() && want(e.name)) {
        out.push(r);
      } else if (e.isSymbolicLink() && want(e.name) && leadsInside(root, r, (realRoot ??= realpathSync.native(root)))) {
        out.push(r);
      }
    }
  };
  walk(root, '', 0);
  return out.sort();
}

/** Whether the symlink `rel` leads to a regular file inside `root` (else it is left out, as the routes refuse it). */
function leadsInside(root: string, rel: string, realRoot: string): boolean {
  try {
    resolveInside(root, rel, realRoot);
    return true;
  } catch {
    return false;
  }
}

export function listCheckpoints(root: string): CheckpointEntry[] {
  const out: CheckpointEntry[] = [];
  for (const name of findFiles(root, (n) => n.endsWith('.safetensors'))) {
    try {
      const st = statSync(path.join(root, ...name.split('/')));
      if (st.isFile()) out.push({ name, bytes: st.size, mtimeMs: st.mtimeMs });
    } catch {
      // gone since the listing
    }
  }
  return out;
}

/** A run's name: its metrics file without ".metrics.jsonl". */
export const runName = (metricsFile: string) => metricsFile.slice(0, -'.metrics.jsonl'.length);

/** Parses one metrics line; null for a line that is not an epoch's. */
function parsePoint(line: string): RunPoint | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  // (epochs from 1, and a perplexity is at least 1, the rules by which deeprnn plot refuses a file; the
  // server, reading files as they grow, keeps the rest: a smaller one is a gap. Before, a 0 was plotted on
  // the log scale as Infinity, and named the best)
  if (!o || typeof o !== 'object' || !Number.isSafeInteger(o.epoch) || (o.epoch as number) < 1) return null;
  const ppl = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 1 ? v : null);
  // Keys are camelCase (trainPpl) in files written since deeprnn's records took one key style, snake_case (train_ppl) before.
  return { epoch: o.epoch as number, trainPpl: ppl(o.trainPpl ?? o.train_ppl), valPpl: ppl(o.valPpl ?? o.val_ppl) };
}

/** The most of a metrics file read at once, and the longest line kept while it is incomplete. */
const MAX_READ = 16 << 20;
const MAX_LINE = 1 << 20;

/** Bytes kept of the start and of the end of what was read, to tell a file rewritten in place from one appended to. */
const KEPT = 256;

/** Reads a metrics file as it grows: new complete lines since the last read. */
export class MetricsTail {
  private offset = 0;
  private ino = -1;
  private partial = '';
  private decoder = new StringDecoder('utf8');
  /** The first and the last (up to KEPT) bytes read so far. */
  private first = Buffer.alloc(0);
  private last = Buffer.alloc(0);
  /** Why the last read could not open the file (ENOENT: it is gone), or null. */
  lastError: string | null = null;

  constructor(readonly file: string) {}

  /** Whether the file still holds, where this tail read them, the first and last bytes it read. */
  private unchanged(fd: number): boolean {
    const same = (kept: Buffer, at: number) => {
      const now = Buffer.alloc(kept.length);
      let got = 0;
      while (got < now.length) {
        const n = readSync(fd, now, got, now.length - got, at + got);
        if (n === 0) break;
        got += n;
      }
      return got === kept.length && now.equals(kept);
    };
    return same(this.first, 0) && same(this.last, this.offset - this.last.length);
  }

  private keep(bytes: Buffer): void {
    if (this.first.length < KEPT) this.first = Buffer.concat([this.first, bytes.subarray(0, KEPT - this.first.length)]);
    const both = Buffer.concat([this.last, bytes.subarray(Math.max(0, bytes.length - KEPT))]);
    this.last = Buffer.from(both.subarray(Math.max(0, both.length - KEPT)));
  }

  /**
   * The epochs written since the last call; `reset` when the file was
   * replaced or shrank (the points are then the whole file). Null when the
   * file cannot be read.
   */
  read(): { reset: boolean; points: RunPoint[] } | null {
    let fd: number;
    try {
      // Without blocking: a FIFO put in a metrics file's place would hold the server's one thread.
      fd = openSync(this.file, constants.O_RDONLY | constants.O_NONBLOCK);
      this.lastError = null;
    } catch (e) {
      this.lastError = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      return null;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return null;
      let reset = false;
      // Replaced (another inode), cut, or rewritten in place (cp over it: the same inode, as large or
      // larger, other bytes where this tail read; before, taken as an append, its curve a mix of both)
      if (st.ino !== this.ino || st.size < this.offset || (this.offset > 0 && !this.unchanged(fd))) {
        reset = this.ino !== -1;
        this.ino = st.ino;
        this.offset = 0;
        this.partial = '';
        this.decoder = new StringDecoder('utf8');
        this.first = Buffer.alloc(0);
        this.last = Buffer.alloc(0);
      }
      if (st.size === this.offset) return { reset, points: [] };
      // A piece at a time: a file of gigabytes (no run writes one) is read over several
      // polls, never in one buffer (one of over 4 GiB was an error that ended the server).
      const buf = Buffer.alloc(Math.min(st.size - this.offset, MAX_READ));
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      this.offset += got;
      this.keep(buf.subarray(0, got));
      // (a character cut by the end of a piece is completed by the next)
      const text = this.partial + this.decoder.write(buf.subarray(0, got));
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      // A line longer than any epoch's is not one: dropped, with what follows up to its end.
      if (this.partial.length > MAX_LINE) this.partial = this.partial.slice(-1);
      const points = lines.map(parsePoint).filter((p): p is RunPoint => p !== null);
      return { reset, points };
    } finally {
      closeSync(fd);
    }
  }
}

/** A run's epochs so far: a later line for the same epoch (after a resume) replaces the earlier. */
export function mergePoints(into: RunPoint[], points: RunPoint[]): RunPoint[] {
  const byEpoch = new Map(into.map((p) => [p.epoch, p]));
  for (const p of points) byEpoch.set(p.epoch, p);
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

export interface RunUpdate {
  name: string;
  /** The run's points replace what the page has (first sight, or the file was rewritten). */
  reset: boolean;
  points: RunPoint[];
  /** The metrics file is gone. */
  removed?: boolean;
}

/**
 * Every run under a directory and the epochs each has so far; poll() reports
 * what changed since the last poll (new runs whole, growing runs by their new
 * epochs).
 */
export class RunsWatcher {
  private readonly tails = new Map<string, MetricsTail>();
  private readonly runs = new Map<string, RunPoint[]>();

  constructor(readonly root: string) {}

  poll(): RunUpdate[] {
    const updates: RunUpdate[] = [];
    const found = new Set(findFiles(this.root, (n) => n.endsWith('.metrics.jsonl')));
    for (const file of found) {
      const name = runName(file);
      let tail = this.tails.get(name);
      const fresh = !tail;
      if (!tail) {
        tail = new MetricsTail(path.join(this.root, ...file.split('/')));
        this.tails.set(name, tail);
      }
      const r = tail.read();
      this.sayFailure(file, tail.lastError);
      if (!r) continue;
      if (fresh || r.reset) {
        const points = mergePoints([], r.points);
        this.runs.set(name, points);
        updates.push({ name, reset: true, points });
      } else if (r.points.length) {
        this.runs.set(name, mergePoints(this.runs.get(name) ?? [], r.points));
        updates.push({ name, reset: false, points: r.points });
      }
    }
    for (const name of [...this.tails.keys()]) {
      if (!found.has(`${name}.metrics.jsonl`)) {
        this.tails.delete(name);
        this.runs.delete(name);
        updates.push({ name, reset: true, points: [], removed: true });
      }
    }
    return updates;
  }

  /** The failure last said of each metrics file that could not be opened. */
  private readonly failures = new Map<string, string>();

  /**
   * One warning on stderr when a metrics file cannot be opened (unreadable:
   * before, its run was left out without a word), again only when the reason
   * changes; nothing for a file gone since the listing.
   */
  private sayFailure(file: string, error: string | null): void {
    if (error === null || error === 'ENOENT' || error === 'ENOTDIR') {
      this.failures.delete(file);
      return;
    }
    if (this.failures.get(file) === error) return;
    this.failures.set(file, error);
    process.stderr.write(`deeprnn: warning: serve: ${terminalSafe(`cannot read ${file} (${error}); its run is left out until it can be read`)}\n`);
  }

  /** Every run and its points as of the last poll. */
  snapshot(): RunUpdate[] {
    return [...this.runs].map(([name, points]) => ({ name, reset: true, points }));
  }
}
