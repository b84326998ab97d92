// The table of kernels that each instruction set fills (scalar, avx2, avx512).
// Matrices are row-major float32.
#pragma once

namespace deeprnn {

struct KernelTable {
  const char* name;
  // C(M,N) = A(M,K) B(K,N), or C += A B when accumulate is true.
  void (*gemm_nn)(float* C, const float* A, const float* B, long M, long N, long K, bool accumulate);
  // C(M,N) += A(K,M)^T B(K,N); each C element sums over k in ascending order.
  void (*gemm_tn)(float* C, const float* A, const float* B, long M, long N, long K);
};

// The table in use: chosen on first use (best supported, or DEEPRNN_SIMD).
// Throws std::runtime_error when DEEPRNN_SIMD names an unknown or unsupported set.
const KernelTable& kernels();
// Forces a table by name ("scalar", "avx2", "avx512"); throws like kernels().
void kernels_select(const char* name);
// Names of the instruction sets this CPU and build support, best last.
int kernels_available(const char** names, int cap);

const KernelTable* table_scalar();
#ifdef DEEPRNN_X86
const KernelTable* table_avx2();
const KernelTable* table_avx512();
#endif

}  // namespace deeprnn
