// Recurrent cells over a whole sequence, one layer at a time.
// T=steps, N=batch, H=hidden, G=gates (1 rnn, 3 gru, 4 lstm)
//
// gx (T, N, G*H) is the input projection x W_ih^T + b_ih, made beforehand for
// all steps at once (linear_forward or embedding_forward). The forward saves
// what its backward needs in `saved`, of cell_saved_floats() per sequence.
// The backward writes dgx (the gradient of gx, for linear_backward /
// embedding_backward) and adds the bias gradients as the step kernels make
// them.
//
// A layer runs on one thread, or on a team that splits it by hidden units:
// each thread owns units [u0, u0 + width) of every gate for every row and
// step, so that its gate math reads only its own part of the recurrent
// product; the team meets at one barrier per step, where the next product
// needs every unit of h. Each element is computed the same way whatever the
// split, so results do not depend on it.
#pragma once

#include "kernels/common.h"
#include "kernels/team.h"

namespace deeprnn {

long cell_saved_floats(Cell cell, long T, long N, long H);
long cell_forward_work_floats(Cell cell, long T, long N, long H);
long cell_backward_work_floats(Cell cell, long T, long N, long H);

// One layer's sequence, in whole-batch layouts.
struct LayerSeq {
  Cell cell;
  long T, N, H;
  const float* gx;   // (T, N, G*H): x W_ih^T + b_ih
  float* y;          // (T, N, H)
  float* saved;      // cell_saved_floats
  const float* h0;   // (N, H)
  const float* c0;   // (N, H), LSTM
  const float* whh;  // (G*H, H)
  const float* bhh;  // (G*H)
};

// A thread's units of a layer and the weights its recurrent product reads:
// whhT (H, G*width) holds W_hh^T's columns of these units, gate by gate (for
// all units, W_hh^T itself); null for a few rows of all units (generation):
// dot products with W_hh in place.
struct UnitShare {
  long u0, width;
  const float* whhT;
};

// This thread's units of a layer, [u0, u0 + width): shares of whole vectors of
// units when H allows it, so that the step kernels use unmasked loads.
UnitShare unit_share(const Team& team, long H);

// W_hh^T packed for a team of nth: thread t's columns (H, G*width_t) one block
// after another, at H*G*u0_t. out: (H, G*H); rows [r0, r1) of W_hh's G*H.
void pack_whhT(float* out, const float* whh, long H, int G, int nth, long r0, long r1);
// Where thread tid's block of a pack_whhT(nth) layout starts.
inline const float* packed_share(const float* packed, long H, int G, long u0) { return packed + H * G * u0; }

// The forward over all steps for the share's units; gh: (N, G*H) scratch, of
// which this share uses G*width*N floats from G*N*u0. Meets the team after every step.
void cell_forward_units(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);

// The backward over all steps, last to first, for the share's units.
// dgx: (T, N, G*H) out; dgh: (T, N, 3H) scratch for GRU (else unused);
// dh, dc (LSTM): (N, H), in: dL/dh_T, dL/dc_T, out: dL/dh_0, dL/dc_0 (dh only when
// need_dh0); dy: (T, N, H); bsum: (4H) += the step kernels' bias sums (see simd/kernels.h).
void cell_backward_units(const LayerSeq& s, const UnitShare& u, float* dgx, float* dgh, float* dh, float* dc,
                         const float* dy, float* bsum, bool need_dh0, const Team& team);

// The bias gradients from the step kernels' sums, for units [u0, u0 + width):
// gru's dgx sums are [r, z, n] and dgh's [r, z, n r]; rnn, lstm: one sum for both.
void cell_bias_grads(Cell cell, float* dbih, float* dbhh, const float* bsum, long H, long u0, long width);

// A whole layer on this thread (standalone: bindings, generation).
// y: (T, N, H) outputs; hT: (N, H); cT: (N, H) for LSTM, else unused
// saved: cell_saved_floats; work: cell_forward_work_floats; gx: (T, N, G*H); h0, c0: (N, H);
// whh: (G*H, H); bhh: (G*H)
void cell_forward(Cell cell, float* y, float* hT, float* cT, float* saved, float* work, const float* gx,
                  const float* h0, const float* c0, const float* whh, const float* bhh, long T, long N, long H);

// dgx: (T, N, G*H); dh0, dc0: (N, H); dwhh: (G*H, H) +=; dbhh: (G*H) +=; work: cell_backward_work_floats
// dy: (T, N, H); dhT, dcT: (N, H) or null for zero; saved, y, h0, c0 from the forward
void cell_backward(Cell cell, float* dgx, float* dh0, float* dc0, float* dwhh, float* dbhh, float* work,
                   const float* dy, const float* dhT, const float* dcT, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H);

// Per cell (kernels/rnn.cc, gru.cc, lstm.cc): the time loops of cell_forward_units / cell_backward_units.
void rnn_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team, bool relu);
void rnn_backward(const LayerSeq& s, const UnitShare& u, float* dgx, float* dh, const float* dy, float* bsum,
                  bool need_dh0, const Team& team, bool relu);
void gru_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);
void gru_backward(const LayerSeq& s, const UnitShare& u, float* dgx, float* dgh, float* dh, const float* dy,
                  float* bsum, bool need_dh0, const Team& team);
void lstm_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);
void lstm_backward(const LayerSeq& s, const UnitShare& u, float* dgx, float* dh, float* dc, const float* dy,
                   float* bsum, bool need_dh0, const Team& team);

// gh (R, G*width) = h (R, H) W_hh^T restricted to the share's units.
void recurrent_product(float* gh, const float* h, long R, const LayerSeq& s, const UnitShare& u);
// dh[:, u0:u0+width] (+)= d (R, G*H) W_hh[:, u0:u0+width]: the gradient into h_{t-1}.
void recurrent_grad(float* dh, const float* d, long R, const LayerSeq& s, const UnitShare& u, bool accumulate);

}  // namespace deeprnn
