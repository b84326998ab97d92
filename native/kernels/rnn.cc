// Vanilla RNN cell, tanh or relu: the time loop over rows [n0, n1); per-step
// math in the kernel table.
// T=steps, N=batch, H=hidden
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

// h_t = phi(gx_t + h_{t-1} W_hh^T + b_hh)
// y: (T, N, H); gx: (T, N, H); h0: (N, H); bhh: (H)
void rnn_forward(float* y, const float* gx, const float* h0, const Recurrent& rec, const float* bhh, long T, long N,
                 long H, long n0, long n1, bool relu) {
  const KernelTable& k = kernels();
  const long R = n1 - n0;
  for (long t = 0; t < T; ++t) {
    float* yt = y + (t * N + n0) * H;
    rec.apply(yt, t ? yt - N * H : h0 + n0 * H, R);
    k.rnn_step(yt, gx + (t * N + n0) * H, bhh, R, H, relu);
  }
}

// da_t = (dy_t + dh_t) * phi'(a_t);  dh_{t-1} = da_t W_hh
// dgx: (T, N, H) = da; dh: (N, H) in: dL/dh_T, out: dL/dh_0; dy, y: (T, N, H); whh: (H, H)
void rnn_backward(float* dgx, float* dh, const float* dy, const float* y, const float* whh, long T, long N, long H,
                  long n0, long n1, bool relu, float* bsum) {
  const KernelTable& k = kernels();
  const long R = n1 - n0;
  float* dhr = dh + n0 * H;
  for (long t = T - 1; t >= 0; --t) {
    const long off = (t * N + n0) * H;
    k.rnn_step_back(dgx + off, dy + off, dhr, y + off, R, H, relu, bsum);
    k.gemm_nn(dhr, dgx + off, whh, R, H, H, false);
  }
}

}  // namespace deeprnn
