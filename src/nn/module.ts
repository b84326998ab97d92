// Module: parameters and gradients in one flat buffer each, with named views.
import { type ParamInfo } from './config.js';
import { fillInPlace } from '../train/ops.js';

export type FloatArray = Float32Array | Float64Array;

export interface Parameter<A extends FloatArray> {
  name: string;
  shape: number[];
  data: A;
  grad: A;
}

export abstract class Module<A extends FloatArray = FloatArray> {
  constructor(
    readonly table: ParamInfo[],
    readonly params: A,
    readonly grads: A,
  ) {}

  /** Named views of every parameter and its gradient. */
  parameters(): Parameter<A>[] {
    return this.table.map((p) => ({
      name: p.name,
      shape: p.shape,
      data: this.params.subarray(p.offset, p.offset + p.size) as A,
      grad: this.grads.subarray(p.offset, p.offset + p.size) as A,
    }));
  }

  param(name: string): A {
    const p = this.info(name);
    return this.params.subarray(p.offset, p.offset + p.size) as A;
  }

  grad(name: string): A {
    const p = this.info(name);
    return this.grads.subarray(p.offset, p.offset + p.size) as A;
  }

  zeroGrad(): void {
    fillInPlace(this.grads, 0);
  }

  /** Views of the parameters by name (PyTorch's state_dict names). */
  stateDict(): Record<string, A> {
    const out: Record<string, A> = {};
    for (const p of this.parameters()) out[p.name] = p.data;
    return out;
  }

  /** Copies every parameter from `state`; names and sizes must match exactly. */
  loadStateDict(state: Record<string, ArrayLike<number>>): void {
    const want = new Set(this.table.map((p) => p.name));
    for (const name of Object.keys(state)) {
      if (!want.has(name)) throw new Error(`unexpected parameter "${name}" (expected ${[...want].join(', ')})`);
    }
    for (const p of this.table) {
      const src = state[p.name];
      if (!src) throw new Error(`missing parameter "${p.name}"`);
      if (src.length !== p.size) {
        throw new Error(`parameter "${p.name}" has ${src.length} values, expected ${p.size} for shape [${p.shape.join(', ')}]`);
      }
      this.params.set(src, p.offset);
    }
  }

  private info(name: string): ParamInfo {
    const p = this.table.find((q) => q.name === name);
    if (!p) throw new Error(`no parameter named "${name}"`);
    return p;
  }
}

/** Views of layer l's recurrent weights and their gradients (PyTorch's names). */
export function rnnLayerViews<A extends FloatArray>(m: Module<A>, l: number) {
  return {
    wih: m.param(`rnn.weight_ih_l${l}`),
    whh: m.param(`rnn.weight_hh_l${l}`),
    bih: m.param(`rnn.bias_ih_l${l}`),
    bhh: m.param(`rnn.bias_hh_l${l}`),
    dwih: m.grad(`rnn.weight_ih_l${l}`),
    dwhh: m.grad(`rnn.weight_hh_l${l}`),
    dbih: m.grad(`rnn.bias_ih_l${l}`),
    dbhh: m.grad(`rnn.bias_hh_l${l}`),
  };
}
