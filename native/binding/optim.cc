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

// fill(x, v): every element of x = v
Napi::Value Fill(const Napi::CallbackInfo& info) {
  Args a(info, "fill", 2);
  long n = 0;
  float* x = a.f32_any(0, "x", &n);
  fill_value(x, n, static_cast<float>(a.number(1, "v")));
  return info.Env().Undefined();
}

// copy(dst, src): dst = src, of the same length
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Args a(info, "copy", 2);
  long n = 0;
  float* dst = a.f32_any(0, "dst", &n);
  const float* src = a.f32(1, "src", n);
  copy_values(dst, src, n);
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

// sgdStepChecked({ params, grads, backup, lr, gradScale }) -> whether every updated weight is finite:
// backup = params; grads *= gradScale (not when it is 1); params -= lr * grads, in one pass
Napi::Value SgdStepChecked(const Napi::CallbackInfo& info) {
  Args a(info, "sgdStepChecked", {"params", "grads", "backup", "lr", "gradScale"});
  long n = 0;
  float* p = a.f32_any(0, "params", &n);
  float* g = a.f32(1, "grads", n);
  float* backup = a.f32(2, "backup", n);
  const auto overlaps = [n](const float* x, const float* y) { return x < y + n && y < x + n; };
  if (overlaps(backup, p) || overlaps(backup, g) || overlaps(p, g))
    throw a.error("options \"params\", \"grads\" and \"backup\" must be three buffers apart, not views of one another's memory");
  const float lr = static_cast<float>(a.number(3, "lr"));
  const float gscale = static_cast<float>(a.number(4, "gradScale"));
  return Napi::Boolean::New(info.Env(), sgd_step_checked(p, backup, g, n, lr, gscale));
}

// sgdDecayStep({ params, grads, lr, weightDecay }): params -= lr * (grads + weightDecay * params)
Napi::Value SgdDecayStep(const Napi::CallbackInfo& info) {
  Args a(info, "sgdDecayStep", {"params", "grads", "lr", "weightDecay"});
  long n = 0;
  float* p = a.f32_any(0, "params", &n);
  const float* g = a.f32(1, "grads", n);
  sgd_decay_step(p, g, n, static_cast<float>(a.number(2, "lr")), static_cast<float>(a.number(3, "weightDecay")));
  return info.Env().Undefined();
}

// clipValue(x, c): x = clamp(x, -c, c)
Napi::Value ClipValue(const Napi::CallbackInfo& info) {
  Args a(info, "clipValue", 2);
  long n = 0;
  float* x = a.f32_any(0, "x", &n);
  const double c = a.number(1, "c");
  if (c < 0) throw a.error("argument \"c\" must be >= 0");
  clip_value(x, n, static_cast<float>(c));
  return info.Env().Undefined();
}

// sgdMomentumStep({ params, buf, grads, lr, momentum, dampening, nesterov, weightDecay, first })
Napi::Value SgdMomentumStep(const Napi::CallbackInfo& info) {
  Args a(info, "sgdMomentumStep", {"params", "buf", "grads", "lr", "momentum", "dampening", "nesterov", "weightDecay", "first"});
  long n = 0;
  float* p = a.f32_any(0, "params", &n);
  float* buf = a.f32(1, "buf", n);
  const float* g = a.f32(2, "grads", n);
  sgd_momentum_step(p, buf, g, n, static_cast<float>(a.number(3, "lr")), static_cast<float>(a.number(4, "momentum")),
                    static_cast<float>(a.number(5, "dampening")), a.boolean(6, "nesterov"),
                    static_cast<float>(a.number(7, "weightDecay")), a.boolean(8, "first"));
  return info.Env().Undefined();
}

// adamStep({ params, m, v, grads, lr, beta1, beta2, eps, weightDecay, step, decoupled })
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Args a(info, "adamStep", {"params", "m", "v", "grads", "lr", "beta1", "beta2", "eps", "weightDecay", "step", "decoupled"});
  long n = 0;
  float* p = a.f32_any(0, "params", &n);
  float* m = a.f32(1, "m", n);
  float* v = a.f32(2, "v", n);
  const float* g = a.f32(3, "grads", n);
  adam_step(p, m, v, g, n, a.number(4, "lr"), a.number(5, "beta1"), a.number(6, "beta2"), a.number(7, "eps"),
            a.number(8, "weightDecay"), a.dim(9, "step", 1, 1L << 52), a.boolean(10, "decoupled"));
  return info.Env().Undefined();
}

// rmspropStep({ params, squareAvg, buf, grads, lr, alpha, eps, weightDecay, momentum })
Napi::Value RmspropStep(const Napi::CallbackInfo& info) {
  Args a(info, "rmspropStep", {"params", "squareAvg", "buf", "grads", "lr", "alpha", "eps", "weightDecay", "momentum"});
  long n = 0;
  float* p = a.f32_any(0, "params", &n);
  float* sq = a.f32(1, "squareAvg", n);
  float* buf = a.f32(2, "buf", n);
  const float* g = a.f32(3, "grads", n);
  rmsprop_step(p, sq, buf, g, n, static_cast<float>(a.number(4, "lr")), a.number(5, "alpha"),
               static_cast<float>(a.number(6, "eps")), static_cast<float>(a.number(7, "weightDecay")),
               static_cast<float>(a.number(8, "momentum")));
  return info.Env().Undefined();
}

}  // namespace

void register_optim(Napi::Env env, Napi::Object exports) {
  def<ClipValue>(env, exports, "clipValue");
  def<SgdDecayStep>(env, exports, "sgdDecayStep");
  def<SgdMomentumStep>(env, exports, "sgdMomentumStep");
  def<AdamStep>(env, exports, "adamStep");
  def<RmspropStep>(env, exports, "rmspropStep");
  def<SgdStepChecked>(env, exports, "sgdStepChecked");
  def<Fill>(env, exports, "fill");
  def<Copy>(env, exports, "copy");
  def<SumSquares>(env, exports, "sumSquares");
  def<Scale>(env, exports, "scale");
  def<SgdStep>(env, exports, "sgdStep");
}

}  // namespace deeprnn
