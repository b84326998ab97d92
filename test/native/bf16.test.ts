// bf16 products: every path (vdpbf16ps where the CPU has it, and the fallback
// on every fp32 table's vectors) against a float64 reference computed from
// the bf16-rounded operands, within the float32 accumulation bound; the
// fallback bitwise equal to the instruction; and the conversion's rounding.
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { Rng } from '../../src/rng.js';
import { toBf16Bits } from '../../src/nn/bf16.js';
import { restoreNativeSettings } from '../helpers/native-settings.js';

const nat = native();
const start = restoreNativeSettings();
// Every fallback, vdpbf16ps and the AMX tiles where the CPU has them, and the AMX path on the model of its tiles.
const paths = [...start.simdAvailable, ...(start.bf16Hardware ? ['avx512bf16'] : []), ...(start.bf16Amx ? ['amx'] : []), 'amx-model'];
if (!start.bf16Amx) console.log('bf16 path amx: not tested here (this CPU or OS gives no AMX-BF16 tiles); its code runs on the model of the tiles (amx-model)');

function random(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * scale);
}

function rounded(x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  nat._bf16Round(y, x);
  return y;
}

const bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;
const fromBits = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0]!;

describe('bf16 conversion', () => {
  it('rounds to nearest, ties to even, and keeps infinities, NaN (quiet) and subnormals', () => {
    const cases: [number, number][] = [
      [0x3f800000, 0x3f800000], // 1 exactly
      [0x3f808000, 0x3f800000], // tie, even below: down
      [0x3f818000, 0x3f820000], // tie, odd below: up to even
      [0x3f808001, 0x3f810000], // just above the tie: up
      [0x3f807fff, 0x3f800000], // just below: down
      [0x7f7fffff, 0x7f800000], // the largest float rounds to infinity
      [0x7f800000, 0x7f800000], // +inf
      [0xff800000, 0xff800000], // -inf
      [0x80000000, 0x80000000], // -0
      [0x00008000, 0x00000000], // a subnormal tie, even below: down to 0
      [0x00018000, 0x00020000], // a subnormal tie, odd below: up
      [0x00010001, 0x00010000], // a subnormal rounds like any value
      [0x807fffff, 0x80800000], // the largest subnormal rounds up to the smallest normal
    ];
    const x = Float32Array.from(cases, ([u]) => fromBits(u));
    const y = rounded(x);
    cases.forEach(([u, want], i) => expect(bits(y[i]!).toString(16), `0x${u.toString(16)}`).toBe(want.toString(16)));
    // NaN: a signalling NaN whose payload lies in the low half becomes a quiet NaN, sign kept
    const nan = rounded(Float32Array.of(fromBits(0x7f800001), fromBits(0xff800001), fromBits(0x7fc00000)));
    expect([...nan].map((v) => bits(v).toString(16))).toEqual(['7fc00000', 'ffc00000', '7fc00000']);
  });
});

describe('packing weights into k-pairs', () => {
  // the bits a product reads: a subnormal as a zero of its sign, else rounded to nearest even (NaN quiet)
  const operandBits = (x: Float32Array, i: number) => {
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length)[i]!;
    return (u & 0x7f800000) === 0 ? (u >>> 16) & 0x8000 : toBf16Bits(x.subarray(i, i + 1))[0]!;
  };
  it.each([[1, 1], [7, 5], [33, 17], [130, 75], [1101, 40], [600, 300]])('B and B^T of %i x %i: every pair, ties, subnormals and NaN', (K, N) => {
    const rng = new Rng(K + N);
    const src = random(K * N, rng);
    for (let i = 0; i < src.length; i += 7) src[i] = fromBits([0x3f808000, 0x3f818000, 0x807fffff, 0x00000123, 0x7f800001, 0xff800000, 0x80000000][(i / 7) % 7]!);
    const ld = Math.ceil(N / 16) * 16;
    for (const trans of [false, true]) {
      const out = new Int32Array(Math.ceil(K / 2) * ld);
      nat._bf16PackB(out, src, trans, K, N);
      const at = (k: number, j: number) => (trans ? j * K + k : k * N + j);
      for (let kp = 0; kp < Math.ceil(K / 2); kp++) {
        for (let j = 0; j < ld; j++) {
          const want = j >= N ? 0 : operandBits(src, at(2 * kp, j)) | (2 * kp + 1 < K ? operandBits(src, at(2 * kp + 1, j)) << 16 : 0);
          if ((out[kp * ld + j]! >>> 0) !== want >>> 0) throw new Error(`trans=${trans} ${K}x${N}: pair ${kp} of column ${j} is ${(out[kp * ld + j]! >>> 0).toString(16)}, want ${(want >>> 0).toString(16)}`);
        }
      }
    }
  });
});

/** C (+)= op(A) B in float64 from the bf16-rounded operands (no subnormals among them), and the sum of |terms| that bounds float32 rounding. */
function reference(transA: boolean, C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, acc: boolean) {
  const a = rounded(A), b = rounded(B);
  const out = new Float64Array(M * N), mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = acc ? C[i * N + j]! : 0;
      let m = Math.abs(s);
      for (let k = 0; k < K; k++) {
        const p = (transA ? a[k * M + i]! : a[i * K + k]!) * b[k * N + j]!;
        s += p;
        m += Math.abs(p);
      }
      out[i * N + j] = s;
      mag[i * N + j] = m;
    }
  }
  return { out, mag };
}

// M: partial row tiles (1, 5, 7, 13); K odd (the last pair half empty) and past one pass of pairs (1100, 2500);
// N: partial column vectors and tiles (1, 3, 17, 70, 129), and wide enough that a float32 B is packed
// in short passes (2100); B packed first and wide (300 columns, 720 KB a pass: more than half an L2 of
// 1 MiB) with 200 rows: row tiles in blocks of 13 (78 rows), the last block of 8; K of 28 and 30 (all
// of a row's pairs converted by the tail of pack_a) with N of 28 and 30 (the book's output layer and its
// input gradient: a partial vector of columns in every tile)
const shapes: [number, number, number][] = [
  [1, 1, 1], [1, 97, 33], [5, 3, 7], [13, 200, 9], [64, 96, 32], [7, 129, 300], [33, 17, 600],
  [11, 40, 1100], [25, 130, 70], [6, 2100, 301], [12, 64, 2500], [200, 300, 600], [50, 28, 28], [13, 30, 30],
];

describe.each(paths)('bf16 path %s', (path) => {
  it('matches float64 of the bf16-rounded operands within the float32 accumulation bound', () => {
    const rng = new Rng(path.length + 16);
    const u = 2 ** -24;
    let worst = 0;
    for (const [M, N, K] of shapes) {
      for (const [transA, packB, acc] of [[false, false, false], [false, true, true], [true, false, true], [true, true, false]] as const) {
        const A = random(M * K, rng), B = random(K * N, rng, 2), C0 = random(M * N, rng);
        const C = C0.slice();
        nat._gemmBf16(path, transA, packB, C, A, B, M, N, K, acc);
        const { out, mag } = reference(transA, C0, A, B, M, N, K, acc);
        for (let i = 0; i < C.length; i++) {
          // K additions of exact products, each rounding by at most u of the partial sum
          const allowed = (K + 1) * u * mag[i]! + 1e-30;
          const frac = Math.abs(C[i]! - out[i]!) / allowed;
          worst = Math.max(worst, frac);
          if (!(frac <= 1)) throw new Error(`${path} ${M}x${N}x${K} transA=${transA} packB=${packB}: element ${i} is ${C[i]}, want ${out[i]} within ${allowed}`);
        }
      }
    }
    console.log(`bf16 ${path}: worst error ${(worst * 100).toFixed(1)}% of the rounding bound`);
  });

  it.each([[37, 150, 203], [200, 300, 600]])('gives the same bits with B packed first or as it is read, and on any thread count (%i x %i x %i)', (M, N, K) => {
    const rng = new Rng(7);
    const A = random(M * K, rng), B = random(K * N, rng);
    const run = (packB: boolean, threads: number) => {
      nat.setThreads(threads);
      const C = new Float32Array(M * N);
      nat._gemmBf16(path, false, packB, C, A, B, M, N, K, false);
      return C;
    };
    const one = run(false, 1);
    expect(run(true, 1)).toEqual(one);
    expect(run(false, 2)).toEqual(one);
    expect(run(true, 2)).toEqual(one);
    nat.setThreads(start.threads);
  });

  it('gives the same bits with B packed in panels of 64 columns (the recurrent product of wide layers)', () => {
    const rng = new Rng(8);
    // N within one panel, past whole panels, ragged (the last panel narrower, padded to 16 pairs' columns);
    // odd K, K past one pass of pairs (1024 k); accumulating and not.
    const cases = [[1, 1, 1], [5, 17, 9], [25, 64, 33], [25, 100, 512], [13, 130, 257], [26, 2048, 512], [12, 200, 1025], [3, 65, 2049]];
    let checked = 0;
    for (const [M, N, K] of cases) {
      for (const acc of [false, true]) {
        const A = random(M! * K!, rng), B = random(K! * N!, rng), C0 = random(M! * N!, rng);
        const packed = C0.slice(), inPanels = C0.slice();
        nat._gemmBf16(path, false, true, packed, A, B, M!, N!, K!, acc);
        nat._gemmBf16Panels(path, inPanels, A, B, M!, N!, K!, acc);
        expect(Buffer.from(inPanels.buffer).equals(Buffer.from(packed.buffer)), `${path} ${M}x${N}x${K}${acc ? ' +=' : ''}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(2 * cases.length);
  });
});

// Operands whose products and sums hit ties and the subnormal range, where DAZ/FTZ decide, and
// subnormal operands, read as zero: the largest (which plain rounding would carry up to 2^-126) and a small one.
function hardValues(M: number, N: number, K: number, rng: Rng) {
  const A = random(M * K, rng), B = random(K * N, rng);
  for (let i = 0; i < A.length; i += 7) A[i] = 2 ** -64 * (1 + (i % 3) / 4);
  for (let i = 0; i < B.length; i += 5) B[i] = 2 ** -70;
  for (let i = 0; i < B.length; i += 11) B[i] = 2 ** -20;
  for (let i = 3; i < A.length; i += 13) A[i] = fromBits(i % 2 ? 0x007fffff : 0x80000123);
  for (let i = 2; i < B.length; i += 17) B[i] = fromBits(0x807fffff);
  return { A, B };
}

describe.runIf(start.bf16Hardware)('the fallback against vdpbf16ps', () => {
  it.each(start.simdAvailable)('%s gives the instruction\'s bits, ties and subnormals included', (table) => {
    const [M, N, K] = [19, 75, 130];
    const { A, B } = hardValues(M, N, K, new Rng(3));
    for (const transA of [false, true]) {
      const hw = new Float32Array(M * N), fb = new Float32Array(M * N);
      nat._gemmBf16('avx512bf16', transA, true, hw, A, B, M, N, K, false);
      nat._gemmBf16(table, transA, true, fb, A, B, M, N, K, false);
      expect(Buffer.from(fb.buffer).equals(Buffer.from(hw.buffer)), `${table} transA=${transA}`).toBe(true);
    }
  });
});

/**
 * C (+)= op(A) B summed as tdpbf16ps's definition sums: per 16 k-pairs, two sums from 0 (the even k's
 * products, the odd k's), their sum, added to C; each step rounded to float32. Exact in float64 before
 * each rounding for operands of magnitude 1/2 to 1 (sums of at most a few thousand such products).
 */
function tileSums(transA: boolean, C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, acc: boolean) {
  const a = rounded(A), b = rounded(B), f = Math.fround, out = new Float32Array(M * N);
  const at = (i: number, k: number) => (transA ? a[k * M + i]! : a[i * K + k]!);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let c = acc ? C[i * N + j]! : 0;
      for (let k0 = 0; k0 < K; k0 += 32) {
        let even = 0, odd = 0;
        for (let k = k0; k < Math.min(K, k0 + 32); k += 2) {
          even = f(even + at(i, k) * b[k * N + j]!);
          if (k + 1 < K) odd = f(odd + at(i, k + 1) * b[(k + 1) * N + j]!);
        }
        c = f(c + f(even + odd));
      }
      out[i * N + j] = c;
    }
  }
  return out;
}

describe('the AMX path', () => {
  // Its blocks of 32 x 32 and tiles of 16 pairs: partial blocks and tiles on every side, K odd and
  // over several passes of 256 pairs, a prepacked B read in place and at its edges.
  const amxShapes: [number, number, number][] = [[19, 75, 130], [33, 47, 31], [1, 16, 32], [64, 96, 1025], [40, 300, 600]];
  const cases = [[false, false, false], [false, true, true], [true, false, true], [true, true, false]] as const;
  const halfToOne = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => (rng.uniform() < 0.5 ? -1 : 1) * (0.5 + rng.uniform() / 2));

  it('on the model of its tiles, sums as tdpbf16ps is defined, which is not vdpbf16ps\'s order', () => {
    let differ = 0;
    for (const [M, N, K] of amxShapes) {
      const rng = new Rng(M + N + K);
      const A = halfToOne(M * K, rng), B = halfToOne(K * N, rng), C0 = halfToOne(M * N, rng);
      for (const [transA, packB, acc] of cases) {
        const x = C0.slice(), y = C0.slice();
        nat._gemmBf16('amx-model', transA, packB, x, A, B, M, N, K, acc);
        const want = tileSums(transA, C0, A, B, M, N, K, acc);
        expect(Buffer.from(x.buffer).equals(Buffer.from(want.buffer)), `amx-model ${M}x${N}x${K} transA=${transA} packB=${packB} acc=${acc}`).toBe(true);
        nat._gemmBf16('scalar', transA, packB, y, A, B, M, N, K, acc);
        for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differ++;
      }
    }
    // another order of the same float32 sums: some elements round differently, all within the bound (above)
    expect(differ).toBeGreaterThan(0);
  });

  it.runIf(start.bf16Amx)('on the tiles, gives its model\'s bits, ties and subnormals included', () => {
    for (const [M, N, K] of amxShapes) {
      const { A, B } = hardValues(M, N, K, new Rng(M + N + K));
      for (const [transA, packB, acc] of cases) {
        const C0 = random(M * N, new Rng(5));
        const x = C0.slice(), y = C0.slice();
        nat._gemmBf16('amx', transA, packB, x, A, B, M, N, K, acc);
        nat._gemmBf16('amx-model', transA, packB, y, A, B, M, N, K, acc);
        expect(Buffer.from(x.buffer).equals(Buffer.from(y.buffer)), `amx vs amx-model ${M}x${N}x${K} transA=${transA} packB=${packB} acc=${acc}`).toBe(true);
      }
    }
  });
});

describe('choosing the path', () => {
  it('DEEPRNN_BF16-style names: the default, the fallback, and errors for others', () => {
    nat.setBf16('emulated');
    expect(nat.info().bf16).toBe(`emulated (${start.simd})`);
    nat.setBf16('');
    // AMX first where the CPU and OS have it (and Linux gives the process its permission), then vdpbf16ps, then the fallback
    let amxAllowed = false;
    if (start.bf16Amx) {
      try {
        amxAllowed = (nat.setBf16('amx'), true);
      } catch (e) {
        expect((e as Error).message).toContain('Linux refused this process the AMX tiles');
      }
      nat.setBf16('');
    }
    expect(nat.info().bf16).toBe(amxAllowed ? 'amx' : start.bf16Hardware ? 'avx512bf16' : `emulated (${start.simd})`);
    // bf16Path() chooses the path now and names the one the products run on; setBf16('') is the default whatever DEEPRNN_BF16 says
    const saved = process.env.DEEPRNN_BF16;
    try {
      process.env.DEEPRNN_BF16 = 'emulated';
      nat.setBf16('');
      expect(nat.bf16Path()).toBe(nat.info().bf16);
      expect(nat.bf16Path()).toBe(amxAllowed ? 'amx' : start.bf16Hardware ? 'avx512bf16' : `emulated (${start.simd})`);
      nat.setBf16('amx-model');
      expect(nat.bf16Path()).toBe('emulated (amx-model)');
    } finally {
      if (saved === undefined) delete process.env.DEEPRNN_BF16;
      else process.env.DEEPRNN_BF16 = saved;
    }
    nat.setBf16('');
    expect(() => nat.setBf16('amx16')).toThrow('setBf16: DEEPRNN_BF16 must be one of avx512bf16|amx|emulated|amx-model, got "amx16"');
    if (!start.bf16Amx) expect(() => nat.setBf16('amx')).toThrow('setBf16: DEEPRNN_BF16=amx is not supported by this CPU and OS (AMX-BF16 tiles)');
    nat.setBf16('amx-model');
    expect(nat.info().bf16).toBe('emulated (amx-model)');
    nat.setBf16('');
    if (!start.bf16Hardware) expect(() => nat.setBf16('avx512bf16')).toThrow('DEEPRNN_BF16=avx512bf16 is not supported by this CPU');
    expect(() => nat._gemmBf16('sse9', false, false, new Float32Array(1), new Float32Array(1), new Float32Array(1), 1, 1, 1, false))
      .toThrow('_gemmBf16: argument "path" must name a supported bf16 path, got "sse9"');
  });
});
