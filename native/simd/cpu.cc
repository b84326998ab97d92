// Instruction-set detection (cpuid + xgetbv) and the choice of kernel table.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include <unistd.h>

#include "simd/kernels.h"

#if defined(DEEPRNN_X86)
#include <cpuid.h>
#endif

namespace deeprnn {
namespace {

#if defined(DEEPRNN_X86)
unsigned long long xgetbv0() {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

struct Features {
  bool avx2 = false;
  bool avx512 = false;
};

Features detect() {
  Features f;
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool ymm_os = (xcr0 & 0x6) == 0x6;            // SSE and AVX state
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;          // plus opmask and ZMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17);
  const bool avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  f.avx2 = ymm_os && avx2 && fma;
  f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
  return f;
}
#endif

struct Candidate {
  const char* name;
  const KernelTable* table;
  bool supported;
};

int candidates(Candidate* out) {
  int n = 0;
  out[n++] = {"scalar", table_scalar(), true};
#if defined(DEEPRNN_X86)
  static const Features f = detect();  // cpuid once: in a VM each one can trap to the hypervisor
  out[n++] = {"avx2", table_avx2(), f.avx2};
  out[n++] = {"avx512", table_avx512(), f.avx512};
#endif
#if defined(DEEPRNN_ARM64)
  out[n++] = {"neon", table_neon(), true};  // Advanced SIMD is part of every aarch64 CPU
#endif
  return n;
}

std::atomic<const KernelTable*> g_table{nullptr};
std::mutex g_mutex;

const KernelTable* choose(const char* want) {
  Candidate c[4] = {};
  const int n = candidates(c);
  if (want == nullptr || *want == '\0') {
    const KernelTable* best = c[0].table;
    for (int i = 0; i < n; ++i)
      if (c[i].supported) best = c[i].table;
    return best;
  }
  std::string known;
  for (int i = 0; i < n; ++i) {
    if (std::strcmp(c[i].name, want) == 0) {
      if (!c[i].supported)
        throw std::runtime_error(std::string("DEEPRNN_SIMD=") + want + " is not supported by this CPU");
      return c[i].table;
    }
    known += (i ? "|" : "") + std::string(c[i].name);
  }
  throw std::runtime_error(std::string("DEEPRNN_SIMD must be one of ") + known + ", got \"" + want + "\"");
}

}  // namespace

long l2_cache_bytes() {
  static const long bytes = [] {
    long b = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    b = sysconf(_SC_LEVEL2_CACHE_SIZE);  // glibc: cpuid on x86-64, 0 where unknown
#endif
    return b >= (64L << 10) && b <= (64L << 20) ? b : 1L << 20;
  }();
  return bytes;
}

const KernelTable& kernels() {
  const KernelTable* t = g_table.load();
  if (t) return *t;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_table.load()) g_table.store(choose(std::getenv("DEEPRNN_SIMD")));
  return *g_table.load();
}

void kernels_select(const char* name) {
  const KernelTable* t = choose(name);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_table.store(t);
}

const KernelTable* kernels_find(const char* name) {
  Candidate c[4] = {};
  const int n = candidates(c);
  for (int i = 0; i < n; ++i)
    if (c[i].supported && std::strcmp(c[i].name, name) == 0) return c[i].table;
  return nullptr;
}

int kernels_available(const char** names, int cap) {
  Candidate c[4] = {};
  const int n = candidates(c);
  int k = 0;
  for (int i = 0; i < n && k < cap; ++i)
    if (c[i].supported) names[k++] = c[i].name;
  return k;
}

}  // namespace deeprnn
