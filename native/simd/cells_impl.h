// One time step of each cell's fused gate math (bias, activations and state
// update in one pass over memory), included once per instruction set (see
// gemm_impl.h). N=batch, H=hidden; the recurrent product gh = h_{t-1} W_hh^T
// is made by a GEMM before a forward step and dh_{t-1} = dgh W_hh after a
// backward step.
// Included once per translation unit, that is once per instruction set.
#pragma once

#ifndef DEEPRNN_ISA
#error "define DEEPRNN_ISA before including cells_impl.h"
#endif

#include "kernels/parallel.h"
#include "simd/math_impl.h"

namespace deeprnn {
namespace DEEPRNN_ISA {

// Each step kernel computes the units of a Units (simd/kernels.h): all of a
// layer's, or a thread's share when a team splits the layer by units. Rows
// and units are independent, and each element's arithmetic is the same
// whatever the share, so results do not depend on it. Each runs as
// *_impl<Full>: Full when the width is a whole number of vectors, so that
// every load and store is a whole, unmasked one with no per-vector test of
// the lanes left.

// h = phi(gx + gh + b_hh)
// h: (N, H); gx: (N, H); gh: rows gh_width apart; bhh: (H)
template <bool Full>
static inline void rnn_step_impl(float* h, const float* gx, const float* gh, const float* bhh, const Units& u,
                                 bool relu) {
  const long H = u.H, W = u.width;
  for (long n = 0; n < u.N; ++n) {
    float* __restrict row = h + n * H;
    const float* __restrict g = gx + n * H;
    const float* __restrict p = gh + n * u.gh_width;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf a = ld(p + j, m) + ld(g + j, m) + ld(bhh + j, m);
      // (a NaN stays NaN, as in PyTorch: a > 0 alone would make it 0 and hide it from the loss)
      st(row + j, relu ? (a > 0.0f || a != a ? a : 0.0f) : vtanh(a), m);
    }
  }
}

static void rnn_step(float* h, const float* gx, const float* gh, const float* bhh, const Units& u, bool relu) {
  if (u.width % kLanes == 0) rnn_step_impl<true>(h, gx, gh, bhh, u, relu);
  else rnn_step_impl<false>(h, gx, gh, bhh, u, relu);
}

// bsum[j:j+m] += v
static inline void add_to(float* bsum, long j, vf v, long m) { st(bsum + j, ld(bsum + j, m) + v, m); }

// da = (dy + dh) * phi'(a), from h = phi(a); bsum (H) += rows of da
// da, dy, dh, h: (N, H)
template <bool Full>
static inline void rnn_step_back_impl(float* da, const float* dy, const float* dh, const float* h, const Units& u,
                                      bool relu, float* bsum) {
  const long H = u.H, W = u.width;
  for (long n = 0; n < u.N; ++n) {
    float* __restrict d = da + n * H;
    const float* __restrict y = dy + n * H;
    const float* __restrict c = dh + n * H;
    const float* __restrict o = h + n * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf g = ld(y + j, m) + ld(c + j, m);
      const vf hv = ld(o + j, m);
      const vf a = relu ? (hv > 0.0f || hv != hv ? g : 0.0f) : g * vfma(-hv, hv, splat(1.0f));
      st(d + j, a, m);
      if (bsum) add_to(bsum, j, a, m);
    }
  }
}

static void rnn_step_back(float* da, const float* dy, const float* dh, const float* h, const Units& u, bool relu,
                          float* bsum) {
  if (u.width % kLanes == 0) rnn_step_back_impl<true>(da, dy, dh, h, u, relu, bsum);
  else rnn_step_back_impl<false>(da, dy, dh, h, u, relu, bsum);
}

// r = sigmoid(gx_r + gh_r + b_hr); z = sigmoid(gx_z + gh_z + b_hz)
// n = tanh(gx_n + r * (gh_n + b_hn)); h = (1 - z) * n + z * h_{t-1}
// h, hprev: (N, H); saved: (N, 4H) as [r, z, n, gh_n + b_hn]; gx: (N, 3H); bhh: (3H)
template <bool Full>
static inline void gru_step_impl(float* h, float* saved, const float* gx, const float* gh, const float* bhh,
                                 const float* hprev, const Units& u) {
  const long H = u.H, G = 3 * H, W = u.width, gw = u.gh_width;
  // Two passes over the rows: the gates r and z (independent of each other
  // and across rows), then n and h, which wait on r. Short independent
  // iterations keep many activations in flight instead of one long chain.
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict x = gx + n * G;
    const float* __restrict g = gh + n * 3 * gw;
    float* __restrict s = saved + n * 4 * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      st(s + j, vsigmoid(ld(x + j, m) + ld(g + j, m) + ld(bhh + j, m)), m);
      st(s + H + j, vsigmoid(ld(x + H + j, m) + ld(g + gw + j, m) + ld(bhh + H + j, m)), m);
      st(s + 3 * H + j, ld(g + 2 * gw + j, m) + ld(bhh + 2 * H + j, m), m);
    }
  }
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict x = gx + n * G;
    const float* __restrict hp = hprev + n * H;
    float* __restrict s = saved + n * 4 * H;
    float* __restrict out = h + n * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf r = ld(s + j, m), z = ld(s + H + j, m);
      const vf nn = vtanh(vfma(r, ld(s + 3 * H + j, m), ld(x + 2 * H + j, m)));
      st(out + j, vfma(z, ld(hp + j, m), (1.0f - z) * nn), m);
      st(s + 2 * H + j, nn, m);
    }
  }
}

static void gru_step(float* h, float* saved, const float* gx, const float* gh, const float* bhh, const float* hprev,
                     const Units& u) {
  if (u.width % kLanes == 0) gru_step_impl<true>(h, saved, gx, gh, bhh, hprev, u);
  else gru_step_impl<false>(h, saved, gx, gh, bhh, hprev, u);
}

// g = dy + dh; da_n = g (1 - z)(1 - n^2); da_r = da_n hn r (1 - r); da_z = g (h_{t-1} - n) z (1 - z)
// dgx = [da_r, da_z, da_n]; dgh = [da_r, da_z, da_n r]; dh <- g z (the direct part of dh_{t-1})
// bsum (4H) += rows of [da_r, da_z, da_n, da_n r]
// dgx, dgh: (N, 3H); dh, dy, hprev: (N, H); saved: (N, 4H)
template <bool Full>
static inline void gru_step_back_impl(float* dgx, float* dgh, float* dh, const float* dy, const float* saved,
                                      const float* hprev, const Units& u, float* bsum) {
  const long H = u.H, G = 3 * H, W = u.width;
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict s = saved + n * 4 * H;
    const float* __restrict d = dy + n * H;
    const float* __restrict hp = hprev + n * H;
    float* __restrict gx = dgx + n * G;
    float* __restrict gh = dgh + n * G;
    float* __restrict dhr = dh + n * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf r = ld(s + j, m), z = ld(s + H + j, m), nn = ld(s + 2 * H + j, m), hn = ld(s + 3 * H + j, m);
      const vf g = ld(d + j, m) + ld(dhr + j, m);
      const vf dan = g * (1.0f - z) * vfma(-nn, nn, splat(1.0f));
      const vf dar = dan * hn * r * (1.0f - r);
      const vf daz = g * (ld(hp + j, m) - nn) * z * (1.0f - z);
      st(gx + j, dar, m);
      st(gx + H + j, daz, m);
      st(gx + 2 * H + j, dan, m);
      st(gh + j, dar, m);
      st(gh + H + j, daz, m);
      st(gh + 2 * H + j, dan * r, m);
      st(dhr + j, g * z, m);
      if (bsum) {
        add_to(bsum, j, dar, m);
        add_to(bsum, H + j, daz, m);
        add_to(bsum, 2 * H + j, dan, m);
        add_to(bsum, 3 * H + j, dan * r, m);
      }
    }
  }
}

static void gru_step_back(float* dgx, float* dgh, float* dh, const float* dy, const float* saved, const float* hprev,
                          const Units& u, float* bsum) {
  if (u.width % kLanes == 0) gru_step_back_impl<true>(dgx, dgh, dh, dy, saved, hprev, u, bsum);
  else gru_step_back_impl<false>(dgx, dgh, dh, dy, saved, hprev, u, bsum);
}

// [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](gx + gh + b_hh)
// c = f * c_{t-1} + i * g; h = o * tanh(c)
// h: (N, H); saved: (N, 6H) as [i, f, g, o, c, tanh c]; gx: (N, 4H); bhh: (4H)
// cprev: row n at cprev + n * cstride
template <bool Full>
static inline void lstm_step_impl(float* h, float* saved, const float* gx, const float* gh, const float* bhh,
                                  const float* cprev, long cstride, const Units& u) {
  const long H = u.H, G = 4 * H, W = u.width, gw = u.gh_width;
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict x = gx + n * G;
    const float* __restrict g = gh + n * 4 * gw;
    const float* __restrict cp = cprev + n * cstride;
    float* __restrict s = saved + n * 6 * H;
    float* __restrict out = h + n * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf ig = vsigmoid(ld(x + j, m) + ld(g + j, m) + ld(bhh + j, m));
      const vf fg = vsigmoid(ld(x + H + j, m) + ld(g + gw + j, m) + ld(bhh + H + j, m));
      const vf gg = vtanh(ld(x + 2 * H + j, m) + ld(g + 2 * gw + j, m) + ld(bhh + 2 * H + j, m));
      const vf og = vsigmoid(ld(x + 3 * H + j, m) + ld(g + 3 * gw + j, m) + ld(bhh + 3 * H + j, m));
      const vf c = vfma(fg, ld(cp + j, m), ig * gg);
      const vf tc = vtanh(c);
      st(out + j, og * tc, m);
      st(s + j, ig, m);
      st(s + H + j, fg, m);
      st(s + 2 * H + j, gg, m);
      st(s + 3 * H + j, og, m);
      st(s + 4 * H + j, c, m);
      st(s + 5 * H + j, tc, m);
    }
  }
}

static void lstm_step(float* h, float* saved, const float* gx, const float* gh, const float* bhh, const float* cprev,
                      long cstride, const Units& u) {
  if (u.width % kLanes == 0) lstm_step_impl<true>(h, saved, gx, gh, bhh, cprev, cstride, u);
  else lstm_step_impl<false>(h, saved, gx, gh, bhh, cprev, cstride, u);
}

// g = dy + dh; dc_t = dc + g o (1 - tanh(c)^2)
// dgx = [dc_t g i(1-i), dc_t c_{t-1} f(1-f), dc_t i (1-g^2), g tanh(c) o(1-o)]; dc <- dc_t f
// bsum (4H) += rows of dgx
// dgx: (N, 4H); dh, dc, dy: (N, H); saved: (N, 6H); cprev as in lstm_step
template <bool Full>
static inline void lstm_step_back_impl(float* dgx, float* dc, const float* dh, const float* dy, const float* saved,
                                       const float* cprev, long cstride, const Units& u, float* bsum) {
  const long H = u.H, G = 4 * H, W = u.width;
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict s = saved + n * 6 * H;
    const float* __restrict cp = cprev + n * cstride;
    const float* __restrict d = dy + n * H;
    const float* __restrict dhr = dh + n * H;
    float* __restrict ga = dgx + n * G;
    float* __restrict dcr = dc + n * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf ig = ld(s + j, m), fg = ld(s + H + j, m), gg = ld(s + 2 * H + j, m), og = ld(s + 3 * H + j, m);
      const vf tc = ld(s + 5 * H + j, m);
      const vf g = ld(d + j, m) + ld(dhr + j, m);
      const vf dct = vfma(g * og, vfma(-tc, tc, splat(1.0f)), ld(dcr + j, m));
      const vf di = dct * gg * ig * (1.0f - ig), df = dct * ld(cp + j, m) * fg * (1.0f - fg);
      const vf dg = dct * ig * vfma(-gg, gg, splat(1.0f)), dout = g * tc * og * (1.0f - og);
      st(ga + j, di, m);
      st(ga + H + j, df, m);
      st(ga + 2 * H + j, dg, m);
      st(ga + 3 * H + j, dout, m);
      st(dcr + j, dct * fg, m);
      if (bsum) {
        add_to(bsum, j, di, m);
        add_to(bsum, H + j, df, m);
        add_to(bsum, 2 * H + j, dg, m);
        add_to(bsum, 3 * H + j, dout, m);
      }
    }
  }
}

static void lstm_step_back(float* dgx, float* dc, const float* dh, const float* dy, const float* saved,
                           const float* cprev, long cstride, const Units& u, float* bsum) {
  if (u.width % kLanes == 0) lstm_step_back_impl<true>(dgx, dc, dh, dy, saved, cprev, cstride, u, bsum);
  else lstm_step_back_impl<false>(dgx, dc, dh, dy, saved, cprev, cstride, u, bsum);
}

// MGU, gate blocks f, n (kernels/mgu.cc): the forget gate and f h_{t-1}, which
// the candidate's recurrent product reads; then the candidate and h.
// saved: (N, 3H) as [f, n, f h_{t-1}]; gx: (N, 2H); gh: this share's (N, 2 gh_width) [f, n]; bhh: (2H)
// f = sigmoid(gx_f + gh_f + b_hf); saved <- f, f h_{t-1}
template <bool Full>
static inline void mgu_step_f_impl(float* saved, const float* gx, const float* gh, const float* bhh,
                                   const float* hprev, const Units& u) {
  const long H = u.H, W = u.width, gw = u.gh_width;
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict x = gx + n * 2 * H;
    const float* __restrict g = gh + n * 2 * gw;
    const float* __restrict hp = hprev + n * H;
    float* __restrict s = saved + n * 3 * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf f = vsigmoid(ld(x + j, m) + ld(g + j, m) + ld(bhh + j, m));
      st(s + j, f, m);
      st(s + 2 * H + j, f * ld(hp + j, m), m);
    }
  }
}

static void mgu_step_f(float* saved, const float* gx, const float* gh, const float* bhh, const float* hprev,
                       const Units& u) {
  if (u.width % kLanes == 0) mgu_step_f_impl<true>(saved, gx, gh, bhh, hprev, u);
  else mgu_step_f_impl<false>(saved, gx, gh, bhh, hprev, u);
}

// n = tanh(gx_n + gh_n + b_hn); h = h_{t-1} + f (n - h_{t-1}); saved <- n
template <bool Full>
static inline void mgu_step_n_impl(float* h, float* saved, const float* gx, const float* gh, const float* bhh,
                                   const float* hprev, const Units& u) {
  const long H = u.H, W = u.width, gw = u.gh_width;
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict x = gx + n * 2 * H;
    const float* __restrict g = gh + n * 2 * gw;
    const float* __restrict hp = hprev + n * H;
    float* __restrict s = saved + n * 3 * H;
    float* __restrict out = h + n * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf nn = vtanh(ld(x + H + j, m) + ld(g + gw + j, m) + ld(bhh + H + j, m));
      const vf p = ld(hp + j, m);
      st(out + j, vfma(ld(s + j, m), nn - p, p), m);
      st(s + H + j, nn, m);
    }
  }
}

static void mgu_step_n(float* h, float* saved, const float* gx, const float* gh, const float* bhh, const float* hprev,
                       const Units& u) {
  if (u.width % kLanes == 0) mgu_step_n_impl<true>(h, saved, gx, gh, bhh, hprev, u);
  else mgu_step_n_impl<false>(h, saved, gx, gh, bhh, hprev, u);
}

// g = dy + dh; da_n = g f (1 - n^2) into dgx's n block; bsum's n block += rows of da_n
// dgx: (N, 2H); dh, dy: (N, H); saved as in mgu_step_f
template <bool Full>
static inline void mgu_back_n_impl(float* dgx, const float* dh, const float* dy, const float* saved, const Units& u,
                                   float* bsum) {
  const long H = u.H, W = u.width;
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict s = saved + n * 3 * H;
    const float* __restrict d = dy + n * H;
    const float* __restrict c = dh + n * H;
    float* __restrict ga = dgx + n * 2 * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf nn = ld(s + H + j, m);
      const vf dan = (ld(d + j, m) + ld(c + j, m)) * ld(s + j, m) * vfma(-nn, nn, splat(1.0f));
      st(ga + H + j, dan, m);
      add_to(bsum, H + j, dan, m);
    }
  }
}

static void mgu_back_n(float* dgx, const float* dh, const float* dy, const float* saved, const Units& u,
                       float* bsum) {
  if (u.width % kLanes == 0) mgu_back_n_impl<true>(dgx, dh, dy, saved, u, bsum);
  else mgu_back_n_impl<false>(dgx, dh, dy, saved, u, bsum);
}

// g = dy + dh; with dfh = d(f h_{t-1}) (rows H apart):
// da_f = (g (n - h_{t-1}) + dfh h_{t-1}) f (1 - f) into dgx's f block; dh <- g (1 - f) + dfh f
// (the direct part of dh_{t-1}); bsum's f block += rows of da_f
template <bool Full>
static inline void mgu_back_f_impl(float* dgx, float* dh, const float* dy, const float* saved, const float* hprev,
                                   const float* dfh, const Units& u, float* bsum) {
  const long H = u.H, W = u.width;
  for (long n = 0; n < u.N; ++n) {
    const float* __restrict s = saved + n * 3 * H;
    const float* __restrict d = dy + n * H;
    const float* __restrict hp = hprev + n * H;
    const float* __restrict q = dfh + n * H;
    float* __restrict c = dh + n * H;
    float* __restrict ga = dgx + n * 2 * H;
    for (long j = 0; j < W; j += kLanes) {
      const long m = Full ? kLanes : W - j < kLanes ? W - j : kLanes;
      const vf f = ld(s + j, m), nn = ld(s + H + j, m), p = ld(hp + j, m), dq = ld(q + j, m);
      const vf g = ld(d + j, m) + ld(c + j, m);
      const vf daf = vfma(dq, p, g * (nn - p)) * f * (1.0f - f);
      st(ga + j, daf, m);
      st(c + j, vfma(dq, f, g * (1.0f - f)), m);
      add_to(bsum, j, daf, m);
    }
  }
}

static void mgu_back_f(float* dgx, float* dh, const float* dy, const float* saved, const float* hprev,
                       const float* dfh, const Units& u, float* bsum) {
  if (u.width % kLanes == 0) mgu_back_f_impl<true>(dgx, dh, dy, saved, hprev, dfh, u, bsum);
  else mgu_back_f_impl<false>(dgx, dh, dy, saved, hprev, dfh, u, bsum);
}

// out[m, 0:width] = src[idx[m], 0:width]
static void gather_rows(float* out, const float* src, const int* idx, long M, long width, long stride) {
  for (long m = 0; m < M; ++m) {
    const float* __restrict from = src + idx[m] * stride;
    float* __restrict to = out + m * stride;
    for (long j = 0; j < width; j += kLanes) {
      const long n = width - j < kLanes ? width - j : kLanes;
      st(to + j, ld(from + j, n), n);
    }
  }
}

// dst[idx[m], 0:width] += src[m, 0:width], m ascending: every element sums in row order.
static void scatter_add_rows(float* dst, const float* src, const int* idx, long M, long width, long stride) {
  for (long m = 0; m < M; ++m) {
    const float* __restrict from = src + m * stride;
    float* __restrict to = dst + idx[m] * stride;
    for (long j = 0; j < width; j += kLanes) {
      const long n = width - j < kLanes ? width - j : kLanes;
      st(to + j, ld(to + j, n) + ld(from + j, n), n);
    }
  }
}

// y[i] = f(x[i]) for f in exp, sigmoid, tanh: what the cells use, for tests
static void math_eval(int fn, float* y, const float* x, long n) {
  for (long i = 0; i < n; i += kLanes) {
    const long m = n - i < kLanes ? n - i : kLanes;
    const vf v = ld(x + i, m);
    st(y + i, fn == 0 ? vexp(v) : fn == 1 ? vsigmoid(v) : vtanh(v), m);
  }
}

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
