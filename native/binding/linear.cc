// Input projections (dense or one-hot) and the fused output layer + cross-entropy.
#include "binding/args.h"
#include "kernels/linear.h"

namespace deeprnn {
namespace {

// linearForward(out, x, W, b, M, I, O)
Napi::Value LinearForward(const Napi::CallbackInfo& info) {
  Args a(info, "linearForward", 7);
  const long M = a.dim(4, "M"), I = a.dim(5, "I"), O = a.dim(6, "O");
  float* out = a.f32(0, "out", checked_mul(a, M, O, "M*O"));
  const float* x = a.f32(1, "x", checked_mul(a, M, I, "M*I"));
  const float* W = a.f32(2, "W", checked_mul(a, O, I, "O*I"));
  const float* b = a.f32(3, "b", O);
  linear_forward(out, scratch(2, linear_work_floats(I, O)), x, W, b, M, I, O);
  return info.Env().Undefined();
}

// linearBackward(dx | null, dW, db, dout, x, W, M, I, O)
Napi::Value LinearBackward(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackward", 9);
  const long M = a.dim(6, "M"), I = a.dim(7, "I"), O = a.dim(8, "O");
  float* dx = a.f32_opt(0, "dx", checked_mul(a, M, I, "M*I"));
  float* dW = a.f32(1, "dW", checked_mul(a, O, I, "O*I"));
  float* db = a.f32(2, "db", O);
  const float* dout = a.f32(3, "dout", checked_mul(a, M, O, "M*O"));
  const float* x = a.f32(4, "x", M * I);
  const float* W = a.f32(5, "W", O * I);
  linear_backward(dx, dW, db, dout, x, W, M, I, O);
  return info.Env().Undefined();
}

// embeddingForward(out, tokens, W, b, M, V, O)
Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingForward", 7);
  const long M = a.dim(4, "M"), V = a.dim(5, "V"), O = a.dim(6, "O");
  float* out = a.f32(0, "out", checked_mul(a, M, O, "M*O"));
  const int* tokens = a.tokens(1, "tokens", M, V);
  const float* W = a.f32(2, "W", checked_mul(a, O, V, "O*V"));
  const float* b = a.f32(3, "b", O);
  embedding_forward(out, scratch(3, embedding_work_floats(V, O)), tokens, W, b, M, V, O);
  return info.Env().Undefined();
}

// embeddingBackward(dW, db, dout, tokens, M, V, O)
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward", 7);
  const long M = a.dim(4, "M"), V = a.dim(5, "V"), O = a.dim(6, "O");
  float* dW = a.f32(0, "dW", checked_mul(a, O, V, "O*V"));
  float* db = a.f32(1, "db", O);
  const float* dout = a.f32(2, "dout", checked_mul(a, M, O, "M*O"));
  const int* tokens = a.tokens(3, "tokens", M, V);
  embedding_backward(dW, db, scratch(3, embedding_work_floats(V, O)), dout, tokens, M, V, O);
  return info.Env().Undefined();
}

// xentForward(logits, Y, W, b, targets, M, H, V) -> { loss: sum over rows, correct }
Napi::Value XentForward(const Napi::CallbackInfo& info) {
  Args a(info, "xentForward", 8);
  const long M = a.dim(5, "M"), H = a.dim(6, "H"), V = a.dim(7, "V");
  float* logits = a.f32(0, "logits", checked_mul(a, M, V, "M*V"));
  const float* Y = a.f32(1, "Y", checked_mul(a, M, H, "M*H"));
  const float* W = a.f32(2, "W", checked_mul(a, V, H, "V*H"));
  const float* b = a.f32(3, "b", V);
  const int* targets = a.tokens(4, "targets", M, V);
  long correct = 0;
  const double loss = xent_forward(logits, scratch(2, linear_work_floats(H, V)), &correct, Y, W, b, targets, M, H, V);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("loss", Napi::Number::New(info.Env(), loss));
  o.Set("correct", Napi::Number::New(info.Env(), static_cast<double>(correct)));
  return o;
}

// xentForwardBackward(dY, dW, db, logits, Y, W, b, targets, M, H, V, scale) -> loss summed over rows
Napi::Value XentForwardBackward(const Napi::CallbackInfo& info) {
  Args a(info, "xentForwardBackward", 12);
  const long M = a.dim(8, "M"), H = a.dim(9, "H"), V = a.dim(10, "V");
  const double scale = a.number(11, "scale");
  float* dY = a.f32(0, "dY", checked_mul(a, M, H, "M*H"));
  float* dW = a.f32(1, "dW", checked_mul(a, V, H, "V*H"));
  float* db = a.f32(2, "db", V);
  float* logits = a.f32(3, "logits", checked_mul(a, M, V, "M*V"));
  const float* Y = a.f32(4, "Y", M * H);
  const float* W = a.f32(5, "W", V * H);
  const float* b = a.f32(6, "b", V);
  const int* targets = a.tokens(7, "targets", M, V);
  const double loss = xent_forward_backward(dY, dW, db, logits, scratch(2, linear_work_floats(H, V)), Y, W, b,
                                            targets, M, H, V, static_cast<float>(scale));
  return Napi::Number::New(info.Env(), loss);
}

}  // namespace

void register_linear(Napi::Env env, Napi::Object exports) {
  def<LinearForward>(env, exports, "linearForward");
  def<LinearBackward>(env, exports, "linearBackward");
  def<EmbeddingForward>(env, exports, "embeddingForward");
  def<EmbeddingBackward>(env, exports, "embeddingBackward");
  def<XentForward>(env, exports, "xentForward");
  def<XentForwardBackward>(env, exports, "xentForwardBackward");
}

}  // namespace deeprnn
