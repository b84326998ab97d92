// The bf16 product of simd/bf16.h, compiled once per path: the including
// file defines DEEPRNN_ISA (a namespace of its own), DEEPRNN_ISA_NAME,
// DEEPRNN_VEC_BYTES, DEEPRNN_BF16_NV (vectors of columns per tile),
// DEEPRNN_BF16_ROWS (rows per tile) and DEEPRNN_BF16_HW (1: vdpbf16ps; 0:
// float32 FMAs), and compiles with its own flags. Like gemm_impl.h, only
// static functions and namespace-local templates live here.
//
// A tile of C (rows x NV vectors of columns) keeps its sums in registers over
// a pass of k-pairs: per pair, NV vectors of B's packed pairs are loaded and
// each row's pair of A is broadcast. The hardware path issues one vdpbf16ps
// per row and vector; the fallback splits the pairs into their odd and even
// halves (a bf16 is the top half of a float32: a mask or a shift) and issues
// two FMAs, the odd k first, as the instruction adds them, with the
// instruction's DAZ/FTZ set in MXCSR (FPCR.FZ on aarch64) for the call.
// M, N, K as in simd/kernels.h; Kp = ceil(K / 2).
// Included once per translation unit.
#pragma once

#ifndef DEEPRNN_ISA
#error "define DEEPRNN_ISA before including gemm_bf16_impl.h"
#endif

#include "kernels/parallel.h"
#include "simd/bf16.h"
#include "simd/flush_modes.h"
#include "simd/math_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace deeprnn {
namespace DEEPRNN_ISA {

typedef unsigned vu __attribute__((vector_size(DEEPRNN_VEC_BYTES)));
typedef unsigned short vh __attribute__((vector_size(DEEPRNN_VEC_BYTES / 2)));

static const long kNV = DEEPRNN_BF16_NV;
static const long kR = DEEPRNN_BF16_ROWS;
static const long kCols = kNV * kLanes;  // columns per tile
static_assert(kGemmPanel % kCols == 0, "a tile's columns lie in one panel of B");
// Most k-pairs per pass: a tile's pairs of A (kR x kDepth) stay in L1, a
// prepacked panel of B (kDepth x kCols, 128 KiB on AVX-512) in L2.
static const long kDepth = 512;
// Rows of A^T whose pairs are made at once: whole vectors of rows, a
// multiple of every tile height (6, 4), so that row tiles never straddle two.
static const long kBlockT = 48;
static_assert(kBlockT % kR == 0 && kBlockT % kLanes == 0, "row tiles and vectors fill a block of A^T");
static const long kABuf = kBlockT * kDepth;  // pairs of A held at once (kR * kDepth when not transposed)
static_assert(kABuf + 64 < kGemmScratchFloats / 2, "the pairs of A leave half the scratch to B");

// len lanes of uint32 from p (fewer than kLanes: zero-padded, nothing read past p + len).
static inline vu ldu(const uint32_t* p, long len) {
  vu v = {};
  if (len == kLanes) {
    __builtin_memcpy(&v, p, sizeof v);
    return v;
  }
#if DEEPRNN_VEC_BYTES == 64 && defined(__AVX512F__)
  return (vu)_mm512_maskz_loadu_epi32((__mmask16)((1u << len) - 1u), p);
#else
  for (long i = 0; i < len; ++i) v[i] = p[i];
  return v;
#endif
}

static inline void stu(uint32_t* p, vu v, long len) {
  if (len == kLanes) {
    __builtin_memcpy(p, &v, sizeof v);
    return;
  }
#if DEEPRNN_VEC_BYTES == 64 && defined(__AVX512F__)
  _mm512_mask_storeu_epi32(p, (__mmask16)((1u << len) - 1u), (__m512i)v);
#else
  for (long i = 0; i < len; ++i) p[i] = v[i];
#endif
}

// float32 bits -> the bf16 bits a product reads, in the low half
// (bf16_operand in bf16.h, on vectors; a copy, since inline code shared
// between files of different flags would break the one-definition rule):
// subnormals read as zero, then round to nearest even, NaN made quiet.
static inline vu round_bits(vu u) {
  u = (u & 0x7f800000u) == 0 ? u & 0x80000000u : u;
  const vu rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const vu nan = (u >> 16) | 0x40u;
  return (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}
static inline uint32_t round_bits1(float x) {
  uint32_t u;
  __builtin_memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

#if DEEPRNN_BF16_HW
// The same conversion by vcvtne2ps2bf16 (measured equal to round_bits on 2^31
// values of every kind, subnormals and NaN included): 32 floats -> 32 bf16, in order.
static inline __m512i cvt32(const float* p) {
  return (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(p + 16), _mm512_loadu_ps(p));
}
// Pairs of two rows' 16 values: lo's bf16 in the low halves, hi's in the high.
static inline vu pairs16(vf lo, vf hi) {
  const __m512i both = (__m512i)_mm512_cvtne2ps_pbh((__m512)hi, (__m512)lo);  // lo's 16, then hi's 16
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5,
                                       20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return (vu)_mm512_permutexvar_epi16(idx, both);
}
#else
static inline vu pairs16(vf lo, vf hi) { return round_bits((vu)lo) | round_bits((vu)hi) << 16; }
#endif

// Pairs [kp0, kp1) of B's columns [j0, j1) packed (bf16.h's layout) into
// out[(kp - kp0) * ldo + j]; src as in bf16_pack_b, not transposed: rows
// 2kp and 2kp + 1 give a column's low and high halves (0 past K).
static void pack_rows(uint32_t* out, long ldo, const float* B, long ldb, long K, long kp0, long kp1, long j0,
                      long j1) {
  for (long kp = kp0; kp < kp1; ++kp) {
    const float* lo = B + 2 * kp * ldb;
    const float* hi = 2 * kp + 1 < K ? lo + ldb : nullptr;
    uint32_t* o = out + (kp - kp0) * ldo;
    long j = j0;
    for (; j + kLanes <= j1; j += kLanes) {
      vf a, b = {};
      __builtin_memcpy(&a, lo + j, sizeof a);
      if (hi) __builtin_memcpy(&b, hi + j, sizeof b);
      stu(o + j, pairs16(a, b), kLanes);  // a missing odd row: 0, whose bf16 is 0
    }
    for (; j < j1; ++j) o[j] = round_bits1(lo[j]) | (hi ? round_bits1(hi[j]) << 16 : 0u);
  }
}

// The pairs of A's rows [i0, i0 + rows) over pairs [kp0, kp1), rows past
// `rows` 0. Rows of A (not transA) are converted along k, a vector of floats
// giving half a vector of pairs: pair p of row r at abuf[r * np + p]. Rows of
// A^T are columns of A, a row of A holding one k of every row: a block of
// kBlockT rows at once, whole vectors of rows from two rows of A per pair:
// pair p of row r at abuf[p * kBlockT + r].
template <bool AT>
static void pack_a(uint32_t* abuf, const GemmBf16Args& g, long i0, long rows, long kp0, long kp1) {
  const long np = kp1 - kp0, K = g.K;
  if (AT) {
    for (long p = 0; p < np; ++p) {
      const long k = 2 * (kp0 + p);
      const float* lo = g.A + k * g.lda + i0;
      for (long v = 0; v < kBlockT; v += kLanes) {
        const long len = rows - v >= kLanes ? kLanes : rows - v > 0 ? rows - v : 0;
        const vf a = ld(lo + v, len), b = k + 1 < K ? ld(lo + g.lda + v, len) : vf{};
        // lanes past `rows` were loaded as 0, and stay 0
        stu(abuf + p * kBlockT + v, pairs16(a, b), kLanes);
      }
    }
    return;
  }
  for (long r = 0; r < (rows > kR ? rows : kR); ++r) {
    uint32_t* o = abuf + r * np;
    if (r >= rows) {
      for (long p = 0; p < np; ++p) o[p] = 0;
      continue;
    }
    const float* a = g.A + (i0 + r) * g.lda + 2 * kp0;
    const long n = 2 * kp1 <= K ? 2 * np : K - 2 * kp0;  // floats of the row in these pairs
    long f = 0;
#if DEEPRNN_BF16_HW
    for (; f + 32 <= n; f += 32) {  // 32 floats: 16 pairs
      const __m512i h = cvt32(a + f);
      __builtin_memcpy(o + f / 2, &h, sizeof h);
    }
#endif
    for (; f + 2 * kLanes <= n; f += 2 * kLanes) {  // 2 kLanes floats: kLanes pairs
      vu x, y;
      __builtin_memcpy(&x, a + f, sizeof x);
      __builtin_memcpy(&y, a + f + kLanes, sizeof y);
      const vh hx = __builtin_convertvector(round_bits(x), vh), hy = __builtin_convertvector(round_bits(y), vh);
      __builtin_memcpy(reinterpret_cast<uint16_t*>(o + f / 2), &hx, sizeof hx);
      __builtin_memcpy(reinterpret_cast<uint16_t*>(o + f / 2) + kLanes, &hy, sizeof hy);
    }
    if (f == 2 * np) continue;
    // The rest (fewer than 2 kLanes floats: a K of 28 leaves all of a row's
    // 14 pairs here) a vector of pairs at once rather than a float at a
    // time, zero past the row's end: the same bits as round_bits1's.
#if DEEPRNN_BF16_HW
    static_assert(kLanes == 16, "a hardware path's vectors are 16 floats");
    const long left = n - f;  // 1 to 31 floats
    const __mmask16 lo = left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1u);
    const __mmask16 hi = left <= 16 ? 0 : static_cast<__mmask16>((1u << (left - 16)) - 1u);
    // (no pointer past the row is formed when its high half is empty)
    const __m512 upper = hi ? _mm512_maskz_loadu_ps(hi, a + f + 16) : _mm512_setzero_ps();
    const __m512i h = (__m512i)_mm512_cvtne2ps_pbh(upper, _mm512_maskz_loadu_ps(lo, a + f));
    _mm512_mask_storeu_epi32(o + f / 2, static_cast<__mmask16>((1u << (np - f / 2)) - 1u), h);
#else
    alignas(64) float rest[2 * kLanes] = {};
    alignas(64) uint32_t pairs[kLanes];
    __builtin_memcpy(rest, a + f, sizeof(float) * static_cast<size_t>(n - f));
    vu x, y;
    __builtin_memcpy(&x, rest, sizeof x);
    __builtin_memcpy(&y, rest + kLanes, sizeof y);
    const vh hx = __builtin_convertvector(round_bits(x), vh), hy = __builtin_convertvector(round_bits(y), vh);
    __builtin_memcpy(reinterpret_cast<uint16_t*>(pairs), &hx, sizeof hx);
    __builtin_memcpy(reinterpret_cast<uint16_t*>(pairs) + kLanes, &hy, sizeof hy);
    __builtin_memcpy(o + f / 2, pairs, sizeof(uint32_t) * static_cast<size_t>(np - f / 2));
#endif
  }
}

// A row's pair, split: the odd k's value (the high half) and the even k's.
static inline float odd_of(uint32_t pair) {
  const uint32_t u = pair & 0xffff0000u;
  float x;
  __builtin_memcpy(&x, &u, 4);
  return x;
}
static inline float even_of(uint32_t pair) {
  const uint32_t u = pair << 16;
  float x;
  __builtin_memcpy(&x, &u, 4);
  return x;
}

// acc(R, NV) += over pairs p < np: a(r, p) . b(p, columns), a at a[r * sr +
// p * sp], b's rows of pairs ldb apart; C's tile loaded first (accumulate;
// else bias, or 0) and stored last, rows < rows and columns < width only.
// FULL: width is NV whole vectors (unmasked loads of B and C).
template <long R, long NV, bool FULL>
static inline void tile(float* __restrict C, long ldc, const uint32_t* __restrict a, long sr, long sp,
                        const uint32_t* __restrict b, long ldb, long np, long rows, long width, bool accumulate,
                        const float* __restrict bias) {
  long lanes[NV];
  for (long q = 0; q < NV; ++q) {
    const long left = width - q * kLanes;
    lanes[q] = FULL || left >= kLanes ? kLanes : left > 0 ? left : 0;
  }
  // The loops over the tile's rows and vectors before and after the pairs
  // are unrolled (unroll pragmas): left to GCC, a partial width's (the masked loads
  // and stores of ld, st) were not, the accumulators then lived in memory,
  // stored on every pair, and the tile ran at 0.4-0.5 times the speed of a
  // whole one (N = 28 or 30 against 32, K = 32).
  vf acc[R][NV];
#pragma GCC unroll 8
  for (long r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (long q = 0; q < NV; ++q)
      acc[r][q] = accumulate && r < rows ? ld(C + r * ldc + q * kLanes, lanes[q])
                  : bias                 ? ld(bias + q * kLanes, lanes[q])
                                         : vf{};
  for (long p = 0; p < np; ++p) {
    vu bv[NV];
    for (long q = 0; q < NV; ++q) bv[q] = ldu(b + p * ldb + q * kLanes, FULL ? kLanes : lanes[q]);
#if DEEPRNN_BF16_HW
    for (long r = 0; r < R; ++r) {
      const __m512i av = _mm512_set1_epi32(static_cast<int>(a[r * sr + p * sp]));
      for (long q = 0; q < NV; ++q)
        acc[r][q] = (vf)_mm512_dpbf16_ps((__m512)acc[r][q], (__m512bh)av, (__m512bh)bv[q]);
    }
#else
    vf bo[NV], be[NV];
    for (long q = 0; q < NV; ++q) {
      bo[q] = (vf)(bv[q] & 0xffff0000u);
      be[q] = (vf)(bv[q] << 16);
    }
    for (long r = 0; r < R; ++r) {
      const uint32_t pair = a[r * sr + p * sp];
      const vf ao = splat(odd_of(pair)), ae = splat(even_of(pair));
      for (long q = 0; q < NV; ++q) acc[r][q] = vfma(ae, be[q], vfma(ao, bo[q], acc[r][q]));
    }
#endif
  }
#pragma GCC unroll 8
  for (long r = 0; r < R; ++r)
    if (r < rows)
#pragma GCC unroll 4
      for (long q = 0; q < NV; ++q)
        if (lanes[q]) st(C + r * ldc + q * kLanes, acc[r][q], lanes[q]);
}

// The tile for `rows` rows and a segment of `width` columns: as many rows and
// vectors as it needs (a last row tile of 1 row of 25 costs a sixth of a whole one).
template <long R>
static inline void tile_cols(float* C, long ldc, const uint32_t* a, long sr, long sp, const uint32_t* b, long ldb,
                             long np, long width, bool accumulate, const float* bias) {
  // Whole vectors (a width of 64, 48, 32 or 16 on AVX-512): unmasked loads of B.
  const bool whole = width % kLanes == 0;
  switch ((width + kLanes - 1) / kLanes) {
#if DEEPRNN_BF16_NV >= 4
    case 4:
      if (whole) return tile<R, 4, true>(C, ldc, a, sr, sp, b, ldb, np, R, width, accumulate, bias);
      return tile<R, 4, false>(C, ldc, a, sr, sp, b, ldb, np, R, width, accumulate, bias);
    case 3:
      if (whole) return tile<R, 3, true>(C, ldc, a, sr, sp, b, ldb, np, R, width, accumulate, bias);
      return tile<R, 3, false>(C, ldc, a, sr, sp, b, ldb, np, R, width, accumulate, bias);
#endif
    case 2:
      if (whole) return tile<R, 2, true>(C, ldc, a, sr, sp, b, ldb, np, R, width, accumulate, bias);
      return tile<R, 2, false>(C, ldc, a, sr, sp, b, ldb, np, R, width, accumulate, bias);
    default:
      if (whole) return tile<R, 1, true>(C, ldc, a, sr, sp, b, ldb, np, R, width, accumulate, bias);
      return tile<R, 1, false>(C, ldc, a, sr, sp, b, ldb, np, R, width, accumulate, bias);
  }
}

static inline void tile_any(float* C, long ldc, const uint32_t* a, long sr, long sp, const uint32_t* b, long ldb,
                            long np, long rows, long width, bool accumulate, const float* bias) {
  switch (rows) {
#if DEEPRNN_BF16_ROWS >= 6
    case 6: return tile_cols<6>(C, ldc, a, sr, sp, b, ldb, np, width, accumulate, bias);
    case 5: return tile_cols<5>(C, ldc, a, sr, sp, b, ldb, np, width, accumulate, bias);
#endif
    case 4: return tile_cols<4>(C, ldc, a, sr, sp, b, ldb, np, width, accumulate, bias);
    case 3: return tile_cols<3>(C, ldc, a, sr, sp, b, ldb, np, width, accumulate, bias);
    case 2: return tile_cols<2>(C, ldc, a, sr, sp, b, ldb, np, width, accumulate, bias);
    default: return tile_cols<1>(C, ldc, a, sr, sp, b, ldb, np, width, accumulate, bias);
  }
}

static uint32_t* align64(uint32_t* p) {
  const unsigned long a = reinterpret_cast<unsigned long>(p);
  return reinterpret_cast<uint32_t*>((a + 63) & ~63ul);
}

// This thread's share (tid of nth) of the product's tiles; scratch:
// kGemmScratchFloats of its own. Row tiles outer (a tile's pairs of A made
// once per pass, then every column segment reads them), or, when a pass of a
// packed B outgrows half of L2, column segments outer: each segment's panel
// of B stays in cache while the row tiles go down it, and the pairs of A are
// made for the whole of A at once when it has at most kBlockT rows (the
// recurrent product: 25 rows of h against 2 MB of W_hh^T, which row tiles
// outer streamed from L3 once per tile), else per tile.
template <bool AT>
__attribute__((noinline)) static void share(const GemmBf16Args& g, int tid, int nth, uint32_t* scratch) {
  const long M = g.M, N = g.N, K = g.K, Kp = (K + 1) / 2;
  const long nseg = (N + kCols - 1) / kCols, row_tiles = (M + kR - 1) / kR, tasks = row_tiles * nseg;
  const long t0 = tasks * tid / nth, t1 = tasks * (tid + 1) / nth;
  if (t0 == t1) return;
  uint32_t* abuf = align64(scratch);
  uint32_t* bpk = align64(abuf + kABuf);
  const long ldp = bf16_packed_ld(N);
  // A float32 B is packed a pass at a time into the rest of the scratch.
  const long room = (kGemmScratchFloats - (bpk - scratch) - 16) / ldp;
  const long depth = g.Bp ? kDepth : room < kDepth ? (room < 1 ? 1 : room) : kDepth;
  // By columns: a panel of B stays in cache while row tiles go down it, in
  // blocks of `tb` row tiles whose pairs of A abuf holds at once (all of A
  // when it fits: a chunk's recurrent product), each block's pairs made once
  // per pass. Else row tiles outer, each tile's pairs made once.
  const bool by_columns = !AT && (M <= kBlockT || (g.Bp && depth * N * 4 > l2_cache_bytes() / 2));
  const long most_pairs = Kp < depth ? Kp : depth;
  const long fit = kABuf / (kR * most_pairs);
  const long tb = !by_columns ? 1 : fit < 1 ? 1 : fit < row_tiles ? fit : row_tiles;
  // Columns this thread's tasks read: all, unless they lie in one row tile.
  long c0 = 0, c1 = N;
  if (!by_columns && t0 / nseg == (t1 - 1) / nseg) {
    c0 = (t0 % nseg) * kCols;
    c1 = ((t1 - 1) % nseg + 1) * kCols < N ? ((t1 - 1) % nseg + 1) * kCols : N;
  }
  // Rows of A^T come in blocks of kBlockT that whole tiles of kR fill; rows of
  // A are shared evenly among the tiles (25 rows: five tiles of 5, not four of
  // 6 and one of 1, whose one row would cost most of a whole tile).
  const long base = M / row_tiles, extra = M % row_tiles;
  auto first_row = [&](long rt) { return AT ? rt * kR : rt * base + (rt < extra ? rt : extra); };
  for (long kp0 = 0; kp0 < Kp; kp0 += depth) {
    const long kp1 = Kp - kp0 < depth ? Kp : kp0 + depth, np = kp1 - kp0;
    const bool acc = g.accumulate || kp0 > 0;
    if (!g.Bp) pack_rows(bpk, ldp, g.B, g.ldb, K, kp0, kp1, c0, c1);
    long packed = -1;  // the block of row tiles (by columns, A^T) or the row tile whose pairs abuf holds
    long row0 = 0;     // its first row
    for (long t = t0; t < t1; ++t) {
      long rt, seg, blk;
      if (by_columns) {
        // block blk's tiles [blk * tb, + tiles) for every segment, the tiles fastest
        blk = t / (tb * nseg);
        const long tiles = row_tiles - blk * tb < tb ? row_tiles - blk * tb : tb, u = t - blk * tb * nseg;
        seg = u / tiles;
        rt = blk * tb + u % tiles;
      } else {
        rt = t / nseg;
        seg = t % nseg;
        blk = AT ? first_row(rt) / kBlockT : rt;
      }
      const long i0 = first_row(rt);
      const long rows = AT ? (M - i0 < kR ? M - i0 : kR) : base + (rt < extra ? 1 : 0);
      if (blk != packed) {
        if (AT) {
          row0 = blk * kBlockT;
          pack_a<true>(abuf, g, row0, M - row0 < kBlockT ? M - row0 : kBlockT, kp0, kp1);
        } else {
          const long last = by_columns ? (blk * tb + tb < row_tiles ? blk * tb + tb : row_tiles) : rt + 1;
          row0 = by_columns ? first_row(blk * tb) : i0;
          pack_a<false>(abuf, g, row0, (last < row_tiles ? first_row(last) : M) - row0, kp0, kp1);
        }
        packed = blk;
      }
      const long j0 = seg * kCols, width = N - j0 < kCols ? N - j0 : kCols;
      const uint32_t* a = AT ? abuf + (i0 - row0) : abuf + (i0 - row0) * np;
      long ldb = ldp;
      const uint32_t* b = g.Bp ? bf16_bp_at(g, kp0, j0, &ldb) : bpk + j0;
      tile_any(g.C + i0 * g.ldc + j0, g.ldc, a, AT ? 1 : np, AT ? kBlockT : 1, b, ldb, np, rows, width, acc,
               !acc && g.bias ? g.bias + j0 : nullptr);
    }
  }
}

// The float32 modes of vdpbf16ps for the fallback's duration on this thread
// (simd/flush_modes.h); the instruction itself needs none.
#if DEEPRNN_BF16_HW
struct FlushModes {};
#else
using FlushModes = DenormalsAsZero;
#endif

static void run(const GemmBf16Args& g, int tid, int nth, uint32_t* scratch) {
  [[maybe_unused]] const FlushModes modes;
  if (g.transA) share<true>(g, tid, nth, scratch);
  else share<false>(g, tid, nth, scratch);
}

static uint32_t* grow_scratch(long n) {
  static thread_local uint32_t* buf = nullptr;
  static thread_local long cap = 0;
  if (cap < n) {
    delete[] buf;
    buf = nullptr;
    cap = 0;
    buf = new uint32_t[n];
    cap = n;
  }
  return buf;
}

// The product of GemmBf16Args: this thread's share of a team's product when
// part.nth > 0, else all of it, forking when it is worth it.
static void gemm_bf16(const GemmBf16Args& g, Part part) {
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) return gemm_empty_k(g.C, g.ldc, g.M, g.N, g.bias, g.accumulate, part);
  if (part.nth > 0) {
    uint32_t* s = part.scratch ? reinterpret_cast<uint32_t*>(part.scratch) : grow_scratch(kGemmScratchFloats);
    return run(g, part.tid, part.nth, s);
  }
  const long tiles = ((g.M + kR - 1) / kR) * ((g.N + kCols - 1) / kCols);
  const bool fork = fork_ok(g.M * g.N * g.K >= kParallelWork && tiles > 1);
  uint32_t* scratch = grow_scratch(kGemmScratchFloats * (fork ? threads_get() : 1));
  parallel_region(fork, [&](int tid, int nth) { run(g, tid, nth, scratch + tid * kGemmScratchFloats); });
}

static const Bf16Path kPath = {DEEPRNN_ISA_NAME, DEEPRNN_BF16_HW != 0, gemm_bf16, true};

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
