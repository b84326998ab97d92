// The PyTorch process the benchmark starts runs without the OpenBLAS overrides
// of this machine's environment (they hold it to AVX2 kernels), and only it.
import { describe, expect, it } from 'vitest';
import { torchEnv } from '../../src/cli/bench.js';

describe('bench: the environment of the PyTorch process', () => {
  it('drops OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE and keeps everything else', () => {
    const env = { OPENBLAS_CORETYPE: 'Haswell', OPENBLAS_L2_SIZE: '262144', OMP_NUM_THREADS: '2', PATH: '/usr/bin' };
    const out = torchEnv(env);
    expect(out).toEqual({ OMP_NUM_THREADS: '2', PATH: '/usr/bin' });
    expect(env.OPENBLAS_CORETYPE).toBe('Haswell');  // the caller's environment is untouched
  });
});
