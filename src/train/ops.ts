// Buffer-wide operations used by clipping and optimizers: native for float32
// buffers, plain loops for the float64 scratch model.
import { native } from '../native.js';
import type { FloatArray } from '../nn/module.js';

export function sumSquares(x: FloatArray): number {
  if (x instanceof Float32Array) return native().sumSquares(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return s;
}

export function scaleInPlace(x: FloatArray, s: number): void {
  if (x instanceof Float32Array) native().scale(x, s);
  else for (let i = 0; i < x.length; i++) x[i]! *= s;
}

export function sgdStep(params: FloatArray, grads: FloatArray, lr: number): void {
  if (params instanceof Float32Array && grads instanceof Float32Array) native().sgdStep(params, grads, lr);
  else for (let i = 0; i < params.length; i++) params[i]! -= lr * grads[i]!;
}

export function clampInPlace(x: FloatArray, c: number): void {
  if (x instanceof Float32Array) native().clipValue(x, c);
  else for (let i = 0; i < x.length; i++) x[i] = Math.min(c, Math.max(-c, x[i]!));
}
