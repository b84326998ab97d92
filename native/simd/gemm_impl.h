// Generic register-tiled GEMM, compiled once per instruction set: each
// including file defines DEEPRNN_ISA (a namespace name), DEEPRNN_ISA_NAME and
// DEEPRNN_MAX_TILE (widest tile in floats) and compiles with its own flags; the
// compiler turns the fixed-size tiles into vector registers of that set. A
// GEMM variant (simd/*_tall.cc: DEEPRNN_GEMM_VARIANT, its own namespace) is
// this file again with another tile and depth, and the tiled product alone.
// Only plain loops and templates local to the namespace live here (no std::
// templates): inline code shared between files built with different flags
// would break the one-definition rule.
//
// Every C element is summed over k in ascending order, starting from C (when
// accumulating) or 0, by exactly one thread: results do not depend on the
// number of threads.
// M, N, K as in simd/kernels.h.
// Included once per translation unit, that is once per instruction set.
#pragma once

#ifndef DEEPRNN_ISA
#error "define DEEPRNN_ISA before including gemm_impl.h"
#endif

#include "kernels/parallel.h"
#include "simd/math_impl.h"

namespace deeprnn {
namespace DEEPRNN_ISA {

// Rows of C per register tile (the main height; see RowTiles): the
// including file may set DEEPRNN_GEMM_ROWS and DEEPRNN_ROW_HEIGHTS_MIXED.
#ifndef DEEPRNN_GEMM_ROWS
#define DEEPRNN_GEMM_ROWS 4
#endif
#ifndef DEEPRNN_ROW_HEIGHTS_MIXED
#define DEEPRNN_ROW_HEIGHTS_MIXED 0
#endif
static const long kRows = DEEPRNN_GEMM_ROWS;
// The height of the tiles that cover what the main heights leave over (see
// RowTiles): the including file may set DEEPRNN_GEMM_SMALL_ROWS below kRows.
#ifndef DEEPRNN_GEMM_SMALL_ROWS
#define DEEPRNN_GEMM_SMALL_ROWS DEEPRNN_GEMM_ROWS
#endif
static const long kSmallTileRows = DEEPRNN_GEMM_SMALL_ROWS;
static_assert(kSmallTileRows >= 1 && kSmallTileRows <= kRows, "small tiles are at most the main height");
#define DEEPRNN_STR_(x) #x
#define DEEPRNN_STR(x) DEEPRNN_STR_(x)
// The main tile's name, rows x columns: KernelTable::gemm_tile.
static const char kTileName[] = DEEPRNN_STR(DEEPRNN_GEMM_ROWS) "x" DEEPRNN_STR(DEEPRNN_MAX_TILE);
// Most rows of k per pass: the pass's panel of B (depth x one tile of
// columns) stays in L2 while row tiles go down it, and each tile's
// accumulators stay in registers for the whole pass. kDepthT when A is read
// transposed: its rows of A^T are M floats apart, and shorter passes let a
// row tile's piece of A stay in L1 across the column segments.
#ifndef DEEPRNN_GEMM_DEPTH
#define DEEPRNN_GEMM_DEPTH 1024
#endif
static const long kDepth = DEEPRNN_GEMM_DEPTH;
static_assert(2 * kDepth * DEEPRNN_MAX_TILE + 16 <= kGemmScratchFloats, "kGemmScratchFloats holds two panels");
static_assert(kGemmPanel % DEEPRNN_MAX_TILE == 0, "a segment of columns never straddles two panels of B");
static const long kDepthT = kDepth < 128 ? kDepth : 128;
// Weight gradients go down the rows of C by short tiles of AVX2 and AVX-512
// (gemm_share; the scalar and NEON tables, not measured, keep the other order).
static const bool kTnDown = DEEPRNN_GEMM_ROWS < 8 && DEEPRNN_VEC_BYTES >= 32;

// The calling thread's grow-only buffer of at least n floats (plain new[]: no
// std:: templates in per-ISA code), grown only outside parallel regions.
static float* grow_scratch(long n) {
  static thread_local float* buf = nullptr;
  static thread_local long cap = 0;
  if (cap < n) {
    // freed and forgotten first: a failed new (an Error in JavaScript) leaves no stale buffer behind
    delete[] buf;
    buf = nullptr;
    cap = 0;
    buf = new float[n];
    cap = n;
  }
  return buf;
}

// The first 64-byte boundary in p.
static float* align64(float* p) {
  const unsigned long a = reinterpret_cast<unsigned long>(p);
  return reinterpret_cast<float*>((a + 63) & ~63ul);
}

// Columns [j0, j0 + width) of C, computed by a tile `tile` wide; when
// tile > width the tile reads a zero-padded copy of B's columns and writes
// through a temporary.
struct Segment {
  long j0;
  long width;
  long tile;
};

static long pow2_at_least(long r) {
  long w = 8;
  while (w < r) w *= 2;
  return w;
}

// Full tiles of DEEPRNN_MAX_TILE columns, then the remainder: one padded tile
// when that wastes at most a quarter of it, else exact tiles of 32, 16, 8 and
// a padded 8 for the last few columns. At most 6 remainder segments.
struct Columns {
  long full;  // segments of DEEPRNN_MAX_TILE
  int nrest;
  Segment rest[6];

  explicit Columns(long N) : full(N / DEEPRNN_MAX_TILE), nrest(0) {
    long j = full * DEEPRNN_MAX_TILE, r = N - j;
    if (r == 0) return;
    const long w = pow2_at_least(r);
    if (w - r <= r / 4 || r < 8) {
      rest[nrest++] = {j, r, w};
      return;
    }
    for (long t = DEEPRNN_MAX_TILE / 2; t >= 8; t /= 2)
      if (r >= t) {
        rest[nrest++] = {j, t, t};
        j += t;
        r -= t;
      }
    if (r > 0) rest[nrest++] = {j, r, 8};
  }

  long count() const { return full + nrest; }
  Segment at(long s) const {
    return s < full ? Segment{s * DEEPRNN_MAX_TILE, DEEPRNN_MAX_TILE, DEEPRNN_MAX_TILE} : rest[s - full];
  }
  // The padded segment, if any (always the last).
  const Segment* padded() const {
    return nrest && rest[nrest - 1].tile > rest[nrest - 1].width ? &rest[nrest - 1] : nullptr;
  }
};

// acc(R, W) += sum_k a(r, k) b(k, 0:W) with a(r, k) = A[r * lda + k] or, for
// AT, A[k * lda + r]: in vectors of kLanes, one fused multiply-add per k and
// vector. C's tile is loaded first when accumulate (else bias(0:W), or 0 when
// bias is null) and stored last; only `width` of its W columns are C's (a
// padded segment: the rest exist only in B's zero-padded panel), so that C's
// last vector per row loads and stores only its own columns. B's rows are W
// wide.
template <long R, long W, bool AT>
static inline void tile(float* __restrict C, long ldc, const float* __restrict A, long lda,
                        const float* __restrict B, long ldb, long K, long width, bool accumulate,
                        const float* __restrict bias) {
  constexpr long NV = (W + kLanes - 1) / kLanes;
  constexpr long BL = W < kLanes ? W : kLanes;  // lanes of B per load
  long lanes[NV];  // of C in each vector: kLanes, then what is left of width (possibly 0)
  for (long q = 0; q < NV; ++q) {
    const long left = width - q * kLanes;
    lanes[q] = left >= BL ? BL : left > 0 ? left : 0;
  }
  vf acc[R][NV];
  for (long r = 0; r < R; ++r)
    for (long q = 0; q < NV; ++q)
      acc[r][q] = accumulate ? ld(C + r * ldc + q * kLanes, lanes[q]) : bias ? ld(bias + q * kLanes, lanes[q]) : vf{};
  for (long k = 0; k < K; ++k) {
    vf b[NV];
    for (long q = 0; q < NV; ++q) b[q] = ld(B + k * ldb + q * kLanes, BL);
    for (long r = 0; r < R; ++r) {
      const vf a = splat(AT ? A[k * lda + r] : A[r * lda + k]);
      for (long q = 0; q < NV; ++q) acc[r][q] = vfma(a, b[q], acc[r][q]);
    }
  }
  for (long r = 0; r < R; ++r)
    for (long q = 0; q < NV; ++q) st(C + r * ldc + q * kLanes, acc[r][q], lanes[q]);
}

template <long R, bool AT>
__attribute__((always_inline)) static inline void tile_rows(float* C, long ldc, const float* A, long lda,
                                                            const float* B, long ldb, long K, long W, long width,
                                                            bool accumulate, const float* bias = nullptr) {
  switch (W) {
#if DEEPRNN_MAX_TILE >= 64
    case 64: tile<R, 64, AT>(C, ldc, A, lda, B, ldb, K, width, accumulate, bias); return;
#endif
#if DEEPRNN_MAX_TILE >= 32
    case 32: tile<R, 32, AT>(C, ldc, A, lda, B, ldb, K, width, accumulate, bias); return;
#endif
    case 16: tile<R, 16, AT>(C, ldc, A, lda, B, ldb, K, width, accumulate, bias); return;
    default: tile<R, 8, AT>(C, ldc, A, lda, B, ldb, K, width, accumulate, bias); return;
  }
}

// Row tiles: C's rows cut into tiles of kRows (the main height) and, where
// DEEPRNN_ROW_HEIGHTS_MIXED allows, of kRows + 1 and kRows - 1 too, so that
// the tiles cover M exactly (a batch slice of 25 rows is five tiles of 5
// rather than seven of 4, the last one padded). Only when M has no such sum
// (M < 4, or 7) is the last tile partial and padded. Where there is no such
// sum, tiles of the main height are followed by tiles of kSmallTileRows for the
// rest (a chunk's 16 rows by tiles of 12 rows: 12 + 4, not 12 and 4 rows
// padded to 12 through copies), the last of them partial and padded if need
// be. Tile order: main height, then the taller, then the shorter, then the
// small ones, then the partial one (of the small height).
struct RowTiles {
  long h[4];      // heights
  long n[4];      // tiles of each height
  long partial;   // rows in a last partial tile of height h[3], 0 if none
  long count;

  explicit RowTiles(long M)
      : h{kRows, kRows + 1, kRows - 1, kSmallTileRows},
        n{M / kRows, 0, 0, M % kRows / kSmallTileRows},
        partial(M % kRows % kSmallTileRows) {
#if DEEPRNN_ROW_HEIGHTS_MIXED
    // Most tiles of the main height whose remainder the other two heights cover.
    for (long a = M / kRows; a >= 0; --a) {
      const long rest = M - a * kRows;
      for (long b = rest / h[1]; b >= 0; --b)
        if ((rest - b * h[1]) % h[2] == 0) {
          n[0] = a, n[1] = b, n[2] = (rest - b * h[1]) / h[2], n[3] = 0, partial = 0;
          count = n[0] + n[1] + n[2];
          return;
        }
    }
#endif
    count = n[0] + n[1] + n[2] + n[3] + (partial ? 1 : 0);
  }

  // Tile i: first row, rows and the height it runs at.
  void at(long i, long* i0, long* rows, long* height) const {
    long base = 0;
    for (int q = 0; q < 4; ++q) {
      if (i < n[q]) {
        *i0 = base + i * h[q], *rows = *height = h[q];
        return;
      }
      base += n[q] * h[q];
      i -= n[q];
    }
    *i0 = base, *rows = partial, *height = h[3];
  }
};

// Whether a padded segment `tile` wide runs as a whole tile with C masked
// (whole vectors, a width it is made for) rather than through copies.
static inline bool maskable(long tile) { return tile >= kLanes && tile % kLanes == 0 && tile <= DEEPRNN_MAX_TILE; }

// The partial tiles' path, out of line: its copies need a large stack frame.
template <long R, bool AT>
__attribute__((noinline)) static void block_partial(float* c, long ldc, const float* a, long lda, const float* b,
                                                    long ldb, long rows, const Segment& s, long kk,
                                                    bool accumulate, const float* bias) {
  float abuf[R * kDepth];
  if (rows < R) {
    if (AT)
      for (long k = 0; k < kk; ++k)
        for (long r = 0; r < R; ++r) abuf[k * R + r] = r < rows ? a[k * lda + r] : 0.0f;
    else
      for (long r = 0; r < R; ++r)
        for (long k = 0; k < kk; ++k) abuf[r * kk + k] = r < rows ? a[r * lda + k] : 0.0f;
    a = abuf;
    lda = AT ? R : kk;
  }
  float tmp[R * DEEPRNN_MAX_TILE];
  for (long r = 0; r < R; ++r)
    for (long j = 0; j < s.tile; ++j)
      tmp[r * s.tile + j] = j >= s.width ? 0.0f
                            : accumulate ? (r < rows ? c[r * ldc + j] : 0.0f)
                            : bias ? bias[s.j0 + j] : 0.0f;
  tile_rows<R, AT>(tmp, s.tile, a, lda, b, ldb, kk, s.tile, s.tile, true);
  for (long r = 0; r < rows; ++r)
    for (long j = 0; j < s.width; ++j) c[r * ldc + j] = tmp[r * s.tile + j];
}

// C rows [i0, i0 + rows) x segment, over k in [k0, k1), by a tile R rows
// high; A addressed as in tile() with g.lda. `b` is B's rows k0.. at the
// segment's first column (ldb apart), or the padded panel for a padded segment. A partial
// tile (fewer rows than R, or a padded segment) runs as a whole one through
// zero-padded copies of its rows of A and C: a one-row tile would load as
// many B vectors as it does multiply-adds.
template <long R, bool AT>
__attribute__((always_inline)) static inline void block(const GemmArgs& g, const float* b, long ldb, long i0,
                                                        long rows, const Segment& s, long k0, long k1,
                                                        bool accumulate) {
  const long lda = g.lda, ldc = g.ldc;
  const float* a = AT ? g.A + k0 * lda + i0 : g.A + i0 * lda + k0;
  float* c = g.C + i0 * ldc + s.j0;
  const float* bias = g.bias;
  if (rows == R && (s.tile == s.width || maskable(s.tile)))
    tile_rows<R, AT>(c, ldc, a, lda, b, ldb, k1 - k0, s.tile, s.width, accumulate, bias ? bias + s.j0 : nullptr);
  else
    block_partial<R, AT>(c, ldc, a, lda, b, ldb, rows, s, k1 - k0, accumulate, bias);
}

template <bool AT>
__attribute__((always_inline)) static inline void block_any(long height, const GemmArgs& g, const float* b, long ldb,
                                                            long i0, long rows, const Segment& s, long k0, long k1,
                                                            bool accumulate) {
#if DEEPRNN_GEMM_SMALL_ROWS != DEEPRNN_GEMM_ROWS
  if (height == kSmallTileRows) return block<kSmallTileRows, AT>(g, b, ldb, i0, rows, s, k0, k1, accumulate);
#endif
#if DEEPRNN_ROW_HEIGHTS_MIXED
  if (height == kRows + 1) return block<kRows + 1, AT>(g, b, ldb, i0, rows, s, k0, k1, accumulate);
  if (height == kRows - 1) return block<kRows - 1, AT>(g, b, ldb, i0, rows, s, k0, k1, accumulate);
#endif
  (void)height;
  block<kRows, AT>(g, b, ldb, i0, rows, s, k0, k1, accumulate);
}

// B's rows k0.. at column j0 and the floats between them: B + k0 * ldb + j0,
// or in B's panel (GemmArgs::panel) that holds column j0. Every segment of
// Columns lies in one panel: full segments start at multiples of their width,
// which divides the panel's, and the rest lie in the last panel.
static inline const float* b_at(const GemmArgs& g, long j0, long k0, long* ld) {
  if (!g.panel) {
    *ld = g.ldb;
    return g.B + k0 * g.ldb + j0;
  }
  const long p0 = j0 - j0 % g.panel, w = g.N - p0 < g.panel ? g.N - p0 : g.panel;
  *ld = w;
  return g.B + p0 * g.K + k0 * w + (j0 - p0);
}

// This thread's share (tid of nth) of the product's tiles; scratch:
// kGemmScratchFloats of its own.
template <bool AT>
static void gemm_share(const GemmArgs& g, int tid, int nth, float* scratch) {
  const long M = g.M, N = g.N, K = g.K;
  const Columns cols(N);
  const long nseg = cols.count();
  const Segment* pad = cols.padded();
  const RowTiles rt(M);
  const long row_tiles = rt.count;
  const long tasks = row_tiles * nseg;
  // k in passes of at most kDepth (kDepthT when A is read transposed: its
  // rows of A^T are M floats apart, and shorter passes keep them in cache).
  const long max_depth = AT ? kDepthT : kDepth;
  const long passes = (K + max_depth - 1) / max_depth;
  const long depth = passes ? (K + passes - 1) / passes : 0;
  // When a pass's rows of B (depth x N) outgrow half of a 1 MiB L2, go down
  // the rows of C for each column panel (the panel stays in cache) instead of
  // across the columns for each row tile (all of B streamed once per tile).
  //
  // A weight gradient (A read transposed) by a short tile goes down the rows
  // too, when it has several segments and enough row tiles to pay for their
  // packing: each segment's pass of B, packed, stays in L1 while the row
  // tiles' pieces of A^T come from L2. Across the columns instead, a 5 x 64
  // tile read its 4 vectors of B per k from L2 (the pass of B, 128 rows of
  // N, re-read for every row tile): `bench/tn-order.mjs` (one thread, the two
  // orders in turns) gives the weight gradients of B and C, 1024x256x2048 and
  // 2048x512x1250, 134-140 and 134-143 GFLOP/s that way, 177-185 and 169-182
  // this way; AVX2's 6 x 16 0.98-1.01x on them (58 -> 87 on 256x1024x2048,
  // a shape training does not have). The tall tile (12 x 32), which reads two vectors of B and
  // twelve values of A per k, gains nothing from it (0.95-1.03x) and keeps
  // the other order. gemm_tn_across() keeps every weight gradient across (the
  // order before, for measuring one against the other).
  const bool by_columns = N * depth * 4 > l2_cache_bytes() / 2 ||
                          (AT && kTnDown && nseg >= 4 && row_tiles >= 16 && !gemm_tn_across());
  // Going down the rows, a panel read by enough row tiles is worth packing
  // (B in panels is packed already).
  const bool pack = by_columns && row_tiles >= 16 && !g.panel;
  // A C larger than L2 is fetched for the next tile while this one runs, so
  // that a tile's stores at its end find their lines in cache (without it a
  // 1250 x 2048 x 512 product ran at 41 GFLOP/s instead of 109 on one
  // thread: stores missing to memory, and loads of B waiting behind them,
  // most likely on addresses equal in their low 12 bits).
  const bool prefetch_c = M * N * 4 > l2_cache_bytes();
  float* panel = align64(scratch);                       // padded copy of B's last columns
  float* packed = panel + depth * DEEPRNN_MAX_TILE;      // packed copy of one full segment
  // The same contiguous share of the tiles in every pass: each thread keeps its own C tiles.
  const long t0 = tasks * tid / nth, t1 = tasks * (tid + 1) / nth;
  if (t0 == t1) return;
  for (long k0 = 0; k0 < K; k0 += depth) {
    const long k1 = K - k0 < depth ? K : k0 + depth;
    const bool acc = g.accumulate || k0 > 0;
    if (pad) {
      long ld;
      const float* src = b_at(g, pad->j0, k0, &ld);
      for (long k = 0; k < k1 - k0; ++k)
        for (long j = 0; j < pad->tile; ++j) panel[k * pad->tile + j] = j < pad->width ? src[k * ld + j] : 0.0f;
    }
    long packed_seg = -1;
    for (long t = t0; t < t1; ++t) {
      const long seg = by_columns ? t / row_tiles : t % nseg;
      const Segment s = cols.at(seg);
      long i0, rows, height;
      rt.at(by_columns ? t % row_tiles : t / nseg, &i0, &rows, &height);
      // The next task's C tile, on its way while this one runs. (Its task is
      // mapped to a segment and tile as above, written out again: one shared
      // lambda for both made config C 24% slower with GCC 12.)
      if (prefetch_c && t + 1 < t1) {
        const long next_seg = by_columns ? (t + 1) / row_tiles : (t + 1) % nseg;
        long pi0, prows, ph;
        rt.at(by_columns ? (t + 1) % row_tiles : (t + 1) / nseg, &pi0, &prows, &ph);
        const Segment ps = cols.at(next_seg);
        for (long r = 0; r < prows; ++r)  // one prefetch per 64-byte line (16 floats)
          for (long j = 0; j < ps.width; j += 16) __builtin_prefetch(g.C + (pi0 + r) * g.ldc + ps.j0 + j, 1, 3);
      }
      const bool padded = s.tile > s.width;
      if (padded) {
        block_any<AT>(height, g, panel, s.tile, i0, rows, s, k0, k1, acc);
      } else if (pack) {
        // The panel of B this segment reads, packed once into contiguous rows
        // (its rows in B are ldb floats, often pages, apart).
        if (packed_seg != seg) {
          for (long k = k0; k < k1; ++k)
            __builtin_memcpy(packed + (k - k0) * s.tile, g.B + k * g.ldb + s.j0, sizeof(float) * s.tile);
          packed_seg = seg;
        }
        block_any<AT>(height, g, packed, s.tile, i0, rows, s, k0, k1, acc);
      } else {
        long ld;
        const float* b = b_at(g, s.j0, k0, &ld);
        block_any<AT>(height, g, b, ld, i0, rows, s, k0, k1, acc);
      }
    }
  }
}

// The product of GemmArgs (simd/kernels.h): this thread's share of a team's
// product when part.nth > 0, else all of it, forking when it is worth it.
static void gemm(const GemmArgs& g, Part part) {
  if (g.K == 0) return gemm_empty_k(g.C, g.ldc, g.M, g.N, g.bias, g.accumulate, part);
  auto run = [&](int tid, int nth, float* scratch) {
    if (g.transA) gemm_share<true>(g, tid, nth, scratch);
    else gemm_share<false>(g, tid, nth, scratch);
  };
  if (part.nth > 0) return run(part.tid, part.nth, part.scratch ? part.scratch : grow_scratch(kGemmScratchFloats));
  // Standalone: the scratch of every thread that may run, grown here, before the region.
  const bool fork = fork_ok(g.M * g.N * g.K >= kParallelWork && Columns(g.N).count() * RowTiles(g.M).count > 1);
  float* scratch = grow_scratch(kGemmScratchFloats * (fork ? threads_get() : 1));
  parallel_region(fork, [&](int tid, int nth) { run(tid, nth, scratch + tid * kGemmScratchFloats); });
}

#ifndef DEEPRNN_GEMM_VARIANT  // a variant's file holds the tiled product alone

// C(M,N) = A(M,K) B(N,K)^T for a few rows of A (generation: M = batch),
// B read in place (no transpose): a GEMV that streams B once. kNtRows rows of
// B at a time, one full-width accumulator each (independent FMA chains and
// as many memory streams), reduced across lanes at the end. Each element's
// sum has the same order whatever the thread count.
static const long kNtRows = 8;

static inline float lane_sum(vf v) {
  float s = 0.0f;
  for (long i = 0; i < kLanes; ++i) s += v[i];
  return s;
}

static void gemm_nt_small(float* C, const float* A, const float* B, long M, long N, long K) {
  const long blocks = (N + kNtRows - 1) / kNtRows;
  // From a quarter of a million multiply-adds (1 MB of B) on, forking pays: a
  // row or two (generation) reads B from memory once per call, and each thread
  // then reads its own rows of B (static blocks: the same rows every call, in
  // its own cache where they fit). `deeprnn bench --configs D --threads 1,2`
  // (C's model generating): 3,264 and 6,216 tokens/s; with the old bound of
  // 2M these products did not fork.
  parallel_for(M * N * K >= 8 * kParallelWork, blocks, [&](long bk) {
    const long n0 = bk * kNtRows, cnt = N - n0 < kNtRows ? N - n0 : kNtRows;
    const float* b[kNtRows];
    for (long i = 0; i < kNtRows; ++i) b[i] = B + (n0 + (i < cnt ? i : 0)) * K;  // past N: repeat a row, unused
    for (long m = 0; m < M; ++m) {
      const float* a = A + m * K;
      vf acc[kNtRows] = {};
      long k = 0;
      for (; k + kLanes <= K; k += kLanes) {
        const vf av = ld(a + k, kLanes);
        for (long i = 0; i < kNtRows; ++i) acc[i] = vfma(av, ld(b[i] + k, kLanes), acc[i]);
      }
      if (k < K) {
        const vf av = ld(a + k, K - k);
        for (long i = 0; i < kNtRows; ++i) acc[i] = vfma(av, ld(b[i] + k, K - k), acc[i]);
      }
      for (long i = 0; i < cnt; ++i) C[m * N + n0 + i] = lane_sum(acc[i]);
    }
  });
}

// db(cols) += sum over rows of X(rows, cols), rows ld apart: rows summed in order within fixed
// chunks of 256 (chunks in parallel), then the chunks in order, so the result
// does not depend on threads. Four vectors of columns at a time stay in
// registers down a chunk.
static void colsum_add(float* db, const float* X, long rows, long cols, long ldx) {
  const long chunk = 256, span = 4 * kLanes;
  const long nchunks = (rows + chunk - 1) / chunk;
  // The rows of chunk c, columns [j0, j0 + span), summed in order into acc.
  auto chunk_sums = [&](long c, long j0, vf* acc, long* len) {
    const long r0 = c * chunk, r1 = (c + 1) * chunk < rows ? (c + 1) * chunk : rows;
    for (long q = 0; q < 4; ++q) {
      const long j = j0 + q * kLanes;
      len[q] = j >= cols ? 0 : cols - j < kLanes ? cols - j : kLanes;
      acc[q] = vf{};
    }
    for (long r = r0; r < r1; ++r)
      for (long q = 0; q < 4; ++q)
        if (len[q]) acc[q] += ld(X + r * ldx + j0 + q * kLanes, len[q]);
  };
  if (!fork_ok(rows * cols >= kParallelWork && nchunks > 1)) {
    // One thread (a team's share of the columns, say): each chunk's sums go
    // straight into db, chunks in order, the same sums as below without a buffer.
    for (long j0 = 0; j0 < cols; j0 += span)
      for (long c = 0; c < nchunks; ++c) {
        vf acc[4];
        long len[4];
        chunk_sums(c, j0, acc, len);
        for (long q = 0; q < 4; ++q)
          if (len[q]) st(db + j0 + q * kLanes, ld(db + j0 + q * kLanes, len[q]) + acc[q], len[q]);
      }
    return;
  }
  // Grow-only buffer of the calling thread, grown before the loop forks.
  static thread_local float* partial_buf = nullptr;
  static thread_local long cap = 0;
  if (cap < nchunks * cols) {
    delete[] partial_buf;
    partial_buf = nullptr;
    cap = 0;
    partial_buf = new float[nchunks * cols];
    cap = nchunks * cols;
  }
  float* partial = partial_buf;  // a plain pointer: inside the loop a thread_local would be each thread's own
  parallel_for(true, nchunks, [&](long c) {
    for (long j0 = 0; j0 < cols; j0 += span) {
      vf acc[4];
      long len[4];
      chunk_sums(c, j0, acc, len);
      for (long q = 0; q < 4; ++q)
        if (len[q]) st(partial + c * cols + j0 + q * kLanes, acc[q], len[q]);
    }
  });
  for (long c = 0; c < nchunks; ++c)
    for (long j = 0; j < cols; ++j) db[j] += partial[c * cols + j];
}

#endif  // DEEPRNN_GEMM_VARIANT

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
