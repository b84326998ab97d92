// Data-parallel training under mpirun: 1, 2 and 3 ranks train the same run
// (bitwise where the ranks hold whole chunks of each batch, within rounding
// where a batch has fewer chunks than ranks),
// a run is the same bits twice for a given number of ranks, a 2-rank checkpoint
// resumes in 1 and in 3 ranks, an uneven batch is shared by the stated rule,
// SIGINT to mpirun stops every rank after the same batch with a checkpoint, a
// rank killed with SIGKILL ends the job and leaves the last checkpoint intact.
// Skipped, saying why, where mpirun or the addon's MPI support is missing.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint } from '../../src/io/checkpoint.js';
import { detectLauncher, ranksDiffer, shardRange, underLauncher } from '../../src/mpi.js';
import { native } from '../../src/native.js';
import { cli, run, type CliResult } from '../helpers/cli.js';
import { BIN, TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const openMpi = mpirun.status === 0 && /Open MPI/.test(mpirun.stdout);
const built = native().mpiInfo().built;
const why = !openMpi ? 'mpirun (Open MPI) is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev)'
  : !built ? 'the addon was built without MPI support (install libopenmpi-dev and rebuild)' : '';
if (why) console.log(`test/mpi: skipping the runs under mpirun: ${why}`);

// Root may run mpirun only when it says so; two cores host three ranks only oversubscribed. Chunks of 2048 tokens,
// for which the runs' sizes below were chosen (a model this small takes 512 by default, and its last batch of 88
// windows would then be 3 chunks, held whole by the ranks, leaving the split by windows untested).
const CHUNKS = { DEEPRNN_CHUNK_TOKENS: '2048' };
const MPI_ENV = { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_rmaps_base_oversubscribe: '1', ...CHUNKS };
const dir = tmpDir('deeprnn-mpi-');
// T=16 and 256 windows: two chunks of 128 per batch (2048 tokens a chunk), so two ranks hold one whole chunk each.
const RUN = ['--corpus', TIMEMACHINE, '--cell', 'gru', '--layers', '2', '--hidden', '24', '--dropout', '0.1', '--num-steps', '16',
  '--batch-size', '256', '--num-val', '300', '--threads', '1'];

function mpi(np: number, args: string[]): Promise<CliResult> {
  if (np === 1) return cli(args, { env: CHUNKS });
  return run('mpirun', ['-np', String(np), process.execPath, BIN, ...args], { env: MPI_ENV });
}

const params = (file: string) => loadTrainingCheckpoint(file).model.params;
const history = (file: string) => loadTrainingCheckpoint(file).meta.history;
/** Largest difference of two arrays' elements relative to the largest magnitude in a (the weights: rounding moves small ones as much as large). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let most = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    most = Math.max(most, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return most / scale;
}
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('ranks that differ (ranksDiffer), without mpirun', () => {
  // Each rank's contribution, as one sum would gather them: a world of one that records its vector, then the total handed to each.
  function simulate(ranks: [string, string | Float32Array][][]): string[][] {
    const vectors = ranks.map((parts) => {
      let v = new Float64Array(0);
      ranksDiffer({ rank: 0, size: 1, sum: (x) => { v = Float64Array.from(x); }, sumChunks: () => {}, barrier: () => {} }, parts);
      return v;
    });
    const total = vectors.reduce((a, b) => a.map((x, i) => x + b[i]!));
    return ranks.map((parts) => ranksDiffer({ rank: 0, size: ranks.length, sum: (x) => x.set(total), sumChunks: () => {}, barrier: () => {} }, parts));
  }
  const parts = (settings: string, weights: number[]): [string, string | Float32Array][] => [['the settings', settings], ['the weights', Float32Array.from(weights)]];

  it('names the parts that are not the same on every rank, on every rank alike', () => {
    expect(simulate([parts('a', [1, 2]), parts('a', [1, 2]), parts('a', [1, 2])])).toEqual([[], [], []]);
    expect(simulate([parts('a', [1, 2]), parts('b', [1, 2]), parts('a', [1, 2])])).toEqual(Array(3).fill(['the settings']));
    expect(simulate([parts('a', [1, 2]), parts('a', [1, 2.5])])).toEqual(Array(2).fill(['the weights']));
    expect(simulate([parts('a', [1]), parts('b', [2]), parts('c', [3]), parts('a', [1])])).toEqual(Array(4).fill(['the settings', 'the weights']));
    // 64 ranks, one of them off by one bit of one weight
    const many = Array.from({ length: 64 }, (_, r) => parts('x', [0.1, r === 37 ? 0.20000002 : 0.2]));
    expect(simulate(many)).toEqual(Array(64).fill(['the weights']));
  });

  it('whose output a launcher carries (no progress bar): a job of several ranks, or mpirun of one; not a Slurm step of one task (srun --pty bash)', () => {
    expect(underLauncher({ OMPI_COMM_WORLD_SIZE: '1', OMPI_COMM_WORLD_RANK: '0' })).toBe(true);
    expect(underLauncher({ OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_RANK: '1' })).toBe(true);
    expect(underLauncher({ SLURM_STEP_NUM_TASKS: '4', SLURM_PROCID: '2' })).toBe(true);
    expect(underLauncher({ SLURM_STEP_NUM_TASKS: '1', SLURM_PROCID: '0' })).toBe(false);
    expect(underLauncher({})).toBe(false);
  });
});

describe('sharing a batch among ranks (shardRange)', () => {
  it('whole chunks when there are enough, else windows; disjoint, in order, covering the batch', () => {
    for (const [N, rows] of [[50, 25], [256, 128], [88, 128], [1024, 64], [7, 7], [1000, 40]] as const) {
      for (let P = 1; P <= 5; P++) {
        let next = 0;
        const chunks = Math.ceil(N / rows);
        for (let r = 0; r < P; r++) {
          const s = shardRange(N, rows, r, P);
          expect(s.first, `N=${N} rows=${rows} P=${P} rank ${r}`).toBe(next);
          if (chunks >= P) expect(s.first % rows).toBe(0);
          next += s.count;
        }
        expect(next).toBe(N);
      }
    }
    // The stated rule for a batch of fewer chunks than ranks: rank r takes windows floor(rN/P) to floor((r+1)N/P) - 1.
    expect([0, 1, 2].map((r) => shardRange(88, 128, r, 3))).toEqual([{ first: 0, count: 29 }, { first: 29, count: 29 }, { first: 58, count: 30 }]);
    expect([0, 1, 2].map((r) => shardRange(2, 128, r, 3))).toEqual([{ first: 0, count: 0 }, { first: 0, count: 1 }, { first: 1, count: 1 }]);
    // Five chunks on two ranks: 2 and 3.
    expect([0, 1].map((r) => shardRange(200, 40, r, 2))).toEqual([{ first: 0, count: 80 }, { first: 80, count: 120 }]);
  });

  it('the launcher is read from its environment', () => {
    expect(detectLauncher({})).toBeNull();
    expect(detectLauncher({ OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_RANK: '3' })).toEqual({ variable: 'OMPI_COMM_WORLD_SIZE', rank: 3, size: 4 });
    expect(detectLauncher({ PMI_SIZE: '2', PMI_RANK: '1' })).toEqual({ variable: 'PMI_SIZE', rank: 1, size: 2 });
    expect(detectLauncher({ SLURM_STEP_NUM_TASKS: '8', SLURM_PROCID: '5', SLURM_JOB_ID: '9' })).toEqual({ variable: 'SLURM_STEP_NUM_TASKS', rank: 5, size: 8 });
    // A batch script's environment (a job, no step) is not a launch.
    expect(detectLauncher({ SLURM_JOB_ID: '9', SLURM_NTASKS: '8' })).toBeNull();
    expect(detectLauncher({ PMIX_RANK: '2' })).toEqual({ variable: 'PMIX_RANK', rank: 2, size: null });
  });
});

describe.skipIf(Boolean(why))('training under mpirun', () => {
  const out = (name: string) => path.join(dir, `${name}.safetensors`);

  it('1, 2 and 3 ranks train the same run: 2 ranks repeatable bit for bit, 2 and 3 within 1e-5 of one process, uneven last batch included', async () => {
    // 600 windows: batches of 256, 256 and 88 (88 on 3 ranks: 29, 29, 30 windows).
    const args = (name: string) => ['train', ...RUN, '--num-train', '600', '--epochs', '2', '--json', '--out', out(name)];
    const [one, two] = await Promise.all([mpi(1, args('one')), mpi(2, args('two'))]);
    const [twoAgain, three] = [await mpi(2, args('two-again')), await mpi(3, args('three'))];
    for (const r of [one, two, twoAgain, three]) expect(r.stderr, r.stderr).not.toContain('error');
    for (const r of [one, two, twoAgain, three]) expect(r.code, r.stderr).toBe(0);
    // --json from rank 0 alone: one object.
    const j2 = JSON.parse(two.stdout);
    expect(j2.epochs).toBe(2);
    expect(same(params(out('two')), params(out('two-again')))).toBe(true);
    expect(history(out('two')).map((h) => h.valLoss)).toEqual(history(out('two-again')).map((h) => h.valLoss));
    // The last batch (88 windows, one chunk) is split across the ranks: within rounding, not bitwise.
    const d2 = relDiff(params(out('one')), params(out('two')));
    const d3 = relDiff(params(out('one')), params(out('three')));
    const l1 = history(out('one')).map((h) => h.trainLoss);
    const dl2 = relDiff(l1, history(out('two')).map((h) => h.trainLoss));
    const dl3 = relDiff(l1, history(out('three')).map((h) => h.trainLoss));
    console.log(`2 ranks vs 1: weights ${d2.toExponential(2)}, losses ${dl2.toExponential(2)}; 3 ranks vs 1: weights ${d3.toExponential(2)}, losses ${dl3.toExponential(2)}`);
    for (const d of [d2, d3, dl2, dl3]) expect(d).toBeLessThan(1e-5);
  });

  it('ranks holding whole chunks give the bits of one process: a 2-rank checkpoint resumed in 1 and in 3 ranks ends as one process does', async () => {
    // 1536 windows: two batches of 768, each six chunks of 128 (3 a rank on 2 ranks, 2 on 3).
    const args = ['train', ...RUN, '--batch-size', '768', '--num-train', '1536'];
    const [full, half] = await Promise.all([mpi(1, [...args, '--epochs', '3', '--out', out('full')]), mpi(2, [...args, '--epochs', '1', '--out', out('half')])]);
    expect(full.code, full.stderr).toBe(0);
    expect(half.code, half.stderr).toBe(0);
    expect(loadTrainingCheckpoint(out('half')).meta.state.epoch).toBe(1);
    copyFileSync(out('half'), out('half3'));
    const [r1, r3] = [await mpi(1, ['train', '--resume', out('half'), '--epochs', '3']), await mpi(3, ['train', '--resume', out('half3'), '--epochs', '3'])];
    expect(r1.code, r1.stderr).toBe(0);
    expect(r3.code, r3.stderr).toBe(0);
    expect(same(params(out('half')), params(out('full')))).toBe(true);
    expect(loadTrainingCheckpoint(out('half3')).meta.state.epoch).toBe(3);
    expect(same(params(out('half3')), params(out('full')))).toBe(true);
    // The losses are sums of doubles in another order: equal to a few ulps.
    expect(relDiff(history(out('full')).map((h) => h.trainLoss), history(out('half3')).map((h) => h.trainLoss))).toBeLessThan(1e-12);
  });

  it('sequential batches (carried state) on 2 ranks match one process', async () => {
    const args = (name: string) => ['train', ...RUN, '--cell', 'lstm', '--batching', 'sequential', '--batch-size', '16', '--num-steps', '32',
      '--num-train', '6000', '--num-val', '2000', '--epochs', '2', '--out', out(name)];
    const [one, two] = await Promise.all([mpi(1, args('seq1')), mpi(2, args('seq2'))]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    const d = relDiff(params(out('seq1')), params(out('seq2')));
    const dl = relDiff(history(out('seq1')).map((h) => h.valLoss), history(out('seq2')).map((h) => h.valLoss));
    console.log(`sequential batching, 2 ranks vs 1: weights ${d.toExponential(2)}, val losses ${dl.toExponential(2)}`);
    expect(d).toBeLessThan(1e-5);
    expect(dl).toBeLessThan(1e-5);
  });

  it('eval on 2 and 3 ranks: the same metrics as one process, one report, the same exit code', async () => {
    const args = ['eval', out('two'), '--corpus', TIMEMACHINE, '--batch-size', '50', '--num-steps', '40', '--json'];
    const [one, two, three] = [await mpi(1, args), await mpi(2, args), await mpi(3, args)];
    for (const r of [one, two, three]) expect(r.code, r.stderr).toBe(0);
    const metrics = (r: CliResult) => JSON.parse(r.stdout).results[TIMEMACHINE];
    const m1 = metrics(one);
    for (const m of [metrics(two), metrics(three)]) {
      expect(m.tokens).toBe(m1.tokens);
      expect(m.accuracy).toBe(m1.accuracy);
      expect(Math.abs(m.loss - m1.loss) / m1.loss).toBeLessThan(1e-12);
    }
    const failing = await mpi(2, [...args, '--max-ppl', '1.5']);
    expect(failing.code).toBe(1);
    expect(failing.stderr.match(/deeprnn: regression: perplexity/g)).toHaveLength(1);
  });

  /** Starts a 2-rank run; once rank 0 has printed an epoch line, calls act(mpirun's pid). */
  function job(args: string[], act: (pid: number) => void, options: string[] = [], tellExit = false): Promise<CliResult & { signal: NodeJS.Signals | null }> {
    return new Promise((resolve) => {
      // tellExit: each rank through sh, which says the rank's exit code on stderr
      const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
      const rank = tellExit ? ['sh', '-c', `${[process.execPath, BIN, ...args].map(q).join(' ')}; echo "rank $OMPI_COMM_WORLD_RANK exit $?" >&2`]
        : [process.execPath, BIN, ...args];
      const child = spawn('mpirun', [...options, '-np', '2', ...rank], { env: { ...process.env, ...MPI_ENV, CI: '1' } });
      let stdout = '';
      let stderr = '';
      let acted = false;
      child.stdout.on('data', (d: Buffer) => {
        stdout += d;
        if (!acted && /^epoch 1\//m.test(stdout)) {
          acted = true;
          act(child.pid!);
        }
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }
  const LONG = ['train', ...RUN, '--num-train', '4000', '--epochs', '40'];

  it('SIGINT to mpirun: every rank stops after the same batch, rank 0 saves and says so, the run resumes', async () => {
    const file = out('sigint');
    // Open MPI 4's mpirun waits odls_base_sigkill_timeout seconds (1 by default)
    // before it sends the ranks SIGTERM, and as long again before SIGKILL.
    const r = await job([...LONG, '--epochs', '400', '--out', file], (pid) => process.kill(pid, 'SIGINT'), ['--mca', 'odls_base_sigkill_timeout', '2']);
    // mpirun passes the interrupt on to the ranks as SIGTERM.
    expect(r.stderr).toContain('SIGTERM: stopping after this batch and saving a checkpoint');
    expect(r.stderr.match(/stopping after this batch/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/stopped at epoch \d+, batch \d+; checkpoint .*sigint\.safetensors; resume with: deeprnn train --resume/);
    expect(r.code).not.toBe(0);
    const state = loadTrainingCheckpoint(file).meta.state;
    expect(state.epoch).toBeLessThan(400);
    const again = await mpi(2, ['train', '--resume', file, '--epochs', String(state.epoch + 1)]);
    expect(again.code, again.stderr).toBe(0);
    expect(loadTrainingCheckpoint(file).meta.state).toMatchObject({ epoch: state.epoch + 1, batch: 0 });
  });

  /** Rank 1's process: the child of mpirun (pid) whose environment says so. */
  function rank1Of(pid: number): number {
    const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number);
    const rank1 = kids.find((k) => {
      try {
        return readFileSync(`/proc/${k}/environ`, 'utf8').split('\0').includes('OMPI_COMM_WORLD_RANK=1');
      } catch {
        return false;
      }
    });
    expect(rank1).toBeDefined();
    // through sh (tellExit): its node child
    const node = spawnSync('pgrep', ['-P', String(rank1)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number).filter((k) => k > 0);
    return node[0] ?? rank1!;
  }

  it('SIGTERM to rank 1 alone: every rank stops after the same batch, rank 0 says where and prints no summary', async () => {
    const file = out('sigterm1');
    const r = await job([...LONG, '--epochs', '400', '--out', file], (pid) => process.kill(rank1Of(pid), 'SIGTERM'), [], true);
    expect(r.stderr).toMatch(/stopped at epoch \d+, batch \d+; checkpoint .*sigterm1\.safetensors; resume with: deeprnn train --resume/);
    expect(r.stdout + r.stderr).not.toContain('done: ');
    expect(r.code).not.toBe(0);
    expect(r.stderr.match(/^rank \d exit \d+$/gm)?.sort()).toEqual(['rank 0 exit 143', 'rank 1 exit 143']);
    const state = loadTrainingCheckpoint(file).meta.state;
    expect(state.epoch).toBeLessThan(400);
  });

  it('ranks started with different settings or texts stop together at the start, exit 2, and write nothing', async () => {
    const file = out('differ');
    const args = ['train', ...RUN, '--num-train', '512', '--epochs', '2', '--out', file];
    for (const [other, what, env] of [[['--hidden', '16'], 'the settings, the position, the weights', []], [['--epochs', '3'], 'the settings', []],
      [['--seed', '7'], 'the settings, the position, the weights', []], [['--early-stop', '1'], 'the settings', []],
      [[], 'the settings', ['env', 'DEEPRNN_CHUNK_TOKENS=40']]] as const) {
      const r = await run('mpirun', ['-np', '1', process.execPath, BIN, ...args, ':', '-np', '1', ...env, process.execPath, BIN, ...args, ...other], { env: MPI_ENV });
      expect(r.code, r.stderr).not.toBe(0);
      const message = `the ranks of this job differ in ${what}: start every rank with the same command, the same corpus and the same checkpoint`;
      expect(r.stderr).toContain(`deeprnn: error: ${message}\n`);
      expect(r.stderr).toContain(`deeprnn (rank 1): error: ${message}\n`);
      expect(existsSync(file)).toBe(false);
      expect(existsSync(`${file}.lock`)).toBe(false);
    }
  });

  it('a rank that fails before the ranks compare (its own checks, a corpus missing on its machine) stops every rank there, no lock left', async () => {
    // Before, rank 0 waited in the first sum until mpirun killed it, and its locks stayed behind.
    const file = out('one-fails');
    const args = ['train', ...RUN, '--num-train', '512', '--epochs', '1', '--out', file];
    for (const [other, why] of [[['--impl', 'scratch'], '--impl scratch runs in one process'],
      [['--corpus', path.join(dir, 'not-on-this-machine.txt')], 'not-on-this-machine.txt']] as const) {
      const started = performance.now();
      const r = await run('mpirun', ['-np', '1', process.execPath, BIN, ...args, ':', '-np', '1', process.execPath, BIN, ...args, ...other], { env: MPI_ENV });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('deeprnn (rank 1): error: ');
      expect(r.stderr).toContain(why);
      expect(r.stderr).toContain('deeprnn: error: another rank of this job stopped with an error before training (its message says why): '
        + 'every rank stops here, before anything is written\n');
      expect(readdirSync(dir).filter((f) => f.startsWith('one-fails'))).toEqual([]);
      expect(performance.now() - started).toBeLessThan(30_000);
    }
    // The parser's own errors say whose they are, as the others do (before: every rank's line read as rank 0's).
    const bad = await run('mpirun', ['-np', '2', process.execPath, BIN, 'train', '--bogus'], { env: MPI_ENV });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("deeprnn (rank 1): error: unknown option '--bogus' (did you mean --corpus?)\n");
    expect(bad.stderr).not.toMatch(/^deeprnn \(rank 0\)/m);
  });

  it('ranks on different kernel tables train together, and rank 0 says the weights will not be one process\'s bits', async () => {
    // Before, nothing said so: the weights matched neither table's single process.
    const file = out('kernels');
    const args = ['train', ...RUN, '--num-train', '512', '--epochs', '1', '--out', file];
    const mine = native().info().simd;
    const r = await run('mpirun', ['-np', '1', process.execPath, BIN, ...args, ':', '-np', '1', 'env', 'DEEPRNN_SIMD=scalar', process.execPath, BIN, ...args],
      { env: MPI_ENV });
    expect(r.code, r.stderr).toBe(0);
    const warning = `deeprnn: warning: the ranks of this job run different kernel tables (this one ${mine}): the run is sound, but its weights `
      + 'will not be bitwise those of one process; DEEPRNN_SIMD (and for bf16 DEEPRNN_BF16) set to one table on every rank '
      + '(avx2 runs on any x86-64 CPU that has it) makes them so';
    expect(r.stderr.includes(warning)).toBe(mine !== 'scalar');
    // No progress bar under a launcher: Open MPI gives a rank's output a pseudo-terminal whatever mpirun's is
    // (before, a log of mpirun's output held every redraw of the bar); the epoch lines stay.
    expect(r.stdout).toMatch(/^epoch 1\/1 {2}train ppl /m);
    expect(r.stdout).not.toContain('\x1b');
    const one = await run('mpirun', ['-np', '1', process.execPath, BIN, ...args.slice(0, -1), out('kernels-one')], { env: MPI_ENV });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^epoch 1\/1 {2}train ppl /m);
    expect(one.stdout).not.toContain('\x1b');
    expect(loadTrainingCheckpoint(file).meta.state.epoch).toBe(1);
    // bf16 products on AMX tiles (here their software model) on one rank round otherwise than vdpbf16ps and its
    // float32 fallback: said too (before, nothing was); a rank whose default is AMX rounds as the model does
    const defaultAmx = ['amx', 'emulated (amx-model)'].includes(native().info().bf16);
    for (const [path, warns] of [['amx-model', !defaultAmx], ['emulated', defaultAmx]] as const) {
      const bf = await run('mpirun', ['-np', '1', process.execPath, BIN, ...args, '--precision', 'bf16', '--out', out(`bf-${path}`), ':',
        '-np', '1', 'env', `DEEPRNN_BF16=${path}`, process.execPath, BIN, ...args, '--precision', 'bf16', '--out', out(`bf-${path}`)], { env: MPI_ENV });
      expect(bf.code, bf.stderr).toBe(0);
      expect(bf.stderr.includes('the ranks of this job run different kernel tables'), bf.stderr).toBe(warns);
    }
  });

  it("a warning of rank 1's own (its --threads capped) says whose it is, as its errors do", async () => {
    const r = await mpi(2, ['train', ...RUN.filter((a, i, all) => a !== '--threads' && all[i - 1] !== '--threads'), '--threads', '1000', '--num-train', '256',
      '--epochs', '1', '--out', out('warned')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^deeprnn: warning: --threads 1000 is more than the (core|\d+ cores) this process may use; using \d+$/m);
    expect(r.stderr).toMatch(/^deeprnn \(rank 1\): warning: --threads 1000 is more than the (core|\d+ cores) this process may use; using \d+$/m);
  });

  it('eval: ranks given other texts, another checkpoint or other settings stop together, exit 2, with no report (before: a blend, or a hang)', async () => {
    const ck = out('two');
    const a = path.join(dir, 'eval-a.txt');
    const b = path.join(dir, 'eval-b.txt');
    const text = readFileSync(TIMEMACHINE, 'utf8');
    writeFileSync(a, text.slice(0, 40000));
    writeFileSync(b, text.slice(40000, 80000));
    const args = ['eval', '--batch-size', '50', '--num-steps', '40', '--json'];
    const cases: [string[], string[], string][] = [
      [[ck, '--corpus', a], [ck, '--corpus', b], 'the texts'],
      [[ck, '--corpus', a, b], [ck, '--corpus', a], 'the settings, the texts'],
      [[ck, '--corpus', a], [ck, '--corpus', a, '--batch-size', '7'], 'the settings'],
      [[ck, '--corpus', a], [out('kernels'), '--corpus', a], 'the checkpoint'],
      // the checks that decide the exit code (before: rank 1 alone exited 1, without a word)
      [[ck, '--corpus', a], [ck, '--corpus', a, '--max-ppl', '5'], 'the settings'],
      [[ck, '--corpus', a, '--max-unk', '0.5'], [ck, '--corpus', a, '--max-unk', '0.4'], 'the settings'],
    ];
    for (const [mine, theirs, what] of cases) {
      const r = await run('timeout', ['120', 'mpirun', '-np', '1', process.execPath, BIN, ...args, ...mine, ':', '-np', '1', process.execPath, BIN, ...args, ...theirs],
        { env: MPI_ENV });
      expect(r.code, r.stderr).toBe(2);
      const message = `the ranks of this job differ in ${what}: start every rank with the same command, the same corpus and the same checkpoint`;
      expect(r.stderr).toContain(`deeprnn: error: ${message}\n`);
      expect(r.stderr).toContain(`deeprnn (rank 1): error: ${message}\n`);
      expect(r.stdout).toBe('');
    }
    // the same text under another name on each rank is the same job: rank 0's names are reported
    const copy = path.join(dir, 'eval-a-copy.txt');
    writeFileSync(copy, text.slice(0, 40000));
    const r = await run('mpirun', ['-np', '1', process.execPath, BIN, ...args, ck, '--corpus', a, ':', '-np', '1', process.execPath, BIN, ...args, ck, '--corpus', copy],
      { env: MPI_ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout).results)).toEqual([a]);
    // a rank whose corpus is missing stops every rank at that sum
    const gone = await run('timeout', ['120', 'mpirun', '-np', '1', process.execPath, BIN, ...args, ck, '--corpus', a, ':', '-np', '1', process.execPath, BIN, ...args,
      ck, '--corpus', path.join(dir, 'missing.txt')], { env: MPI_ENV });
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('deeprnn: error: another rank of this job stopped with an error before evaluating (its message says why): every rank stops here\n');
  });

  it('a rank killed with SIGKILL ends the job with mpirun\'s message; the last checkpoint is intact and resumes', async () => {
    const file = out('killed');
    const r = await job([...LONG, '--out', file], (pid) => process.kill(rank1Of(pid), 'SIGKILL'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/rank 1 with PID \d+ on node .* exited on signal 9 \(Killed\)/);
    const state = loadTrainingCheckpoint(file).meta.state;
    expect(state.epoch).toBeGreaterThanOrEqual(1);
    const again = await mpi(2, ['train', '--resume', file, '--epochs', String(state.epoch + 1)]);
    expect(again.code, again.stderr).toBe(0);
  });
});
