// OpenMP helpers. Every parallel loop in the kernels splits independent rows or
// columns, so a result never depends on the number of threads.
#pragma once

#ifdef DEEPRNN_OPENMP
#include <omp.h>
#define DEEPRNN_PRAGMA(x) _Pragma(#x)
// Parallel for over independent iterations, only when the work is worth a fork.
#define DEEPRNN_PARALLEL_FOR(cond) DEEPRNN_PRAGMA(omp parallel for schedule(static) if (cond))
#else
#define DEEPRNN_PARALLEL_FOR(cond)
#endif

namespace deeprnn {

// Below this many multiply-adds a loop runs on one thread.
constexpr long kParallelWork = 1L << 15;

int threads_get();
void threads_set(int n);
bool has_openmp();

}  // namespace deeprnn
