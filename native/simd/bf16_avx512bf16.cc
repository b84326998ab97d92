// The avx512bf16 bf16 product path, vdpbf16ps (AVX512-BF16):
// simd/gemm_bf16_impl.h compiled with this file's flags (set in CMakeLists.txt).
#include "simd/bf16.h"

#define DEEPRNN_ISA isa_bf16_avx512bf16
#define DEEPRNN_ISA_NAME "avx512bf16"
#define DEEPRNN_VEC_BYTES 64
#define DEEPRNN_BF16_NV 4    // vectors of columns per tile
#define DEEPRNN_BF16_ROWS 6  // rows per tile
#define DEEPRNN_BF16_HW 1
#include "simd/gemm_bf16_impl.h"

namespace deeprnn {
const Bf16Path* bf16_path_avx512bf16() { return &isa_bf16_avx512bf16::kPath; }
}  // namespace deeprnn
