// Generic GEMM loops, compiled once per instruction set: each including file
// defines DEEPRNN_ISA (a namespace name) and compiles with its own flags, and
// the compiler vectorises the contiguous inner loops for that set.
// Only plain loops live here (no std:: templates): inline functions shared
// between files built with different flags would break the one-definition rule.
// M, N, K as in simd/kernels.h.
#ifndef DEEPRNN_ISA
#error "define DEEPRNN_ISA before including gemm_impl.h"
#endif

#include "kernels/parallel.h"

namespace deeprnn {
namespace DEEPRNN_ISA {

// Columns of B handled per pass, so that a block of B stays in cache.
static const long kColBlock = 512;
// Rows of A^T / B consumed per pass of gemm_tn.
static const long kRowBlock = 256;

// c[0:n] += a * b[0:n]
static inline void axpy(float* __restrict c, float a, const float* __restrict b, long n) {
  for (long j = 0; j < n; ++j) c[j] += a * b[j];
}

// C(M,N) (+)= A(M,K) B(K,N)
static void gemm_nn(float* C, const float* A, const float* B, long M, long N, long K, bool accumulate) {
  const bool par = M * N * K >= kParallelWork && M > 1;
  for (long j0 = 0; j0 < N; j0 += kColBlock) {
    const long nb = N - j0 < kColBlock ? N - j0 : kColBlock;
    DEEPRNN_PARALLEL_FOR(par)
    for (long i = 0; i < M; ++i) {
      float* __restrict c = C + i * N + j0;
      if (!accumulate) for (long j = 0; j < nb; ++j) c[j] = 0.0f;
      const float* a = A + i * K;
      for (long k = 0; k < K; ++k) axpy(c, a[k], B + k * N + j0, nb);
    }
  }
}

// C(M,N) += A(K,M)^T B(K,N)
static void gemm_tn(float* C, const float* A, const float* B, long M, long N, long K) {
  const bool par = M * N * K >= kParallelWork && M > 1;
  for (long k0 = 0; k0 < K; k0 += kRowBlock) {
    const long k1 = K - k0 < kRowBlock ? K : k0 + kRowBlock;
    DEEPRNN_PARALLEL_FOR(par)
    for (long i = 0; i < M; ++i) {
      float* __restrict c = C + i * N;
      for (long k = k0; k < k1; ++k) axpy(c, A[k * M + i], B + k * N, N);
    }
  }
}

static const KernelTable kTable = {DEEPRNN_ISA_NAME, gemm_nn, gemm_tn};

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
