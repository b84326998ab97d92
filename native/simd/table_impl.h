// The kernel table of one instruction set: everything in simd/*_impl.h,
// compiled with the including file's flags (see gemm_impl.h).
#include "simd/cells_impl.h"
#include "simd/gemm_impl.h"
#include "simd/xent_impl.h"

namespace deeprnn {
namespace DEEPRNN_ISA {

// Filled by name (in declaration order, which the compiler checks), so that
// two entries of the same signature cannot be swapped unnoticed.
static const KernelTable kTable = {
    .name = DEEPRNN_ISA_NAME,
    .gemm_tile = kTileName,
    .gemm = gemm,
    .gemm_nt_small = gemm_nt_small,
    .colsum_add = colsum_add,
    .rnn_step = rnn_step,
    .rnn_step_back = rnn_step_back,
    .gru_step = gru_step,
    .gru_step_back = gru_step_back,
    .lstm_step = lstm_step,
    .lstm_step_back = lstm_step_back,
    .mgu_step_f = mgu_step_f,
    .mgu_step_n = mgu_step_n,
    .mgu_back_n = mgu_back_n,
    .mgu_back_f = mgu_back_f,
    .softmax_xent = softmax_xent,
    .math_eval = math_eval,
    .gather_rows = gather_rows,
    .scatter_add_rows = scatter_add_rows,
};

}  // namespace DEEPRNN_ISA
}  // namespace deeprnn
