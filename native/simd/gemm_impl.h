// Generic register-tiled GEMM, compiled once per instruction set: each
// including file defines DEEPRNN_ISA (a namespace name), DEEPRNN_ISA_NAME and
// DEEPRNN_MAX_TILE (widest tile in floats) and compiles with its own flags; the
// compiler turns the fixed-size tiles into vector registers of that set.
// Only plain loops and templates local to the namespace live here (no std::
// templates): inline code shared between files built with different flags
// would break the one-definition rule.
//
// Every C element is summed over k in ascending order, starting from C (when
// accumulating) or 0, by exactly one thread: results do not depend on the
// number of threads.
// M, N, K as in simd/kernels.h.
#ifndef DEEPRNN_ISA
#error "define DEEPRNN_ISA before including gemm_impl.h"
#endif

#include "kernels/parallel.h"

namespace deeprnn {
namespace DEEPRNN_ISA {

// Rows of C per register tile.
static const long kRows = 4;
// Rows of k per pass, so that the B panel stays in cache.
static const long kDepth = 256;

// A column segment of C handled by one tile width.
struct Segment {
  long j0;
  long width;
};

// Splits N columns into tiles of the widest supported widths (64, 32, 16, 8,
// then a narrow remainder).
static int segments(long N, Segment* out) {
  int n = 0;
  long j = 0;
  for (long w = DEEPRNN_MAX_TILE; w >= 8; w /= 2)
    while (N - j >= w) {
      out[n++] = {j, w};
      j += w;
      if (n >= 62) {
        out[n++] = {j, N - j};
        return n;
      }
    }
  if (j < N) out[n++] = {j, N - j};
  return n;
}

// acc(R, W) += sum_k a(r, k) b(k, 0:W) with a(r, k) = A[r * lda + k] or, for
// AT, A[k * lda + r]; C tile loaded first when accumulate, stored last.
template <long R, long W, bool AT>
static inline void tile(float* __restrict C, long ldc, const float* __restrict A, long lda,
                        const float* __restrict B, long ldb, long K, bool accumulate) {
  float acc[R][W];
  for (long r = 0; r < R; ++r)
    for (long j = 0; j < W; ++j) acc[r][j] = accumulate ? C[r * ldc + j] : 0.0f;
  for (long k = 0; k < K; ++k) {
    const float* __restrict b = B + k * ldb;
    for (long r = 0; r < R; ++r) {
      const float a = AT ? A[k * lda + r] : A[r * lda + k];
      for (long j = 0; j < W; ++j) acc[r][j] += a * b[j];
    }
  }
  for (long r = 0; r < R; ++r)
    for (long j = 0; j < W; ++j) C[r * ldc + j] = acc[r][j];
}

// Any width below 8 and any row count, without register tiling.
template <bool AT>
static void tile_narrow(float* C, long ldc, const float* A, long lda, const float* B, long ldb, long K, long R,
                        long W, bool accumulate) {
  for (long r = 0; r < R; ++r) {
    float* c = C + r * ldc;
    for (long j = 0; j < W; ++j) {
      float s = accumulate ? c[j] : 0.0f;
      for (long k = 0; k < K; ++k) s += (AT ? A[k * lda + r] : A[r * lda + k]) * B[k * ldb + j];
      c[j] = s;
    }
  }
}

template <long R, bool AT>
static void tile_rows(float* C, long ldc, const float* A, long lda, const float* B, long ldb, long K, long W,
                      bool accumulate) {
  switch (W) {
#if DEEPRNN_MAX_TILE >= 64
    case 64: tile<R, 64, AT>(C, ldc, A, lda, B, ldb, K, accumulate); return;
#endif
    case 32: tile<R, 32, AT>(C, ldc, A, lda, B, ldb, K, accumulate); return;
    case 16: tile<R, 16, AT>(C, ldc, A, lda, B, ldb, K, accumulate); return;
    case 8: tile<R, 8, AT>(C, ldc, A, lda, B, ldb, K, accumulate); return;
    default: tile_narrow<AT>(C, ldc, A, lda, B, ldb, K, R, W, accumulate); return;
  }
}

// C rows [i0, i0 + rows) x segment, over k in [k0, k1); A addressed as in tile().
template <bool AT>
static void block(float* C, const float* A, const float* B, long M, long N, long K, long i0, long rows,
                  const Segment& s, long k0, long k1, bool accumulate) {
  const long lda = AT ? M : K;
  const float* a = AT ? A + k0 * M + i0 : A + i0 * K + k0;
  float* c = C + i0 * N + s.j0;
  const float* b = B + k0 * N + s.j0;
  if (rows == kRows) tile_rows<kRows, AT>(c, N, a, lda, b, N, k1 - k0, s.width, accumulate);
  else
    for (long r = 0; r < rows; ++r)
      tile_rows<1, AT>(c + r * N, N, AT ? a + r : a + r * lda, lda, b, N, k1 - k0, s.width, accumulate);
}

template <bool AT>
static void gemm(float* C, const float* A, const float* B, long M, long N, long K, bool accumulate) {
  Segment seg[64];
  const int nseg = segments(N, seg);
  const long row_tiles = (M + kRows - 1) / kRows;
  const long tasks = row_tiles * nseg;
  const bool par = M * N * K >= kParallelWork && tasks > 1;
  if (K == 0) {
    if (!accumulate)
      for (long i = 0; i < M * N; ++i) C[i] = 0.0f;
    return;
  }
#ifdef DEEPRNN_OPENMP
#pragma omp parallel if (par)
#endif
  {
    for (long k0 = 0; k0 < K; k0 += kDepth) {
      const long k1 = K - k0 < kDepth ? K : k0 + kDepth;
      const bool acc = accumulate || k0 > 0;
      // The same static split in every pass: each thread keeps its own C tiles.
#ifdef DEEPRNN_OPENMP
#pragma omp for schedule(static) nowait
#endif
      for (long t = 0; t < tasks; ++t) {
        const long rt = t / nseg;
        const Segment& s = seg[t % nseg];
        const long i0 = rt * kRows;
        const long rows = M - i0 < kRows ? M - i0 : kRows;
        block<AT>(C, A, B, M, N, K, i0, rows, s, k0, k1, acc);
      }
    }
  }
}

// C(M,N) (+)= A(M,K) B(K,N)
static void gemm_nn(float* C, const float* A, const float* B, long M, long N, long K, bool accumulate) {
  gemm<false>(C, A, B, M, N, K, accumulate);
}

// C(M,N) += A(K,M)^T B(K,N)
static void gemm_tn(float* C, const float* A, const float* B, long M, long N, long K) {
  gemm<true>(C, A, B, M, N, K, true);
}

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
