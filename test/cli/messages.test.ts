// The remaining user-facing messages, each asserted.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, QUICK } from '../helpers/cli.js';
import { notCamelCase } from '../helpers/keys.js';
import { native } from '../../src/native.js';
import { BIN } from '../helpers/paths.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const line = async (args: string[], env?: Record<string, string>) => {
  const r = await cli(args, { env });
  return { code: r.code, err: r.stderr.trim() };
};

describe('messages', () => {
  it('train: --save-every and sequential batching that the text cannot hold', async () => {
    expect(await line(['train', '--save-every', '5x'])).toEqual({
      code: 2, err: 'deeprnn: error: --save-every must be a number of epochs (e.g. 5) or of steps (e.g. 200s), got "5x"',
    });
    expect(await line(['train', '--batching', 'sequential', '--num-train', '170000', '--num-val', '3400', '--out', path.join(dir, 'n.safetensors')])).toEqual({
      code: 2, err: 'deeprnn: error: sequential batching needs --num-train + --num-val + 2 * --num-steps = 173464 tokens, the corpus has 173428',
    });
  });

  it('numbers are read as decimals, as whole numbers are (before, --lr 0x10 trained at 16 and --temperature 0b1 sampled at 1)', async () => {
    expect(await line(['train', '--lr', '0x10'])).toEqual({ code: 2, err: 'deeprnn: error: --lr must be a positive number, got "0x10"' });
    expect(await line(['predict', 'it', '--temperature', '0b1'])).toEqual({ code: 2, err: 'deeprnn: error: --temperature must be a number >= 0, got "0b1"' });
  });

  it('an argument that begins with "-" is told how to pass (a prefix "-5 apples": before, only "unknown option")', async () => {
    expect(await line(['predict', '-5 apples'])).toEqual({ code: 2, err: 'deeprnn: error: unknown option \'-5 apples\' '
      + '(an argument that begins with "-" goes last, after the options and --: deeprnn predict [options] -- "-5 apples")' });
    expect(await line(['predict', '--temprature', '1', 'it'])).toEqual({ code: 2, err: "deeprnn: error: unknown option '--temprature' (did you mean --temperature?)" });
    // the command that failed is the one named; one that takes no argument gets no such advice
    expect(await line(['serve', '-my dir'])).toEqual({ code: 2, err: 'deeprnn: error: unknown option \'-my dir\' '
      + '(an argument that begins with "-" goes last, after the options and --: deeprnn serve [options] -- "-my dir")' });
    expect(await line(['train', '-5x'])).toEqual({ code: 2, err: "deeprnn: error: unknown option '-5x'" });
    const none = path.join(dir, 'none.safetensors');
    expect(await line(['predict', '--model', none, '--', '-5 apples'])).toEqual({
      code: 2, err: `deeprnn: error: checkpoint ${none} does not exist (train one with "deeprnn train --out ${none}")` });
  });

  it('eval: a missing baseline and a text too short to score', async () => {
    const model = path.join(dir, 'm.safetensors');
    expect((await cli(['train', ...QUICK, '--epochs', '1', '--out', model])).code).toBe(0);
    const missing = path.join(dir, 'none.json');
    expect(await line(['eval', model, '--corpus', 'timemachine', '--baseline', missing])).toEqual({
      code: 2, err: `deeprnn: error: --baseline ${missing} does not exist (write one with --write-baseline)`,
    });
    const one = path.join(dir, 'one.txt');
    writeFileSync(one, 'a');
    expect(await line(['eval', model, '--corpus', one])).toEqual({
      code: 2, err: `deeprnn: error: --corpus ${one} is 1 token under the checkpoint's tokenizer (d2l); evaluation needs at least 2`,
    });
  });

  it('plot: the output name and malformed metrics files', async () => {
    const metrics = path.join(dir, 'bad.metrics.jsonl');
    writeFileSync(metrics, '{"epoch": 1, "val_ppl": 3}\nnot json\n');
    expect(await line(['plot', metrics, '-o', path.join(dir, 'x.png')])).toEqual({
      code: 2, err: `deeprnn: error: --out must name an .svg file, got "${path.join(dir, 'x.png')}"`,
    });
    expect(await line(['plot', metrics, '-o', path.join(dir, 'x.svg')])).toEqual({
      code: 2, err: `deeprnn: error: metrics file ${metrics}: line 2 is not JSON`,
    });
    writeFileSync(metrics, '{"epoch": 0}\n');
    expect((await line(['plot', metrics, '-o', path.join(dir, 'x.svg')])).err).toBe(`deeprnn: error: metrics file ${metrics}: line 1 has no valid "epoch"`);
    writeFileSync(metrics, '\n');
    expect((await line(['plot', metrics, '-o', path.join(dir, 'x.svg')])).err).toBe(`deeprnn: error: metrics file ${metrics} has no epochs`);
    writeFileSync(metrics, '{"epoch": 1}\n{"epoch": 2, "valPpl": null}\n');
    expect(await line(['plot', metrics, '-o', path.join(dir, 'x.svg')])).toEqual({
      code: 2, err: `deeprnn: error: metrics file ${metrics} has no epoch with a finite perplexity (trainPpl or valPpl): nothing to plot`,
    });
    expect(existsSync(path.join(dir, 'x.svg'))).toBe(false);
  });

  it('bench: runs each configuration --repeat times and reports the median run', async () => {
    const r = await cli(['bench', '--configs', 'A,D', '--threads', '1', '--batches', '1', '--warmup', '0', '--repeat', '3', '--no-torch', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { results: { config: string; tokensPerSec: number; runs: number[]; peakRssMb: number; gemmTile: string | null }[] };
    expect(notCamelCase(out, ['$.fmaPeakGflops'])).toEqual([]);
    expect(out.results.map((x) => x.config)).toEqual(['A', 'D']);
    expect(Object.keys(out)).toEqual(['machine', 'fmaPeakGflops', 'results']);
    // the tile A's measuring process ran (each times its own); generation (D) runs no GEMM tile of note
    const info = native().info();
    expect(info.gemmTiles[info.simd]).toContain(out.results[0]!.gemmTile);
    expect(out.results[1]!.gemmTile).toBeNull();
    for (const row of out.results) {
      // The CSV's figures, and the lists of runs.
      expect(Object.keys(row).sort()).toEqual(['config', 'gemmTile', 'gflops', 'peakPercent', 'peakRssMb', 'ratio', 'runs', 'seconds', 'simd', 'teams', 'threads',
        'tokensPerSec', 'torchError', 'torchPeakRssMb', 'torchRuns', 'torchTokensPerSec']);
      expect(row.runs).toHaveLength(3);
      expect(row.runs.every((x) => x > 0)).toBe(true);
      expect(row.tokensPerSec).toBe([...row.runs].sort((a, b) => a - b)[1]);
      expect(row.peakRssMb).toBeGreaterThan(0);
    }
    expect(await line(['bench', '--repeat', '0', '--no-torch'])).toEqual({ code: 2, err: 'deeprnn: error: --repeat must be an integer from 1 to 100, got "0"' });
  });

  it("bench: a PyTorch run that gives no rate, or is killed, says so (before: '-' with no word, or 'failed: ' with nothing after)", async () => {
    // A stand-in for PyTorch's python (DEEPRNN_TORCH_PYTHON): `-c "import torch"` succeeds, the measurement prints {} or is killed.
    const fake = (name: string, body: string) => {
      const f = path.join(dir, name);
      writeFileSync(f, `#!/bin/sh\n[ "$1" = -c ] && exit 0\n${body}\n`, { mode: 0o755 });
      return f;
    };
    const args = ['bench', '--configs', 'A', '--threads', '1', '--batches', '1', '--warmup', '0', '--json'];
    const none = JSON.parse((await cli(args, { env: { DEEPRNN_TORCH_PYTHON: fake('norate', "echo '{}'") } })).stdout);
    expect(none.results[0].torchError).toBe('bench/torch_bench.py gave no rate (tokens/s null; exit 0)');
    const killed = JSON.parse((await cli(args, { env: { DEEPRNN_TORCH_PYTHON: fake('killed', 'kill -9 $$') } })).stdout);
    expect(killed.results[0].torchError).toBe('bench/torch_bench.py failed: killed by SIGKILL');
  });

  it.skipIf(process.platform !== 'linux')('bench: a measurement child ends when bench is killed by its pid alone (before: it ran on, a core busy)', async () => {
    const child = spawn(process.execPath, [BIN, 'bench', '--configs', 'C', '--threads', '1', '--batches', '100000', '--warmup', '0', '--no-torch'],
      { stdio: 'ignore' });
    /** A process's state and parent from /proc (null: gone). */
    const stat = (pid: number) => {
      try {
        const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const [state, ppid] = t.slice(t.lastIndexOf(')') + 2).split(' ');
        return { state: state!, ppid: Number(ppid) };
      } catch {
        return null;
      }
    };
    const kids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => stat(p)?.ppid === child.pid);
    let measuring: number[] = [];
    for (let i = 0; i < 200 && measuring.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      measuring = kids();
    }
    expect(measuring).toHaveLength(1);
    child.kill('SIGTERM');
    // (a zombie that no one reaps, as under a pid 1 that reaps nothing, has ended)
    const alive = () => { const st = stat(measuring[0]!); return st !== null && st.state !== 'Z'; };
    for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });

  it('bench: unknown configurations and thread lists', async () => {
    expect(await line(['bench', '--configs', 'A,Z', '--no-torch'])).toEqual({ code: 2, err: 'deeprnn: error: --configs must list names from A,B,C,D, got "Z"' });
    expect(await line(['bench', '--configs', 'A,a', '--no-torch'])).toEqual({ code: 2, err: 'deeprnn: error: --configs names A twice: each configuration runs once' });
    expect(await line(['bench', '--threads', ',', '--no-torch'])).toEqual({ code: 2, err: 'deeprnn: error: --threads must be a comma-separated list, got ","' });
    expect(await line(['bench', '--threads', '', '--no-torch'])).toEqual({ code: 2, err: 'deeprnn: error: --threads must be a comma-separated list, got ""' });
    // an empty entry is a slip (before, "A,,B" and "1,,2" ran as if it were not there)
    expect(await line(['bench', '--configs', 'A,,B', '--no-torch'])).toEqual({ code: 2, err: 'deeprnn: error: --configs must be a list separated by single commas, got "A,,B"' });
    expect(await line(['bench', '--threads', '1,', '--no-torch'])).toEqual({ code: 2, err: 'deeprnn: error: --threads must be a list separated by single commas, got "1,"' });
    expect(await line(['bench', '--one', 'Z'])).toEqual({ code: 2, err: 'deeprnn: error: --one must be one of A,B,C,D, got "Z"' });
  });

  it('a missing addon says how to rebuild it', async () => {
    const gone = path.join(dir, 'nowhere', 'deeprnn.node');
    const r = await line(['train', '--epochs', '1'], { DEEPRNN_ADDON: gone });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`deeprnn: error: the native addon is missing at ${gone} (named by DEEPRNN_ADDON); build it there or unset DEEPRNN_ADDON`);
    const v = await cli(['--version'], { env: { DEEPRNN_ADDON: gone } });
    expect(v.stdout).toMatch(/^deeprnn \d+\.\d+\.\d+ \(native addon unavailable: /);
  });
});
