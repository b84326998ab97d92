// Buffer-wide operations: global norm, scaling, clipping, optimizer updates.
// n = number of floats in every buffer
#include "kernels/optim.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/common.h"
#include "kernels/parallel.h"

namespace deeprnn {

double sum_squares_block(const float* x, long i0, long i1) {
  // Sixteen running sums (element i goes to sum (i - i0) % 16), added in a
  // fixed order: independent additions the compiler can keep in vectors.
  constexpr int kLanes = 16;
  double lane[kLanes] = {};
  long i = i0;
  for (; i + kLanes <= i1; i += kLanes)
    for (int k = 0; k < kLanes; ++k) lane[k] += static_cast<double>(x[i + k]) * x[i + k];
  for (int k = 0; i < i1; ++i, ++k) lane[k] += static_cast<double>(x[i]) * x[i];
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int k = 0; k < w; ++k) lane[k] += lane[k + w];
  return lane[0];
}

double sum_squares(const float* x, long n) {
  const long nchunks = (n + kSquaresBlock - 1) / kSquaresBlock;
  double total = 0.0;
  double* partial = thread_buffer<double>(nchunks > 0 ? nchunks : 1);
  parallel_for(n >= kParallelWork, nchunks, [&](long c) {
    const long i0 = c * kSquaresBlock, i1 = i0 + kSquaresBlock < n ? i0 + kSquaresBlock : n;
    partial[c] = sum_squares_block(x, i0, i1);
  });
  for (long c = 0; c < nchunks; ++c) total += partial[c];
  return total;
}

void scale_inplace(float* x, long n, float s) {
  parallel_for(n >= kParallelWork, n, [&](long i) { x[i] *= s; });
}

// Whole buffers are cut into blocks of this many floats (whole cache lines, so
// that no two threads write one line).
constexpr long kBufferBlock = 1L << 14;

// f(b, i0, i1) for every block b = [i0, i1) of n elements, on the threads when n is large.
template <typename F>
static void for_blocks(long n, F&& f) {
  parallel_for(n >= kParallelWork, (n + kBufferBlock - 1) / kBufferBlock, [&](long b) {
    const long i0 = b * kBufferBlock, i1 = i0 + kBufferBlock < n ? i0 + kBufferBlock : n;
    f(b, i0, i1);
  });
}

void fill_value(float* x, long n, float v) {
  for_blocks(n, [&](long, long i0, long i1) {
    for (long i = i0; i < i1; ++i) x[i] = v;
  });
}

void copy_values(float* dst, const float* src, long n) {
  if (dst < src + n && src < dst + n) {  // views of one buffer that overlap: in one piece
    std::memmove(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  for_blocks(n, [&](long, long i0, long i1) {
    std::memcpy(dst + i0, src + i0, static_cast<size_t>(i1 - i0) * sizeof(float));
  });
}

void sgd_step(float* p, const float* g, long n, float lr) {
  parallel_for(n >= kParallelWork, n, [&](long i) { p[i] -= lr * g[i]; });
}

// One block of sgd_step_checked: whether its updated weights are all finite.
template <bool Scaled>
static bool sgd_checked_block(float* __restrict p, float* __restrict backup, float* __restrict g, long n, float lr,
                              float gscale) {
  // x - x is +0 (all bits clear) for a finite x and NaN for an infinity or a
  // NaN: an OR of those bits, which vectorizes as a float sum would not.
  uint32_t bits = 0;
  for (long i = 0; i < n; ++i) {
    const float w = p[i];
    backup[i] = w;
    float d = g[i];
    if (Scaled) {
      d *= gscale;
      g[i] = d;
    }
    const float u = w - lr * d;
    p[i] = u;
    const float z = u - u;
    uint32_t zb;
    std::memcpy(&zb, &z, sizeof zb);
    bits |= zb;
  }
  return bits == 0;
}

bool sgd_step_checked(float* p, float* backup, float* g, long n, float lr, float gscale) {
  const long nblocks = (n + kBufferBlock - 1) / kBufferBlock;
  int* finite = thread_buffer<int>(nblocks > 0 ? nblocks : 1);
  const bool scaled = gscale != 1.0f;
  for_blocks(n, [&](long b, long i0, long i1) {
    finite[b] = scaled ? sgd_checked_block<true>(p + i0, backup + i0, g + i0, i1 - i0, lr, gscale)
                       : sgd_checked_block<false>(p + i0, backup + i0, g + i0, i1 - i0, lr, gscale);
  });
  for (long b = 0; b < nblocks; ++b)
    if (!finite[b]) return false;
  return true;
}

void sgd_decay_step(float* p, const float* g, long n, float lr, float wd) {
  parallel_for(n >= kParallelWork, n, [&](long i) {
    const float d = g[i] + wd * p[i];
    p[i] -= lr * d;
  });
}

void clip_value(float* x, long n, float c) {
  parallel_for(n >= kParallelWork, n, [&](long i) { x[i] = x[i] > c ? c : x[i] < -c ? -c : x[i]; });
}

void sgd_momentum_step(float* p, float* buf, const float* g, long n, float lr, float momentum, float dampening,
                       bool nesterov, float wd, bool first) {
  parallel_for(n >= kParallelWork, n, [&](long i) {
    float d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
    const float b = first ? d : momentum * buf[i] + (1.0f - dampening) * d;
    buf[i] = b;
    d = nesterov ? d + momentum * b : b;
    p[i] -= lr * d;
  });
}

// b^t by squaring: double's pow is a symbol of glibc 2.29, past what the addon
// may ask of the system (install's check of symbol versions).
static double power(double b, long t) {
  double r = 1.0;
  for (; t > 0; t >>= 1, b *= b)
    if (t & 1) r *= b;
  return r;
}

void adam_step(float* p, float* m, float* v, const float* g, long n, double lr, double b1, double b2, double eps,
               double wd, long t, bool decoupled) {
  const double bc1 = 1.0 - power(b1, t);
  const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - power(b2, t)));
  const float step_size = static_cast<float>(lr / bc1);
  const float keep = decoupled ? static_cast<float>(1.0 - lr * wd) : 1.0f;
  const float fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2), fwd = static_cast<float>(wd);
  const float rest1 = static_cast<float>(1.0 - b1), rest2 = static_cast<float>(1.0 - b2), feps = static_cast<float>(eps);
  parallel_for(n >= kParallelWork, n, [&](long i) {
    float d = g[i];
    if (decoupled) p[i] *= keep;
    else if (fwd != 0.0f) d += fwd * p[i];
    m[i] = m[i] * fb1 + d * rest1;
    v[i] = v[i] * fb2 + rest2 * d * d;
    const float denom = std::sqrt(v[i]) / bc2_sqrt + feps;
    p[i] -= step_size * (m[i] / denom);
  });
}

void rmsprop_step(float* p, float* sq, float* buf, const float* g, long n, float lr, double alpha, float eps, float wd,
                  float momentum) {
  const float falpha = static_cast<float>(alpha), rest = static_cast<float>(1.0 - alpha);
  parallel_for(n >= kParallelWork, n, [&](long i) {
    const float d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
    sq[i] = sq[i] * falpha + rest * d * d;
    const float a = std::sqrt(sq[i]) + eps;
    if (momentum > 0.0f) {
      buf[i] = buf[i] * momentum + d / a;
      p[i] -= lr * buf[i];
    } else {
      p[i] -= lr * (d / a);
    }
  });
}

}  // namespace deeprnn
