// Every instruction set's kernels against scalar and against double precision,
// on random input with ragged sizes (not multiples of any vector width, N = 1).
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { Rng } from '../../src/rng.js';

const nat = native();
const isas = nat.info().simdAvailable;

function random(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * scale);
}

/** C (+)= op(A) B in float64, with the sum of |terms| that bounds float32 rounding. */
function reference(transA: boolean, C: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, acc: boolean) {
  const out = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = acc ? C[i * N + j]! : 0;
      let m = Math.abs(s);
      for (let k = 0; k < K; k++) {
        const p = (transA ? A[k * M + i]! : A[i * K + k]!) * B[k * N + j]!;
        s += p;
        m += Math.abs(p);
      }
      out[i * N + j] = s;
      mag[i * N + j] = m;
    }
  }
  return { out, mag };
}

/** Each element within the float32 summation bound (K + 2) u sum|terms|; logs the worst fraction of it. */
function expectWithinRounding(label: string, got: Float32Array, want: Float64Array, mag: Float64Array, K: number): void {
  const u = 2 ** -24;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const allowed = (K + 2) * u * mag[i]! + 1e-30;
    const frac = Math.abs(got[i]! - want[i]!) / allowed;
    worst = Math.max(worst, frac);
    if (!(frac <= 1)) throw new Error(`${label}: element ${i} is ${got[i]}, want ${want[i]} within ${allowed}`);
  }
  console.log(`${label}: worst error ${(worst * 100).toFixed(1)}% of the rounding bound`);
}

describe.each(isas)('%s', (isa) => {
  it('gemm matches float64 on ragged shapes', () => {
    const rng = new Rng(isa.length);
    // M: row tiles of every height and partial ones (1, 5, 7, 9, 11, 13, 25, 33, 64, 80);
    // K past one pass of k (1100, 1300); N wide enough to go down the rows per column panel (2100, 300 x 1100);
    // N whose last columns run as a padded tile with masked stores (14, 28, 60, 2100)
    const shapes = [
      [1, 1, 1], [1, 97, 33], [5, 3, 7], [13, 200, 9], [64, 96, 32], [7, 129, 300], [33, 17, 600],
      [9, 70, 20], [11, 40, 1300], [25, 130, 70], [80, 300, 1100], [7, 2100, 200],
      [25, 28, 40], [10, 60, 16], [12, 14, 9],
    ];
    for (const [M, N, K] of shapes as [number, number, number][]) {
      for (const transA of [false, true]) {
        for (const acc of transA ? [true] : [false, true]) {
          const A = random(M * K, rng);
          const B = random(K * N, rng);
          const C = random(M * N, rng);
          const { out, mag } = reference(transA, C, A, B, M, N, K, acc);
          nat._gemm(isa, transA, C, A, B, M, N, K, acc);
          expectWithinRounding(`${isa} gemm${transA ? 'tn' : 'nn'} ${M}x${N}x${K}${acc ? ' acc' : ''}`, C, out, mag, K);
        }
      }
    }
  });

  it('generation GEMV (A B^T, B in place) matches float64 on ragged shapes', () => {
    const rng = new Rng(7 + isa.length);
    // N around the 8-row blocks, K around the vector widths, M up to the small-batch limit
    const shapes = [[1, 1, 1], [1, 7, 15], [1, 9, 17], [1, 2048, 512], [2, 65, 33], [3, 8, 16], [4, 17, 100], [4, 31, 64]];
    for (const [M, N, K] of shapes as [number, number, number][]) {
      const A = random(M * K, rng);
      const Bnt = random(N * K, rng);
      const B = new Float32Array(K * N);  // B^T as (K, N) for the reference
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) B[k * N + n] = Bnt[n * K + k]!;
      const C = random(M * N, rng);  // overwritten, not accumulated
      const { out, mag } = reference(false, C, A, B, M, N, K, false);
      nat._gemmNt(isa, C, A, Bnt, M, N, K);
      expectWithinRounding(`${isa} gemmNt ${M}x${N}x${K}`, C, out, mag, K);
    }
  });

  it('gives the same GEMM result as scalar within rounding', () => {
    const rng = new Rng(3);
    const [M, N, K] = [37, 101, 45];
    const A = random(M * K, rng);
    const B = random(K * N, rng);
    const mine = new Float32Array(M * N);
    const base = new Float32Array(M * N);
    nat._gemm(isa, false, mine, A, B, M, N, K, false);
    nat._gemm('scalar', false, base, A, B, M, N, K, false);
    const { mag } = reference(false, mine, A, B, M, N, K, false);
    // Both are within the bound of the exact result, so within twice it of each other.
    const doubled = mag.map((m) => 2 * m);
    expectWithinRounding(`${isa} vs scalar`, mine, Float64Array.from(base), doubled, K);
  });

  it('bounds the error of exp, sigmoid and tanh', () => {
    const n = 20011;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = -30 + (60 * i) / (n - 1);
    x[0] = -200;
    x[1] = 200;
    x[2] = 0;
    x[3] = 1e-6;
    x[4] = -0.0625;
    const y = new Float32Array(n);
    const bounds = {
      exp: { f: Math.exp, abs: 0, rel: 3e-7 },
      sigmoid: { f: (v: number) => 1 / (1 + Math.exp(-v)), abs: 1.5e-7, rel: 0 },
      tanh: { f: Math.tanh, abs: 1.5e-7, rel: 0 },
    };
    for (const [name, b] of Object.entries(bounds)) {
      nat._mathEval(isa, name as 'exp', y, x);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const want = b.f(x[i]!);
        if (name === 'exp' && (x[i]! < -87 || x[i]! > 88)) continue; // clamped range
        const err = Math.abs(y[i]! - want);
        const allowed = b.abs + b.rel * Math.abs(want);
        worst = Math.max(worst, err / allowed);
        expect(err, `${isa} ${name}(${x[i]}) = ${y[i]}, want ${want}`).toBeLessThanOrEqual(allowed);
      }
      console.log(`${isa} ${name}: worst error ${(worst * 100).toFixed(1)}% of the bound`);
    }
    nat._mathEval(isa, 'tanh', y, x);
    expect(y[2]).toBe(0);
    expect(y[3]).toBeCloseTo(1e-6, 12);
    nat._mathEval(isa, 'sigmoid', y, x);
    expect(y[0]).toBe(0);
    expect(y[1]).toBe(1);
    // NaN in, NaN out (the clamps keep it), in whole and partial vectors
    const nan = new Float32Array([NaN, 1, NaN, -1, 0.5, NaN, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, NaN]);
    const out = new Float32Array(nan.length);
    for (const fn of ['exp', 'sigmoid', 'tanh'] as const) {
      nat._mathEval(isa, fn, out, nan);
      nan.forEach((v, i) => expect(Number.isNaN(out[i]), `${isa} ${fn}(${v})`).toBe(Number.isNaN(v)));
    }
  });

  it('gives exp to the edges of float32: infinity only past ln(FLT_MAX); below ln(FLT_MIN) subnormals (AVX-512) or 0', () => {
    // (before, the tables without AVX-512 gave infinity from 88.38 and exp(-87.3) for everything below it)
    const x = Float32Array.from([80, 88, 88.3, 88.38, 88.4, 88.5, 88.7, 88.72, 88.7228, -87, -87.3, -87.33, -88, -95, -100, -103, -103.9]);
    const y = new Float32Array(x.length);
    nat._mathEval(isa, 'exp', y, x);
    x.forEach((v, i) => {
      const want = Math.exp(v);
      // a subnormal result is rounded once: half its spacing (2^-150) more; the other tables flush those to 0
      const below = v < -87.33654;
      const allowed = below && isa !== 'avx512' ? 2 ** -126 : 3e-7 * want + 2 ** -150;
      expect(Math.abs(y[i]! - want), `${isa} exp(${v}) = ${y[i]}, want ${want}`).toBeLessThanOrEqual(allowed);
      if (below && isa !== 'avx512') expect(y[i], `${isa} exp(${v})`).toBe(0);
    });
    const over = Float32Array.from([88.72284, 88.8, 100, 104, 1e30, Infinity]);
    const o = new Float32Array(over.length);
    nat._mathEval(isa, 'exp', o, over);
    over.forEach((v, i) => expect(o[i], `${isa} exp(${v})`).toBe(Infinity));
    const under = Float32Array.from([-104, -110, -1e30, -Infinity]);
    nat._mathEval(isa, 'exp', o.subarray(0, under.length), under);
    under.forEach((v, i) => expect(o[i], `${isa} exp(${v})`).toBe(0));
    // sigmoid's tail through it: 1 / (1 + exp(88.4)), a subnormal, not 0
    const s = new Float32Array(1);
    nat._mathEval(isa, 'sigmoid', s, Float32Array.of(-88.4));
    expect(s[0], `${isa} sigmoid(-88.4)`).toBeGreaterThan(0);
  });
});

it('refuses an unknown instruction set or function', () => {
  expect(() => nat._gemm('mmx', false, new Float32Array(1), new Float32Array(1), new Float32Array(1), 1, 1, 1, false))
    .toThrow('_gemm: argument "simd" must name a supported instruction set, or SET:TILE one of its GEMM tiles, got "mmx"');
  expect(() => nat._mathEval('scalar', 'log' as never, new Float32Array(1), new Float32Array(1)))
    .toThrow('_mathEval: argument "fn" must be one of exp|sigmoid|tanh, got "log"');
});
