// Buffer-wide operations for clipping and the optimizer step.
#include "binding/args.h"
#include "kernels/optim.h"

namespace deeprnn {
namespace {

// sumSquares(x) -> sum of x^2 in double
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Args a(info, "sumSquares", 1);
  long n = 0;
  const float* x = a.f32_any(0, "x", &n);
  return Napi::Number::New(info.Env(), sum_squares(x, n));
}

// scale(x, s): x *= s
Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale", 2);
  long n = 0;
  float* x = a.f32_any(0, "x", &n);
  scale_inplace(x, n, static_cast<float>(a.number(1, "s")));
  return info.Env().Undefined();
}

// sgdStep(params, grads, lr): params -= lr * grads
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Args a(info, "sgdStep", 3);
  long n = 0;
  float* p = a.f32_any(0, "params", &n);
  const float* g = a.f32(1, "grads", n);
  sgd_step(p, g, n, static_cast<float>(a.number(2, "lr")));
  return info.Env().Undefined();
}

}  // namespace

void register_optim(Napi::Env env, Napi::Object exports) {
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares, "sumSquares"));
  exports.Set("scale", Napi::Function::New(env, Scale, "scale"));
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep, "sgdStep"));
}

}  // namespace deeprnn
