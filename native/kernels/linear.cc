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

long embedding_work_floats(long V, long O) { return V * O; }

// out = x W^T + b; a few rows (generation) use dot products with W in place
void linear_forward(float* out, float* work, const float* x, const float* W, const float* b, long M, long I,
                    long O, const float* WT_given) {
  if (M <= kSmallRows) {
    kernels().gemm_nt_small(out, x, W, M, O, I);
    for (long m = 0; m < M; ++m)
      for (long o = 0; o < O; ++o) out[m * O + o] += b[o];
    return;
  }
  const float* WT = WT_given;  // (I, O)
  if (!WT) {
    transpose(work, W, O, I);
    WT = work;
  }
  gemm_bias(kernels(), out, x, WT, b, M, O, I);
}

// dx = dout W; dW += dout^T x; db += colsum(dout)
void linear_backward(float* dx, float* dW, float* db, const float* dout, const float* x, const float* W, long M,
                     long I, long O) {
  const KernelTable& k = kernels();
  if (dx) gemm_nn(k, dx, dout, W, M, I, O, false);
  gemm_tn(k, dW, dout, x, O, I, M);
  if (db) colsum_add(db, dout, M, O);
}

// out[m, o] = W[o, tokens[m]] + b[o], gathered from contiguous rows of W^T
// (for a few rows, from W in place)
void embedding_table(float* table, const float* W, const float* b, long V, long O) {
  for (long o = 0; o < O; ++o)
    for (long v = 0; v < V; ++v) table[v * O + o] = W[o * V + v] + b[o];
}

void embedding_forward(float* out, float* work, const int* tokens, const float* W, const float* b, long M, long V,
                       long O, const float* table) {
  if (!table && M <= kSmallRows) {  // generation: a strided gather costs less than the table
    for (long m = 0; m < M; ++m)
      for (long o = 0; o < O; ++o) out[m * O + o] = W[o * V + tokens[m]] + b[o];
    return;
  }
  if (!table) {
    embedding_table(work, W, b, V, O);
    table = work;
  }
  const long block = 256;  // rows per task
  parallel_for(M * O >= 4096 && M > block, (M + block - 1) / block, [&](long bk) {
    const long m0 = bk * block, m1 = m0 + block < M ? m0 + block : M;
    kernels().gather_rows(out + m0 * O, table, tokens + m0, m1 - m0, O, O);
  });
}

// dW[o, tokens[m]] += dout[m, o], m in ascending order for every element;
// accumulated as dW^T rows (contiguous) with each thread owning a block of
// columns o, then added to dW.
void embedding_backward(float* dW, float* db, float* work, const float* dout, const int* tokens, long M, long V,
                        long O) {
  float* dWT = work;  // (V, O)
  for (long i = 0; i < V * O; ++i) dWT[i] = 0.0f;
  // Threads own blocks of 16 columns; one thread does all columns in one pass.
  const long block = 16;
  const long nblocks = (O + block - 1) / block;
  if (fork_ok(M * O >= kParallelWork && nblocks > 1))
    parallel_for(true, nblocks, [&](long bk) {
      const long o0 = bk * block, o1 = o0 + block < O ? o0 + block : O;
      kernels().scatter_add_rows(dWT + o0, dout + o0, tokens, M, o1 - o0, O);
    });
  else
    kernels().scatter_add_rows(dWT, dout, tokens, M, O, O);
  for (long o = 0; o < O; ++o)
    for (long v = 0; v < V; ++v) dW[o * V + v] += dWT[v * O + o];
  if (db) colsum_add(db, dout, M, O);
}

double xent_forward(float* logits, float* work, long* correct, const float* Y, const float* W, const float* b,
                    const int* targets, long M, long H, long V, const float* WT) {
  linear_forward(logits, work, Y, W, b, M, H, V, WT);
  return kernels().softmax_xent(logits, correct, targets, M, V, false, 0.0f);
}

double xent_forward_backward(float* dY, float* dW, float* db, float* logits, float* work, const float* Y,
                             const float* W, const float* b, const int* targets, long M, long H, long V,
                             float scale, const float* WT) {
  linear_forward(logits, work, Y, W, b, M, H, V, WT);
  const double loss = kernels().softmax_xent(logits, nullptr, targets, M, V, true, scale);
  linear_backward(dY, dW, db, logits, Y, W, M, H, V);
  return loss;
}

}  // namespace deeprnn
