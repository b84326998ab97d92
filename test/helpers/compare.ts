// Element-wise comparison with a printed maximum error.
import { expect } from 'vitest';

export interface Diff {
  maxAbs: number;
  maxRel: number;
  worst: number;
}

/** max |a - b| and max |a - b| / (|b| + floor) over all elements. */
export function diff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): Diff {
  expect(a.length).toBe(b.length);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    const r = d / (Math.abs(b[i]!) + floor);
    if (!(d <= maxAbs)) maxAbs = d;
    if (!(r <= maxRel)) {
      maxRel = r;
      worst = i;
    }
  }
  return { maxAbs, maxRel, worst };
}

/** Fails when any element's relative error (with an absolute floor) exceeds tol; logs the maximum. */
export function expectClose(label: string, a: ArrayLike<number>, b: ArrayLike<number>, tol: number, floor = 1e-3): Diff {
  const d = diff(a, b, floor);
  console.log(`${label}: max abs ${d.maxAbs.toExponential(2)}, max rel ${d.maxRel.toExponential(2)}`);
  if (!(d.maxRel <= tol)) {
    throw new Error(`${label}: element ${d.worst} differs: ${a[d.worst]} vs ${b[d.worst]} (rel ${d.maxRel.toExponential(2)} > ${tol})`);
  }
  return d;
}

/** ||a - b|| / ||b||: a whole array's difference, where single elements may differ (a unit crossing 0, a bf16 rounding that flips). */
export function relativeNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  return Math.sqrt(diff / norm);
}
