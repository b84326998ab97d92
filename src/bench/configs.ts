// The benchmark's fixed configurations and how their arithmetic is counted.
import type { CellKind } from '../native.js';
import { gatesOf, type ModelConfig } from '../nn/config.js';

export interface BenchConfig {
  name: string;
  what: string;
  cell: CellKind;
  layers: number;
  hidden: number;
  vocab: number;
  batch: number;
  steps: number;
  /** Greedy generation with batch 1 for `steps` tokens instead of training. */
  generate?: boolean;
}

export const BENCH_CONFIGS: BenchConfig[] = [
  { name: 'A', what: "the book's run", cell: 'gru', layers: 2, hidden: 32, vocab: 28, batch: 1024, steps: 32 },
  { name: 'B', what: 'mid-size LSTM', cell: 'lstm', layers: 2, hidden: 256, vocab: 65, batch: 64, steps: 64 },
  { name: 'C', what: "char-rnn's scale", cell: 'lstm', layers: 2, hidden: 512, vocab: 65, batch: 50, steps: 50 },
  { name: 'D', what: "generation with C's model", cell: 'lstm', layers: 2, hidden: 512, vocab: 65, batch: 1, steps: 1000, generate: true },
];

export function modelConfig(c: BenchConfig): ModelConfig {
  return { cell: c.cell, vocabSize: c.vocab, hidden: Array.from({ length: c.layers }, () => c.hidden), dropout: 0 };
}

/**
 * Multiply-adds of one token's forward pass: per layer G*H*H for the
 * recurrent product and G*H*I for the input projection (none for the first
 * layer, whose one-hot input is a gather), plus V*H for the output layer.
 * Gate activations and the loss are not counted. A training step does three
 * times this (forward; backward to the inputs; weight gradients); a FLOP is
 * half a multiply-add.
 */
export function forwardMacsPerToken(cfg: ModelConfig): number {
  const G = gatesOf(cfg.cell);
  let macs = 0;
  cfg.hidden.forEach((H, l) => {
    macs += G * H * H;
    if (l > 0) macs += G * H * cfg.hidden[l - 1]!;
  });
  return macs + cfg.vocabSize * cfg.hidden[cfg.hidden.length - 1]!;
}
