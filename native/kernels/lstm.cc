// LSTM cell in PyTorch's form, gate order i, f, g, o: the time loop; per-step
// fused gate math in the kernel table (simd/cells_impl.h).
// T=steps, N=batch, H=hidden, G=4
#include <cstring>

#include "kernels/cells.h"
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
  float* gh = work;            // (N, 4H)
  float* whhT = work + N * G;  // (H, 4H)
  transpose(whhT, whh, G, H);
  for (long t = 0; t < T; ++t) {
    float* yt = y + t * N * H;
    const float* hp = t ? yt - N * H : h0;
    k.gemm_nn(gh, hp, whhT, N, G, H, false);
    const float* cprev = t ? saved + (t - 1) * N * 6 * H + 4 * H : c0;
    k.lstm_step(yt, saved + t * N * 6 * H, gx + t * N * G, gh, bhh, cprev, t ? 6 * H : H, N, H);
  }
  for (long n = 0; n < N; ++n)
    std::memcpy(cT + n * H, saved + ((T - 1) * N + n) * 6 * H + 4 * H, sizeof(float) * H);
}

// dgx per step as in lstm_step_back; dc_{t-1} = dc_t f; dh_{t-1} = dgx_t W_hh
// dgx: (T, N, 4H); dh, dc: (N, H) in: dL/dh_T, dL/dc_T, out: dL/dh_0, dL/dc_0
void lstm_backward(float* dgx, float* dh, float* dc, const float* dy, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H) {
  const KernelTable& k = kernels();
  const long G = 4 * H;
  for (long t = T - 1; t >= 0; --t) {
    const float* cprev = t ? saved + (t - 1) * N * 6 * H + 4 * H : c0;
    k.lstm_step_back(dgx + t * N * G, dc, dh, dy + t * N * H, saved + t * N * 6 * H, cprev, t ? 6 * H : H, N, H);
    k.gemm_nn(dh, dgx + t * N * G, whh, N, H, G, false);
  }
}

}  // namespace deeprnn
