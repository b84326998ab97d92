// Operations over a whole parameter or gradient buffer: clipping and the SGD update.
// n = number of floats in the buffer
#pragma once

namespace deeprnn {

// sum of squares, in double, in fixed chunks so the result does not depend on threads
double sum_squares(const float* x, long n);
// x *= s
void scale_inplace(float* x, long n, float s);
// p -= lr * g
void sgd_step(float* p, const float* g, long n, float lr);

}  // namespace deeprnn
