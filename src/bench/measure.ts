// One benchmark measurement in this process: synthetic tokens, a fixed number
// of batches after a warm-up, the same training step as the Trainer's.
import { argmax } from '../generate.js';
import { native, type Precision } from '../native.js';
import { RNNLM } from '../nn/rnnlm.js';
import { Rng } from '../rng.js';
import { SGD } from '../train/optim.js';
import { Trainer } from '../train/trainer.js';
import { forwardMacsPerToken, modelConfig, type BenchConfig } from './configs.js';

export interface Measurement {
  config: string;
  threads: number;
  simd: string;
  /** The matrix products' arithmetic (bf16: bf16 operands, float32 sums), and the bf16 path when bf16. */
  precision: Precision;
  bf16Path: string | null;
  /** Training tokens per second, or generated tokens per second for a generation config. */
  tokensPerSec: number;
  gflops: number;
  seconds: number;
  peakRssMb: number;
  /** Training: how the batch ran, teams x threads per team (see RNNLM.teamPlan). */
  teams?: string;
  /** Training: the GEMM tile this measurement's process ran (each times its own at its first batch). */
  gemmTile?: string;
}

/**
 * Ends this process when the one that started it is gone: `deeprnn bench`
 * waits for each measurement in a child, and a signal to its pid alone (kill
 * PID, a CI runner's stop) ends it without a word to the child, which ran on,
 * a core busy, for minutes (its parent then init).
 */
function orphanWatch(): () => void {
  const parent = process.ppid;
  return () => {
    if (process.ppid !== parent) process.exit(1);
  };
}

export function measure(c: BenchConfig, threads: number, batches: number, warmup: number, precision: Precision = 'fp32'): Measurement {
  const alone = orphanWatch();
  const nat = native();
  nat.setThreads(threads);
  const cfg = modelConfig(c);
  const rng = new Rng(1);
  const model = new RNNLM(cfg, rng);
  model.precision = precision;
  const macs = forwardMacsPerToken(cfg);
  let tokens = 0;
  let seconds = 0;
  let teams: string | undefined;
  if (c.generate) {
    const stepper = model.stepper();
    let tok = 0;
    for (let i = 0; i < 50; i++) tok = argmax(stepper.feed(tok));
    stepper.reset();
    const t0 = performance.now();
    for (let i = 0; i < c.steps; i++) {
      tok = argmax(stepper.feed(tok));
      if ((i & 127) === 127) alone();
    }
    seconds = (performance.now() - t0) / 1000;
    tokens = c.steps;
  } else {
    const M = c.steps * c.batch;
    const batch = { T: c.steps, N: c.batch, inputs: new Int32Array(M), targets: new Int32Array(M) };
    for (let i = 0; i < M; i++) {
      batch.inputs[i] = rng.below(c.vocab);
      batch.targets[i] = rng.below(c.vocab);
    }
    const plan = model.teamPlan(c.steps, c.batch);
    teams = `${plan.teams}x${plan.size}`;
    const trainer = new Trainer({ epochs: 1, clip: 1 });
    const sgd = new SGD(0.1);
    // A training step as Trainer takes it: clipping, the update and its check of the weights.
    const step = () => {
      alone();
      model.zeroGrad();
      model.forward(batch, { train: true });
      model.backward();
      trainer.update(model, sgd);
    };
    for (let i = 0; i < warmup; i++) step();
    const t0 = performance.now();
    for (let i = 0; i < batches; i++) step();
    seconds = (performance.now() - t0) / 1000;
    tokens = M * batches;
  }
  const tokensPerSec = tokens / seconds;
  const flopsPerToken = 2 * macs * (c.generate ? 1 : 3);
  const info = nat.info();
  return {
    config: c.name,
    threads,
    simd: info.simd,
    precision,
    bf16Path: precision === 'bf16' ? info.bf16 : null,
    tokensPerSec,
    gflops: (tokensPerSec * flopsPerToken) / 1e9,
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    ...(teams ? { teams, gemmTile: info.gemmTile } : {}),
  };
}
