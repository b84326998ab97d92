// Training with bf16 products (RNNLM.precision = 'bf16'): bitwise the same for
// every thread count and team size; the fallback bitwise the instruction's;
// close to fp32 but not equal to it (the products really are bf16); an error
// for a precision it does not know. (Against the float64 oracle with
// bf16-rounded operands: bf16-oracle.test.ts.)
import { describe, expect, it } from 'vitest';
import { native, type CellKind, type Precision } from '../../src/native.js';
import { CELLS, type ModelConfig } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';
import { randomBatch } from '../helpers/batch.js';
import { relativeNorm } from '../helpers/compare.js';
import { expectSame, outcome, same } from '../helpers/outcome.js';
import { restoreNativeSettings } from '../helpers/native-settings.js';

const nat = native();
const start = restoreNativeSettings();


// Every cell; ragged sizes (not whole vectors or tiles), 37 windows: one chunk, or five of 8 (the last 5)
const cfgOf = (cell: CellKind): ModelConfig => ({ cell, vocabSize: 13, hidden: [37, 21, 18], dropout: 0.25 });

describe('bf16 training', () => {
  it.each(CELLS)('%s: bitwise the same for 1, 2 and 3 threads, in chunks and split by units', (cell) => {
    const cfg = cfgOf(cell);
    const T = 4;
    for (const chunkTokens of [Infinity, 8 * T]) {
      const one = outcome(cfg, T, 37, chunkTokens, 1, 1, 'bf16');
      for (const threads of [2, 3]) {
        for (const team of [0, 1, threads]) {
          expectSame(`${cell} chunkTokens=${chunkTokens} threads=${threads} team=${team}`, outcome(cfg, T, 37, chunkTokens, threads, team, 'bf16'), one);
        }
      }
    }
  });

  it.each(CELLS)('%s: close to fp32 (bf16 rounding), and not equal to it', (cell) => {
    const cfg = cfgOf(cell);
    const bf = outcome(cfg, 4, 37, 32, 2, 0, 'bf16');
    const fp = outcome(cfg, 4, 37, 32, 2, 0, 'fp32');
    expect(same(bf.grads, fp.grads)).toBe(false);
    bf.losses.forEach((l, i) => expect(Math.abs(l - fp.losses[i]!) / fp.losses[i]!).toBeLessThan(0.01));
    // Gradients: the norm of the difference a few times bf16's relative precision (2^-8) of the
    // gradient's (a norm, not elementwise: rnn-relu's derivative jumps where a unit crosses 0)
    const rel = relativeNorm(bf.grads, fp.grads);
    console.log(`${cell}: bf16 vs fp32 gradients, relative difference ${rel.toExponential(2)}`);
    // rnn-relu: 4.6e-2 measured, its unbounded units amplify the rounding over the steps; the others 1.5e-3 to 4.3e-3
    expect(rel).toBeLessThan(cell === 'rnn-relu' ? 0.1 : 0.01);
  });

  it.runIf(start.bf16Hardware)('the fallback on avx512 gives the instruction\'s training step bit for bit', () => {
    nat.setSimd('avx512');
    for (const cell of CELLS) {
      nat.setBf16('avx512bf16');
      const hw = outcome(cfgOf(cell), 4, 37, 32, 2, 0, 'bf16');
      nat.setBf16('emulated');
      expect(nat.info().bf16).toBe('emulated (avx512)');
      expectSame(`${cell} emulated vs avx512bf16`, outcome(cfgOf(cell), 4, 37, 32, 2, 0, 'bf16'), hw);
    }
    nat.setBf16('');
    nat.setSimd(start.simd);
  });

  it('the AMX path, on the model of its tiles: bitwise the same for 1, 2 and 3 threads, in chunks and split by units; within rounding of the fallback', () => {
    // hidden 70: a team reads its share of W_hh's packed pairs from unit 35 on, tiles in place and at the edge
    for (const cfg of [...CELLS.map(cfgOf), { cell: 'lstm', vocabSize: 13, hidden: [70, 40], dropout: 0 } as ModelConfig]) {
      nat.setBf16('amx-model');
      const one = outcome(cfg, 4, 37, 32, 1, 1, 'bf16');
      for (const [threads, team] of [[2, 0], [2, 2], [3, 3]] as const) {
        expectSame(`${cfg.cell} ${cfg.hidden.join('x')} amx-model, ${threads} threads, team ${team}`, outcome(cfg, 4, 37, 32, threads, team, 'bf16'), one);
      }
      if (start.bf16Amx) {
        nat.setBf16('amx');
        expectSame(`${cfg.cell} ${cfg.hidden.join('x')} amx vs amx-model`, outcome(cfg, 4, 37, 32, 2, 2, 'bf16'), one);
      }
      nat.setBf16('emulated');
      const fallback = outcome(cfg, 4, 37, 32, 1, 1, 'bf16');
      // the same float32 sums in another order: a few roundings apart (measured: losses at most 3.1e-9
      // relative, the gradients' norm of the difference at most 3.5e-7 of theirs)
      one.losses.forEach((l, i) => expect(Math.abs(l - fallback.losses[i]!) / fallback.losses[i]!, `${cfg.cell} loss ${i}`).toBeLessThan(1e-6));
      expect(relativeNorm(one.grads, fallback.grads), `${cfg.cell} gradients`).toBeLessThan(1e-5);
    }
    nat.setBf16('');
  });

  it('refuses a precision it does not know, naming the option', () => {
    const m = new RNNLM({ cell: 'mgu', vocabSize: 5, hidden: [4], dropout: 0 }, new Rng(1));
    expect(() => { m.precision = 'fp8' as Precision; }).toThrow('precision must be one of fp32|bf16, got "fp8"');
    // The addon checks it too, behind the setter (a value set past it).
    (m as unknown as { precisionValue: string }).precisionValue = 'fp8';
    expect(() => m.forward(randomBatch(2, 2, 5, 1), { train: true }))
      .toThrow('lmTrainChunks: option "precision" must be one of fp32|bf16, got "fp8"');
    const g = new RNNLM({ cell: 'gru', vocabSize: 5, hidden: [4], dropout: 0 }, new Rng(1));
    (g as unknown as { precisionValue: string }).precisionValue = 'fp16';
    expect(() => g.evaluate(randomBatch(2, 2, 5, 1))).toThrow('lmEvalChunks: option "precision" must be one of fp32|bf16, got "fp16"');
  });
});
