// LSTM cell in PyTorch's form, gate order i, f, g, o: the time loop over rows
// [n0, n1); per-step fused gate math in the kernel table (simd/cells_impl.h).
// T=steps, N=batch, H=hidden, G=4
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

// [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](gx + W_hh h + b_hh)
// c' = f * c + i * g; h' = o * tanh(c')
// y: (T, N, H); saved: (T, N, 6H) as [i, f, g, o, c, tanh c]; gh: (N, 4H) scratch
// gx: (T, N, 4H); h0, c0: (N, H); bhh: (4H)
void lstm_forward(float* y, float* saved, float* gh, const float* gx, const float* h0, const float* c0,
                  const Recurrent& rec, const float* bhh, long T, long N, long H, long n0, long n1) {
  const KernelTable& k = kernels();
  const long G = 4 * H, R = n1 - n0;
  float* ghr = gh + n0 * G;
  for (long t = 0; t < T; ++t) {
    const long row = t * N + n0;
    float* yt = y + row * H;
    const float* hp = t ? yt - N * H : h0 + n0 * H;
    rec.apply(ghr, hp, R);
    const float* cprev = t ? saved + (row - N) * 6 * H + 4 * H : c0 + n0 * H;
    k.lstm_step(yt, saved + row * 6 * H, gx + row * G, ghr, bhh, cprev, t ? 6 * H : H, R, H);
  }
}

// dgx per step as in lstm_step_back; dc_{t-1} = dc_t f; dh_{t-1} = dgx_t W_hh
// dgx: (T, N, 4H); dh, dc: (N, H) in: dL/dh_T, dL/dc_T, out: dL/dh_0, dL/dc_0
void lstm_backward(float* dgx, float* dh, float* dc, const float* dy, const float* saved, const float* c0,
                   const float* whh, long T, long N, long H, long n0, long n1, float* bsum) {
  const KernelTable& k = kernels();
  const long G = 4 * H, R = n1 - n0;
  float* dhr = dh + n0 * H;
  float* dcr = dc + n0 * H;
  for (long t = T - 1; t >= 0; --t) {
    const long row = t * N + n0;
    const float* cprev = t ? saved + (row - N) * 6 * H + 4 * H : c0 + n0 * H;
    k.lstm_step_back(dgx + row * G, dcr, dhr, dy + row * H, saved + row * 6 * H, cprev, t ? 6 * H : H, R, H, bsum);
    k.gemm_nn(dhr, dgx + row * G, whh, R, H, G, false);
  }
}

}  // namespace deeprnn
