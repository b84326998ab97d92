// Recurrent cells over a whole sequence, one layer at a time.
// T=steps, N=batch, H=hidden, G=gates (1 rnn, 3 gru, 4 lstm)
//
// gx (T, N, G*H) is the input projection x W_ih^T + b_ih, made beforehand for
// all steps at once (linear_forward or embedding_forward). The forward saves
// what its backward needs in `saved`, of cell_saved_floats() per sequence;
// both take a scratch `work` of cell_*_work_floats(). Backward writes dgx (the
// gradient of gx, for linear_backward / embedding_backward) and the gradient of
// the initial state, and accumulates dW_hh and db_hh with +=.
#pragma once

#include "kernels/common.h"

namespace deeprnn {

long cell_saved_floats(Cell cell, long T, long N, long H);
long cell_forward_work_floats(Cell cell, long T, long N, long H);
long cell_backward_work_floats(Cell cell, long T, long N, long H);

// y: (T, N, H) outputs; hT: (N, H); cT: (N, H) for LSTM, else unused
// saved: cell_saved_floats; gx: (T, N, G*H); h0, c0: (N, H); whh: (G*H, H); bhh: (G*H)
// whhT: W_hh^T (H, G*H) made beforehand, or null to make it in work.
void cell_forward(Cell cell, float* y, float* hT, float* cT, float* saved, float* work,
                  const float* gx, const float* h0, const float* c0, const float* whh, const float* bhh,
                  long T, long N, long H, const float* whhT = nullptr);

// dgx: (T, N, G*H); dh0, dc0: (N, H); dwhh: (G*H, H) +=; dbhh: (G*H) +=
// dy: (T, N, H); dhT, dcT: (N, H) or null for zero; saved, y, h0, c0 from the forward
// dbih (G*H), when not null: the input projection's bias gradient, +=, summed
// with db_hh by the step kernels as they go (steps from last to first, rows in
// order) on this thread alone; the caller then skips its own bias sum. When
// null, db_hh is a column sum over all steps and the rows may be split over threads.
void cell_backward(Cell cell, float* dgx, float* dh0, float* dc0, float* dwhh, float* dbhh, float* work,
                   const float* dy, const float* dhT, const float* dcT, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H,
                   float* dbih = nullptr);

// The recurrent product gh (R, G*H) = h (R, H) W_hh^T: a GEMM with W_hh
// transposed beforehand (whhT, (H, G*H)) for training batches, dot products
// with W_hh (G*H, H) in place for a few rows (generation).
struct Recurrent {
  const float* whh;
  const float* whhT;  // null: use dot products
  long GH, H;
  void apply(float* gh, const float* h, long R) const;
};

// Per cell: rows [n0, n1) of every step (the rows a thread owns), with the
// whole-batch layouts above; gh is an (N, G*H) scratch of which the same rows
// are used.
void rnn_forward(float* y, const float* gx, const float* h0, const Recurrent& rec, const float* bhh, long T, long N,
                 long H, long n0, long n1, bool relu);
// bsum, when not null: the step kernels' bias sums (see simd/kernels.h), rows [n0, n1) only.
void rnn_backward(float* dgx, float* dh, const float* dy, const float* y, const float* whh, long T, long N, long H,
                  long n0, long n1, bool relu, float* bsum);
void gru_forward(float* y, float* saved, float* gh, const float* gx, const float* h0, const Recurrent& rec,
                 const float* bhh, long T, long N, long H, long n0, long n1);
void gru_backward(float* dgx, float* dgh, float* dh, const float* dy, const float* saved, const float* y,
                  const float* h0, const float* whh, long T, long N, long H, long n0, long n1, float* bsum);
void lstm_forward(float* y, float* saved, float* gh, const float* gx, const float* h0, const float* c0,
                  const Recurrent& rec, const float* bhh, long T, long N, long H, long n0, long n1);
void lstm_backward(float* dgx, float* dh, float* dc, const float* dy, const float* saved, const float* c0,
                   const float* whh, long T, long N, long H, long n0, long n1, float* bsum);

}  // namespace deeprnn
