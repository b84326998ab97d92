// The recurrent products of B and C by rows (25 and 50 of C's, 32 and 64 of
// B's), their input gradients, and C's input projection for one and two chunks,
// on one thread with each AVX-512 GEMM tile: GFLOP/s, medians of 9 samples of
// about 3 ms; in parentheses B in panels of 64 columns (_gemmPanels), the layout
// the recurrent products of layers of 128 units or more read. Where W_hh (C: 4 MiB) does not fit a core's L2, the rows per
// product decide how often it comes from beyond. Asserts nothing.
//
//   node bench/recurrent-shapes.mjs
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { native } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href);
const nat = native(); nat.setThreads(1);
const tiles = nat.info().gemmTiles.avx512;
if (!tiles) {
  console.log('recurrent-shapes: this CPU has no AVX-512 table');
  process.exit(0);
}
const tables = tiles.map((t) => `avx512:${t}`);
const shapes = [[25, 2048, 512], [50, 2048, 512], [24, 2048, 512], [25, 512, 2048], [50, 512, 2048], [32, 1024, 256], [64, 1024, 256], [1250, 2048, 512], [2500, 2048, 512]];
const med = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
for (const [M, N, K] of shapes) {
  const A = new Float32Array(M * K).map(() => Math.random() - 0.5), B = new Float32Array(K * N).map(() => Math.random() - 0.5), C = new Float32Array(M * N);
  const row = [];
  for (const t of tables) {
    let inner = 1;
    const run = () => { const t0 = performance.now(); for (let i = 0; i < inner; i++) nat._gemm(t, false, C, A, B, M, N, K, false); return (performance.now() - t0) / inner; };
    inner = Math.max(1, Math.round(3 / run())); for (let i = 0; i < 3; i++) run();
    const ms = med(Array.from({ length: 9 }, run));
    let panels = '';
    if (nat._gemmPanels) {  // B in panels of 64 columns, as the recurrent products of wide layers read W_hh
      const Bp = new Float32Array(K * N);
      for (let p0 = 0; p0 < N; p0 += 64) {
        const w = Math.min(64, N - p0);
        for (let k = 0; k < K; k++) for (let j = 0; j < w; j++) Bp[p0 * K + k * w + j] = B[k * N + p0 + j];
      }
      const runP = () => { const t0 = performance.now(); for (let i = 0; i < inner; i++) nat._gemmPanels(t, C, A, Bp, M, N, K, false); return (performance.now() - t0) / inner; };
      for (let i = 0; i < 3; i++) runP();
      panels = ` (panels ${(2 * M * N * K / med(Array.from({ length: 9 }, runP)) / 1e6).toFixed(1)})`;
    }
    row.push(`${t.slice(7)} ${(2 * M * N * K / ms / 1e6).toFixed(1)}${panels}`);
  }
  console.log(`nn ${M}x${N}x${K}: ${row.join(', ')} GFLOP/s`);
}
