// Instruction-set detection (cpuid + xgetbv) and the choice of kernel table.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

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
  bool supported;
  // The set's tables, one per GEMM variant, its own first.
  const KernelTable* tables[kMaxGemmVariants];
  int count = 1;
  // For each table, the tables (indices) whose tiles run its products C = A B
  // and C += A^T B: itself for a tile of its own, two others for a variant
  // that joins them.
  int nn[kMaxGemmVariants] = {0};
  int tn[kMaxGemmVariants] = {0};

  const KernelTable* own() const { return tables[0]; }
  bool base(int v) const { return nn[v] == v && tn[v] == v; }
};

#if defined(DEEPRNN_X86)
// `base` with another GEMM: the tables of the other variants, made once.
KernelTable with_gemm(const KernelTable* base, GemmVariant v) {
  KernelTable t = *base;
  t.gemm = v.gemm;
  t.gemm_tile = v.tile;
  return t;
}
#endif

int fill_candidates(Candidate* out) {
  int n = 0;
  out[n++] = {"scalar", true, {table_scalar()}};
#if defined(DEEPRNN_X86)
  static const Features f = detect();  // cpuid once: in a VM each one can trap to the hypervisor
  static const KernelTable avx512_tall = with_gemm(table_avx512(), gemm_avx512_tall());
  static const KernelTable avx512_by_kind = with_gemm(table_avx512(), gemm_avx512_by_kind());
  static const KernelTable avx512_by_kind_rev = with_gemm(table_avx512(), gemm_avx512_by_kind_rev());
  out[n++] = {"avx2", f.avx2, {table_avx2()}};
  // 5x64, 12x32, 5x64+12x32 (C = A B by the first, C += A^T B by the second), 12x32+5x64
  out[n++] = {"avx512", f.avx512, {table_avx512(), &avx512_tall, &avx512_by_kind, &avx512_by_kind_rev}, 4,
              {0, 1, 0, 1}, {0, 1, 1, 0}};
#endif
#if defined(DEEPRNN_ARM64)
  out[n++] = {"neon", true, {table_neon()}};  // Advanced SIMD is part of every aarch64 CPU
#endif
  return n;
}

// The candidates, best last (made once).
const Candidate* candidates(int* count) {
  static Candidate c[4] = {};
  static const int n = fill_candidates(c);
  *count = n;
  return c;
}

std::atomic<const KernelTable*> g_table{nullptr};
std::mutex g_mutex;  // guards g_choice and g_timed
const char* g_choice = "only";
// Each timed set's result, once per set and process (a set chosen again by
// kernels_select keeps it): the table kept, and each kind's seconds (summed
// best runs) for the set's tiles of their own (Candidate::base; 0 for the
// others, whose seconds are their pair's).
struct Timed {
  const Candidate* set;
  const KernelTable* best;
  double nn[kMaxGemmVariants];
  double tn[kMaxGemmVariants];
};
Timed g_timed[4] = {};

// Seconds of the fastest of `rounds` runs of each kind of product on one
// thread, for each of the set's tiles of its own (Candidate::base): C = A B
// as eight steps of a recurrent product of a batch slice (32 rows, W_hh^T in
// panels, as layers of 128 units or more read it) and an input projection of
// 512 rows whose C (2 MiB) outgrows a core's L2 as a chunk's does (nn: the
// two summed), and C += A^T B as a weight gradient (tn). Tiles alternate round
// by round, so that a change of clock or a busy neighbour falls on all.
// (Before, the variants were timed whole on three products of B's widths
// with 32 and 128 rows, whose C stayed in L2: on a 16-core Xeon that kept
// 12 x 32, whose input projections ran at half 5 x 64's speed there.)
void time_tiles(const Candidate& c, double* nn, double* tn) {
  struct Shape {
    long M, N, K, reps;
    bool transA;
  };
  static const Shape shapes[3] = {{32, 1024, 256, 8, false}, {512, 1024, 512, 1, false}, {512, 256, 256, 1, true}};
  std::vector<float> A(512 * 512), B(512 * 1024), C(512 * 1024), scratch(kGemmScratchFloats);
  for (size_t i = 0; i < A.size(); ++i) A[i] = static_cast<float>(i % 7) * 0.125f - 0.375f;
  for (size_t i = 0; i < B.size(); ++i) B[i] = static_cast<float>(i % 5) * 0.25f - 0.5f;
  const int rounds = 2;  // about 7 ms per tile and round at 100 GFLOP/s (3.7 ms here)
  double best[kMaxGemmVariants][3];
  for (int v = 0; v < c.count; ++v)
    for (int s = 0; s < 3; ++s) best[v][s] = 1e30;
  for (int r = 0; r <= rounds; ++r)  // round 0 warms caches and clocks, and is not counted
    for (int v = 0; v < c.count; ++v) {
      if (!c.base(v)) continue;
      for (int s = 0; s < 3; ++s) {
        const Shape& h = shapes[s];
        GemmArgs g{C.data(), A.data(), B.data(), h.M, h.N, h.K, h.transA ? h.M : h.K, h.N, h.N, h.transA, h.transA,
                   nullptr};
        if (h.reps > 1) g.panel = kGemmPanel;  // the recurrent product's W_hh^T (the values do not matter)
        const auto t0 = std::chrono::steady_clock::now();
        for (long q = 0; q < h.reps; ++q) c.tables[v]->gemm(g, Part{0, 1, scratch.data()});  // never forks
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r > 0 && sec < best[v][s]) best[v][s] = sec;
      }
    }
  for (int v = 0; v < c.count; ++v) {
    nn[v] = c.base(v) ? best[v][0] + best[v][1] : 0.0;
    tn[v] = c.base(v) ? best[v][2] : 0.0;
  }
}

// The ISA's table with the GEMM variant DEEPRNN_GEMM_TILE names, else its
// own (timed later, by kernels_tune). Sets g_choice; called with g_mutex held.
const KernelTable* with_tile(const Candidate& c) {
  const KernelTable* const* v = c.tables;
  const int n = c.count;
  const char* want = std::getenv("DEEPRNN_GEMM_TILE");
  if (want != nullptr && *want != '\0') {
    std::string known;
    for (int i = 0; i < n; ++i) {
      if (std::strcmp(want, v[i]->gemm_tile) == 0) return g_choice = "forced", v[i];
      known += (i ? "|" : "") + std::string(v[i]->gemm_tile);
    }
    throw std::runtime_error("DEEPRNN_GEMM_TILE must be one of " + known + " for " + c.name + ", got \"" + want +
                             "\"");
  }
  g_choice = n > 1 ? "untimed" : "only";
  return c.own();
}

// The candidate named `want` (the best supported when null or empty).
const Candidate& choose(const char* want) {
  int n;
  const Candidate* c = candidates(&n);
  if (want == nullptr || *want == '\0') {
    int best = 0;
    for (int i = 0; i < n; ++i)
      if (c[i].supported) best = i;
    return c[best];
  }
  std::string known;
  for (int i = 0; i < n; ++i) {
    if (std::strcmp(c[i].name, want) == 0) {
      if (!c[i].supported)
        throw std::runtime_error(std::string("DEEPRNN_SIMD=") + want + " is not supported by this CPU");
      return c[i];
    }
    known += (i ? "|" : "") + std::string(c[i].name);
  }
  throw std::runtime_error(std::string("DEEPRNN_SIMD must be one of ") + known + ", got \"" + want + "\"");
}

const Candidate* candidate_of(const KernelTable* t) {
  int n;
  const Candidate* c = candidates(&n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < c[i].count; ++j)
      if (c[i].tables[j] == t) return &c[i];
  return nullptr;
}

}  // namespace

void gemm_empty_k(float* C, long ldc, long M, long N, const float* bias, bool accumulate, Part part) {
  if (accumulate) return;
  const long r0 = part.nth ? M * part.tid / part.nth : 0, r1 = part.nth ? M * (part.tid + 1) / part.nth : M;
  for (long i = r0; i < r1; ++i)
    for (long j = 0; j < N; ++j) C[i * ldc + j] = bias ? bias[j] : 0.0f;
}

namespace {
// DEEPRNN_TN_ACROSS=1 at start, or gemm_tn_across_set.
std::atomic<bool>& tn_across() {
  static std::atomic<bool> on{[] {
    const char* e = std::getenv("DEEPRNN_TN_ACROSS");
    return e != nullptr && std::strcmp(e, "1") == 0;
  }()};
  return on;
}
}  // namespace

bool gemm_tn_across() { return tn_across().load(std::memory_order_relaxed); }
void gemm_tn_across_set(bool on) { tn_across().store(on, std::memory_order_relaxed); }

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
  if (!g_table.load()) g_table.store(with_tile(choose(std::getenv("DEEPRNN_SIMD"))));
  return *g_table.load();
}

void kernels_tune() {
  const KernelTable& now = kernels();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (std::strcmp(g_choice, "untimed") != 0) return;
  const Candidate* c = candidate_of(&now);
  Timed* slot = nullptr;
  for (Timed& t : g_timed)
    if (t.set == c || (!slot && !t.set)) slot = &t;
  if (slot->set != c) {
    const int n = c->count;
    double nn[kMaxGemmVariants] = {}, tn[kMaxGemmVariants] = {};
    time_tiles(*c, nn, tn);
    // Each kind by the fastest tile, if at least 5% faster than the set's
    // own: a tie stays put however the noise falls.
    int bn = 0, bt = 0;
    for (int v = 1; v < n; ++v) {
      if (!c->base(v)) continue;
      if (nn[v] < nn[bn]) bn = v;
      if (tn[v] < tn[bt]) bt = v;
    }
    if (nn[bn] >= 0.95 * nn[0]) bn = 0;
    if (tn[bt] >= 0.95 * tn[0]) bt = 0;
    int best = 0;
    for (int v = 0; v < n; ++v)
      if (c->nn[v] == bn && c->tn[v] == bt) best = v;
    *slot = {c, c->tables[best], {}, {}};
    for (int v = 0; v < n; ++v) slot->nn[v] = nn[v], slot->tn[v] = tn[v];
  }
  g_table.store(slot->best);
  g_choice = "timed";
}

void kernels_select(const char* name) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_table.store(with_tile(choose(name)));
}

const KernelTable* kernels_find(const char* name) {
  int n;
  const Candidate* c = candidates(&n);
  const char* colon = std::strchr(name, ':');
  const size_t len = colon ? static_cast<size_t>(colon - name) : std::strlen(name);
  for (int i = 0; i < n; ++i) {
    if (!c[i].supported || std::strlen(c[i].name) != len || std::strncmp(c[i].name, name, len) != 0) continue;
    if (!colon) return c[i].own();
    for (int j = 0; j < c[i].count; ++j)
      if (std::strcmp(colon + 1, c[i].tables[j]->gemm_tile) == 0) return c[i].tables[j];
  }
  return nullptr;
}

int kernels_gemm_tiles(const char* isa, const char** tiles, int cap) {
  const KernelTable* t = kernels_find(isa);
  const Candidate* c = t ? candidate_of(t) : nullptr;
  int k = 0;
  for (; c && k < c->count && k < cap; ++k) tiles[k] = c->tables[k]->gemm_tile;
  return k;
}

int kernels_gemm_timing(const char** tiles, double* seconds, double* nn, double* tn, int cap) {
  const Candidate* c = candidate_of(&kernels());
  std::lock_guard<std::mutex> lock(g_mutex);
  if (std::strcmp(g_choice, "timed") != 0) return 0;
  for (const Timed& t : g_timed)
    if (t.set == c) {
      int i = 0;
      for (; i < c->count && i < cap; ++i)
        tiles[i] = c->tables[i]->gemm_tile, seconds[i] = t.nn[c->nn[i]] + t.tn[c->tn[i]], nn[i] = t.nn[i],
        tn[i] = t.tn[i];
      return i;
    }
  return 0;
}

const char* kernels_gemm_choice() {
  kernels();
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_choice;
}

int kernels_available(const char** names, int cap) {
  int n;
  const Candidate* c = candidates(&n);
  int k = 0;
  for (int i = 0; i < n && k < cap; ++i)
    if (c[i].supported) names[k++] = c[i].name;
  return k;
}

}  // namespace deeprnn
