#include "binding/args.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {

Args::Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), fn_(fn) {
  if (info.Length() != count)
    throw error("expected " + std::to_string(count) + " arguments, got " + std::to_string(info.Length()));
}

Args::Args(const Napi::CallbackInfo& info, const char* fn, std::initializer_list<const char*> keys)
    : info_(info), fn_(fn) {
  std::string list;
  for (const char* k : keys) list += std::string(list.empty() ? "" : ", ") + k;
  if (info.Length() != 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray())
    throw error("expected one options object { " + list + " }");
  opts_ = info[0].As<Napi::Object>();
  const Napi::Array names = opts_.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string key = names.Get(i).ToString().Utf8Value();
    bool known = false;
    for (const char* k : keys) known = known || key == k;
    if (!known) throw error("unknown option \"" + key + "\" (expected " + list + ")");
  }
}

Napi::Error Args::error(const std::string& what) const {
  return Napi::Error::New(info_.Env(), std::string(fn_) + ": " + what);
}

Napi::Error native_failure(const Napi::CallbackInfo& info, const std::exception& e) {
  const char* fn = static_cast<const char*>(info.Data());
  std::string msg = std::string(fn ? fn : "deeprnn") + ": ";
  if (const auto* oom = dynamic_cast<const OutOfMemory*>(&e)) {
    char size[32];
    const double gib = oom->bytes / (1024.0 * 1024 * 1024);
    if (gib >= 1) std::snprintf(size, sizeof size, "%.1f GiB", gib);
    else std::snprintf(size, sizeof size, "%.0f MiB", oom->bytes / (1024.0 * 1024));
    msg += std::string("out of memory: its buffers need ") + size + " that could not be allocated";
  } else if (dynamic_cast<const std::bad_alloc*>(&e)) {
    msg += "out of memory";
  } else {
    return Napi::Error::New(info.Env(), msg + e.what());
  }
  return Napi::Error::New(info.Env(), msg + "; use fewer rows (batch), fewer steps per window or a smaller model");
}

Napi::Value Args::at(size_t i, const char* name) const { return opts_.IsEmpty() ? info_[i] : opts_.Get(name); }

std::string Args::what(const char* name) const {
  return std::string(opts_.IsEmpty() ? "argument \"" : "option \"") + name + "\"";
}

// A number as JavaScript prints it (Number.prototype.toString: 0, 1.5, 2000,
// 0.00001, 1.5e-7, 1e+300, NaN, Infinity), not std::to_string's 0.000000: the
// shortest digits that read back as the same double, placed by ECMAScript's rule.
static std::string number_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";  // -0 too, as String(-0)
  char buf[40];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, d);  // [-]D.DDDe[+-]XX, correctly rounded
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string e(buf);
  const bool neg = e[0] == '-';
  if (neg) e.erase(0, 1);
  const size_t at = e.find('e');
  std::string digits;
  for (size_t i = 0; i < at; ++i)
    if (e[i] != '.') digits += e[i];
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const long k = static_cast<long>(digits.size()), n = std::atol(e.c_str() + at + 1) + 1;  // d = 0.digits x 10^n
  std::string out;
  if (k <= n && n <= 21) {
    out = digits + std::string(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out = digits.substr(0, static_cast<size_t>(n)) + "." + digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out = "0." + std::string(static_cast<size_t>(-n), '0') + digits;
  } else {
    out = digits.substr(0, 1) + (k > 1 ? "." + digits.substr(1) : "") + (n - 1 >= 0 ? "e+" : "e-") + std::to_string(n - 1 >= 0 ? n - 1 : 1 - n);
  }
  return neg ? "-" + out : out;
}

long Args::dim(size_t i, const char* name, long min, long max) const {
  const Napi::Value v = at(i, name);
  if (!v.IsNumber()) throw error(what(name) + " must be an integer, got a non-number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max))
    throw error(what(name) + " must be an integer from " + std::to_string(min) + " to " +
                std::to_string(max) + ", got " + number_text(d));
  return static_cast<long>(d);
}

double Args::number(size_t i, const char* name) const {
  const Napi::Value v = at(i, name);
  if (!v.IsNumber()) throw error(what(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw error(what(name) + " must be finite");
  return d;
}

bool Args::boolean(size_t i, const char* name) const {
  const Napi::Value v = at(i, name);
  if (!v.IsBoolean()) throw error(what(name) + " must be true or false");
  return v.As<Napi::Boolean>().Value();
}

std::string Args::choice(size_t i, const char* name, std::initializer_list<const char*> allowed) const {
  const Napi::Value v = at(i, name);
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  std::string list;
  for (const char* c : allowed) {
    if (s == c) return s;
    list += (list.empty() ? "" : "|") + std::string(c);
  }
  throw error(what(name) + " must be one of " + list + ", got \"" + s + "\"");
}

Cell Args::cell(size_t i, const char* name) const {
  const Napi::Value v = at(i, name);
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  if (const CellSpec* c = cell_by_name(s.c_str())) return c->kind;
  std::string names;
  for (int i = 0; i < kNumCells; ++i) names += (i ? "|" : "") + std::string(kCellSpecs[i].name);
  throw error(what(name) + " must be one of " + names + ", got \"" + s + "\"");
}

namespace {

// "a Float32Array", "an Int32Array".
std::string a_type(const char* type) { return std::string(type[0] == 'I' ? "an " : "a ") + type; }

template <typename T>
T* typed(const Args& a, const Napi::Value& v, napi_typedarray_type want, const char* type, const char* name,
         long* len) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != want)
    throw a.error(a.what(name) + " must be " + a_type(type));
  Napi::TypedArray arr = v.As<Napi::TypedArray>();
  uint8_t* p = a.data(arr, name, type);
  *len = static_cast<long>(arr.ElementLength());
  return reinterpret_cast<T*>(p);
}

}  // namespace

uint8_t* Args::data(const Napi::TypedArray& arr, const char* name, const char* type) const {
  const napi_env env = arr.Env();
  napi_typedarray_type kind;
  size_t length = 0, offset = 0;
  void* p = nullptr;
  napi_value buffer = nullptr;
  if (napi_get_typedarray_info(env, arr, &kind, &length, &p, &buffer, &offset) != napi_ok)
    throw error(what(name) + " must be " + a_type(type));
  bool plain = false;
  napi_is_arraybuffer(env, buffer, &plain);
  if (!plain)
    throw error(what(name) + " is " + a_type(type) + " on a SharedArrayBuffer: another thread could change it while it " +
                "is read; give " + a_type(type) + " of its own (a copy: " + type + ".from(x))");
  bool detached = false;
  napi_is_detached_arraybuffer(env, buffer, &detached);
  if (detached) throw error(what(name) + " is a detached " + type);
  return static_cast<uint8_t*>(p);
}

float* Args::f32_any(size_t i, const char* name, long* len) const {
  return typed<float>(*this, at(i, name), napi_float32_array, "Float32Array", name, len);
}

float* Args::f32(size_t i, const char* name, long len) const {
  long got = 0;
  float* p = f32_any(i, name, &got);
  if (got != len)
    throw error(what(name) + " must have length " + std::to_string(len) + ", got " +
                std::to_string(got));
  return p;
}

float* Args::f32_opt(size_t i, const char* name, long len) const {
  const Napi::Value v = at(i, name);
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return f32(i, name, len);
}

double* Args::f64_opt(size_t i, const char* name, long len) const {
  const Napi::Value v = at(i, name);
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  long got = 0;
  double* p = typed<double>(*this, v, napi_float64_array, "Float64Array", name, &got);
  if (got != len)
    throw error(what(name) + " must have length " + std::to_string(len) + ", got " + std::to_string(got));
  return p;
}

int* Args::i32_any(size_t i, const char* name, long* len) const {
  return typed<int>(*this, at(i, name), napi_int32_array, "Int32Array", name, len);
}

int* Args::i32(size_t i, const char* name, long len) const {
  long got = 0;
  int* p = i32_any(i, name, &got);
  if (got != len)
    throw error(what(name) + " must have length " + std::to_string(len) + ", got " + std::to_string(got));
  return p;
}

int* Args::tokens(size_t i, const char* name, long len, long bound) const {
  int* p = i32(i, name, len);
  for (long k = 0; k < len; ++k)
    if (p[k] < 0 || p[k] >= bound)
      throw error(what(name) + "[" + std::to_string(k) + "] = " + std::to_string(p[k]) +
                  " is outside [0, " + std::to_string(bound) + ")");
  return p;
}

long checked_mul(const Args& a, long x, long y, const char* what) {
  const long limit = 1L << 40;
  if (x != 0 && y > limit / x) throw a.error(std::string(what) + " is too large");
  return x * y;
}

void ensure_kernels(const Args& a, bool tune) {
  try {
    kernels();
    if (tune) kernels_tune();
  } catch (const std::runtime_error& e) {
    throw a.error(e.what());
  }
}

// One set per JavaScript thread: the main thread and worker threads (training
// runs on one) may call bindings at the same time.
float* scratch(size_t slot, long floats) {
  static thread_local std::vector<std::vector<float>> slots;
  if (slots.size() <= slot) slots.resize(slot + 1);
  return aligned_in(slots[slot], floats);
}

}  // namespace deeprnn
