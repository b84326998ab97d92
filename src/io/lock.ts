// An exclusive lock on an output: a file beside it naming the process that
// holds it. A second process finds it and refuses; a lock whose process is
// gone (killed, crashed) is stale and taken over, so a kill never leaves an
// output locked.
import { randomUUID } from 'node:crypto';
import { linkSync, lstatSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { InputError } from '../errors.js';
import { makeDirs, processAlive } from './files.js';
import { native } from '../native.js';

/**
 * Tells the addon which locks this thread holds, so that a Worker terminated
 * while it holds some (no JavaScript of its runs then, no release) has them
 * removed as its environment goes (before, the process could not take them
 * again: their pid, the process's, lives on). `text` is the lock's, unique to
 * the taking (its token), so that neither the removal nor a late release
 * touches a lock another thread of the process took since. (A run loads the
 * addon anyway, its trainer's kernels, scratch model or not.) Without the
 * addon, nothing.
 */
function tellAddon(held: boolean, file: string, text: string): void {
  try {
    if (held) native().lockHeld(file, text);
    else native().lockDropped(file, text);
  } catch {
    // (no addon here: a lock works as before)
  }
}

interface Holder {
  pid: number;
  /** The process's start time in clock ticks since boot (Linux), so that a reused pid is not taken for the holder. */
  start: string | null;
  /** Unique to each taking: which of the process's threads (or of one thread's runs) holds it. Older locks have none. */
  token?: string;
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name in parentheses (which may hold spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** The lstat of `file`, or null when nothing is there (or it cannot be looked at). */
function lstatOrNull(file: string): Stats | null {
  try {
    return lstatSync(file);
  } catch {
    return null;
  }
}

/** What is at `file` when it is no plain file ("a FIFO", "a directory", ...), else null (a file, or nothing). */
function notAFile(file: string): string | null {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch {
    return null;
  }
  if (st.isFile()) return null;
  return st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : st.isFIFO() ? 'a FIFO'
    : st.isSocket() ? 'a socket' : 'a device';
}

function readHolder(file: string): Holder | null {
  // (a lock is a plain file this package wrote: a FIFO would block the read for ever, a device never end it)
  if (notAFile(file)) return null;
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    // (pid 0 and -1 are no process: kill(0 or -1, 0) asks about a group, and succeeds)
    return Number.isSafeInteger(h.pid) && h.pid! >= 1 ? { pid: h.pid!, start: typeof h.start === 'string' ? h.start : null } : null;
  } catch {
    return null;
  }
}

function alive(h: Holder): boolean {
  if (!processAlive(h.pid)) return false;
  const now = startTime(h.pid);
  return h.start === null || now === null || now === h.start;
}

export class FileLock {
  private released = false;
  /** The lock's absolute path, as the addon is told it (the working directory may change while it is held). */
  readonly absolute: string;

  constructor(
    readonly file: string,
    /** Directories created to hold the lock, outermost first: removed again if left empty. */
    private readonly createdDirs: string[],
    /** What the lock file was written as (null: a file of this process's to remove, not a lock it took). */
    private readonly text: string | null = null,
  ) {
    this.absolute = path.resolve(file);
  }

  /**
   * Whether the lock file is still there and this taking's (a directory
   * removed while a run went on takes it along; another run may have taken
   * it since). A read that fails otherwise than for a missing file (EIO,
   * ESTALE) cannot tell: the lock counts as held.
   */
  held(): boolean {
    if (this.released) return false;
    if (notAFile(this.file)) return false;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code !== 'ENOENT' && code !== 'ENOTDIR';
    }
    // (this taking's text: another thread of this process may have taken the path since it was lost)
    return this.text === null ? false : text === this.text;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.text !== null) {
      tellAddon(false, this.absolute, this.text);
      // Not another's: a lock taken over after this one was lost (its directory removed) is that run's,
      // in another process or in another thread of this one.
      let text: string | null = null;
      try {
        if (!notAFile(this.file)) text = readFileSync(this.file, 'utf8');
      } catch {
        // gone, or unreadable: left as it is
      }
      if (text === this.text) rmSync(this.file, { force: true });
    } else {
      const holder = readHolder(this.file);
      if (holder === null || holder.pid === process.pid) rmSync(this.file, { force: true });
    }
    for (const d of [...this.createdDirs].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        break; // not empty: something was written there
      }
    }
  }
}

/** The files FILE.PID and FILE.stale-PID that a process killed while taking the lock left. */
function removeDeadTemps(file: string): void {
  const base = path.basename(file);
  for (const name of readdirSync(path.dirname(file))) {
    if (!name.startsWith(`${base}.`)) continue;
    const m = /^(?:stale-)?(\d+)(?:-\d+)?$/.exec(name.slice(base.length + 1));
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) rmSync(path.join(path.dirname(file), name), { force: true });
  }
}


/**
 * Takes the lock file `file` for this process, creating its directory when
 * needed; `what` names the locked output in the refusal ("--out m.safetensors").
 */
/**
 * Throws what acquireLock would when a live process holds the lock `file`
 * (for `what`): a check ahead of taking it (deeprnn compare checks every
 * cell's outputs before its first cell trains). A lock free now may be taken
 * before acquireLock comes; acquireLock decides.
 */
export function refuseHeldLock(file: string, what: string): void {
  const holder = readHolder(file);
  if (holder && alive(holder)) {
    const who = holder.pid === process.pid ? 'this process' : `another deeprnn process (pid ${holder.pid})`;
    // A lock without its holder's start time (an older deeprnn's, or where /proc has none) cannot tell
    // whether the pid is still the process that took it, or one that got the number since.
    const unsure = holder.start === null && holder.pid !== process.pid
      ? `; the lock file does not record when its process started, so if pid ${holder.pid} is no deeprnn process, remove ${file}` : '';
    throw new InputError(`${what} is in use by ${who}: wait for it to finish or choose another path (lock file ${file})${unsure}`);
  }
}

export function acquireLock(file: string, what: string): FileLock {
  // A path that cannot hold the lock is the user's to change (exit 2); anything else (a full disk) is not.
  const pathCodes = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EEXIST', 'ENAMETOOLONG', 'ELOOP']);
  let created: string[];
  try {
    created = makeDirs(path.dirname(file));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const message = `${what} cannot be written: ${err.message}`;
    throw pathCodes.has(err.code ?? '') ? new InputError(message) : new Error(message);
  }
  // This thread's names beside the lock: PID on the main thread, PID-THREAD in a Worker (before, every
  // thread's was PID, and one thread's write of it could replace another's lock text as it was linked).
  const own = threadId === 0 ? `${process.pid}` : `${process.pid}-${threadId}`;
  const mine = `${file}.${own}`;
  // From here every failure removes what this thread made: its files and the directories it created.
  const cleanUp = () => new FileLock(mine, created).release();
  const me: Holder = { pid: process.pid, start: startTime(process.pid), token: randomUUID() };
  const text = JSON.stringify(me);
  try {
    removeDeadTemps(file);
    writeFileSync(mine, text);
  } catch (e) {
    cleanUp();
    const message = `could not take the lock ${file} for ${what}: writing ${mine} failed (${(e as Error).message})`;
    // A directory that refuses the file (sysfs, a read-only mount) is the path's fault: exit 2.
    throw pathCodes.has((e as NodeJS.ErrnoException).code ?? '') ? new InputError(message) : new Error(message);
  }
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        linkSync(mine, file); // atomic: fails when the lock exists
        const lock = new FileLock(file, created, text);
        tellAddon(true, lock.absolute, text);
        return lock;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      // Something that is no lock file stays as it is, the user's (before, a FIFO hung the run, a directory was moved aside).
      const kind = notAFile(file);
      if (kind) throw new InputError(`${what} cannot be locked: ${file} is ${kind}, not a lock file deeprnn wrote; remove it or choose another path`);
      refuseHeldLock(file, what);
      // Gone since the link failed (its holder released it): try again, moving nothing (before, a lock
      // that its holder, a thread of this process, took again meanwhile was moved aside and back).
      if (!lstatOrNull(file)) continue;
      // Stale (its process is gone) or unreadable: move it out of the way, atomically, and try again.
      const aside = `${file}.stale-${own}`;
      try {
        renameSync(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        continue; // someone else moved it first
      }
      const moved = readHolder(aside);
      if (moved && alive(moved)) {
        // A live process took the lock between our read and the rename: give it back.
        try {
          linkSync(aside, file);
        } catch {
          // it has been retaken meanwhile
        }
      }
      rmSync(aside, { force: true });
    }
    throw new InputError(`${what}: could not take the lock file ${file}; another process keeps changing it`);
  } catch (e) {
    cleanUp();
    if (e instanceof InputError) throw e;
    throw new Error(`could not take the lock ${file} for ${what} (${(e as Error).message})`);
  } finally {
    rmSync(mine, { force: true });
  }
}
