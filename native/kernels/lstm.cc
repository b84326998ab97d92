// LSTM cell in PyTorch's form, gate order i, f, g, o: the time loop over a
// share of units (see kernels/cells.h); per-step fused gate math in the
// kernel table (simd/cells_impl.h).
// T=steps, N=batch, H=hidden, G=4
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

// [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](gx + W_hh h + b_hh)
// c' = f * c + i * g; h' = o * tanh(c')
// y: (T, N, H); saved: (T, N, 6H) as [i, f, g, o, c, tanh c]; gh: (N, 4 width) this share's products
// gx: (T, N, 4H); h0, c0: (N, H); bhh: (4H)
void lstm_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team) {
  const KernelTable& k = kernels();
  const long N = s.N, H = s.H, G = 4 * H, u0 = u.u0;
  const Units units{N, H, u.width, u.width};
  for (long t = 0; t < s.T; ++t) {
    const long row = t * N;
    float* yt = s.y + row * H;
    const float* hp = t ? yt - N * H : s.h0;
    recurrent_product(gh, hp, N, s, u);
    const float* cprev = t ? s.saved + (row - N) * 6 * H + 4 * H : s.c0;
    k.lstm_step(yt + u0, s.saved + row * 6 * H + u0, s.gx + row * G + u0, gh, s.bhh + u0, cprev + u0, t ? 6 * H : H,
                units);
    team.sync();
  }
}

// dgx per step as in lstm_step_back; dc_{t-1} = dc_t f; dh_{t-1} = dgx_t W_hh
// dgx: (T, N, 4H); dh, dc: (N, H) in: dL/dh_T, dL/dc_T, out: dL/dh_0, dL/dc_0
void lstm_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team) {
  const KernelTable& k = kernels();
  const long N = s.N, H = s.H, G = 4 * H, u0 = u.u0;
  const Units units{N, H, u.width, u.width};
  for (long t = s.T - 1; t >= 0; --t) {
    const long row = t * N;
    const float* cprev = t ? s.saved + (row - N) * 6 * H + 4 * H : s.c0;
    k.lstm_step_back(g.dgx + row * G + u0, g.dc + u0, g.dh + u0, g.dy + row * H + u0, s.saved + row * 6 * H + u0,
                     cprev + u0, t ? 6 * H : H, units, g.bsum + u0);
    team.sync();  // every unit's dgx_t is written
    if (t || need_dh0) recurrent_grad(g.dh, g.dgx + row * G, N, s, u, false);
  }
}

}  // namespace deeprnn
