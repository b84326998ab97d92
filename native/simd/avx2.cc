// The avx2 kernel table: simd/table_impl.h compiled with this file's flags
// (set in CMakeLists.txt).
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_avx2
#define DEEPRNN_ISA_NAME "avx2"
#define DEEPRNN_MAX_TILE 32  // widest GEMM tile, floats
#define DEEPRNN_VEC_BYTES 32  // vector width of the activation code
#include "simd/table_impl.h"

namespace deeprnn {
const KernelTable* table_avx2() { return &isa_avx2::kTable; }
}  // namespace deeprnn
