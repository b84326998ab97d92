// The bf16 product of simd/bf16.h on AMX tiles, written once over an engine
// of tile instructions: simd/bf16_amx.cc gives it the hardware's
// (tdpbf16ps and its loads and stores, compiled with -mamx-tile -mamx-bf16),
// simd/bf16_amx_model.cc a software model of them written from the
// instructions' definition, so that everything but the instructions
// themselves (blocking, packing, the edges of A, B and C, the threads'
// shares) runs and is tested on any CPU. The including file defines
// DEEPRNN_AMX_NS (a namespace of its own) and, after including this, the
// engine type; only static functions and namespace-local templates live here.
//
// Eight tiles of 16 rows x 64 bytes: C in tiles 0-3 (a block of 32 x 32
// floats, 2 x 2 tiles), A in 4-5 (32 rows x 16 k-pairs), B in 6-7 (16 k-pairs
// x 32 columns), pairs packed as bf16_pack_b packs them (the even k low).
// Sums: tdpbf16ps, as Intel's instruction-set reference defines it, keeps two
// float32 sums per element of C, starting from 0, one over the even k's
// products and one over the odd k's, for the 16 pairs of its tiles (FMAs,
// round to nearest even, subnormal inputs and results as zero), then adds the
// two, then adds that to C. That is another order than vdpbf16ps's (per pair
// into C, the odd k first), so this path's results differ from the other
// paths' by rounding, within the same bound; like theirs, they do not depend
// on the thread count (each element's tiles and passes in ascending k, one
// thread per element). Rows of A past M and pairs past K are zero.
// M, N, K as in simd/kernels.h; Kp = ceil(K / 2).
#pragma once

#ifndef DEEPRNN_AMX_NS
#error "define DEEPRNN_AMX_NS before including gemm_bf16_amx.h"
#endif

#include <cstdint>
#include <cstring>

#include "kernels/parallel.h"
#include "simd/bf16.h"

namespace deeprnn {
namespace DEEPRNN_AMX_NS {

// ldtilecfg's 64-byte operand: palette 1, every tile 16 rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

static const long kBlock = 32;   // rows and columns of C per block
static const long kPairs = 16;   // k-pairs per tile of A and B
static const long kDepth = 256;  // most k-pairs per pass (a multiple of kPairs)

static inline long round_up(long x, long m) { return (x + m - 1) / m * m; }

// bf16_operand's bits (simd/bf16.h), a copy: inline code shared between files
// of different flags would break the one-definition rule.
static inline uint32_t operand_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0) return (u >> 16) & 0x8000u;  // a subnormal: a zero of its sign
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;  // NaN, made quiet
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// A pair as bf16_pack_b packs it: the even k's bf16 in the low half.
static inline uint32_t pair_of(float even, float odd) { return operand_bits(even) | operand_bits(odd) << 16; }

// Pairs of two rows (out[j] of even[j] and odd[j], odd null: 0), and of one
// row's neighbours (out[p] of x[2p] and x[2p + 1], n floats): by
// vcvtne2ps2bf16 where the CPU has it (every CPU with AMX does; the same bits,
// simd/bf16.h), else one by one.
static void rows_one_by_one(uint32_t* out, const float* even, const float* odd, long n) {
  for (long j = 0; j < n; ++j) out[j] = pair_of(even[j], odd ? odd[j] : 0.0f);
}
static void row_one_by_one(uint32_t* out, const float* x, long n) {
  for (long f = 0; f < n; f += 2) out[f / 2] = pair_of(x[f], f + 1 < n ? x[f + 1] : 0.0f);
}
struct Pairs {
  void (*rows)(uint32_t* out, const float* even, const float* odd, long n);
  void (*row)(uint32_t* out, const float* x, long n);
};
static Pairs pairs() {
#if defined(DEEPRNN_X86)
  if (bf16_hardware_supported()) return {bf16_pairs_of_rows_avx512bf16, bf16_pairs_of_row_avx512bf16};
#endif
  return {rows_one_by_one, row_one_by_one};
}

// The calling thread's grow-only buffer of at least n uint32 (64-byte aligned).
static uint32_t* grow(long n) {
  static thread_local uint32_t* buf = nullptr;
  static thread_local long cap = 0;
  if (cap < n) {
    delete[] buf;
    buf = nullptr;
    cap = 0;
    buf = new uint32_t[n + 16];
    cap = n;
  }
  const unsigned long a = reinterpret_cast<unsigned long>(buf);
  return reinterpret_cast<uint32_t*>((a + 63) & ~63ul);
}

// Rows [i0, i0 + 32) of op(A) over pairs [kp0, kp0 + np), into a (32 x npp
// pairs, npp a multiple of kPairs): rows past M and pairs past np zero. A^T's
// rows are columns of A: their pairs are made a pair at a time for the 32
// rows (t: npp x 32 of scratch) and then transposed.
static void pack_a(uint32_t* a, uint32_t* t, const Pairs& pr, const GemmBf16Args& g, long i0, long kp0, long np,
                   long npp) {
  const long K = g.K;
  std::memset(a, 0, sizeof(uint32_t) * kBlock * npp);
  const long rows = g.M - i0 < kBlock ? g.M - i0 : kBlock;
  if (g.transA) {
    for (long p = 0; p < np; ++p) {
      const long k = 2 * (kp0 + p);
      const float* ev = g.A + k * g.lda + i0;  // row k of A (K, M): one k of every row of op(A)
      pr.rows(t + p * kBlock, ev, k + 1 < K ? ev + g.lda : nullptr, rows);
    }
    for (long r = 0; r < rows; ++r)
      for (long p = 0; p < np; ++p) a[r * npp + p] = t[p * kBlock + r];
    return;
  }
  const long floats = 2 * (kp0 + np) <= K ? 2 * np : K - 2 * kp0;  // the last pair may lack its odd k
  for (long r = 0; r < rows; ++r) pr.row(a + r * npp, g.A + (i0 + r) * g.lda + 2 * kp0, floats);
}

// A float32 B's pairs [kp0, kp0 + np) and columns [c0, c1) into b (npp rows
// of ld = c1 - c0 pairs): columns past N and pairs past np zero.
static void pack_b(uint32_t* b, long ld, const Pairs& pr, const GemmBf16Args& g, long kp0, long np, long npp, long c0) {
  std::memset(b, 0, sizeof(uint32_t) * npp * ld);
  const long K = g.K, cols = g.N - c0 < ld ? g.N - c0 : ld;
  for (long p = 0; p < np; ++p) {
    const long k = 2 * (kp0 + p);
    const float* ev = g.B + k * g.ldb + c0;
    pr.rows(b + p * ld, ev, k + 1 < K ? ev + g.ldb : nullptr, cols);
  }
}

// A tile of a prepacked B (pairs from kp, 16 columns from j) where it
// reaches past the pairs or the columns: copied into e (16 x 16), zero past them.
static void edge_tile(uint32_t* e, const GemmBf16Args& g, long Kp, long kp, long j) {
  std::memset(e, 0, sizeof(uint32_t) * kPairs * 16);
  const long rows = Kp - kp < kPairs ? Kp - kp : kPairs, cols = g.N - j < 16 ? g.N - j : 16;
  long ld;
  const uint32_t* src = bf16_bp_at(g, kp, j, &ld);
  for (long p = 0; p < rows; ++p)
    for (long c = 0; c < cols; ++c) e[p * 16 + c] = src[p * ld + c];
}

// This thread's share (tid of nth) of the 32 x 32 blocks of C, row blocks outer.
template <class E>
static void share(const GemmBf16Args& g, int tid, int nth) {
  const long M = g.M, N = g.N, Kp = (g.K + 1) / 2;
  const long mb = (M + kBlock - 1) / kBlock, nb = (N + kBlock - 1) / kBlock, tasks = mb * nb;
  const long t0 = tasks * tid / nth, t1 = tasks * (tid + 1) / nth;
  if (t0 == t1) return;
  // The columns this thread's blocks read: all of them, unless its blocks lie in one row block.
  long c0 = 0, c1 = nb * kBlock;
  if (t0 / nb == (t1 - 1) / nb) c0 = (t0 % nb) * kBlock, c1 = ((t1 - 1) % nb + 1) * kBlock;
  const long most = round_up(Kp < kDepth ? Kp : kDepth, kPairs);
  const long bld = c1 - c0;
  uint32_t* a = grow(2 * kBlock * most + (g.Bp ? 0 : most * bld) + 2 * kPairs * 16 + kBlock * kBlock + 64);
  uint32_t* at = a + kBlock * most;                      // A^T's pairs before their transposition
  uint32_t* b = at + kBlock * most;                      // a float32 B's pass, packed
  uint32_t* edge = b + (g.Bp ? 0 : most * bld);          // two edge tiles of a prepacked B
  float* ctmp = reinterpret_cast<float*>(edge + 2 * kPairs * 16);  // a block of C at the edge of C
  static const Pairs pr = pairs();
  static const TileConfig cfg;
  E::config(&cfg);
  for (long kp0 = 0; kp0 < Kp; kp0 += kDepth) {
    const long np = Kp - kp0 < kDepth ? Kp - kp0 : kDepth, npp = round_up(np, kPairs);
    const bool acc = g.accumulate || kp0 > 0;
    if (!g.Bp) pack_b(b, bld, pr, g, kp0, np, npp, c0);
    long packed = -1;  // the row block whose pairs a holds
    for (long t = t0; t < t1; ++t) {
      const long rb = t / nb, i0 = rb * kBlock, j0 = (t % nb) * kBlock;
      if (rb != packed) {
        pack_a(a, at, pr, g, i0, kp0, np, npp);
        packed = rb;
      }
      const long rows = M - i0 < kBlock ? M - i0 : kBlock, cols = N - j0 < kBlock ? N - j0 : kBlock;
      const bool whole = rows == kBlock && cols == kBlock;
      float* c = g.C + i0 * g.ldc + j0;
      // C's block in tiles 0-3: from C (accumulating), else the bias, else 0.
      if (acc || g.bias) {
        const float* src = c;
        long ld = g.ldc;
        if (!acc || !whole) {
          for (long r = 0; r < kBlock; ++r)
            for (long j = 0; j < kBlock; ++j)
              ctmp[r * kBlock + j] = r >= rows || j >= cols ? 0.0f : acc ? c[r * g.ldc + j] : g.bias[j0 + j];
          src = ctmp;
          ld = kBlock;
        }
        E::template load<0>(src, 4 * ld);
        E::template load<1>(src + 16, 4 * ld);
        E::template load<2>(src + 16 * ld, 4 * ld);
        E::template load<3>(src + 16 * ld + 16, 4 * ld);
      } else {
        E::template zero<0>();
        E::template zero<1>();
        E::template zero<2>();
        E::template zero<3>();
      }
      for (long kb = 0; kb < npp; kb += kPairs) {
        E::template load<4>(a + kb, 4 * npp);
        E::template load<5>(a + kBlock / 2 * npp + kb, 4 * npp);
        if (!g.Bp) {
          E::template load<6>(b + kb * bld + (j0 - c0), 4 * bld);
          E::template load<7>(b + kb * bld + (j0 - c0) + 16, 4 * bld);
        } else {
          const long kp = kp0 + kb;
          for (int h = 0; h < 2; ++h) {
            const long j = j0 + 16 * h;
            long ld;
            const uint32_t* src = bf16_bp_at(g, kp, j, &ld);
            if (kp + kPairs > Kp || j + 16 > N) {
              edge_tile(edge + h * kPairs * 16, g, Kp, kp, j);
              src = edge + h * kPairs * 16;
              ld = 16;
            }
            if (h == 0) E::template load<6>(src, 4 * ld);
            else E::template load<7>(src, 4 * ld);
          }
        }
        E::template dp<0, 4, 6>();
        E::template dp<1, 4, 7>();
        E::template dp<2, 5, 6>();
        E::template dp<3, 5, 7>();
      }
      float* dst = whole ? c : ctmp;
      const long ld = whole ? g.ldc : kBlock;
      E::template store<0>(dst, 4 * ld);
      E::template store<1>(dst + 16, 4 * ld);
      E::template store<2>(dst + 16 * ld, 4 * ld);
      E::template store<3>(dst + 16 * ld + 16, 4 * ld);
      if (!whole)
        for (long r = 0; r < rows; ++r) std::memcpy(c + r * g.ldc, ctmp + r * kBlock, sizeof(float) * cols);
    }
  }
  E::release();
}

// The product of GemmBf16Args: this thread's share of a team's product when
// part.nth > 0, else all of it, forking when it is worth it.
template <class E>
static void gemm(const GemmBf16Args& g, Part part) {
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) return gemm_empty_k(g.C, g.ldc, g.M, g.N, g.bias, g.accumulate, part);
  if (part.nth > 0) return share<E>(g, part.tid, part.nth);
  const long blocks = ((g.M + kBlock - 1) / kBlock) * ((g.N + kBlock - 1) / kBlock);
  parallel_region(fork_ok(g.M * g.N * g.K >= kParallelWork && blocks > 1),
                  [&](int tid, int nth) { share<E>(g, tid, nth); });
}

}  // namespace DEEPRNN_AMX_NS
}  // namespace deeprnn
