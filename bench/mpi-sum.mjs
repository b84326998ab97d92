// Time of the gradient sum of data-parallel training for the gradients of the
// bench configurations A, B and C, on however many ranks mpirun starts:
//
//   mpirun -np 2 node bench/mpi-sum.mjs [REPS]
//
// Rank 0 prints, per config, the floats summed and the median and fastest time
// of: mpiChainSum, the sum training uses (the gradient passed along the ranks
// in segments, each adding its chunks, then broadcast from the last: a rank
// sends about 2x the gradient's bytes), and mpiSum (a reduce-scatter and an
// allgather, each element added in rank order: 2 (P-1)/P of them), the sum of
// losses and carried states. Asserts nothing.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const nat = require(fileURLToPath(new URL('../build/Release/deeprnn.node', import.meta.url)));
const reps = Number(process.argv[2] ?? 30);
const { rank, size } = nat.mpiInit(process.env.DEEPRNN_MPI_LIBRARY ?? '');
// Parameters (= gradient floats) of the configs' models, as src/nn/config.ts counts them.
const CONFIGS = { A: 13_212, B: 873_793, C: 3_320_385 };
/** Median and fastest milliseconds of f over reps calls (after 3 more), every rank starting together. */
function time(f) {
  const times = [];
  for (let i = 0; i < reps + 3; i++) {
    nat.mpiBarrier();
    const t = performance.now();
    f();
    if (i >= 3) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return `${times[times.length >> 1].toFixed(3)} ms median, ${times[0].toFixed(3)} fastest`;
}
for (const [name, n] of Object.entries(CONFIGS)) {
  const x = new Float32Array(n).fill(rank + 1);
  const chain = time(() => nat.mpiChainSum(x, false));
  const rs = time(() => nat.mpiSum(x));
  if (rank === 0) {
    console.log(`${name}: ${n.toLocaleString('en-US')} floats (${(4 * n / 1e6).toFixed(3)} MB) on ${size} ranks: mpiChainSum ${chain}; mpiSum ${rs}`);
  }
}
nat.mpiFinalize();
