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
