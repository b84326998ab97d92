// Softmax cross-entropy over rows of logits, vectorised across the vocabulary,
// included once per instruction set (see gemm_impl.h).
// M=rows, V=vocab
// Included once per translation unit, that is once per instruction set.
#pragma once

#ifndef DEEPRNN_ISA
#error "define DEEPRNN_ISA before including xent_impl.h"
#endif

#include <math.h>

#include "kernels/parallel.h"
#include "simd/math_impl.h"

namespace deeprnn {
namespace DEEPRNN_ISA {

// 0, 1, .., kLanes - 1
static inline vi lane_index() {
  vi lane = {};
  for (long i = 0; i < kLanes; ++i) lane[i] = static_cast<int>(i);
  return lane;
}

// Per row m: loss_m = logsumexp(z_m) - z_m[t_m]; hit when the first argmax is t_m.
// With grad, z_m <- scale (softmax(z_m) - onehot(t_m)).
// Returns sum_m loss_m (rows summed in fixed chunks, then chunks in order, so the
// result does not depend on threads); *hits counts argmax hits when not null.
static double softmax_xent(float* logits, long* hits, const int* targets, long M, long V, bool grad, float scale) {
  const long chunk = 256;
  const long nchunks = (M + chunk - 1) / chunk;
  // Per-chunk sums: on the stack for one chunk (a team's block: nothing is
  // allocated inside a parallel region), else in grow-only buffers of the
  // calling thread, grown before the loop forks (plain new[]: no std::
  // templates in per-ISA code).
  static thread_local double* partial_buf = nullptr;
  static thread_local long* hits_buf = nullptr;
  static thread_local long cap = 0;
  double one_partial = 0.0;
  long one_hits = 0;
  if (nchunks > 1 && cap < nchunks) {
    delete[] partial_buf;
    delete[] hits_buf;
    partial_buf = nullptr;
    hits_buf = nullptr;
    cap = 0;
    partial_buf = new double[nchunks];
    hits_buf = new long[nchunks];
    cap = nchunks;
  }
  // Plain pointers: inside the parallel loop a thread_local would be each thread's own.
  double* partial = nchunks > 1 ? partial_buf : &one_partial;
  long* phits = nchunks > 1 ? hits_buf : &one_hits;
  // Per chunk of rows, in three passes whose iterations do not wait on each
  // other: max, argmax and the sum of exponentials of every row; the losses
  // (logf); the gradients. One long chain per row would leave the core idle.
  // The gradients of rows at least a vector wide but not a whole number of
  // vectors are written in one pass over the chunk's logits as one
  // contiguous run of whole vectors (a vector holds the end of one row and the
  // start of the next), exp recomputed there: each row's partial last vector
  // would need a masked store, which costs more than the exp.
  const bool flat = V >= kLanes && V % kLanes != 0;
  parallel_for(M * V >= kParallelWork && nchunks > 1, nchunks, [&](long c) {
    float mxs[chunk], ses[chunk], zts[chunk];
    long h = 0;
    const long m0 = c * chunk, m1 = (c + 1) * chunk < M ? (c + 1) * chunk : M;
    for (long m = m0; m < m1; ++m) {
      float* z = logits + m * V;
      vf vmax = splat(-__builtin_inff());
      for (long v = 0; v < V; v += kLanes) {
        const long n = V - v < kLanes ? V - v : kLanes;
        vf x = ld(z + v, n);
        if (n < kLanes) {
          x = lane_index() < static_cast<int>(n) ? x : splat(-__builtin_inff());
        }
        vmax = x > vmax ? x : vmax;
      }
      const float mx = hmax(vmax);
      if (hits) {
        long arg = V - 1;  // the first maximum (the last index when all are NaN)
        for (long v = 0; v < V; v += kLanes) {
          const long n = V - v < kLanes ? V - v : kLanes;
          const long i = first_equal(ld(z + v, n), mx, n);
          if (i < n) {
            arg = v + i;
            break;
          }
        }
        h += arg == targets[m];
      }
      zts[m - m0] = z[targets[m]];
      vf vsum = {};
      for (long v = 0; v < V; v += kLanes) {
        const long n = V - v < kLanes ? V - v : kLanes;
        vf e = vexp(ld(z + v, n) - mx);
        if (n < kLanes) {
          e = lane_index() < static_cast<int>(n) ? e : splat(0.0f);
        }
        vsum += e;
        if (grad && !flat) st(z + v, e, n);
      }
      mxs[m - m0] = mx;
      ses[m - m0] = hsum(vsum);
    }
    double sum = 0.0;
    // (max - z_target) + log(sum): in this order and in double, so that large
    // logits do not round the small log(sum) away (max + log(sum) - z_target in
    // float32 gave a loss of 0 for logits near 1e8, a perplexity of 1).
    for (long m = m0; m < m1; ++m)
      sum += (static_cast<double>(mxs[m - m0]) - zts[m - m0]) + log(static_cast<double>(ses[m - m0]));
    if (grad && flat) {
      // z <- exp(z - max) k - scale at the target, k = scale / sum, per lane of its row
      float ks[chunk];
      const long rows = m1 - m0, total = rows * V;
      for (long r = 0; r < rows; ++r) ks[r] = scale / ses[r];
      const vi lane = lane_index();
      float* zc = logits + m0 * V;
      long r = 0, off = 0;  // lane 0 is column off of row r
      for (long f = 0; f < total; f += kLanes) {
        const long n = total - f < kLanes ? total - f : kLanes;
        const long b = V - off;  // lanes of row r; the rest (if any) are row r + 1's
        const long r1 = r + 1 < rows ? r + 1 : r;
        const vi first = lane < static_cast<int>(b);
        const vf mx = first ? splat(mxs[r]) : splat(mxs[r1]);
        const vf k = first ? splat(ks[r]) : splat(ks[r1]);
        vf e = vexp(ld(zc + f, n) - mx) * k;
        e = lane == static_cast<int>(targets[m0 + r] - off) ? e - scale : e;
        if (r1 != r) e = lane == static_cast<int>(b + targets[m0 + r1]) ? e - scale : e;
        st(zc + f, e, n);
        off += kLanes;
        if (off >= V) off -= V, r += 1;
      }
    } else if (grad) {
      for (long m = m0; m < m1; ++m) {
        float* z = logits + m * V;
        const float k = scale / ses[m - m0];
        for (long v = 0; v < V; v += kLanes) {
          const long n = V - v < kLanes ? V - v : kLanes;
          st(z + v, ld(z + v, n) * k, n);
        }
        z[targets[m]] -= scale;
      }
    }
    partial[c] = sum;
    phits[c] = h;
  });
  double total = 0.0;
  long hit = 0;
  for (long c = 0; c < nchunks; ++c) {
    total += partial[c];
    hit += phits[c];
  }
  if (hits) *hits = hit;
  return total;
}

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
