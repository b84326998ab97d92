// GRU cell in PyTorch's form, gate order r, z, n: the time loop over a share
// of units (see kernels/cells.h); per-step fused gate math in the kernel
// table (simd/cells_impl.h).
// T=steps, N=batch, H=hidden, G=3
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

// r = sigmoid(gx_r + W_hr h + b_hr); z = sigmoid(gx_z + W_hz h + b_hz)
// n = tanh(gx_n + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h
// y: (T, N, H); saved: (T, N, 4H) as [r, z, n, W_hn h + b_hn]; gh: (N, 3 width) this share's products
// gx: (T, N, 3H); h0: (N, H); bhh: (3H)
void gru_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team) {
  const KernelTable& k = kernels();
  const long N = s.N, H = s.H, G = 3 * H, u0 = u.u0;
  const Units units{N, H, u.width, u.width};
  for (long t = 0; t < s.T; ++t) {
    float* yt = s.y + t * N * H;
    const float* hp = t ? yt - N * H : s.h0;
    recurrent_product(gh, hp, N, s, u);
    k.gru_step(yt + u0, s.saved + t * N * 4 * H + u0, s.gx + t * N * G + u0, gh, s.bhh + u0, hp + u0, units);
    team.sync();
  }
}

// dgx = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n r] per step (see gru_step_back)
// dh_{t-1} = (dy_t + dh_t) z + dgh_t W_hh
// dgx, dgh: (T, N, 3H); dh: (N, H) in: dL/dh_T, out: dL/dh_0; dy, y: (T, N, H)
void gru_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team) {
  const KernelTable& k = kernels();
  const long N = s.N, H = s.H, G = 3 * H, u0 = u.u0;
  const Units units{N, H, u.width, u.width};
  for (long t = s.T - 1; t >= 0; --t) {
    const long row = t * N;
    const float* hp = t ? s.y + (row - N) * H : s.h0;
    k.gru_step_back(g.dgx + row * G + u0, g.dgh + row * G + u0, g.dh + u0, g.dy + row * H + u0,
                    s.saved + row * 4 * H + u0, hp + u0, units, g.bsum + u0);
    team.sync();  // every unit's dgh_t is written
    if (t || need_dh0) recurrent_grad(g.dh, g.dgh + row * G, N, s, u, true);
  }
}

}  // namespace deeprnn
