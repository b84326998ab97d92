// Direct access to one kernel table's GEMM and activation functions, so tests
// can compare every instruction set with scalar and bench/gemm.mjs can time
// them. Prefixed with _: instruments for tests and benchmarks, not the API.
#include <string>

#include "binding/args.h"
#include "simd/kernels.h"

namespace deeprnn {
namespace {

const KernelTable* table_arg(const Args& a, const Napi::CallbackInfo& info, size_t i) {
  const std::string name = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string();
  const KernelTable* t = kernels_find(name.c_str());
  if (!t)
    throw a.error("argument \"simd\" must name a supported instruction set, or SET:TILE one of its GEMM tiles, got \"" +
                  name + "\"");
  return t;
}

// gemm(simd, transA, C, A, B, M, N, K, accumulate): C (+)= A B, or C += A^T B when transA
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args a(info, "_gemm", 9);
  const KernelTable* t = table_arg(a, info, 0);
  const bool transA = info[1].ToBoolean();
  const long M = a.dim(5, "M"), N = a.dim(6, "N"), K = a.dim(7, "K");
  float* C = a.f32(2, "C", checked_mul(a, M, N, "M*N"));
  const float* A = a.f32(3, "A", checked_mul(a, M, K, "M*K"));
  const float* B = a.f32(4, "B", checked_mul(a, K, N, "K*N"));
  if (transA) gemm_tn(*t, C, A, B, M, N, K);
  else gemm_nn(*t, C, A, B, M, N, K, info[8].ToBoolean());
  return info.Env().Undefined();
}

// gemmPanels(simd, C, A, Bp, M, N, K, accumulate): C (+)= A B with B given in
// panels of kGemmPanel columns (GemmArgs::panel), as the recurrent products read it
Napi::Value GemmPanels(const Napi::CallbackInfo& info) {
  Args a(info, "_gemmPanels", 8);
  const KernelTable* t = table_arg(a, info, 0);
  const long M = a.dim(4, "M"), N = a.dim(5, "N"), K = a.dim(6, "K");
  float* C = a.f32(1, "C", checked_mul(a, M, N, "M*N"));
  const float* A = a.f32(2, "A", checked_mul(a, M, K, "M*K"));
  const float* B = a.f32(3, "Bp", checked_mul(a, K, N, "K*N"));
  GemmArgs g{C, A, B, M, N, K, K, N, N, false, info[7].ToBoolean(), nullptr};
  g.panel = kGemmPanel;
  t->gemm(g, Part{});
  return info.Env().Undefined();
}

// gemmNt(simd, C, A, B, M, N, K): C = A B^T with B (N, K), the generation GEMV
Napi::Value GemmNt(const Napi::CallbackInfo& info) {
  Args a(info, "_gemmNt", 7);
  const KernelTable* t = table_arg(a, info, 0);
  const long M = a.dim(4, "M"), N = a.dim(5, "N"), K = a.dim(6, "K");
  float* C = a.f32(1, "C", checked_mul(a, M, N, "M*N"));
  const float* A = a.f32(2, "A", checked_mul(a, M, K, "M*K"));
  const float* B = a.f32(3, "B", checked_mul(a, N, K, "N*K"));
  t->gemm_nt_small(C, A, B, M, N, K);
  return info.Env().Undefined();
}

// mathEval(simd, fn, y, x): y = exp | sigmoid | tanh (x)
Napi::Value MathEval(const Napi::CallbackInfo& info) {
  Args a(info, "_mathEval", 4);
  const KernelTable* t = table_arg(a, info, 0);
  const std::string fn = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  const int f = fn == "exp" ? 0 : fn == "sigmoid" ? 1 : fn == "tanh" ? 2 : -1;
  if (f < 0) throw a.error("argument \"fn\" must be one of exp|sigmoid|tanh, got \"" + fn + "\"");
  long n = 0;
  const float* x = a.f32_any(3, "x", &n);
  float* y = a.f32(2, "y", n);
  t->math_eval(f, y, x, n);
  return info.Env().Undefined();
}

// gemmTnAcross(on): whether weight gradients by short tiles go across the
// columns (the order before 2026-12-04) instead of down the rows; returns the setting before.
Napi::Value GemmTnAcross(const Napi::CallbackInfo& info) {
  Args a(info, "_gemmTnAcross", 1);
  const bool on = a.boolean(0, "on");
  const bool before = gemm_tn_across();
  gemm_tn_across_set(on);
  return Napi::Boolean::New(info.Env(), before);
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  def<Gemm>(env, exports, "_gemm");
  def<GemmPanels>(env, exports, "_gemmPanels");
  def<GemmNt>(env, exports, "_gemmNt");
  def<MathEval>(env, exports, "_mathEval");
  def<GemmTnAcross>(env, exports, "_gemmTnAcross");
}

}  // namespace deeprnn
