// See lm.h. A batch: weights prepared by all threads (transposed, W_hh^T
// packed for the team size), then each team runs its chunks: gather the
// chunk's tokens, masks and initial state; forward every layer, the output
// layer and the loss; backward every layer; write the final state. Then the
// chunks' gradients are summed in chunk order.
// T=steps, N=windows, L=layers, H=hidden, G=gates, V=vocab; per chunk nc
// windows and Mc = T*nc rows, time-major like the batch.
#include "kernels/lm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "kernels/cells.h"
#include "kernels/optim.h"
#include "kernels/parallel.h"
#include "kernels/team.h"
#include "simd/bf16.h"
#include "simd/kernels.h"

namespace deeprnn {
namespace {

// x[j] += g[c * stride + j] for c = 0, 1, ..., nchunks - 1, in that order, for
// every j < n: the sums of a loop over the chunks for each element, made a
// block of x at a time so that the adds run on vectors (before, one element
// at a time through every chunk; the book's step, 64 chunks, ran 1.007x (2
// threads) and 1.013x (1 thread) as fast with this, on the same bits).
void add_in_chunk_order(float* __restrict x, const float* __restrict g, long stride, long nchunks, long n) {
  constexpr long kBlock = 1024;
  for (long j0 = 0; j0 < n; j0 += kBlock) {
    const long m = n - j0 < kBlock ? n - j0 : kBlock;
    float* __restrict xb = x + j0;
    for (long c = 0; c < nchunks; ++c) {
      const float* __restrict gb = g + c * stride + j0;
      for (long j = 0; j < m; ++j) xb[j] += gb[j];
    }
  }
}

// Rows of logits per partial loss sum, as softmax_xent sums them.
constexpr long kLossRows = 256;

// A layer's parameters, or their gradients, as named views of the flat buffer.
template <typename F>
struct LayerParamsT {
  F* W_ih;  // (G*H, I)
  F* W_hh;  // (G*H, H)
  F* b_ih;  // (G*H)
  F* b_hh;  // (G*H)
};
using LayerParams = LayerParamsT<const float>;
using LayerGrads = LayerParamsT<float>;

template <typename F>
LayerParamsT<F> layer_at(const LmShape& s, F* base, long l) {
  const LayerOffsets& o = s.layer[l];
  return {base + o.W_ih, base + o.W_hh, base + o.b_ih, base + o.b_hh};
}

long max_hidden(const LmShape& s) {
  long m = 0;
  for (long l = 0; l < s.L; ++l) m = s.H[l] > m ? s.H[l] : m;
  return m;
}

// Weights in the layouts the chunks read, made once per batch and shared.
struct Prepared {
  float* in[kMaxLayers];   // layer 0: the gather table (V, G*H), row v = W_ih[:, v] + b_ih; else W_ih^T (I, G*H)
  float* hhT[kMaxLayers];  // W_hh^T packed for the team size (pack_whhT): (H, G*H)
  // whh_in_panels: float32 runs pack hhT's blocks in panels and make hh; bf16
  // runs pack hhT_bf's blocks in panels.
  bool panels[kMaxLayers];
  float* hh[kMaxLayers];  // float32 with panels: W_hh's columns for the team size (pack_whh_cols), else null
  float* out;              // the output layer's W^T (H_top, V)
  // bf16 runs only (else null): the weights rounded to bf16 and packed in
  // k-pairs (bf16_pack_b), as each product reads them.
  bool bf16;
  uint32_t* inT_bf[kMaxLayers];  // layers above 0: W_ih^T (I, G*H), for gx
  uint32_t* in_bf[kMaxLayers];   // layers above 0: W_ih (G*H, I), for dL/dx
  uint32_t* hhT_bf[kMaxLayers];  // hhT's blocks for the team size (packed_share_bf16)
  uint32_t* hh_bf[kMaxLayers];   // W_hh (G*H, H) by the cell's blocks (bf16_pack_whh), for dL/dh_{t-1}
  uint32_t* outT_bf;             // W_out^T (H_top, V), for the logits
  uint32_t* out_bf;              // W_out (V, H_top), for dL/dx

  // Carves the buffers from base (null: only counts) for teams of `size`; returns floats used.
  // with_cols: W_hh's columns for the backward (training only).
  long carve(float* base, const LmShape& s, bool with_bf16, int size, bool with_cols) {
    const long G = cell_gates(s.cell);
    long at = 0;
    auto take = [&](long n) {
      float* p = base ? base + at : nullptr;
      at += align_up(n);
      return p;
    };
    // A pair of bf16 is a uint32, a float's size.
    auto take_bf = [&](long pairs) { return with_bf16 ? reinterpret_cast<uint32_t*>(take(pairs)) : nullptr; };
    bf16 = with_bf16;
    for (long l = 0; l < s.L; ++l) {
      const long H = s.H[l], GH = G * H, I = l ? s.H[l - 1] : s.V;
      in[l] = take(GH * I);
      hhT[l] = take(GH * H);
      panels[l] = whh_in_panels(s.cell, H);
      hh[l] = panels[l] && !with_bf16 && with_cols ? take(GH * H) : nullptr;
      inT_bf[l] = l ? take_bf(bf16_packed_size(I, GH)) : nullptr;
      in_bf[l] = l ? take_bf(bf16_packed_size(GH, I)) : nullptr;
      hhT_bf[l] = take_bf(bf16_whhT_pairs(H, static_cast<int>(G), size));
      hh_bf[l] = take_bf(bf16_whh_pairs(s.cell, H));
    }
    const long Ht = s.H[s.L - 1];
    out = take(Ht * s.V);
    outT_bf = take_bf(bf16_packed_size(Ht, s.V));
    out_bf = take_bf(bf16_packed_size(s.V, Ht));
    return at;
  }
};

// Rows [r0, r1) of W_ih (G*H, V) into the gather table (V, G*H) of a bf16
// run: table[v, o] = bf16(W_ih[o, v]) + b_ih[o], what a one-hot row times
// bf16 weights gives (bf16_operand: as a product reads them), with the bias in float32.
void gather_table_bf16(float* table, long GH, const float* W, long V, long r0, long r1, const float* bias) {
  for (long r = r0; r < r1; ++r)
    for (long v = 0; v < V; ++v) table[v * GH + r] = bf16_to_float(bf16_operand(W[r * V + v])) + bias[r];
}

// This thread's share (tid of nth) of the bf16 weights of a bf16 run: every
// packing's rows of pairs shared out contiguously. After prepare (the blocks
// of W_hh^T are packed from its hhT).
void prepare_bf16(const Prepared& w, const LmShape& s, const float* params, int size, int tid, int nth) {
  const long G = cell_gates(s.cell);
  // One packing: B (K, N) from src (rows ldb apart, transposed when trans) into out.
  auto pack = [&](uint32_t* out, const float* src, long ldb, bool trans, long K, long N, bool panels = false) {
    const long Kp = (K + 1) / 2;
    (panels ? bf16_pack_b_panels : bf16_pack_b)(out, src, ldb, trans, K, N, Kp * tid / nth, Kp * (tid + 1) / nth);
  };
  for (long l = 0; l < s.L; ++l) {
    const long H = s.H[l], GH = G * H;
    const LayerParams p = layer_at(s, params, l);
    if (l) {
      const long I = s.H[l - 1];
      pack(w.inT_bf[l], p.W_ih, I, true, I, GH);
      pack(w.in_bf[l], p.W_ih, I, false, GH, I);
    }
    bf16_pack_whh(w.hh_bf[l], p.W_hh, s.cell, H, tid, nth);
    for (int t = 0; t < size; ++t) {
      long u0, u1;
      unit_range(H, t, size, &u0, &u1);
      const long width = G * (u1 - u0);
      pack(w.hhT_bf[l] + packed_share_bf16(H, static_cast<int>(G), u0, t), w.hhT[l] + H * G * u0, width, false, H,
           width, w.panels[l]);
    }
  }
  const long Ht = s.H[s.L - 1];
  pack(w.outT_bf, params + s.W_out, Ht, true, Ht, s.V);
  pack(w.out_bf, params + s.W_out, Ht, false, s.V, Ht);
}

// This thread's share (tid of nth) of preparing the weights for teams of `size`:
// the jobs' rows in blocks of 32, blocks shared out contiguously.
void prepare(const Prepared& w, const LmShape& s, const float* params, int size, int tid, int nth) {
  const long G = cell_gates(s.cell), B = 32;
  // Jobs: per layer the input weights (0), W_hh^T (1) and W_hh's columns (2,
  // with panels only), then the output layer (3L); their source rows.
  auto job_rows = [&](long j) {
    if (j == 3 * s.L) return s.V;
    return j % 3 == 2 && !w.hh[j / 3] ? 0 : G * s.H[j / 3];
  };
  long total = 0;
  for (long j = 0; j <= 3 * s.L; ++j) total += (job_rows(j) + B - 1) / B;
  const long b0 = total * tid / nth, b1 = total * (tid + 1) / nth;
  long first = 0;  // blocks before job j
  for (long j = 0; j <= 3 * s.L && first < b1; ++j) {
    const long rows = job_rows(j), blocks = (rows + B - 1) / B;
    for (long b = b0 > first ? b0 - first : 0; b < blocks && first + b < b1; ++b) {
      const long r0 = b * B, r1 = r0 + B < rows ? r0 + B : rows;
      if (j == 3 * s.L) {
        if (w.bf16) continue;  // the bf16 products read outT_bf and out_bf
        const long Ht = s.H[s.L - 1];
        transpose_rows(w.out, s.V, params + s.W_out, Ht, r0, r1, Ht, nullptr);
        continue;
      }
      const long l = j / 3, H = s.H[l], GH = G * H;
      const LayerParams p = layer_at(s, params, l);
      if (j % 3 == 1) pack_whhT(w.hhT[l], p.W_hh, H, static_cast<int>(G), size, r0, r1, w.panels[l] && !w.bf16);
      else if (j % 3 == 2) pack_whh_cols(w.hh[l], p.W_hh, H, static_cast<int>(G), size, r0, r1);
      else if (l == 0 && w.bf16) gather_table_bf16(w.in[0], GH, p.W_ih, s.V, r0, r1, p.b_ih);
      else if (l == 0) transpose_rows(w.in[0], GH, p.W_ih, s.V, r0, r1, s.V, p.b_ih);
      else if (!w.bf16) transpose_rows(w.in[l], GH, p.W_ih, s.H[l - 1], r0, r1, s.H[l - 1], nullptr);
    }
    first += blocks;
  }
}

// One layer's activations in a chunk.
struct LayerBuffers {
  float* gx;     // (Mc, G*H): x W_ih^T + b_ih
  float* h0;     // (nc, H): the initial state, directly before y, so that [h0; y] is one matrix
  float* y;      // (Mc, H): outputs
  float* out;    // (Mc, H): y * dropout mask, what the layer above reads (y itself without masks)
  float* saved;  // cell_saved_floats
  float* c0;     // (nc, H): cells that carry c
};

// A chunk's buffers, named.
struct ChunkBuffers {
  int* tokens;   // (Mc) the chunk's inputs
  int* targets;  // (Mc)
  LayerBuffers layer[kMaxLayers];
  float* gh;      // (nc, G*maxH): recurrent products, a block per thread's units
  float* logits;  // (Mc, V): logits, then their gradient
  // Training only:
  float* dgx;   // (Mc, G*maxH): gradient of a layer's gx
  float* dgh;   // (Mc, dgh*maxH): the gradient of the recurrent product where it is not dgx (GRU's)
  float* d[2];  // (Mc, maxH): gradients of a layer's output and of its input, in turn
  float* dh;    // (nc, maxH): gradient flowing into h_t
  float* dc;    // (nc, maxH): into c_t, for cells that carry c
  float* aux;   // (nc, maxH): the cells' scratch
  float* bsum;  // (4 maxH): the step kernels' bias sums
  float* dWT;   // (V, G*H_0): layer 0's weight gradient, transposed

  // Carves the buffers for nc windows from base (null: only counts); returns floats used.
  long carve(float* base, const LmShape& s, long T, long nc, bool train, bool masked) {
    const long G = cell_gates(s.cell), Mc = T * nc, maxH = max_hidden(s), V = s.V;
    const CellSpec& cell = cell_spec(s.cell);
    const bool lstm = cell.carries_c();
    long at = 0;
    auto take = [&](long n) {
      float* p = base ? base + at : nullptr;
      at += align_up(n);
      return p;
    };
    tokens = reinterpret_cast<int*>(take(Mc));
    targets = reinterpret_cast<int*>(take(Mc));
    for (long l = 0; l < s.L; ++l) {
      const long H = s.H[l];
      LayerBuffers& b = layer[l];
      b.gx = take(Mc * G * H);
      // h0 ends where y starts (y on 64 bytes): pad before h0 instead of after it.
      const long h0n = nc * H, pad = align_up(h0n) - h0n;
      float* both = take(pad + h0n + Mc * H);
      b.h0 = both ? both + pad : nullptr;
      b.y = both ? both + pad + h0n : nullptr;
      b.out = masked && l < s.L - 1 ? take(Mc * H) : b.y;
      b.saved = take(cell_saved_floats(s.cell, T, nc, H));
      b.c0 = lstm ? take(nc * H) : nullptr;
    }
    gh = take(nc * G * maxH);
    logits = take(Mc * V);
    if (train) {
      dgx = take(Mc * G * maxH);
      dgh = cell.dgh ? take(Mc * cell.dgh * maxH) : dgx;
      d[0] = take(Mc * maxH);
      d[1] = take(Mc * maxH);
      dh = take(nc * maxH);
      dc = lstm ? take(nc * maxH) : nullptr;
      aux = take(nc * maxH);
      bsum = take(4 * maxH);
      dWT = take(V * G * s.H[0]);
    }
    return at;
  }
};

// What every chunk of a batch shares.
struct Batch {
  const LmShape& s;
  const float* params;
  LmTokens& tokens;
  long T, N, rows, nchunks;
  const float* masks;  // null, or per layer below the top (T, N, H_l)
  float* state;        // null, or per layer h (N, H_l), then per layer c (LSTM)
  float scale;
  bool train;
  const Bf16Path* bf;  // bf16 products: the path; null for float32
  bool keep = false;   // training: leave each chunk's gradients in its own buffer (kept_*), grads untouched
  double* squares = nullptr;  // training without keep: null, or where the sum of squares of grads goes

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

// Chunk c (windows [n0, n0 + nc)) as thread team.tid of its team computes it.
struct Chunk {
  const Batch& b;
  const Prepared& w;
  const Team& team;
  long n0, nc, Mc;
  ChunkBuffers buf;
  float* g;            // gradients (training; null when evaluating)
  bool zero_g;         // g is this chunk's own buffer, zeroed first
  double* block_loss;  // per kLossRows rows of logits
  long* block_hits;    // evaluation: argmax hits per block

  const KernelTable& k() const { return kernels(); }
  void rows(long n, long* a, long* e) const { team.share(n, 1, a, e); }

  // Returns the chunk's loss sum; *hits its argmax hits (evaluation).
  double run(long* hits) {
    load();
    const float* x = nullptr;
    for (long l = 0; l < b.s.L; ++l) x = forward_layer(l, x);
    const double loss = output(x, hits);
    if (b.train) {
      float* dy = buf.d[0];
      for (long l = b.s.L - 1; l >= 0; --l) dy = backward_layer(l, dy);
    }
    team.sync();  // the next chunk reuses the buffers
    return loss;
  }

  // The chunk's tokens and targets, every layer's initial state; zeroed gradients.
  void load() {
    const LmShape& s = b.s;
    long a, e;
    rows(b.T, &a, &e);
    const LmTokens& tk = b.tokens;
    if (tk.stream && tk.u16) {
      gather_window_steps(buf.tokens, buf.targets, static_cast<const uint16_t*>(tk.stream), tk.starts + n0, nc, a, e);
    } else if (tk.stream) {
      gather_window_steps(buf.tokens, buf.targets, static_cast<const int*>(tk.stream), tk.starts + n0, nc, a, e);
    } else {
      for (long t = a; t < e; ++t) {
        std::memcpy(buf.tokens + t * nc, tk.inputs + t * b.N + n0, sizeof(int) * nc);
        std::memcpy(buf.targets + t * nc, tk.targets + t * b.N + n0, sizeof(int) * nc);
      }
    }
    for (long l = 0; l < s.L; ++l) {
      const long H = s.H[l];
      const LayerBuffers& lb = buf.layer[l];
      rows(nc * H, &a, &e);
      if (b.state) {
        std::memcpy(lb.h0 + a, b.state + b.state_h(l) + n0 * H + a, sizeof(float) * (e - a));
        if (lb.c0) std::memcpy(lb.c0 + a, b.state + b.state_c(l) + n0 * H + a, sizeof(float) * (e - a));
      } else {
        std::memset(lb.h0 + a, 0, sizeof(float) * (e - a));
        if (lb.c0) std::memset(lb.c0 + a, 0, sizeof(float) * (e - a));
      }
    }
    if (zero_g) {
      team.share(s.P, kAlignFloats, &a, &e);
      std::memset(g + a, 0, sizeof(float) * (e - a));
    }
    team.sync();
  }

  // Layer l's input projection, its sequence, its final state and dropout; returns what the layer above reads.
  const float* forward_layer(long l, const float* x) {
    const LmShape& s = b.s;
    const long G = cell_gates(s.cell), H = s.H[l], GH = G * H;
    const LayerBuffers& lb = buf.layer[l];
    const LayerParams p = layer_at(s, b.params, l);
    long a, e;
    if (l == 0) {  // one-hot input: rows of the gather table
      rows(Mc, &a, &e);
      k().gather_rows(lb.gx + a * GH, w.in[0], buf.tokens + a, e - a, GH, GH);
    } else if (w.bf16) {
      gemm_bf16_packed(*b.bf, lb.gx, x, w.inT_bf[l], bf16_packed_ld(GH), Mc, GH, s.H[l - 1], false, p.b_ih,
                       team.part());
    } else {
      gemm_bias(k(), lb.gx, x, w.in[l], p.b_ih, Mc, GH, s.H[l - 1], team.part());
    }
    team.sync();
    const LayerSeq seq{s.cell, b.T, nc, H, lb.gx, lb.y, lb.saved, lb.h0, lb.c0, p.W_hh, p.b_hh};
    UnitShare u = unit_share(team, H);
    u.whhT = packed_share(w.hhT[l], H, static_cast<int>(G), u.u0);
    u.whhT_panels = w.panels[l];
    if (w.bf16) u.whhT_bf = w.hhT_bf[l] + packed_share_bf16(H, static_cast<int>(G), u.u0, team.tid);
    cell_forward_units(seq, u, buf.gh, team);  // meets the team after every step
    if (b.state) {  // the final state, into this chunk's rows (no other chunk reads them)
      rows(nc, &a, &e);
      for (long n = a; n < e; ++n) {
        std::memcpy(b.state + b.state_h(l) + (n0 + n) * H, lb.y + ((b.T - 1) * nc + n) * H, sizeof(float) * H);
      }
      if (cell_spec(s.cell).carries_c())
        cell_final_c(s.cell, b.state + b.state_c(l) + n0 * H, H, lb.saved, b.T, nc, H, a, e);
    }
    if (lb.out == lb.y) return lb.y;
    apply_mask(lb.out, lb.y, l);
    team.sync();
    return lb.out;
  }

  // out = in * layer l's dropout mask, this thread's rows.
  void apply_mask(float* out, const float* in, long l) const {
    const long H = b.s.H[l];
    const float* m = b.masks + b.mask_offset(l);
    long a, e;
    rows(Mc, &a, &e);
    for (long r = a; r < e; ++r) {
      const long t = r / nc, n = r % nc;
      const float* mr = m + (t * b.N + n0 + n) * H;
      for (long j = 0; j < H; ++j) out[r * H + j] = in[r * H + j] * mr[j];
    }
  }

  // Logits, loss, and (training) the output layer's gradients and dL/dx in buf.d[0].
  double output(const float* x, long* hits) {
    const LmShape& s = b.s;
    const long Ht = s.H[s.L - 1], V = s.V;
    if (w.bf16)
      gemm_bf16_packed(*b.bf, buf.logits, x, w.outT_bf, bf16_packed_ld(V), Mc, V, Ht, false, b.params + s.b_out,
                       team.part());
    else
      gemm_bias(k(), buf.logits, x, w.out, b.params + s.b_out, Mc, V, Ht, team.part());
    team.sync();
    const long blocks = (Mc + kLossRows - 1) / kLossRows;
    long a, e;
    rows(blocks, &a, &e);
    for (long q = a; q < e; ++q) {
      const long m0 = q * kLossRows, m = Mc - m0 < kLossRows ? Mc - m0 : kLossRows;
      block_loss[q] = k().softmax_xent(buf.logits + m0 * V, b.train ? nullptr : &block_hits[q], buf.targets + m0, m,
                                       V, b.train, b.scale);
    }
    team.sync();
    double loss = 0.0;  // in block order, on every thread alike
    for (long q = 0; q < blocks; ++q) loss += block_loss[q];
    if (!b.train) {
      *hits = 0;
      for (long q = 0; q < blocks; ++q) *hits += block_hits[q];
      return loss;
    }
    // dL/dx = dz W; dW += dz^T x; db += column sums of dz (this thread's columns)
    if (w.bf16) {
      gemm_bf16_packed(*b.bf, buf.d[0], buf.logits, w.out_bf, bf16_packed_ld(Ht), Mc, Ht, V, false, nullptr,
                       team.part());
      gemm_bf16_tn(*b.bf, g + s.W_out, buf.logits, x, V, Ht, Mc, team.part());
    } else {
      gemm_nn(k(), buf.d[0], buf.logits, b.params + s.W_out, Mc, Ht, V, false, team.part());
      gemm_tn(k(), g + s.W_out, buf.logits, x, V, Ht, Mc, team.part());
    }
    rows(V, &a, &e);
    k().colsum_add(g + s.b_out + a, buf.logits + a, Mc, e - a, V);
    team.sync();
    return loss;
  }

  // Layer l's backward from dy (dL/d its output); returns dL/d its input (layers above 0).
  float* backward_layer(long l, float* dy) {
    const LmShape& s = b.s;
    const long G = cell_gates(s.cell), H = s.H[l], GH = G * H;
    const LayerBuffers& lb = buf.layer[l];
    const LayerParams p = layer_at(s, b.params, l);
    const LayerGrads gp = layer_at(s, g, l);
    UnitShare u = unit_share(team, H);
    if (w.hh[l]) u.whh_cols = w.hh[l] + GH * u.u0;
    for (long n = 0; n < nc; ++n) {  // this thread's units of dh, dc and the bias sums start at 0
      std::memset(buf.dh + n * H + u.u0, 0, sizeof(float) * u.width);
      if (buf.dc) std::memset(buf.dc + n * H + u.u0, 0, sizeof(float) * u.width);
    }
    for (long q = 0; q < 4; ++q) std::memset(buf.bsum + q * H + u.u0, 0, sizeof(float) * u.width);
    const LayerSeq seq{s.cell, b.T, nc, H, lb.gx, lb.y, lb.saved, lb.h0, lb.c0, p.W_hh, p.b_hh, w.hh_bf[l]};
    const CellGrads cg{buf.dgx, buf.dgh, buf.dh, buf.dc, buf.aux, dy, buf.bsum};
    cell_backward_units(seq, u, cg, false, team);  // ends in a sync
    // dW_hh: h0 lies directly before y, so [h0; y_0 .. y_{T-2}] is one matrix
    cell_weight_grads(seq, cg, gp.W_hh, team.part());
    cell_bias_grads(s.cell, gp.b_ih, gp.b_hh, buf.bsum, H, u.u0, u.width);
    long a, e;
    if (l == 0) {
      // dW_ih[o, tokens[m]] += dgx[m, o], rows m in order: this thread's columns o of dW^T, then into dW
      team.share(GH, kAlignFloats, &a, &e);
      for (long v = 0; v < s.V; ++v) std::memset(buf.dWT + v * GH + a, 0, sizeof(float) * (e - a));
      k().scatter_add_rows(buf.dWT + a, buf.dgx + a, buf.tokens, Mc, e - a, GH);
      for (long o = a; o < e; ++o)
        for (long v = 0; v < s.V; ++v) gp.W_ih[o * s.V + v] += buf.dWT[v * GH + o];
      return nullptr;
    }
    // dL/dx = dgx W_ih; dW_ih += dgx^T x
    const long I = s.H[l - 1];
    float* dx = dy == buf.d[0] ? buf.d[1] : buf.d[0];
    if (w.bf16) {
      gemm_bf16_packed(*b.bf, dx, buf.dgx, w.in_bf[l], bf16_packed_ld(I), Mc, I, GH, false, nullptr, team.part());
      gemm_bf16_tn(*b.bf, gp.W_ih, buf.dgx, buf.layer[l - 1].out, GH, I, Mc, team.part());
    } else {
      gemm_nn(k(), dx, buf.dgx, p.W_ih, Mc, I, GH, false, team.part());
      gemm_tn(k(), gp.W_ih, buf.dgx, buf.layer[l - 1].out, GH, I, Mc, team.part());
    }
    team.sync();
    if (buf.layer[l - 1].out != buf.layer[l - 1].y) {
      apply_mask(dx, dx, l - 1);
      team.sync();
    }
    return dx;
  }
};

std::atomic<int> g_team_size{-1};

// The chunk gradients the last lmTrainChunks with keep left on this thread (in its gbuf).
struct Kept {
  const float* g = nullptr;
  long nchunks = 0, stride = 0, P = 0;
};
thread_local Kept g_kept;

// Multiply-adds per thread per microsecond and microseconds per barrier, for the
// cost model: what a core of the development machine reaches in the products
// of configs B and C (about 40 GFLOP/s of 117 on one thread), and a barrier of
// a few threads with spinning waiters.
constexpr double kMacsPerUs = 20e3;
constexpr double kBarrierUs = 2.0;

// The first of windows [n0, n1)'s tokens (n * (T + 1) + t) outside [0, V), or -1.
template <typename Id>
long first_bad_token(const Id* stream, const int* starts, long T, long V, long n0, long n1) {
  for (long n = n0; n < n1; ++n) {
    const Id* w = stream + starts[n];
    for (long t = 0; t <= T; ++t) {
      const long id = static_cast<long>(w[t]);
      if (id < 0 || id >= V) return n * (T + 1) + t;
    }
  }
  return -1;
}

// n barriers on 64-byte boundaries, in memory of std::aligned_alloc (C++17's
// aligned operator new[] would need GCC 7's C++ runtime where the addon asks for
// GCC 5's: see native/compat/glibc.h).
static_assert(std::is_trivially_destructible_v<Barrier> && sizeof(Barrier) % alignof(Barrier) == 0);
struct BarriersFree {
  void operator()(Barrier* b) const { std::free(b); }
};
Barrier* new_barriers(int n) {
  void* mem = std::aligned_alloc(alignof(Barrier), sizeof(Barrier) * static_cast<size_t>(n));
  if (mem == nullptr) throw OutOfMemory(static_cast<double>(sizeof(Barrier)) * n);
  Barrier* b = static_cast<Barrier*>(mem);
  for (int i = 0; i < n; ++i) new (b + i) Barrier();
  return b;
}

// All of a batch on the threads: prepare, chunks by teams, the chunks' gradients summed.
double run_batch(const Batch& b, float* grads, long* correct) {
  const LmShape& s = b.s;
  const long nchunks = b.nchunks;
  const TeamPlan plan = plan_teams(s, b.T, b.rows, nchunks, threads_get(), b.train);
  const bool masked = b.masks != nullptr;
  // Everything the region uses is grown here, on the calling thread.
  static thread_local std::vector<float> wbuf, tbuf, gbuf, sbuf;
  static thread_local std::vector<double> lbuf, closs, qbuf;
  static thread_local std::vector<long> hbuf, chits, badbuf;
  static thread_local std::unique_ptr<Barrier, BarriersFree> barriers;
  static thread_local int nbarriers = 0;
  Prepared w{};
  const long wsize = w.carve(nullptr, s, b.bf != nullptr, plan.size, b.train);
  w.carve(aligned_in(wbuf, wsize), s, b.bf != nullptr, plan.size, b.train);
  ChunkBuffers sizing{};
  const long tsize = align_up(sizing.carve(nullptr, s, b.T, b.rows, b.train, masked));
  float* tbase = aligned_in(tbuf, plan.teams * tsize);
  const long blocks = (b.T * b.rows + kLossRows - 1) / kLossRows;
  // each checked on its own: a resize that failed (an Error in JavaScript) leaves no pair out of step
  if (static_cast<long>(lbuf.size()) < plan.teams * blocks) lbuf.resize(static_cast<size_t>(plan.teams * blocks));
  if (static_cast<long>(hbuf.size()) < plan.teams * blocks) hbuf.resize(static_cast<size_t>(plan.teams * blocks));
  if (static_cast<long>(closs.size()) < nchunks) closs.resize(static_cast<size_t>(nchunks));
  if (static_cast<long>(chits.size()) < nchunks) chits.resize(static_cast<size_t>(nchunks));
  const int nthreads = plan.teams * plan.size;
  LmTokens& tk = b.tokens;
  if (tk.stream && static_cast<long>(badbuf.size()) < nthreads) badbuf.resize(static_cast<size_t>(nthreads));
  long* bad = badbuf.data();
  // -1 for every slot: OpenMP may run fewer threads than asked, whose slots stay as they are.
  if (tk.stream) std::fill(bad, bad + nthreads, -1L);
  float* scratch = aligned_in(sbuf, nthreads * kGemmScratchFloats);  // each thread's GEMM scratch
  // Else the one chunk adds to grads directly; kept chunks always have their own.
  const bool own_grads = b.train && (nchunks > 1 || b.keep);
  const long gstride = align_up(s.P);
  float* gc = own_grads ? aligned_in(gbuf, nchunks * gstride) : nullptr;
  if (nbarriers < plan.teams) {
    barriers.reset(new_barriers(plan.teams));
    nbarriers = plan.teams;
  }
  const bool squares = b.train && !b.keep && b.squares;
  const long qblocks = (s.P + kSquaresBlock - 1) / kSquaresBlock;
  if (squares && static_cast<long>(qbuf.size()) < qblocks) qbuf.resize(static_cast<size_t>(qblocks));
  // Plain pointers: inside the region a thread_local would be each thread's own.
  double* block_squares = qbuf.data();
  Barrier* bar = barriers.get();
  double* block_loss = lbuf.data();
  long* block_hits = hbuf.data();
  double* chunk_loss = closs.data();
  long* chunk_hits = chits.data();

  // Teams of one take the chunks after their first as they come free (a slow
  // chunk, or a thread the OS set aside, holds up no other); a larger team
  // takes every teams-th. Either way a chunk's results are its own: its loss,
  // hits and gradient buffer are indexed by the chunk, not by who ran it.
  std::atomic<long> next_chunk{0};
  team_region(nthreads, [&](int tid, int nth) {
    // OpenMP may give fewer threads than asked: fewer or smaller teams.
    const int size = plan.size < nth ? plan.size : nth;
    const int teams = plan.teams < nth / size ? plan.teams : nth / size;
    if (tid == 0) {
      for (int t = 0; t < teams; ++t) bar[t].reset(size);
      next_chunk.store(teams, std::memory_order_relaxed);
    }
    if (tk.stream) {  // every thread checks a share of the windows; all stop if any id is out of range
      const long n0 = b.N * tid / nth, n1 = b.N * (tid + 1) / nth;
      bad[tid] = tk.u16 ? first_bad_token(static_cast<const uint16_t*>(tk.stream), tk.starts, b.T, s.V, n0, n1)
                        : first_bad_token(static_cast<const int*>(tk.stream), tk.starts, b.T, s.V, n0, n1);
      region_barrier();
      for (int t = 0; t < nth; ++t)
        if (bad[t] >= 0) return;
    }
    prepare(w, s, b.params, size, tid, nth);
    region_barrier();
    if (w.bf16) {
      prepare_bf16(w, s, b.params, size, tid, nth);
      region_barrier();
    }
    if (tid < teams * size) {
      const int t = tid / size;
      const Team team{tid % size, size, &bar[t], scratch + tid * kGemmScratchFloats};
      for (long c = t; c < nchunks; c = size == 1 ? next_chunk.fetch_add(1, std::memory_order_relaxed) : c + teams) {
        const long n0 = c * b.rows, nc = b.N - n0 < b.rows ? b.N - n0 : b.rows;
        Chunk ch{b, w, team, n0, nc, b.T * nc, {}, nullptr, own_grads, block_loss + t * blocks,
                 block_hits + t * blocks};
        ch.buf.carve(tbase + t * tsize, s, b.T, nc, b.train, masked);
        if (b.train) ch.g = own_grads ? gc + c * gstride : grads;
        long h = 0;
        const double loss = ch.run(&h);
        if (team.tid == 0) {
          chunk_loss[c] = loss;
          chunk_hits[c] = h;
        }
      }
    }
    if (b.keep || !(own_grads || squares)) return;
    region_barrier();
    // grads += chunk gradients, in chunk order for every element
    const auto reduce = [&](long i0, long i1) { add_in_chunk_order(grads + i0, gc + i0, gstride, nchunks, i1 - i0); };
    if (!squares) {
      reduce(s.P * tid / nth, s.P * (tid + 1) / nth);
      return;
    }
    // With the sum of squares: each block's, on the thread that has just
    // written it; the threads take whole blocks. With fewer blocks than
    // threads (a small model: the book's has 4 of 4096 floats) the sum of the
    // chunks' gradients, the larger part, is shared by all threads first, in
    // runs of kAlignFloats (whole cache lines of the chunks' buffers; grads,
    // the caller's, may share a line between two threads at a run's edge),
    // and the blocks' squares follow a barrier.
    const bool shared = own_grads && qblocks < nth;
    if (shared) {
      long i0 = 0, i1 = 0;
      split_rows(s.P, tid, nth, kAlignFloats, &i0, &i1);
      reduce(i0, i1);
      region_barrier();
    }
    const long q0 = qblocks * tid / nth, q1 = qblocks * (tid + 1) / nth;
    for (long q = q0; q < q1; ++q) {
      const long i0 = q * kSquaresBlock, i1 = i0 + kSquaresBlock < s.P ? i0 + kSquaresBlock : s.P;
      if (own_grads && !shared) reduce(i0, i1);
      block_squares[q] = sum_squares_block(grads, i0, i1);
    }
  });
  if (tk.stream) {
    // OpenMP may have given fewer threads: their shares are the ones checked, in order.
    for (int t = 0; t < nthreads && tk.bad < 0; ++t) tk.bad = bad[t];
    if (tk.bad >= 0) return 0.0;
  }
  if (b.keep) g_kept = Kept{gc, nchunks, gstride, s.P};
  if (squares) {
    double total = 0.0;
    for (long q = 0; q < qblocks; ++q) total += block_squares[q];
    *b.squares = total;
  }
  double loss = 0.0;
  for (long c = 0; c < nchunks; ++c) {
    loss += chunk_loss[c];
    if (correct) *correct += chunk_hits[c];
  }
  return loss;
}

}  // namespace

void team_size_set(int n) { g_team_size.store(n < 0 ? 0 : n); }

int team_size_get() {
  int n = g_team_size.load();
  if (n < 0) {
    // As the CLI reads it (a whole number of up to six digits, white space around
    // it allowed: spaces, tabs, line ends); anything else, which the CLI refuses,
    // is 0 here: the cost model.
    const char* env = std::getenv("DEEPRNN_TEAM_SIZE");
    n = 0;
    if (env) {
      const auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
      const char* p = env;
      while (space(*p)) ++p;
      int digits = 0;
      long v = 0;
      for (; *p >= '0' && *p <= '9' && digits < 7; ++p, ++digits) v = v * 10 + (*p - '0');
      while (space(*p)) ++p;
      if (digits >= 1 && digits <= 6 && *p == '\0') n = static_cast<int>(v);
    }
    g_team_size.store(n);
  }
  return n;
}

TeamPlan plan_teams(const LmShape& s, long T, long rows, long nchunks, int threads, bool train) {
  threads = threads < 1 ? 1 : threads;
  const long G = cell_gates(s.cell);
  const int forced = team_size_get();
  if (forced > 0) {
    const int size = forced < threads ? forced : threads;
    const long teams = std::min<long>(nchunks, threads / size);
    return TeamPlan{static_cast<int>(teams < 1 ? 1 : teams), size};
  }
  // A member owns at least a vector of 16 units in every layer.
  long minH = s.H[0];
  double macs = static_cast<double>(s.V) * s.H[s.L - 1];
  for (long l = 0; l < s.L; ++l) {
    minH = s.H[l] < minH ? s.H[l] : minH;
    macs += static_cast<double>(G) * s.H[l] * (s.H[l] + (l ? s.H[l - 1] : 0));
  }
  macs *= static_cast<double>(T) * rows * (train ? 3 : 1);
  const double barriers = (train ? 2.0 : 1.0) * s.L * (T + 4) + 4;
  const long most = std::min<long>(threads, std::max<long>(1, minH / 16));
  TeamPlan best{1, 1};
  double best_us = -1.0;
  for (long size = 1; size <= most; ++size) {
    const long teams = std::max<long>(1, std::min<long>(nchunks, threads / size));
    const long rounds = (nchunks + teams - 1) / teams;
    const double us = rounds * (macs / (size * kMacsPerUs) + (size > 1 ? barriers * kBarrierUs : 0.0));
    if (best_us < 0 || us < best_us) {
      best_us = us;
      best = TeamPlan{static_cast<int>(teams), static_cast<int>(size)};
    }
  }
  return best;
}

double lm_train_chunks(const LmShape& s, const float* params, float* grads, LmTokens& tokens, long T, long N,
                       long rows, const float* masks, float* state, float scale, bool keep, Precision precision,
                       double* grad_squares) {
  g_kept = Kept{};
  const Bf16Path* bf = precision == Precision::BF16 ? &bf16_path() : nullptr;
  const Batch b{s, params, tokens, T, N, rows, (N + rows - 1) / rows, masks, state, scale, true, bf, keep, grad_squares};
  return run_batch(b, grads, nullptr);
}

long kept_params() { return g_kept.g ? g_kept.P : -1; }

void add_kept_chunks(float* x, long offset, long n) {
  const Kept& k = g_kept;
  // x[j] += every kept chunk's gradient, in chunk order: run_batch's sum, continued from x.
  add_in_chunk_order(x, k.g + offset, k.stride, k.nchunks, n);
}

void drop_kept_chunks() { g_kept = Kept{}; }

double lm_eval_chunks(const LmShape& s, const float* params, LmTokens& tokens, long T, long N, long rows, float* state,
                      long* correct, Precision precision) {
  const Bf16Path* bf = precision == Precision::BF16 ? &bf16_path() : nullptr;
  const Batch b{s, params, tokens, T, N, rows, (N + rows - 1) / rows, nullptr, state, 0.0f, false, bf};
  return run_batch(b, nullptr, correct);
}

}  // namespace deeprnn
