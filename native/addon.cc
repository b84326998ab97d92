// Registers the exported functions; each family lives in native/binding/.
#include <napi.h>

#include "binding/args.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  deeprnn::register_runtime(env, exports);
  deeprnn::register_cells(env, exports);
  deeprnn::register_linear(env, exports);
  deeprnn::register_optim(env, exports);
  deeprnn::register_kernels(env, exports);
  deeprnn::register_lm(env, exports);
  deeprnn::register_mpi(env, exports);
  deeprnn::register_bf16(env, exports);
  deeprnn::register_files(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(deeprnn, Init)
