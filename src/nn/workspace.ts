// Grow-only Float32Array buffers by name, handed out as views of exact length,
// so batches of any shape reuse the same memory.
import { allocate } from './memory.js';

/** A buffer of the workspace, or an InputError that names it and its size (a batch too large for its dropout masks). */
const buffer = <A extends Float32Array | Int32Array>(name: string, n: number, make: (n: number) => A): A =>
  allocate(n, make, (bytes) => `the batch needs ${bytes} for its ${name}: more than this process can allocate (use a smaller batch or fewer steps)`);

export class Workspace {
  private readonly buffers = new Map<string, Float32Array>();
  private readonly ints = new Map<string, Int32Array>();

  /** A view of `n` floats; contents are whatever the buffer held before. */
  get(name: string, n: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < n) {
      b = buffer(name, n, (k) => new Float32Array(k));
      this.buffers.set(name, b);
    }
    return b.subarray(0, n);
  }

  /** As get, for Int32Array buffers. */
  getI32(name: string, n: number): Int32Array {
    let b = this.ints.get(name);
    if (!b || b.length < n) {
      b = buffer(name, n, (k) => new Int32Array(k));
      this.ints.set(name, b);
    }
    return b.subarray(0, n);
  }

  /** As get, zero-filled. */
  zeros(name: string, n: number): Float32Array {
    const v = this.get(name, n);
    v.fill(0);
    return v;
  }
}
