// Grow-only Float32Array buffers by name, handed out as views of exact length,
// so batches of any shape reuse the same memory.

export class Workspace {
  private readonly buffers = new Map<string, Float32Array>();
  private readonly ints = new Map<string, Int32Array>();

  /** A view of `n` floats; contents are whatever the buffer held before. */
  get(name: string, n: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < n) {
      b = new Float32Array(n);
      this.buffers.set(name, b);
    }
    return b.subarray(0, n);
  }

  /** As get, for Int32Array buffers. */
  getI32(name: string, n: number): Int32Array {
    let b = this.ints.get(name);
    if (!b || b.length < n) {
      b = new Int32Array(n);
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
