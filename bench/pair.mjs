// Two builds of deeprnn side by side in one process: each pair times one
// step of the old build and one of the new on the same batch, the order
// alternating, so that a slow spell of the machine hits both. Prints each
// side's median tokens/s and the median of the per-pair ratios.
//
//   node bench/pair.mjs OLD_DIR NEW_DIR CONFIG THREADS [PAIRS] [train|step|eval] [fp32|bf16]
//
// train: forward and backward; step: the trainer's whole step, with clipping at
// norm 1 and plain SGD (Trainer.update, or in a build without it the passes
// it made: clipGradients, a copy of the weights, the step, their check).
//
// OLD_DIR, NEW_DIR: built checkouts (dist/ and the addon). CONFIG: A, B, C
// (npm run bench's), D (1,000 greedy tokens with C's model), or S (GRU 2 x 256,
// 16 x 64: one chunk), E (LSTM 2 x 512, 64 x 32: one chunk), G (the book's
// model, 32 x 32: one chunk). bf16: the products in bf16 (RNNLM.precision). Asserts nothing.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [oldDir, newDir, name, threads, pairs = '20', mode = 'train', precision = 'fp32'] = process.argv.slice(2);
const CONFIGS = {
  A: ['gru', 32, 28, 1024, 32], B: ['lstm', 256, 65, 64, 64], C: ['lstm', 512, 65, 50, 50], D: ['lstm', 512, 65, 1, 1],
  S: ['gru', 256, 65, 16, 64], E: ['lstm', 512, 65, 64, 32], G: ['gru', 32, 28, 32, 32],
};
if (!newDir || !CONFIGS[name] || !(Number(threads) >= 1)) {
  console.error('usage: node bench/pair.mjs OLD_DIR NEW_DIR A|B|C|D|S|E|G THREADS [PAIRS] [train|step|eval] [fp32|bf16]');
  process.exit(2);
}
const [cell, H, V, N, T] = CONFIGS[name];

async function stepper(dir) {
  const lib = await import(pathToFileURL(path.resolve(dir, 'dist', 'index.js')).href);
  const { RNNLM, Rng, native } = lib;
  native().setThreads(Number(threads));
  const m = new RNNLM({ cell, vocabSize: V, hidden: [H, H], dropout: 0 }, new Rng(1));
  m.precision = precision;
  const r = new Rng(2);
  const inputs = new Int32Array(T * N).map(() => r.below(V));
  const targets = new Int32Array(T * N).map(() => r.below(V));
  const batch = { T, N, inputs, targets };
  let step = mode === 'eval' ? () => m.evaluate(batch) : () => { m.zeroGrad(); m.forward(batch, { train: true }); m.backward(); };
  if (mode === 'step') {
    const { Trainer, SGD } = lib;
    const trainer = new Trainer({ epochs: 1, clip: 1 });
    const sgd = new SGD(1e-3);
    const backup = m.params.slice();
    const update = trainer.update ? () => trainer.update(m, sgd) : () => {
      trainer.clipGradients(m);
      backup.set(m.params);
      sgd.step(m.params, m.grads);
      if (!Number.isFinite(native().sumSquares(m.params))) throw new Error('the weights became non-finite');
    };
    step = () => { m.zeroGrad(); m.forward(batch, { train: true }); m.backward(); update(); };
  }
  if (name === 'D') {
    const st = m.stepper();
    let tok = 0;
    step = () => {
      for (let i = 0; i < 1000; i++) {
        const z = st.feed(tok);
        let best = 0;
        for (let v = 1; v < z.length; v++) if (z[v] > z[best]) best = v;
        tok = best;
      }
    };
  }
  step();
  step();
  return () => {
    const t0 = performance.now();
    step();
    return performance.now() - t0;
  };
}

const older = await stepper(oldDir);
const newer = await stepper(newDir);
const to = [], tn = [], ratio = [];
for (let i = 0; i < Number(pairs); i++) {
  let a, b;
  if (i % 2) { a = older(); b = newer(); } else { b = newer(); a = older(); }
  to.push(a);
  tn.push(b);
  ratio.push(a / b);
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
const tokens = name === 'D' ? 1000 : T * N;
const rate = (ms) => Math.round((tokens / ms) * 1000);
console.log(`${name} ${mode} ${precision} threads=${threads}: old ${rate(median(to))} new ${rate(median(tn))} tokens/s; new/old median ${median(ratio).toFixed(3)} over ${pairs} pairs`);
