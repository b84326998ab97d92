// What all cells share: sizes, the unit shares of a team, the recurrent
// products, and a whole layer on one thread (cell_forward / cell_backward).
// T=steps, N=batch, H=hidden, G=gates
#include "kernels/cells.h"

#include <algorithm>
#include <cstring>

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
  return N * G * H + G * H * H;  // gh, W_hh^T
}

long cell_backward_work_floats(Cell cell, long T, long N, long H) {
  const long bsum = 4 * H;  // the step kernels' bias sums
  const long dgh = cell == Cell::GRU ? T * N * 3 * H : 0;
  return 2 * N * H + dgh + bsum;  // dh, dc, dgh, bsum
}

namespace {

// Units per share: whole 16-float vectors (AVX-512) when every thread gets some.
long unit_align(long H, int nth) { return H >= 16L * nth ? 16 : 1; }

}  // namespace

UnitShare unit_share(const Team& team, long H) {
  long u0, u1;
  team.share(H, unit_align(H, team.nth), &u0, &u1);
  return UnitShare{u0, u1 - u0, nullptr};
}

void pack_whhT(float* out, const float* whh, long H, int G, int nth, long r0, long r1) {
  // Row r = g*H + j of W_hh is unit j of gate g: column g*width + (j - u0) of
  // its owner's block. Rows of one gate and owner are one transposed run.
  const long align = unit_align(H, nth);
  int t = 0;
  long u0 = 0, u1 = 0;
  for (long r = r0; r < r1;) {
    const long g = r / H, j = r % H;
    if (j < u0 || j >= u1)
      for (t = 0; t < nth; ++t) {
        split_rows(H, t, nth, align, &u0, &u1);
        if (j < u1) break;
      }
    const long end = std::min(r1, g * H + u1), width = u1 - u0;
    transpose_rows(out + H * G * u0 + g * width + (j - u0), G * width, whh + r * H, H, 0, end - r, H, nullptr);
    r = end;
  }
}

void recurrent_product(float* gh, const float* h, long R, const LayerSeq& s, const UnitShare& u) {
  const KernelTable& k = kernels();
  const long G = cell_gates(s.cell);
  if (u.whhT) gemm_nn(k, gh, h, u.whhT, R, G * u.width, s.H, false, Part{0, 1});
  else k.gemm_nt_small(gh, h, s.whh, R, G * s.H, s.H);  // all units
}

void recurrent_grad(float* dh, const float* d, long R, const LayerSeq& s, const UnitShare& u, bool accumulate) {
  const long GH = cell_gates(s.cell) * s.H;
  kernels().gemm({dh + u.u0, d, s.whh + u.u0, R, u.width, GH, GH, s.H, s.H, false, accumulate, nullptr}, Part{0, 1});
}

void cell_forward_units(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team) {
  float* mine = gh + cell_gates(s.cell) * s.N * u.u0;
  switch (s.cell) {
    case Cell::RNN_TANH: rnn_forward(s, u, mine, team, false); break;
    case Cell::RNN_RELU: rnn_forward(s, u, mine, team, true); break;
    case Cell::GRU: gru_forward(s, u, mine, team); break;
    case Cell::LSTM: lstm_forward(s, u, mine, team); break;
  }
}

void cell_backward_units(const LayerSeq& s, const UnitShare& u, float* dgx, float* dgh, float* dh, float* dc,
                         const float* dy, float* bsum, bool need_dh0, const Team& team) {
  switch (s.cell) {
    case Cell::RNN_TANH: rnn_backward(s, u, dgx, dh, dy, bsum, need_dh0, team, false); break;
    case Cell::RNN_RELU: rnn_backward(s, u, dgx, dh, dy, bsum, need_dh0, team, true); break;
    case Cell::GRU: gru_backward(s, u, dgx, dgh, dh, dy, bsum, need_dh0, team); break;
    case Cell::LSTM: lstm_backward(s, u, dgx, dh, dc, dy, bsum, need_dh0, team); break;
  }
}

void cell_bias_grads(Cell cell, float* dbih, float* dbhh, const float* bsum, long H, long u0, long width) {
  const int G = cell_gates(cell);
  for (int g = 0; g < G; ++g)
    for (long j = u0; j < u0 + width; ++j) {
      const long i = g * H + j;
      if (dbih) dbih[i] += bsum[i];
      dbhh[i] += cell == Cell::GRU && g == 2 ? bsum[i + H] : bsum[i];
    }
}

void cell_forward(Cell cell, float* y, float* hT, float* cT, float* saved, float* work, const float* gx,
                  const float* h0, const float* c0, const float* whh, const float* bhh, long T, long N,
                  long H) {
  const long G = cell_gates(cell);
  float* gh = work;  // (N, G*H)
  const float* whhT = nullptr;
  if (N > kSmallRows) {  // a few rows (generation) take dot products with W_hh in place
    float* t = work + N * G * H;
    transpose(t, whh, G * H, H);
    whhT = t;
  }
  const LayerSeq s{cell, T, N, H, gx, y, saved, h0, c0, whh, bhh};
  cell_forward_units(s, UnitShare{0, H, whhT}, gh, Team{});
  std::memcpy(hT, y + (T - 1) * N * H, sizeof(float) * N * H);
  if (cell == Cell::LSTM)
    for (long n = 0; n < N; ++n)
      std::memcpy(cT + n * H, saved + ((T - 1) * N + n) * 6 * H + 4 * H, sizeof(float) * H);
}

void cell_backward(Cell cell, float* dgx, float* dh0, float* dc0, float* dwhh, float* dbhh, float* work,
                   const float* dy, const float* dhT, const float* dcT, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H) {
  const long G = cell_gates(cell);
  float* dh = work;           // (N, H): gradient flowing into h_t
  float* dc = work + N * H;   // LSTM: (N, H)
  float* dgh = cell == Cell::GRU ? work + 2 * N * H : dgx;  // gradient of h_{t-1} W_hh^T + b_hh: (T, N, G*H)
  float* bsum = work + cell_backward_work_floats(cell, T, N, H) - 4 * H;
  if (dhT) std::memcpy(dh, dhT, sizeof(float) * N * H);
  else std::memset(dh, 0, sizeof(float) * N * H);
  if (cell == Cell::LSTM) {
    if (dcT) std::memcpy(dc, dcT, sizeof(float) * N * H);
    else std::memset(dc, 0, sizeof(float) * N * H);
  }
  std::memset(bsum, 0, sizeof(float) * 4 * H);
  const LayerSeq s{cell, T, N, H, nullptr, const_cast<float*>(y), const_cast<float*>(saved), h0, c0, whh, nullptr};
  cell_backward_units(s, UnitShare{0, H, nullptr}, dgx, dgh, dh, dc, dy, bsum, true, Team{});
  std::memcpy(dh0, dh, sizeof(float) * N * H);
  if (cell == Cell::LSTM) std::memcpy(dc0, dc, sizeof(float) * N * H);
  // dW_hh += dGH^T [h0; y_0 .. y_{T-2}]
  const KernelTable& k = kernels();
  gemm_tn(k, dwhh, dgh, h0, G * H, H, N);
  if (T > 1) gemm_tn(k, dwhh, dgh + N * G * H, y, G * H, H, (T - 1) * N);
  cell_bias_grads(cell, nullptr, dbhh, bsum, H, 0, H);
}

}  // namespace deeprnn
