// The scalar bf16 product path, the fallback: float32 FMAs on the scalar table's vectors:
// simd/gemm_bf16_impl.h compiled with this file's flags (set in CMakeLists.txt).
#include "simd/bf16.h"

#define DEEPRNN_ISA isa_bf16_scalar
#define DEEPRNN_ISA_NAME "scalar"
#define DEEPRNN_VEC_BYTES 16
#define DEEPRNN_BF16_NV 2    // vectors of columns per tile
#define DEEPRNN_BF16_ROWS 4  // rows per tile
#define DEEPRNN_BF16_HW 0
#include "simd/gemm_bf16_impl.h"

namespace deeprnn {
const Bf16Path* bf16_path_scalar() { return &isa_bf16_scalar::kPath; }
}  // namespace deeprnn
