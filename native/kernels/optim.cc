// Buffer-wide operations: global norm, scaling, SGD.
// n = number of floats in the buffer
#include "kernels/optim.h"

#include "kernels/parallel.h"

namespace deeprnn {

double sum_squares(const float* x, long n) {
  const long chunk = 4096;
  const long nchunks = (n + chunk - 1) / chunk;
  double total = 0.0;
  double* partial = new double[nchunks > 0 ? nchunks : 1];
  DEEPRNN_PARALLEL_FOR(n >= kParallelWork)
  for (long c = 0; c < nchunks; ++c) {
    const long i1 = (c + 1) * chunk < n ? (c + 1) * chunk : n;
    double s = 0.0;
    for (long i = c * chunk; i < i1; ++i) s += static_cast<double>(x[i]) * x[i];
    partial[c] = s;
  }
  for (long c = 0; c < nchunks; ++c) total += partial[c];
  delete[] partial;
  return total;
}

void scale_inplace(float* x, long n, float s) {
  DEEPRNN_PARALLEL_FOR(n >= kParallelWork)
  for (long i = 0; i < n; ++i) x[i] *= s;
}

void sgd_step(float* p, const float* g, long n, float lr) {
  DEEPRNN_PARALLEL_FOR(n >= kParallelWork)
  for (long i = 0; i < n; ++i) p[i] -= lr * g[i];
}

}  // namespace deeprnn
