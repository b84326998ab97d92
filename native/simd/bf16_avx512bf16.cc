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

// The pairs the AMX path packs (simd/bf16.h), 16 or 32 floats per conversion,
// the last few by masked loads (a row of 28 floats is all tail).
void bf16_pairs_of_rows_avx512bf16(uint32_t* out, const float* even, const float* odd, long n) {
  using namespace isa_bf16_avx512bf16;
  long j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    vf a, b = {};
    __builtin_memcpy(&a, even + j, sizeof a);
    if (odd) __builtin_memcpy(&b, odd + j, sizeof b);
    stu(out + j, pairs16(a, b), kLanes);
  }
  if (j < n) {  // the last 1-15 columns by masked loads and store, the same bits
    const __mmask16 m = static_cast<__mmask16>((1u << (n - j)) - 1u);
    const vf a = (vf)_mm512_maskz_loadu_ps(m, even + j), b = odd ? (vf)_mm512_maskz_loadu_ps(m, odd + j) : vf{};
    _mm512_mask_storeu_epi32(out + j, m, (__m512i)pairs16(a, b));
  }
}

void bf16_pairs_of_row_avx512bf16(uint32_t* out, const float* x, long n) {
  using namespace isa_bf16_avx512bf16;
  long f = 0;
  for (; f + 32 <= n; f += 32) {
    const __m512i h = cvt32(x + f);
    __builtin_memcpy(out + f / 2, &h, sizeof h);
  }
  if (f < n) {  // the last 1-31 floats (a K of 28: all of them) by masked loads and store, 0 past n
    const long left = n - f;
    const __mmask16 lo = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1u);
    const __mmask16 hi = left <= 16 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << (left - 16)) - 1u);
    const __m512 upper = hi ? _mm512_maskz_loadu_ps(hi, x + f + 16) : _mm512_setzero_ps();  // (no pointer past n)
    const __m512i h = (__m512i)_mm512_cvtne2ps_pbh(upper, _mm512_maskz_loadu_ps(lo, x + f));
    _mm512_mask_storeu_epi32(out + f / 2, static_cast<__mmask16>((1u << ((left + 1) / 2)) - 1u), h);
  }
}
}  // namespace deeprnn
