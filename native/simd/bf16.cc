// bf16 conversion and packing (plain C++, baseline flags), and the choice of
// bf16 product path (see bf16.h).
#include "simd/bf16.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#if defined(DEEPRNN_X86)
#include <cpuid.h>
#endif
#if defined(DEEPRNN_AMX) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace deeprnn {

void bf16_convert(uint16_t* out, const float* in, long n) {
  for (long i = 0; i < n; ++i) out[i] = bf16_from_float(in[i]);
}

void bf16_round_array(float* x, long n) {
  for (long i = 0; i < n; ++i) x[i] = bf16_round(x[i]);
}

void bf16_pack_b_panels(uint32_t* out, const float* src, long ldb, bool trans, long K, long N, long kp0, long kp1) {
  const long Kp = (K + 1) / 2;
  for (long p0 = 0; p0 < N; p0 += kGemmPanel) {
    const long w = N - p0 < kGemmPanel ? N - p0 : kGemmPanel;
    bf16_pack_b(out + p0 * Kp, trans ? src + p0 * ldb : src + p0, ldb, trans, K, w, kp0, kp1);
  }
}

void bf16_pack_b(uint32_t* out, const float* src, long ldb, bool trans, long K, long N, long kp0, long kp1) {
  const long ld = bf16_packed_ld(N);
#if defined(DEEPRNN_X86)
  if (trans && bf16_hardware_supported()) {
    // Rows of src (columns of B) 16 at a time, by vcvtne2ps2bf16 along each
    // row (a pair is two neighbours), 256 pairs at a time, then transposed:
    // each row of pairs written 16 columns (a cache line) at a time.
    const long kChunk = 256;
    uint32_t tmp[16 * kChunk];
    for (long j0 = 0; j0 < N; j0 += 16) {
      const long nj = N - j0 < 16 ? N - j0 : 16;
      for (long c0 = kp0; c0 < kp1; c0 += kChunk) {
        const long c1 = kp1 - c0 < kChunk ? kp1 : c0 + kChunk, np = c1 - c0;
        const long floats = 2 * c1 <= K ? 2 * np : K - 2 * c0;  // the last pair may lack its odd k
        for (long jj = 0; jj < nj; ++jj) bf16_pairs_of_row_avx512bf16(tmp + jj * kChunk, src + (j0 + jj) * ldb + 2 * c0, floats);
        for (long p = 0; p < np; ++p)
          for (long jj = 0; jj < nj; ++jj) out[(c0 + p) * ld + j0 + jj] = tmp[jj * kChunk + p];
      }
    }
    for (long kp = kp0; kp < kp1; ++kp)
      for (long j = N; j < ld; ++j) out[kp * ld + j] = 0;
    return;
  }
#endif
  for (long kp = kp0; kp < kp1; ++kp) {
    uint32_t* o = out + kp * ld;
    const long k = 2 * kp;
    const bool odd = k + 1 < K;
    if (trans) {
      // B[k, j] = src[j * ldb + k]: a column's pair is two neighbours in src's row j
      for (long j = 0; j < N; ++j) {
        const float* s = src + j * ldb + k;
        o[j] = bf16_operand(s[0]) | (odd ? static_cast<uint32_t>(bf16_operand(s[1])) << 16 : 0u);
      }
    } else {
      const float* lo = src + k * ldb;
#if defined(DEEPRNN_X86)
      if (bf16_hardware_supported()) {  // 16 pairs per vcvtne2ps2bf16, the same bits
        bf16_pairs_of_rows_avx512bf16(o, lo, odd ? lo + ldb : nullptr, N);
        for (long j = N; j < ld; ++j) o[j] = 0;
        continue;
      }
#endif
      for (long j = 0; j < N; ++j)
        o[j] = bf16_operand(lo[j]) | (odd ? static_cast<uint32_t>(bf16_operand(lo[ldb + j])) << 16 : 0u);
    }
    for (long j = N; j < ld; ++j) o[j] = 0;
  }
}

namespace {

#if defined(DEEPRNN_X86)
// AVX512-BF16 (cpuid leaf 7, subleaf 1, eax bit 5) on top of the AVX-512 that
// the avx512 table needs, with the OS saving ZMM state (xgetbv).
bool detect_bf16() {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  if ((eax & 0xe6) != 0xe6) return false;  // SSE, AVX, opmask and ZMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  if (!(f && dq && bw && vl) || a < 1) return false;
  __get_cpuid_count(7, 1, &a, &b, &c, &d);
  return a & (1u << 5);
}
#endif

#if defined(DEEPRNN_AMX)
const long kXfeatureXtiledata = 18;  // the tiles' data in the kernel's xstate numbering

// AMX-BF16 and AMX-TILE (cpuid leaf 7, subleaf 0, edx bits 22 and 24), the
// tiles' state enabled by the OS (XCR0 bits 17 and 18), and a Linux that
// hands it out (arch_prctl ARCH_GET_XCOMP_SUPP lists XTILEDATA: 5.16 and
// later). Asks for nothing: a process that never chooses AMX is not given it.
bool detect_amx() {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 22)) || !(d & (1u << 24))) return false;
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  if ((eax & 0x60000u) != 0x60000u) return false;
#if defined(__linux__)
  const long kArchGetXcompSupp = 0x1021;
  unsigned long features = 0;
  return syscall(SYS_arch_prctl, kArchGetXcompSupp, &features) == 0 && (features >> kXfeatureXtiledata & 1);
#else
  return false;
#endif
}

// Whether the permission below was asked for: 0 not yet, 1 given, -1 refused.
std::atomic<int> g_amx_asked{0};

// The permission to use the tiles, asked for once for the process
// (arch_prctl ARCH_REQ_XCOMP_PERM; every thread of the process then has it),
// when AMX is chosen: by DEEPRNN_BF16=amx, or by default at the first bf16
// product, never by info() (a process that only runs fp32 is not given it).
// Linux refuses it when an alternate signal stack of the process is too small
// for the tiles' state.
bool amx_permission() {
#if defined(__linux__)
  static const bool yes = [] {
    const long kArchReqXcompPerm = 0x1023;
    const bool given = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    g_amx_asked.store(given ? 1 : -1);
    return given;
  }();
  return yes;
#else
  return false;
#endif
}
#endif

// The AMX model where its FMAs run: anywhere but x86 without the avx2 table's FMA.
const Bf16Path* amx_model() {
#if defined(DEEPRNN_X86)
  if (!kernels_find("avx2")) return nullptr;
#endif
  return bf16_path_amx_model();
}

// The fallback compiled for the fp32 table named `table`, or null.
const Bf16Path* fallback_for(const char* table) {
  const std::string t = table;
  if (t == "scalar") return bf16_path_scalar();
#if defined(DEEPRNN_X86)
  if (t == "avx2") return bf16_path_avx2();
  if (t == "avx512") return bf16_path_avx512();
#endif
#if defined(DEEPRNN_ARM64)
  if (t == "neon") return bf16_path_neon();
#endif
  return nullptr;
}

std::atomic<const Bf16Path*> g_path{nullptr};
std::mutex g_mutex;
// Where the path comes from while g_path is null: DEEPRNN_BF16 (false), or
// the default whatever it says (true: bf16_select("") chose the default).
std::atomic<bool> g_plain_default{false};

// The name the path is chosen by while none is chosen yet (null: the default).
const char* wanted() { return g_plain_default.load() ? nullptr : std::getenv("DEEPRNN_BF16"); }

// The default: AMX where the CPU, the OS and Linux's permission allow it (its
// results differ from vdpbf16ps's by rounding), else vdpbf16ps, else the
// fallback. `ask`: ask Linux for the permission; else AMX unless it was refused.
const Bf16Path* default_path(bool ask) {
#if defined(DEEPRNN_AMX)
  if (bf16_amx_supported() && (ask ? amx_permission() : g_amx_asked.load() >= 0)) return bf16_path_amx();
#else
  (void)ask;
#endif
#if defined(DEEPRNN_X86)
  if (bf16_hardware_supported()) return bf16_path_avx512bf16();
#endif
  return fallback_for(kernels().name);
}

const Bf16Path* choose(const char* want) {
  const std::string w = want ? want : "";
  if (w.empty()) return default_path(true);
  if (w == "emulated") return fallback_for(kernels().name);
  if (w == "amx") {
#if defined(DEEPRNN_AMX)
    if (bf16_amx_supported()) {
      if (amx_permission()) return bf16_path_amx();
      throw std::runtime_error("DEEPRNN_BF16=amx: Linux refused this process the AMX tiles (arch_prctl ARCH_REQ_XCOMP_PERM)");
    }
    throw std::runtime_error("DEEPRNN_BF16=amx is not supported by this CPU and OS (AMX-BF16 tiles)");
#else
    throw std::runtime_error("DEEPRNN_BF16=amx: this build has no AMX path (its compiler lacked -mamx-tile -mamx-bf16, or not x86-64)");
#endif
  }
  if (w == "amx-model") {
    if (const Bf16Path* p = amx_model()) return p;
    throw std::runtime_error("DEEPRNN_BF16=amx-model needs FMA (the avx2 table) on this CPU");
  }
  if (w == "avx512bf16") {
#if defined(DEEPRNN_X86)
    if (bf16_hardware_supported()) return bf16_path_avx512bf16();
#endif
    throw std::runtime_error("DEEPRNN_BF16=avx512bf16 is not supported by this CPU");
  }
  throw std::runtime_error("DEEPRNN_BF16 must be one of avx512bf16|amx|emulated|amx-model, got \"" + w + "\"");
}

}  // namespace

bool bf16_hardware_supported() {
#if defined(DEEPRNN_X86)
  static const bool yes = detect_bf16();  // cpuid once
  return yes;
#else
  return false;
#endif
}

bool bf16_amx_supported() {
#if defined(DEEPRNN_AMX)
  // once: cpuid and the OS; the path's packing is compiled for AVX-512
  static const bool yes = kernels_find("avx512") && detect_amx();
  return yes;
#else
  return false;
#endif
}

const Bf16Path& bf16_path() {
  const Bf16Path* p = g_path.load();
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_path.load()) g_path.store(choose(wanted()));
  return *g_path.load();
}

const Bf16Path& bf16_path_peek() {
  if (const Bf16Path* p = g_path.load()) return *p;
  const char* want = wanted();
  return want && *want ? bf16_path() : *default_path(false);
}

void bf16_select(const char* name) {
  if (!name || !*name) {
    // the default, chosen at the next product (so that only a bf16 product asks for the AMX permission)
    std::lock_guard<std::mutex> lock(g_mutex);
    g_plain_default.store(true);
    g_path.store(nullptr);
    return;
  }
  const Bf16Path* p = choose(name);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_path.store(p);
}

const Bf16Path* bf16_find(const char* name) {
  const std::string n = name;
#if defined(DEEPRNN_X86)
  if (n == "avx512bf16") return bf16_hardware_supported() ? bf16_path_avx512bf16() : nullptr;
#endif
#if defined(DEEPRNN_AMX)
  if (n == "amx") return bf16_amx_supported() && amx_permission() ? bf16_path_amx() : nullptr;
#endif
  if (n == "amx-model") return amx_model();
  return kernels_find(name) ? fallback_for(name) : nullptr;
}

}  // namespace deeprnn
