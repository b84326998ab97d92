// Runtime queries and settings: version, threads, kernel table.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "binding/args.h"
#include "kernels/cells.h"
#include "kernels/lm.h"
#include "kernels/parallel.h"
#include "simd/bf16.h"
#include "simd/kernels.h"

namespace deeprnn {
namespace {

// A bf16 path as info().bf16 names it: the instruction's, or "emulated (TABLE)" for a fallback.
std::string bf16_label(const Bf16Path& p) { return p.hardware ? std::string(p.name) : std::string("emulated (") + p.name + ")"; }

Napi::Value Info(const Napi::CallbackInfo& info) {
  Args a(info, "info", 0);
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("openmp", Napi::Boolean::New(env, has_openmp()));
  o.Set("threads", Napi::Number::New(env, threads_get()));
  o.Set("teamSize", Napi::Number::New(env, team_size_get()));
  o.Set("whhPanels", Napi::Boolean::New(env, whh_panels_on()));
  const char* names[8];
  const int n = kernels_available(names, 8);
  Napi::Array avail = Napi::Array::New(env, n);
  Napi::Object tiles = Napi::Object::New(env);  // each set's GEMM tiles, its own first
  for (int i = 0; i < n; ++i) {
    avail.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
    const char* t[kMaxGemmVariants];
    const int nt = kernels_gemm_tiles(names[i], t, kMaxGemmVariants);
    Napi::Array tl = Napi::Array::New(env, nt);
    for (int j = 0; j < nt; ++j) tl.Set(static_cast<uint32_t>(j), Napi::String::New(env, t[j]));
    tiles.Set(names[i], tl);
  }
  o.Set("simdAvailable", avail);
  o.Set("gemmTiles", tiles);
  try {
    o.Set("simd", Napi::String::New(env, kernels().name));
    o.Set("bf16", Napi::String::New(env, bf16_label(bf16_path_peek())));
    o.Set("bf16Hardware", Napi::Boolean::New(env, bf16_hardware_supported()));
    o.Set("bf16Amx", Napi::Boolean::New(env, bf16_amx_supported()));
    o.Set("gemmTile", Napi::String::New(env, kernels().gemm_tile));
    o.Set("gemmTileChoice", Napi::String::New(env, kernels_gemm_choice()));
    const char* timed[kMaxGemmVariants];
    double sec[kMaxGemmVariants], nn[kMaxGemmVariants], tn[kMaxGemmVariants];
    Napi::Object timing = Napi::Object::New(env);  // tile -> milliseconds of the start-up timing
    Napi::Object kinds = Napi::Object::New(env);   // tile of its own -> { nn, tn } milliseconds
    for (int v = 0, nv = kernels_gemm_timing(timed, sec, nn, tn, kMaxGemmVariants); v < nv; ++v) {
      timing.Set(timed[v], Napi::Number::New(env, sec[v] * 1e3));
      if (nn[v] > 0.0) {
        Napi::Object k = Napi::Object::New(env);
        k.Set("nn", Napi::Number::New(env, nn[v] * 1e3));
        k.Set("tn", Napi::Number::New(env, tn[v] * 1e3));
        kinds.Set(timed[v], k);
      }
    }
    o.Set("gemmTileTiming", timing);
    o.Set("gemmKindTiming", kinds);
  } catch (const std::runtime_error& e) {
    throw a.error(e.what());
  }
  return o;
}

// tuneGemm(): times the GEMM variants now rather than at the first batch (kernels_tune).
Napi::Value TuneGemm(const Napi::CallbackInfo& info) {
  Args a(info, "tuneGemm", 0);
  ensure_kernels(a, true);
  return info.Env().Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setThreads", 1);
  threads_set(static_cast<int>(a.dim(0, "threads", 1, 1024)));
  return info.Env().Undefined();
}

Napi::Value SetSimd(const Napi::CallbackInfo& info) {
  Args a(info, "setSimd", 1);
  if (!info[0].IsString()) throw a.error("argument \"name\" must be a string");
  try {
    kernels_select(info[0].As<Napi::String>().Utf8Value().c_str());
    bf16_select(std::getenv("DEEPRNN_BF16"));  // the fallback follows the table's vectors
  } catch (const std::runtime_error& e) {
    throw a.error(e.what());
  }
  return info.Env().Undefined();
}

// setBf16(name): the bf16 product path as DEEPRNN_BF16 names it ("": the default)
Napi::Value SetBf16(const Napi::CallbackInfo& info) {
  Args a(info, "setBf16", 1);
  if (!info[0].IsString()) throw a.error("argument \"name\" must be a string");
  try {
    bf16_select(info[0].As<Napi::String>().Utf8Value().c_str());
  } catch (const std::runtime_error& e) {
    throw a.error(e.what());
  }
  return info.Env().Undefined();
}

// bf16Path(): the bf16 path the products run on, as info().bf16 names it,
// chosen now if it was not yet (where AMX is the default, Linux is asked for
// its permission: info() only says what the default would choose)
Napi::Value Bf16PathName(const Napi::CallbackInfo& info) {
  Args a(info, "bf16Path", 0);
  try {
    return Napi::String::New(info.Env(), bf16_label(bf16_path()));
  } catch (const std::runtime_error& e) {
    throw a.error(e.what());
  }
}

// setTeamSize(n): teams of n threads per chunk (0: chosen by the cost model)
Napi::Value SetTeamSize(const Napi::CallbackInfo& info) {
  Args a(info, "setTeamSize", 1);
  team_size_set(static_cast<int>(a.dim(0, "n", 0, 1024)));
  return info.Env().Undefined();
}

}  // namespace

void register_runtime(Napi::Env env, Napi::Object exports) {
  def<Info>(env, exports, "info");
  def<SetThreads>(env, exports, "setThreads");
  def<TuneGemm>(env, exports, "tuneGemm");
  def<SetSimd>(env, exports, "setSimd");
  def<SetBf16>(env, exports, "setBf16");
  def<Bf16PathName>(env, exports, "bf16Path");
  def<SetTeamSize>(env, exports, "setTeamSize");
}

}  // namespace deeprnn
