// Optimizers update the one parameter buffer from the one gradient buffer.
import type { FloatArray } from '../nn/module.js';
import { sgdStep } from './ops.js';

export interface Optimizer {
  readonly kind: string;
  lr: number;
  step(params: FloatArray, grads: FloatArray): void;
  /** State to store in a checkpoint (plain JSON). */
  toJSON(): Record<string, unknown>;
}

/** Plain SGD: p -= lr * g (the book's d2l.SGD). */
export class SGD implements Optimizer {
  readonly kind = 'sgd';

  constructor(public lr: number) {}

  step(params: FloatArray, grads: FloatArray): void {
    sgdStep(params, grads, this.lr);
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, lr: this.lr };
  }
}
