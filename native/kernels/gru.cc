// GRU cell in PyTorch's form, gate order r, z, n: the time loop; per-step
// fused gate math in the kernel table (simd/cells_impl.h).
// T=steps, N=batch, H=hidden, G=3
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

// r = sigmoid(gx_r + W_hr h + b_hr); z = sigmoid(gx_z + W_hz h + b_hz)
// n = tanh(gx_n + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h
// y: (T, N, H); saved: (T, N, 4H) as [r, z, n, W_hn h + b_hn]; work: N*3H + 3H*H
// gx: (T, N, 3H); h0: (N, H); whh: (3H, H); bhh: (3H)
void gru_forward(float* y, float* saved, float* work, const float* gx, const float* h0, const float* whh,
                 const float* bhh, long T, long N, long H) {
  const KernelTable& k = kernels();
  const long G = 3 * H;
  float* gh = work;            // (N, 3H)
  float* whhT = work + N * G;  // (H, 3H)
  transpose(whhT, whh, G, H);
  for (long t = 0; t < T; ++t) {
    float* yt = y + t * N * H;
    const float* hp = t ? yt - N * H : h0;
    k.gemm_nn(gh, hp, whhT, N, G, H, false);
    k.gru_step(yt, saved + t * N * 4 * H, gx + t * N * G, gh, bhh, hp, N, H);
  }
}

// dgx = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n r] per step (see gru_step_back)
// dh_{t-1} = (dy_t + dh_t) z + dgh_t W_hh
// dgx, dgh: (T, N, 3H); dh: (N, H) in: dL/dh_T, out: dL/dh_0; dy, y: (T, N, H)
void gru_backward(float* dgx, float* dgh, float* dh, const float* dy, const float* saved, const float* y,
                  const float* h0, const float* whh, long T, long N, long H) {
  const KernelTable& k = kernels();
  const long G = 3 * H;
  for (long t = T - 1; t >= 0; --t) {
    const float* hp = t ? y + (t - 1) * N * H : h0;
    k.gru_step_back(dgx + t * N * G, dgh + t * N * G, dh, dy + t * N * H, saved + t * N * 4 * H, hp, N, H);
    k.gemm_nn(dh, dgh + t * N * G, whh, N, H, G, true);
  }
}

}  // namespace deeprnn
