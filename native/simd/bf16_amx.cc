// The amx bf16 product path: simd/gemm_bf16_amx.h on the hardware's tile
// instructions (AMX-TILE, AMX-BF16), the only file compiled with -mamx-tile
// -mamx-bf16 (CMakeLists.txt, where the compiler has them), and with AVX-512
// for its packing loops (simd/bf16.cc allows the path only where the avx512
// table runs). Chosen only by DEEPRNN_BF16=amx, where simd/bf16.cc finds
// AMX-BF16 and the OS's permission to use the tiles.
#include <immintrin.h>

#define DEEPRNN_AMX_NS isa_bf16_amx
#include "simd/gemm_bf16_amx.h"

namespace deeprnn {
namespace isa_bf16_amx {

// GCC's tile intrinsics write the tile's number into the instruction's text,
// so each one is spelled out with its number.
#define DEEPRNN_TILES(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

struct AmxEngine {
  static void config(const TileConfig* c) { _tile_loadconfig(c); }
  static void release() { _tile_release(); }
  template <int T>
  static void load(const void* p, long stride) {
    // GCC's tileloadd names no memory operand: the stores that filled p must not move past it.
    __asm__ volatile("" ::: "memory");
    switch (T) {
#define DEEPRNN_LOAD(t) \
  case t: _tile_loadd(t, p, stride); break;
      DEEPRNN_TILES(DEEPRNN_LOAD)
#undef DEEPRNN_LOAD
    }
  }
  template <int T>
  static void store(void* p, long stride) {
    switch (T) {
#define DEEPRNN_STORE(t) \
  case t: _tile_stored(t, p, stride); break;
      DEEPRNN_TILES(DEEPRNN_STORE)
#undef DEEPRNN_STORE
    }
  }
  template <int T>
  static void zero() {
    switch (T) {
#define DEEPRNN_ZERO(t) \
  case t: _tile_zero(t); break;
      DEEPRNN_TILES(DEEPRNN_ZERO)
#undef DEEPRNN_ZERO
    }
  }
  // The block's four products: C tile c (row half c / 2, column half c % 2)
  // += A tile 4 + c / 2 times B tile 6 + c % 2.
  template <int C, int A, int B>
  static void dp() {
    static_assert(C >= 0 && C < 4 && A == 4 + C / 2 && B == 6 + C % 2, "one of the block's four products");
    switch (C) {
      case 0: _tile_dpbf16ps(0, 4, 6); break;
      case 1: _tile_dpbf16ps(1, 4, 7); break;
      case 2: _tile_dpbf16ps(2, 5, 6); break;
      default: _tile_dpbf16ps(3, 5, 7); break;
    }
  }
};

static const Bf16Path kPath = {"amx", true, gemm<AmxEngine>, false};

}  // namespace isa_bf16_amx

const Bf16Path* bf16_path_amx() { return &isa_bf16_amx::kPath; }

}  // namespace deeprnn
