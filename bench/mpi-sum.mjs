// Time of the gradient sum of data-parallel training (mpiSum: a reduce-scatter
// and an allgather, each element added in rank order) for the gradients of the
// bench configurations A, B and C, on however many ranks mpirun starts:
//
//   mpirun -np 2 node bench/mpi-sum.mjs [REPS]
//
// Rank 0 prints, per config, the floats summed, the bytes each rank sends per
// step (2 (P-1)/P of the gradient's), and the median and fastest time of a sum.
// Asserts nothing.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const nat = require(fileURLToPath(new URL('../build/Release/deeprnn.node', import.meta.url)));
const reps = Number(process.argv[2] ?? 30);
const { rank, size } = nat.mpiInit(process.env.DEEPRNN_MPI_LIBRARY ?? '');
// Parameters (= gradient floats) of the configs' models, as src/nn/config.ts counts them.
const CONFIGS = { A: 13_212, B: 873_793, C: 3_320_385 };
for (const [name, n] of Object.entries(CONFIGS)) {
  const x = new Float32Array(n).fill(rank + 1);
  const times = [];
  for (let i = 0; i < reps + 3; i++) {
    nat.mpiBarrier();
    const t = performance.now();
    nat.mpiSum(x);
    if (i >= 3) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const sent = (2 * (size - 1) / size) * 4 * n;
  if (rank === 0) {
    console.log(`${name}: ${n.toLocaleString('en-US')} floats, ${(sent / 1e6).toFixed(3)} MB sent per rank per step on ${size} ranks, `
      + `sum ${times[times.length >> 1].toFixed(3)} ms median, ${times[0].toFixed(3)} ms fastest`);
  }
}
nat.mpiFinalize();
