// The scalar kernel table: simd/*_impl.h compiled with this file's flags.
#include "simd/kernels.h"

#define DEEPRNN_ISA isa_scalar
#define DEEPRNN_ISA_NAME "scalar"
#define DEEPRNN_MAX_TILE 16
#define DEEPRNN_VEC_BYTES 16
#include "simd/gemm_impl.h"
#include "simd/cells_impl.h"

namespace deeprnn {
namespace DEEPRNN_ISA {
static const KernelTable kTable = {DEEPRNN_ISA_NAME, gemm_nn,   gemm_tn,        rnn_step,       rnn_step_back,
                                   gru_step,         gru_step_back, lstm_step, lstm_step_back, math_eval};
}  // namespace DEEPRNN_ISA
}  // namespace deeprnn

namespace deeprnn {
const KernelTable* table_scalar() { return &isa_scalar::kTable; }
}  // namespace deeprnn
