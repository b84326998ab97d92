// --precision bf16 from the command line: the checkpoint records it, eval and
// predict follow it unless told otherwise, the fallback says so in one line,
// and every wrong value is refused with a message naming it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { native } from '../../src/native.js';
import { cli } from '../helpers/cli.js';
import { TIMEMACHINE } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const info = native().info();
const small = ['--hidden', '16', '--num-train', '200', '--num-val', '100', '--batch-size', '50', '--epochs', '2'];
const ck = path.join(dir, 'bf16.safetensors');

describe('train --precision bf16', () => {
  beforeAll(async () => {
    const r = await cli(['train', ...small, '--precision', 'bf16', '--out', ck]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('records the precision in the checkpoint, and the model loads with it', () => {
    const c = loadCheckpoint(ck);
    expect('training' in c.meta && c.meta.training.precision).toBe('bf16');
    expect(c.model.precision).toBe('bf16');
  });

  it('eval follows the checkpoint unless --precision is given', async () => {
    const ppl = async (...extra: string[]) => {
      const r = await cli(['eval', ck, '--corpus', TIMEMACHINE, '--json', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return Object.values((JSON.parse(r.stdout) as { results: Record<string, { perplexity: number }> }).results)[0]!.perplexity;
    };
    const byDefault = await ppl();
    expect(await ppl('--precision', 'bf16')).toBe(byDefault);
    const fp32 = await ppl('--precision', 'fp32');
    expect(fp32).not.toBe(byDefault);
    expect(Math.abs(fp32 - byDefault) / fp32).toBeLessThan(0.01);
  });

  it('predict runs under either precision', async () => {
    for (const p of ['bf16', 'fp32']) {
      const r = await cli(['predict', 'the time', '--model', ck, '--num-preds', '5', '--precision', p]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.startsWith('the time')).toBe(true);
    }
  });

  it('says in one line when the products run on the float32 fallback', async () => {
    const out = path.join(dir, 'emulated.safetensors');
    const r = await cli(['train', ...small, '--precision', 'bf16', '--out', out], { env: { DEEPRNN_BF16: 'emulated' } });
    expect(r.code, r.stderr).toBe(0);
    const why = info.bf16Hardware ? 'DEEPRNN_BF16 chose it' : 'this CPU has no bf16 instructions (AVX512-BF16)';
    expect(r.stderr.split('\n').filter((l) => l.startsWith('note: '))).toEqual([
      `note: bf16 products run on the float32 fallback, emulated (${info.simd}) (${why}): `
      + `${info.bf16Amx ? 'vdpbf16ps\'s results (AMX, the default here, rounds otherwise)' : 'the same results'}, slower than fp32`,
    ]);
    // predict's one-token steps run no bf16 product on any CPU: no note (before, the same line)
    const p = await cli(['predict', '--model', out, '--num-preds', '5', 'it'], { env: { DEEPRNN_BF16: 'emulated' } });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toBe('');
  });

  it('trains every cell, mgu included', async () => {
    const out = path.join(dir, 'mgu.safetensors');
    const r = await cli(['train', ...small, '--cell', 'mgu', '--precision', 'bf16', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(loadCheckpoint(out).model.precision).toBe('bf16');
  });

  it('compare trains every cell in bf16 with --precision bf16 (before: an unknown option), and with the float32 fallback says so once', async () => {
    const outDir = path.join(dir, 'compare');
    const r = await cli(['compare', '--cells', 'gru,rnn', ...small, '--precision', 'bf16', '--out-dir', outDir], { env: { DEEPRNN_BF16: 'emulated' } });
    expect(r.code, r.stderr).toBe(0);
    for (const cell of ['gru', 'rnn']) expect(loadCheckpoint(path.join(outDir, `${cell}.safetensors`)).model.precision).toBe('bf16');
    expect(r.stderr.split('\n').filter((l) => l.startsWith('note: bf16 products run on the float32 fallback'))).toHaveLength(1);
  });

  it('--version names the bf16 path', async () => {
    const r = await cli(['--version']);
    expect(r.stdout).toMatch(/; bf16 (amx|avx512bf16|emulated \((scalar|avx2|avx512|neon)\)); (no mpi|mpi .*)\)\n$/);
  });
});

describe('train --save-dtype bf16', () => {
  it('writes the weights as BF16 tensors, the optimizer state as F32, and a resumed run keeps it', async () => {
    const out = path.join(dir, 'save16.safetensors');
    const r = await cli(['train', ...small, '--optimizer', 'adam', '--save-dtype', 'bf16', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const dtypes = () => {
      const st = decodeSafetensors(readFileSync(out), out);
      return new Set([...st.tensors].map(([name, t]) => `${name.startsWith('optimizer.') ? 'optimizer' : 'weight'} ${t.dtype}`));
    };
    expect(dtypes()).toEqual(new Set(['weight BF16', 'optimizer F32']));
    const c = loadCheckpoint(out);
    expect('training' in c.meta && c.meta.training.saveDtype).toBe('bf16');
    const resumed = await cli(['train', '--resume', out, '--epochs', '3']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(dtypes()).toEqual(new Set(['weight BF16', 'optimizer F32']));
    const e = await cli(['eval', out, '--corpus', TIMEMACHINE]);
    expect(e.code, e.stderr).toBe(0);
  });

  it('info and --resume read how the file stores its tensors from the tensors, not from its metadata', async () => {
    // Before: a file whose metadata said fp32 of BF16 weights (another tool's conversion) showed
    // "weights stored as fp32" and resumed without a word; BF16 optimizer state likewise.
    const src = path.join(dir, 'relabel-src.safetensors');
    const made = await cli(['train', ...small, '--optimizer', 'adam', '--save-dtype', 'bf16', '--out', src]);
    expect(made.code, made.stderr).toBe(0);
    const st = decodeSafetensors(readFileSync(src), src);
    const meta = JSON.parse(st.metadata.deeprnn!);
    meta.training.saveDtype = 'fp32';
    const relabelled = path.join(dir, 'relabelled.safetensors');
    writeFileSync(relabelled, encodeSafetensors(st.tensors, { ...st.metadata, deeprnn: JSON.stringify(meta) }));
    const info = await cli(['info', relabelled]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/, weights stored as bf16\n/);
    expect(info.stdout).toMatch(/ rnn\.weight_ih_l0 .* BF16\n/);
    const resumed = await cli(['train', '--resume', relabelled, '--epochs', '3']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`deeprnn: warning: ${relabelled} stores its weights in bf16 (though its metadata says fp32): the run continues from the rounded weights`);
    // F32 weights with the optimizer's state in BF16
    const fp = path.join(dir, 'state-src.safetensors');
    expect((await cli(['train', ...small, '--optimizer', 'adam', '--out', fp])).code).toBe(0);
    const st2 = decodeSafetensors(readFileSync(fp), fp);
    for (const [name, t] of st2.tensors) if (name.startsWith('optimizer.')) st2.tensors.set(name, { ...t, dtype: 'BF16' });
    const state = path.join(dir, 'state16.safetensors');
    writeFileSync(state, encodeSafetensors(st2.tensors, st2.metadata));
    const info2 = await cli(['info', state]);
    expect(info2.stdout).toMatch(/, weights stored as fp32, optimizer\.exp_avg, optimizer\.exp_avg_sq stored as bf16\n/);
    const resumed2 = await cli(['train', '--resume', state, '--epochs', '3']);
    expect(resumed2.code, resumed2.stderr).toBe(0);
    expect(resumed2.stderr).toContain(`deeprnn: warning: ${state} stores optimizer.exp_avg, optimizer.exp_avg_sq in bf16: the run continues from the rounded values`);
    // and an fp32 file says nothing
    const plain = await cli(['train', '--resume', fp, '--epochs', '3']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toContain('warning');
  });

  it('advises --save-dtype bf16 for a checkpoint over 2 GiB only where bf16 weights would bring it within', async () => {
    const big = ['train', '--layers', '1', '--optimizer', 'adam', '--num-train', '4', '--num-val', '2', '--batch-size', '2', '--num-steps', '2', '--epochs', '1',
      '--out', path.join(dir, 'big.safetensors')];
    // Adam's two float32 buffers alone pass 2 GiB at 8,500 units: bf16 weights would not do
    const over = await cli([...big, '--hidden', '8500']);
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(/more than the 2,147,483,647 \(2 GiB\) that deeprnn reads; use a smaller model\n$/);
    // at 8,000 units they would (12 bytes a weight with Adam's two buffers; 10 with bf16 weights)
    const near = await cli([...big, '--hidden', '8000']);
    expect(near.code).toBe(2);
    expect(near.stderr).toMatch(/; save the weights with --save-dtype bf16 \(half their bytes\) or use a smaller model\n$/);
  });

  it('refuses another dtype', async () => {
    const out = path.join(dir, 'save-bad.safetensors');
    const r = await cli(['train', ...small, '--save-dtype', 'fp16', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('deeprnn: error: --save-dtype must be one of fp32|bf16, got "fp16"\n');
    expect(existsSync(out)).toBe(false);
  });
});

describe('bench --precision bf16', () => {
  it('gives each training row fp32 and bf16 side by side, and generation no bf16 figures', async () => {
    const r = await cli(['bench', '--precision', 'bf16', '--configs', 'A,D', '--threads', '1', '--batches', '1', '--warmup', '0', '--repeat', '1', '--no-torch', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { machine: { bf16: string }; bf16PeakGflops: Record<string, number | null>; results: Record<string, unknown>[] };
    expect(out.machine.bf16).toBe(info.bf16);
    expect(Object.keys(out)).toEqual(['machine', 'fmaPeakGflops', 'bf16PeakGflops', 'results']);
    const [a, d] = out.results as { tokensPerSec: number; bf16TokensPerSec: number | null; bf16Speedup: number | null; bf16Path: string | null; bf16PeakPercent: number | null }[];
    expect(a!.bf16Path).toBe(info.bf16);
    expect(a!.bf16TokensPerSec).toBeGreaterThan(0);
    expect(a!.bf16Speedup).toBeCloseTo(a!.bf16TokensPerSec! / a!.tokensPerSec, 10);
    expect(d!.bf16TokensPerSec).toBeNull();
    expect(d!.bf16PeakPercent).toBeNull();
    // vdpbf16ps's peak is measured where the products run on it (bench/fma_peak.cc THREADS bf16), and nowhere else.
    if (info.bf16 === 'avx512bf16') {
      // built with g++ -mavx512bf16 (bench/fma_peak.cc); null, and the column empty, where it cannot be
      const peak = out.bf16PeakGflops['1'] ?? null;
      if (peak === null) {
        console.log('bench: the vdpbf16ps peak could not be built here (g++ with -mavx512bf16)');
        expect(a!.bf16PeakPercent).toBeNull();
      } else {
        expect(peak).toBeGreaterThan(0);
        expect(a!.bf16PeakPercent).toBeGreaterThan(0);
        expect(r.stderr).toMatch(/^vdpbf16ps peak GFLOP\/s: 1 thread \d+\.\d$/m);
      }
    } else {
      expect(out.bf16PeakGflops['1']).toBeNull();
      expect(a!.bf16PeakPercent).toBeNull();
      expect(r.stderr).toContain(`vdpbf16ps peak GFLOP/s: not measured (bf16 products ${info.bf16})`);
    }
    expect(Object.keys(a!)).toContain('torchBf16TokensPerSec');
    expect(Object.keys(a!)).not.toContain('precision');
  });
});

describe('--precision refused', () => {
  it.each([
    [['train', ...small, '--precision', 'fp16'], 'deeprnn: error: --precision must be one of fp32|bf16, got "fp16"\n'],
    [['train', ...small, '--precision', 'bf16', '--impl', 'scratch'], 'deeprnn: error: --precision bf16 needs --impl native: the scratch model computes in float64\n'],
    [['train', '--resume', ck, '--precision', 'fp32'], "deeprnn: error: --precision cannot be given with --resume: the run's settings come from the checkpoint\n"],
    // (the precision is the checkpoint's: the message says so rather than blame an option not given)
    [['train', '--resume', ck, '--impl', 'scratch', '--epochs', '9'],
      `deeprnn: error: the checkpoint ${ck} trained with --precision bf16, which needs --impl native: the scratch model computes in float64\n`],
    [['eval', ck, '--corpus', TIMEMACHINE, '--precision', 'bf17'], 'deeprnn: error: --precision must be one of fp32|bf16, got "bf17"\n'],
  ])('%j', async (args, message) => {
    const out = path.join(dir, 'refused.safetensors');
    const r = await cli(args[0] === 'train' && !args.includes('--resume') ? [...args, '--out', out] : args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(message);
    expect(existsSync(out)).toBe(false);
  });

  it('DEEPRNN_BF16 names a path this CPU runs', async () => {
    const r = await cli(['predict', 'a', '--model', ck], { env: { DEEPRNN_BF16: 'amx16' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('deeprnn: error: DEEPRNN_BF16 must be one of avx512bf16|amx|emulated|amx-model, got "amx16"\n');
    if (!info.bf16Amx) {
      const amx = await cli(['predict', 'a', '--model', ck], { env: { DEEPRNN_BF16: 'amx' } });
      expect(amx.code).toBe(2);
      expect(amx.stderr).toBe('deeprnn: error: DEEPRNN_BF16=amx is not supported by this CPU and OS (AMX-BF16 tiles)\n');
    }
  });

  it('DEEPRNN_BF16=amx-model trains on the AMX path\'s code (its tiles modelled), with a note, to the fallback\'s figures within rounding', async () => {
    const args = ['train', ...small, '--precision', 'bf16', '--json'];
    const model = await cli([...args, '--out', path.join(dir, 'amx-model.safetensors')], { env: { DEEPRNN_BF16: 'amx-model' } });
    expect(model.code, model.stderr).toBe(0);
    expect(model.stderr).toContain('note: bf16 products run on a software model of the AMX tiles (DEEPRNN_BF16=amx-model): the AMX path\'s results, far slower\n');
    const fallback = await cli([...args, '--out', path.join(dir, 'amx-fallback.safetensors')], { env: { DEEPRNN_BF16: 'emulated' } });
    expect(fallback.code, fallback.stderr).toBe(0);
    const figures = (out: string) => {
      const r = JSON.parse(out.trim().split('\n').pop()!) as { trainPpl: number; valPpl: number; bestValPpl: number };
      return [r.trainPpl, r.valPpl, r.bestValPpl];
    };
    expect(figures(model.stdout).every((x) => x > 1)).toBe(true);
    figures(model.stdout).forEach((x, i) => expect(Math.abs(x - figures(fallback.stdout)[i]!) / x).toBeLessThan(1e-4));
  });
});
