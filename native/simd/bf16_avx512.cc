// The avx512 bf16 product path, the fallback: float32 FMAs on the avx512 table's vectors:
// simd/gemm_bf16_impl.h compiled with this file's flags (set in CMakeLists.txt).
#include "simd/bf16.h"

#define DEEPRNN_ISA isa_bf16_avx512
#define DEEPRNN_ISA_NAME "avx512"
#define DEEPRNN_VEC_BYTES 64
#define DEEPRNN_BF16_NV 4    // vectors of columns per tile
#define DEEPRNN_BF16_ROWS 4  // rows per tile
#define DEEPRNN_BF16_HW 0
#include "simd/gemm_bf16_impl.h"

namespace deeprnn {
const Bf16Path* bf16_path_avx512() { return &isa_bf16_avx512::kPath; }
}  // namespace deeprnn
