// Argument unpacking for the bindings: every check names the function and the
// argument and says what was expected, so that JavaScript gets an Error and the
// kernels can trust their inputs.
#pragma once

#include <napi.h>

#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/common.h"

namespace deeprnn {

// The arguments of one call: positional (Args(info, fn, count)), or one
// options object (Args(info, fn, {"name", ...})) whose keys must be among the
// names given; then every getter reads the key `name` and its index is
// ignored, and messages say `option "name"` instead of `argument "name"`.
// Options objects are for calls with many arguments, where two buffers of the
// same length could otherwise be swapped unnoticed.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count);
  Args(const Napi::CallbackInfo& info, const char* fn, std::initializer_list<const char*> keys);

  Napi::Error error(const std::string& what) const;
  // An integer in [min, max].
  long dim(size_t i, const char* name, long min = 1, long max = 1L << 31) const;
  double number(size_t i, const char* name) const;
  bool boolean(size_t i, const char* name) const;
  Cell cell(size_t i, const char* name) const;
  // A string among `allowed`.
  std::string choice(size_t i, const char* name, std::initializer_list<const char*> allowed) const;
  // A Float32Array of exactly `len` elements, not detached.
  float* f32(size_t i, const char* name, long len) const;
  // As f32, or null when the argument is null or undefined.
  float* f32_opt(size_t i, const char* name, long len) const;
  // A Float32Array of any length (returned in *len).
  float* f32_any(size_t i, const char* name, long* len) const;
  // A Float64Array of exactly `len` elements (an output), or null when the argument is null or undefined.
  double* f64_opt(size_t i, const char* name, long len) const;
  // An Int32Array of exactly `len` elements, each in [0, bound).
  int* tokens(size_t i, const char* name, long len, long bound) const;
  // An Int32Array of exactly `len` elements (an output: its values are not read).
  int* i32(size_t i, const char* name, long len) const;
  // An Int32Array of any length (returned in *len), values unchecked.
  int* i32_any(size_t i, const char* name, long* len) const;

  // The first element of a typed array argument (`type` names its kind in
  // messages): an Error when its buffer is detached, or shared (a
  // SharedArrayBuffer: another thread could change what the kernels have
  // checked while they read it).
  uint8_t* data(const Napi::TypedArray& arr, const char* name, const char* type) const;

  // `argument "name"` or `option "name"`, for messages.
  std::string what(const char* name) const;
  // Whether an optional argument or option is null or absent.
  bool absent(size_t i, const char* name) const {
    const Napi::Value v = at(i, name);
    return v.IsNull() || v.IsUndefined();
  }

 private:
  Napi::Value at(size_t i, const char* name) const;

  const Napi::CallbackInfo& info_;
  const char* fn_;
  Napi::Object opts_;  // empty: positional arguments
};

// a * b with a check that the product stays below 2^40 (no buffer is that large).
long checked_mul(const Args& a, long x, long y, const char* what);

// Chooses the kernel table now (first use), turning a bad DEEPRNN_SIMD into an Error.
// tune: also time the GEMM variants now (kernels_tune), for a batch path.
void ensure_kernels(const Args& a, bool tune = false);

// Grow-only scratch memory for the kernels, reused across calls.
float* scratch(size_t slot, long floats);

// F, exported as `name`, with every C++ exception turned into a JavaScript
// Error that names the function: an allocation that fails (a batch, a window
// or a model too large for this machine's memory) ends the call, not the
// process (an exception left to node-addon-api would reach std::terminate).
Napi::Error native_failure(const Napi::CallbackInfo& info, const std::exception& e);

template <auto F>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    if constexpr (std::is_void_v<decltype(F(info))>) {
      F(info);
      return info.Env().Undefined();
    } else {
      return F(info);
    }
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw native_failure(info, e);
  }
}

template <auto F>
void def(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, guarded<F>, name, const_cast<char*>(name)));
}

void register_runtime(Napi::Env env, Napi::Object exports);
void register_cells(Napi::Env env, Napi::Object exports);
void register_linear(Napi::Env env, Napi::Object exports);
void register_optim(Napi::Env env, Napi::Object exports);
void register_kernels(Napi::Env env, Napi::Object exports);
void register_lm(Napi::Env env, Napi::Object exports);
void register_mpi(Napi::Env env, Napi::Object exports);
void register_bf16(Napi::Env env, Napi::Object exports);
void register_files(Napi::Env env, Napi::Object exports);

}  // namespace deeprnn
