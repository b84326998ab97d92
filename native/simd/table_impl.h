// The kernel table of one instruction set: everything in simd/*_impl.h,
// compiled with the including file's flags (see gemm_impl.h).
#include "simd/cells_impl.h"
#include "simd/gemm_impl.h"
#include "simd/xent_impl.h"

namespace deeprnn {
namespace DEEPRNN_ISA {

static const KernelTable kTable = {
    DEEPRNN_ISA_NAME, gemm_nn, gemm_bias, gemm_tn, gemm_nt_small, colsum_add, rnn_step,       rnn_step_back,
    gru_step,         gru_step_back,  lstm_step, lstm_step_back, softmax_xent, math_eval,
    gather_rows,      scatter_add_rows,
};

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
