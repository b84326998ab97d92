// MPI in the addon without a job: the addon never needs an MPI library to
// load (it opens one at run time), says what it was built with, and a process
// that a launcher started gets a clear error when MPI cannot start. Runs
// against whichever build DEEPRNN_ADDON names (CI: also the one without
// OpenMP and MPI).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { addonFile, native } from '../../src/native.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';
import { cli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import path from 'node:path';

const nat = native();
const info = nat.mpiInfo();
const LAUNCHED = { OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_RANK: '0' };
const TRAIN = ['train', '--epochs', '1', '--num-train', '64', '--num-val', '32', '--hidden', '8', '--out', path.join(tmpDir(), 'm.safetensors')];

describe('MPI in the addon, outside a job', () => {
  it('the addon does not link an MPI library', () => {
    let needed = '';
    try {
      needed = execFileSync('readelf', ['-d', addonFile()], { encoding: 'utf8' });
    } catch {
      console.log('readelf is not installed: the NEEDED entries of the addon are not checked');
      return;
    }
    expect(needed).toContain('NEEDED');
    expect(needed).not.toMatch(/libmpi/);
  });

  it('mpiInfo says what was built and that nothing is loaded', () => {
    expect(info.library).toBeNull();
    expect(info.initialized).toBe(false);
    expect([info.rank, info.size]).toEqual([0, 1]);
    if (info.built) expect(info.header).toMatch(/^(Open MPI \d+\.\d+\.\d+|MPICH)/);
    else expect(info.header).toBeNull();
  });

  it('sums, barriers and aborts refuse to run before MPI starts; finalising is a no-op', () => {
    if (info.built) {
      expect(() => nat.mpiSum(new Float32Array(3))).toThrow('mpiSum: MPI is not initialised (call mpiInit first)');
      expect(() => nat.mpiBarrier()).toThrow('mpiBarrier: MPI is not initialised');
      expect(() => nat.mpiAbort(1)).toThrow('mpiAbort: MPI is not initialised');
    } else {
      expect(() => nat.mpiSum(new Float32Array(3))).toThrow('mpiSum: this build of deeprnn has no MPI support');
      expect(() => nat.mpiInit('')).toThrow('mpiInit: this build of deeprnn has no MPI support (no MPI was found when the addon was built)');
    }
    expect(() => nat.mpiSum(new Int32Array(3) as unknown as Float32Array)).toThrow('mpiSum: argument "x" must be a Float32Array or a Float64Array');
    expect(() => nat.mpiInit(7 as unknown as string)).toThrow('mpiInit: argument "library" must be a string');
    expect(() => nat.mpiAbort(-1)).toThrow('mpiAbort: argument "code" must be an integer from 0 to 255');
    expect(() => nat.mpiChainSum(new Float32Array(3), 1 as unknown as boolean)).toThrow('mpiChainSum: argument "kept" must be true or false');
    expect(() => nat.mpiChainSum(new Float64Array(3) as unknown as Float32Array, false)).toThrow('mpiChainSum: argument "x" must be a Float32Array');
    expect(() => nat.mpiFinalize()).not.toThrow();
  });

  it('lmTrainChunks with keep leaves grads as they were (the chunks are kept for mpiChainSum) and computes the same loss', () => {
    const model = new RNNLM({ cell: 'gru', vocabSize: 6, hidden: [8, 8], dropout: 0 }, new Rng(3));
    const T = 4;
    const N = 3;
    const r = new Rng(4);
    const batch = { T, N, inputs: new Int32Array(T * N).map(() => r.below(6)), targets: new Int32Array(T * N).map(() => r.below(6)) };
    model.zeroGrad();
    const loss = model.forward(batch, { train: true });
    expect(model.grads.some((g) => g !== 0)).toBe(true);
    model.zeroGrad();
    expect(model.forward(batch, { train: true, shard: { rank: 0, size: 1 } })).toBe(loss);
    expect(model.keptChunks).toBe(true);
    expect(model.grads.every((g) => g === 0)).toBe(true);
    const o = model as unknown as { lmModel(): object };
    expect(() => nat.lmTrainChunks({ ...o.lmModel(), grads: model.grads, inputs: batch.inputs, targets: batch.targets, T, N, rows: N,
      masks: null, state: null, scale: 1, keep: 'yes' as unknown as boolean } as Parameters<typeof nat.lmTrainChunks>[0]))
      .toThrow('lmTrainChunks: option "keep" must be true or false');
  });

  it('--version says what MPI support there is', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(info.built ? /; mpi (Open MPI|MPICH).*, not loaded \(no launcher\)\)$/m : /; no mpi\)$/m);
  });

  it('compare refuses to run as a rank of a job (its runs would each need the ranks)', async () => {
    const r = await cli(['compare', '--cells', 'rnn,gru'], { env: LAUNCHED });
    expect(r.stderr).toBe('deeprnn: error: deeprnn compare runs in one process: under an MPI launcher run "deeprnn train --cell CELL" '
      + 'for each cell (the ranks share each run)\n');
    expect(r.code).toBe(2);
  });

  it('the commands of one process refuse to run as a rank of a job (before, every rank ran them, writing the same files)', async () => {
    for (const args of [['info', '--model', 'm.safetensors'], ['predict', 'it has'], ['export', 'm.safetensors', '--onnx', 'm.onnx'],
      ['plot', 'm.metrics.jsonl', '-o', 'p.svg'], ['bench', '--no-torch'], ['serve']]) {
      const r = await cli(args, { env: LAUNCHED });
      expect(r.stderr).toBe(`deeprnn: error: deeprnn ${args[0]} runs in one process: run it without the MPI launcher (under one, every rank `
        + 'would run it; train and eval are the commands that share the work of a job)\n');
      expect(r.code).toBe(2);
    }
    // Rank 1 says which it is; --version says why MPI is not loaded there.
    const rank1 = await cli(['info', '--model', 'm.safetensors'], { env: { ...LAUNCHED, OMPI_COMM_WORLD_RANK: '1' } });
    expect(rank1.stderr).toMatch(/^deeprnn \(rank 1\): error: deeprnn info runs in one process/);
    const version = await cli(['--version'], { env: LAUNCHED });
    expect(version.stdout).toMatch(info.built ? /; mpi (Open MPI|MPICH).*, not loaded \(only train and eval load it\)\)$/m : /; no mpi\)$/m);
  });

  it('a process a launcher started says why MPI cannot start, with exit code 2', async () => {
    if (info.built) {
      const r = await cli(TRAIN, { env: { ...LAUNCHED, DEEPRNN_MPI_LIBRARY: '/nonexistent/libmpi.so.40' } });
      expect(r.stderr).toContain('deeprnn: error: deeprnn was started by an MPI launcher (OMPI_COMM_WORLD_SIZE=2) but MPI could not start '
        + '(DEEPRNN_MPI_LIBRARY=/nonexistent/libmpi.so.40): could not load the MPI library (/nonexistent/libmpi.so.40: cannot open shared object file');
      expect(r.code).toBe(2);
    } else {
      const r = await cli(TRAIN, { env: LAUNCHED });
      expect(r.stderr).toContain('deeprnn: error: deeprnn was started by an MPI launcher (OMPI_COMM_WORLD_SIZE=2) but this build has no MPI support: '
        + 'install an MPI (Debian: apt-get install libopenmpi-dev) and rebuild the addon (npm run build:native), or run deeprnn without mpirun/srun');
      expect(r.code).toBe(2);
    }
  });
});
