// Teams of threads: a chunk split by hidden units and product tiles must give
// bitwise the results of one thread, whatever the thread count, the team size
// and the kernel table: losses, gradients, evaluation and carried state, on
// ragged hidden sizes, one chunk and several, with dropout. And the cost
// model's choice of teams.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { CELLS, type ModelConfig } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { Rng } from '../../src/rng.js';
import { randomBatch } from '../helpers/batch.js';
import { expectSame, outcome } from '../helpers/outcome.js';
import { expectClose } from '../helpers/compare.js';
import { ROOT } from '../helpers/paths.js';
import { restoreNativeSettings } from '../helpers/native-settings.js';

const nat = native();
const start = restoreNativeSettings();


describe.each(start.simdAvailable)('teams on %s', (isa) => {
  it.each(CELLS)('%s: bitwise the same for 1, 2, 3, 5 and 8 threads, in chunks and split by units', (cell) => {
    nat.setSimd(isa);
    // Ragged sizes (not whole vectors), 37 windows: one chunk, or five of 8 (the last 5)
    const cfg: ModelConfig = { cell, vocabSize: 13, hidden: [37, 21, 18], dropout: 0.25 };
    const T = 4;
    for (const chunkTokens of [Infinity, 8 * T]) {
      const one = outcome(cfg, T, 37, chunkTokens, 1, 1);
      expect(one.grads.some((g) => g !== 0)).toBe(true);
      for (const threads of [2, 3, 5, 8]) {
        for (const team of [0, 1, threads]) {
          expectSame(`${isa} ${cell} chunkTokens=${chunkTokens} threads=${threads} team=${team}`, outcome(cfg, T, 37, chunkTokens, threads, team), one);
        }
      }
    }
  });
});

describe('teams split by units', () => {
  /** `steps` carried training steps of the native model and the float64 oracle from the same weights, compared. */
  function againstOracle(label: string, cfg: ModelConfig, T: number, N: number, seed: number, steps: number): void {
    const m = new RNNLM(cfg, new Rng(seed));
    const ref = new RNNLMScratch(cfg, new Rng(seed));
    ref.params.set(m.params);
    for (let k = 0; k < steps; k++) {
      const batch = randomBatch(T, N, cfg.vocabSize, 10 * seed + k);
      m.zeroGrad();
      ref.zeroGrad();
      const a = m.forward(batch, { train: true, carry: true });
      const b = ref.forward(batch, { train: true, carry: true });
      m.backward();
      ref.backward();
      expectClose(`${label} loss ${k}`, [a], [b], 1e-5);
      expectClose(`${label} grads ${k}`, m.grads, ref.grads, 1e-4);
    }
  }

  it.each(CELLS)('%s: matches the float64 oracle with the layers split over 3 threads', (cell) => {
    nat.setThreads(3);
    nat.setTeamSize(3);
    againstOracle(`${cell} split`, { cell, vocabSize: 9, hidden: [20, 11], dropout: 0 }, 5, 6, 7, 2);
  });

  // Layers of 128 units or more read W_hh in panels of 64 columns (whh_in_panels in
  // native/kernels/cells.h), packed per member of the team: ragged widths, several panels and a
  // last narrow one, against the float64 oracle and bitwise across thread counts and team sizes.
  it.each(['gru', 'lstm', 'rnn'] as const)('%s: layers wide enough for W_hh in panels match the oracle, and agree bitwise for 1, 2, 3 and 5 threads in fp32 and bf16', (cell) => {
    const cfg: ModelConfig = { cell, vocabSize: 7, hidden: [150, 131], dropout: 0 };
    const T = 3;
    nat.setThreads(1);
    nat.setTeamSize(0);
    againstOracle(`${cell} wide`, cfg, T, 4, 9, 1);
    nat.setThreads(3);
    nat.setTeamSize(3);
    againstOracle(`${cell} wide, a team of 3`, cfg, T, 4, 9, 1);
    for (const precision of ['fp32', 'bf16'] as const) {
      for (const chunkTokens of [Infinity, 3 * T]) {
        const one = outcome(cfg, T, 9, chunkTokens, 1, 1, precision);
        expect(one.grads.some((g) => g !== 0)).toBe(true);
        for (const threads of [2, 3, 5]) {
          for (const team of [1, threads]) {
            expectSame(`${cell} ${precision} H=[150,131] chunkTokens=${chunkTokens} threads=${threads} team=${team}`, outcome(cfg, T, 9, chunkTokens, threads, team, precision), one);
          }
        }
      }
    }
  });

  it('a team bigger than the hidden size leaves some threads without units and still agrees', () => {
    const cfg: ModelConfig = { cell: 'lstm', vocabSize: 5, hidden: [3, 2], dropout: 0 };
    const one = outcome(cfg, 3, 4, Infinity, 1, 1);
    expectSame('lstm H=[3,2] on a team of 8', outcome(cfg, 3, 4, Infinity, 8, 8), one);
  });
});

describe('the team plan', () => {
  const plan = (cell: 'gru' | 'lstm', H: number, V: number, T: number, N: number, rows: number, threads: number) =>
    nat.lmTeamPlan({ cell, L: 2, hidden: Int32Array.from([H, H]), V, T, N, rows, train: true, threads });

  it('runs a chunk per thread when there are chunks enough, and splits chunks when there are not', () => {
    nat.setTeamSize(0);
    // The book's batch in chunks of 2048 tokens: 16 chunks of 64 windows; at 16 threads, 16 teams of one;
    // in its default chunks of 512 tokens, 64 chunks of 16 windows: the same
    expect(plan('gru', 32, 28, 32, 1024, 64, 16)).toEqual({ teams: 16, size: 1 });
    expect(plan('gru', 32, 28, 32, 1024, 16, 16)).toEqual({ teams: 16, size: 1 });
    // char-rnn's scale (LSTM 2 x 512, 50 x 50): two chunks of 25; at 16 threads two teams of 8
    expect(plan('lstm', 512, 65, 50, 50, 25, 16)).toEqual({ teams: 2, size: 8 });
    expect(plan('lstm', 512, 65, 50, 50, 25, 2)).toEqual({ teams: 2, size: 1 });
    expect(plan('lstm', 512, 65, 50, 50, 25, 1)).toEqual({ teams: 1, size: 1 });
    // One chunk of a mid-size LSTM on 2 threads: one team of 2
    expect(plan('lstm', 256, 65, 32, 64, 64, 2)).toEqual({ teams: 1, size: 2 });
    // Never more threads than there is work for: a tiny model's one chunk stays on one thread
    expect(plan('gru', 8, 28, 32, 16, 16, 16)).toEqual({ teams: 1, size: 1 });
  });

  it('starts from DEEPRNN_TEAM_SIZE', () => {
    const code = `import(${JSON.stringify(path.join(ROOT, 'dist', 'native.js'))}).then((m) => console.log(m.native().info().teamSize))`;
    const read = (v: string) => execFileSync(process.execPath, ['--input-type=module', '-e', code],
      { env: { ...process.env, DEEPRNN_TEAM_SIZE: v }, encoding: 'utf8' }).trim();
    expect(read('3')).toBe('3');
    expect(read('')).toBe('0');
  });

  it('honours a forced team size, capped at the threads there are', () => {
    nat.setTeamSize(4);
    expect(plan('gru', 8, 28, 32, 64, 16, 16)).toEqual({ teams: 4, size: 4 });
    expect(plan('gru', 8, 28, 32, 64, 16, 2)).toEqual({ teams: 1, size: 2 });
    nat.setTeamSize(0);
    expect(nat.info().teamSize).toBe(0);
  });
});
