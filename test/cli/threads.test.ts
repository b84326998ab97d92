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
    // OpenMP's own complaint (libgomp writes one as the addon loads) is not passed on: deeprnn's line says it
    expect(bad.stderr).not.toContain('libgomp');
    expect(bad.stderr).not.toMatch(/^\n|\n\n/);
  });

  it('a value OpenMP cannot parse leaves no line of its own, whichever command loads the addon', async () => {
    const envs: Record<string, string>[] = [{ OMP_NUM_THREADS: '0' }, { OMP_NUM_THREADS: '' }, { OMP_NUM_THREADS: '1.5' }, { OMP_THREAD_LIMIT: 'abc' },
      { OMP_NUM_THREADS: '99999999999999999999' }, { OMP_THREAD_LIMIT: '18446744073709551616' }];
    for (const env of envs) {
      const v = await cli(['--version'], { env });
      expect(v.code).toBe(0);
      expect(v.stderr, JSON.stringify(env)).toBe('');
      expect(v.stdout).toMatch(/^deeprnn \d+\.\d+\.\d+ \(simd /);
    }
    const model = path.join(dir, 'omp.safetensors');
    const t = await cli(['train', ...QUICK, '--epochs', '1', '--out', model], { env: { OMP_THREAD_LIMIT: 'x' } });
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).not.toContain('libgomp');
    const e = await cli(['eval', model, '--corpus', 'timemachine'], { env: { OMP_NUM_THREADS: '0' } });
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toBe(`deeprnn: warning: OMP_NUM_THREADS="0" is not a positive integer; using the ${cores} cores this process may use\n`);
  });

  it('predict takes --threads as train and eval do: the same text on any count, capped at the cores and checked', async () => {
    const model = path.join(dir, 'p.safetensors');
    const t = await cli(['train', ...QUICK, '--epochs', '1', '--out', model]);
    expect(t.code, t.stderr).toBe(0);
    const texts = [];
    for (const threads of ['1', '2']) {
      for (const sampling of [[], ['--temperature', '1', '--seed', '7']]) {
        const r = await cli(['predict', 'it has', '--model', model, '--num-preds', '200', '--threads', threads, ...sampling]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toBe('');
        texts.push(r.stdout);
      }
    }
    expect(texts[2]).toBe(texts[0]);
    expect(texts[3]).toBe(texts[1]);
    expect(texts[1]).not.toBe(texts[0]);
    const big = await cli(['predict', 'it has', '--model', model, '--num-preds', '200', '--threads', '1000', '--temperature', '1', '--seed', '7']);
    expect(big.code, big.stderr).toBe(0);
    expect(big.stdout).toBe(texts[1]);
    expect(big.stderr).toBe(`deeprnn: warning: --threads 1000 is more than the ${cores} cores this process may use; using ${cores}\n`);
    const zero = await cli(['predict', 'it has', '--model', model, '--threads', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stdout).toBe('');
    expect(zero.stderr).toContain('--threads must be an integer from 1 to 1024, got "0"');
  });

  it('a --threads that is not a count is an input error', async () => {
    const r = await cli(['train', ...QUICK, '--threads', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--threads must be an integer from 1 to 1024, got "0"');
  });
});
