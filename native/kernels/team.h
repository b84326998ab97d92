// Teams of threads that compute one chunk of a batch together: a barrier of
// their own (spinning, then yielding), and each thread's share of rows,
// units or a product's tiles. A team of one is a thread working alone.
#pragma once

#include <atomic>

#include "kernels/parallel.h"
#include "simd/kernels.h"

namespace deeprnn {

// A reusable barrier for a fixed number of threads. Waiters spin a while
// (a step of a small layer takes microseconds), then yield, so that with more
// threads than cores a waiter does not hold the core its peer needs.
class Barrier {
 public:
  void reset(int n) {
    n_ = n;
    count_.store(0);
    gen_.store(0);
  }
  void wait();

 private:
  alignas(64) std::atomic<int> count_{0};
  alignas(64) std::atomic<unsigned> gen_{0};
  int n_ = 1;
};

// Thread `tid` of a team of `nth`.
struct Team {
  int tid = 0;
  int nth = 1;
  Barrier* barrier = nullptr;
  float* scratch = nullptr;  // kGemmScratchFloats of this thread's own (null: kernels grow their own)

  // Every thread of the team has arrived: what each wrote before is visible to all.
  void sync() const {
    if (nth > 1) barrier->wait();
  }
  // This thread's share of a product's tiles (a team of one: all of them, without forking).
  Part part() const { return Part{tid, nth, scratch}; }
  // All of a product on this thread alone (its own scratch).
  Part alone() const { return Part{0, 1, scratch}; }
  // This thread's items [*a, *b) of n, contiguous, in multiples of align.
  void share(long n, long align, long* a, long* b) const { split_rows(n, tid, nth, align, a, b); }
};

}  // namespace deeprnn
