// bfloat16 matrix products with float32 accumulation: the conversion, the
// k-pair packed layout the products read, and the choice of path (the
// AVX512-BF16 instruction vdpbf16ps, or a portable fallback of float32 FMAs).
// M, N, K as in simd/kernels.h; Kp = ceil(K / 2) pairs of k.
//
// A bf16 value is the upper half of a float32. Every product here reads its
// float32 operands as bf16_operand gives them (subnormals as zero, then round
// to nearest, ties to even: vcvtne2ps2bf16's conversion) and sums in
// float32 exactly as vdpbf16ps does: per pair of k, the odd k's product is
// added first, then the even k's, each product exact (8-bit by 8-bit
// significands fit a float32) and each addition rounded to nearest even, with
// subnormal inputs read as zero and subnormal results written as zero (the
// instruction's DAZ/FTZ, measured on Zen 4; the fallback sets the same modes
// for its duration). So the fallback gives the instruction's results bit for
// bit on x86-64 and on aarch64 (FPCR.FZ), and the sum over k of each C element
// runs in ascending pairs whatever the tiles and threads. The AMX path sums in
// tdpbf16ps's own order instead (simd/gemm_bf16_amx.h, Bf16Path::vdp_order).
#pragma once

#include <cstdint>
#include <cstring>

#include "simd/kernels.h"

namespace deeprnn {

// float32 -> bf16, round to nearest even; NaN stays NaN (made quiet, sign
// kept), infinities stay infinite, subnormals round like any other value.
inline uint16_t bf16_from_float(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN: quiet bit
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// x rounded to bf16 and back.
inline float bf16_round(float x) { return bf16_to_float(bf16_from_float(x)); }

// What a bf16 product reads of a float32 operand: a subnormal as zero (as
// vdpbf16ps reads subnormal bf16, and as vcvtne2ps2bf16 converts), else
// bf16_from_float. Differs from bf16_from_float only for subnormals: those in
// [2^-126 - 2^-134, 2^-126), which round up to the smallest normal, become 0.
inline uint16_t bf16_operand(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);
  return bf16_from_float(x);
}

// out[i] = bf16(in[i]) for n values.
void bf16_convert(uint16_t* out, const float* in, long n);
// x[i] = bf16_round(x[i]) for n values.
void bf16_round_array(float* x, long n);

// Columns of a packed B: N rounded up to a whole 16 (a vector of pairs on
// AVX-512), the padding zero, so that a tile's last vector loads inside it.
inline long bf16_packed_ld(long N) { return (N + 15) / 16 * 16; }
// uint32 pairs of a packed B of K rows and N columns.
inline long bf16_packed_size(long K, long N) { return (K + 1) / 2 * bf16_packed_ld(N); }

// B (K, N) packed in k-pairs: pair kp of column j is the uint32 at
// out[kp * ld + j] holding bf16_operand(B[2kp, j]) in its low half and
// bf16_operand(B[2kp+1, j]) in its high half (0 past K and past N, up to ld).
// src: B (K, N) rows ldb apart, or when trans, B^T (N, K) rows ldb apart
// (a weight W (N, K) packed as W^T). Pairs rows [kp0, kp1) only (sharing the
// packing out between threads); ld = bf16_packed_ld(N).
void bf16_pack_b(uint32_t* out, const float* src, long ldb, bool trans, long K, long N, long kp0, long kp1);

// C(M,N) (+)= op(A) B with bf16 operands, float32 sums. A (M, K), or (K, M)
// read transposed when transA, float32 (converted by bf16_operand as it is read); B
// either float32 (K, N) rows ldb apart (packed as it is read) or, when Bp is
// set, already packed by bf16_pack_b (ldbp pairs per row of pairs; may start
// at a column offset of a wider packing). C starts from C (accumulate),
// bias[j] (bias not null, float32) or 0; each element is summed over k in
// ascending pairs by exactly one thread.
struct GemmBf16Args {
  float* C;
  const float* A;
  const float* B;       // float32 B, or null when Bp is given
  const uint32_t* Bp;   // packed B, or null
  long M, N, K;
  long lda, ldb, ldc;   // ldb: floats of B's rows, or pairs of Bp's rows
  bool transA = false;
  bool accumulate = false;
  const float* bias = nullptr;
  // Bp in panels (kGemmPanel): columns [p0, p0 + w) of the packing are a
  // (Kp, w) block of pairs at Bp + p0 * Kp, w = min(panel, bf16_packed_ld(N) -
  // p0), and ldb is not read (bf16_pack_b_panels; as GemmArgs::panel).
  long panel = 0;
};

// Pairs from kp of column j of a prepacked B (GemmBf16Args::Bp), and the pairs
// between its rows; j lies in one panel with the columns a tile reads from it.
inline const uint32_t* bf16_bp_at(const GemmBf16Args& g, long kp, long j, long* ld) {
  if (!g.panel) {
    *ld = g.ldb;
    return g.Bp + kp * g.ldb + j;
  }
  const long p0 = j - j % g.panel, cols = bf16_packed_ld(g.N) - p0, w = cols < g.panel ? cols : g.panel;
  *ld = w;
  return g.Bp + p0 * ((g.K + 1) / 2) + kp * w + (j - p0);
}

// bf16_pack_b into panels of kGemmPanel columns (GemmBf16Args::panel): the
// same pairs, each panel's columns packed as a matrix of their own, one panel
// after another; bf16_packed_size(K, N) pairs in all.
void bf16_pack_b_panels(uint32_t* out, const float* src, long ldb, bool trans, long K, long N, long kp0, long kp1);

// One bf16 product path.
struct Bf16Path {
  const char* name;  // "avx512bf16", "amx", "amx-model", or the fp32 table whose vectors the fallback uses
  bool hardware;     // bf16 dot products in hardware
  // The product; part: this thread's share of a team's product (Part as in kernels.h).
  void (*gemm)(const GemmBf16Args& g, Part part);
  // Sums in vdpbf16ps's order (the comment at the top), so bit for bit the
  // fallback's; false for AMX, which sums in tdpbf16ps's (simd/gemm_bf16_amx.h).
  bool vdp_order;
};

// The path in use: DEEPRNN_BF16=avx512bf16 forces the instruction (an error
// where the CPU lacks it), DEEPRNN_BF16=amx the AMX tiles (an error where the
// CPU or the OS does not allow them), DEEPRNN_BF16=emulated the fallback on
// the vectors of the fp32 table in use, DEEPRNN_BF16=amx-model the AMX path's
// code on a software model of its tile instructions (slow: for tests); unset,
// the AMX tiles where the CPU and OS allow them and Linux gives this process
// their permission, else vdpbf16ps where the CPU has it, else the fallback. Throws
// std::runtime_error on an unknown or unsupported name.
const Bf16Path& bf16_path();
// The path bf16_path() gives, or would give at the first product, without
// asking Linux for the AMX permission (for info(): a process that only reads
// it is not given the tiles; where the permission is then refused, the
// products run on vdpbf16ps and this says so from then on).
const Bf16Path& bf16_path_peek();
// Forces a path by name as DEEPRNN_BF16 would ("" or null: back to the
// default, chosen at the next bf16_path(), whatever DEEPRNN_BF16 says).
void bf16_select(const char* name);
// A path by name ("avx512bf16", "amx", "amx-model", or a fp32 table's name
// for its fallback); null when unknown or unsupported here.
const Bf16Path* bf16_find(const char* name);
// Whether this CPU and OS run vdpbf16ps.
bool bf16_hardware_supported();
// Whether this CPU has AMX-BF16 and the OS hands out its tiles (XCR0, and on
// Linux arch_prctl(ARCH_GET_XCOMP_SUPP)); the permission itself
// (ARCH_REQ_XCOMP_PERM) is asked for only when the amx path is chosen.
bool bf16_amx_supported();

// C(M,N) (+)= A(M,K) Bp, Bp packed with bf16_packed_ld(N) pairs per row.
inline void gemm_bf16_packed(const Bf16Path& p, float* C, const float* A, const uint32_t* Bp, long ldbp, long M, long N,
                             long K, bool accumulate, const float* bias, Part part = {}) {
  p.gemm({C, A, nullptr, Bp, M, N, K, K, ldbp, N, false, accumulate, bias}, part);
}
// C(M,N) += A(K,M)^T B(K,N), both float32 and contiguous.
inline void gemm_bf16_tn(const Bf16Path& p, float* C, const float* A, const float* B, long M, long N, long K,
                         Part part = {}) {
  p.gemm({C, A, B, nullptr, M, N, K, M, N, N, true, true, nullptr}, part);
}

const Bf16Path* bf16_path_scalar();
const Bf16Path* bf16_path_amx_model();
#ifdef DEEPRNN_X86
const Bf16Path* bf16_path_avx2();
const Bf16Path* bf16_path_avx512();
const Bf16Path* bf16_path_avx512bf16();
// Pairs as bf16_pack_b makes them, by vcvtne2ps2bf16 (simd/bf16_avx512bf16.cc;
// only where bf16_hardware_supported()): out[j] = the pair of even[j] (low)
// and odd[j] (high; 0 when odd is null), j < n; and out[p] = the pair of x[2p]
// and x[2p + 1] for the n floats of x (the last high half 0 when n is odd).
void bf16_pairs_of_rows_avx512bf16(uint32_t* out, const float* even, const float* odd, long n);
void bf16_pairs_of_row_avx512bf16(uint32_t* out, const float* x, long n);
#endif
#ifdef DEEPRNN_AMX
const Bf16Path* bf16_path_amx();
#endif
#ifdef DEEPRNN_ARM64
const Bf16Path* bf16_path_neon();
#endif

}  // namespace deeprnn
