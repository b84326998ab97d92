// The avx2 kernel table: simd/table_impl.h compiled with this file's flags
// (set in CMakeLists.txt).
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_avx2
#define DEEPRNN_ISA_NAME "avx2"
#define DEEPRNN_MAX_TILE 16  // widest GEMM tile, floats
#define DEEPRNN_VEC_BYTES 32  // vector width of the activation code
// GEMM tiles of 6 rows x 16 (12 accumulators of the 16 registers, two for B,
// one for A) and of 7 and 5 rows, to cover M exactly. Tiles of 4 x 32 (16
// accumulators, more than fit beside B and A) ran at half the speed on most
// shapes of `node bench/gemm.mjs avx2`.
#define DEEPRNN_GEMM_ROWS 6
#define DEEPRNN_ROW_HEIGHTS_MIXED 1
#define DEEPRNN_GEMM_DEPTH 512
#include "simd/table_impl.h"

namespace deeprnn {
const KernelTable* table_avx2() { return &isa_avx2::kTable; }
}  // namespace deeprnn
