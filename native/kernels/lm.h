// A whole language model's training step (one-hot tokens -> L recurrent
// layers -> linear output layer -> mean cross-entropy, forward and backward)
// over a batch split into chunks of windows. Each chunk runs the whole network
// on one thread, so its activations stay in that core's cache and no data
// moves between cores; chunks run in parallel. Each chunk's gradients go to a
// buffer of their own, then are added to grads in chunk order: results do not
// depend on the number of threads.
// T=steps, N=windows, L=layers, H=hidden per layer, G=gates, V=vocab
#pragma once

#include "kernels/common.h"

namespace deeprnn {

// The most layers a model may have.
constexpr long kMaxLayers = 64;

struct LmShape {
  Cell cell;
  long L;
  const int* H;  // (L) hidden size per layer
  long V;
  // Offsets into params/grads, per layer [W_ih, W_hh, b_ih, b_hh] (4L), then [W, b] of the output layer.
  const long* offsets;
  long P;  // floats in params and grads
};

// grads += d(loss sum * scale)/d(params). inputs, targets: (T, N) time-major.
// masks: null, or the dropout masks of layers 0..L-2, each (T, N, H_l), one after another.
// state: null (zero initial state), or per layer h (N, H_l), then per layer c (N, H_l) for LSTM:
// read as the initial state, overwritten with the final one.
// Returns the sum of the T*N token losses (unscaled).
double lm_train_chunks(const LmShape& s, const float* params, float* grads, const int* inputs, const int* targets,
                       long T, long N, long rows, const float* masks, float* state, float scale);

// The forward alone (no dropout, no gradients), for evaluation: returns the
// loss sum and adds the targets that were the argmax to *correct.
double lm_eval_chunks(const LmShape& s, const float* params, const int* inputs, const int* targets, long T, long N,
                      long rows, float* state, long* correct);

}  // namespace deeprnn
