// The avx2 kernel table: simd/gemm_impl.h compiled with this file's flags.
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_avx2
#define DEEPRNN_ISA_NAME "avx2"
#include "simd/gemm_impl.h"

namespace deeprnn {
const KernelTable* table_avx2() { return &isa_avx2::kTable; }
}  // namespace deeprnn
