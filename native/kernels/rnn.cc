// Vanilla RNN cell, tanh or relu.
// T=steps, N=batch, H=hidden
#include <cmath>

#include "kernels/cells.h"
#include "kernels/parallel.h"
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
    const float* hp = t ? yt - N * H : h0;
    const float* gxt = gx + t * N * H;
    k.gemm_nn(yt, hp, whhT, N, H, H, false);
    DEEPRNN_PARALLEL_FOR(N * H >= 4096)
    for (long n = 0; n < N; ++n) {
      float* row = yt + n * H;
      const float* g = gxt + n * H;
      if (relu) {
        for (long j = 0; j < H; ++j) {
          const float a = row[j] + g[j] + bhh[j];
          row[j] = a > 0.0f ? a : 0.0f;
        }
      } else {
        for (long j = 0; j < H; ++j) row[j] = std::tanh(row[j] + g[j] + bhh[j]);
      }
    }
  }
}

// da_t = (dy_t + dh_t) * phi'(a_t);  dh_{t-1} = da_t W_hh
// dgx: (T, N, H) = da; dh: (N, H) in: dL/dh_T, out: dL/dh_0; dy, y: (T, N, H); whh: (H, H)
void rnn_backward(float* dgx, float* dh, const float* dy, const float* y, const float* whh, long T, long N,
                  long H, bool relu) {
  const KernelTable& k = kernels();
  for (long t = T - 1; t >= 0; --t) {
    float* da = dgx + t * N * H;
    const float* yt = y + t * N * H;
    const float* dyt = dy + t * N * H;
    DEEPRNN_PARALLEL_FOR(N * H >= 4096)
    for (long i = 0; i < N * H; ++i) {
      const float g = dyt[i] + dh[i];
      const float h = yt[i];
      da[i] = relu ? (h > 0.0f ? g : 0.0f) : g * (1.0f - h * h);
    }
    k.gemm_nn(dh, da, whh, N, H, H, false);
  }
}

}  // namespace deeprnn
