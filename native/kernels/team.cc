#include "kernels/team.h"

#include <sched.h>

namespace deeprnn {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Spins before a waiter yields: a few tens of microseconds.
constexpr unsigned kSpins = 2000;

}  // namespace

void Barrier::wait() {
  const unsigned gen = gen_.load(std::memory_order_acquire);
  if (count_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
    count_.store(0, std::memory_order_relaxed);
    gen_.store(gen + 1, std::memory_order_release);
    return;
  }
  for (unsigned spin = 0; gen_.load(std::memory_order_acquire) == gen; ++spin) {
    if (spin < kSpins) cpu_relax();
    else sched_yield();
  }
}

}  // namespace deeprnn
