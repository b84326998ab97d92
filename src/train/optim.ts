// Optimizers, each described once in OPTIMIZER_SPECS: its name, its default
// learning rate, PyTorch's hyperparameters with PyTorch's defaults, the names of
// its state buffers and its update. Everything else reads the spec: the
// `train` options with their checks and help (src/train/settings.ts,
// src/cli/train.ts), the checkpoint's checks (src/io/checkpoint.ts),
// makeOptimizer and the library's exports. Adding an optimizer is its native
// update (native/kernels/optim.*, native/binding/optim.cc), its entry here and
// its PyTorch fixture (scripts/make_fixtures.py).
//
// Every optimizer updates the one parameter buffer from the one gradient
// buffer, its state buffers laid out as the parameters. Float32 buffers update
// in native code; the float64 scratch model's in the same formulas here.
import { InputError } from '../errors.js';
import { native } from '../native.js';
import type { FloatArray } from '../nn/module.js';
import { sgdStep } from './ops.js';
import { describe, refuseUnknownKeys, show } from '../validate.js';

/** The values of every hyperparameter an optimizer may have (PyTorch's, camelCase). */
export interface HyperValues {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  alpha: number;
}
export type HyperKey = keyof HyperValues;

/** What a hyperparameter means and which values it takes: the same for every optimizer that has it. */
export interface HyperParam {
  /** PyTorch's keyword argument. */
  torch: string;
  /** A number, a flag (true or false) or a pair of numbers. */
  type: 'number' | 'flag' | 'pair';
  /** The command line's placeholder (`--momentum <m>`); a flag has none. */
  placeholder?: string;
  /** What it is, for --help. */
  help: string;
  /** The range of a number, or of each number of a pair, and how a message says it. */
  check?: (v: number) => boolean;
  expected?: string;
}

export const HYPERPARAMS: { readonly [K in HyperKey]: HyperParam } = {
  momentum: { torch: 'momentum', type: 'number', placeholder: 'm', help: 'momentum', check: (v) => v >= 0, expected: 'a number >= 0' },
  dampening: { torch: 'dampening', type: 'number', placeholder: 'd', help: 'dampening of the momentum', check: (v) => v >= 0 && v <= 1, expected: 'a number in [0, 1]' },
  nesterov: { torch: 'nesterov', type: 'flag', help: 'Nesterov momentum' },
  betas: {
    torch: 'betas', type: 'pair', placeholder: 'b1,b2', help: 'betas', check: (v) => v >= 0 && v < 1, expected: 'two numbers in [0, 1), e.g. 0.9,0.999',
  },
  // (one that float32 holds: a smaller one is 0 in the native update's float32, and Adam's 0 / 0 at a weight
  // without gradient made NaN weights, blamed on --lr; a larger one is Infinity there, and every update 0)
  eps: {
    torch: 'eps', type: 'number', placeholder: 'e', help: 'epsilon', check: (v) => Math.fround(v) > 0 && Math.fround(v) < Infinity,
    expected: 'a positive number that float32 holds (1.4e-45 to 3.4e38)',
  },
  weightDecay: { torch: 'weight_decay', type: 'number', placeholder: 'w', help: 'L2 penalty', check: (v) => v >= 0, expected: 'a number >= 0' },
  alpha: { torch: 'alpha', type: 'number', placeholder: 'a', help: 'smoothing constant', check: (v) => v >= 0 && v < 1, expected: 'a number in [0, 1)' },
};

export const HYPER_KEYS = Object.keys(HYPERPARAMS) as HyperKey[];

/** One step's inputs, for an optimizer's update. */
export interface UpdateContext<K extends HyperKey> {
  params: FloatArray;
  grads: FloatArray;
  lr: number;
  h: Pick<HyperValues, K>;
  /** The step's number, 1 for the first (after a resume: the steps before it, plus 1). */
  step: number;
  /** A state buffer by name (one of the spec's `buffers`): zeros on first use, of the parameters' type and length. */
  buffer: (name: string) => FloatArray;
}

/** An optimizer, described once. */
export interface OptimizerSpec<K extends HyperKey = HyperKey> {
  /** What it is, in a line. */
  summary: string;
  /** The default learning rate. */
  lr: number;
  /** Its hyperparameters with their defaults (PyTorch's). */
  hyper: Pick<HyperValues, K>;
  /** How a hyperparameter's meaning differs in this optimizer, for --help ("decoupled"). */
  notes?: Partial<Record<K, string>>;
  /** Its state buffers, stored in checkpoints as "optimizer.NAME". */
  buffers: readonly string[];
  /** The buffers that hold averages of squares, never negative (a checkpoint's are checked). */
  nonNegative?: readonly string[];
  /** A combination of values the ranges allow and the update does not: the message (options named by `name`), else null. */
  conflict?: (h: Pick<HyperValues, K>, name: (key: HyperKey) => string) => string | null;
  /** One step: float32 buffers in native code, float64 ones in the same formula in TypeScript. */
  update: (c: UpdateContext<K>) => void;
}

const defineOptimizer = <K extends HyperKey>(spec: OptimizerSpec<K>): OptimizerSpec<K> => spec;
/** step's weights and gradients: float arrays of one kind and length (before, short float64 gradients made NaN weights). */
function checkStepArgs(params: FloatArray, grads: FloatArray): void {
  const float = (a: unknown) => a instanceof Float32Array || a instanceof Float64Array;
  if (!float(params)) throw new InputError(`step(params, grads) needs the weights as a Float32Array or Float64Array, got ${describe(params)}`);
  if (!float(grads) || grads.constructor !== params.constructor || grads.length !== params.length) {
    throw new InputError(`step(params, grads): grads must be a ${params.constructor.name} of ${params.length} values as the weights, got ${describe(grads)}${float(grads) ? ` of ${grads.length} values` : ''}`);
  }
}

/** The buffers as Float32Arrays when every one is (the native path), else null (float64: the TypeScript path). */
function f32<T extends FloatArray[]>(...a: T): { [I in keyof T]: Float32Array } | null {
  return a.every((x) => x instanceof Float32Array) ? (a as { [I in keyof T]: Float32Array }) : null;
}

/**
 * Plain SGD's one-pass step (stepChecked) from this many weights on, where it
 * runs on the threads. Measured on the development machine right after a
 * training step, 2 threads: C's 3.3M weights 1.47 ms in one pass against
 * 1.90 ms for scale, copy, step and check in turn (1 thread: 2.83 against
 * 3.99 ms); but the book's 13,212 weights 62-69 us against 33 us, the
 * gradients and weights coming from the other core's cache faster pass by
 * pass.
 */
export const FUSED_STEP_MIN = 1 << 15;

/** Adam's and AdamW's update: they differ in where the weight decay goes. */
function adamUpdate(decoupled: boolean) {
  return ({ params: p, grads: g, lr, h, step: t, buffer }: UpdateContext<'betas' | 'eps' | 'weightDecay'>): void => {
    const m = buffer('exp_avg');
    const v = buffer('exp_avg_sq');
    const [b1, b2] = h.betas;
    const wd = h.weightDecay;
    const n = f32(p, g, m, v);
    if (n) {
      native().adamStep({ params: n[0], grads: n[1], m: n[2], v: n[3], lr, beta1: b1, beta2: b2, eps: h.eps, weightDecay: wd, step: t, decoupled });
      return;
    }
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    for (let i = 0; i < p.length; i++) {
      let d = g[i]!;
      if (decoupled) p[i]! *= 1 - lr * wd;
      else d += wd * p[i]!;
      m[i] = m[i]! * b1 + d * (1 - b1);
      v[i] = v[i]! * b2 + (1 - b2) * d * d;
      p[i]! -= (lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / bc2Sqrt + h.eps));
    }
  };
}

export const OPTIMIZER_SPECS = {
  sgd: defineOptimizer({
    summary: "SGD with PyTorch's momentum, dampening, Nesterov and L2 weight decay; plain SGD is the book's",
    lr: 2, // the book's (PyTorch's SGD has no default rate)
    hyper: { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    buffers: ['momentum_buffer'],
    // PyTorch refuses the first and accepts the second, never reading the dampening: here it does not apply.
    conflict: (h, name) => (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)
      ? `${name('nesterov')} needs ${name('momentum')} above 0 (and no dampening)`
      : h.dampening !== 0 && !(h.momentum > 0) ? `${name('dampening')} needs ${name('momentum')} above 0 (it damps the momentum buffer)` : null),
    update: ({ params: p, grads: g, lr, h, step, buffer }) => {
      const { momentum, dampening, nesterov, weightDecay: wd } = h;
      if (momentum !== 0) {
        // d = g + wd p; buf = d (first step) or momentum buf + (1 - dampening) d; p -= lr (nesterov ? d + momentum buf : buf)
        const buf = buffer('momentum_buffer');
        const first = step === 1;
        const n = f32(p, g, buf);
        if (n) {
          native().sgdMomentumStep({ params: n[0], grads: n[1], buf: n[2], lr, momentum, dampening, nesterov, weightDecay: wd, first });
          return;
        }
        for (let i = 0; i < p.length; i++) {
          let d = g[i]! + wd * p[i]!;
          buf[i] = first ? d : momentum * buf[i]! + (1 - dampening) * d;
          d = nesterov ? d + momentum * buf[i]! : buf[i]!;
          p[i]! -= lr * d;
        }
      } else if (wd !== 0) {
        // p -= lr (g + wd p)
        const n = f32(p, g);
        if (n) native().sgdDecayStep({ params: n[0], grads: n[1], lr, weightDecay: wd });
        else for (let i = 0; i < p.length; i++) p[i]! -= lr * (g[i]! + wd * p[i]!);
      } else {
        sgdStep(p, g, lr);
      }
    },
  }),
  adam: defineOptimizer({
    summary: "Adam, as PyTorch's",
    lr: 1e-3,
    hyper: { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
    buffers: ['exp_avg', 'exp_avg_sq'],
    nonNegative: ['exp_avg_sq'],
    update: adamUpdate(false),
  }),
  adamw: defineOptimizer({
    summary: "AdamW (Adam with decoupled weight decay), as PyTorch's",
    lr: 1e-3,
    hyper: { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 },
    notes: { weightDecay: 'decoupled' },
    buffers: ['exp_avg', 'exp_avg_sq'],
    nonNegative: ['exp_avg_sq'],
    update: adamUpdate(true),
  }),
  rmsprop: defineOptimizer({
    summary: "RMSprop as PyTorch's (not centered), with optional momentum",
    lr: 1e-2,
    hyper: { alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0 },
    buffers: ['square_avg', 'momentum_buffer'],
    nonNegative: ['square_avg'],
    update: ({ params: p, grads: g, lr, h, buffer }) => {
      const { alpha, eps, weightDecay: wd, momentum } = h;
      const sq = buffer('square_avg');
      const buf = buffer('momentum_buffer');
      const n = f32(p, g, sq, buf);
      if (n) {
        native().rmspropStep({ params: n[0], grads: n[1], squareAvg: n[2], buf: n[3], lr, alpha, eps, weightDecay: wd, momentum });
        return;
      }
      for (let i = 0; i < p.length; i++) {
        const d = g[i]! + wd * p[i]!;
        sq[i] = sq[i]! * alpha + (1 - alpha) * d * d;
        const a = Math.sqrt(sq[i]!) + eps;
        if (momentum > 0) {
          buf[i] = buf[i]! * momentum + d / a;
          p[i]! -= lr * buf[i]!;
        } else {
          p[i]! -= lr * (d / a);
        }
      }
    },
  }),
};

export type OptimizerKind = keyof typeof OPTIMIZER_SPECS;
export const OPTIMIZERS = Object.keys(OPTIMIZER_SPECS) as OptimizerKind[];

/** An optimizer's spec, its hyperparameters seen as any of HyperValues' (only its own are present). */
export function optimizerSpec(kind: OptimizerKind): OptimizerSpec {
  return OPTIMIZER_SPECS[kind] as unknown as OptimizerSpec;
}

/** Whether `kind` has the hyperparameter `key`. */
export const hasHyper = (kind: OptimizerKind, key: HyperKey): boolean => key in OPTIMIZER_SPECS[kind].hyper;

/** The optimizers that have the hyperparameter `key`. */
export const optimizersWith = (key: HyperKey): OptimizerKind[] => OPTIMIZERS.filter((k) => hasHyper(k, key));

/** Each optimizer's default learning rate: the book's 2 for SGD, PyTorch's for the others. */
export const DEFAULT_LR = Object.fromEntries(OPTIMIZERS.map((k) => [k, OPTIMIZER_SPECS[k].lr])) as Record<OptimizerKind, number>;

/** An optimizer and its hyperparameters, as the settings, a checkpoint or makeOptimizer give them (left out: the spec's default). */
export interface OptimizerSettings extends Partial<HyperValues> {
  kind: OptimizerKind;
  lr: number;
}

/** How a hyperparameter's value is written (in --help and messages): 0.9,0.999 for a pair. */
export const showHyper = (v: HyperValues[HyperKey]): string => (Array.isArray(v) ? v.join(',') : String(v));

/** Whether a value (as a program or a checkpoint gives it: numbers, booleans, arrays) is in the hyperparameter's range. */
export function validHyper(key: HyperKey, v: unknown): boolean {
  const p = HYPERPARAMS[key];
  if (p.type === 'flag') return typeof v === 'boolean';
  const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && p.check!(x);
  return p.type === 'pair' ? Array.isArray(v) && v.length === 2 && v.every(ok) : ok(v);
}

export interface Optimizer {
  readonly kind: OptimizerKind;
  /** The learning rate of the next step (a schedule sets it). */
  lr: number;
  /** Steps taken. */
  readonly steps: number;
  step(params: FloatArray, grads: FloatArray): void;
  /**
   * The same step with the gradients scaled by gradScale first (clipping) and
   * the weights as they were copied to backup, in one pass over the buffers,
   * where the optimizer has such a pass: returns whether every updated weight
   * is finite. Else null, and nothing is done.
   */
  stepChecked?(params: FloatArray, grads: FloatArray, backup: FloatArray, gradScale: number): boolean | null;
  /** Hyper-parameters and step count, as plain JSON. */
  toJSON(): OptimizerSettings & { steps: number };
  /** Named state buffers, each as long as the parameters (empty for plain SGD). */
  state(): Record<string, FloatArray>;
  loadState(state: Record<string, Float32Array>, steps: number): void;
}

/**
 * An optimizer of any kind, run from its spec. Its hyperparameters are the
 * given ones, else the spec's defaults; a value out of range, a hyperparameter
 * the kind does not have, or a combination the update does not allow is an
 * InputError naming it as the library does (`momentum must be a number >= 0`).
 */
export class SpecOptimizer implements Optimizer {
  steps = 0;
  readonly hyper: Readonly<Partial<HyperValues>>;
  private readonly spec: OptimizerSpec;
  private buffers: Record<string, FloatArray> = {};
  /** Buffers given by loadState, not yet checked against the weights' length. */
  private loaded = new Set<string>();
  /** The weights the state buffers are of (set by the first step that uses them). */
  private owner: FloatArray | null = null;
  private rate = 0;

  constructor(
    readonly kind: OptimizerKind,
    lr: number,
    given: Partial<HyperValues> = {},
  ) {
    if (!OPTIMIZERS.includes(kind)) throw new InputError(`optimizer must be one of ${OPTIMIZERS.join('|')}, got ${JSON.stringify(kind)}`);
    this.lr = lr;
    this.spec = optimizerSpec(kind);
    const hyper: Partial<HyperValues> = { ...this.spec.hyper };
    for (const key of HYPER_KEYS) {
      const v = given[key];
      if (v === undefined) continue;
      if (!hasHyper(kind, key)) throw new InputError(`${key} applies to optimizer ${optimizersWith(key).join('|')}, not ${kind}`);
      if (!validHyper(key, v)) {
        throw new InputError(`${key} must be ${HYPERPARAMS[key].expected ?? 'true or false'}, got ${JSON.stringify(v)}`);
      }
      (hyper as Record<HyperKey, unknown>)[key] = v;
    }
    const conflict = this.spec.conflict?.(hyper as HyperValues, (k) => k);
    if (conflict) throw new InputError(conflict);
    this.hyper = hyper;
  }

  /** The learning rate of the next step: a finite number of 0 or more (PyTorch's rule), checked when set as when made. */
  get lr(): number {
    return this.rate;
  }

  set lr(lr: number) {
    // (before, a later lr = -1 was taken: the optimizer climbed the loss)
    if (typeof lr !== 'number' || !(lr >= 0) || !Number.isFinite(lr)) throw new InputError(`lr must be a finite number of 0 or more, got ${show(lr)}`);
    this.rate = lr;
  }

  step(params: FloatArray, grads: FloatArray): void {
    checkStepArgs(params, grads);
    this.spec.update({
      params, grads, lr: this.lr, h: this.hyper as HyperValues, step: this.steps + 1, buffer: (name) => this.buffer(name, params),
    });
    this.steps++;
  }

  /**
   * Plain SGD on float32 buffers of at least FUSED_STEP_MIN weights:
   * native().sgdStepChecked; else null. Null too when step() is not this
   * class's (a subclass or a wrapper of it): that step is the one to run.
   */
  stepChecked(params: FloatArray, grads: FloatArray, backup: FloatArray, gradScale: number): boolean | null {
    checkStepArgs(params, grads);
    const h = this.hyper;
    if (this.kind !== 'sgd' || h.momentum !== 0 || h.weightDecay !== 0 || params.length < FUSED_STEP_MIN) return null;
    if (this.step !== SpecOptimizer.prototype.step) return null;
    const n = f32(params, grads, backup);
    if (!n) return null;
    const finite = native().sgdStepChecked({ params: n[0], grads: n[1], backup: n[2], lr: this.lr, gradScale });
    this.steps++;
    return finite;
  }

  toJSON(): OptimizerSettings & { steps: number } {
    return { kind: this.kind, lr: this.lr, ...this.hyper, steps: this.steps };
  }

  state(): Record<string, FloatArray> {
    return this.buffers;
  }

  /**
   * The state a checkpoint keeps (state(), toJSON().steps): each buffer an
   * array of finite numbers (of 0 or more where the update takes its square
   * root), a buffer left out starting from zeros; steps a whole number of 0
   * or more. Checked here, and each buffer's length at the next step (before,
   * steps -1 made NaN weights, NaN moments were taken, and one of the wrong
   * length was replaced by zeros without a word).
   */
  loadState(state: Record<string, ArrayLike<number>>, steps: number): void {
    if (typeof state !== 'object' || state === null) throw new InputError(`loadState(state, steps) needs the buffers by name (state()), got ${describe(state)}`);
    refuseUnknownKeys(state, this.spec.buffers, `loadState (${this.kind}'s buffers)`);
    if (!Number.isSafeInteger(steps) || steps < 0) throw new InputError(`loadState: steps must be a whole number of 0 or more, got ${describe(steps)}`);
    const buffers: Record<string, Float32Array> = {};
    for (const name of this.spec.buffers) {
      const src = state[name];
      if (src === undefined) continue;
      if (typeof src !== 'object' || src === null || typeof src.length !== 'number') {
        throw new InputError(`loadState: ${name} must be an array of numbers, got ${describe(src)}`);
      }
      const b = Float32Array.from(src);
      const nonNegative = this.spec.nonNegative?.includes(name) ?? false;
      for (let i = 0; i < b.length; i++) {
        const v = b[i]!;
        if (!Number.isFinite(v) || (nonNegative && v < 0)) {
          throw new InputError(`loadState: ${name} holds ${describe(src[i])} at index ${i}: expected ${nonNegative ? 'a finite number of 0 or more' : 'a finite number'}`);
        }
      }
      buffers[name] = b;
    }
    this.buffers = buffers;
    this.loaded = new Set(Object.keys(buffers));
    this.owner = null;
    this.steps = steps;
  }

  /** The named buffer, zeros of the parameters' type and length on first use. */
  private buffer(name: string, like: FloatArray): FloatArray {
    let b = this.buffers[name];
    if (b && this.loaded.has(name)) {
      if (b.length !== like.length) {
        throw new InputError(`the ${name} that loadState gave holds ${b.length} values, but the weights stepped hold ${like.length}: `
          + 'a state is of one model\'s weights');
      }
      this.loaded.delete(name);
    } else if (b) {
      // State of other weights than these (one optimizer stepping two models: each moved by the other's moments)
      // (held, not weakly: whether another model's weights were refused must not hang on a collection)
      const owner = this.owner;
      if (owner !== null && owner !== like) {
        throw new InputError(`this ${this.kind} optimizer's ${name} is of the weights it stepped before, not these: `
          + 'give each model an optimizer of its own (or loadState to start it anew)');
      }
    }
    this.owner = like;
    if (!b || b.length !== like.length || b.constructor !== like.constructor) {
      const fresh: FloatArray = like instanceof Float32Array ? new Float32Array(like.length) : new Float64Array(like.length);
      if (b && b.length === like.length) fresh.set(b);
      b = this.buffers[name] = fresh;
    }
    return b;
  }
}

/** An optimizer from its settings (as the command line parses them or a checkpoint stores them; other keys are ignored). */
export function makeOptimizer(s: OptimizerSettings): Optimizer {
  if (typeof s !== 'object' || s === null) throw new InputError(`makeOptimizer needs settings { kind, lr, ... }, got ${s === null ? 'null' : typeof s}`);
  // (steps: toJSON()'s, which a checkpoint keeps beside the settings)
  refuseUnknownKeys(s, ['kind', 'lr', 'steps', ...HYPER_KEYS], 'makeOptimizer');
  const given: Partial<HyperValues> = {};
  for (const key of HYPER_KEYS) if (s[key] !== undefined) (given as Record<HyperKey, unknown>)[key] = s[key];
  return new SpecOptimizer(s.kind, s.lr, given);
}

// The classes of the library's first version, each a SpecOptimizer with positional hyperparameters.

/** SGD with PyTorch's momentum, dampening, Nesterov and L2 weight decay; plain SGD is the book's. */
export class SGD extends SpecOptimizer {
  constructor(lr: number, momentum = 0, nesterov = false, weightDecay = 0, dampening = 0) {
    super('sgd', lr, { momentum, nesterov, weightDecay, dampening });
  }
}

/** Adam, or AdamW (decoupled weight decay), as PyTorch's. */
export class Adam extends SpecOptimizer {
  constructor(lr: number, betas: [number, number] = [0.9, 0.999], eps = 1e-8, weightDecay = 0, decoupled = false) {
    super(decoupled ? 'adamw' : 'adam', lr, { betas, eps, weightDecay });
  }
}

/** RMSprop as PyTorch's (not centered), with optional momentum. */
export class RMSprop extends SpecOptimizer {
  constructor(lr: number, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0) {
    super('rmsprop', lr, { alpha, eps, weightDecay, momentum });
  }
}
