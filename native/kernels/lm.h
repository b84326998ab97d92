// A whole language model's training step (one-hot tokens -> L recurrent
// layers -> linear output layer -> mean cross-entropy, forward and backward),
// or its evaluation, over a batch cut into chunks of windows. A chunk runs the
// whole network so that its activations stay in cache. Chunks run in
// parallel, each on a team of threads: a team of one when there are enough
// chunks for every thread, else a team that splits each layer by hidden
// units and the large products by tiles (kernels/cells.h). Each chunk's
// gradients go to a buffer of their own, then are added to grads in chunk
// order; every element's summation order is fixed by the shape and the chunk
// size alone, so results do not depend on the number of threads or on how
// they are teamed.
// T=steps, N=windows, L=layers, H=hidden per layer, G=gates, V=vocab
#pragma once

#include "kernels/common.h"
#include "kernels/parallel.h"

namespace deeprnn {

// The arithmetic of the matrix products: float32, or bf16 operands with
// float32 sums (simd/bf16.h). Under bf16 every product of the step (input
// projections, the recurrent product of every step, the output layer, the
// input-gradient and weight-gradient products) reads its operands rounded to
// bf16; the weights are rounded and packed once per batch, activations as a
// product reads them. The one-hot first layer has no product: its gather
// table holds bf16(W_ih) + b_ih, and its weight gradient adds float32 rows of
// dgx. Everything else (gate math, softmax, loss, bias sums) stays float32.
enum class Precision { FP32, BF16 };

// The most layers a model may have.
constexpr long kMaxLayers = 64;

// Where a layer's parameters (or their gradients) lie in the flat buffer.
struct LayerOffsets {
  long W_ih, W_hh, b_ih, b_hh;
};

struct LmShape {
  Cell cell;
  long L;
  const int* H;  // (L) hidden size per layer
  long V;
  LayerOffsets layer[kMaxLayers];
  long W_out, b_out;  // the output layer's weight (V, H_top) and bias (V)
  long P;             // floats in params and grads
};

// How a batch's chunks are shared out: `teams` teams of `size` threads.
struct TeamPlan {
  int teams;
  int size;
};

// The plan for nchunks chunks of `rows` windows of T steps on `threads`
// threads: team size from a cost model (the chunks' arithmetic against one
// barrier per step and layer), or the forced size (see team_size_set).
TeamPlan plan_teams(const LmShape& s, long T, long rows, long nchunks, int threads, bool train);

// Team size for every batch: 0 chooses by the cost model; n forces teams of n
// (at most the threads there are). Starts from DEEPRNN_TEAM_SIZE when set.
void team_size_set(int n);
int team_size_get();

// A batch's tokens: time-major inputs and targets (T, N), every id below V;
// or the windows of a token stream, which each chunk gathers itself (no
// serial pass over the batch before the threads start):
// inputs[t, n] = stream[starts[n] + t], targets[t, n] = stream[starts[n] + t + 1].
// The stream's ids are checked by the threads before any work: when one of a
// window's T + 1 tokens is outside [0, V), `bad` says which (n * (T + 1) + t,
// the first in window order) and nothing is computed or written (whatever
// number of threads OpenMP gives).
struct LmTokens {
  const int* inputs = nullptr;
  const int* targets = nullptr;
  const void* stream = nullptr;  // uint16 ids when u16, else int32
  bool u16 = false;
  const int* starts = nullptr;  // (N): each window of T + 1 tokens lies inside the stream (the caller checks)
  long bad = -1;                // out
};

// grads += d(loss sum * scale)/d(params).
// masks: null, or the dropout masks of layers 0..L-2, each (T, N, H_l), one after another.
// state: null (zero initial state), or per layer h (N, H_l), then per layer c (N, H_l) for LSTM:
// read as the initial state, overwritten with the final one.
// Returns the sum of the T*N token losses (unscaled).
// keep: grads is left as it is and each chunk's gradient stays in a buffer of
// its own on this thread until the next call, for add_kept_chunks (a
// data-parallel sum that continues one process's chunk order across ranks).
// grad_squares: null, or where the sum of squares of grads after the call goes
// (not with keep), bitwise sum_squares(grads, P): each thread adds up the
// blocks of grads it has just written, while they are in its cache.
double lm_train_chunks(const LmShape& s, const float* params, float* grads, LmTokens& tokens, long T, long N,
                       long rows, const float* masks, float* state, float scale, bool keep = false,
                       Precision precision = Precision::FP32, double* grad_squares = nullptr);

// Floats per kept chunk gradient (the model's P), or -1 when this thread keeps none.
long kept_params();

// x[j] += the kept chunks' gradients at offset + j, j < n, chunk after chunk
// (the order run_batch adds them to grads in).
void add_kept_chunks(float* x, long offset, long n);

// Forgets the kept chunks (their buffer is reused by the next batch).
void drop_kept_chunks();

// The forward alone (no dropout, no gradients), for evaluation: returns the
// loss sum and adds the targets that were the argmax to *correct.
double lm_eval_chunks(const LmShape& s, const float* params, LmTokens& tokens, long T, long N, long rows, float* state,
                      long* correct, Precision precision = Precision::FP32);

// A batch of windows, time-major: inputs[t, n] = tokens[starts[n] + t] and
// targets[t, n] = tokens[starts[n] + t + 1] for t < T, n < N; tokens of 16 or
// 32 bits (every start + T inside tokens). Steps are shared over the threads.
// Steps [t0, t1) of such a batch, on this thread (a chunk's, its starts given from its first window).
template <typename Token>
void gather_window_steps(int* inputs, int* targets, const Token* tokens, const int* starts, long N, long t0, long t1) {
  for (long t = t0; t < t1; ++t) {
    int* in = inputs + t * N;
    int* tg = targets + t * N;
    for (long n = 0; n < N; ++n) {
      const Token* p = tokens + starts[n] + t;
      in[n] = static_cast<int>(p[0]);
      tg[n] = static_cast<int>(p[1]);
    }
  }
}

template <typename Token>
void fill_windows(int* inputs, int* targets, const Token* tokens, const int* starts, long T, long N) {
  parallel_for(T * N >= kParallelWork, T, [&](long t) { gather_window_steps(inputs, targets, tokens, starts, N, t, t + 1); });
}

}  // namespace deeprnn
