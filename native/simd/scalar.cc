// The scalar kernel table: simd/table_impl.h compiled with this file's flags
// (set in CMakeLists.txt).
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_scalar
#define DEEPRNN_ISA_NAME "scalar"
#define DEEPRNN_MAX_TILE 16  // widest GEMM tile, floats
#define DEEPRNN_VEC_BYTES 16  // vector width of the activation code
#include "simd/table_impl.h"

namespace deeprnn {
const KernelTable* table_scalar() { return &isa_scalar::kTable; }
}  // namespace deeprnn
