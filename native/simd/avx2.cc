// The avx2 kernel table: simd/*_impl.h compiled with this file's flags.
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_avx2
#define DEEPRNN_ISA_NAME "avx2"
#define DEEPRNN_MAX_TILE 32
#define DEEPRNN_VEC_BYTES 32
#include "simd/gemm_impl.h"
#include "simd/cells_impl.h"

namespace deeprnn {
namespace DEEPRNN_ISA {
static const KernelTable kTable = {DEEPRNN_ISA_NAME, gemm_nn,   gemm_tn,        rnn_step,       rnn_step_back,
                                   gru_step,         gru_step_back, lstm_step, lstm_step_back, math_eval};
}  // namespace DEEPRNN_ISA
}  // namespace deeprnn

namespace deeprnn {
const KernelTable* table_avx2() { return &isa_avx2::kTable; }
}  // namespace deeprnn
