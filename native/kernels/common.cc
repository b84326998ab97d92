#include "kernels/common.h"

#include "kernels/parallel.h"

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

// db(cols) += sum_r X(r, cols): rows summed in fixed chunks of 256 (in
// parallel), then the chunks in order, so the result does not depend on threads.
void colsum_add(float* db, const float* X, long rows, long cols) {
  const long chunk = 256;
  const long nchunks = (rows + chunk - 1) / chunk;
  float* partial = thread_buffer<float>(nchunks * cols);
  parallel_for(rows * cols >= kParallelWork && nchunks > 1, nchunks, [&](long c) {
    float* __restrict p = partial + c * cols;
    for (long j = 0; j < cols; ++j) p[j] = 0.0f;
    const long r1 = (c + 1) * chunk < rows ? (c + 1) * chunk : rows;
    for (long r = c * chunk; r < r1; ++r) {
      const float* __restrict x = X + r * cols;
      for (long j = 0; j < cols; ++j) p[j] += x[j];
    }
  });
  for (long c = 0; c < nchunks; ++c)
    for (long j = 0; j < cols; ++j) db[j] += partial[c * cols + j];
}

}  // namespace deeprnn
