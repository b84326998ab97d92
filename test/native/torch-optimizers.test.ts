// Each optimizer's first steps against PyTorch (fixtures from
// scripts/make_fixtures.py), for float32 (native) and float64 buffers; its
// spec's defaults against PyTorch's; and every optimizer and hyperparameter of
// the specs covered by a fixture.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  HYPER_KEYS, HYPERPARAMS, makeOptimizer, OPTIMIZERS, optimizerSpec, type HyperKey, type OptimizerKind, type OptimizerSettings,
} from '../../src/train/optim.js';
import { native } from '../../src/native.js';
import { expectClose } from '../helpers/compare.js';

interface Case {
  kind: OptimizerKind;
  /** PyTorch's keyword arguments. */
  settings: Record<string, number | boolean | number[]>;
  after: number[][];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/torch_optimizers.json', import.meta.url), 'utf8')) as {
  defaults: Record<string, Record<string, unknown>>;
  params: number[];
  grads: number[][];
  cases: Case[];
};

/** A hyperparameter by its PyTorch name. */
const byTorchName = new Map(HYPER_KEYS.map((k) => [HYPERPARAMS[k].torch, k]));

/** A case's settings as deeprnn names them; what the case leaves out takes the spec's defaults. */
function settingsOf(c: Case): OptimizerSettings {
  const s: OptimizerSettings = { kind: c.kind, lr: c.settings.lr as number };
  for (const [torch, v] of Object.entries(c.settings)) {
    if (torch === 'lr') continue;
    const key = byTorchName.get(torch);
    if (!key) throw new Error(`fixture case ${c.kind}: PyTorch's ${torch} has no hyperparameter in the spec`);
    (s as unknown as Record<HyperKey, unknown>)[key] = v;
  }
  return s;
}

describe.each(fx.cases.map((c, i) => [`${c.kind} ${JSON.stringify(c.settings)}`, c, i] as const))('%s', (_name, c) => {
  it.each([
    ['float32 (native)', Float32Array],
    ['float64', Float64Array],
  ] as const)('matches PyTorch step by step in %s', (label, Type) => {
    const opt = makeOptimizer(settingsOf(c));
    const p = Type.from(fx.params);
    fx.grads.forEach((g, k) => {
      opt.step(p, Type.from(g));
      expectClose(`${c.kind} ${label} step ${k + 1}`, p, c.after[k]!, Type === Float32Array ? 2e-5 : 1e-12);
    });
  });
});

describe('the optimizer specs', () => {
  // PyTorch options that change the update and that deeprnn does not have: off by default, as deeprnn is.
  const UNSUPPORTED = ['amsgrad', 'maximize', 'centered'];
  // How PyTorch runs the same update (multi-tensor, CUDA graphs, autograd through the step, fused kernels): no change to the math.
  const IMPLEMENTATION = ['foreach', 'capturable', 'differentiable', 'fused'];

  it.each(OPTIMIZERS)("%s has PyTorch's defaults", (kind) => {
    const torch = fx.defaults[kind];
    expect(torch, `no PyTorch defaults for ${kind} in the fixture`).toBeDefined();
    const spec = optimizerSpec(kind);
    for (const [name, value] of Object.entries(torch!)) {
      const key = byTorchName.get(name);
      if (key && key in spec.hyper) expect(spec.hyper[key], `${kind} ${key}`).toEqual(value);
      else if (UNSUPPORTED.includes(name)) expect(value, `${kind}: PyTorch's ${name} is on by default`).toBe(false);
      else expect(IMPLEMENTATION, `${kind}: PyTorch's ${name} (default ${JSON.stringify(value)}) is neither in the spec nor known`).toContain(name);
    }
    for (const key of Object.keys(spec.hyper)) expect(Object.keys(torch!), `${kind} ${key}`).toContain(HYPERPARAMS[key as HyperKey].torch);
  });

  it.each(OPTIMIZERS)('%s has a fixture case for its defaults and one for each hyperparameter at another value', (kind) => {
    const cases = fx.cases.filter((c) => c.kind === kind).map(settingsOf);
    expect(cases.some((s) => Object.keys(s).every((k) => k === 'kind' || k === 'lr')), `${kind}: no case with the defaults`).toBe(true);
    const spec = optimizerSpec(kind);
    for (const key of Object.keys(spec.hyper) as HyperKey[]) {
      const varied = cases.some((s) => s[key] !== undefined && JSON.stringify(s[key]) !== JSON.stringify(spec.hyper[key]));
      expect(varied, `${kind}: no fixture case sets ${key} to other than its default`).toBe(true);
    }
  });
});

describe('float32 updates run in native code', () => {
  it('SGD with weight decay and no momentum steps as sgdDecayStep does, bitwise (not a float64 loop)', () => {
    const n = 4096;
    const p0 = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 3);
    const g = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11) * 0.7);
    const viaSpec = Float32Array.from(p0);
    makeOptimizer({ kind: 'sgd', lr: 0.1, weightDecay: 0.05 }).step(viaSpec, g);
    const viaNative = Float32Array.from(p0);
    native().sgdDecayStep({ params: viaNative, grads: g, lr: 0.1, weightDecay: 0.05 });
    expect(viaSpec).toEqual(viaNative);
    // The same formula in float64, rounded once: it differs in some elements, so the check above tells the two apart.
    const viaLoop = Float32Array.from(p0);
    for (let i = 0; i < n; i++) viaLoop[i]! -= 0.1 * (g[i]! + 0.05 * viaLoop[i]!);
    expect(viaLoop).not.toEqual(viaNative);
  });
});
