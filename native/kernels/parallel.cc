#include "kernels/parallel.h"

namespace deeprnn {

int threads_get() {
#ifdef DEEPRNN_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void threads_set(int n) {
#ifdef DEEPRNN_OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

bool has_openmp() {
#ifdef DEEPRNN_OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace deeprnn
