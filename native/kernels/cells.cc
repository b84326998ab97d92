// What all cells share: sizes, the unit shares of a team, the recurrent
// products, and a whole layer on one thread (cell_forward / cell_backward).
// T=steps, N=batch, H=hidden, G=gates
#include "kernels/cells.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "simd/bf16.h"
#include "simd/kernels.h"

namespace deeprnn {

// Each cell kind, described once (see CellSpec in cells.h). Saved per step,
// row and unit: gru [r, z, n, W_hn h + b_hn]; lstm [i, f, g, o, c, tanh c];
// mgu [f, n, f h_{t-1}]; rnn nothing but y.
const CellSpec kCellSpecs[] = {
    {Cell::RNN_TANH, "rnn", "h", 1, 0, 0, -1, {0}, 1, rnn_tanh_forward, rnn_tanh_backward, weight_grads_from_h},
    {Cell::RNN_RELU, "rnn-relu", "h", 1, 0, 0, -1, {0}, 1, rnn_relu_forward, rnn_relu_backward, weight_grads_from_h},
    {Cell::GRU, "gru", "r,z,n", 3, 4, 3, -1, {0, 1, 3}, 1, gru_forward, gru_backward, weight_grads_from_h},
    {Cell::LSTM, "lstm", "i,f,g,o", 4, 6, 0, 4, {0, 1, 2, 3}, 1, lstm_forward, lstm_backward, weight_grads_from_h},
    {Cell::MGU, "mgu", "f,n", 2, 3, 0, -1, {0, 1}, 2, mgu_forward, mgu_backward, mgu_weight_grads},
};
const int kNumCells = static_cast<int>(sizeof(kCellSpecs) / sizeof(kCellSpecs[0]));

const CellSpec* cell_by_name(const char* name) {
  for (int i = 0; i < kNumCells; ++i)
    if (std::strcmp(kCellSpecs[i].name, name) == 0) return &kCellSpecs[i];
  return nullptr;
}

int cell_gates(Cell c) { return cell_spec(c).G; }

long cell_saved_floats(Cell cell, long T, long N, long H) { return T * N * cell_spec(cell).saved * H; }

long cell_forward_work_floats(Cell cell, long T, long N, long H) {
  const long G = cell_gates(cell);
  return N * G * H + G * H * H;  // gh, W_hh^T
}

long cell_backward_work_floats(Cell cell, long T, long N, long H) {
  // dh, dc, aux, dgh, the step kernels' bias sums (4H, last)
  return 3 * N * H + T * N * cell_spec(cell).dgh * H + 4 * H;
}

namespace {

// Units per share: whole 16-float vectors (AVX-512) when every thread gets some.
long unit_align(long H, int nth) { return H >= 16L * nth ? 16 : 1; }

}  // namespace

void unit_range(long H, int tid, int nth, long* u0, long* u1) { split_rows(H, tid, nth, unit_align(H, nth), u0, u1); }

UnitShare unit_share(const Team& team, long H) {
  long u0, u1;
  team.share(H, unit_align(H, team.nth), &u0, &u1);
  return UnitShare{u0, u1 - u0, nullptr, team.scratch};
}

void pack_whhT(float* out, const float* whh, long H, int G, int nth, long r0, long r1, bool panels) {
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
    const long end = std::min(r1, g * H + u1), width = u1 - u0, N = G * width;
    float* block = out + H * G * u0;
    // Column c of the block lies in the panel from p0 = c - c % P, w = min(P, N - p0)
    // wide (without panels, one panel of all N): the run's rows up to that
    // panel's end are one transposed run into it.
    const long P = panels ? kGemmPanel : N;
    for (long q = r; q < end;) {
      const long c = g * width + (q - g * H - u0), p0 = c - c % P;
      const long w = std::min(P, N - p0), e = std::min(end, q + (p0 + w - c));
      transpose_rows(block + p0 * H + (c - p0), w, whh + q * H, H, 0, e - q, H, nullptr);
      q = e;
    }
    r = end;
  }
}

bool whh_panels_on() {
  // As the CLI reads it: "0", white space around it allowed, turns panels off;
  // anything else, which the CLI refuses unless it is "1", leaves them on.
  static const bool on = [] {
    const char* env = std::getenv("DEEPRNN_PANELS");
    if (!env) return true;
    const auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    while (space(*env)) ++env;
    if (*env != '0') return true;
    ++env;
    while (space(*env)) ++env;
    return *env != '\0';
  }();
  return on;
}

bool whh_in_panels(Cell cell, long H) { return whh_panels_on() && cell != Cell::MGU && H >= 128; }

void pack_whh_cols(float* out, const float* whh, long H, int G, int nth, long r0, long r1) {
  const long align = unit_align(H, nth), K = G * H;
  for (int t = 0; t < nth; ++t) {
    long u0, u1;
    split_rows(H, t, nth, align, &u0, &u1);
    const long N = u1 - u0;
    float* block = out + K * u0;
    for (long p0 = 0; p0 < N; p0 += kGemmPanel) {
      const long w = std::min(kGemmPanel, N - p0);
      for (long r = r0; r < r1; ++r) std::memcpy(block + p0 * K + r * w, whh + r * H + u0 + p0, sizeof(float) * w);
    }
  }
}

long bf16_whh_block_pairs(Cell cell, long H) {
  const CellSpec& c = cell_spec(cell);
  return bf16_packed_size(c.G * H / c.whh_blocks, H);
}

long bf16_whh_pairs(Cell cell, long H) { return cell_spec(cell).whh_blocks * bf16_whh_block_pairs(cell, H); }

void bf16_pack_whh(uint32_t* out, const float* whh, Cell cell, long H, int tid, int nth) {
  const CellSpec& c = cell_spec(cell);
  const long rows = c.G * H / c.whh_blocks, Kp = (rows + 1) / 2;
  for (long q = 0; q < c.whh_blocks; ++q)
    bf16_pack_b(out + q * bf16_whh_block_pairs(cell, H), whh + q * rows * H, H, false, rows, H, Kp * tid / nth,
                Kp * (tid + 1) / nth);
}

void recurrent_product(float* gh, const float* h, long R, const LayerSeq& s, const UnitShare& u) {
  const KernelTable& k = kernels();
  const long G = cell_gates(s.cell);
  if (u.whhT_bf) {
    const long N = G * u.width;
    GemmBf16Args g{gh, h, nullptr, u.whhT_bf, R, N, s.H, s.H, bf16_packed_ld(N), N, false, false, nullptr};
    if (u.whhT_panels) g.panel = kGemmPanel;
    bf16_path().gemm(g, Part{0, 1, u.scratch});
    return;
  }
  if (u.whhT) {
    const long N = G * u.width;
    GemmArgs g{gh, h, u.whhT, R, N, s.H, s.H, N, N, false, false, nullptr};
    if (u.whhT_panels) g.panel = kGemmPanel;
    k.gemm(g, Part{0, 1, u.scratch});
  } else k.gemm_nt_small(gh, h, s.whh, R, G * s.H, s.H);  // all units
}

void recurrent_grad(float* dh, const float* d, long R, const LayerSeq& s, const UnitShare& u, bool accumulate) {
  const long GH = cell_gates(s.cell) * s.H;
  if (s.whh_bf) {  // columns u0.. of the packed W_hh
    bf16_path().gemm({dh + u.u0, d, nullptr, s.whh_bf + u.u0, R, u.width, GH, GH, bf16_packed_ld(s.H), s.H, false,
                      accumulate, nullptr},
                     Part{0, 1, u.scratch});
    return;
  }
  GemmArgs g{dh + u.u0, d, s.whh + u.u0, R, u.width, GH, GH, s.H, s.H, false, accumulate, nullptr};
  if (u.whh_cols) {  // this thread's columns, packed in panels
    g.B = u.whh_cols;
    g.panel = kGemmPanel;
  }
  kernels().gemm(g, Part{0, 1, u.scratch});
}

void cell_forward_units(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team) {
  cell_spec(s.cell).forward(s, u, gh + cell_gates(s.cell) * s.N * u.u0, team);
}

void cell_backward_units(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team) {
  cell_spec(s.cell).backward(s, u, g, need_dh0, team);
}

void cell_weight_grads(const LayerSeq& s, const CellGrads& g, float* dwhh, Part part) {
  cell_spec(s.cell).weight_grads(s, g, dwhh, part);
}

void weight_grads_from_h(const LayerSeq& s, const CellGrads& g, float* dwhh, Part part) {
  const KernelTable& k = kernels();
  const long GH = cell_gates(s.cell) * s.H, N = s.N, H = s.H;
  if (s.whh_bf) {
    const Bf16Path& p = bf16_path();
    if (s.h0 + N * H == s.y) return gemm_bf16_tn(p, dwhh, g.dgh, s.h0, GH, H, s.T * N, part);
    gemm_bf16_tn(p, dwhh, g.dgh, s.h0, GH, H, N, part);
    if (s.T > 1) gemm_bf16_tn(p, dwhh, g.dgh + N * GH, s.y, GH, H, (s.T - 1) * N, part);
    return;
  }
  if (s.h0 + N * H == s.y) {  // h0 directly before y: one product over [h0; y]
    gemm_tn(k, dwhh, g.dgh, s.h0, GH, H, s.T * N, part);
    return;
  }
  gemm_tn(k, dwhh, g.dgh, s.h0, GH, H, N, part);
  if (s.T > 1) gemm_tn(k, dwhh, g.dgh + N * GH, s.y, GH, H, (s.T - 1) * N, part);
}

void cell_bias_grads(Cell cell, float* dbih, float* dbhh, const float* bsum, long H, long u0, long width) {
  const CellSpec& c = cell_spec(cell);
  for (int g = 0; g < c.G; ++g)
    for (long j = u0; j < u0 + width; ++j) {
      if (dbih) dbih[g * H + j] += bsum[g * H + j];
      dbhh[g * H + j] += bsum[c.bhh_from[g] * H + j];
    }
}

void cell_final_c(Cell cell, float* cT, long ld, const float* saved, long T, long N, long H, long n0, long n1) {
  const CellSpec& c = cell_spec(cell);
  for (long n = n0; n < n1; ++n)
    std::memcpy(cT + n * ld, saved + ((T - 1) * N + n) * c.saved * H + c.c_at * H, sizeof(float) * H);
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
  if (cell_spec(cell).carries_c()) cell_final_c(cell, cT, H, saved, T, N, H, 0, N);
}

void cell_backward(Cell cell, float* dgx, float* dh0, float* dc0, float* dwhh, float* dbhh, float* work,
                   const float* dy, const float* dhT, const float* dcT, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H) {
  const CellSpec& c = cell_spec(cell);
  float* dh = work;  // (N, H): gradient flowing into h_t
  float* dc = work + N * H;
  float* aux = work + 2 * N * H;
  float* dgh = c.dgh ? work + 3 * N * H : dgx;
  float* bsum = work + cell_backward_work_floats(cell, T, N, H) - 4 * H;
  if (dhT) std::memcpy(dh, dhT, sizeof(float) * N * H);
  else std::memset(dh, 0, sizeof(float) * N * H);
  if (c.carries_c()) {
    if (dcT) std::memcpy(dc, dcT, sizeof(float) * N * H);
    else std::memset(dc, 0, sizeof(float) * N * H);
  }
  std::memset(bsum, 0, sizeof(float) * 4 * H);
  const LayerSeq s{cell, T, N, H, nullptr, const_cast<float*>(y), const_cast<float*>(saved), h0, c0, whh, nullptr};
  const CellGrads g{dgx, dgh, dh, dc, aux, dy, bsum};
  cell_backward_units(s, UnitShare{0, H, nullptr}, g, true, Team{});
  std::memcpy(dh0, dh, sizeof(float) * N * H);
  if (c.carries_c()) std::memcpy(dc0, dc, sizeof(float) * N * H);
  cell_weight_grads(s, g, dwhh, Part{});
  cell_bias_grads(cell, nullptr, dbhh, bsum, H, 0, H);
}

}  // namespace deeprnn
