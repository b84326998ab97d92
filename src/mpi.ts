// Data-parallel runs over MPI. A process started by an MPI launcher (mpirun,
// mpiexec, srun) with more than one process is one rank of a job: it opens the
// MPI library (native/binding/mpi.cc) the first time a run asks for the world,
// and every sum across ranks goes through World.sum, which adds in rank order
// so that a run is the same bits every time for a given number of ranks. A
// process started any other way never touches MPI: nothing of it need be
// installed.
import { InputError } from './errors.js';
import { native } from './native.js';

/** The launcher a process was started by, read from the environment it sets. */
export interface Launcher {
  /** The variable that told (e.g. OMPI_COMM_WORLD_SIZE). */
  variable: string;
  rank: number;
  /** Processes in the job, when the launcher says (PMIx alone does not). */
  size: number | null;
}

const int = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);

/**
 * The launcher that started this process, or null: Open MPI's mpirun
 * (OMPI_COMM_WORLD_*), Hydra's mpiexec and Slurm's PMI-2 (PMI_*), PMIx
 * (PMIX_RANK), Slurm's srun (SLURM_STEP_NUM_TASKS and SLURM_PROCID, set in a
 * job step, not in a batch script).
 */
export function detectLauncher(env: NodeJS.ProcessEnv = process.env): Launcher | null {
  const pairs: [string, string][] = [
    ['OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_RANK'],
    ['PMI_SIZE', 'PMI_RANK'],
    ['SLURM_STEP_NUM_TASKS', 'SLURM_PROCID'],
  ];
  for (const [size, rank] of pairs) {
    const n = int(env[size]);
    const r = int(env[rank]);
    if (n !== null && r !== null) return { variable: size, rank: r, size: n };
  }
  const r = int(env.PMIX_RANK);
  if (r !== null) return { variable: 'PMIX_RANK', rank: r, size: null };
  return null;
}

/** This process's rank as its launcher says (0 when not launched as part of a job). */
export function launcherRank(env: NodeJS.ProcessEnv = process.env): number {
  return detectLauncher(env)?.rank ?? 0;
}

/**
 * Whose output the launcher carries: a job of several ranks, or one started by
 * Open MPI's mpirun (which gives a rank a pseudo-terminal wherever its own output
 * goes, -np 1 too). Not a Slurm step of one task: `srun --pty bash` is a terminal.
 */
export const underLauncher = (env: NodeJS.ProcessEnv = process.env) => inJob(env) || env.OMPI_COMM_WORLD_SIZE !== undefined;

/** A job of several processes: this process is one rank of it. */
export const inJob = (env: NodeJS.ProcessEnv = process.env) => {
  const l = detectLauncher(env);
  return l !== null && l.size !== 1;
};

/** The ranks of a job, as a run sees them. */
export interface World {
  rank: number;
  size: number;
  /** x becomes its sum over the ranks, the same bits on every rank (each element added in rank order). */
  sum(x: Float32Array | Float64Array): void;
  /**
   * grads becomes the sum of the chunk gradients every rank's last training
   * forward kept (kept: false on a rank that had no windows), added in rank
   * and chunk order: a single process's gradient, bit for bit, where the
   * ranks hold whole chunks of its batch.
   */
  sumChunks(grads: Float32Array, kept: boolean): void;
  /** Returns when every rank has called it. */
  barrier(): void;
}

let world: World | null | undefined;

/** FNV-1a over a string's UTF-16 units, or over an array's 32-bit words: 32 bits. */
function fingerprint(x: string | Float32Array): number {
  let h = 0x811c9dc5;
  if (typeof x === 'string') {
    for (let i = 0; i < x.length; i++) h = Math.imul(h ^ x.charCodeAt(i), 16777619);
  } else {
    const w = new Uint32Array(x.buffer, x.byteOffset, x.length);
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w[i]!, 16777619);
  }
  return h >>> 0;
}

/**
 * The names of `parts` that are not the same on every rank (every rank calls
 * it with the same names, in the same order; one sum of fixed size, so ranks
 * that differ learn it together instead of meeting in sums of other sizes).
 * Each part's fingerprint goes in as two 16-bit halves h with h^2 beside
 * them: all ranks agree on h exactly when size * sum(h^2) = sum(h)^2, every
 * figure a whole number well within a double's 53 bits.
 */
export function ranksDiffer(w: World, parts: [string, string | Float32Array][]): string[] {
  const sums = new Float64Array(4 * parts.length);
  parts.forEach(([, x], i) => {
    const h = fingerprint(x);
    const lo = h & 0xffff, hi = h >>> 16;
    sums.set([lo, lo * lo, hi, hi * hi], 4 * i);
  });
  w.sum(sums);
  return parts.filter((_, i) => [0, 2].some((k) => w.size * sums[4 * i + k + 1]! !== sums[4 * i + k]! ** 2)).map(([name]) => name);
}

/**
 * What decides a rank's rounding beyond its settings: its kernel table and,
 * for bf16 products, whether they run on AMX tiles (which sum in another
 * order) or as pairs (vdpbf16ps and the float32 fallback give the same bits).
 */
export function kernelRounding(precision: 'fp32' | 'bf16'): { key: string; text: string } {
  const nat = native();
  const info = nat.info();
  if (precision !== 'bf16') return { key: info.simd, text: info.simd };
  // the path the products will run on (info() only says what the default would choose: a rank refused AMX runs on pairs)
  const path = nat.bf16Path();
  const key = `${info.simd}, bf16 products on ${/amx/.test(path) ? 'AMX tiles' : 'pairs'}`;
  return { key, text: `${key} (${path})` };
}

/** Rank 0's warning when the ranks' kernels round differently (`sound`: "the run is sound, but its weights will not be", ...). */
export function differentKernels(precision: 'fp32' | 'bf16', sound: string): string {
  return `the ranks of this job run different kernel tables (this one ${kernelRounding(precision).text}): ${sound} bitwise those of one process; `
    + 'DEEPRNN_SIMD (and for bf16 DEEPRNN_BF16) set to one table on every rank (avx2 runs on any x86-64 CPU that has it) makes them so';
}

/**
 * The job this process is a rank of (MPI initialised on the first call, on
 * the calling thread, which then makes every MPI call), or null when it was
 * not started by a launcher with more than one process. A launcher without MPI
 * support in the addon, or an MPI library that does not open, is an error
 * that says what to do.
 */
export function mpiWorld(env: NodeJS.ProcessEnv = process.env): World | null {
  if (world !== undefined) return world;
  const launcher = detectLauncher(env);
  if (!launcher || launcher.size === 1) {
    world = null;
    return world;
  }
  const nat = native();
  const started = `deeprnn was started by an MPI launcher (${launcher.variable}=${env[launcher.variable]})`;
  if (!nat.mpiInfo().built) {
    throw new InputError(`${started} but this build has no MPI support: install an MPI (Debian: apt-get install libopenmpi-dev) `
      + 'and rebuild the addon (npm run build:native), or run deeprnn without mpirun/srun');
  }
  const library = env.DEEPRNN_MPI_LIBRARY ?? '';
  let info;
  try {
    info = nat.mpiInit(library);
  } catch (e) {
    const named = library ? ` (DEEPRNN_MPI_LIBRARY=${library})` : '';
    throw new InputError(`${started} but MPI could not start${named}: ${(e as Error).message.replace(/^mpiInit: /, '')}`);
  }
  if (launcher.size !== null && (info.size !== launcher.size || info.rank !== launcher.rank)) {
    throw new InputError(`${started}: the launcher says rank ${launcher.rank} of ${launcher.size} but MPI says rank ${info.rank} of ${info.size}; `
      + `is ${info.library} the MPI of the launcher?`);
  }
  world = {
    rank: info.rank,
    size: info.size,
    sum: (x) => nat.mpiSum(x),
    sumChunks: (g, kept) => nat.mpiChainSum(g, kept),
    barrier: () => nat.mpiBarrier(),
  };
  return world;
}

/** Ends MPI in this process (after the last sum); nothing when it was never started. */
export function finalizeMpi(): void {
  if (world) native().mpiFinalize();
}

/** What `deeprnn --version` says of MPI. */
export function mpiSummary(): string {
  const m = native().mpiInfo();
  if (!m.built) return 'no mpi';
  if (m.library) return `mpi ${m.header}, loaded ${m.library}`;
  // (under a launcher, only train and eval join the job: --version does not)
  return `mpi ${m.header}, not loaded (${inJob() ? 'only train and eval load it' : 'no launcher'})`;
}

/**
 * The windows [first, first + count) of a batch of N windows in chunks of
 * `rows` that rank `rank` of `size` computes. With at least as many chunks as
 * ranks, each rank takes whole chunks (ranks r*C/P to (r+1)*C/P - 1, rounded
 * down), so the chunks are those of a single process; else the windows are
 * shared out the same way (rank r: windows floor(r*N/P) to floor((r+1)*N/P) - 1),
 * and a rank may get none when there are fewer windows than ranks.
 */
export function shardRange(N: number, rows: number, rank: number, size: number): { first: number; count: number } {
  const chunks = Math.ceil(N / rows);
  if (chunks >= size) {
    const c0 = Math.floor((rank * chunks) / size);
    const c1 = Math.floor(((rank + 1) * chunks) / size);
    const first = c0 * rows;
    return { first, count: Math.min(N, c1 * rows) - first };
  }
  const first = Math.floor((rank * N) / size);
  return { first, count: Math.floor(((rank + 1) * N) / size) - first };
}
