// Dispatch over cell kinds, and what all cells share: the final state, the
// initial-state gradients and dW_hh / db_hh as one GEMM over all steps.
// T=steps, N=batch, H=hidden, G=gates
#include <cstring>

#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

long cell_saved_floats(Cell cell, long T, long N, long H) {
  switch (cell) {
    case Cell::GRU: return T * N * 4 * H;   // r, z, n, W_hn h + b_hn
    case Cell::LSTM: return T * N * 6 * H;  // i, f, g, o, c, tanh(c)
    default: return 0;                      // y alone suffices
  }
}

long cell_forward_work_floats(Cell cell, long T, long N, long H) {
  const long G = cell_gates(cell);
  return (cell == Cell::GRU || cell == Cell::LSTM ? N * G * H : 0) + G * H * H;
}

long cell_backward_work_floats(Cell cell, long T, long N, long H) {
  if (cell == Cell::GRU) return N * H + T * N * 3 * H;
  if (cell == Cell::LSTM) return 2 * N * H;
  return N * H;
}

void cell_forward(Cell cell, float* y, float* hT, float* cT, float* saved, float* work, const float* gx,
                  const float* h0, const float* c0, const float* whh, const float* bhh, long T, long N,
                  long H) {
  switch (cell) {
    case Cell::RNN_TANH: rnn_forward(y, work, gx, h0, whh, bhh, T, N, H, false); break;
    case Cell::RNN_RELU: rnn_forward(y, work, gx, h0, whh, bhh, T, N, H, true); break;
    case Cell::GRU: gru_forward(y, saved, work, gx, h0, whh, bhh, T, N, H); break;
    case Cell::LSTM: lstm_forward(y, cT, saved, work, gx, h0, c0, whh, bhh, T, N, H); break;
  }
  std::memcpy(hT, y + (T - 1) * N * H, sizeof(float) * N * H);
}

void cell_backward(Cell cell, float* dgx, float* dh0, float* dc0, float* dwhh, float* dbhh, float* work,
                   const float* dy, const float* dhT, const float* dcT, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H) {
  const long G = cell_gates(cell);
  float* dh = work;  // (N, H): gradient flowing into h_{t}
  if (dhT) std::memcpy(dh, dhT, sizeof(float) * N * H);
  else std::memset(dh, 0, sizeof(float) * N * H);
  const float* dgh = dgx;  // gradient of h_{t-1} W_hh^T + b_hh: (T, N, G*H)
  switch (cell) {
    case Cell::RNN_TANH: rnn_backward(dgx, dh, dy, y, whh, T, N, H, false); break;
    case Cell::RNN_RELU: rnn_backward(dgx, dh, dy, y, whh, T, N, H, true); break;
    case Cell::GRU: {
      float* g = work + N * H;
      gru_backward(dgx, g, dh, dy, saved, y, h0, whh, T, N, H);
      dgh = g;
      break;
    }
    case Cell::LSTM: {
      float* dc = work + N * H;
      if (dcT) std::memcpy(dc, dcT, sizeof(float) * N * H);
      else std::memset(dc, 0, sizeof(float) * N * H);
      lstm_backward(dgx, dh, dc, dy, saved, y, h0, c0, whh, T, N, H);
      std::memcpy(dc0, dc, sizeof(float) * N * H);
      break;
    }
  }
  std::memcpy(dh0, dh, sizeof(float) * N * H);
  // dW_hh += dGH^T [h0; y_0 .. y_{T-2}]
  const KernelTable& k = kernels();
  k.gemm_tn(dwhh, dgh, h0, G * H, H, N);
  if (T > 1) k.gemm_tn(dwhh, dgh + N * G * H, y, G * H, H, (T - 1) * N);
  colsum_add(dbhh, dgh, T * N, G * H);
}

}  // namespace deeprnn
