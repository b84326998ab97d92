// bfloat16 in TypeScript: the upper half of a float32, rounded to nearest
// even as native/simd/bf16.h rounds it (NaN kept and made quiet, infinities
// kept, subnormals rounded like any value). For BF16 safetensors, for the
// weights generation reads under --precision bf16, and for the scratch
// model's bf16 operands (bf16Operand).

/** The bf16 bits of float32 bits v: round to nearest even; NaN made quiet, so that dropping the low half cannot make it infinite. */
const roundBits = (v: number) => ((v & 0x7fffffff) > 0x7f800000 ? (v >>> 16) | 0x40 : (v + 0x7fff + ((v >>> 16) & 1)) >>> 16);

/** bf16 bits of each value. */
export function toBf16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = roundBits(u[i]!);
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

const one = new Float32Array(1);
const oneBits = new Uint32Array(one.buffer);

/**
 * x as a native bf16 product reads an operand (bf16_operand in
 * native/simd/bf16.h): x rounded to float32, then a subnormal read as a zero
 * of its sign, any other value rounded to nearest even bf16.
 */
export function bf16Operand(x: number): number {
  one[0] = x;
  const v = oneBits[0]!;
  if ((v & 0x7f800000) === 0) return v & 0x80000000 ? -0 : 0;
  oneBits[0] = roundBits(v) << 16;
  return one[0]!;
}
