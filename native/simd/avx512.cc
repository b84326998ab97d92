// The avx512 kernel table: simd/table_impl.h compiled with this file's flags
// (set in CMakeLists.txt).
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_avx512
#define DEEPRNN_ISA_NAME "avx512"
#define DEEPRNN_MAX_TILE 64  // widest GEMM tile, floats
#define DEEPRNN_VEC_BYTES 64  // vector width of the activation code
#define DEEPRNN_GEMM_ROWS 5  // tiles of 5 rows x 64 (20 accumulators of 32 registers) ...
#define DEEPRNN_ROW_HEIGHTS_MIXED 1  // ... and of 6 and 4 rows, to cover M exactly
#include "simd/table_impl.h"

namespace deeprnn {
const KernelTable* table_avx512() { return &isa_avx512::kTable; }
}  // namespace deeprnn
