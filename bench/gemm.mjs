// GEMM shapes on one thread, each kernel table: GFLOP/s (median of REPS
// samples of about 2 ms each), so that the figures
// quoted in native/simd/gemm_impl.h and README.md can be measured again.
//
//   node bench/gemm.mjs [TABLE[,TABLE...]] [REPS] [KIND]
//
// Several tables take turns sample by sample on each shape. TABLE: one of
// native().info().simdAvailable, or SET:TILE for one of its GEMM
// variants (info().gemmTiles; default: every set and variant), or bf16:PATH
// for a bf16 product path (bf16:avx512bf16, bf16:avx512 for the fallback on
// avx512's vectors...; B packed as it is read). The
// shapes are those of configs A, B and C (npm run bench) per product: M x N x K,
// "tn" for a weight gradient (C += A^T B), "dh" the recurrent product's input gradient
// (KIND nn or tn: those shapes only). Asserts nothing.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { native } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href);
const nat = native();
nat.setThreads(1);
const [only, reps = '20', kindOnly] = process.argv.slice(2);
if (kindOnly !== undefined && kindOnly !== 'nn' && kindOnly !== 'tn') {
  console.error(`bench/gemm.mjs: KIND must be nn or tn, got "${kindOnly}"`);
  process.exit(2);
}
const info = nat.info();
const tables = only ? only.split(',') : info.simdAvailable.flatMap((s) => info.gemmTiles[s].map((t) => `${s}:${t}`));
const SHAPES = [
  ['A recurrent', 'nn', 64, 96, 32], ['A output', 'nn', 2048, 28, 32], ['A dW_hh', 'tn', 96, 32, 2048],
  ['B recurrent', 'nn', 32, 1024, 256], ['B dh', 'nn', 32, 256, 1024], ['B input', 'nn', 2048, 1024, 256],
  ['B dx', 'nn', 2048, 256, 1024], ['B dW', 'tn', 1024, 256, 2048], ['C recurrent', 'nn', 25, 2048, 512],
  ['C dh', 'nn', 25, 512, 2048], ['C input', 'nn', 1250, 2048, 512], ['C dx', 'nn', 1250, 512, 2048],
  ['C dW', 'tn', 2048, 512, 1250],
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
// Shape by shape, the tables taking turns sample by sample, so that a slow
// spell of the machine falls on all of them (before, each table ran all its
// shapes in turn, and a spell made one tile look slower on every shape).
for (const [what, kind, M, N, K] of SHAPES.filter(([, k]) => !kindOnly || k === kindOnly)) {
  const A = new Float32Array(M * K).map(() => Math.random() - 0.5);
  const B = new Float32Array(K * N).map(() => Math.random() - 0.5);
  const C = new Float32Array(M * N);
  // Each sample is enough calls to take about 2 ms: a single call of the
  // small products (0.1 ms) is too short to time against the call's cost.
  const runs = tables.map((table) => {
    let inner = 1;
    const run = () => {
      const t0 = performance.now();
      for (let i = 0; i < inner; i++) {
        if (table.startsWith('bf16:')) nat._gemmBf16(table.slice(5), kind === 'tn', false, C, A, B, M, N, K, false);
        else nat._gemm(table, kind === 'tn', C, A, B, M, N, K, false);
      }
      return (performance.now() - t0) / inner;
    };
    inner = Math.max(1, Math.round(2 / run()));
    for (let i = 0; i < 3; i++) run();
    return run;
  });
  const samples = tables.map(() => []);
  for (let r = 0; r < Number(reps); r++) runs.forEach((run, t) => samples[t].push(run()));
  tables.forEach((table, t) => {
    const ms = median(samples[t]);
    console.log(`${table.padEnd(15)} ${what.padEnd(12)} ${kind} ${M}x${N}x${K}`.padEnd(50) + `${((2 * M * N * K) / ms / 1e6).toFixed(1)} GFLOP/s`);
  });
}
