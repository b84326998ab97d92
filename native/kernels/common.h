// Shared declarations of the plain C++ kernels (no N-API here).
// T=steps, N=batch, I=input, H=hidden, G=gates (1 rnn, 3 gru, 4 lstm), V=vocab, M=rows
#pragma once

namespace deeprnn {

enum class Cell { RNN_TANH, RNN_RELU, GRU, LSTM };

inline int cell_gates(Cell c) { return c == Cell::GRU ? 3 : c == Cell::LSTM ? 4 : 1; }

// out(cols, rows) = in(rows, cols)^T
void transpose(float* out, const float* in, long rows, long cols);
// db(cols) += sum over rows of X(rows, cols), rows in ascending order
void colsum_add(float* db, const float* X, long rows, long cols);

}  // namespace deeprnn
