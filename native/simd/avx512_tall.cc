// The avx512 table's second GEMM: tiles of 12 rows x 32 columns (24
// accumulators, two vectors of B per k) over k in passes of at most 256,
// instead of 5 x 64 over passes of 1024. Per multiply-add it reads 5.3 bytes
// of B instead of 12.8, and its pass of B (256 x 32 floats) stays in L1: a
// core that issues two 512-bit FMAs per cycle needs B at twice the rate of
// one that issues one, which the wide tile's L2 stream may not give. A third
// variant runs the weight gradients by this tile and the rest by 5 x 64, a
// fourth the other way round. Which runs is measured at start, for each kind
// of product on its own (simd/cpu.cc).
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_avx512_tall
#define DEEPRNN_ISA_NAME "avx512"
#define DEEPRNN_MAX_TILE 32
#define DEEPRNN_VEC_BYTES 64
#define DEEPRNN_GEMM_ROWS 12
#define DEEPRNN_ROW_HEIGHTS_MIXED 1  // and tiles of 13 and 11 rows, to cover M exactly
#define DEEPRNN_GEMM_SMALL_ROWS 4    // and of 4 rows for what those leave over
#define DEEPRNN_GEMM_DEPTH 256
#define DEEPRNN_GEMM_VARIANT 1
#include "simd/gemm_impl.h"

namespace deeprnn {
GemmVariant gemm_avx512_tall() { return {isa_avx512_tall::kTileName, isa_avx512_tall::gemm}; }

namespace {
// The weight gradients (C += A^T B) by this file's tile, the other products by the set's own.
void gemm_by_kind(const GemmArgs& g, Part part) {
  if (g.transA) return isa_avx512_tall::gemm(g, part);
  table_avx512()->gemm(g, part);
}
}  // namespace

GemmVariant gemm_avx512_by_kind() { return {"5x64+12x32", gemm_by_kind}; }

namespace {
// The weight gradients by the set's own tile, the other products by this file's.
void gemm_by_kind_rev(const GemmArgs& g, Part part) {
  if (g.transA) return table_avx512()->gemm(g, part);
  isa_avx512_tall::gemm(g, part);
}
}  // namespace

GemmVariant gemm_avx512_by_kind_rev() { return {"12x32+5x64", gemm_by_kind_rev}; }
}  // namespace deeprnn
