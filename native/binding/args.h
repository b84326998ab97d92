// Argument unpacking for the bindings: every check names the function and the
// argument and says what was expected, so that JavaScript gets an Error and the
// kernels can trust their inputs.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "kernels/common.h"

namespace deeprnn {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count);

  Napi::Error error(const std::string& what) const;
  // An integer in [min, max].
  long dim(size_t i, const char* name, long min = 1, long max = 1L << 31) const;
  double number(size_t i, const char* name) const;
  Cell cell(size_t i, const char* name) const;
  // A Float32Array of exactly `len` elements, not detached.
  float* f32(size_t i, const char* name, long len) const;
  // As f32, or null when the argument is null or undefined.
  float* f32_opt(size_t i, const char* name, long len) const;
  // A Float32Array of any length (returned in *len).
  float* f32_any(size_t i, const char* name, long* len) const;
  // An Int32Array of exactly `len` elements, each in [0, bound).
  int* tokens(size_t i, const char* name, long len, long bound) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

// a * b with a check that the product stays below 2^40 (no buffer is that large).
long checked_mul(const Args& a, long x, long y, const char* what);

// Chooses the kernel table now (first use), turning a bad DEEPRNN_SIMD into an Error.
void ensure_kernels(const Args& a);

// Grow-only scratch memory for the kernels, reused across calls.
float* scratch(size_t slot, long floats);

void register_runtime(Napi::Env env, Napi::Object exports);
void register_cells(Napi::Env env, Napi::Object exports);
void register_linear(Napi::Env env, Napi::Object exports);
void register_optim(Napi::Env env, Napi::Object exports);
void register_kernels(Napi::Env env, Napi::Object exports);
void register_lm(Napi::Env env, Napi::Object exports);

}  // namespace deeprnn
