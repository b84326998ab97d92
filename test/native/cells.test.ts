// Cell kinds are described once, in native code (CellSpec): the TypeScript
// side's names, gate counts, carried state and parameter shapes follow the
// descriptors; and for every cell the one-token Stepper (generation's path,
// dot products with W_hh in place) agrees with the batch path.
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { carriesC, cellInfo, CELLS, gatesOf, paramTable, type ModelConfig } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { Rng } from '../../src/rng.js';

describe('cell descriptors', () => {
  it('CELLS lists the native descriptors, in their order', () => {
    expect(native().cells().map((c) => c.name)).toEqual([...CELLS]);
  });

  it('gate counts, carried state and parameter shapes come from the descriptor', () => {
    const want = { rnn: [1, false], 'rnn-relu': [1, false], gru: [3, false], lstm: [4, true], mgu: [2, false] } as const;
    for (const cell of CELLS) {
      expect([gatesOf(cell), carriesC(cell)], cell).toEqual(want[cell]);
      const table = paramTable({ cell, vocabSize: 7, hidden: [5, 3], dropout: 0 });
      expect(table.find((p) => p.name === 'rnn.weight_hh_l1')!.shape, cell).toEqual([want[cell][0] * 3, 3]);
    }
    expect(cellInfo('mgu')).toEqual({ name: 'mgu', gates: 2, gateNames: 'f,n', saved: 3, backwardExtra: 0, carriesC: false });
    expect(cellInfo('gru').gateNames).toBe('r,z,n');
    expect(cellInfo('lstm').gateNames).toBe('i,f,g,o');
  });
});

describe.each(CELLS)('%s: generation and batches agree', (cell) => {
  it('the Stepper\'s loss over a sequence equals evaluate()\'s on it', () => {
    const cfg: ModelConfig = { cell, vocabSize: 11, hidden: [13, 9], dropout: 0 };
    const m = new RNNLM(cfg, new Rng(21));
    const r = new Rng(5);
    const T = 30;
    const tokens = Array.from({ length: T + 1 }, () => r.below(11));
    const batch = { T, N: 1, inputs: Int32Array.from(tokens.slice(0, T)), targets: Int32Array.from(tokens.slice(1)) };
    const want = m.evaluate(batch).lossSum;
    const st = m.stepper();
    let loss = 0;
    for (let t = 0; t < T; t++) {
      const z = st.feed(tokens[t]!);
      const mx = Math.max(...z);
      let se = 0;
      for (const v of z) se += Math.exp(v - mx);
      loss += mx + Math.log(se) - z[tokens[t + 1]!]!;
    }
    expect(Math.abs(loss - want) / want, `${cell}: stepper ${loss} vs batch ${want}`).toBeLessThan(1e-5);
  });
});

describe.each(CELLS)('%s: a non-finite recurrent weight', (cell) => {
  // (rnn-relu's max(a, 0) made NaN 0 on every table: a finite loss and gradient from a broken model)
  it('gives a NaN loss in training, evaluation and generation, in fp32 and bf16', () => {
    const cfg: ModelConfig = { cell, vocabSize: 3, hidden: [2], dropout: 0 };
    const at = paramTable(cfg).find((p) => p.name === 'rnn.weight_hh_l0')!.offset;
    const batch = { T: 2, N: 1, inputs: Int32Array.from([0, 1]), targets: Int32Array.from([1, 2]) };
    for (const precision of ['fp32', 'bf16'] as const) {
      for (const bad of [NaN, Infinity]) {
        const m = new RNNLM(cfg, new Rng(1));
        m.precision = precision;
        m.params[at] = bad;
        m.zeroGrad();
        const loss = m.forward(batch, { train: true });
        m.backward();
        const what = `${cell} ${precision} W_hh = ${bad}`;
        expect(Number.isNaN(loss), `${what}: training loss ${loss}`).toBe(true);
        expect(Array.from(m.grads).some((g) => !Number.isFinite(g)), `${what}: every gradient finite`).toBe(true);
        expect(Number.isNaN(m.evaluate(batch).lossSum), `${what}: evaluation`).toBe(true);
        const st = m.stepper();
        st.feed(0);
        expect(Array.from(st.feed(1)).every(Number.isNaN), `${what}: generation's logits`).toBe(true);
      }
    }
  });
});

describe.each(CELLS)('%s: the Stepper and changed weights', (cell) => {
  it('fp32 reads the weights at every token; bf16 keeps all of them (matrices and biases) from when it was made or reset()', () => {
    // (before, a bf16 stepper kept old rounded matrices but read new biases: the logits of neither model)
    const cfg: ModelConfig = { cell, vocabSize: 5, hidden: [6, 4], dropout: 0 };
    for (const precision of ['fp32', 'bf16'] as const) {
      const m = new RNNLM(cfg, new Rng(3));
      m.precision = precision;
      const st = m.stepper();
      // before any token, and after reset(): the output layer on the zero state, its bias
      expect(Array.from(st.initialLogits())).toEqual(Array.from(m.outputLayer().b));
      const before = Array.from(st.feed(2));
      const other = new RNNLM(cfg, new Rng(4));
      m.loadStateDict(other.stateDict());
      st.reset();
      const afterReset = Array.from(st.feed(2));
      other.precision = precision;
      expect(afterReset, `${cell} ${precision}: after reset(), the new weights`).toEqual(Array.from(other.stepper().feed(2)));
      expect(afterReset).not.toEqual(before);
      // weights changed without a reset: fp32 sees them at the next token; bf16 goes on with the model it took
      const third = new RNNLM(cfg, new Rng(5));
      st.reset();
      m.loadStateDict(third.stateDict());
      third.precision = precision;
      const now = Array.from(st.feed(2));
      expect(now, `${cell} ${precision}`).toEqual(precision === 'fp32' ? Array.from(third.stepper().feed(2)) : afterReset);
      // the state carried now: initialLogits() after a token is what feed() returned
      const fed = Array.from(st.feed(1));
      expect(Array.from(st.initialLogits())).toEqual(fed);
    }
  });
});
