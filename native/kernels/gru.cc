// GRU cell in PyTorch's form, gate order r, z, n.
// T=steps, N=batch, H=hidden, G=3
#include <cmath>

#include "kernels/cells.h"
#include "kernels/parallel.h"
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
  float* gh = work;           // (N, 3H)
  float* whhT = work + N * G;  // (H, 3H)
  transpose(whhT, whh, G, H);
  for (long t = 0; t < T; ++t) {
    float* yt = y + t * N * H;
    const float* hp = t ? yt - N * H : h0;
    k.gemm_nn(gh, hp, whhT, N, G, H, false);
    DEEPRNN_PARALLEL_FOR(N * G >= 4096)
    for (long n = 0; n < N; ++n) {
      const float* x = gx + (t * N + n) * G;
      const float* h = gh + n * G;
      const float* hprev = hp + n * H;
      float* s = saved + (t * N + n) * 4 * H;
      float* out = yt + n * H;
      for (long j = 0; j < H; ++j) {
        const float r = sigmoidf(x[j] + h[j] + bhh[j]);
        const float z = sigmoidf(x[H + j] + h[H + j] + bhh[H + j]);
        const float hn = h[2 * H + j] + bhh[2 * H + j];
        const float nn = std::tanh(x[2 * H + j] + r * hn);
        out[j] = (1.0f - z) * nn + z * hprev[j];
        s[j] = r;
        s[H + j] = z;
        s[2 * H + j] = nn;
        s[3 * H + j] = hn;
      }
    }
  }
}

// g = dy_t + dh_t; dn = g (1 - z); dz = g (h - n); da_n = dn (1 - n^2)
// dgx = [dr r(1-r), dz z(1-z), da_n] with dr = da_n hn; dgh = [.., .., da_n r]
// dh_{t-1} = g z + dgh W_hh
// dgx, dgh: (T, N, 3H); dh: (N, H) in: dL/dh_T, out: dL/dh_0; dy, y: (T, N, H)
void gru_backward(float* dgx, float* dgh, float* dh, const float* dy, const float* saved, const float* y,
                  const float* h0, const float* whh, long T, long N, long H) {
  const KernelTable& k = kernels();
  const long G = 3 * H;
  for (long t = T - 1; t >= 0; --t) {
    const float* hp = t ? y + (t - 1) * N * H : h0;
    DEEPRNN_PARALLEL_FOR(N * G >= 4096)
    for (long n = 0; n < N; ++n) {
      const float* s = saved + (t * N + n) * 4 * H;
      const float* d = dy + (t * N + n) * H;
      const float* hprev = hp + n * H;
      float* gxr = dgx + (t * N + n) * G;
      float* ghr = dgh + (t * N + n) * G;
      float* dhr = dh + n * H;
      for (long j = 0; j < H; ++j) {
        const float r = s[j], z = s[H + j], nn = s[2 * H + j], hn = s[3 * H + j];
        const float g = d[j] + dhr[j];
        const float dan = g * (1.0f - z) * (1.0f - nn * nn);
        const float dar = dan * hn * r * (1.0f - r);
        const float daz = g * (hprev[j] - nn) * z * (1.0f - z);
        gxr[j] = dar;
        gxr[H + j] = daz;
        gxr[2 * H + j] = dan;
        ghr[j] = dar;
        ghr[H + j] = daz;
        ghr[2 * H + j] = dan * r;
        dhr[j] = g * z;
      }
    }
    k.gemm_nn(dh, dgh + t * N * G, whh, N, H, G, true);
  }
}

}  // namespace deeprnn
