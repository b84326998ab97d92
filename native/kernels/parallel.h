// OpenMP helpers. Every parallel loop in the kernels splits independent rows or
// columns, so a result never depends on the number of threads.
#pragma once

#ifdef DEEPRNN_OPENMP
#include <omp.h>
#define DEEPRNN_PRAGMA(x) _Pragma(#x)
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

// Set on a thread while it works in a team (kernels/team.h), even a team of
// one: the team shares out the work, so its kernels never fork.
inline thread_local bool t_in_team = false;

// Whether a loop of this much work should fork: it is worth it, more than one
// thread is allowed, and we are neither inside a parallel region nor in a
// team (a thread that owns a chunk, or a share of one, runs its kernels on
// its own). Tested before entering OpenMP at all: even a region that its if
// clause keeps to one thread costs a team set-up in the runtime.
inline bool fork_ok(bool worth) {
#ifdef DEEPRNN_OPENMP
  return worth && !t_in_team && !omp_in_parallel() && omp_get_max_threads() > 1;
#else
  (void)worth;
  return false;
#endif
}

// f(i) for i in [0, n): static contiguous blocks over the threads when
// fork_ok(worth), else in order on this thread.
template <typename F>
inline void parallel_for(bool worth, long n, F&& f) {
#ifdef DEEPRNN_OPENMP
  if (fork_ok(worth)) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) f(i);
    return;
  }
#endif
  for (long i = 0; i < n; ++i) f(i);
}

// f(thread id, thread count) on every thread of a team when fork_ok(worth),
// else f(0, 1) on this thread. Worksharing loops inside f bind to the team.
template <typename F>
inline void parallel_region(bool worth, F&& f) {
#ifdef DEEPRNN_OPENMP
  if (fork_ok(worth)) {
#pragma omp parallel
    f(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  f(0, 1);
}

// f(thread id, thread count) on each of `threads` threads (fewer if OpenMP
// gives fewer), every one marked as in a team; on this thread alone when
// threads is 1 or OpenMP is off.
template <typename F>
inline void team_region(int threads, F&& f) {
#ifdef DEEPRNN_OPENMP
  if (threads > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(threads)
    {
      t_in_team = true;
      f(omp_get_thread_num(), omp_get_num_threads());
      t_in_team = false;
    }
    return;
  }
#endif
  const bool was = t_in_team;
  t_in_team = true;
  f(0, 1);
  t_in_team = was;
}

// Every thread of the enclosing team_region has arrived (nothing outside one).
inline void region_barrier() {
#ifdef DEEPRNN_OPENMP
#pragma omp barrier
#endif
}

int threads_get();
void threads_set(int n);
bool has_openmp();

}  // namespace deeprnn
