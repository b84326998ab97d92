// Operations over a whole parameter or gradient buffer: clipping and the
// optimizer updates, with PyTorch's formulas in float32.
// n = number of floats in every buffer
#pragma once

namespace deeprnn {

// sum_squares adds x^2 in blocks of this many elements, each block's sum on
// its own, then the blocks' sums in order.
constexpr long kSquaresBlock = 4096;

// The sum of x[i]^2 over [i0, i1), at most one block, in double. One
// compiled body (in optim.cc) for every caller, so that every caller's sums
// are bitwise the same whatever the compiler contracts.
double sum_squares_block(const float* x, long i0, long i1);

// sum of squares, in double, in blocks (kSquaresBlock) so the result does not depend on threads
double sum_squares(const float* x, long n);
// x *= s
void scale_inplace(float* x, long n, float s);
// x = v (every element)
void fill_value(float* x, long n, float v);
// dst = src
void copy_values(float* dst, const float* src, long n);
// x = clamp(x, -c, c)
void clip_value(float* x, long n, float c);
// p -= lr * g
void sgd_step(float* p, const float* g, long n, float lr);
// One plain SGD step in one pass, for a trainer that keeps the weights as
// they were in case the update is not finite: backup = p; g *= gscale (the
// clipping, skipped when gscale is 1); p -= lr * g. Bitwise the same as
// copy_values, scale_inplace and sgd_step one after another. Returns whether
// every updated p is finite.
bool sgd_step_checked(float* p, float* backup, float* g, long n, float lr, float gscale);
// SGD without momentum, with L2 weight decay: p -= lr (g + wd p)
void sgd_decay_step(float* p, const float* g, long n, float lr, float wd);

// d = g + wd p; buf = d (first step) or momentum buf + (1 - dampening) d;
// d = nesterov ? d + momentum buf : buf; p -= lr d
void sgd_momentum_step(float* p, float* buf, const float* g, long n, float lr, float momentum, float dampening,
                       bool nesterov, float wd, bool first);

// d = g (+ wd p unless decoupled, where p *= 1 - lr wd first); m = b1 m + (1 - b1) d;
// v = b2 v + (1 - b2) d^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The scalars come as doubles: 1 - b, the bias corrections and the step size are
// made in double and rounded once, as PyTorch makes them (a beta of 0.99999999,
// which float32 rounds to 1, gave a correction of 0 and NaN weights).
void adam_step(float* p, float* m, float* v, const float* g, long n, double lr, double b1, double b2, double eps,
               double wd, long t, bool decoupled);

// d = g + wd p; sq = alpha sq + (1 - alpha) d^2; a = sqrt(sq) + eps;
// momentum > 0: buf = momentum buf + d / a, p -= lr buf; else p -= lr d / a
// (1 - alpha made in double, as adam_step's 1 - b)
void rmsprop_step(float* p, float* sq, float* buf, const float* g, long n, float lr, double alpha, float eps, float wd,
                  float momentum);

}  // namespace deeprnn
