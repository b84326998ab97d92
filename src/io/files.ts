// Files the commands read and write. A file is known by its device and inode
// (so a symlink or a hard link to an input is that input); outputs are checked
// for writability before any work, written atomically through symlinks, and
// the temporary files of processes that died mid-write are cleaned up.
import {
  accessSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, renameSync,
  mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, writeSync,
} from 'node:fs';
import path from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { InputError } from '../errors.js';
import { native } from '../native.js';

/** A file a command reads or writes, and how the user named it (`--out`, `--corpus`, ...). */
export interface FileRole {
  label: string;
  path: string;
}

/**
 * Where `file` leads: symlinks followed (dangling ones too), `..` resolved
 * against real directories. A path that does not exist yet maps to the real
 * path of its nearest existing ancestor joined with the rest, so two names of
 * one future file compare equal.
 */
export function realTarget(file: string): string {
  let p = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    try {
      return realpathSync(p);
    } catch {
      // Missing, or a dangling link: follow the link by hand, else resolve the parent.
    }
    let link: string | null = null;
    try {
      if (lstatSync(p).isSymbolicLink()) link = readlinkSync(p);
    } catch {
      // not there at all
    }
    if (link === null) {
      const parent = path.dirname(p);
      return parent === p ? p : path.join(realTarget(parent), path.basename(p));
    }
    p = path.resolve(path.dirname(p), link);
  }
  return p;
}

function identity(file: string): { dev: number; ino: number } | null {
  try {
    const st = statSync(file);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

/** Whether two paths name the same file: the same device and inode, or (for files not there yet) the same real path. */
export function sameFile(a: string, b: string): boolean {
  const ia = identity(a);
  const ib = identity(b);
  if (ia && ib) return ia.dev === ib.dev && ia.ino === ib.ino;
  return realTarget(a) === realTarget(b);
}

/**
 * Refuses, before any work, a command whose outputs include one of its inputs
 * (by device and inode: through symlinks and hard links), or whose standard
 * output is a file it reads. `allow(read, write)` admits a pair on purpose
 * (a resumed checkpoint that the run updates).
 */
export function refuseOverwrite(reads: FileRole[], writes: FileRole[], allow: (r: FileRole, w: FileRole) => boolean = () => false): void {
  for (const w of writes) {
    for (const r of reads) {
      if (sameFile(w.path, r.path) && !allow(r, w)) {
        const how = path.resolve(w.path) === path.resolve(r.path) ? '' : ' (the same file)';
        throw new InputError(`${w.label} ${w.path} would overwrite ${r.label} ${r.path}${how}, which this command reads; choose another path`);
      }
    }
  }
  let out: { dev: number; ino: number } | null = null;
  try {
    const st = fstatSync(1);
    if (st.isFile()) out = { dev: st.dev, ino: st.ino };
  } catch {
    // no standard output
  }
  if (!out) return;
  for (const r of reads) {
    const id = identity(r.path);
    if (id && id.dev === out.dev && id.ino === out.ino) {
      throw new InputError(`the standard output is ${r.label} ${r.path}, which this command reads; redirect the output elsewhere`);
    }
  }
}

/** What is said of a file no one may write, which is not replaced (the caller adds where else to write). */
function readOnly(file: string, mode: number): string {
  return `${file} is read-only (mode ${(mode & 0o777).toString(8).padStart(3, '0')}): a file protected against writing is not replaced; `
    + 'make it writable (chmod u+w)';
}

/**
 * Refuses an output path that cannot be written, before any work: one that
 * ends with "/", exists and is not a regular file, lies under a file, or whose
 * directory (or nearest existing ancestor, where it will be created) is not
 * writable. `what` names it in the message ("checkpoint path", "--write-baseline").
 */
export function checkWritable(file: string, what: string): void {
  if (/[/\\]$/.test(file)) throw new InputError(`${what} ${file} ends with "/": expected a file name, not a directory`);
  const target = realTarget(file);
  let st: ReturnType<typeof statSync> | null = null;
  try {
    st = statSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') st = null;
  }
  if (st && !st.isFile()) throw new InputError(`${what} ${file} exists and is not a regular file`);
  // Writable by no one (chmod a-w): protected on purpose, and replacing it (a rename, which the
  // directory allows) would undo that.
  if (st && (st.mode & 0o222) === 0) throw new InputError(`${what} ${readOnly(file, st.mode)} or give another path`);
  let dir = path.dirname(target);
  for (;;) {
    let d: ReturnType<typeof statSync> | null = null;
    try {
      d = statSync(dir);
    } catch {
      // not there yet: it will be created inside its parent
    }
    if (d) {
      if (!d.isDirectory()) throw new InputError(`${what} ${file} cannot be written: ${dir} is not a directory`);
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EACCES';
    throw new InputError(`${what} ${file} cannot be written: the directory ${dir} is not writable (${code})`);
  }
  // access() says yes to root wherever the permission bits do, also where nothing can be made
  // (/proc, /sys): a directory of this process's own is made and removed again in the nearest
  // directory there, so that such a place is refused before the command's work, not after it.
  // (Its own: removing the one the output needs could pull it from under another run making it
  // at the same moment.)
  const making = path.dirname(target) !== dir;  // directories still to make, inside `dir`
  if (making) {
    // (a name longer than file systems take is found here too, as making it would have)
    const long = path.relative(dir, path.dirname(target)).split(path.sep).find((c) => Buffer.byteLength(c) > NAME_MAX);
    if (long !== undefined) {
      throw new InputError(`${what} ${file} cannot be written: the directory name ${long.slice(0, 40)}... is ${Buffer.byteLength(long)} bytes, `
        + `and file systems take names of at most ${NAME_MAX}`);
    }
  }
  let probe: string;
  try {
    probe = mkdtempSync(path.join(dir, '.deeprnn-probe-'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = making ? `cannot create the directory ${path.join(dir, path.relative(dir, target).split(path.sep)[0]!)}`
      : `nothing can be created in the directory ${dir}`;
    throw new InputError(`${what} ${file} cannot be written: ${why} (${err.code ?? err.message})`);
  }
  rmdirSync(probe);
}

/**
 * Creates the directory `dir` and the missing ones above it, one level at a
 * time (Node 20's recursive mkdir never returns for some paths, such as a
 * missing directory under /proc). Returns the directories it created, top
 * first. An error names the directory that could not be created.
 */
export function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    let st: ReturnType<typeof statSync> | null = null;
    try {
      st = statSync(d);
    } catch {
      // not there (or not reachable): created below, or its creation says why
    }
    if (st) {
      if (!st.isDirectory()) throw Object.assign(new Error(`cannot create the directory ${missing[0] ?? d}: ${d} is not a directory`), { code: 'ENOTDIR' });
      break;
    }
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EEXIST') {
        if (isDirectory(d)) continue;  // made meanwhile by another process
        // the stat above found nothing there: a symlink to a missing target, or a loop of them
        const why = isSymlink(d) ? 'is a symlink to nothing that exists' : 'exists and is not a directory';
        throw Object.assign(new Error(`cannot create the directory ${d}: ${d} ${why}`), { code: 'ENOTDIR' });
      }
      throw Object.assign(new Error(`cannot create the directory ${d} (${err.code ?? err.message})`), { code: err.code });
    }
  }
  return missing;
}

function isDirectory(d: string): boolean {
  try {
    return statSync(d).isDirectory();
  } catch {
    return false;
  }
}

/** The longest file name (one path component) most file systems take, in bytes. */
export const NAME_MAX = 255;

/** The temporary file a write of `target` goes through (in its directory, so the rename stays on one filesystem). */
function tmpName(target: string, pid = process.pid): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${pid}`);
}

/** Where an atomic write of `file` goes: its target (through a symlink), directory and temporary file. */
function atomicTarget(file: string): { target: string; dir: string; tmp: string; mode: number | null } {
  const target = isSymlink(file) ? realTarget(file) : path.resolve(file);
  let existing: ReturnType<typeof statSync> | null = null;
  try {
    existing = statSync(target);
  } catch {
    // a new file
  }
  // Never replace a device or a directory (a symlink to /dev/null stays one).
  if (existing && !existing.isFile()) throw new Error(`${file} is not a regular file`);
  const tmp = tmpName(target);
  const over = Buffer.byteLength(path.basename(tmp)) - NAME_MAX;
  if (over > 0) {
    // (the name itself may fit: the temporary file's, a few bytes longer, does not)
    const bytes = Buffer.byteLength(path.basename(target));
    throw new InputError(`cannot write ${file}: its name is ${bytes} bytes, and the temporary file written beside it first `
      + `(.NAME.tmp-PID) needs ${bytes + over}; file systems take names of at most ${NAME_MAX} bytes: use a name of at most ${bytes - over} bytes`);
  }
  makeDirs(path.dirname(target));
  // A file no one may write (chmod a-w while a run went on) is not replaced: the rename the
  // directory allows would undo the protection. A file replaced keeps its permissions (a
  // private 0600 checkpoint stays private), writable by its owner.
  if (existing && (existing.mode & 0o222) === 0) {
    // (an Error of the write, as EACCES is: a run that meets it stops as after any failed write, naming what is intact)
    throw Object.assign(new Error(`${readOnly(file, existing.mode)} or write elsewhere`), { code: 'EACCES' });
  }
  const mode = existing ? (existing.mode & 0o777) | 0o200 : null;
  return { target, dir: path.dirname(target), tmp, mode };
}

/** Gives an open file `mode`, where the file system can (some FUSE and CIFS mounts take no chmod: left then). */
function keepMode(fd: number, mode: number): void {
  try {
    fchmodSync(fd, mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EINVAL', 'EROFS'].includes(code)) throw e;
  }
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same directory
 * (created, with the missing ones above it, when it is not there), fsync,
 * rename, fsync of the directory. A symlink is written through: its
 * target is replaced, the link stays.
 */
export function writeFileAtomic(file: string, data: Buffer | string): void {
  const { target, dir, tmp, mode } = atomicTarget(file);
  try {
    // (created with the mode kept: where chmod is refused, a private file's replacement is not made readable)
    const fd = openSync(tmp, 'w', mode ?? 0o644);
    try {
      if (mode !== null) keepMode(fd, mode);
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, Math.min(buf.length - off, 1 << 30));  // (Node takes at most 2 GiB a call)
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    // The write's own error is the one to tell, not one of the clean-up's.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing was created
    }
    throw err;
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems cannot fsync a directory; the rename itself is done.
  }
}

/**
 * writeFileAtomic as one job on the thread pool (the addon's): the writing
 * and the waits for the disk happen while the caller goes on, and it learns
 * of the end in one turn of the event loop. `data` is copied before the call
 * returns (what it holds then is written); two writes of one file must not
 * overlap (WriteQueue).
 * Errors are Node's own, as writeFileAtomic's are (and makeDirs' for a
 * directory that cannot be created).
 */
export async function writeFileAtomicAsync(file: string, data: Buffer): Promise<void> {
  const { target, dir, tmp, mode } = atomicTarget(file);
  const nat = native();
  // The native write opens the temporary file without changing the mode of one that exists.
  if (mode !== null) {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      keepMode(fd, mode);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    } finally {
      closeSync(fd);
    }
  }
  try {
    await nat.writeFileAtomic(tmp, target, dir, data);
  } catch (e) {
    const { errno, syscall } = e as { errno?: unknown; syscall?: unknown };
    if (typeof errno !== 'number' || typeof syscall !== 'string') throw e;
    const [code, message] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, `system error ${errno}`];
    const where = syscall === 'rename' ? `'${tmp}' -> '${target}'` : `'${tmp}'`;
    throw Object.assign(new Error(`${code}: ${message}, ${syscall} ${where}`), { errno: -errno, code, syscall, path: tmp });
  }
}

/**
 * File work done in order, in the background: each task starts when the one
 * before it has ended. The first failure is kept; the tasks after it are not
 * run, and check() and drain() throw it.
 */
export class WriteQueue {
  private tail: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | null = null;
  /** Whether writes were queued since the last boundary(), and when the writes before that boundary end. */
  private wrote = false;
  private lastGroup: Promise<void> | null = null;

  /** Runs `task` after the tasks queued before it; `write`: it is one of the writes that boundary() groups. */
  add(task: () => Promise<void> | void, write = false): void {
    if (write) this.wrote = true;
    this.tail = this.tail.then(async () => {
      if (this.failure) return;
      try {
        await task();
      } catch (error) {
        this.failure = { error };
      }
    });
  }

  /** Throws the failure of a task that has ended, if one failed. */
  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Waits for every queued task; throws the first failure. */
  async drain(): Promise<void> {
    await this.tail;
    this.check();
  }

  /**
   * Ends a group of writes (one save's) when writes were queued since the last
   * call, and returns what to wait for so that at most two groups are pending:
   * the end of the group before it (it never rejects). A producer that awaits
   * it after each step holds two groups' data at most.
   */
  boundary(): Promise<void> | undefined {
    if (!this.wrote) return undefined;
    this.wrote = false;
    const before = this.lastGroup;
    this.lastGroup = this.tail;
    return before ?? undefined;
  }
}

/** Whether `file` is a symlink (dangling or not). */
export function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Whether a process with this id exists (one we may not signal counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie answers signals but holds nothing: a rank that mpirun killed
  // stays one where the process that inherits orphans does not reap them.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * Removes the temporary files that writes of `targets` (or of any file whose
 * name `owns` accepts, in the same directory) left behind in processes that no
 * longer exist (killed mid-write). Returns the paths removed.
 */
export function removeStaleTemps(targets: string[], owns: (name: string) => boolean = () => false): string[] {
  const removed: string[] = [];
  const byDir = new Map<string, Set<string>>();
  for (const t of targets) {
    const real = isSymlink(t) ? realTarget(t) : path.resolve(t);
    const set = byDir.get(path.dirname(real)) ?? new Set<string>();
    set.add(path.basename(real));
    byDir.set(path.dirname(real), set);
  }
  for (const [dir, names] of byDir) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      const m = /^\.(.+)\.tmp-(\d+)$/.exec(e);
      if (!m || !(names.has(m[1]!) || owns(m[1]!))) continue;
      const pid = Number(m[2]);
      if (pid === process.pid || processAlive(pid)) continue;
      rmSync(path.join(dir, e), { force: true });
      removed.push(path.join(dir, e));
    }
  }
  return removed;
}

/**
 * Why `file` cannot even be looked at, where existsSync says no for another
 * reason than its absence: a directory on its path this user may not enter
 * ("EACCES: permission denied, stat ..."); null when it is absent (or there).
 */
export function accessDenied(file: string): string | null {
  try {
    statSync(file);
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EACCES' ? (e as Error).message : null;
  }
}

/**
 * The first `n` bytes (fewer in a shorter file) of `file` when it is a regular
 * file that can be opened, else null (none there, a directory, a FIFO that
 * would block, no permission): what a check of a file's kind reads.
 */
export function fileHead(file: string, n: number): Buffer | null {
  let fd: number;
  try {
    // (a FIFO is not opened at all: opening it would complete a waiting writer's open, and closing it break its pipe)
    if (!statSync(file).isFile()) return null;
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const head = Buffer.alloc(n);
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}
