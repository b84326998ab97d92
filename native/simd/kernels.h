// The table of kernels that each instruction set fills (scalar, avx2, avx512 on
// x86-64; scalar, neon on aarch64).
// Matrices are row-major float32.
#pragma once

namespace deeprnn {

// Threads' slices of a batch start at multiples of this many rows. A row's
// arithmetic does not depend on how rows are tiled (every element of a GEMM
// sums over k in order), so slicing never changes a result.
constexpr long kGemmRowTile = 4;

// Batches of at most this many rows (generation) multiply by W^T with
// gemm_nt_small instead of transposing W first.
constexpr long kSmallRows = 4;

// A thread's share of a product that a team of threads computes together:
// thread tid of nth takes a contiguous share of the tiles, and never forks.
// nth == 0 (the default): the whole product, on as many threads as the
// kernel finds worth it. scratch: kGemmScratchFloats of this thread's own,
// grown before the parallel region (null: the kernel grows its own, outside
// any region it opens).
struct Part {
  int tid = 0;
  int nth = 0;
  float* scratch = nullptr;
};

// Floats of scratch a GEMM needs per thread: two panels of up to 1024 rows of
// the widest tile (64 floats), on a 64-byte boundary.
constexpr long kGemmScratchFloats = 2 * 1024 * 64 + 16;

// Bytes of this CPU's L2 cache per core (sysconf, else 1 MiB): where the GEMM
// stops streaming B across each row tile and walks down the rows of C per panel.
long l2_cache_bytes();
// Whether weight gradients by short tiles go across the columns, as before
// 2026-12-04, instead of down the rows (simd/gemm_impl.h): DEEPRNN_TN_ACROSS=1
// at start, or set by _gemmTnAcross (a measurement's and a test's switch; the
// same results either way).
bool gemm_tn_across();
void gemm_tn_across_set(bool on);

// A product with K = 0 (nothing to add): C's rows (this thread's share of
// them when part.nth > 0) set to the bias, or 0, unless accumulating.
void gemm_empty_k(float* C, long ldc, long M, long N, const float* bias, bool accumulate, Part part);

// Columns per panel of a B stored in panels (GemmArgs::panel): a multiple of
// every GEMM tile's width.
constexpr long kGemmPanel = 64;

// The product C(M,N) (+)= op(A) B: A (M,K), or (K,M) read transposed when
// transA; B (K,N); rows lda, ldb and ldc floats apart. B in panels when
// `panel` (kGemmPanel) is set: columns [p*panel, p*panel + w) are a (K, w)
// row-major block at B + p*panel*K, w = min(panel, N - p*panel), and ldb is
// not read; each tile then streams contiguous memory (weights that every time
// step reads again, packed once per batch), where rows of a wide B would be
// pages apart and fall on the same few cache sets. Each C element sums
// over k in ascending order, starting from C (accumulate), bias[j] (bias not
// null) or 0, by exactly one thread: results do not depend on how C is
// tiled or shared out.
struct GemmArgs {
  float* C;
  const float* A;
  const float* B;
  long M, N, K;
  long lda, ldb, ldc;
  bool transA = false;
  bool accumulate = false;
  const float* bias = nullptr;
  long panel = 0;  // 0: B row-major, ldb apart; else kGemmPanel
};

// The units a step kernel computes: N rows, units [u0, u0 + width) of H in
// every gate. Pointers to per-unit data (h, hprev, dy, dh, dc, cprev, gx,
// dgx, dgh, saved, bhh, bsum) start at unit u0, with gate blocks H apart and
// rows H (h, hprev, dy, dh, dc), G*H (gx, dgx, dgh), 4H / 6H (saved) apart;
// gh holds these units alone: gate blocks gh_width apart, rows G*gh_width
// apart. A whole layer is {N, H, H, H}.
struct Units {
  long N, H, width, gh_width;
};

struct KernelTable {
  const char* name;
  // The GEMM's main register tile, rows x columns of C ("5x64"), or two
  // joined by "+" (GemmVariant): which of the set's GEMM variants `gemm` is.
  const char* gemm_tile;
  // The product of GemmArgs; part: this thread's share of a team's product.
  void (*gemm)(const GemmArgs& g, Part part);
  // C(M,N) = A(M,K) B(N,K)^T for small M (up to kSmallRows): dot products, B not transposed.
  void (*gemm_nt_small)(float* C, const float* A, const float* B, long M, long N, long K);
  // db(cols) += sum over rows of X(rows, cols) (rows ld floats apart), in an
  // order fixed by the shape alone: whatever the columns asked for, each
  // column sums the same way.
  void (*colsum_add)(float* db, const float* X, long rows, long cols, long ld);
  // One time step of fused gate math per cell (simd/cells_impl.h).
  // h = phi(gx + gh + b_hh)
  void (*rnn_step)(float* h, const float* gx, const float* gh, const float* bhh, const Units& u, bool relu);
  // The backward steps add each row's gate gradients to bsum when it is not
  // null, rows in order (the bias gradients without a pass over all steps):
  // rnn (H), lstm (4H) and mgu (2H) the rows of da / dgx; gru (4H) dgx's r, z
  // and n parts, then dgh's n part.
  void (*rnn_step_back)(float* da, const float* dy, const float* dh, const float* h, const Units& u, bool relu,
                        float* bsum);
  void (*gru_step)(float* h, float* saved, const float* gx, const float* gh, const float* bhh, const float* hprev,
                   const Units& u);
  void (*gru_step_back)(float* dgx, float* dgh, float* dh, const float* dy, const float* saved, const float* hprev,
                        const Units& u, float* bsum);
  // cprev: row n at cprev + n * cstride
  void (*lstm_step)(float* h, float* saved, const float* gx, const float* gh, const float* bhh, const float* cprev,
                    long cstride, const Units& u);
  void (*lstm_step_back)(float* dgx, float* dc, const float* dh, const float* dy, const float* saved,
                         const float* cprev, long cstride, const Units& u, float* bsum);
  // MGU (kernels/mgu.cc): the forget gate and f h_{t-1}; the candidate and h;
  // backward, the candidate's gradient, then the gate's with d(f h_{t-1}).
  void (*mgu_step_f)(float* saved, const float* gx, const float* gh, const float* bhh, const float* hprev,
                     const Units& u);
  void (*mgu_step_n)(float* h, float* saved, const float* gx, const float* gh, const float* bhh, const float* hprev,
                     const Units& u);
  void (*mgu_back_n)(float* dgx, const float* dh, const float* dy, const float* saved, const Units& u, float* bsum);
  void (*mgu_back_f)(float* dgx, float* dh, const float* dy, const float* saved, const float* hprev, const float* dfh,
                     const Units& u, float* bsum);
  // Softmax cross-entropy of logits (M, V) against targets, summed over rows;
  // with grad, logits <- scale (softmax - onehot). hits (may be null) counts argmax hits.
  double (*softmax_xent)(float* logits, long* hits, const int* targets, long M, long V, bool grad, float scale);
  // y = exp / sigmoid / tanh (fn 0, 1, 2) of x as the cells compute them.
  void (*math_eval)(int fn, float* y, const float* x, long n);
  // Rows by index: out[m, 0:width] = src[idx[m], 0:width] (rows stride floats apart in both).
  void (*gather_rows)(float* out, const float* src, const int* idx, long M, long width, long stride);
  // dst[idx[m], 0:width] += src[m, 0:width] for m in ascending order (rows stride floats apart in both).
  void (*scatter_add_rows)(float* dst, const float* src, const int* idx, long M, long width, long stride);
};

// C(M,N) (+)= A(M,K) B(K,N), all contiguous.
inline void gemm_nn(const KernelTable& k, float* C, const float* A, const float* B, long M, long N, long K,
                    bool accumulate, Part part = {}) {
  k.gemm({C, A, B, M, N, K, K, N, N, false, accumulate, nullptr}, part);
}
// C(M,N) = bias(N) + A(M,K) B(K,N): the sum starts from the bias.
inline void gemm_bias(const KernelTable& k, float* C, const float* A, const float* B, const float* bias, long M,
                      long N, long K, Part part = {}) {
  k.gemm({C, A, B, M, N, K, K, N, N, false, false, bias}, part);
}
// C(M,N) += A(K,M)^T B(K,N)
inline void gemm_tn(const KernelTable& k, float* C, const float* A, const float* B, long M, long N, long K,
                    Part part = {}) {
  k.gemm({C, A, B, M, N, K, M, N, N, true, true, nullptr}, part);
}

// Another GEMM of one instruction set: the same products by another register
// tile (and depth of k per pass). Every element still sums over k in order
// from the same start, so a variant gives bitwise the results of the table's
// own GEMM; only its speed differs, and which tile is fastest depends on the
// core (how many vector FMAs and loads it issues per cycle, its L1 and L2).
// A variant may also run each kind of product by the tile that suits it
// ("5x64+12x32": C += A^T B, the weight gradients, by 12 x 32, the rest by
// 5 x 64; "12x32+5x64" the other way round), which changes no result either.
struct GemmVariant {
  const char* tile;  // as KernelTable::gemm_tile
  void (*gemm)(const GemmArgs& g, Part part);
};
// The most GEMM variants a set has, its own included.
constexpr int kMaxGemmVariants = 4;

// Looks up a table by name among the supported ones; null when unknown or
// unsupported. "avx512:12x32" names the table with that GEMM variant.
const KernelTable* kernels_find(const char* name);

// The table in use: chosen on first use (best supported, or DEEPRNN_SIMD),
// with the GEMM variant DEEPRNN_GEMM_TILE names, else the set's own until
// kernels_tune. Throws std::runtime_error when DEEPRNN_SIMD or
// DEEPRNN_GEMM_TILE names an unknown or unsupported set or tile.
const KernelTable& kernels();
// Times the set's tiles on this core (about 45 ms, one thread), each kind of
// product on its own (C = A B: a recurrent product's steps and an input
// projection; C += A^T B: a weight gradient), and keeps the variant that runs
// each kind by its fastest tile, once per set and process, unless DEEPRNN_GEMM_TILE
// forced one: called outside parallel regions by the batch paths (training,
// evaluation, bench), whose products are large enough for the tile to
// matter, so that commands that only generate never pay for it. Results do
// not change (GemmVariant), only their speed.
void kernels_tune();
// Forces a table by name ("scalar", "avx2", "avx512", "neon"); throws like kernels().
void kernels_select(const char* name);
// Names of the instruction sets this CPU and build support, best last.
int kernels_available(const char** names, int cap);
// The GEMM tiles of a supported instruction set (its table's own first); and
// how the table in use got its tile: "only" (the set has one), "forced"
// (DEEPRNN_GEMM_TILE), "untimed" (its own, before kernels_tune) or "timed".
int kernels_gemm_tiles(const char* isa, const char** tiles, int cap);
const char* kernels_gemm_choice();
// The timing behind a "timed" choice: each tile (variant) and its seconds
// (the best runs of its products of each kind, summed), and for each tile of
// its own (no "+") the seconds of each kind (nn: C = A B, tn: C += A^T B);
// at most cap; 0 when the choice was not timed.
int kernels_gemm_timing(const char** tiles, double* seconds, double* nn, double* tn, int cap);

const KernelTable* table_scalar();
#ifdef DEEPRNN_X86
const KernelTable* table_avx2();
const KernelTable* table_avx512();
GemmVariant gemm_avx512_tall();
GemmVariant gemm_avx512_by_kind();      // C += A^T B by the tall tile, the rest by the set's own
GemmVariant gemm_avx512_by_kind_rev();  // C += A^T B by the set's own tile, the rest by the tall one
#endif
#ifdef DEEPRNN_ARM64
const KernelTable* table_neon();
#endif

}  // namespace deeprnn
