// The amx-model bf16 product path: simd/gemm_bf16_amx.h on a software model
// of the tile instructions, so that the AMX path's code runs and is tested on
// any CPU (DEEPRNN_BF16=amx-model). Eight tiles of this thread, each a number
// of rows of a number of bytes as the configuration says; tdpbf16ps as
// Intel's instruction-set reference defines it: for each row m of C and
// column n, two sums from 0 over the tiles' pairs k, even += A[m][k].low *
// B[k][n].low and odd += A[m][k].high * B[k][n].high, then C[m][n] += even +
// odd; every step a float32 FMA or sum rounded to nearest even with subnormal
// inputs and results as zero (simd/flush_modes.h). Compiled with FMA on x86
// (CMakeLists.txt), where the path needs the avx2 table's CPU.
#include <cmath>

#include "simd/flush_modes.h"

#define DEEPRNN_AMX_NS isa_bf16_amx_model
#include "simd/gemm_bf16_amx.h"

namespace deeprnn {
namespace isa_bf16_amx_model {

struct Tile {
  long rows = 0, colsb = 0;
  alignas(64) unsigned char d[16][64];
};

static Tile* tiles() {
  static thread_local Tile t[8];
  return t;
}

static inline float low_of(uint32_t pair) {
  const uint32_t u = pair << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
static inline float high_of(uint32_t pair) {
  const uint32_t u = pair & 0xffff0000u;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

struct AmxEngine {
  static void config(const TileConfig* c) {
    Tile* t = tiles();
    for (int i = 0; i < 8; ++i) {
      t[i].rows = c->rows[i];
      t[i].colsb = c->colsb[i];
      std::memset(t[i].d, 0, sizeof t[i].d);
    }
  }
  static void release() {
    Tile* t = tiles();
    for (int i = 0; i < 8; ++i) t[i].rows = t[i].colsb = 0;
  }
  template <int T>
  static void load(const void* p, long stride) {
    Tile& t = tiles()[T];
    for (long r = 0; r < t.rows; ++r) std::memcpy(t.d[r], static_cast<const unsigned char*>(p) + r * stride, t.colsb);
  }
  template <int T>
  static void store(void* p, long stride) {
    const Tile& t = tiles()[T];
    for (long r = 0; r < t.rows; ++r) std::memcpy(static_cast<unsigned char*>(p) + r * stride, t.d[r], t.colsb);
  }
  template <int T>
  static void zero() {
    std::memset(tiles()[T].d, 0, sizeof tiles()[T].d);
  }
  template <int C, int A, int B>
  static void dp() {
    [[maybe_unused]] const DenormalsAsZero modes;
    Tile& c = tiles()[C];
    const Tile& a = tiles()[A];
    const Tile& b = tiles()[B];
    for (long m = 0; m < c.rows; ++m) {
      float even[16] = {}, odd[16] = {}, acc[16];
      for (long k = 0; k < a.colsb / 4; ++k) {
        uint32_t ap;
        std::memcpy(&ap, a.d[m] + 4 * k, 4);
        for (long n = 0; n < c.colsb / 4; ++n) {
          uint32_t bp;
          std::memcpy(&bp, b.d[k] + 4 * n, 4);
          even[n] = std::fma(low_of(ap), low_of(bp), even[n]);
          odd[n] = std::fma(high_of(ap), high_of(bp), odd[n]);
        }
      }
      std::memcpy(acc, c.d[m], sizeof acc);
      for (long n = 0; n < c.colsb / 4; ++n) acc[n] += even[n] + odd[n];  // each sum rounded to float32
      std::memcpy(c.d[m], acc, sizeof acc);
    }
  }
};

static const Bf16Path kPath = {"amx-model", false, gemm<AmxEngine>, false};

}  // namespace isa_bf16_amx_model

const Bf16Path* bf16_path_amx_model() { return &isa_bf16_amx_model::kPath; }

}  // namespace deeprnn
