// The scalar kernel table: simd/gemm_impl.h compiled with this file's flags.
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_scalar
#define DEEPRNN_ISA_NAME "scalar"
#include "simd/gemm_impl.h"

namespace deeprnn {
const KernelTable* table_scalar() { return &isa_scalar::kTable; }
}  // namespace deeprnn
