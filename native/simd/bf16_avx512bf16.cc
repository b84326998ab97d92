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

// The pairs the AMX path packs (simd/bf16.h), 16 or 32 floats per conversion.
void bf16_pairs_of_rows_avx512bf16(uint32_t* out, const float* even, const float* odd, long n) {
  using namespace isa_bf16_avx512bf16;
  long j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    vf a, b = {};
    __builtin_memcpy(&a, even + j, sizeof a);
    if (odd) __builtin_memcpy(&b, odd + j, sizeof b);
    stu(out + j, pairs16(a, b), kLanes);
  }
  for (; j < n; ++j) out[j] = round_bits1(even[j]) | (odd ? round_bits1(odd[j]) << 16 : 0u);
}

void bf16_pairs_of_row_avx512bf16(uint32_t* out, const float* x, long n) {
  using namespace isa_bf16_avx512bf16;
  long f = 0;
  for (; f + 32 <= n; f += 32) {
    const __m512i h = cvt32(x + f);
    __builtin_memcpy(out + f / 2, &h, sizeof h);
  }
  for (; f < n; f += 2) out[f / 2] = round_bits1(x[f]) | (f + 1 < n ? round_bits1(x[f + 1]) << 16 : 0u);
}
}  // namespace deeprnn
