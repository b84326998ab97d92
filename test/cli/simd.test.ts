// A bad DEEPRNN_SIMD (unknown, another architecture's, or the wrong case) is
// refused once, before any work, with one line and exit code 2: no abort of
// the process, no partial output, no file written.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { cli } from '../helpers/cli.js';
import { TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const known = native().info().simdAvailable.join('|');
const small = ['--hidden', '8', '--num-train', '200', '--num-val', '100', '--batch-size', '50', '--epochs', '1'];

describe('DEEPRNN_SIMD at start', () => {
  it.each(['bogus', 'AVX2', ...(known.includes('neon') ? ['avx512'] : ['neon'])])('DEEPRNN_SIMD=%s: every command refuses it before doing anything', async (simd) => {
    const env = { DEEPRNN_SIMD: simd };
    const out = path.join(dir, `${simd}.safetensors`);
    const message = `deeprnn: error: DEEPRNN_SIMD must be one of ${known}, got "${simd}"\n`;
    for (const args of [
      ['train', ...small, '--out', out],
      ['eval', out, '--corpus', TIMEMACHINE],
      ['predict', 'it has', '--model', out],
      ['compare', '--cells', 'gru', ...small],
    ]) {
      const r = await cli(args, { env });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toBe(message);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(out)).toBe(false);
  });

  it('a supported name runs', async () => {
    const out = path.join(dir, 'scalar.safetensors');
    const r = await cli(['train', ...small, '--out', out], { env: { DEEPRNN_SIMD: 'scalar' } });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});
