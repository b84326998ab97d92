// Recurrent cells over a whole sequence, one layer at a time, and the
// descriptor of each cell kind (CellSpec).
// T=steps, N=batch, H=hidden, G=gate blocks (1 rnn, 3 gru, 4 lstm, 2 mgu)
//
// gx (T, N, G*H) is the input projection x W_ih^T + b_ih, made beforehand for
// all steps at once (linear_forward or embedding_forward). The forward saves
// what its backward needs in `saved`, of cell_saved_floats() per sequence.
// The backward writes dgx (the gradient of gx, for linear_backward /
// embedding_backward) and adds the bias gradients as the step kernels make
// them.
//
// A layer runs on one thread, or on a team that splits it by hidden units:
// each thread owns units [u0, u0 + width) of every gate for every row and
// step, so that its gate math reads only its own part of the recurrent
// product; the team meets at one barrier per step, where the next product
// needs every unit of h. Each element is computed the same way whatever the
// split, so results do not depend on it.
#pragma once

#include "kernels/common.h"
#include "kernels/team.h"

namespace deeprnn {

long cell_saved_floats(Cell cell, long T, long N, long H);
long cell_forward_work_floats(Cell cell, long T, long N, long H);
long cell_backward_work_floats(Cell cell, long T, long N, long H);

// One layer's sequence, in whole-batch layouts.
struct LayerSeq {
  Cell cell;
  long T, N, H;
  const float* gx;   // (T, N, G*H): x W_ih^T + b_ih
  float* y;          // (T, N, H)
  float* saved;      // cell_saved_floats
  const float* h0;   // (N, H)
  const float* c0;   // (N, H), cells that carry c
  const float* whh;  // (G*H, H)
  const float* bhh;  // (G*H)
  // bf16 runs: W_hh (G*H, H) packed in k-pairs as bf16_pack_whh lays it out,
  // and then every product of the layer (recurrent gradient, weight gradient)
  // is a bf16 one.
  const uint32_t* whh_bf = nullptr;
};

// A thread's units of a layer and the weights its recurrent product reads:
// whhT (H, G*width) holds W_hh^T's columns of these units, gate by gate (for
// all units, W_hh^T itself); null for a few rows of all units (generation):
// dot products with W_hh in place.
struct UnitShare {
  long u0, width;
  const float* whhT;
  float* scratch = nullptr;  // the thread's GEMM scratch (Team::scratch)
  // bf16 runs: whhT's block packed in k-pairs (packed_share_bf16); then the
  // recurrent product is a bf16 one.
  const uint32_t* whhT_bf = nullptr;
  // The forward's block of W_hh^T, whhT or (bf16 runs) whhT_bf, in panels of
  // kGemmPanel columns (pack_whhT with panels, bf16_pack_b_panels) rather
  // than in rows of G*width.
  bool whhT_panels = false;
  // The backward's product with W_hh's columns of these units: null, W_hh
  // itself (rows H apart); else those columns (G*H, width) in panels
  // (pack_whh_cols).
  const float* whh_cols = nullptr;
};

// Whether a layer's recurrent products read W_hh in panels: layers of 128
// units or more but MGU's (whose forward reads each gate's columns of whhT on
// their own). In float32 the forward's W_hh^T (pack_whhT with panels) and the
// backward's columns of W_hh (pack_whh_cols); in bf16 the forward's
// (bf16_pack_b_panels). Rows of a wide W_hh or W_hh^T are pages apart
// and fall on the same few cache sets, so that every time step fetched them
// again from beyond L2; a panel is contiguous. (25 rows x 2048 x 512, the
// product of config C's chunks, ran 115 -> 147 and 132 -> 171 GFLOP/s on one
// core of the development machine with the two AVX-512 tiles.)
// DEEPRNN_PANELS=0 turns them off (W_hh read in rows, as before them: the same
// results, for measuring what they change).
bool whh_in_panels(Cell cell, long H);
// Whether panels are on (DEEPRNN_PANELS is not 0), read once per process.
bool whh_panels_on();

// This thread's units of a layer, [u0, u0 + width): shares of whole vectors of
// units when H allows it, so that the step kernels use unmasked loads.
UnitShare unit_share(const Team& team, long H);

// W_hh^T packed for a team of nth: thread t's columns (H, G*width_t) one block
// after another, at H*G*u0_t. out: (H, G*H); rows [r0, r1) of W_hh's G*H.
// panels: each block in panels of kGemmPanel columns (GemmArgs::panel).
void pack_whhT(float* out, const float* whh, long H, int G, int nth, long r0, long r1, bool panels = false);
// W_hh's columns for a team of nth: thread t's columns [u0_t, u1_t) of every
// row, (G*H, width_t) in panels of kGemmPanel columns, one block after
// another at G*H*u0_t (packed_share's offsets). out: G*H*H; rows [r0, r1) of W_hh.
void pack_whh_cols(float* out, const float* whh, long H, int G, int nth, long r0, long r1);
// Where thread tid's block of a pack_whhT(nth) layout starts.
inline const float* packed_share(const float* packed, long H, int G, long u0) { return packed + H * G * u0; }
// Units [*u0, *u1) of thread tid of a team of nth (unit_share's, pack_whhT's).
void unit_range(long H, int tid, int nth, long* u0, long* u1);
// The bf16 copy of a pack_whhT(nth) layout: thread tid's block (H, G*width)
// packed in k-pairs by bf16_pack_b, at this offset in uint32 pairs (its
// packed columns round G*width up to 16); the whole layout holds
// bf16_whhT_pairs of them.
inline long packed_share_bf16(long H, int G, long u0, int tid) { return (H + 1) / 2 * (G * u0 + 16 * tid); }
inline long bf16_whhT_pairs(long H, int G, int nth) { return (H + 1) / 2 * (G * H + 16 * nth); }
// The bf16 copy of W_hh (G*H, H) that the backward reads (LayerSeq::whh_bf):
// each of the cell's whh_blocks blocks of rows packed in k-pairs by
// bf16_pack_b as a matrix of its own (so that no pair straddles two blocks),
// one after another, bf16_whh_block_pairs apart; bf16_whh_pairs in all.
// bf16_pack_whh packs thread tid's share (of nth) of every block's pairs.
long bf16_whh_block_pairs(Cell cell, long H);
long bf16_whh_pairs(Cell cell, long H);
void bf16_pack_whh(uint32_t* out, const float* whh, Cell cell, long H, int tid, int nth);

// The backward's buffers, whole-batch layouts. dgx: (T, N, G*H) out, the
// gradient of gx; dgh: the gradient of the recurrent product gh where it
// differs from dgx (GRU: (T, N, 3H)), else dgx; dh, dc (cell state): (N, H),
// in: dL/dh_T, dL/dc_T, out: dL/dh_0, dL/dc_0 (dh only when need_dh0); aux:
// (N, H) scratch; dy: (T, N, H); bsum: (4H) += the step kernels' bias sums
// (see simd/kernels.h).
struct CellGrads {
  float* dgx;
  float* dgh;
  float* dh;
  float* dc;
  float* aux;
  const float* dy;
  float* bsum;
};

// A cell kind, described once: argument parsing, sizes, the carried state,
// the bias and weight gradients, and (through the `cells` binding) the
// TypeScript side's parameter table, carried state and checkpoint checks read
// it. A new cell is its step kernels (simd/cells_impl.h and the kernel table),
// its time loops (kernels/<cell>.cc), its entry in kCellSpecs (kernels/cells.cc),
// its float64 reference (src/nn/scratch.ts) and its name in src/native.ts.
struct CellSpec {
  Cell kind;
  const char* name;    // as options and checkpoints spell it
  const char* gates;   // the gate blocks of W_ih, W_hh and the biases, in order
  int G;               // gate blocks: W_ih is (G*H, I), W_hh (G*H, H)
  int saved;           // floats per step, row and unit the forward keeps for the backward
  int dgh;             // floats per step, row and unit of dgh when it differs from dgx, else 0
  int c_at;            // the cell state's block in `saved`, or -1: the cell carries h alone
  int bhh_from[4];     // db_hh's gate block g sums bsum's block bhh_from[g] (db_ih's block g: block g)
  // The blocks of rows the backward multiplies W_hh by, each on its own: 1
  // (dh_{t-1} = dgh W_hh over all gates at once) or G (one gate block at a
  // time: mgu, whose candidate's product reads f h_{t-1}, not h_{t-1}).
  int whh_blocks;
  // The time loops: forward for a share of units (gh: (N, G*H) scratch, this
  // share's block from G*N*u0), meeting the team after each step; backward
  // likewise, steps last to first.
  void (*forward)(const LayerSeq&, const UnitShare&, float* gh, const Team&);
  void (*backward)(const LayerSeq&, const UnitShare&, const CellGrads&, bool need_dh0, const Team&);
  // dW_hh += the weight gradient over all steps, this thread's share of the product.
  void (*weight_grads)(const LayerSeq&, const CellGrads&, float* dwhh, Part part);

  bool carries_c() const { return c_at >= 0; }
};

// The descriptors, one per Cell, in the enum's order.
extern const CellSpec kCellSpecs[];
extern const int kNumCells;
inline const CellSpec& cell_spec(Cell c) { return kCellSpecs[static_cast<int>(c)]; }
// The descriptor named `name`, or null.
const CellSpec* cell_by_name(const char* name);

// The forward over all steps for the share's units (cell_spec(s.cell).forward).
void cell_forward_units(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);
// The backward over all steps for the share's units (cell_spec(s.cell).backward).
void cell_backward_units(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team);
// dW_hh += over all steps (cell_spec(s.cell).weight_grads).
void cell_weight_grads(const LayerSeq& s, const CellGrads& g, float* dwhh, Part part);
// dW_hh += dgh^T [h0; y_0 .. y_{T-2}]: the weight gradient of cells whose every
// gate multiplies W_hh by h_{t-1}.
void weight_grads_from_h(const LayerSeq& s, const CellGrads& g, float* dwhh, Part part);

// The bias gradients from the step kernels' sums, for units [u0, u0 + width).
void cell_bias_grads(Cell cell, float* dbih, float* dbhh, const float* bsum, long H, long u0, long width);

// The cell state (N, H) after step T-1, from saved, into cT (rows ld apart).
void cell_final_c(Cell cell, float* cT, long ld, const float* saved, long T, long N, long H, long n0, long n1);

// A whole layer on this thread (standalone: bindings, generation).
// y: (T, N, H) outputs; hT: (N, H); cT: (N, H) when the cell carries c, else unused
// saved: cell_saved_floats; work: cell_forward_work_floats; gx: (T, N, G*H); h0, c0: (N, H);
// whh: (G*H, H); bhh: (G*H)
void cell_forward(Cell cell, float* y, float* hT, float* cT, float* saved, float* work, const float* gx,
                  const float* h0, const float* c0, const float* whh, const float* bhh, long T, long N, long H);

// dgx: (T, N, G*H); dh0, dc0: (N, H); dwhh: (G*H, H) +=; dbhh: (G*H) +=; work: cell_backward_work_floats
// dy: (T, N, H); dhT, dcT: (N, H) or null for zero; saved, y, h0, c0 from the forward
void cell_backward(Cell cell, float* dgx, float* dh0, float* dc0, float* dwhh, float* dbhh, float* work,
                   const float* dy, const float* dhT, const float* dcT, const float* saved, const float* y,
                   const float* h0, const float* c0, const float* whh, long T, long N, long H);

// Per cell (kernels/rnn.cc, gru.cc, lstm.cc, mgu.cc): the time loops of the descriptors.
void rnn_tanh_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);
void rnn_relu_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);
void rnn_tanh_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team);
void rnn_relu_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team);
void gru_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);
void gru_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team);
void lstm_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);
void lstm_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team);
void mgu_forward(const LayerSeq& s, const UnitShare& u, float* gh, const Team& team);
void mgu_backward(const LayerSeq& s, const UnitShare& u, const CellGrads& g, bool need_dh0, const Team& team);
void mgu_weight_grads(const LayerSeq& s, const CellGrads& g, float* dwhh, Part part);

// gh (R, G*width) = h (R, H) W_hh^T restricted to the share's units.
void recurrent_product(float* gh, const float* h, long R, const LayerSeq& s, const UnitShare& u);
// dh[:, u0:u0+width] (+)= d (R, G*H) W_hh[:, u0:u0+width]: the gradient into h_{t-1}.
void recurrent_grad(float* dh, const float* d, long R, const LayerSeq& s, const UnitShare& u, bool accumulate);

}  // namespace deeprnn
