// A bad DEEPRNN_SIMD (unknown, another architecture's, or the wrong case) is
// refused once, before any work, with one line and exit code 2: no abort of
// the process, no partial output, no file written.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint } from '../../src/io/checkpoint.js';
import { native } from '../../src/native.js';
import { cli, run } from '../helpers/cli.js';
import { ROOT, TIMEMACHINE } from '../helpers/paths.js';
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

describe('DEEPRNN_GEMM_TILE at start', () => {
  const info = native().info();
  const tiles = info.gemmTiles[info.simd]!;

  it('a tile the set in use does not have is refused before any work, exit 2', async () => {
    const out = path.join(dir, 'tile.safetensors');
    for (const args of [['train', ...small, '--out', out], ['predict', 'it has', '--model', out]]) {
      const r = await cli(args, { env: { DEEPRNN_GEMM_TILE: '3x3' } });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toBe(`deeprnn: error: DEEPRNN_GEMM_TILE must be one of ${tiles.join('|')} for ${info.simd}, got "3x3"\n`);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(out)).toBe(false);
    const v = await cli(['--version'], { env: { DEEPRNN_GEMM_TILE: '3x3' } });
    const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(v.stdout).toMatch(new RegExp(`^deeprnn \\d+\\.\\d+\\.\\d+ \\(kernels unavailable: ${literal(`DEEPRNN_GEMM_TILE must be one of ${tiles.join('|')} for ${info.simd}, got "3x3")`)}\n$`));
  });

  it('every tile trains bitwise the same weights (a ragged hidden size, several chunks), and --version names the tile in use', async () => {
    const runs = [];
    for (const tile of tiles) {
      const out = path.join(dir, `tile-${tile}.safetensors`);
      const env = { DEEPRNN_GEMM_TILE: tile };
      const r = await cli(['train', '--hidden', '24', '--layers', '2', '--num-train', '300', '--num-val', '100', '--batch-size', '150', '--epochs', '1', '--out', out, '--json'], { env });
      expect(r.code, r.stderr).toBe(0);
      runs.push(loadTrainingCheckpoint(out).model.params);
      expect((await cli(['--version'], { env })).stdout).toContain(`GEMM tile ${tile}, forced`);
    }
    for (const p of runs.slice(1)) expect(Buffer.from(p.buffer).equals(Buffer.from(runs[0]!.buffer))).toBe(true);
  });
});

describe('DEEPRNN_TEAM_SIZE and DEEPRNN_CHUNK_TOKENS at start', () => {
  it.each([
    ['DEEPRNN_TEAM_SIZE', 'abc', `DEEPRNN_TEAM_SIZE must be a whole number of threads per team (0: the cost model's choice), got "abc"`],
    ['DEEPRNN_TEAM_SIZE', '2.5', `DEEPRNN_TEAM_SIZE must be a whole number of threads per team (0: the cost model's choice), got "2.5"`],
    ['DEEPRNN_TEAM_SIZE', '-1', `DEEPRNN_TEAM_SIZE must be a whole number of threads per team (0: the cost model's choice), got "-1"`],
    ['DEEPRNN_CHUNK_TOKENS', '0', 'DEEPRNN_CHUNK_TOKENS must be a whole number of tokens per chunk from 1 to 999999999, got "0"'],
    ['DEEPRNN_CHUNK_TOKENS', '1e3', 'DEEPRNN_CHUNK_TOKENS must be a whole number of tokens per chunk from 1 to 999999999, got "1e3"'],
    ['DEEPRNN_PANELS', 'off', 'DEEPRNN_PANELS must be 0 (wide layers read W_hh in rows) or 1 (in panels, the default), got "off"'],
    ['DEEPRNN_PANELS', '2', 'DEEPRNN_PANELS must be 0 (wide layers read W_hh in rows) or 1 (in panels, the default), got "2"'],
    ['DEEPRNN_PANELS', '0\u00a0', 'DEEPRNN_PANELS must be 0 (wide layers read W_hh in rows) or 1 (in panels, the default), got "0\u00a0"'],
    ['DEEPRNN_TN_ACROSS', 'yes', 'DEEPRNN_TN_ACROSS must be 0 (weight gradients down the rows, the default) or 1 (across the columns, as before), got "yes"'],
    ['DEEPRNN_TN_ACROSS', ' 1', 'DEEPRNN_TN_ACROSS must be 0 (weight gradients down the rows, the default) or 1 (across the columns, as before), got " 1"'],
  ])('%s=%s is refused before any work, exit 2', async (name, value, message) => {
    const out = path.join(dir, `knob-${name}-${value}.safetensors`);
    const r = await cli(['train', ...small, '--out', out], { env: { [name]: value } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe(`deeprnn: error: ${message}\n`);
    expect(existsSync(out)).toBe(false);
  });

  it('a library reads DEEPRNN_TEAM_SIZE as the CLI does: what the CLI refuses is 0, the cost model (before, 3.5 ran as 3)', async () => {
    const entry = path.join(ROOT, 'dist', 'index.js');
    const script = `const { native } = await import(${JSON.stringify(entry)}); console.log(native().info().teamSize);`;
    for (const [value, size] of [['3.5', '0'], ['abc', '0'], ['-2', '0'], ['1234567', '0'], ['2', '2'], [' 3 ', '3'], ['3\r', '3'], ['\t2\n', '2']] as const) {
      const r = await run(process.execPath, ['--input-type=module', '-e', script], { env: { DEEPRNN_TEAM_SIZE: value } });
      expect(r.stdout.trim(), `DEEPRNN_TEAM_SIZE="${value}": ${r.stderr}`).toBe(size);
    }
  });

  it('DEEPRNN_CHUNK_TOKENS sets the chunks: its default gives the same weights as none, 2048 and 64 tokens others', async () => {
    const weights = async (env: Record<string, string>, name: string) => {
      const out = path.join(dir, `chunks-${name}.safetensors`);
      const r = await cli(['train', ...small, '--out', out], { env });
      expect(r.code, r.stderr).toBe(0);
      return Buffer.from(loadTrainingCheckpoint(out).model.params.buffer);
    };
    const none = await weights({}, 'none');
    // a model this small takes chunks of 512 tokens (SMALL_CHUNK_TOKENS); 2048 make one chunk of its batch of 50 x 32
    expect((await weights({ DEEPRNN_CHUNK_TOKENS: '512' }, '512')).equals(none)).toBe(true);
    expect((await weights({ DEEPRNN_CHUNK_TOKENS: '2048' }, '2048')).equals(none)).toBe(false);
    expect((await weights({ DEEPRNN_CHUNK_TOKENS: '64' }, '64')).equals(none)).toBe(false);
  });

  it('DEEPRNN_PANELS=0 (W_hh of wide layers read in rows) gives the weights of panels bitwise, in fp32 and bf16', async () => {
    const wide = ['--cell', 'lstm', '--hidden', '130', '--num-train', '60', '--num-val', '20', '--batch-size', '30', '--num-steps', '8', '--epochs', '1', '--threads', '2'];
    for (const precision of ['fp32', 'bf16']) {
      const weights = async (env: Record<string, string>, name: string) => {
        const out = path.join(dir, `panels-${precision}-${name}.safetensors`);
        const r = await cli(['train', ...wide, '--precision', precision, '--out', out], { env });
        expect(r.code, r.stderr).toBe(0);
        return Buffer.from(loadTrainingCheckpoint(out).model.params.buffer);
      };
      const panels = await weights({}, 'default');
      const entry = path.join(ROOT, 'dist', 'index.js');
      const script = `const { native } = await import(${JSON.stringify(entry)}); console.log(native().info().whhPanels);`;
      for (const [value, on] of [[undefined, 'true'], ['0', 'false'], [' 0\n', 'false'], ['1', 'true']] as const) {
        const r = await run(process.execPath, ['--input-type=module', '-e', script], { env: value === undefined ? {} : { DEEPRNN_PANELS: value } });
        expect(r.stdout.trim(), `DEEPRNN_PANELS=${JSON.stringify(value)}: ${r.stderr}`).toBe(on);
      }
      expect((await weights({ DEEPRNN_PANELS: '0' }, 'rows')).equals(panels), precision).toBe(true);
      expect((await weights({ DEEPRNN_PANELS: ' 1 ' }, 'one')).equals(panels), precision).toBe(true);
    }
  });
});
