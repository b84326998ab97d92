#include "kernels/common.h"

#include "kernels/parallel.h"

namespace deeprnn {

// out(cols, rows) = in(rows, cols)^T
void transpose(float* out, const float* in, long rows, long cols) {
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
}

// db(cols) += sum_r X(r, cols)
void colsum_add(float* db, const float* X, long rows, long cols) {
  const long block = 64;
  const long nblocks = (cols + block - 1) / block;
  DEEPRNN_PARALLEL_FOR(rows * cols >= kParallelWork && nblocks > 1)
  for (long b = 0; b < nblocks; ++b) {
    const long c0 = b * block, c1 = c0 + block < cols ? c0 + block : cols;
    for (long r = 0; r < rows; ++r) {
      const float* x = X + r * cols;
      for (long c = c0; c < c1; ++c) db[c] += x[c];
    }
  }
}

}  // namespace deeprnn
