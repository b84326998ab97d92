// Each optimizer's first steps against PyTorch (fixtures from
// scripts/make_fixtures.py), for float32 (native) and float64 buffers.
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { makeOptimizer, type OptimizerKind } from '../../src/train/optim.js';
import { expectClose } from '../helpers/compare.js';

interface Case {
  kind: OptimizerKind;
  settings: { lr: number; momentum?: number; nesterov?: boolean; weight_decay?: number; betas?: [number, number]; eps?: number; alpha?: number };
  after: number[][];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/torch_optimizers.json', import.meta.url), 'utf8')) as {
  params: number[];
  grads: number[][];
  cases: Case[];
};

describe.each(fx.cases.map((c, i) => [`${c.kind} ${JSON.stringify(c.settings)}`, c, i] as const))('%s', (_name, c) => {
  it.each([
    ['float32 (native)', Float32Array],
    ['float64', Float64Array],
  ] as const)('matches PyTorch step by step in %s', (label, Type) => {
    const s = c.settings;
    const opt = makeOptimizer({
      kind: c.kind, lr: s.lr, momentum: s.momentum, nesterov: s.nesterov, weightDecay: s.weight_decay ?? (c.kind === 'adamw' ? 0.01 : 0),
      betas: s.betas, eps: s.eps, alpha: s.alpha,
    });
    const p = Type.from(fx.params);
    fx.grads.forEach((g, k) => {
      opt.step(p, Type.from(g));
      expectClose(`${c.kind} ${label} step ${k + 1}`, p, c.after[k]!, Type === Float32Array ? 2e-5 : 1e-12);
    });
  });
});
