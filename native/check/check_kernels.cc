// A standalone check of every kernel table this CPU supports, without Node:
// for a cross-compiled build run under emulation (scripts/check-native.sh
// runs it for aarch64 under qemu), or natively. Each instruction set's
// GEMMs, activations, softmax cross-entropy and cell steps against double
// precision or against the scalar table, on ragged shapes. Prints one line
// per check and exits 1 when any fails.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "simd/bf16.h"
#include "simd/kernels.h"

using deeprnn::KernelTable;

namespace {

int g_failed = 0, g_passed = 0;

void report(bool ok, const std::string& what, double worst) {
  std::printf("%s %s (worst %.3g)\n", ok ? "ok  " : "FAIL", what.c_str(), worst);
  (ok ? g_passed : g_failed)++;
}

std::vector<float> random(std::mt19937& rng, long n, float scale = 1.0f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

// C (+)= op(A) op(B) against double precision, within (K + 2) u sum |terms|.
void check_gemm(const KernelTable& t, std::mt19937& rng) {
  const long shapes[][3] = {{1, 1, 1},    {1, 97, 33},   {5, 3, 7},     {13, 200, 9},    {25, 130, 70},
                           {7, 129, 300}, {33, 17, 600}, {9, 70, 20}, {11, 40, 1300}, {80, 300, 1100},
                           {25, 28, 40},  {10, 60, 16},  {12, 14, 9}};
  for (int kind = 0; kind < 4; ++kind) {  // nn, tn, nt (small M), nn from a bias
    double worst = 0.0;
    bool ok = true;
    for (const auto& s : shapes) {
      const long M = kind == 2 ? 1 + s[0] % 4 : s[0], N = s[1], K = s[2];
      const std::vector<float> A = random(rng, M * K), B = random(rng, K * N), bias = random(rng, N);
      std::vector<float> C = random(rng, M * N);
      const std::vector<float> C0 = C;
      const bool acc = kind == 1;
      if (kind == 0) deeprnn::gemm_nn(t, C.data(), A.data(), B.data(), M, N, K, false);
      if (kind == 1) deeprnn::gemm_tn(t, C.data(), A.data(), B.data(), M, N, K);
      if (kind == 2) t.gemm_nt_small(C.data(), A.data(), B.data(), M, N, K);  // B read as (N, K)
      if (kind == 3) deeprnn::gemm_bias(t, C.data(), A.data(), B.data(), bias.data(), M, N, K);
      for (long i = 0; i < M; ++i)
        for (long j = 0; j < N; ++j) {
          double sum = acc ? C0[i * N + j] : kind == 3 ? bias[j] : 0.0, mag = std::fabs(sum);
          for (long k = 0; k < K; ++k) {
            const double a = kind == 1 ? A[k * M + i] : A[i * K + k];
            const double b = kind == 2 ? B[j * K + k] : B[k * N + j];
            sum += a * b;
            mag += std::fabs(a * b);
          }
          const double bound = (K + 2) * std::ldexp(1.0, -24) * mag + 1e-30;
          const double frac = std::fabs(C[i * N + j] - sum) / bound;
          worst = frac > worst ? frac : worst;
          ok = ok && frac <= 1.0;
        }
    }
    const char* kinds[4] = {"nn", "tn", "nt", "bias"};
    report(ok, std::string(t.name) + " gemm " + t.gemm_tile + " " + kinds[kind] + " within the rounding bound", worst);
  }
}

// A GEMM variant (another register tile of the same set) against the set's
// own GEMM: bitwise the same C for every kind of product, on shapes that cut
// both tiles' rows and columns raggedly and span several passes of k.
void check_gemm_variant(const KernelTable& own, const KernelTable& alt, std::mt19937& rng) {
  const long shapes[][3] = {{1, 1, 1},     {3, 33, 5},     {11, 64, 257},  {12, 32, 256},  {13, 97, 300},
                           {25, 2048, 40}, {26, 130, 513}, {50, 100, 1100}, {37, 65, 1025}, {128, 48, 700},
                           {7, 200, 2049}};
  bool ok = true;
  for (int kind = 0; kind < 3; ++kind)  // nn, tn (accumulating), nn from a bias
    for (const auto& s : shapes) {
      const long M = s[0], N = s[1], K = s[2];
      const std::vector<float> A = random(rng, M * K), B = random(rng, K * N), bias = random(rng, N);
      std::vector<float> C = random(rng, M * N), D = C;
      for (const KernelTable* t : {&own, &alt}) {
        float* out = t == &own ? C.data() : D.data();
        if (kind == 0) deeprnn::gemm_nn(*t, out, A.data(), B.data(), M, N, K, false);
        if (kind == 1) deeprnn::gemm_tn(*t, out, A.data(), B.data(), M, N, K);
        if (kind == 2) deeprnn::gemm_bias(*t, out, A.data(), B.data(), bias.data(), M, N, K);
      }
      ok = ok && std::memcmp(C.data(), D.data(), sizeof(float) * C.size()) == 0;
    }
  report(ok, std::string(alt.name) + " gemm tile " + alt.gemm_tile + " bitwise equal to tile " + own.gemm_tile, 0.0);
}

// Column sums of ragged matrices (more columns than four vectors, rows past one chunk).
void check_colsum(const KernelTable& t, std::mt19937& rng) {
  const long shapes[][2] = {{1, 1}, {3, 5}, {300, 37}, {700, 96}, {513, 130}};
  double worst = 0.0;
  bool ok = true;
  for (const auto& sh : shapes) {
    const long rows = sh[0], cols = sh[1];
    const std::vector<float> X = random(rng, rows * cols);
    std::vector<float> db = random(rng, cols);
    const std::vector<float> db0 = db;
    t.colsum_add(db.data(), X.data(), rows, cols, cols);
    for (long j = 0; j < cols; ++j) {
      double sum = db0[j], mag = std::fabs(sum);
      for (long r = 0; r < rows; ++r) {
        sum += X[r * cols + j];
        mag += std::fabs(X[r * cols + j]);
      }
      const double frac = std::fabs(db[j] - sum) / ((rows + 2) * std::ldexp(1.0, -24) * mag + 1e-30);
      worst = frac > worst ? frac : worst;
      ok = ok && frac <= 1.0;
    }
  }
  report(ok, std::string(t.name) + " column sums within the rounding bound", worst);
}

void check_math(const KernelTable& t) {
  const long n = 20011;
  std::vector<float> x(n), y(n);
  for (long i = 0; i < n; ++i) x[i] = static_cast<float>(-30.0 + 60.0 * i / (n - 1));
  x[0] = -200.0f;
  x[1] = 200.0f;
  const char* names[3] = {"exp", "sigmoid", "tanh"};
  for (int fn = 0; fn < 3; ++fn) {
    t.math_eval(fn, y.data(), x.data(), n);
    double worst = 0.0;
    bool ok = true;
    for (long i = 0; i < n; ++i) {
      const double v = x[i];
      if (fn == 0 && (v < -87 || v > 88)) continue;  // clamped range
      const double want = fn == 0 ? std::exp(v) : fn == 1 ? 1.0 / (1.0 + std::exp(-v)) : std::tanh(v);
      const double allowed = fn == 0 ? 3e-7 * std::fabs(want) : 1.5e-7;
      const double frac = std::fabs(y[i] - want) / allowed;
      worst = frac > worst ? frac : worst;
      ok = ok && frac <= 1.0;
    }
    if (fn == 1) ok = ok && y[0] == 0.0f && y[1] == 1.0f;
    report(ok, std::string(t.name) + " " + names[fn] + " within its bound", worst);
  }
  // exp to float32's edges: finite up to ln(FLT_MAX), infinity past it; below
  // ln(FLT_MIN) a gradual underflow on AVX-512 (one rounding into the
  // subnormals), 0 on the other tables; 0 at -104 on all
  const float edge[] = {80.0f, 88.0f, 88.38f, 88.5f, 88.7f, 88.72f, 88.7228f, -87.3f, -87.33f, -88.0f, -95.0f, -100.0f, -103.9f};
  const bool gradual = std::string(t.name) == "avx512";
  const float beyond[] = {88.72284f, 100.0f, 1e30f, -104.0f, -1e30f};
  const long ne = sizeof edge / sizeof edge[0], nb = sizeof beyond / sizeof beyond[0];
  std::vector<float> ye(ne), yb(nb);
  t.math_eval(0, ye.data(), edge, ne);
  t.math_eval(0, yb.data(), beyond, nb);
  double worst = 0.0;
  bool ok = true;
  for (long i = 0; i < ne; ++i) {
    const double want = std::exp(static_cast<double>(edge[i]));
    const bool below = edge[i] < -87.33654f;
    if (below && !gradual) ok = ok && ye[i] == 0.0f;
    const double allowed = below && !gradual ? std::ldexp(1.0, -126) : 3e-7 * want + std::ldexp(1.0, -150);
    const double frac = std::fabs(ye[i] - want) / allowed;
    worst = frac > worst ? frac : worst;
    ok = ok && frac <= 1.0;
  }
  for (long i = 0; i < nb; ++i) ok = ok && yb[i] == (beyond[i] > 0 ? INFINITY : 0.0f);
  report(ok, std::string(t.name) + " exp to float32's edges (infinity past 88.7228; below -87.3365 " + (gradual ? "subnormals)" : "0)"), worst);
}

void check_xent(const KernelTable& t, std::mt19937& rng) {
  // V below a vector, a whole number of vectors, and between (row by row and in one run over the rows)
  double worst = 0.0;
  bool ok = true;
  for (long V : {7L, 29L, 32L, 65L}) {
    const long M = 37;
    std::vector<float> z = random(rng, M * V, 4.0f), g = z;
    std::vector<int> tg(M);
    for (long m = 0; m < M; ++m) tg[m] = static_cast<int>((m * 7) % V);
    const double loss = t.softmax_xent(z.data(), nullptr, tg.data(), M, V, false, 0.0f);
    t.softmax_xent(g.data(), nullptr, tg.data(), M, V, true, 0.5f);
    double want = 0.0, gworst = 0.0;
    for (long m = 0; m < M; ++m) {
      double mx = -1e30, se = 0.0;
      for (long v = 0; v < V; ++v) mx = z[m * V + v] > mx ? z[m * V + v] : mx;
      for (long v = 0; v < V; ++v) se += std::exp(z[m * V + v] - mx);
      want += mx + std::log(se) - z[m * V + tg[m]];
      for (long v = 0; v < V; ++v) {
        const double p = std::exp(z[m * V + v] - mx) / se, grad = 0.5 * (p - (v == tg[m]));
        const double err = std::fabs(g[m * V + v] - grad);
        gworst = err > gworst ? err : gworst;
      }
    }
    const double rel = std::fabs(loss - want) / want;
    ok = ok && rel <= 1e-5 && gworst <= 1e-6;
    worst = rel > worst ? rel : worst;
    worst = gworst > worst ? gworst : worst;
  }
  report(ok, std::string(t.name) + " softmax cross-entropy loss and gradient", worst);
}

// One step of every cell, forward and backward, against the scalar table.
void check_cells(const KernelTable& t, const KernelTable& ref, std::mt19937& rng) {
  const long N = 5;
  double worst = 0.0;
  bool sums_exact = true;
  for (long H : {37L, 32L}) {  // ragged rows, and rows of whole vectors
    auto cmp = [&](const std::vector<float>& a, const std::vector<float>& b) {
      for (size_t i = 0; i < a.size(); ++i) {
        const double e = std::fabs(a[i] - b[i]) / (0.1 + std::fabs(b[i]));  // values are O(1): 1e-6 absolute near 0
        worst = e > worst ? e : worst;
      }
    };
    for (int cell = 0; cell < 4; ++cell) {  // rnn, gru, lstm, mgu
      const long G = cell == 0 ? 1 : cell == 1 ? 3 : cell == 2 ? 4 : 2, S = cell == 1 ? 4 * H : cell == 3 ? 3 * H : 6 * H;
      const std::vector<float> gx = random(rng, N * G * H), gh = random(rng, N * G * H), b = random(rng, G * H),
                               hp = random(rng, N * H), dy = random(rng, N * H), dh = random(rng, N * H);
      std::vector<float> h1(N * H), h2(N * H), s1(N * S), s2(N * S), d1(N * G * H), d2(N * G * H), e1(N * G * H),
          e2(N * G * H), k1 = dh, k2 = dh;
      const std::vector<float> bsum0 = random(rng, 4 * H);
      std::vector<float> bsum = bsum0;
      const deeprnn::Units u{N, H, H, H};
      if (cell == 0) {
        t.rnn_step(h1.data(), gx.data(), gh.data(), b.data(), u, false);
        ref.rnn_step(h2.data(), gx.data(), gh.data(), b.data(), u, false);
        t.rnn_step_back(d1.data(), dy.data(), dh.data(), h2.data(), u, false, bsum.data());
        ref.rnn_step_back(d2.data(), dy.data(), dh.data(), h2.data(), u, false, nullptr);
      } else if (cell == 1) {
        t.gru_step(h1.data(), s1.data(), gx.data(), gh.data(), b.data(), hp.data(), u);
        ref.gru_step(h2.data(), s2.data(), gx.data(), gh.data(), b.data(), hp.data(), u);
        t.gru_step_back(d1.data(), e1.data(), k1.data(), dy.data(), s2.data(), hp.data(), u, bsum.data());
        ref.gru_step_back(d2.data(), e2.data(), k2.data(), dy.data(), s2.data(), hp.data(), u, nullptr);
      } else if (cell == 2) {
        t.lstm_step(h1.data(), s1.data(), gx.data(), gh.data(), b.data(), hp.data(), H, u);
        ref.lstm_step(h2.data(), s2.data(), gx.data(), gh.data(), b.data(), hp.data(), H, u);
        t.lstm_step_back(d1.data(), k1.data(), dh.data(), dy.data(), s2.data(), hp.data(), H, u, bsum.data());
        ref.lstm_step_back(d2.data(), k2.data(), dh.data(), dy.data(), s2.data(), hp.data(), H, u, nullptr);
      } else {  // the gate, then the candidate; backward the candidate, then the gate with d(f h) = dh
        t.mgu_step_f(s1.data(), gx.data(), gh.data(), b.data(), hp.data(), u);
        ref.mgu_step_f(s2.data(), gx.data(), gh.data(), b.data(), hp.data(), u);
        t.mgu_step_n(h1.data(), s1.data(), gx.data(), gh.data(), b.data(), hp.data(), u);
        ref.mgu_step_n(h2.data(), s2.data(), gx.data(), gh.data(), b.data(), hp.data(), u);
        t.mgu_back_n(d1.data(), k1.data(), dy.data(), s2.data(), u, bsum.data());
        std::vector<float> q(N * H, 0.0f);
        ref.mgu_back_n(d2.data(), k2.data(), dy.data(), s2.data(), u, q.data());
        t.mgu_back_f(d1.data(), k1.data(), dy.data(), s2.data(), hp.data(), dh.data(), u, bsum.data());
        ref.mgu_back_f(d2.data(), k2.data(), dy.data(), s2.data(), hp.data(), dh.data(), u, q.data());
      }
      // The bias sums: what was there plus the rows of the kernel's own gradients, in row order, exactly.
      std::vector<float> want = bsum0;
      const long parts = cell == 0 ? 1 : cell == 3 ? 2 : 4;
      for (long n = 0; n < N; ++n)
        for (long j = 0; j < parts * H; ++j)
          want[j] += cell == 1 && j >= 3 * H ? e1[n * G * H + j - H] : d1[n * G * H + j];
      sums_exact = sums_exact && std::equal(want.begin(), want.begin() + parts * H, bsum.begin());
      cmp(h1, h2);
      cmp(s1, s2);
      cmp(d1, d2);
      cmp(e1, e2);
      cmp(k1, k2);
    }
  }
  report(worst <= 1e-5, std::string(t.name) + " rnn, gru, lstm and mgu steps match scalar", worst);
  report(sums_exact, std::string(t.name) + " backward steps' bias sums exact", 0.0);
}

// A team cuts work by units and tiles: every cell step over shares of units
// (a whole vector and a ragged rest), and every GEMM over column and row
// pieces and with leading dimensions, must give bitwise the whole's result.
void check_shares(const KernelTable& t, std::mt19937& rng) {
  bool steps = true, gemms = true;
  const long N = 5, H = 37;
  for (int cell = 0; cell < 4; ++cell) {  // rnn, gru, lstm, mgu
    const long G = cell == 0 ? 1 : cell == 1 ? 3 : cell == 2 ? 4 : 2, S = cell == 1 ? 4 : cell == 3 ? 3 : 6;
    const std::vector<float> gx = random(rng, N * G * H), gh = random(rng, N * G * H), b = random(rng, G * H),
                             hp = random(rng, N * H), cp = random(rng, N * H), dy = random(rng, N * H),
                             dh0 = random(rng, N * H);
    std::vector<float> h1(N * H), h2(N * H), s1(N * S * H), s2(N * S * H), d1(N * G * H), d2(N * G * H),
        e1(N * G * H), e2(N * G * H), k1 = dh0, k2 = dh0, q1(4 * H), q2(4 * H);
    const deeprnn::Units whole{N, H, H, H};
    if (cell == 0) t.rnn_step(h1.data(), gx.data(), gh.data(), b.data(), whole, false);
    if (cell == 1) t.gru_step(h1.data(), s1.data(), gx.data(), gh.data(), b.data(), hp.data(), whole);
    if (cell == 2) t.lstm_step(h1.data(), s1.data(), gx.data(), gh.data(), b.data(), cp.data(), H, whole);
    if (cell == 0) t.rnn_step_back(d1.data(), dy.data(), k1.data(), h1.data(), whole, false, q1.data());
    if (cell == 1) t.gru_step_back(d1.data(), e1.data(), k1.data(), dy.data(), s1.data(), hp.data(), whole, q1.data());
    if (cell == 2) t.lstm_step_back(d1.data(), k1.data(), dy.data(), dy.data(), s1.data(), cp.data(), H, whole, q1.data());
    if (cell == 3) {  // aux d(f h) taken as dh0
      t.mgu_step_f(s1.data(), gx.data(), gh.data(), b.data(), hp.data(), whole);
      t.mgu_step_n(h1.data(), s1.data(), gx.data(), gh.data(), b.data(), hp.data(), whole);
      t.mgu_back_n(d1.data(), k1.data(), dy.data(), s1.data(), whole, q1.data());
      t.mgu_back_f(d1.data(), k1.data(), dy.data(), s1.data(), hp.data(), dh0.data(), whole, q1.data());
    }
    for (long u0 : {0L, 16L, 32L}) {  // shares of 16, 16 and 5 units; gh holds only the share's
      const long w = u0 < 32 ? 16 : H - 32;
      std::vector<float> ghs(N * G * w);
      for (long n = 0; n < N; ++n)
        for (long g = 0; g < G; ++g)
          for (long j = 0; j < w; ++j) ghs[n * G * w + g * w + j] = gh[n * G * H + g * H + u0 + j];
      const deeprnn::Units u{N, H, w, w};
      if (cell == 0) t.rnn_step(h2.data() + u0, gx.data() + u0, ghs.data(), b.data() + u0, u, false);
      if (cell == 1) t.gru_step(h2.data() + u0, s2.data() + u0, gx.data() + u0, ghs.data(), b.data() + u0, hp.data() + u0, u);
      if (cell == 2) t.lstm_step(h2.data() + u0, s2.data() + u0, gx.data() + u0, ghs.data(), b.data() + u0, cp.data() + u0, H, u);
      if (cell == 3) t.mgu_step_f(s2.data() + u0, gx.data() + u0, ghs.data(), b.data() + u0, hp.data() + u0, u);
      if (cell == 3) t.mgu_step_n(h2.data() + u0, s2.data() + u0, gx.data() + u0, ghs.data(), b.data() + u0, hp.data() + u0, u);
    }
    for (long u0 : {0L, 16L, 32L}) {
      const deeprnn::Units u{N, H, u0 < 32 ? 16 : H - 32, u0 < 32 ? 16 : H - 32};
      if (cell == 0) t.rnn_step_back(d2.data() + u0, dy.data() + u0, k2.data() + u0, h2.data() + u0, u, false, q2.data() + u0);
      if (cell == 1) t.gru_step_back(d2.data() + u0, e2.data() + u0, k2.data() + u0, dy.data() + u0, s2.data() + u0, hp.data() + u0, u, q2.data() + u0);
      if (cell == 2) t.lstm_step_back(d2.data() + u0, k2.data() + u0, dy.data() + u0, dy.data() + u0, s2.data() + u0, cp.data() + u0, H, u, q2.data() + u0);
      if (cell == 3) {
        t.mgu_back_n(d2.data() + u0, k2.data() + u0, dy.data() + u0, s2.data() + u0, u, q2.data() + u0);
        t.mgu_back_f(d2.data() + u0, k2.data() + u0, dy.data() + u0, s2.data() + u0, hp.data() + u0, dh0.data() + u0, u, q2.data() + u0);
      }
    }
    steps = steps && h1 == h2 && s1 == s2 && d1 == d2 && e1 == e2 && k1 == k2 && q1 == q2;
  }
  // GEMMs: C (M, N) whole, then by column pieces (B and C with leading dimensions) and by row pieces.
  for (const auto& sh : std::vector<std::vector<long>>{{37, 111, 37}, {4, 111, 20}, {9, 64, 30}, {5, 37, 21}}) {
    const long M = sh[0], N = sh[1], K = sh[2];
    const std::vector<float> A = random(rng, M * K), B = random(rng, K * N);
    std::vector<float> C(M * N), P(M * N, -1.0f);
    deeprnn::gemm_nn(t, C.data(), A.data(), B.data(), M, N, K, false);
    for (long j0 = 0; j0 < N; j0 += 13) {
      const long w = N - j0 < 13 ? N - j0 : 13;
      t.gemm({P.data() + j0, A.data(), B.data() + j0, M, w, K, K, N, N, false, false, nullptr}, deeprnn::Part{0, 1});
    }
    gemms = gemms && P == C;
    std::vector<float> R(M * N);
    for (long i0 = 0; i0 < M; i0 += 3) {
      const long m = M - i0 < 3 ? M - i0 : 3;
      deeprnn::gemm_nn(t, R.data() + i0 * N, A.data() + i0 * K, B.data(), m, N, K, false);
    }
    gemms = gemms && R == C;
    std::vector<float> Q(M * N);  // a team of 3's shares of the tiles
    for (int tid = 0; tid < 3; ++tid) deeprnn::gemm_nn(t, Q.data(), A.data(), B.data(), M, N, K, false, deeprnn::Part{tid, 3});
    gemms = gemms && Q == C;
    // C += A^T B (A^T: M x K, A stored K x M), whole and by a team of 3
    std::vector<float> T1(M * N, 0.5f), T3(M * N, 0.5f);
    deeprnn::gemm_tn(t, T1.data(), A.data(), B.data(), M, N, K);
    for (int tid = 0; tid < 3; ++tid) deeprnn::gemm_tn(t, T3.data(), A.data(), B.data(), M, N, K, deeprnn::Part{tid, 3});
    gemms = gemms && T1 == T3;
  }
  report(steps, std::string(t.name) + " cell steps over shares of units equal the whole, bitwise", 0.0);
  report(gemms, std::string(t.name) + " GEMM by column, row and team pieces equals the whole, bitwise", 0.0);
}

// Gathering and scatter-adding rows by index: exactly a plain loop's result
// (copies, and sums in row order), widths around the vector lengths, repeated
// indices.
void check_rows(const KernelTable& t, std::mt19937& rng) {
  bool ok = true;
  for (long width : {1L, 7L, 16L, 37L, 96L}) {
    const long M = 53, V = 11, stride = width + 3;
    std::vector<int> idx(M);
    for (long m = 0; m < M; ++m) idx[m] = static_cast<int>(rng() % V);
    const std::vector<float> src = random(rng, V * stride), rows = random(rng, M * stride);
    std::vector<float> out(M * stride, -1.0f), want = out;
    t.gather_rows(out.data(), src.data(), idx.data(), M, width, stride);
    for (long m = 0; m < M; ++m)
      for (long j = 0; j < width; ++j) want[m * stride + j] = src[idx[m] * stride + j];
    ok = ok && out == want;
    std::vector<float> acc = src, wacc = src;
    t.scatter_add_rows(acc.data(), rows.data(), idx.data(), M, width, stride);
    for (long m = 0; m < M; ++m)
      for (long j = 0; j < width; ++j) wacc[idx[m] * stride + j] += rows[m * stride + j];
    ok = ok && acc == wacc;
  }
  report(ok, std::string(t.name) + " gather and scatter-add of rows exact", 0.0);
}

}  // namespace

// A bf16 path's products against double precision of the bf16 operands (no
// subnormals among them), within (K + 1) u sum |terms|, B packed first and as
// read, A plain and transposed; and bitwise equal to the scalar fallback (every
// path adds the same exact products in the same order and modes).
void check_bf16(const deeprnn::Bf16Path& p, std::mt19937& rng) {
  const deeprnn::Bf16Path* ref = deeprnn::bf16_find("scalar");
  // (K of 28 and 30: every pair of a row in the tail of the conversion; N of 28 and 30: a partial vector of columns)
  const long shapes[][3] = {{1, 1, 1}, {5, 3, 7}, {13, 200, 9}, {7, 129, 300}, {33, 17, 600}, {6, 70, 1101}, {50, 28, 28}, {12, 30, 30}};
  double worst = 0;
  bool ok = true, same = true;
  for (const auto& sh : shapes) {
    const long M = sh[0], N = sh[1], K = sh[2];
    for (int kind = 0; kind < 2; ++kind) {  // nn with B packed, tn with B as read
      const bool trans = kind == 1;
      std::vector<float> A = random(rng, M * K), B = random(rng, K * N), C(static_cast<size_t>(M * N)),
                         R(static_cast<size_t>(M * N));
      std::vector<uint32_t> packed(static_cast<size_t>(deeprnn::bf16_packed_size(K, N)));
      deeprnn::bf16_pack_b(packed.data(), B.data(), N, false, K, N, 0, (K + 1) / 2);
      auto run = [&](const deeprnn::Bf16Path& q, float* out) {
        if (trans) q.gemm({out, A.data(), B.data(), nullptr, M, N, K, M, N, N, true, false, nullptr}, deeprnn::Part{});
        else q.gemm({out, A.data(), nullptr, packed.data(), M, N, K, K, deeprnn::bf16_packed_ld(N), N, false, false, nullptr},
                    deeprnn::Part{});
      };
      run(p, C.data());
      run(*ref, R.data());
      same = same && std::memcmp(C.data(), R.data(), sizeof(float) * C.size()) == 0;
      for (long i = 0; i < M; ++i)
        for (long j = 0; j < N; ++j) {
          double s = 0, mag = 0;
          for (long k = 0; k < K; ++k) {
            const double a = deeprnn::bf16_round(trans ? A[k * M + i] : A[i * K + k]);
            const double t = a * deeprnn::bf16_round(B[k * N + j]);
            s += t;
            mag += std::fabs(t);
          }
          const double allowed = (K + 1) * std::ldexp(1.0, -24) * mag + 1e-30;
          const double frac = std::fabs(C[i * N + j] - s) / allowed;
          worst = std::max(worst, frac);
          ok = ok && frac <= 1;
        }
    }
  }
  report(ok, std::string("bf16 ") + p.name + " GEMM within the float32 bound of the bf16 operands", worst);
  // A's conversion exactly: C = A I (B the identity, so each C element is one
  // A element times 1 plus zeros), A holding ties, subnormals and signed zeros
  // among random values, its rows lda apart with NaN between them (a read
  // past a row's K would make NaN of a zero pad of B), K odd and even, in and
  // past the conversion's tail (28, 30: all of a row's pairs in it).
  {
    const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x00000123u, 0x80400000u, 0x80000000u,
                                0x3f7fffffu, 0x3f800001u};
    bool exact = true;
    for (const long K : {1L, 7L, 28L, 29L, 30L, 33L, 64L, 95L}) {
      for (const bool trans : {false, true}) {
        const long M = 7, N = K, pad = 3;
        const long lda = (trans ? M : K) + pad, rows_of_a = trans ? K : M;
        std::vector<float> A(static_cast<size_t>(rows_of_a * lda), std::numeric_limits<float>::quiet_NaN());
        std::uniform_int_distribution<int> pick(0, 15);
        for (long r = 0; r < rows_of_a; ++r)
          for (long c = 0; c < lda - pad; ++c) {
            const int w = pick(rng);
            float x = random(rng, 1)[0] * 8.0f;
            if (w < 8) std::memcpy(&x, &special[w], 4);
            A[r * lda + c] = x;
          }
        std::vector<float> B(static_cast<size_t>(K * N), 0.0f), C(static_cast<size_t>(M * N));
        for (long k = 0; k < K; ++k) B[k * N + k] = 1.0f;
        std::vector<uint32_t> packed(static_cast<size_t>(deeprnn::bf16_packed_size(K, N)));
        deeprnn::bf16_pack_b(packed.data(), B.data(), N, false, K, N, 0, (K + 1) / 2);
        if (trans) p.gemm({C.data(), A.data(), B.data(), nullptr, M, N, K, lda, N, N, true, false, nullptr}, deeprnn::Part{});
        else p.gemm({C.data(), A.data(), nullptr, packed.data(), M, N, K, lda, deeprnn::bf16_packed_ld(N), N, false, false, nullptr},
                    deeprnn::Part{});
        for (long i = 0; i < M; ++i)
          for (long k = 0; k < K; ++k) {
            const float a = trans ? A[k * lda + i] : A[i * lda + k];
            const float want = deeprnn::bf16_to_float(deeprnn::bf16_operand(a));
            exact = exact && C[i * N + k] == want;
          }
      }
    }
    report(exact, std::string("bf16 ") + p.name + " GEMM converts A exactly (ties, subnormals, odd K, nothing read past a row)",
           exact ? 0 : 1);
  }
  // every path that sums in vdpbf16ps's order gives the fallback's bits (AMX sums in its own order)
  if (&p != ref && p.vdp_order)
    report(same, std::string("bf16 ") + p.name + " GEMM bitwise equal to the scalar fallback", same ? 0 : 1);
}

// DEEPRNN_BF16's choices (bf16_select): each path this build and CPU can run
// is taken; every other is refused with the reason that holds here.
void check_bf16_choices() {
#if defined(DEEPRNN_AMX)
  const char* amx_why = deeprnn::bf16_amx_supported() ? "Linux refused this process the AMX tiles"
                                                       : "not supported by this CPU and OS";
#else
  const char* amx_why = "this build has no AMX path";
#endif
  const char* cases[][2] = {{"avx512bf16", "is not supported by this CPU"},
                            {"amx", amx_why},
                            {"amx-model", "needs FMA (the avx2 table) on this CPU"},
                            {"emulated", ""},
                            {"fp16", "must be one of avx512bf16|amx|emulated|amx-model, got \"fp16\""}};
  bool ok = true;
  std::string said;
  for (const auto& c : cases) {
    const bool runs = std::string(c[0]) == "emulated" || deeprnn::bf16_find(c[0]) != nullptr;
    std::string error;
    try {
      deeprnn::bf16_select(c[0]);
    } catch (const std::exception& e) {
      error = e.what();
    }
    const bool right = runs ? error.empty() : error.find(c[1]) != std::string::npos;
    if (!right) std::printf("  DEEPRNN_BF16=%s: %s\n", c[0], error.empty() ? "taken" : error.c_str());
    said += std::string(said.empty() ? "" : ", ") + c[0] + (runs ? " taken" : " refused");
    ok = ok && right;
  }
  deeprnn::bf16_select(nullptr);
  report(ok, "DEEPRNN_BF16 choices: " + said + ", each refusal with its reason", ok ? 0 : 1);
}

// rnn-relu keeps a NaN (a > 0 alone would make it 0 and hide it from the
// loss), forward and backward (the gradient passes, as PyTorch's
// threshold_backward), in whole vectors and in a ragged tail, and a negative
// or zero argument is still 0.
void check_relu_nan(const KernelTable& t) {
  const long N = 2, H = 37;
  std::vector<float> gx(N * H), gh(N * H, 0.0f), b(H, 0.0f), h(N * H), dy(N * H, 1.0f), dh(N * H, 0.5f), da(N * H);
  for (long i = 0; i < N * H; ++i) gx[i] = (i % 3 == 0) ? NAN : (i % 3 == 1 ? -1.0f - i : 1.0f + i);
  const deeprnn::Units u{N, H, H, H};
  t.rnn_step(h.data(), gx.data(), gh.data(), b.data(), u, true);
  bool ok = true;
  for (long i = 0; i < N * H; ++i) ok = ok && (i % 3 == 0 ? std::isnan(h[i]) : h[i] == (i % 3 == 1 ? 0.0f : 1.0f + i));
  t.rnn_step_back(da.data(), dy.data(), dh.data(), h.data(), u, true, nullptr);
  for (long i = 0; i < N * H; ++i) ok = ok && da[i] == (i % 3 == 1 ? 0.0f : 1.5f);
  report(ok, std::string(t.name) + " rnn-relu keeps NaN, forward and backward", 0.0);
}

int main() {
  const char* names[8];
  const int n = deeprnn::kernels_available(names, 8);
  const KernelTable* scalar = deeprnn::kernels_find("scalar");
  std::printf("instruction sets: ");
  for (int i = 0; i < n; ++i) std::printf("%s%s", i ? ", " : "", names[i]);
  std::printf("\n");
  for (int i = 0; i < n; ++i) {
    const KernelTable* t = deeprnn::kernels_find(names[i]);
    std::mt19937 rng(1234 + i);
    check_gemm(*t, rng);
    check_colsum(*t, rng);
    check_math(*t);
    check_xent(*t, rng);
    check_cells(*t, *scalar, rng);
    check_relu_nan(*t);
    check_rows(*t, rng);
    check_shares(*t, rng);
    const char* tiles[deeprnn::kMaxGemmVariants];
    const int nt = deeprnn::kernels_gemm_tiles(names[i], tiles, deeprnn::kMaxGemmVariants);
    for (int v = 1; v < nt; ++v) {  // the set's other GEMM variants
      const KernelTable* alt = deeprnn::kernels_find((std::string(names[i]) + ":" + tiles[v]).c_str());
      if (std::strchr(tiles[v], '+'))  // products by kind: named by two of the set's tiles of their own, either way round
        report(nt == 4 && (std::string(tiles[v]) == std::string(tiles[0]) + "+" + tiles[1] ||
                           std::string(tiles[v]) == std::string(tiles[1]) + "+" + tiles[0]),
               std::string(names[i]) + " gemm " + tiles[v] + " named by tiles " + tiles[0] + " and " + tiles[1], 0.0);
      check_gemm(*alt, rng);
      check_gemm_variant(*t, *alt, rng);
      check_shares(*alt, rng);
    }
  }
  for (int i = 0; i < n; ++i) {  // every fallback, and vdpbf16ps where the CPU has it
    std::mt19937 rng(99 + i);
    check_bf16(*deeprnn::bf16_find(names[i]), rng);
  }
  // vdpbf16ps, the AMX tiles where the CPU and OS allow them, and the AMX path on the model of its tiles
  const char* more[] = {"avx512bf16", "amx", "amx-model"};
  for (int i = 0; i < 3; ++i)
    if (const deeprnn::Bf16Path* p = deeprnn::bf16_find(more[i])) {
      std::mt19937 rng(98 - i);
      check_bf16(*p, rng);
    } else {
      std::printf("skip: bf16 path %s (not on this CPU)\n", more[i]);
    }
  // the tiles against the model of them, bit for bit, where the CPU has them
  const deeprnn::Bf16Path* amx = deeprnn::bf16_find("amx");
  const deeprnn::Bf16Path* model = deeprnn::bf16_find("amx-model");
  if (amx && model) {
    std::mt19937 rng(77);
    const long shapes[][3] = {{19, 75, 130}, {33, 47, 31}, {64, 96, 1025}, {200, 300, 600}};
    bool same = true;
    for (const auto& sh : shapes) {
      const long M = sh[0], N = sh[1], K = sh[2];
      for (int t = 0; t < 2; ++t) {
        std::vector<float> A = random(rng, M * K), B = random(rng, K * N), X(static_cast<size_t>(M * N)), Y(X.size());
        const deeprnn::GemmBf16Args g{X.data(), A.data(), B.data(), nullptr, M, N, K, t ? M : K, N, N, t == 1, false, nullptr};
        amx->gemm(g, deeprnn::Part{});
        deeprnn::GemmBf16Args h = g;
        h.C = Y.data();
        model->gemm(h, deeprnn::Part{});
        same = same && std::memcmp(X.data(), Y.data(), sizeof(float) * X.size()) == 0;
      }
    }
    report(same, "bf16 amx GEMM bitwise equal to its model (amx-model)", same ? 0 : 1);
  }
  check_bf16_choices();
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
