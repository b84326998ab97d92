// --threads and OMP_NUM_THREADS beyond the cores this process may use are
// capped, with one line that says so; the run goes on.
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, QUICK } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const cores = os.availableParallelism();
const dir = tmpDir();

describe('threads beyond the cores', () => {
  it('train --threads 1000 runs on the cores there are and says so once', async () => {
    const r = await cli(['train', ...QUICK, '--epochs', '1', '--threads', '1000', '--out', path.join(dir, 'a.safetensors')]);
    expect(r.code, r.stderr).toBe(0);
    const line = `deeprnn: warning: --threads 1000 is more than the ${cores} cores this process may use; using ${cores}`;
    expect(r.stderr.split('\n').filter((l) => l === line)).toHaveLength(1);
  });

  it('OMP_NUM_THREADS above the cores is capped the same way, and a bad one named', async () => {
    const big = await cli(['train', ...QUICK, '--epochs', '1', '--out', path.join(dir, 'b.safetensors')], { env: { OMP_NUM_THREADS: '999' } });
    expect(big.code, big.stderr).toBe(0);
    expect(big.stderr).toContain(`deeprnn: warning: OMP_NUM_THREADS=999 is more than the ${cores} cores this process may use; using ${cores}`);
    const bad = await cli(['train', ...QUICK, '--epochs', '1', '--out', path.join(dir, 'c.safetensors')], { env: { OMP_NUM_THREADS: 'lots' } });
    expect(bad.code, bad.stderr).toBe(0);
    expect(bad.stderr).toContain(`deeprnn: warning: OMP_NUM_THREADS="lots" is not a positive integer; using the ${cores} cores this process may use`);
  });

  it('a --threads that is not a count is an input error', async () => {
    const r = await cli(['train', ...QUICK, '--threads', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--threads must be an integer from 1 to 1024, got "0"');
  });
});
