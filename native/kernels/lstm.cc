// LSTM cell in PyTorch's form, gate order i, f, g, o.
// T=steps, N=batch, H=hidden, G=4
#include <cmath>

#include "kernels/cells.h"
#include "kernels/parallel.h"
#include "simd/kernels.h"

namespace deeprnn {

// [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](gx + W_hh h + b_hh)
// c' = f * c + i * g; h' = o * tanh(c')
// y: (T, N, H); cT: (N, H); saved: (T, N, 6H) as [i, f, g, o, c, tanh c]; work: N*4H + 4H*H
// gx: (T, N, 4H); h0, c0: (N, H); whh: (4H, H); bhh: (4H)
void lstm_forward(float* y, float* cT, float* saved, float* work, const float* gx, const float* h0,
                  const float* c0, const float* whh, const float* bhh, long T, long N, long H) {
  const KernelTable& k = kernels();
  const long G = 4 * H;
  float* gh = work;           // (N, 4H)
  float* whhT = work + N * G;  // (H, 4H)
  transpose(whhT, whh, G, H);
  for (long t = 0; t < T; ++t) {
    float* yt = y + t * N * H;
    const float* hp = t ? yt - N * H : h0;
    k.gemm_nn(gh, hp, whhT, N, G, H, false);
    DEEPRNN_PARALLEL_FOR(N * G >= 4096)
    for (long n = 0; n < N; ++n) {
      const float* x = gx + (t * N + n) * G;
      const float* h = gh + n * G;
      const float* cprev = t ? saved + ((t - 1) * N + n) * 6 * H + 4 * H : c0 + n * H;
      float* s = saved + (t * N + n) * 6 * H;
      float* out = yt + n * H;
      for (long j = 0; j < H; ++j) {
        const float ig = sigmoidf(x[j] + h[j] + bhh[j]);
        const float fg = sigmoidf(x[H + j] + h[H + j] + bhh[H + j]);
        const float gg = std::tanh(x[2 * H + j] + h[2 * H + j] + bhh[2 * H + j]);
        const float og = sigmoidf(x[3 * H + j] + h[3 * H + j] + bhh[3 * H + j]);
        const float c = fg * cprev[j] + ig * gg;
        const float tc = std::tanh(c);
        out[j] = og * tc;
        s[j] = ig;
        s[H + j] = fg;
        s[2 * H + j] = gg;
        s[3 * H + j] = og;
        s[4 * H + j] = c;
        s[5 * H + j] = tc;
      }
    }
  }
  for (long n = 0; n < N * H; ++n) {
    const long row = n / H, j = n % H;
    cT[n] = saved[((T - 1) * N + row) * 6 * H + 4 * H + j];
  }
}

// dh = dy_t + dh; dc = dc + dh o (1 - tanh(c)^2)
// dgx = [dc g i(1-i), dc c_prev f(1-f), dc i (1-g^2), dh tanh(c) o(1-o)]
// dc_{t-1} = dc f; dh_{t-1} = dgx W_hh
// dgx: (T, N, 4H); dh, dc: (N, H) in: dL/dh_T, dL/dc_T, out: dL/dh_0, dL/dc_0
void lstm_backward(float* dgx, float* dh, float* dc, const float* dy, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H) {
  const KernelTable& k = kernels();
  const long G = 4 * H;
  for (long t = T - 1; t >= 0; --t) {
    DEEPRNN_PARALLEL_FOR(N * G >= 4096)
    for (long n = 0; n < N; ++n) {
      const float* s = saved + (t * N + n) * 6 * H;
      const float* cprev = t ? saved + ((t - 1) * N + n) * 6 * H + 4 * H : c0 + n * H;
      const float* d = dy + (t * N + n) * H;
      float* ga = dgx + (t * N + n) * G;
      float* dhr = dh + n * H;
      float* dcr = dc + n * H;
      for (long j = 0; j < H; ++j) {
        const float ig = s[j], fg = s[H + j], gg = s[2 * H + j], og = s[3 * H + j], tc = s[5 * H + j];
        const float g = d[j] + dhr[j];
        const float dct = dcr[j] + g * og * (1.0f - tc * tc);
        ga[j] = dct * gg * ig * (1.0f - ig);
        ga[H + j] = dct * cprev[j] * fg * (1.0f - fg);
        ga[2 * H + j] = dct * ig * (1.0f - gg * gg);
        ga[3 * H + j] = g * tc * og * (1.0f - og);
        dcr[j] = dct * fg;
      }
    }
    k.gemm_nn(dh, dgx + t * N * G, whh, N, H, G, false);
  }
}

}  // namespace deeprnn
