#include "kernels/common.h"

#include "kernels/parallel.h"
#include "simd/kernels.h"

namespace deeprnn {

// out(cols, rows) = in(rows, cols)^T, in 32 x 32 blocks so that both sides
// stay within a few cache lines and pages at a time; blocks of rows in parallel.
void transpose(float* out, const float* in, long rows, long cols) {
  const long B = 32;
  const long rblocks = (rows + B - 1) / B;
  parallel_for(rows * cols >= 8 * kParallelWork && rblocks > 1, rblocks, [&](long rb) {
    const long r0 = rb * B, r1 = r0 + B < rows ? r0 + B : rows;
    for (long c0 = 0; c0 < cols; c0 += B) {
      const long c1 = c0 + B < cols ? c0 + B : cols;
      for (long c = c0; c < c1; ++c)
        for (long r = r0; r < r1; ++r) out[c * rows + r] = in[r * cols + c];
    }
  });
}

void transpose_rows(float* out, long ldo, const float* in, long ldi, long r0, long r1, long cols, const float* bias) {
  const long B = 32;
  for (long c0 = 0; c0 < cols; c0 += B) {
    const long c1 = c0 + B < cols ? c0 + B : cols;
    for (long c = c0; c < c1; ++c)
      for (long r = r0; r < r1; ++r) out[c * ldo + r] = in[r * ldi + c] + (bias ? bias[r] : 0.0f);
  }
}

void colsum_add(float* db, const float* X, long rows, long cols) { kernels().colsum_add(db, X, rows, cols, cols); }

}  // namespace deeprnn
