// A small seeded generator (xoshiro128**, seeded through splitmix32) whose
// whole state is four 32-bit words, so checkpoints can store and restore it.

import { InputError } from './errors.js';
import { describe, show } from './validate.js';

export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Refuses, by `what`, a generator state that is not four whole numbers from 0
 * to 2^32 - 1, not all 0 (before, [0, 0, 0, 0] gave a generator whose every
 * draw is 0, and 1.5 or NaN were coerced without a word).
 */
export function checkRngState(state: unknown, what: string): asserts state is RngState {
  const ok = (Array.isArray(state) || state instanceof Uint32Array) && state.length === 4
    && Array.from(state as ArrayLike<unknown>).every((w) => Number.isInteger(w) && (w as number) >= 0 && (w as number) <= 0xffffffff);
  if (!ok) {
    const got = Array.isArray(state) && state.length <= 8 ? show(state) : describe(state);
    throw new InputError(`${what} must be a generator state: four whole numbers from 0 to 4294967295, got ${got}`);
  }
  if (Array.from(state as ArrayLike<number>).every((w) => w === 0)) throw new InputError(`${what} is all zeros, which no generator reaches (every draw would be 0)`);
}

export class Rng {
  private s: Uint32Array;

  /** `seed`: an integer from 0 to 2^32 - 1 (each gives its own stream). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new InputError(`an Rng's seed must be an integer from 0 to 4294967295, got ${show(seed)}`);
    }
    const next = splitmix32(seed);
    this.s = new Uint32Array([next(), next(), next(), next()]);
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  /** The generator whose state() was `state` (four 32-bit words, not all 0). */
  static fromState(state: RngState): Rng {
    checkRngState(state, 'Rng.fromState(state)');
    const r = new Rng(0);
    r.s.set(state);
    return r;
  }

  state(): RngState {
    return [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!];
  }

  /** Next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle(a: Int32Array | number[]): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Refuses what is not an Rng (something with uniform()), naming `what` it was given as. */
export function checkRng(rng: unknown, what: string): asserts rng is Rng {
  if (typeof (rng as Partial<Rng> | null)?.uniform !== 'function') {
    throw new InputError(`${what} must be an Rng (new Rng(seed)), got ${describe(rng)}`);
  }
}
