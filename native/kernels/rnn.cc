// Vanilla RNN cell, tanh or relu: the time loop over a share of units (see
// kernels/cells.h); per-step math in the kernel table.
// T=steps, N=batch, H=hidden
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

// h_t = phi(gx_t + h_{t-1} W_hh^T + b_hh)
// y: (T, N, H); gx: (T, N, H); h0: (N, H); bhh: (H); gh: (N, width) this share's products
namespace {

void rnn_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team, bool relu) {
  const KernelTable& k = kernels();
  const long N = s.N, H = s.H, u0 = u.u0;
  const Units units{N, H, u.width, u.width};
  for (long t = 0; t < s.T; ++t) {
    float* yt = s.y + t * N * H;
    const float* hp = t ? yt - N * H : s.h0;
    recurrent_product(gh, hp, N, s, u);
    k.rnn_step(yt + u0, s.gx + t * N * H + u0, gh, s.bhh + u0, units, relu);
    team.sync();
  }
}

// da_t = (dy_t + dh_t) * phi'(a_t);  dh_{t-1} = da_t W_hh
// dgx: (T, N, H) = da; dh: (N, H) in: dL/dh_T, out: dL/dh_0; dy, y: (T, N, H); whh: (H, H)
void rnn_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team,
                  bool relu) {
  const KernelTable& k = kernels();
  const long N = s.N, H = s.H, u0 = u.u0;
  const Units units{N, H, u.width, u.width};
  for (long t = s.T - 1; t >= 0; --t) {
    const long off = t * N * H;
    k.rnn_step_back(g.dgx + off + u0, g.dy + off + u0, g.dh + u0, s.y + off + u0, units, relu, g.bsum + u0);
    team.sync();  // every unit's da_t is written
    if (t || need_dh0) recurrent_grad(g.dh, g.dgx + off, N, s, u, false);
  }
}

}  // namespace

void rnn_tanh_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team) {
  rnn_forward(s, u, gh, team, false);
}
void rnn_relu_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team) {
  rnn_forward(s, u, gh, team, true);
}
void rnn_tanh_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team) {
  rnn_backward(s, u, g, need_dh0, team, false);
}
void rnn_relu_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team) {
  rnn_backward(s, u, g, need_dh0, team, true);
}

}  // namespace deeprnn
