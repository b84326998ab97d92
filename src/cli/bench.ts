// deeprnn bench: the fixed configurations, each measured in its own process
// (so peak RSS and thread settings do not mix), beside PyTorch when it is
// installed and the machine's FMA peak. Prints numbers, asserts nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDirs } from '../io/files.js';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { BENCH_CONFIGS, type BenchConfig } from '../bench/configs.js';
import { measure, type Measurement } from '../bench/measure.js';
import { native, PRECISIONS, type Precision } from '../native.js';
import { UsageError } from './errors.js';
import { plural } from '../validate.js';
import { addOptions, formatOptions, intOption, outputFormat, threadsOption } from './options.js';
import { note, RecordStream, write, type Column } from './output.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface TorchResult {
  tokensPerSec?: number;
  peakRssMb?: number;
  error?: string;
}

/** A row of the bench: deeprnn's median run (a Measurement), beside PyTorch's. */
export interface BenchRow extends Omit<Measurement, 'teams' | 'gemmTile' | 'precision' | 'bf16Path'> {
  /** Training: how the batch ran, teams x threads per team; null for generation. */
  teams: string | null;
  /** Training: the GEMM tile the median run's process kept (each times its own); null for generation. */
  gemmTile: string | null;
  /** tokens/s of every run (the median one is reported) */
  runs: number[];
  /** Percent of the machine's FMA peak, at this thread count (null when it could not be measured). */
  peakPercent: number | null;
  /** PyTorch's median run (null when it was not run, or refused), every run, and why it refused. */
  torchTokensPerSec: number | null;
  torchPeakRssMb: number | null;
  torchRuns: number[] | null;
  torchError: string | null;
  /** deeprnn's tokens/s over PyTorch's. */
  ratio: number | null;
  /**
   * With --precision bf16 (training configurations): deeprnn's median bf16 run and every run, its
   * speed-up over fp32, the bf16 path; PyTorch's median run under bf16 autocast, every run, and
   * deeprnn bf16 over PyTorch bf16. Absent without --precision bf16; null where not measured.
   */
  bf16TokensPerSec?: number | null;
  bf16Runs?: number[] | null;
  bf16Speedup?: number | null;
  torchBf16TokensPerSec?: number | null;
  torchBf16Runs?: number[] | null;
  bf16Ratio?: number | null;
  bf16Path?: string | null;
  /** The bf16 run's GFLOP/s as a percent of the machine's vdpbf16ps peak (null without AVX512-BF16). */
  bf16PeakPercent?: number | null;
}

const fmt = (x: number | null | undefined, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

/** The table as the terminal shows it, each column of a fixed width (rows are printed as they are measured). */
const BENCH_COLUMNS: Column<BenchRow>[] = [
  { key: 'config', header: 'config', width: 8 },
  { key: 'threads', header: 'threads', width: 9 },
  { key: 'teams', header: 'teams', width: 7 },
  { key: 'tokensPerSec', header: 'tokens/s', text: (r) => fmt(r.tokensPerSec), width: 13 },
  { key: 'gflops', header: 'GFLOP/s', text: (r) => fmt(r.gflops, 1), width: 9 },
  { key: 'peakPercent', header: '%peak', text: (r) => fmt(r.peakPercent, 1), width: 7 },
  { key: 'peakRssMb', header: 'RSS MB', text: (r) => fmt(r.peakRssMb), width: 8 },
  { key: 'torchTokensPerSec', header: 'PyTorch tokens/s', text: (r) => (r.torchError ? 'refused' : fmt(r.torchTokensPerSec)), width: 18 },
  { key: 'ratio', header: 'ratio', text: (r) => (r.ratio ? `${r.ratio.toFixed(2)}x` : '-') },
];

const times = (x: number | null | undefined) => (x ? `${x.toFixed(2)}x` : '-');
/** With --precision bf16: fp32 and bf16 side by side, each beside PyTorch's (fp32, and bf16 autocast). */
const BENCH_BF16_COLUMNS: Column<BenchRow>[] = [
  { key: 'config', header: 'config', width: 8 },
  { key: 'threads', header: 'threads', width: 9 },
  { key: 'teams', header: 'teams', width: 7 },
  { key: 'tokensPerSec', header: 'fp32 tok/s', text: (r) => fmt(r.tokensPerSec), width: 12 },
  { key: 'bf16TokensPerSec', header: 'bf16 tok/s', text: (r) => fmt(r.bf16TokensPerSec), width: 12 },
  { key: 'bf16Speedup', header: 'bf16/fp32', text: (r) => times(r.bf16Speedup), width: 11 },
  { key: 'bf16PeakPercent', header: 'bf16 %peak', text: (r) => fmt(r.bf16PeakPercent, 1), width: 12 },
  { key: 'torchTokensPerSec', header: 'PyTorch fp32', text: (r) => (r.torchError ? 'refused' : fmt(r.torchTokensPerSec)), width: 14 },
  { key: 'torchBf16TokensPerSec', header: 'PyTorch bf16', text: (r) => (r.torchError ? 'refused' : fmt(r.torchBf16TokensPerSec)), width: 14 },
  { key: 'ratio', header: 'fp32 ratio', text: (r) => times(r.ratio), width: 12 },
  { key: 'bf16Ratio', header: 'bf16 ratio', text: (r) => times(r.bf16Ratio) },
];

/** CSV: every figure of a row but the lists of runs (which JSON has). */
const BENCH_CSV_COLUMNS: Column<BenchRow>[] = ([
  'config', 'threads', 'simd', 'teams', 'gemmTile', 'tokensPerSec', 'gflops', 'peakPercent', 'seconds', 'peakRssMb',
  'torchTokensPerSec', 'torchPeakRssMb', 'ratio', 'torchError',
] as const).map((key) => ({ key, header: key }));
const BENCH_BF16_CSV_COLUMNS: Column<BenchRow>[] = [...BENCH_CSV_COLUMNS, ...([
  'bf16Path', 'bf16TokensPerSec', 'bf16Speedup', 'bf16PeakPercent', 'torchBf16TokensPerSec', 'bf16Ratio',
] as const).map((key) => ({ key, header: key }))];

function parseList<T>(name: string, raw: string, parse: (s: string) => T): T[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.every((s) => s === '')) throw new UsageError(`${name} must be a comma-separated list, got "${raw}"`);
  // (an empty entry, "A,,B" or "1,", is a slip, as compare's --cells takes it)
  if (items.includes('')) throw new UsageError(`${name} must be a list separated by single commas, got "${raw}"`);
  return items.map(parse);
}

function configByName(name: string, option = '--configs'): BenchConfig {
  const c = BENCH_CONFIGS.find((x) => x.name === name.toUpperCase());
  const names = BENCH_CONFIGS.map((x) => x.name).join(',');
  if (!c) throw new UsageError(option === '--configs' ? `--configs must list names from ${names}, got "${name}"` : `${option} must be one of ${names}, got "${name}"`);
  return c;
}

/**
 * GFLOP/s of bench/fma_peak.cc on `threads` threads (bf16: its vdpbf16ps chains, built with
 * AVX512-BF16), or why it cannot be built or run here.
 */
function fmaPeak(threads: number, bf16 = false): { gflops: number } | { why: string } {
  const simd = native().info().simdAvailable;
  const flags = bf16 ? ['-mavx512f', '-mavx512bf16']
    : simd.includes('avx512') ? ['-mavx512f', '-mfma'] : simd.includes('avx2') ? ['-mavx2', '-mfma'] : [];
  const dir = path.join(ROOT, 'build', 'bench');
  const source = path.join(ROOT, 'bench', 'fma_peak.cc');
  try {
    // Named by the source's hash (a changed source is built again), written under a name of its
    // own and then renamed (a killed build or another bench at the same time never runs half a file).
    const hash = createHash('sha1').update(readFileSync(source)).digest('hex').slice(0, 10);
    const exe = path.join(dir, `fma_peak-${bf16 ? 'avx512bf16' : flags.length ? simd[simd.length - 1] : 'scalar'}-${hash}`);
    if (!existsSync(exe)) {
      makeDirs(dir);
      const tmp = `${exe}.tmp-${process.pid}`;
      execFileSync('g++', ['-O2', '-fopenmp', ...flags, source, '-o', tmp], { stdio: 'pipe' });
      renameSync(tmp, exe);
    }
    const gflops = Number(execFileSync(exe, bf16 ? [String(threads), 'bf16'] : [String(threads)], { encoding: 'utf8', stdio: 'pipe' }).trim());
    return gflops > 0 ? { gflops } : { why: `${path.relative(ROOT, exe)} printed no rate` };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer | string };
    // (g++'s first line is often "In file included from ...": its first error is the reason)
    const lines = `${err.stderr ?? ''}`.trim().split('\n');
    const said = lines.find((l) => /error/i.test(l)) ?? lines[0];
    return {
      why: !existsSync(source) ? `${source} is missing`
        : err.code === 'ENOENT' && err.path === 'g++' ? 'g++ is not installed'
        : said || err.message.split('\n')[0]!,
    };
  }
}

const peakOf = (m: ReturnType<typeof fmaPeak>) => ('gflops' in m ? m.gflops : null);

function torchPython(): string | null {
  const py = process.env.DEEPRNN_TORCH_PYTHON ?? '/usr/bin/python3';
  const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
  return r.status === 0 ? py : null;
}

/**
 * The environment for a PyTorch process: this one's without the OpenBLAS
 * overrides some machines set (OPENBLAS_CORETYPE=Haswell holds it to AVX2
 * kernels, OPENBLAS_L2_SIZE to a small cache), which would flatter deeprnn.
 */
export function torchEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.OPENBLAS_CORETYPE;
  delete out.OPENBLAS_L2_SIZE;
  return out;
}

function runTorch(py: string, c: BenchConfig, threads: number, batches: number, warmup: number, autocast = false): TorchResult {
  const r = spawnSync(py, [path.join(ROOT, 'bench', 'torch_bench.py'), '--config', c.name, '--threads', String(threads),
    '--batches', String(batches), '--warmup', String(warmup), ...(autocast ? ['--autocast'] : [])], { encoding: 'utf8', env: torchEnv() });
  const failed = () => `bench/torch_bench.py failed: ${r.stderr.trim().split('\n').pop() || howEnded(r)}`;
  let j: Record<string, number | string>;
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, number | string>;
  } catch {
    return { error: failed() };
  }
  if (typeof j.error === 'string') return { error: j.error };
  const tokensPerSec = Number(j.train_tokens_per_s ?? j.gen_tokens_per_s);
  // (before, a result without a rate showed "-" with no word, and 0 as a rate)
  if (!(tokensPerSec > 0 && tokensPerSec < Infinity)) {
    return { error: `bench/torch_bench.py gave no rate (tokens/s ${JSON.stringify(j.train_tokens_per_s ?? j.gen_tokens_per_s ?? null)}; ${howEnded(r)})` };
  }
  return { tokensPerSec, peakRssMb: Number(j.peak_rss_mb) };
}

/** How a child ended: its exit code, or the signal that killed it (an OOM kill is SIGKILL). */
function howEnded(r: { status: number | null; signal: NodeJS.Signals | null }): string {
  return r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
}

function measureInChild(c: BenchConfig, threads: number, batches: number, warmup: number, precision: Precision = 'fp32'): Measurement {
  const r = spawnSync(process.execPath, [process.argv[1]!, 'bench', '--one', c.name, '--threads', String(threads),
    '--batches', String(batches), '--warmup', String(warmup), '--precision', precision], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`benchmark ${c.name} failed: ${r.stderr.trim() || howEnded(r)}`);
  return JSON.parse(r.stdout) as Measurement;
}

/** The median element of xs by key (the lower middle one for an even count). */
function medianBy<T>(xs: T[], key: (x: T) => number): T {
  const sorted = [...xs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export function registerBench(program: Command): void {
  const command = program
    .command('bench')
    .description('measure training and generation speed on fixed configurations (and PyTorch\'s, when installed)')
    .option('--configs <list>', 'configurations to run', BENCH_CONFIGS.map((c) => c.name).join(','))
    .option('--threads <list>', 'thread counts (default: 1 and all cores)')
    .addOption(new Option('--batches <n>', 'timed batches per training configuration').default(20))
    .addOption(new Option('--warmup <n>', 'untimed batches first').default(3))
    .addOption(new Option('--repeat <n>', 'runs of each side per row, taking turns; the table gives each side\'s median').default(3))
    .option('--no-torch', 'do not run PyTorch')
    .addOption(new Option('--precision <p>', 'fp32, or bf16: fp32 and bf16 side by side (bf16 products, float32 sums; PyTorch under bf16 autocast)').default('fp32'))
    // Internal (each configuration is measured in a child process that runs this): not in --help.
    .addOption(new Option('--one <name>', 'internal: measure one configuration in this process and print JSON').hideHelp());
  addOptions(command, formatOptions(['text', 'json', 'csv'], 'one row per configuration and thread count'))
    .action((raw: { configs: string; threads?: string; batches: string | number; warmup: string | number; repeat: string | number; torch: boolean; one?: string; precision: string },
      cmd: Command) => {
      const format = outputFormat(cmd, ['text', 'json', 'csv']);
      if (!PRECISIONS.includes(raw.precision as Precision)) throw new UsageError(`--precision must be one of ${PRECISIONS.join('|')}, got "${raw.precision}"`);
      const precision = raw.precision as Precision;
      const bf16 = precision === 'bf16';
      const batches = intOption('--batches', raw.batches, 1, 100_000);
      const repeat = intOption('--repeat', raw.repeat, 1, 100);
      const warmup = intOption('--warmup', raw.warmup, 0, 100_000);
      const cores = os.availableParallelism();
      // An empty value is a value (refused by the list's check), not "not given".
      const threads = raw.threads !== undefined
        ? [...new Set(parseList('--threads', raw.threads, (s) => threadsOption(s)))]
        : [...new Set([1, cores])];
      if (raw.one !== undefined) {
        write(JSON.stringify(measure(configByName(raw.one, '--one'), threads[0]!, batches, warmup, precision)) + '\n');
        return;
      }
      const configs = parseList('--configs', raw.configs, (name) => configByName(name));
      // (as eval's corpora and compare's cells: a row measured twice is a slip, not a request)
      const twice = configs.find((c, i) => configs.indexOf(c) !== i);
      if (twice) throw new UsageError(`--configs names ${twice.name} twice: each configuration runs once`);
      native().tuneGemm();  // as each measured process does at its first batch
      const info = native().info();
      const timing = Object.entries(info.gemmKindTiming).map(([t, ms]) => `${t} ${ms.nn.toFixed(2)} + ${ms.tn.toFixed(2)} ms`).join(', ');
      const py = raw.torch ? torchPython() : null;
      const measured = threads.map((t) => [t, fmaPeak(t)] as const);
      const peaks = new Map(measured.map(([t, m]) => [t, peakOf(m)]));
      // (the first reason a count could not be measured: the note is for that one)
      const peakWhy = measured.map(([, m]) => ('why' in m ? m.why : null)).find((w) => w !== null) ?? null;
      // The rate bf16 products can reach: vdpbf16ps's, where the products run on it.
      const bf16Peaks = new Map(threads.map((t) => [t, bf16 && info.bf16 === 'avx512bf16' ? peakOf(fmaPeak(t, true)) : null]));
      note(format, `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${plural(cores, 'core')}; deeprnn kernels ${info.simd}`
        + `${info.openmp ? '' : ' (no OpenMP)'}, GEMM tile ${info.gemmTile} (${info.gemmTileChoice}${timing ? `; A B + A^T B: ${timing}` : ''})${bf16 ? `, bf16 products ${info.bf16}` : ''}${info.whhPanels ? '' : ', W_hh in rows (DEEPRNN_PANELS=0)'}; PyTorch ${py ? 'found' : 'not run'}`);
      const perThreads = (m: Map<number, number | null>) => threads.map((t) => `${t} thread${t > 1 ? 's' : ''} ${fmt(m.get(t), 1)}`).join(', ');
      note(format, `FMA peak GFLOP/s: ${perThreads(peaks)}${peakWhy ? ` (not measured: ${peakWhy})` : ''}`);
      if (bf16) note(format, `vdpbf16ps peak GFLOP/s: ${info.bf16 === 'avx512bf16' ? perThreads(bf16Peaks) : `not measured (bf16 products ${info.bf16})`}`);
      const rows = new RecordStream<BenchRow>(format, {
        columns: bf16 ? BENCH_BF16_COLUMNS : BENCH_COLUMNS,
        csvColumns: bf16 ? BENCH_BF16_CSV_COLUMNS : BENCH_CSV_COLUMNS,
        json: { head: { machine: { cpu: os.cpus()[0]?.model, cores, simd: info.simd, gemmTile: info.gemmTile, gemmTileChoice: info.gemmTileChoice, whhPanels: info.whhPanels, openmp: info.openmp, ...(bf16 ? { bf16: info.bf16 } : {}) }, fmaPeakGflops: Object.fromEntries(peaks), ...(bf16 ? { bf16PeakGflops: Object.fromEntries(bf16Peaks) } : {}) }, key: 'results' },
      });
      rows.begin();
      for (const c of configs) {
        for (const t of threads) {
          // deeprnn and PyTorch take turns, `repeat` times each, so that a slow spell of the host
          // hits both; each side reports its median run (by tokens/s).
          // Generation has no bf16 path: its bf16 columns stay empty.
          const withBf16 = bf16 && !c.generate;
          const ours: Measurement[] = [];
          const theirs: TorchResult[] = [];
          const oursBf16: Measurement[] = [];
          const theirsBf16: TorchResult[] = [];
          for (let k = 0; k < repeat; k++) {
            ours.push(measureInChild(c, t, batches, warmup));
            if (withBf16) oursBf16.push(measureInChild(c, t, batches, warmup, 'bf16'));
            if (py) theirs.push(runTorch(py, c, t, batches, warmup));
            if (py && withBf16) theirsBf16.push(runTorch(py, c, t, batches, warmup, true));
          }
          const median = medianBy(ours, (m) => m.tokensPerSec);
          const failed = theirs.find((x) => x.error);
          const torch = py && !failed ? medianBy(theirs, (x) => x.tokensPerSec ?? 0) : undefined;
          const peak = peaks.get(t);
          // The fp32 row's keys as before; the precision shows in the bf16 columns.
          const { precision: _precision, bf16Path: _path, ...fp32 } = median;
          const row: BenchRow = {
            ...fp32,
            teams: median.teams ?? null,
            gemmTile: median.gemmTile ?? null,
            runs: ours.map((m) => m.tokensPerSec),
            peakPercent: peak ? (100 * median.gflops) / peak : null,
            torchTokensPerSec: torch?.tokensPerSec ?? null,
            torchPeakRssMb: torch?.peakRssMb ?? null,
            torchRuns: torch ? theirs.map((x) => x.tokensPerSec ?? 0) : null,
            torchError: failed?.error ?? null,
            ratio: torch?.tokensPerSec ? median.tokensPerSec / torch.tokensPerSec : null,
          };
          if (bf16) {
            const mb = withBf16 ? medianBy(oursBf16, (m) => m.tokensPerSec) : null;
            const failedBf16 = theirsBf16.find((x) => x.error);
            const tb = withBf16 && py && !failedBf16 ? medianBy(theirsBf16, (x) => x.tokensPerSec ?? 0) : null;
            Object.assign(row, {
              bf16TokensPerSec: mb?.tokensPerSec ?? null,
              bf16Runs: mb ? oursBf16.map((m) => m.tokensPerSec) : null,
              bf16Speedup: mb ? mb.tokensPerSec / median.tokensPerSec : null,
              bf16Path: mb?.bf16Path ?? null,
              bf16PeakPercent: mb && bf16Peaks.get(t) ? (100 * mb.gflops) / bf16Peaks.get(t)! : null,
              torchBf16TokensPerSec: tb?.tokensPerSec ?? null,
              torchBf16Runs: tb ? theirsBf16.map((x) => x.tokensPerSec ?? 0) : null,
              bf16Ratio: mb && tb?.tokensPerSec ? mb.tokensPerSec / tb.tokensPerSec : null,
            });
            if (failedBf16 && !row.torchError) row.torchError = failedBf16.error ?? null;
          }
          rows.add(row);
          if (row.torchError) note(format, `  PyTorch: ${row.torchError}`);
        }
      }
      note(format, 'teams: how a training batch ran, teams x threads per team (a team of more than one splits each chunk by hidden'
        + ' units); tokens/s: training tokens per second (D: generated tokens per second); GFLOP/s counts 2 per multiply-add'
        + ' of the recurrent, input and output products (a training step is 3x the forward; gate math and loss not counted)'
        + (bf16 ? `; bf16: bf16 operands with float32 sums (${info.bf16}), PyTorch under torch.autocast('cpu', dtype=torch.bfloat16); ratios are deeprnn over PyTorch at the same precision` : ''));
      rows.end();
    });
}
