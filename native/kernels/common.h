// Shared declarations of the plain C++ kernels (no N-API here).
// T=steps, N=batch, I=input, H=hidden, G=gate blocks (see CellSpec), V=vocab, M=rows
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace deeprnn {

// The cell kinds; everything about each is in its CellSpec (kernels/cells.h).
enum class Cell { RNN_TANH, RNN_RELU, GRU, LSTM, MGU };

// Gate blocks of a cell: W_ih is (G*H, I) (cell_spec(c).G).
int cell_gates(Cell c);

// A grow-only buffer of the calling thread, for partial sums: no allocation
// once it is large enough (the training loop allocates nothing).
template <typename T>
T* thread_buffer(long n) {
  static thread_local std::vector<T> buf;
  if (static_cast<long>(buf.size()) < n) buf.resize(static_cast<size_t>(n));
  return buf.data();
}

// An allocation of the kernels' buffers that failed, with the bytes it asked for.
struct OutOfMemory : std::bad_alloc {
  explicit OutOfMemory(double b) : bytes(b) {}
  const char* what() const noexcept override { return "out of memory"; }
  double bytes;
};

// Vector loads that start on a cache line never straddle two: buffers of
// floats start on 64 bytes, and regions inside them on multiples of 16 floats.
constexpr long kAlignFloats = 16;
inline long align_up(long n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

// The first 64-byte boundary in v, v grown to hold n floats from there.
// A failed allocation throws OutOfMemory, which names the bytes asked for.
inline float* aligned_in(std::vector<float>& v, long n) {
  if (static_cast<long>(v.size()) < n + kAlignFloats) {
    try {
      v.resize(static_cast<size_t>(n + kAlignFloats));
    } catch (const std::bad_alloc&) {
      throw OutOfMemory(static_cast<double>(n + kAlignFloats) * sizeof(float));
    }
  }
  const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(v.data());
  return reinterpret_cast<float*>((p + 63) & ~static_cast<std::uintptr_t>(63));
}

// out(cols, rows) = in(rows, cols)^T
void transpose(float* out, const float* in, long rows, long cols);
// out[c * ldo + r] = in[r * ldi + c] (+ bias[r]) for rows [r0, r1) of in and columns [0, cols), in
// blocks of 32 columns, on this thread.
void transpose_rows(float* out, long ldo, const float* in, long ldi, long r0, long r1, long cols, const float* bias);
// db(cols) += sum over rows of X(rows, cols) (the kernel table's colsum_add)
void colsum_add(float* db, const float* X, long rows, long cols);

}  // namespace deeprnn
