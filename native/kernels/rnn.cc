// Vanilla RNN cell, tanh or relu: the time loop; per-step math in the kernel table.
// T=steps, N=batch, H=hidden
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

// h_t = phi(gx_t + h_{t-1} W_hh^T + b_hh)
// y: (T, N, H); work: H*H; gx: (T, N, H); h0: (N, H); whh: (H, H); bhh: (H)
void rnn_forward(float* y, float* work, const float* gx, const float* h0, const float* whh, const float* bhh,
                 long T, long N, long H, bool relu) {
  const KernelTable& k = kernels();
  float* whhT = work;  // (H, H)
  transpose(whhT, whh, H, H);
  for (long t = 0; t < T; ++t) {
    float* yt = y + t * N * H;
    k.gemm_nn(yt, t ? yt - N * H : h0, whhT, N, H, H, false);
    k.rnn_step(yt, gx + t * N * H, bhh, N, H, relu);
  }
}

// da_t = (dy_t + dh_t) * phi'(a_t);  dh_{t-1} = da_t W_hh
// dgx: (T, N, H) = da; dh: (N, H) in: dL/dh_T, out: dL/dh_0; dy, y: (T, N, H); whh: (H, H)
void rnn_backward(float* dgx, float* dh, const float* dy, const float* y, const float* whh, long T, long N,
                  long H, bool relu) {
  const KernelTable& k = kernels();
  for (long t = T - 1; t >= 0; --t) {
    float* da = dgx + t * N * H;
    k.rnn_step_back(da, dy + t * N * H, dh, y + t * N * H, N, H, relu);
    k.gemm_nn(dh, da, whh, N, H, H, false);
  }
}

}  // namespace deeprnn
