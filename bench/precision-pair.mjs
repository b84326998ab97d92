// bf16 against float32 in one process: each pair times one training step
// (forward and backward) of one model in each precision on the same batch, the
// order alternating, so that a slow spell of the machine hits both. Prints each
// precision's median tokens/s and the median of the per-pair ratios bf16 /
// fp32, the figure that separate runs of `deeprnn bench --precision bf16`
// give only within their noise. Asserts nothing.
//
//   node bench/precision-pair.mjs CONFIG THREADS [PAIRS]
//
// CONFIG: A, B or C (npm run bench's). Uses the bf16 path that runs by default
// (DEEPRNN_BF16 forces one).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIGS = { A: ['gru', 32, 28, 1024, 32], B: ['lstm', 256, 65, 64, 64], C: ['lstm', 512, 65, 50, 50] };
const [name, threads, pairs = '30'] = process.argv.slice(2);
if (!CONFIGS[name] || !(Number(threads) >= 1) || !(Number(pairs) >= 1)) {
  console.error('usage: node bench/precision-pair.mjs A|B|C THREADS [PAIRS]');
  process.exit(2);
}
const [cell, H, V, N, T] = CONFIGS[name];
const { RNNLM, Rng, native } = await import(pathToFileURL(path.join(root, 'dist', 'index.js')).href);
native().setThreads(Number(threads));
const m = new RNNLM({ cell, vocabSize: V, hidden: [H, H], dropout: 0 }, new Rng(1));
const r = new Rng(2);
const inputs = new Int32Array(T * N).map(() => r.below(V));
const targets = new Int32Array(T * N).map(() => r.below(V));
const batch = { T, N, inputs, targets };
const step = (precision) => {
  m.precision = precision;
  const t0 = performance.now();
  m.zeroGrad();
  m.forward(batch, { train: true });
  m.backward();
  return performance.now() - t0;
};
for (let i = 0; i < 3; i++) { step('fp32'); step('bf16'); }
const fp32 = [], bf16 = [], ratio = [];
for (let i = 0; i < Number(pairs); i++) {
  const order = i % 2 ? ['fp32', 'bf16'] : ['bf16', 'fp32'];
  const ms = Object.fromEntries(order.map((p) => [p, step(p)]));
  fp32.push(ms.fp32);
  bf16.push(ms.bf16);
  ratio.push(ms.fp32 / ms.bf16);
}
const med = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
const tps = (ms) => Math.round((T * N) / med(ms) * 1000).toLocaleString('en-US');
console.log(`${name} train threads=${threads} (bf16 on ${native().info().bf16}): fp32 ${tps(fp32)} bf16 ${tps(bf16)} tokens/s; `
  + `bf16/fp32 median ${med(ratio).toFixed(3)} over ${pairs} pairs`);
