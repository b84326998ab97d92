// Against PyTorch: fixtures written by scripts/make_fixtures.py (nn.RNN / nn.GRU /
// nn.LSTM + nn.Linear in float64): loss, every gradient, one clipped SGD step, and
// the book's greedy predict.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { argmax } from '../../src/generate.js';
import type { ModelConfig } from '../../src/nn/config.js';
import { RNNLM } from '../../src/nn/rnnlm.js';
import { RNNLMScratch } from '../../src/nn/scratch.js';
import { SGD } from '../../src/train/optim.js';
import { Trainer } from '../../src/train/trainer.js';
import { expectClose } from '../helpers/compare.js';

interface Fixture {
  config: ModelConfig;
  T: number;
  N: number;
  inputs: number[];
  targets: number[];
  weights: Record<string, number[]>;
  loss: number;
  grads: Record<string, number[]>;
  grad_norm: number;
  lr: number;
  clip: number;
  stepped: Record<string, number[]>;
  prefix: number[];
  num_preds: number;
  predicted: number[];
}

const load = (cell: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/torch_${cell}.json`, import.meta.url), 'utf8')) as Fixture;

function flat(model: { table: { name: string }[] }, byName: Record<string, number[]>): number[] {
  return model.table.flatMap((p) => byName[p.name]!);
}

describe.each(['rnn', 'rnn-relu', 'gru', 'lstm'])('%s against PyTorch', (cell) => {
  const fx = load(cell);
  const batch = { T: fx.T, N: fx.N, inputs: Int32Array.from(fx.inputs), targets: Int32Array.from(fx.targets) };

  it('has every PyTorch parameter name and shape in our table', () => {
    const model = new RNNLM(fx.config);
    expect(model.table.map((p) => p.name).sort()).toEqual(Object.keys(fx.weights).sort());
    for (const p of model.table) expect(fx.weights[p.name]!.length).toBe(p.size);
  });

  it('native loss and gradients match', () => {
    const model = new RNNLM(fx.config);
    model.loadStateDict(fx.weights);
    model.zeroGrad();
    expectClose(`${cell} native loss`, [model.forward(batch, { train: true })], [fx.loss], 1e-5);
    model.backward();
    expectClose(`${cell} native grads`, model.grads, flat(model, fx.grads), 1e-4);
  });

  it('scratch (float64) loss and gradients match to 1e-9', () => {
    const model = new RNNLMScratch(fx.config);
    model.loadStateDict(fx.weights);
    model.zeroGrad();
    expectClose(`${cell} scratch loss`, [model.forward(batch, { train: true })], [fx.loss], 1e-9);
    model.backward();
    expectClose(`${cell} scratch grads`, model.grads, flat(model, fx.grads), 1e-9);
  });

  it('one clipped SGD step matches', () => {
    const model = new RNNLM(fx.config);
    model.loadStateDict(fx.weights);
    model.zeroGrad();
    model.forward(batch, { train: true });
    model.backward();
    const trainer = new Trainer({ epochs: 1, clip: fx.clip });
    const norm = trainer.clipGradients(model);
    expectClose(`${cell} grad norm`, [norm], [fx.grad_norm], 1e-5);
    new SGD(fx.lr).step(model.params, model.grads);
    expectClose(`${cell} stepped weights`, model.params, flat(model, fx.stepped), 1e-5);
  });

  it("greedy prediction matches the book's predict", () => {
    const model = new RNNLM(fx.config);
    model.loadStateDict(fx.stepped);
    const stepper = model.stepper();
    const out = [fx.prefix[0]!];
    for (let i = 0; i < fx.prefix.length + fx.num_preds - 1; i++) {
      const logits = stepper.feed(out[out.length - 1]!);
      out.push(i < fx.prefix.length - 1 ? fx.prefix[i + 1]! : argmax(logits));
    }
    expect(out).toEqual(fx.predicted);
  });
});
