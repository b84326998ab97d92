// exp, sigmoid and tanh on GCC vector types of the including file's width
// (DEEPRNN_VEC_BYTES: 16 for scalar/SSE2 or NEON, 32 for AVX2, 64 for
// AVX-512), included once per instruction set (see gemm_impl.h). Written with
// vector selects rather than branches so that every lane runs the same
// straight-line code. Error bounds are checked by test/native/simd.test.ts
// against double precision.
// Included once per translation unit, that is once per instruction set.
#pragma once

#if defined(__SSE2__) || defined(__AVX__)
#include <immintrin.h>
#endif
#if defined(DEEPRNN_USE_NEON)
#include <arm_neon.h>
#endif

#ifndef DEEPRNN_ISA
#error "define DEEPRNN_ISA before including math_impl.h"
#endif

namespace deeprnn {
namespace DEEPRNN_ISA {

typedef float vf __attribute__((vector_size(DEEPRNN_VEC_BYTES)));
typedef int vi __attribute__((vector_size(DEEPRNN_VEC_BYTES)));
static const long kLanes = DEEPRNN_VEC_BYTES / 4;

// x in every lane: a broadcast (vf{} + x would be an addition of 0 the compiler must keep, for -0)
static inline vf splat(float x) {
#if DEEPRNN_VEC_BYTES == 64 && defined(__AVX512F__)
  return (vf)_mm512_set1_ps(x);
#elif DEEPRNN_VEC_BYTES == 32 && defined(__AVX__)
  return (vf)_mm256_set1_ps(x);
#elif DEEPRNN_VEC_BYTES == 16 && defined(__SSE2__)
  return (vf)_mm_set1_ps(x);
#elif defined(DEEPRNN_USE_NEON)
  return (vf)vdupq_n_f32(x);
#else
  vf v;
  for (long i = 0; i < kLanes; ++i) v[i] = x;
  return v;
#endif
}

// a * b + c: one rounding where the instruction set has a fused multiply-add,
// two in the scalar table. The kernel tables are compiled without
// contraction (-ffp-contract=off): left to the compiler, the same expression
// came out fused in one code shape and as a multiply and an add in another
// (a GEMM tile of another width, a step kernel over a partial vector), so a
// result depended on how the work was cut. Every fused multiply-add is
// written out here instead.
static inline vf vfma(vf a, vf b, vf c) {
#if DEEPRNN_VEC_BYTES == 64 && defined(__AVX512F__)
  return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif DEEPRNN_VEC_BYTES == 32 && defined(__FMA__)
  return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#elif defined(DEEPRNN_USE_NEON)
  return (vf)vfmaq_f32((float32x4_t)c, (float32x4_t)a, (float32x4_t)b);
#else
  return a * b + c;
#endif
}


#if DEEPRNN_VEC_BYTES == 64 && defined(__AVX512F__)
// len lanes from p (len == kLanes: one unaligned load; fewer: a masked load,
// zero-padded, that touches no memory past p + len)
static inline vf ld(const float* p, long len) {
  if (len == kLanes) {
    vf v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
  }
  return (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << len) - 1u), p);
}

static inline void st(float* p, vf v, long len) {
  if (len == kLanes) __builtin_memcpy(p, &v, sizeof v);
  else _mm512_mask_storeu_ps(p, (__mmask16)((1u << len) - 1u), (__m512)v);
}

// 1 / d: a 14-bit estimate and one Newton step (relative error about 2^-23);
// 0 for an infinite d (exp overflows to infinity at its upper clamp).
static inline vf vrcp(vf d) {
  const vf y = (vf)_mm512_maskz_rcp14_ps((__mmask16)0xFFFF, (__m512)d);
  const vf r = vfma(y, vfma(-d, y, splat(1.0f)), y);
  return y == 0.0f ? y : r;
}
#else
// len lanes from p (len == kLanes: one unaligned load; fewer: zero-padded)
static inline vf ld(const float* p, long len) {
  vf v = {};
  if (len == kLanes) __builtin_memcpy(&v, p, sizeof v);
  else
    for (long i = 0; i < len; ++i) v[i] = p[i];
  return v;
}

static inline void st(float* p, vf v, long len) {
  if (len == kLanes) __builtin_memcpy(p, &v, sizeof v);
  else
    for (long i = 0; i < len; ++i) p[i] = v[i];
}

#if defined(DEEPRNN_USE_NEON)
// 1 / d: an 8-bit estimate and two Newton steps (vrecps is 2 - d y, fused),
// relative error about 2^-23; 0 for an infinite d (vrecps(inf, 0) is 2).
static inline vf vrcp(vf d) {
  float32x4_t y = vrecpeq_f32((float32x4_t)d);
  y = vmulq_f32(y, vrecpsq_f32((float32x4_t)d, y));
  y = vmulq_f32(y, vrecpsq_f32((float32x4_t)d, y));
  return (vf)y;
}
#else
static inline vf vrcp(vf d) { return 1.0f / d; }
#endif
#endif

// exp(x) = 2^n exp(r), r = x - n ln2 in [-ln2/2, ln2/2], degree-6 polynomial.
// exp(r) for r = x - fn ln2 (ln2 in two parts, so that r is exact enough).
static inline vf exp_reduced(vf x, vf fn) {
  vf r = vfma(fn, splat(-0.693359375f), x);
  r = vfma(fn, splat(2.12194440e-4f), r);
  vf p = splat(1.9875691500e-4f);
  p = vfma(p, r, splat(1.3981999507e-3f));
  p = vfma(p, r, splat(8.3334519073e-3f));
  p = vfma(p, r, splat(4.1665795894e-2f));
  p = vfma(p, r, splat(1.6666665459e-1f));
  p = vfma(p, r, splat(5.0000001201e-1f));
  p = vfma(p * r, r, r) + 1.0f;
  return p;
}

#if DEEPRNN_VEC_BYTES == 64 && defined(__AVX512F__)
// n by one rounding instruction and 2^n by scalef, which overflows to
// infinity and underflows to 0 by itself; x clamped to +-104 only so that
// infinite inputs give infinity or 0 rather than NaN.
static inline vf vexp(vf x) {
  // max/min return their second operand when either is NaN: NaN stays NaN
  // (maskz forms: the plain ones trip a false uninitialised warning in GCC 12's headers)
  const __m512 lo = _mm512_maskz_max_ps((__mmask16)0xFFFF, (__m512)splat(-104.0f), (__m512)x);
  x = (vf)_mm512_maskz_min_ps((__mmask16)0xFFFF, (__m512)splat(104.0f), lo);
  const vf fn = (vf)_mm512_maskz_roundscale_ps((__mmask16)0xFFFF, (__m512)(x * 1.44269504088896341f),
                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return (vf)_mm512_maskz_scalef_ps((__mmask16)0xFFFF, (__m512)exp_reduced(x, fn), (__m512)fn);
}
#else
// x clamped to [ln(FLT_MIN), 104] (NaN stays NaN): 2^n as two normal powers
// of two, 2^(n/2) 2^(n - n/2), so that exp overflows to infinity only past
// ln(FLT_MAX) = 88.7228, as the AVX-512 form does (one power 2^n would be
// infinite from n = 128, x = 88.38); below ln(FLT_MIN) = -87.3365 the result
// is 0 (flushed: a subnormal result costs several times as long on these
// tables, and is below 1.2e-38 anyway; before, exp(-87.3) for all of them).
static inline vf vexp(vf x) {
  const vi tiny = x < splat(-87.33654f);
#if DEEPRNN_VEC_BYTES == 32 && defined(__AVX__)
  // max/min return their second operand when either is NaN; one instruction each
  x = (vf)_mm256_min_ps((__m256)splat(104.0f), _mm256_max_ps((__m256)splat(-87.33654f), (__m256)x));
#else
  x = x < splat(-87.33654f) ? splat(-87.33654f) : x;
  x = x > splat(104.0f) ? splat(104.0f) : x;
#endif
  const vf t = vfma(x, splat(1.44269504088896341f), splat(0.5f));
  vi n = __builtin_convertvector(t, vi);                   // truncates toward 0
  n += (t < __builtin_convertvector(n, vf));               // true is -1: floor
  const vf fn = __builtin_convertvector(n, vf);
  const vf p = exp_reduced(x, fn);
  const vi half = n >> 1;                                  // -126 <= n <= 150: both powers normal
  const vi e1 = (half + 127) << 23, e2 = (n - half + 127) << 23;
  const vf r = (p * (vf)e1) * (vf)e2;  // same-size vector casts: bit casts; the first product is exact
  return tiny ? splat(0.0f) : r;
}
#endif

// Largest lane, sum of lanes, and the first of len lanes equal to x (len when none).
#if DEEPRNN_VEC_BYTES == 64 && defined(__AVX512F__)
typedef float vf8_ __attribute__((vector_size(32)));
typedef float vf4_ __attribute__((vector_size(16)));
static inline vf4_ halves(vf v, bool max) {
  vf8_ a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  vf8_ b = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  a = max ? (a > b ? a : b) : a + b;
  vf4_ c = __builtin_shufflevector(a, a, 0, 1, 2, 3), d = __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return max ? (c > d ? c : d) : c + d;
}
static inline float hmax(vf v) {
  const vf4_ c = halves(v, true);
  const float x = c[0] > c[1] ? c[0] : c[1], y = c[2] > c[3] ? c[2] : c[3];
  return x > y ? x : y;
}
static inline float hsum(vf v) {
  const vf4_ c = halves(v, false);
  return (c[0] + c[1]) + (c[2] + c[3]);
}
static inline long first_equal(vf v, float x, long len) {
  const unsigned m = _mm512_cmp_ps_mask((__m512)v, (__m512)splat(x), _CMP_EQ_OQ) & ((1u << len) - 1u);
  return m ? __builtin_ctz(m) : len;
}
#else
static inline float hmax(vf v) {
  float m = v[0];
  for (long i = 1; i < kLanes; ++i) m = v[i] > m ? v[i] : m;
  return m;
}
static inline float hsum(vf v) {
  float s = 0.0f;
  for (long i = 0; i < kLanes; ++i) s += v[i];
  return s;
}
static inline long first_equal(vf v, float x, long len) {
  for (long i = 0; i < len; ++i)
    if (v[i] == x) return i;
  return len;
}
#endif

static inline vf vsigmoid(vf x) { return vrcp(1.0f + vexp(-x)); }

// tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)); an odd polynomial for
// |x| < 0.0625, where that form would cancel.
static inline vf vtanh(vf x) {
  const vf ax = x < 0.0f ? -x : x;
  const vf e = vexp(2.0f * ax);
  vf big = 1.0f - 2.0f * vrcp(e + 1.0f);
  big = x < 0.0f ? -big : big;
  const vf x2 = x * x;
  vf p = splat(-17.0f / 315.0f);
  p = vfma(p, x2, splat(2.0f / 15.0f));
  p = vfma(p, x2, splat(-1.0f / 3.0f));
  const vf small = vfma(x * x2, p, x);
  return ax < 0.0625f ? small : big;
}

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
