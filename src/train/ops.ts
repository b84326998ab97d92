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

/**
 * From this many elements fill and copy go to the native side, whose threads
 * share them (its kParallelWork); below, a native call costs more than the
 * work.
 */
const NATIVE_FILL = 1 << 15;

/** x = v, element by element (on the threads for a large float32 buffer). */
export function fillInPlace(x: FloatArray, v: number): void {
  if (x instanceof Float32Array && x.length >= NATIVE_FILL) native().fill(x, v);
  else x.fill(v);
}

/** dst = src, of the same length (on the threads for large float32 buffers). */
export function copyInto(dst: FloatArray, src: FloatArray): void {
  if (dst instanceof Float32Array && src instanceof Float32Array && src.length >= NATIVE_FILL) native().copy(dst, src);
  else dst.set(src);
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
