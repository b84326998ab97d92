// Optimizers update the one parameter buffer from the one gradient buffer,
// with PyTorch's formulas and defaults; their state buffers have the same
// layout. Float32 buffers update in native code, the float64 scratch model's
// in the same formulas here.
import { InputError } from '../errors.js';
import { native } from '../native.js';
import type { FloatArray } from '../nn/module.js';
import { sgdStep } from './ops.js';

export const OPTIMIZERS = ['sgd', 'adam', 'adamw', 'rmsprop'] as const;
export type OptimizerKind = (typeof OPTIMIZERS)[number];

export interface OptimizerSettings {
  kind: OptimizerKind;
  lr: number;
  /** sgd, rmsprop */
  momentum?: number;
  /** sgd */
  nesterov?: boolean;
  dampening?: number;
  /** adam, adamw */
  betas?: [number, number];
  /** adam, adamw, rmsprop */
  eps?: number;
  weightDecay?: number;
  /** rmsprop */
  alpha?: number;
}

/** PyTorch's default learning rates, where the book's lr 2 (for plain SGD) would not do. */
export const DEFAULT_LR: Record<OptimizerKind, number> = { sgd: 2, adam: 1e-3, adamw: 1e-3, rmsprop: 1e-2 };

export interface Optimizer {
  readonly kind: OptimizerKind;
  /** The learning rate of the next step (a schedule sets it). */
  lr: number;
  /** Steps taken. */
  readonly steps: number;
  step(params: FloatArray, grads: FloatArray): void;
  /** Hyper-parameters and step count, as plain JSON. */
  toJSON(): OptimizerSettings & { steps: number };
  /** Named state buffers, each as long as the parameters (empty for plain SGD). */
  state(): Record<string, FloatArray>;
  loadState(state: Record<string, Float32Array>, steps: number): void;
}

abstract class Base<K extends OptimizerKind> implements Optimizer {
  steps = 0;
  protected buffers: Record<string, FloatArray> = {};

  constructor(
    readonly kind: K,
    public lr: number,
    readonly weightDecay: number,
  ) {}

  abstract step(params: FloatArray, grads: FloatArray): void;
  protected abstract settings(): Omit<OptimizerSettings, 'kind' | 'lr'>;
  protected abstract bufferNames(): string[];

  toJSON(): OptimizerSettings & { steps: number } {
    return { kind: this.kind, lr: this.lr, ...this.settings(), steps: this.steps };
  }

  state(): Record<string, FloatArray> {
    return this.buffers;
  }

  loadState(state: Record<string, Float32Array>, steps: number): void {
    for (const name of this.bufferNames()) {
      if (state[name]) this.buffers[name] = Float32Array.from(state[name]!);
    }
    this.steps = steps;
  }

  /** The named buffer, zeros of the parameters' type and length on first use. */
  protected buffer(name: string, like: FloatArray): FloatArray {
    let b = this.buffers[name];
    if (!b || b.length !== like.length || b.constructor !== like.constructor) {
      const fresh: FloatArray = like instanceof Float32Array ? new Float32Array(like.length) : new Float64Array(like.length);
      if (b && b.length === like.length) fresh.set(b);
      b = this.buffers[name] = fresh;
    }
    return b;
  }
}

/** SGD with PyTorch's momentum, dampening, Nesterov and L2 weight decay; plain SGD is the book's. */
export class SGD extends Base<'sgd'> {
  constructor(
    lr: number,
    readonly momentum = 0,
    readonly nesterov = false,
    weightDecay = 0,
    readonly dampening = 0,
  ) {
    super('sgd', lr, weightDecay);
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new InputError('--nesterov needs --momentum above 0 (and no dampening)');
  }

  step(p: FloatArray, g: FloatArray): void {
    if (this.momentum === 0 && this.weightDecay === 0) {
      sgdStep(p, g, this.lr);
    } else if (this.momentum === 0) {
      for (let i = 0; i < p.length; i++) p[i]! -= this.lr * (g[i]! + this.weightDecay * p[i]!);
    } else {
      const buf = this.buffer('momentum_buffer', p);
      const first = this.steps === 0;
      if (p instanceof Float32Array && g instanceof Float32Array) {
        native().sgdMomentumStep({ params: p, buf: buf as Float32Array, grads: g, lr: this.lr, momentum: this.momentum,
          dampening: this.dampening, nesterov: this.nesterov, weightDecay: this.weightDecay, first });
      } else {
        for (let i = 0; i < p.length; i++) {
          let d = g[i]! + this.weightDecay * p[i]!;
          buf[i] = first ? d : this.momentum * buf[i]! + (1 - this.dampening) * d;
          d = this.nesterov ? d + this.momentum * buf[i]! : buf[i]!;
          p[i]! -= this.lr * d;
        }
      }
    }
    this.steps++;
  }

  protected settings() {
    return { momentum: this.momentum, nesterov: this.nesterov, dampening: this.dampening, weightDecay: this.weightDecay };
  }

  protected bufferNames() {
    return ['momentum_buffer'];
  }
}

/** Adam, or AdamW (decoupled weight decay), as PyTorch's. */
export class Adam extends Base<'adam' | 'adamw'> {
  constructor(
    lr: number,
    readonly betas: [number, number] = [0.9, 0.999],
    readonly eps = 1e-8,
    weightDecay = 0,
    decoupled = false,
  ) {
    super(decoupled ? 'adamw' : 'adam', lr, weightDecay);
  }

  step(p: FloatArray, g: FloatArray): void {
    const m = this.buffer('exp_avg', p);
    const v = this.buffer('exp_avg_sq', p);
    const t = ++this.steps;
    const [b1, b2] = this.betas;
    const decoupled = this.kind === 'adamw';
    if (p instanceof Float32Array && g instanceof Float32Array) {
      native().adamStep({ params: p, m: m as Float32Array, v: v as Float32Array, grads: g, lr: this.lr, beta1: b1, beta2: b2,
        eps: this.eps, weightDecay: this.weightDecay, step: t, decoupled });
      return;
    }
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    for (let i = 0; i < p.length; i++) {
      let d = g[i]!;
      if (decoupled) p[i]! *= 1 - this.lr * this.weightDecay;
      else d += this.weightDecay * p[i]!;
      m[i] = m[i]! * b1 + d * (1 - b1);
      v[i] = v[i]! * b2 + (1 - b2) * d * d;
      p[i]! -= (this.lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / bc2Sqrt + this.eps));
    }
  }

  protected settings() {
    return { betas: this.betas, eps: this.eps, weightDecay: this.weightDecay };
  }

  protected bufferNames() {
    return ['exp_avg', 'exp_avg_sq'];
  }
}

/** RMSprop as PyTorch's (not centered), with optional momentum. */
export class RMSprop extends Base<'rmsprop'> {
  constructor(
    lr: number,
    readonly alpha = 0.99,
    readonly eps = 1e-8,
    weightDecay = 0,
    readonly momentum = 0,
  ) {
    super('rmsprop', lr, weightDecay);
  }

  step(p: FloatArray, g: FloatArray): void {
    const sq = this.buffer('square_avg', p);
    const buf = this.buffer('momentum_buffer', p);
    if (p instanceof Float32Array && g instanceof Float32Array) {
      native().rmspropStep({ params: p, squareAvg: sq as Float32Array, buf: buf as Float32Array, grads: g, lr: this.lr,
        alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum });
    } else {
      for (let i = 0; i < p.length; i++) {
        const d = g[i]! + this.weightDecay * p[i]!;
        sq[i] = sq[i]! * this.alpha + (1 - this.alpha) * d * d;
        const a = Math.sqrt(sq[i]!) + this.eps;
        if (this.momentum > 0) {
          buf[i] = buf[i]! * this.momentum + d / a;
          p[i]! -= this.lr * buf[i]!;
        } else {
          p[i]! -= this.lr * (d / a);
        }
      }
    }
    this.steps++;
  }

  protected settings() {
    return { alpha: this.alpha, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum };
  }

  protected bufferNames() {
    return ['square_avg', 'momentum_buffer'];
  }
}

/** An optimizer from its settings (as the CLI parses them or a checkpoint stores them). */
export function makeOptimizer(s: OptimizerSettings): Optimizer {
  switch (s.kind) {
    case 'sgd': return new SGD(s.lr, s.momentum ?? 0, s.nesterov ?? false, s.weightDecay ?? 0, s.dampening ?? 0);
    case 'adam': return new Adam(s.lr, s.betas ?? [0.9, 0.999], s.eps ?? 1e-8, s.weightDecay ?? 0, false);
    case 'adamw': return new Adam(s.lr, s.betas ?? [0.9, 0.999], s.eps ?? 1e-8, s.weightDecay ?? 1e-2, true);
    case 'rmsprop': return new RMSprop(s.lr, s.alpha ?? 0.99, s.eps ?? 1e-8, s.weightDecay ?? 0, s.momentum ?? 0);
  }
}
