// FMA peak of this machine: independent chains of fused multiply-adds on the
// widest vectors the CPU has, on every thread. Built and run by `deeprnn bench`:
//   g++ -O2 -fopenmp -mavx512f -mfma bench/fma_peak.cc -o fma_peak && ./fma_peak THREADS
// Prints GFLOP/s (2 FLOPs per lane per FMA).
//   g++ -O2 -fopenmp -mavx512f -mavx512bf16 bench/fma_peak.cc -o fma_peak && ./fma_peak THREADS bf16
// gives the same for vdpbf16ps (bf16 pairs, float32 sums: 2 products, 4 FLOPs,
// per lane per instruction), the rate --precision bf16's products run at; it
// exits 2 when built without AVX512-BF16.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 V;
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET1(x) _mm512_set1_ps(x)
static const int kLanes = 16;
static float sum(V v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 V;
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET1(x) _mm256_set1_ps(x)
static const int kLanes = 8;
static float sum(V v) {
  float t[8];
  _mm256_storeu_ps(t, v);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#else
typedef float V;
#define FMA(a, b, c) ((a) * (b) + (c))
#define SET1(x) (x)
static const int kLanes = 1;
static float sum(V v) { return v; }
#endif

#if defined(__AVX512BF16__)
// 16 chains of vdpbf16ps; 4 FLOPs per lane per instruction.
static double bf16_peak(int threads, long iters) {
  float sink = 0.0f;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  {
    __m512 a0 = SET1(1.00f), a1 = SET1(1.01f), a2 = SET1(1.02f), a3 = SET1(1.03f), a4 = SET1(1.04f), a5 = SET1(1.05f),
           a6 = SET1(1.06f), a7 = SET1(1.07f), a8 = SET1(1.08f), a9 = SET1(1.09f), a10 = SET1(1.10f),
           a11 = SET1(1.11f), a12 = SET1(1.12f), a13 = SET1(1.13f), a14 = SET1(1.14f), a15 = SET1(1.15f);
    // Pairs of normal bf16 values whose products keep the sums finite and normal.
    const __m512bh x = _mm512_cvtne2ps_pbh(SET1(1e-3f), SET1(-1e-3f)), y = _mm512_cvtne2ps_pbh(SET1(1e-4f), SET1(2e-4f));
    for (long it = 0; it < iters; ++it) {
      a0 = _mm512_dpbf16_ps(a0, x, y); a1 = _mm512_dpbf16_ps(a1, x, y); a2 = _mm512_dpbf16_ps(a2, x, y);
      a3 = _mm512_dpbf16_ps(a3, x, y); a4 = _mm512_dpbf16_ps(a4, x, y); a5 = _mm512_dpbf16_ps(a5, x, y);
      a6 = _mm512_dpbf16_ps(a6, x, y); a7 = _mm512_dpbf16_ps(a7, x, y); a8 = _mm512_dpbf16_ps(a8, x, y);
      a9 = _mm512_dpbf16_ps(a9, x, y); a10 = _mm512_dpbf16_ps(a10, x, y); a11 = _mm512_dpbf16_ps(a11, x, y);
      a12 = _mm512_dpbf16_ps(a12, x, y); a13 = _mm512_dpbf16_ps(a13, x, y); a14 = _mm512_dpbf16_ps(a14, x, y);
      a15 = _mm512_dpbf16_ps(a15, x, y);
    }
    sink += sum(a0) + sum(a1) + sum(a2) + sum(a3) + sum(a4) + sum(a5) + sum(a6) + sum(a7) + sum(a8) + sum(a9) +
            sum(a10) + sum(a11) + sum(a12) + sum(a13) + sum(a14) + sum(a15);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sink == 12345.0f ? 0.0 : 4.0 * kLanes * 16.0 * iters * threads / s / 1e9;
}
#endif

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : omp_get_max_threads();
  const long iters = 200000000;
  if (argc > 2 && std::strcmp(argv[2], "bf16") == 0) {
#if defined(__AVX512BF16__)
    std::printf("%.1f\n", bf16_peak(threads, iters / 2));
    return 0;
#else
    std::fprintf(stderr, "fma_peak: built without AVX512-BF16 (-mavx512bf16): no bf16 peak\n");
    return 2;
#endif
  }
  float sink = 0.0f;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  {
    // 16 named accumulators: independent chains that stay in registers.
    V a0 = SET1(1.00f), a1 = SET1(1.01f), a2 = SET1(1.02f), a3 = SET1(1.03f), a4 = SET1(1.04f), a5 = SET1(1.05f),
      a6 = SET1(1.06f), a7 = SET1(1.07f), a8 = SET1(1.08f), a9 = SET1(1.09f), a10 = SET1(1.10f), a11 = SET1(1.11f),
      a12 = SET1(1.12f), a13 = SET1(1.13f), a14 = SET1(1.14f), a15 = SET1(1.15f);
    const V m = SET1(0.999999f), c = SET1(1e-7f);
    for (long it = 0; it < iters; ++it) {
      a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);
      a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);
      a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);
      a12 = FMA(a12, m, c); a13 = FMA(a13, m, c); a14 = FMA(a14, m, c); a15 = FMA(a15, m, c);
    }
    sink += sum(a0) + sum(a1) + sum(a2) + sum(a3) + sum(a4) + sum(a5) + sum(a6) + sum(a7) + sum(a8) + sum(a9) +
            sum(a10) + sum(a11) + sum(a12) + sum(a13) + sum(a14) + sum(a15);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%.1f\n", 2.0 * kLanes * 16.0 * iters * threads / s / 1e9);
  return sink == 12345.0f ? 1 : 0;
}
