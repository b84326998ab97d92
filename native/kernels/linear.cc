// Linear layers, one-hot gather, fused softmax cross-entropy.
// M=rows (T*N), I=input, O=output, V=vocab, H=hidden
#include "kernels/linear.h"

#include <cmath>
#include <cstring>

#include "kernels/common.h"
#include "kernels/parallel.h"
#include "simd/kernels.h"

namespace deeprnn {

long linear_work_floats(long I, long O) { return I * O; }

// out = x W^T + b
void linear_forward(float* out, float* work, const float* x, const float* W, const float* b, long M, long I,
                    long O) {
  float* WT = work;  // (I, O)
  transpose(WT, W, O, I);
  for (long m = 0; m < M; ++m) std::memcpy(out + m * O, b, sizeof(float) * O);
  kernels().gemm_nn(out, x, WT, M, O, I, true);
}

// dx = dout W; dW += dout^T x; db += colsum(dout)
void linear_backward(float* dx, float* dW, float* db, const float* dout, const float* x, const float* W, long M,
                     long I, long O) {
  const KernelTable& k = kernels();
  if (dx) k.gemm_nn(dx, dout, W, M, I, O, false);
  k.gemm_tn(dW, dout, x, O, I, M);
  colsum_add(db, dout, M, O);
}

// out[m, o] = W[o, tokens[m]] + b[o]
void embedding_forward(float* out, const int* tokens, const float* W, const float* b, long M, long V, long O) {
  DEEPRNN_PARALLEL_FOR(M * O >= 4096)
  for (long m = 0; m < M; ++m) {
    const long tok = tokens[m];
    float* row = out + m * O;
    for (long o = 0; o < O; ++o) row[o] = W[o * V + tok] + b[o];
  }
}

// dW[o, tokens[m]] += dout[m, o] over m in order; each thread owns rows o of dW
void embedding_backward(float* dW, float* db, const float* dout, const int* tokens, long M, long V, long O) {
  DEEPRNN_PARALLEL_FOR(M * O >= kParallelWork)
  for (long o = 0; o < O; ++o) {
    float* w = dW + o * V;
    for (long m = 0; m < M; ++m) w[tokens[m]] += dout[m * O + o];
  }
  colsum_add(db, dout, M, O);
}

namespace {

// Per row: loss = logsumexp(z) - z[target]; when grad, z <- scale (softmax(z) - onehot)
double softmax_xent_rows(float* logits, long* correct, const int* targets, long M, long V, bool grad,
                         float scale) {
  double total = 0.0;
  long hits = 0;
  // Rows are independent; the loss is summed in row order afterwards.
  const long chunk = 256;
  const long nchunks = (M + chunk - 1) / chunk;
  double partial_stack[64];
  double* partial = nchunks <= 64 ? partial_stack : new double[nchunks];
  long hits_stack[64];
  long* phits = nchunks <= 64 ? hits_stack : new long[nchunks];
  DEEPRNN_PARALLEL_FOR(M * V >= kParallelWork && nchunks > 1)
  for (long c = 0; c < nchunks; ++c) {
    double sum = 0.0;
    long h = 0;
    const long m1 = (c + 1) * chunk < M ? (c + 1) * chunk : M;
    for (long m = c * chunk; m < m1; ++m) {
      float* z = logits + m * V;
      long arg = 0;
      float mx = z[0];
      for (long v = 1; v < V; ++v)
        if (z[v] > mx) { mx = z[v]; arg = v; }
      float se = 0.0f;
      for (long v = 0; v < V; ++v) se += std::exp(z[v] - mx);
      const float lse = mx + std::log(se);
      const int tgt = targets[m];
      sum += static_cast<double>(lse - z[tgt]);
      h += arg == tgt;
      if (grad) {
        const float inv = 1.0f / se;
        for (long v = 0; v < V; ++v) z[v] = std::exp(z[v] - mx) * inv * scale;
        z[tgt] -= scale;
      }
    }
    partial[c] = sum;
    phits[c] = h;
  }
  for (long c = 0; c < nchunks; ++c) {
    total += partial[c];
    hits += phits[c];
  }
  if (partial != partial_stack) delete[] partial;
  if (phits != hits_stack) delete[] phits;
  if (correct) *correct = hits;
  return total;
}

}  // namespace

double xent_forward(float* logits, float* work, long* correct, const float* Y, const float* W, const float* b,
                    const int* targets, long M, long H, long V) {
  linear_forward(logits, work, Y, W, b, M, H, V);
  return softmax_xent_rows(logits, correct, targets, M, V, false, 0.0f);
}

double xent_forward_backward(float* dY, float* dW, float* db, float* logits, float* work, const float* Y,
                             const float* W, const float* b, const int* targets, long M, long H, long V,
                             float scale) {
  linear_forward(logits, work, Y, W, b, M, H, V);
  const double loss = softmax_xent_rows(logits, nullptr, targets, M, V, true, scale);
  linear_backward(dY, dW, db, logits, Y, W, M, H, V);
  return loss;
}

}  // namespace deeprnn
