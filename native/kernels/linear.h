// Input projections and the output layer fused with softmax cross-entropy.
// M=rows (T*N), I=input, O=output, V=vocab, H=hidden
#pragma once

namespace deeprnn {

long linear_work_floats(long I, long O);
long embedding_work_floats(long V, long O);

// out = x W^T + b;  out: (M, O); work: I*O; x: (M, I); W: (O, I); b: (O)
// WT: W^T (I, O) made beforehand (see transpose), or null to make it in work.
void linear_forward(float* out, float* work, const float* x, const float* W, const float* b, long M, long I,
                    long O, const float* WT = nullptr);
// dx = dout W (skipped when dx is null); dW += dout^T x; db += sum_rows dout (skipped when db is null)
void linear_backward(float* dx, float* dW, float* db, const float* dout, const float* x, const float* W, long M,
                     long I, long O);

// out[m] = W[:, tokens[m]] + b  (one-hot input times W^T, as a gather)
// out: (M, O); work: embedding_work_floats; tokens: (M) in [0, V); W: (O, V); b: (O)
// table: (V, O) rows W[:, v] + b made beforehand (embedding_table), or null to make it in work.
void embedding_forward(float* out, float* work, const int* tokens, const float* W, const float* b, long M, long V,
                       long O, const float* table = nullptr);
// table (V, O): row v is W[:, v] + b
void embedding_table(float* table, const float* W, const float* b, long V, long O);
// dW[:, tokens[m]] += dout[m]; db += sum_rows dout (skipped when db is null); work: embedding_work_floats
void embedding_backward(float* dW, float* db, float* work, const float* dout, const int* tokens, long M, long V,
                        long O);

// loss_m = logsumexp(z_m) - z_m[target_m] with z = Y W^T + b; returns sum_m loss_m
// logits: (M, V) scratch, left holding z; work: linear_work_floats(H, V); correct: argmax hits
// WT: W^T (H, V) made beforehand, or null.
double xent_forward(float* logits, float* work, long* correct, const float* Y, const float* W, const float* b,
                    const int* targets, long M, long H, long V, const float* WT = nullptr);
// As xent_forward, then dz = scale (softmax(z) - onehot(target)) in logits,
// dY = dz W, dW += dz^T Y, db += sum_rows dz. Returns sum_m loss_m.
// WT: W^T (H, V) made beforehand, or null.
double xent_forward_backward(float* dY, float* dW, float* db, float* logits, float* work, const float* Y,
                             const float* W, const float* b, const int* targets, long M, long H, long V,
                             float scale, const float* WT = nullptr);

}  // namespace deeprnn
