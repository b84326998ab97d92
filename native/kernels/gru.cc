// GRU cell in PyTorch's form, gate order r, z, n: the time loop over rows
// [n0, n1); per-step fused gate math in the kernel table (simd/cells_impl.h).
// T=steps, N=batch, H=hidden, G=3
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

// r = sigmoid(gx_r + W_hr h + b_hr); z = sigmoid(gx_z + W_hz h + b_hz)
// n = tanh(gx_n + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h
// y: (T, N, H); saved: (T, N, 4H) as [r, z, n, W_hn h + b_hn]; gh: (N, 3H) scratch
// gx: (T, N, 3H); h0: (N, H); bhh: (3H)
void gru_forward(float* y, float* saved, float* gh, const float* gx, const float* h0, const Recurrent& rec,
                 const float* bhh, long T, long N, long H, long n0, long n1) {
  const KernelTable& k = kernels();
  const long G = 3 * H, R = n1 - n0;
  float* ghr = gh + n0 * G;
  for (long t = 0; t < T; ++t) {
    float* yt = y + (t * N + n0) * H;
    const float* hp = t ? yt - N * H : h0 + n0 * H;
    rec.apply(ghr, hp, R);
    k.gru_step(yt, saved + (t * N + n0) * 4 * H, gx + (t * N + n0) * G, ghr, bhh, hp, R, H);
  }
}

// dgx = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n r] per step (see gru_step_back)
// dh_{t-1} = (dy_t + dh_t) z + dgh_t W_hh
// dgx, dgh: (T, N, 3H); dh: (N, H) in: dL/dh_T, out: dL/dh_0; dy, y: (T, N, H)
void gru_backward(float* dgx, float* dgh, float* dh, const float* dy, const float* saved, const float* y,
                  const float* h0, const float* whh, long T, long N, long H, long n0, long n1, float* bsum) {
  const KernelTable& k = kernels();
  const long G = 3 * H, R = n1 - n0;
  float* dhr = dh + n0 * H;
  for (long t = T - 1; t >= 0; --t) {
    const long row = t * N + n0;
    const float* hp = t ? y + (row - N) * H : h0 + n0 * H;
    k.gru_step_back(dgx + row * G, dgh + row * G, dhr, dy + row * H, saved + row * 4 * H, hp, R, H, bsum);
    k.gemm_nn(dhr, dgh + row * G, whh, R, H, G, true);
  }
}

}  // namespace deeprnn
