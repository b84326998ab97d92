// The bf16 products' instruments for tests and benchmarks (prefixed with _):
// each path's GEMM, with B float32 or packed first, and the conversion.
#include <stdexcept>
#include <string>
#include <vector>

#include "binding/args.h"
#include "simd/bf16.h"

namespace deeprnn {
namespace {

// gemmBf16(path, transA, packB, C, A, B, M, N, K, accumulate): C (+)= op(A) B
// with bf16 operands on the named path; packB: B packed by bf16_pack_b first.
Napi::Value GemmBf16(const Napi::CallbackInfo& info) {
  Args a(info, "_gemmBf16", 10);
  const std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string();
  const Bf16Path* p = bf16_find(name.c_str());
  if (!p) throw a.error("argument \"path\" must name a supported bf16 path, got \"" + name + "\"");
  const bool transA = info[1].ToBoolean(), packB = info[2].ToBoolean();
  const long M = a.dim(6, "M"), N = a.dim(7, "N"), K = a.dim(8, "K");
  float* C = a.f32(3, "C", checked_mul(a, M, N, "M*N"));
  const float* A = a.f32(4, "A", checked_mul(a, M, K, "M*K"));
  const float* B = a.f32(5, "B", checked_mul(a, K, N, "K*N"));
  const bool accumulate = info[9].ToBoolean();
  if (!packB) {
    p->gemm({C, A, B, nullptr, M, N, K, transA ? M : K, N, N, transA, accumulate, nullptr}, Part{});
    return info.Env().Undefined();
  }
  std::vector<uint32_t> packed(static_cast<size_t>(bf16_packed_size(K, N)));
  bf16_pack_b(packed.data(), B, N, false, K, N, 0, (K + 1) / 2);
  p->gemm({C, A, nullptr, packed.data(), M, N, K, transA ? M : K, bf16_packed_ld(N), N, transA, accumulate, nullptr},
          Part{});
  return info.Env().Undefined();
}

// gemmBf16Panels(path, C, A, B, M, N, K, accumulate): C (+)= A B with bf16
// operands on the named path, B packed first in panels (bf16_pack_b_panels), as
// the recurrent products of wide layers read W_hh^T
Napi::Value GemmBf16Panels(const Napi::CallbackInfo& info) {
  Args a(info, "_gemmBf16Panels", 8);
  const std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string();
  const Bf16Path* p = bf16_find(name.c_str());
  if (!p) throw a.error("argument \"path\" must name a supported bf16 path, got \"" + name + "\"");
  const long M = a.dim(4, "M"), N = a.dim(5, "N"), K = a.dim(6, "K");
  float* C = a.f32(1, "C", checked_mul(a, M, N, "M*N"));
  const float* A = a.f32(2, "A", checked_mul(a, M, K, "M*K"));
  const float* B = a.f32(3, "B", checked_mul(a, K, N, "K*N"));
  std::vector<uint32_t> packed(static_cast<size_t>(bf16_packed_size(K, N)));
  bf16_pack_b_panels(packed.data(), B, N, false, K, N, 0, (K + 1) / 2);
  GemmBf16Args g{C, A, nullptr, packed.data(), M, N, K, K, 0, N, false, info[7].ToBoolean(), nullptr};
  g.panel = kGemmPanel;
  p->gemm(g, Part{});
  return info.Env().Undefined();
}

// bf16PackB(out, src, trans, K, N): out (Int32Array of bf16_packed_size(K, N))
// = B packed in k-pairs by bf16_pack_b; src: B (K, N), or B^T (N, K) when trans.
Napi::Value Bf16PackB(const Napi::CallbackInfo& info) {
  Args a(info, "_bf16PackB", 5);
  const bool trans = info[2].ToBoolean();
  const long K = a.dim(3, "K"), N = a.dim(4, "N");
  const float* src = a.f32(1, "src", checked_mul(a, K, N, "K*N"));
  int* out = a.i32(0, "out", bf16_packed_size(K, N));
  bf16_pack_b(reinterpret_cast<uint32_t*>(out), src, trans ? K : N, trans, K, N, 0, (K + 1) / 2);
  return info.Env().Undefined();
}

// bf16Round(y, x): y = x rounded to bf16 (round to nearest even) and back.
Napi::Value Bf16Round(const Napi::CallbackInfo& info) {
  Args a(info, "_bf16Round", 2);
  long n = 0;
  const float* x = a.f32_any(1, "x", &n);
  float* y = a.f32(0, "y", n);
  std::vector<uint16_t> h(static_cast<size_t>(n));
  bf16_convert(h.data(), x, n);
  for (long i = 0; i < n; ++i) y[i] = bf16_to_float(h[static_cast<size_t>(i)]);
  return info.Env().Undefined();
}

}  // namespace

void register_bf16(Napi::Env env, Napi::Object exports) {
  def<GemmBf16>(env, exports, "_gemmBf16");
  def<GemmBf16Panels>(env, exports, "_gemmBf16Panels");
  def<Bf16Round>(env, exports, "_bf16Round");
  def<Bf16PackB>(env, exports, "_bf16PackB");
}

}  // namespace deeprnn
