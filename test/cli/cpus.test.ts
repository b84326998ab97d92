// The addon as npm builds it, on x86-64 CPUs other than this one: Node and the
// CLI run under qemu-x86_64 (Debian's qemu-user) as a baseline x86-64 (qemu64:
// SSE2, no AVX) and as a Haswell (AVX2 and FMA, no AVX-512). Each must find
// the kernel tables it has and no other, train in fp32 and bf16, and give the
// weights that the same table forced here (DEEPRNN_SIMD) gives, bit for bit.
// Skipped, with the reason, where this is not x86-64 or qemu-x86_64 is missing.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint } from '../../src/io/checkpoint.js';
import { native } from '../../src/native.js';
import { BIN, TIMEMACHINE } from '../helpers/paths.js';
import { cli, run } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

/** qemu-x86_64's version as [major, minor], or null when it is not installed. */
function qemuVersion(): [number, number] | null {
  try {
    const m = /version (\d+)\.(\d+)/.exec(execFileSync('qemu-x86_64', ['--version'], { encoding: 'utf8' }));
    return m ? [Number(m[1]), Number(m[2])] : null;
  } catch {
    return null;
  }
}

const qemu = process.arch === 'x64' ? qemuVersion() : null;
const why = process.arch !== 'x64' ? 'not an x86-64 machine' : !qemu ? 'qemu-x86_64 is not installed (Debian: qemu-user)' : '';
if (why) console.log(`test/cli/cpus.test.ts: skipping the runs on other x86-64 CPUs: ${why}`);
// The Haswell needs a qemu that emulates AVX2 (7.2 and later) and a host whose avx2 table gives the weights to compare with.
const hostTables = native().info().simdAvailable;
const haswellWhy = why || (qemu![0] * 100 + qemu![1] < 702 ? `qemu ${qemu!.join('.')} does not emulate AVX2 (7.2 does)`
  : !hostTables.includes('avx2') ? 'this CPU has no avx2 table to compare with' : '');
if (!why && haswellWhy) console.log(`test/cli/cpus.test.ts: skipping the Haswell: ${haswellWhy}`);

const dir = tmpDir();
const small = ['--corpus', TIMEMACHINE, '--hidden', '16', '--num-train', '64', '--num-val', '32', '--batch-size', '16', '--num-steps', '16', '--epochs', '2'];

/** The CLI under qemu-x86_64 as `cpu`, without TCG's warnings about the model's features it does not emulate. */
async function onCpu(cpu: string, args: string[]) {
  const r = await run('qemu-x86_64', ['-cpu', cpu, process.execPath, BIN, ...args]);
  return { ...r, stderr: r.stderr.split('\n').filter((l) => !l.includes("TCG doesn't support")).join('\n') };
}

const weights = (file: string) => Buffer.from(loadTrainingCheckpoint(file).model.params.buffer);

describe.skipIf(why !== '')('other x86-64 CPUs, under qemu-x86_64', () => {
  it.each([
    ['qemu64', 'scalar', 'scalar'],
    ...(haswellWhy ? [] : [['Haswell-v4', 'avx2', 'scalar, avx2']]),
  ])('as %s: finds the %s table (of %s), trains in fp32 and bf16 and gives the weights of that table forced here', async (cpu, table, available) => {
    const version = await onCpu(cpu, ['--version']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toContain(`(simd ${table}; available ${available};`);
    expect(version.stdout).toContain(`bf16 emulated (${table})`);
    for (const precision of ['fp32', 'bf16']) {
      const there = path.join(dir, `${cpu}-${precision}.safetensors`);
      const here = path.join(dir, `${cpu}-${precision}-here.safetensors`);
      const r = await onCpu(cpu, ['train', ...small, '--precision', precision, '--out', there]);
      expect(r.code, r.stderr).toBe(0);
      if (precision === 'bf16') expect(r.stderr).toContain('note: ');
      // here: the same table, and bf16 products by its fallback (bitwise the instruction's where the CPU has it)
      const h = await cli(['train', ...small, '--precision', precision, '--out', here], { env: { DEEPRNN_SIMD: table, DEEPRNN_BF16: 'emulated' } });
      expect(h.code, h.stderr).toBe(0);
      expect(weights(there).equals(weights(here)), `${cpu} ${precision}: the weights differ from DEEPRNN_SIMD=${table}'s here`).toBe(true);
    }
    const predict = ['predict', 'it has', '--model', path.join(dir, `${cpu}-fp32.safetensors`), '--num-preds', '10'];
    const p = await onCpu(cpu, predict);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^it has[\s\S]{10}\n$/);
    expect(p.stdout).toBe((await cli(predict, { env: { DEEPRNN_SIMD: table } })).stdout);
  }, 240_000);
});
