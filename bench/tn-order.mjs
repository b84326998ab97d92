// The weight gradients (C += A^T B) of configs A, B and C on one thread, each
// GEMM table going across the columns (the order before 2026-12-04,
// _gemmTnAcross(true)) and down the rows (the order now, for short tiles
// with four segments and sixteen row tiles or more) sample by sample:
// GFLOP/s, medians of REPS samples of about 3 ms, and their ratio. A tall
// tile, or a shape that goes across either way, gives a ratio of about 1.
//
//   node bench/tn-order.mjs [TABLE[,TABLE...]] [REPS]
//
// TABLE as in bench/gemm.mjs (default: every set's own table and its AVX-512
// tiles). Asserts nothing.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { native } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href);
const nat = native();
nat.setThreads(1);
const [only, reps = '11'] = process.argv.slice(2);
const info = nat.info();
const tables = only ? only.split(',') : info.simdAvailable.flatMap((s) => (s === 'avx512' ? info.gemmTiles[s].slice(0, 2).map((t) => `${s}:${t}`) : [s]));
// M x N x K of each weight gradient: gates x inputs x tokens
const SHAPES = [['A dW_hh', 96, 32, 2048], ['B dW', 1024, 256, 2048], ['C dW', 2048, 512, 1250], ['C dW_out', 65, 512, 2500]];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const before = nat._gemmTnAcross(false);  // (the setting before, put back at the end)
try {
  for (const [what, M, N, K] of SHAPES) {
    const A = new Float32Array(K * M).map(() => Math.random() - 0.5);
    const B = new Float32Array(K * N).map(() => Math.random() - 0.5);
    const C = new Float32Array(M * N);
    for (const table of tables) {
      const timer = (across) => {
        let inner = 1;
        const run = () => {
          nat._gemmTnAcross(across);
          const t0 = performance.now();
          for (let i = 0; i < inner; i++) nat._gemm(table, true, C, A, B, M, N, K, false);
          return (performance.now() - t0) / inner;
        };
        inner = Math.max(1, Math.round(3 / run()));
        for (let i = 0; i < 3; i++) run();
        return run;
      };
      const runs = [timer(true), timer(false)];
      const samples = [[], []];
      for (let r = 0; r < Number(reps); r++) runs.forEach((run, i) => samples[i].push(run()));
      const [across, down] = samples.map((x) => (2 * M * N * K) / median(x) / 1e6);
      console.log(`${table.padEnd(13)} ${what.padEnd(9)} tn ${M}x${N}x${K}`.padEnd(46)
        + `across ${across.toFixed(1)}, down ${down.toFixed(1)} GFLOP/s (${(down / across).toFixed(3)}x)`);
    }
  }
} finally {
  nat._gemmTnAcross(before);
}
