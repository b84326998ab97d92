// Dispatch over cell kinds, and what all cells share: the final state, the
// initial-state gradients and dW_hh / db_hh as one GEMM over all steps.
// T=steps, N=batch, H=hidden, G=gates
#include <cstring>

#include "kernels/cells.h"
#include "kernels/parallel.h"
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
  const long bsum = 4 * H;  // the step kernels' bias sums
  if (cell == Cell::GRU) return N * H + T * N * 3 * H + bsum;
  if (cell == Cell::LSTM) return 2 * N * H + bsum;
  return N * H + bsum;
}

void Recurrent::apply(float* gh, const float* h, long R) const {
  if (whhT) kernels().gemm_nn(gh, h, whhT, R, GH, H, false);
  else kernels().gemm_nt_small(gh, h, whh, R, GH, H);
}

namespace {

// Runs f(n0, n1) on every thread with its own contiguous slice of the batch
// for the whole sequence, so the time loop needs no barrier between steps.
// Slices are whole GEMM row tiles: each row is computed exactly as in one piece.
template <typename F>
void over_batch_slices(long N, long work, F&& f) {
  parallel_region(N >= 2 * kGemmRowTile && work >= kParallelWork, [&](int tid, int nth) {
    long n0, n1;
    split_rows(N, tid, nth, kGemmRowTile, &n0, &n1);
    if (n0 < n1) f(n0, n1);
  });
}

}  // namespace

void cell_forward(Cell cell, float* y, float* hT, float* cT, float* saved, float* work, const float* gx,
                  const float* h0, const float* c0, const float* whh, const float* bhh, long T, long N,
                  long H, const float* whhT_given) {
  const long G = cell_gates(cell);
  float* gh = work + G * H * H;  // (N, G*H)
  const bool small = N <= kSmallRows;
  const float* whhT = whhT_given;  // (H, G*H)
  if (!small && !whhT) {
    transpose(work, whh, G * H, H);
    whhT = work;
  }
  const Recurrent rec{whh, small ? nullptr : whhT, G * H, H};
  over_batch_slices(N, T * N * G * H * H, [&](long n0, long n1) {
    switch (cell) {
      case Cell::RNN_TANH: rnn_forward(y, gx, h0, rec, bhh, T, N, H, n0, n1, false); break;
      case Cell::RNN_RELU: rnn_forward(y, gx, h0, rec, bhh, T, N, H, n0, n1, true); break;
      case Cell::GRU: gru_forward(y, saved, gh, gx, h0, rec, bhh, T, N, H, n0, n1); break;
      case Cell::LSTM: lstm_forward(y, saved, gh, gx, h0, c0, rec, bhh, T, N, H, n0, n1); break;
    }
  });
  std::memcpy(hT, y + (T - 1) * N * H, sizeof(float) * N * H);
  if (cell == Cell::LSTM)
    for (long n = 0; n < N; ++n)
      std::memcpy(cT + n * H, saved + ((T - 1) * N + n) * 6 * H + 4 * H, sizeof(float) * H);
}

void cell_backward(Cell cell, float* dgx, float* dh0, float* dc0, float* dwhh, float* dbhh, float* work,
                   const float* dy, const float* dhT, const float* dcT, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H, float* dbih) {
  const long G = cell_gates(cell);
  float* dh = work;  // (N, H): gradient flowing into h_t
  if (dhT) std::memcpy(dh, dhT, sizeof(float) * N * H);
  else std::memset(dh, 0, sizeof(float) * N * H);
  float* dc = work + N * H;  // LSTM: (N, H)
  float* dgh = cell == Cell::GRU ? work + N * H : dgx;  // gradient of h_{t-1} W_hh^T + b_hh: (T, N, G*H)
  if (cell == Cell::LSTM) {
    if (dcT) std::memcpy(dc, dcT, sizeof(float) * N * H);
    else std::memset(dc, 0, sizeof(float) * N * H);
  }
  float* bsum = nullptr;  // the step kernels' bias sums, (4H) after the other work buffers
  if (dbih) {
    bsum = work + cell_backward_work_floats(cell, T, N, H) - 4 * H;
    std::memset(bsum, 0, sizeof(float) * 4 * H);
  }
  auto run = [&](long n0, long n1) {
    switch (cell) {
      case Cell::RNN_TANH: rnn_backward(dgx, dh, dy, y, whh, T, N, H, n0, n1, false, bsum); break;
      case Cell::RNN_RELU: rnn_backward(dgx, dh, dy, y, whh, T, N, H, n0, n1, true, bsum); break;
      case Cell::GRU: gru_backward(dgx, dgh, dh, dy, saved, y, h0, whh, T, N, H, n0, n1, bsum); break;
      case Cell::LSTM: lstm_backward(dgx, dh, dc, dy, saved, c0, whh, T, N, H, n0, n1, bsum); break;
    }
  };
  if (bsum) run(0, N);  // one thread, one order of the sums
  else over_batch_slices(N, T * N * G * H * H, run);
  std::memcpy(dh0, dh, sizeof(float) * N * H);
  if (cell == Cell::LSTM) std::memcpy(dc0, dc, sizeof(float) * N * H);
  // dW_hh += dGH^T [h0; y_0 .. y_{T-2}]
  const KernelTable& k = kernels();
  k.gemm_tn(dwhh, dgh, h0, G * H, H, N);
  if (T > 1) k.gemm_tn(dwhh, dgh + N * G * H, y, G * H, H, (T - 1) * N);
  if (!bsum) {
    colsum_add(dbhh, dgh, T * N, G * H);
    return;
  }
  const long GH = G * H;
  // gru: dgx's sums are [r, z, n], dgh's [r, z, n r]; rnn, lstm: one sum for both
  for (long j = 0; j < GH; ++j) {
    dbih[j] += bsum[j];
    dbhh[j] += cell == Cell::GRU && j >= 2 * H ? bsum[j + H] : bsum[j];
  }
}

}  // namespace deeprnn
