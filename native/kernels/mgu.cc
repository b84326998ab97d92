// The minimal gated unit (Zhou, Wu, Zhang and Zhou, 2016), gate blocks f, n:
// one forget gate, whose product with h_{t-1} is what the candidate's
// recurrent weights see. The time loop over a share of units (see
// kernels/cells.h); per-step fused gate math in the kernel table
// (simd/cells_impl.h). Two recurrent products per step, the second waiting on
// the first's gate for every unit: two barriers per step in a team. In a
// bf16 run every product reads bf16 operands (kernels/lm.h): the forward
// its gate's columns of the share's packed W_hh^T block, the backward W_hh
// packed gate block by gate block (CellSpec::whh_blocks), since each gate's
// gradient multiplies its own block.
// T=steps, N=batch, H=hidden, G=2
#include "kernels/cells.h"
#include "simd/bf16.h"
#include "simd/kernels.h"

namespace deeprnn {
namespace {

// gh's block (R, width), rows ldc apart, of gate `gate` = A (R, H; rows lda
// apart) times that gate's W_hh^T, restricted to the share's units; bf16
// operands in a bf16 run.
void product(float* gh, long ldc, const float* A, long lda, long R, const LayerSeq& s, const UnitShare& u, int gate) {
  const KernelTable& k = kernels();
  const long H = s.H, w = u.width;
  if (u.whhT_bf) {  // the gate's columns of the share's packed block (H, 2 width)
    bf16_path().gemm({gh, A, nullptr, u.whhT_bf + gate * w, R, w, H, lda, bf16_packed_ld(2 * w), ldc, false, false,
                      nullptr},
                     Part{0, 1, u.scratch});
    return;
  }
  if (u.whhT) {
    k.gemm({gh, A, u.whhT + gate * w, R, w, H, lda, 2 * w, ldc, false, false, nullptr}, Part{0, 1, u.scratch});
    return;
  }
  for (long r = 0; r < R; ++r) k.gemm_nt_small(gh + r * ldc, A + r * lda, s.whh + gate * H * H, 1, H, H);  // all units
}

// C[:, u0:u0+width] (+)= d (N, H; rows 2H apart) times gate `gate`'s block of
// W_hh (H, H), its columns of the share's units: a gradient into h_{t-1} or
// f h_{t-1}; bf16 operands in a bf16 run (s.whh_bf by blocks, bf16_pack_whh).
void gate_grad(float* C, const float* d, const LayerSeq& s, const UnitShare& u, int gate, bool accumulate) {
  const long N = s.N, H = s.H;
  if (s.whh_bf) {
    bf16_path().gemm({C + u.u0, d, nullptr, s.whh_bf + gate * bf16_whh_block_pairs(s.cell, H) + u.u0, N, u.width, H,
                      2 * H, bf16_packed_ld(H), H, false, accumulate, nullptr},
                     Part{0, 1, u.scratch});
    return;
  }
  kernels().gemm({C + u.u0, d, s.whh + gate * H * H + u.u0, N, u.width, H, 2 * H, H, H, false, accumulate, nullptr},
                 Part{0, 1, u.scratch});
}

// dW (H, H) += A^T B over K rows: A a gate block of dgx (rows 2H apart), B
// (K, H) rows ldb apart; bf16 operands in a bf16 run.
void weight_grad(float* dw, const float* A, const float* B, long ldb, long K, const LayerSeq& s, Part part) {
  const long H = s.H;
  if (s.whh_bf) bf16_path().gemm({dw, A, B, nullptr, H, H, K, 2 * H, ldb, H, true, true, nullptr}, part);
  else kernels().gemm({dw, A, B, H, H, K, 2 * H, ldb, H, true, true, nullptr}, part);
}

}  // namespace

// f = sigmoid(gx_f + h_{t-1} W_hf^T + b_hf)
// n = tanh(gx_n + (f h_{t-1}) W_hn^T + b_hn); h = (1 - f) h_{t-1} + f n
// y: (T, N, H); saved: (T, N, 3H) as [f, n, f h_{t-1}]; gh: (N, 2 width) this share's products
// gx: (T, N, 2H); h0: (N, H); bhh: (2H)
void mgu_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team) {
  const KernelTable& k = kernels();
  const long N = s.N, H = s.H, u0 = u.u0, w = u.width;
  const Units units{N, H, w, w};
  for (long t = 0; t < s.T; ++t) {
    float* yt = s.y + t * N * H;
    const float* hp = t ? yt - N * H : s.h0;
    float* sv = s.saved + t * N * 3 * H;
    const float* gx = s.gx + t * N * 2 * H;
    product(gh, 2 * w, hp, H, N, s, u, 0);
    k.mgu_step_f(sv + u0, gx + u0, gh, s.bhh + u0, hp + u0, units);
    team.sync();  // every unit's f h_{t-1}
    product(gh + w, 2 * w, sv + 2 * H, 3 * H, N, s, u, 1);
    k.mgu_step_n(yt + u0, sv + u0, gx + u0, gh, s.bhh + u0, hp + u0, units);
    team.sync();
  }
}

// g = dy + dh; da_n = g f (1 - n^2); d(f h_{t-1}) = da_n W_hn
// da_f = (g (n - h_{t-1}) + d(f h_{t-1}) h_{t-1}) f (1 - f)
// dh_{t-1} = g (1 - f) + d(f h_{t-1}) f + da_f W_hf
// dgx: (T, N, 2H) = [da_f, da_n] (dgh is dgx); aux: (N, H) holds d(f h_{t-1})
void mgu_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team) {
  const KernelTable& k = kernels();
  const long N = s.N, H = s.H, u0 = u.u0, w = u.width;
  const Units units{N, H, w, w};
  for (long t = s.T - 1; t >= 0; --t) {
    const long row = t * N;
    const float* hp = t ? s.y + (row - N) * H : s.h0;
    float* dgx = g.dgx + row * 2 * H;
    const float* sv = s.saved + row * 3 * H;
    const float* dy = g.dy + row * H;
    k.mgu_back_n(dgx + u0, g.dh + u0, dy + u0, sv + u0, units, g.bsum + u0);
    team.sync();  // every unit's da_n
    gate_grad(g.aux, dgx + H, s, u, 1, false);
    k.mgu_back_f(dgx + u0, g.dh + u0, dy + u0, sv + u0, hp + u0, g.aux + u0, units, g.bsum + u0);
    team.sync();  // every unit's da_f
    if (t || need_dh0) gate_grad(g.dh, dgx, s, u, 0, true);
  }
}

// dW_hf += da_f^T [h0; y_0 .. y_{T-2}]; dW_hn += da_n^T [f h_{t-1}] over all steps
void mgu_weight_grads(const LayerSeq& s, const CellGrads& g, float* dwhh, Part part) {
  const long N = s.N, H = s.H, TN = s.T * N;
  if (s.h0 + N * H == s.y) {
    weight_grad(dwhh, g.dgx, s.h0, H, TN, s, part);
  } else {
    weight_grad(dwhh, g.dgx, s.h0, H, N, s, part);
    if (s.T > 1) weight_grad(dwhh, g.dgx + N * 2 * H, s.y, H, TN - N, s, part);
  }
  weight_grad(dwhh + H * H, g.dgx + H, s.saved + 2 * H, 3 * H, TN, s, part);
}

}  // namespace deeprnn
