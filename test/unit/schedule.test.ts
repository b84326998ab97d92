// Learning-rate schedules at chosen steps and epochs.
import { describe, expect, it } from 'vitest';
import { learningRate, type ScheduleSettings } from '../../src/train/schedule.js';

const base: ScheduleSettings = { kind: 'constant', lr: 2, warmup: 0, decay: 0.5, decayAfter: 3, minLr: 0 };
const at = (over: Partial<ScheduleSettings>, step: number, epochs: number, total = 1000) => learningRate({ ...base, ...over }, step, epochs, total);

describe('learning-rate schedules', () => {
  it('constant stays, with a linear warm-up', () => {
    expect(at({}, 500, 7)).toBe(2);
    expect(at({ warmup: 4 }, 0, 0)).toBe(0.5);
    expect(at({ warmup: 4 }, 2, 0)).toBe(1.5);
    expect(at({ warmup: 4 }, 4, 0)).toBe(2);
  });

  it('step decays every decayAfter epochs, down to minLr', () => {
    expect([0, 2, 3, 5, 6, 9].map((e) => at({ kind: 'step' }, 0, e))).toEqual([2, 2, 1, 1, 0.5, 0.25]);
    expect(at({ kind: 'step', minLr: 0.4 }, 0, 9)).toBe(0.4);
  });

  it("exp decays at the end of every epoch from decayAfter on (char-rnn's 0.97 after epoch 10)", () => {
    const s = { kind: 'exp' as const, lr: 2e-3, decay: 0.97, decayAfter: 10 };
    expect(at(s, 0, 9)).toBe(2e-3); // epoch 10 runs at the base rate
    expect(at(s, 0, 10)).toBeCloseTo(2e-3 * 0.97, 15); // epoch 11: one decay
    expect(at(s, 0, 12)).toBeCloseTo(2e-3 * 0.97 ** 3, 15);
    expect(at({ kind: 'exp', decayAfter: 0 }, 0, 0)).toBe(2);
    expect(at({ kind: 'exp', decayAfter: 0 }, 0, 1)).toBe(1);
  });

  it('cosine goes from lr to minLr over the steps after the warm-up', () => {
    const s = { kind: 'cosine' as const, warmup: 100, minLr: 0.2 };
    expect(at(s, 49, 0)).toBeCloseTo(1, 12);
    expect(at(s, 100, 0)).toBeCloseTo(2, 12);
    expect(at(s, 550, 0)).toBeCloseTo(1.1, 12);
    expect(at(s, 1000, 0)).toBeCloseTo(0.2, 12);
  });
});
