// bfloat16 in TypeScript: the upper half of a float32, rounded to nearest
// even as native/simd/bf16.h rounds it (NaN kept and made quiet, infinities
// kept, subnormals rounded like any value). For BF16 safetensors and for the
// weights generation reads under --precision bf16.

/** bf16 bits of each value. */
export function toBf16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = u[i]!;
    // NaN: the quiet bit set, so that dropping the low half cannot make it infinite
    out[i] = (v & 0x7fffffff) > 0x7f800000 ? (v >>> 16) | 0x40 : (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 values of bf16 bits (exact). */
export function fromBf16Bits(b: Uint16Array): Float32Array {
  const u = new Uint32Array(b.length);
  for (let i = 0; i < b.length; i++) u[i] = b[i]! << 16;
  return new Float32Array(u.buffer);
}

/** x rounded to bf16 and back. */
export function roundBf16(x: Float32Array): Float32Array {
  return fromBf16Bits(toBf16Bits(x));
}
