// OpenMP helpers. Every parallel loop in the kernels splits independent rows or
// columns, so a result never depends on the number of threads.
#pragma once

#ifdef DEEPRNN_OPENMP
#include <omp.h>
#define DEEPRNN_PRAGMA(x) _Pragma(#x)
// Parallel for over independent iterations, only when the work is worth a fork
// and we are not already inside a parallel region (a thread that owns a slice
// of the batch runs its kernels on its own).
#define DEEPRNN_PARALLEL_FOR(cond) DEEPRNN_PRAGMA(omp parallel for schedule(static) if ((cond) && !omp_in_parallel()))
#define DEEPRNN_PARALLEL(cond) DEEPRNN_PRAGMA(omp parallel if ((cond) && !omp_in_parallel()))
#define DEEPRNN_THREAD_ID() omp_get_thread_num()
#define DEEPRNN_NUM_THREADS() omp_get_num_threads()
#else
#define DEEPRNN_PARALLEL_FOR(cond)
#define DEEPRNN_PARALLEL(cond)
#define DEEPRNN_THREAD_ID() 0
#define DEEPRNN_NUM_THREADS() 1
#endif

namespace deeprnn {

// Below this many multiply-adds a loop runs on one thread.
constexpr long kParallelWork = 1L << 15;

// Rows [*n0, *n1) of N for thread `tid` of `nth`: contiguous, in multiples of
// `align` rows so that every row is tiled as it would be in one piece.
inline void split_rows(long N, int tid, int nth, long align, long* n0, long* n1) {
  const long blocks = (N + align - 1) / align;
  const long per = blocks / nth, extra = blocks % nth;
  const long b0 = tid * per + (tid < extra ? tid : extra);
  const long b1 = b0 + per + (tid < extra ? 1 : 0);
  *n0 = b0 * align < N ? b0 * align : N;
  *n1 = b1 * align < N ? b1 * align : N;
}

int threads_get();
void threads_set(int n);
bool has_openmp();

}  // namespace deeprnn
