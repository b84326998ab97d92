// The neon kernel table (aarch64 only): simd/table_impl.h compiled with this
// file's settings, 16-byte vectors (Advanced SIMD, present on every aarch64
// CPU) and NEON's reciprocal estimate for sigmoid and tanh.
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_neon
#define DEEPRNN_ISA_NAME "neon"
#define DEEPRNN_MAX_TILE 16   // widest GEMM tile, floats: 4 x 4 accumulator registers of 32
#define DEEPRNN_VEC_BYTES 16  // vector width of the activation code
#define DEEPRNN_USE_NEON 1    // NEON intrinsics in simd/math_impl.h
#include "simd/table_impl.h"

namespace deeprnn {
const KernelTable* table_neon() { return &isa_neon::kTable; }
}  // namespace deeprnn
