// See lm.h. Per chunk of nc windows (Mc = T*nc rows, time-major like the batch):
// gather the chunk's tokens, masks and initial state; forward every layer,
// the output layer and the loss; backward every layer; write the final state.
// T=steps, N=windows, L=layers, H=hidden, G=gates, V=vocab
#include "kernels/lm.h"

#include <cstring>
#include <vector>

#include "kernels/cells.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"

namespace deeprnn {
namespace {

// A grow-only buffer of the calling thread for one chunk's activations.
float* chunk_buffer(long n) {
  static thread_local std::vector<float> buf;
  return aligned_in(buf, n);
}

// Weights in the layouts the forward kernels read, made once per batch and
// shared (read only) by every chunk: per layer W_ih^T (or layer 0's gather
// table W_ih^T + b_ih) and W_hh^T, then the output layer's W^T.
struct Prepared {
  const float* in[kMaxLayers];
  const float* hh[kMaxLayers];
  const float* out;
};

struct Chunk {
  const LmShape& s;
  const Prepared& w;
  const float* params;
  long T, N, n0, nc;
  const int* inputs;
  const int* targets;
  const float* masks;
  float* state;
  float scale;
  bool train;   // false: forward and loss only (g unused)
  long* hits;   // evaluation: targets that were the argmax

  const float* p(long i) const { return params + s.offsets[i]; }

  double run(float* g) const {
    const long L = s.L, G = cell_gates(s.cell), Mc = T * nc, V = s.V;
    const bool lstm = s.cell == Cell::LSTM;
    long maxH = 0, work = V * G * s.H[0];
    for (long l = 0; l < L; ++l) {
      const long H = s.H[l], I = l ? s.H[l - 1] : 0;
      maxH = H > maxH ? H : maxH;
      const long cw = cell_forward_work_floats(s.cell, T, nc, H), bw = cell_backward_work_floats(s.cell, T, nc, H);
      work = cw > work ? cw : work;
      work = bw > work ? bw : work;
      work = I * G * H > work ? I * G * H : work;
    }
    work = V * maxH > work ? V * maxH : work;
    // Layout: the chunk's tokens and targets, per layer [gx, y, out, saved, h0, c0, hT, cT], then dgx,
    // two (Mc, maxH) gradient buffers, logits and the kernels' work space.
    long total = align_up(2 * Mc);
    long at[8 * kMaxLayers];
    for (long l = 0; l < L; ++l) {
      const long H = s.H[l];
      const long sizes[8] = {Mc * G * H, Mc * H, masks ? Mc * H : 0, cell_saved_floats(s.cell, T, nc, H), nc * H,
                             lstm ? nc * H : 0, nc * H, lstm ? nc * H : 0};
      for (int k = 0; k < 8; ++k) {
        at[8 * l + k] = total;
        total += align_up(sizes[k]);
      }
    }
    const long at_dgx = total, at_d1 = at_dgx + align_up(Mc * G * maxH), at_d2 = at_d1 + align_up(Mc * maxH);
    const long at_logits = at_d2 + align_up(Mc * maxH), at_work = at_logits + align_up(Mc * V);
    total = at_work + work;
    float* buf = chunk_buffer(total);
    int* cin = reinterpret_cast<int*>(buf);
    int* ctg = cin + Mc;
    for (long t = 0; t < T; ++t) {
      std::memcpy(cin + t * nc, inputs + t * N + n0, sizeof(int) * nc);
      std::memcpy(ctg + t * nc, targets + t * N + n0, sizeof(int) * nc);
    }
    float* wk = buf + at_work;
    auto slot = [&](long l, int k) { return buf + at[8 * l + k]; };

    // Forward, every layer
    const float* x = nullptr;
    for (long l = 0; l < L; ++l) {
      const long H = s.H[l], GH = G * H;
      float* gx = slot(l, 0);
      float* y = slot(l, 1);
      float* h0 = slot(l, 4);
      float* c0 = lstm ? slot(l, 5) : nullptr;
      if (l == 0) embedding_forward(gx, wk, cin, p(0), p(2), Mc, V, GH, w.in[0]);
      else linear_forward(gx, wk, x, p(4 * l), p(4 * l + 2), Mc, s.H[l - 1], GH, w.in[l]);
      if (state) {
        std::memcpy(h0, state + state_h(l) + n0 * H, sizeof(float) * nc * H);
        if (lstm) std::memcpy(c0, state + state_c(l) + n0 * H, sizeof(float) * nc * H);
      } else {
        std::memset(h0, 0, sizeof(float) * nc * H);
        if (lstm) std::memset(c0, 0, sizeof(float) * nc * H);
      }
      cell_forward(s.cell, y, slot(l, 6), lstm ? slot(l, 7) : nullptr, slot(l, 3), wk, gx, h0, c0, p(4 * l + 1),
                   p(4 * l + 3), T, nc, H, w.hh[l]);
      x = y;
      if (masks && l < L - 1) {
        float* out = slot(l, 2);
        const float* m = masks + mask_offset(l);
        for (long t = 0; t < T; ++t) {
          const float* mt = m + (t * N + n0) * H;
          const float* yt = y + t * nc * H;
          float* ot = out + t * nc * H;
          for (long i = 0; i < nc * H; ++i) ot[i] = yt[i] * mt[i];
        }
        x = out;
      }
    }
    // The final state, into this chunk's rows (no other chunk reads them)
    if (state)
      for (long l = 0; l < L; ++l) {
        const long H = s.H[l];
        std::memcpy(state + state_h(l) + n0 * H, slot(l, 6), sizeof(float) * nc * H);
        if (lstm) std::memcpy(state + state_c(l) + n0 * H, slot(l, 7), sizeof(float) * nc * H);
      }

    const long Ht = s.H[L - 1];
    if (!train) return xent_forward(buf + at_logits, wk, hits, x, p(4 * L), p(4 * L + 1), ctg, Mc, Ht, V, w.out);

    // Output layer and loss, fused with their backward
    float* dy = buf + at_d1;
    const double loss = xent_forward_backward(dy, g + s.offsets[4 * L], g + s.offsets[4 * L + 1], buf + at_logits,
                                              wk, x, p(4 * L), p(4 * L + 1), ctg, Mc, Ht, V, scale, w.out);

    // Backward, every layer; the gradient of the initial state is not needed (it goes to the hT/cT slots)
    float* dgx = buf + at_dgx;
    for (long l = L - 1; l >= 0; --l) {
      const long H = s.H[l], GH = G * H;
      cell_backward(s.cell, dgx, slot(l, 6), lstm ? slot(l, 7) : nullptr, g + s.offsets[4 * l + 1],
                    g + s.offsets[4 * l + 3], wk, dy, nullptr, nullptr, slot(l, 3), slot(l, 1), slot(l, 4),
                    lstm ? slot(l, 5) : nullptr, p(4 * l + 1), T, nc, H, g + s.offsets[4 * l + 2]);
      // b_ih's gradient came with b_hh's from the step kernels: no bias sums below
      if (l == 0) {
        embedding_backward(g + s.offsets[0], nullptr, wk, dgx, cin, Mc, V, GH);
      } else {
        const long I = s.H[l - 1];
        float* dx = dy == buf + at_d1 ? buf + at_d2 : buf + at_d1;
        const float* xin = masks ? slot(l - 1, 2) : slot(l - 1, 1);
        linear_backward(dx, g + s.offsets[4 * l], nullptr, dgx, xin, p(4 * l), Mc, I, GH);
        if (masks) {
          const float* m = masks + mask_offset(l - 1);
          for (long t = 0; t < T; ++t) {
            const float* mt = m + (t * N + n0) * I;
            float* dt = dx + t * nc * I;
            for (long i = 0; i < nc * I; ++i) dt[i] *= mt[i];
          }
        }
        dy = dx;
      }
    }
    return loss;
  }

  // Where layer l's h, and its c (after every layer's h), start in state.
  long state_h(long l) const {
    long off = 0;
    for (long k = 0; k < l; ++k) off += N * s.H[k];
    return off;
  }
  long state_c(long l) const { return state_h(s.L) + state_h(l); }

  long mask_offset(long l) const {
    long off = 0;
    for (long k = 0; k < l; ++k) off += T * N * s.H[k];
    return off;
  }
};

// The transposed weights every chunk reads, in a grow-only buffer of the caller's thread.
Prepared prepare(const LmShape& s, const float* params) {
  const long G = cell_gates(s.cell);
  long wsize = s.V * s.H[s.L - 1];
  for (long l = 0; l < s.L; ++l) wsize += align_up(G * s.H[l] * (l ? s.H[l - 1] : s.V)) + align_up(G * s.H[l] * s.H[l]);
  static thread_local std::vector<float> wbuf;
  Prepared w;
  float* at = aligned_in(wbuf, wsize);
  for (long l = 0; l < s.L; ++l) {
    const long GH = G * s.H[l], I = l ? s.H[l - 1] : s.V;
    if (l == 0) embedding_table(at, params + s.offsets[0], params + s.offsets[2], s.V, GH);
    else transpose(at, params + s.offsets[4 * l], GH, I);
    w.in[l] = at;
    at += align_up(GH * I);
    transpose(at, params + s.offsets[4 * l + 1], GH, s.H[l]);
    w.hh[l] = at;
    at += align_up(GH * s.H[l]);
  }
  transpose(at, params + s.offsets[4 * s.L], s.V, s.H[s.L - 1]);
  w.out = at;
  return w;
}

}  // namespace

double lm_train_chunks(const LmShape& s, const float* params, float* grads, const int* inputs, const int* targets,
                       long T, long N, long rows, const float* masks, float* state, float scale) {
  const long nchunks = (N + rows - 1) / rows;
  static thread_local std::vector<float> gbuf;
  static thread_local std::vector<double> lbuf;
  if (static_cast<long>(lbuf.size()) < nchunks) lbuf.resize(static_cast<size_t>(nchunks));
  const long gstride = align_up(s.P);
  float* gc = aligned_in(gbuf, nchunks * gstride);
  double* losses = lbuf.data();
  const Prepared w = prepare(s, params);
  parallel_for(nchunks > 1, nchunks, [&](long c) {
    const long n0 = c * rows, nc = N - n0 < rows ? N - n0 : rows;
    float* g = gc + c * gstride;
    std::memset(g, 0, sizeof(float) * s.P);
    const Chunk ch{s, w, params, T, N, n0, nc, inputs, targets, masks, state, scale, true, nullptr};
    losses[c] = ch.run(g);
  });
  // grads += chunk gradients, in chunk order for every element
  parallel_for(s.P * nchunks >= kParallelWork, s.P, [&](long i) {
    float v = grads[i];
    for (long c = 0; c < nchunks; ++c) v += gc[c * gstride + i];
    grads[i] = v;
  });
  double loss = 0.0;
  for (long c = 0; c < nchunks; ++c) loss += losses[c];
  return loss;
}

double lm_eval_chunks(const LmShape& s, const float* params, const int* inputs, const int* targets, long T, long N,
                      long rows, float* state, long* correct) {
  const long nchunks = (N + rows - 1) / rows;
  static thread_local std::vector<double> lbuf;
  static thread_local std::vector<long> hbuf;
  if (static_cast<long>(lbuf.size()) < nchunks) {
    lbuf.resize(static_cast<size_t>(nchunks));
    hbuf.resize(static_cast<size_t>(nchunks));
  }
  double* losses = lbuf.data();
  long* hits = hbuf.data();
  const Prepared w = prepare(s, params);
  parallel_for(nchunks > 1, nchunks, [&](long c) {
    const long n0 = c * rows, nc = N - n0 < rows ? N - n0 : rows;
    hits[c] = 0;
    const Chunk ch{s, w, params, T, N, n0, nc, inputs, targets, nullptr, state, 0.0f, false, &hits[c]};
    losses[c] = ch.run(nullptr);
  });
  double loss = 0.0;
  for (long c = 0; c < nchunks; ++c) {
    loss += losses[c];
    *correct += hits[c];
  }
  return loss;
}

}  // namespace deeprnn
