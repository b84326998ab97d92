// Peak RSS of one configuration's training at a thread count that need not
// be this machine's: `deeprnn bench` (and --threads everywhere) caps the
// count at the cores this process may use, but the memory a run holds is set
// by its threads (each thread's GEMM scratch, the teams' buffers), not by the
// cores under them, so 16 threads oversubscribed on 2 cores hold what they
// hold on 16. One configuration per process, as bench measures them.
//
//   node bench/rss.mjs CONFIG THREADS [fp32|bf16] [BATCHES]
//
// CONFIG: A, B or C (npm run bench's). Prints the peak RSS, how the batch ran
// and the tokens/s (meaningless for speed when oversubscribed). Asserts nothing.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { measure } = await import(pathToFileURL(path.join(root, 'dist', 'bench', 'measure.js')).href);
const { BENCH_CONFIGS } = await import(pathToFileURL(path.join(root, 'dist', 'bench', 'configs.js')).href);
const [name, threads, precision = 'fp32', batches = '5'] = process.argv.slice(2);
const c = BENCH_CONFIGS.find((x) => x.name === name && !x.generate);
if (!c || !(Number(threads) >= 1) || !['fp32', 'bf16'].includes(precision)) {
  console.error('usage: node bench/rss.mjs A|B|C THREADS [fp32|bf16] [BATCHES]');
  process.exit(2);
}
const m = measure(c, Number(threads), Number(batches), 1, precision);
console.log(`${name} ${precision} threads=${threads} teams=${m.teams}: peak RSS ${m.peakRssMb.toFixed(0)} MB (${Math.round(m.tokensPerSec)} tokens/s)`);
