// Module: parameters and gradients in one flat buffer each, with named views.
import { type ParamInfo } from './config.js';
import { InputError } from '../errors.js';
import { fillInPlace } from '../train/ops.js';
import { describe } from '../validate.js';

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
    this.checkAttached();
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
    this.checkAttached();
    fillInPlace(this.grads, 0);
  }

  /** Views of the parameters by name (PyTorch's state_dict names). */
  stateDict(): Record<string, A> {
    const out: Record<string, A> = {};
    for (const p of this.parameters()) out[p.name] = p.data;
    return out;
  }

  /**
   * Copies every parameter from `state`; names and sizes must match exactly,
   * and every value must be a finite number. All is checked before anything
   * is copied: a refused state leaves the model as it was.
   */
  loadStateDict(state: Record<string, ArrayLike<number>>): void {
    this.checkAttached();
    if (typeof state !== 'object' || state === null) throw new InputError(`loadStateDict needs an object of named parameters, got ${describe(state)}`);
    // (a float32 model holds a value past float32's range as Infinity)
    const finite = this.params instanceof Float32Array ? (v: number) => Number.isFinite(Math.fround(v)) : Number.isFinite;
    const want = new Set(this.table.map((p) => p.name));
    for (const name of Object.keys(state)) {
      if (!want.has(name)) throw new InputError(`unexpected parameter "${name}" (expected ${[...want].join(', ')})`);
    }
    for (const p of this.table) {
      const src = state[p.name];
      if (!src || typeof src.length !== 'number') throw new InputError(`missing parameter "${p.name}"`);
      if (src.length !== p.size) {
        throw new InputError(`parameter "${p.name}" has ${src.length} values, expected ${p.size} for shape [${p.shape.join(', ')}]`);
      }
      for (let i = 0; i < src.length; i++) {
        const v: unknown = src[i];
        if (typeof v !== 'number' || !finite(v)) {
          const what = this.params instanceof Float32Array ? 'a finite number within float32\'s range' : 'a finite number';
          throw new InputError(`parameter "${p.name}" holds ${describe(v)} at index ${i}: every weight must be ${what}`);
        }
      }
    }
    // Every value read before any is written: a source may be a view of these weights (stateDict()'s are),
    // and a swap of two parameters left both the old second one (before, copied in place one by one).
    const next = this.params.slice();
    for (const p of this.table) next.set(state[p.name]!, p.offset);
    this.params.set(next);
  }

  /**
   * Refuses, naming it, a model whose weights' buffer was given away
   * (transferred to a worker, structuredClone with transfer): its views would
   * read nothing; its gradients' likewise (the layers' views hold both).
   */
  protected checkAttached(): void {
    if (this.params.length === 0 && this.table.length > 0) {
      throw new InputError('this model\'s weights were transferred away (their ArrayBuffer is detached): the model cannot be used');
    }
    if (this.grads.length === 0 && this.table.length > 0) {
      throw new InputError('this model\'s gradients were transferred away (their ArrayBuffer is detached): the model cannot be used');
    }
  }

  private info(name: string): ParamInfo {
    this.checkAttached();
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
