// The AMX path on the tiles against its model (DEEPRNN_BF16=amx-model), bit
// for bit, on product shapes of A, B and C and ragged ones, where the CPU and
// OS allow AMX; then each shape's time on the tiles and on vdpbf16ps (one
// thread, B packed first, medians of 5). For the 16-core server
// (bench/server16-extra.sh); the vitest suite checks the same where it runs.
//
//   node bench/amx-check.mjs
//
// Exit 0: every shape the same; 1: a shape differs; 2: no AMX here (or Linux
// refused this process the tiles).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { native, Rng } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href);
const nat = native();
nat.setThreads(1);
if (!nat.info().bf16Amx) {
  console.log('amx: this CPU or OS gives no AMX-BF16 tiles');
  process.exit(2);
}
const rng = new Rng(1);
const random = (n) => Float32Array.from({ length: n }, () => 2 * rng.uniform() - 1);
const shapes = [
  [19, 75, 130], [33, 47, 31], [64, 96, 1025], [25, 2048, 512], [1250, 2048, 512], [32, 1024, 256], [200, 300, 600],
];
try {
  nat._gemmBf16('amx', false, false, new Float32Array(1), new Float32Array(1), new Float32Array(1), 1, 1, 1, false);
} catch (e) {
  console.log(`amx: ${e.message}`);
  process.exit(2);
}
let differ = 0;
for (const [M, N, K] of shapes) {
  let same = true;
  const A = random(M * K), B = random(K * N), C0 = random(M * N);
  for (const transA of [false, true]) {
    for (const packB of [false, true]) {
      const x = C0.slice(), y = C0.slice();
      nat._gemmBf16('amx', transA, packB, x, A, B, M, N, K, true);
      nat._gemmBf16('amx-model', transA, packB, y, A, B, M, N, K, true);
      if (!Buffer.from(x.buffer).equals(Buffer.from(y.buffer))) {
        same = false;
        let n = 0, worst = 0;
        for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++, worst = Math.max(worst, Math.abs(x[i] - y[i]) / (Math.abs(y[i]) + 1e-30));
        console.log(`amx ${M}x${N}x${K} transA=${transA} packB=${packB}: DIFFERENT from the model in ${n} of ${x.length} elements, worst relative ${worst.toExponential(2)}`);
        differ++;
      }
    }
  }
  const time = (p) => {
    const C = new Float32Array(M * N), ms = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      nat._gemmBf16(p, false, true, C, A, B, M, N, K, false);
      ms.push(performance.now() - t0);
    }
    return ms.slice(2).sort((a, b) => a - b)[2];
  };
  const gf = (ms) => ((2 * M * N * K) / ms / 1e6).toFixed(1);
  const hw = nat.info().bf16Hardware ? time('avx512bf16') : NaN;
  const amx = time('amx');
  console.log(`${M}x${N}x${K}: ${same ? 'same bits as the model; ' : ''}amx ${gf(amx)} GFLOP/s, vdpbf16ps ${gf(hw)} GFLOP/s (with B's packing)`);
}
console.log(differ ? `amx: ${differ} products differ from the model` : 'amx: every product gives the model\'s bits');
process.exit(differ ? 1 : 0);
