// The avx512 kernel table: simd/gemm_impl.h compiled with this file's flags.
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_avx512
#define DEEPRNN_ISA_NAME "avx512"
#include "simd/gemm_impl.h"

namespace deeprnn {
const KernelTable* table_avx512() { return &isa_avx512::kTable; }
}  // namespace deeprnn
