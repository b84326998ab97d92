// How many threads the native kernels use: --threads, else OMP_NUM_THREADS,
// else the cores this process may use (os.availableParallelism(), which
// honours CPU affinity), never more than those cores. Within a batch the
// kernels use no more of them than there is work for (see RNNLM.teamPlan).
import os from 'node:os';

/** OpenMP's variables about threads, and the forms libgomp takes: positive counts (a list of them, one per nesting level). */
const OPENMP_FORMS: [string, RegExp][] = [
  ['OMP_NUM_THREADS', /^\s*0*[1-9][0-9]*\s*(,\s*0*[1-9][0-9]*\s*)*$/],
  ['OMP_THREAD_LIMIT', /^\s*0*[1-9][0-9]*\s*$/],
];

/** The largest count libgomp reads (an unsigned long; past it, strtoul's ERANGE, and libgomp's own line). */
const ULONG_MAX = 2n ** 64n - 1n;

/** Whether a count in one of OPENMP_FORMS is past what libgomp reads. */
function tooLarge(value: string): boolean {
  return value.split(',').some((c) => BigInt(c.trim()) > ULONG_MAX);
}

/** What is wrong with an OpenMP variable's value that libgomp does not take. */
function fault(name: string, value: string): string {
  const form = OPENMP_FORMS.find(([n]) => n === name)![1];
  return form.test(value) && tooLarge(value) ? 'is a count larger than OpenMP reads (at most 2^64 - 1)' : 'is not a positive integer';
}

/** The OpenMP variables set in `env` in a form libgomp does not take (it would write a line of its own about each). */
export function unparsableOpenMp(env: NodeJS.ProcessEnv = process.env): string[] {
  return OPENMP_FORMS.filter(([name, form]) => env[name] !== undefined && (!form.test(env[name]!) || tooLarge(env[name]!))).map(([name]) => name);
}

export interface ThreadChoice {
  threads: number;
  /** One line saying why the count is not what was asked, or null. */
  note: string | null;
}

/**
 * The thread count for `requested` (--threads; undefined: none given), `env`
 * and `cores`, within OMP_THREAD_LIMIT when that is set (OpenMP would run no
 * more threads than it allows, whatever was asked).
 */
export function chooseThreads(requested?: number, env: NodeJS.ProcessEnv = process.env, cores = os.availableParallelism()): ThreadChoice {
  const choice = chooseWithinCores(requested, env, cores);
  const raw = env.OMP_THREAD_LIMIT?.trim();
  // (an unset or empty one means no limit, for deeprnn as for OpenMP)
  if (raw && unparsableOpenMp(env).includes('OMP_THREAD_LIMIT')) {
    return { threads: choice.threads, note: choice.note ?? `OMP_THREAD_LIMIT="${raw}" ${fault('OMP_THREAD_LIMIT', raw)}; ignored` };
  }
  const limit = raw ? Number(raw) : NaN;
  if (!(limit >= 1) || choice.threads <= limit) return choice;
  // No note when nothing asked for more: the limit is then what was asked.
  const asked = requested !== undefined ? `--threads ${requested}` : choice.note === null && env.OMP_NUM_THREADS?.trim() ? `OMP_NUM_THREADS=${env.OMP_NUM_THREADS.trim()}` : null;
  return { threads: limit, note: asked && `${asked} is more than OMP_THREAD_LIMIT=${limit} lets OpenMP run; using ${limit}` };
}

/** "the 2 cores", or "the core". */
const theCores = (n: number) => (n === 1 ? 'the core' : `the ${n} cores`);

function chooseWithinCores(requested: number | undefined, env: NodeJS.ProcessEnv, cores: number): ThreadChoice {
  if (requested !== undefined) {
    if (requested <= cores) return { threads: requested, note: null };
    return { threads: cores, note: `--threads ${requested} is more than ${theCores(cores)} this process may use; using ${cores}` };
  }
  const raw = env.OMP_NUM_THREADS?.trim();
  if (!raw) return { threads: cores, note: null };
  // OpenMP's form: a count, or a list of counts per nesting level (the first is ours)
  const first = raw.split(',')[0]!.trim();
  // a list OpenMP cannot parse is ignored whole, by it as here (4,0 too)
  const n = unparsableOpenMp(env).includes('OMP_NUM_THREADS') ? NaN : Number(first);
  if (!(n >= 1)) return { threads: cores, note: `OMP_NUM_THREADS="${raw}" ${fault('OMP_NUM_THREADS', raw)}; using ${theCores(cores)} this process may use` };
  if (n <= cores) return { threads: n, note: null };
  // (as written, without its leading zeros: a count past 2^53 is not rounded in the note)
  return { threads: cores, note: `OMP_NUM_THREADS=${first.replace(/^0+/, '')} is more than ${theCores(cores)} this process may use; using ${cores}` };
}
