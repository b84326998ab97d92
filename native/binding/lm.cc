// lmTrainChunks: a whole model's training step over a batch in chunks of
// windows (kernels/lm.h).
#include <stdexcept>
#include <string>

#include "binding/args.h"
#include "kernels/lm.h"
#include "simd/kernels.h"

namespace deeprnn {
namespace {

// lmTrainChunks(cell, L, hidden, V, params, grads, offsets, inputs, targets, T, N, rows, masks, state, scale)
//   -> sum of the T*N token losses; grads += d(loss sum * scale)/d(params)
Napi::Value LmTrainChunks(const Napi::CallbackInfo& info) {
  Args a(info, "lmTrainChunks", 15);
  const Cell cell = a.cell(0, "cell");
  const long L = a.dim(1, "L", 1, kMaxLayers);
  const int* H = a.tokens(2, "hidden", L, 1L << 20);
  const long V = a.dim(3, "V");
  long P = 0;
  const float* params = a.f32_any(4, "params", &P);
  float* grads = a.f32(5, "grads", P);
  const int* off = a.tokens(6, "offsets", 4 * L + 2, P);
  const long T = a.dim(9, "T"), N = a.dim(10, "N"), rows = a.dim(11, "rows");
  const long M = checked_mul(a, T, N, "T*N");
  const int* inputs = a.tokens(7, "inputs", M, V);
  const int* targets = a.tokens(8, "targets", M, V);
  const long G = cell_gates(cell);
  long offsets[4 * kMaxLayers + 2];
  long hsum = 0, masked = 0;
  for (long l = 0; l < L; ++l) {
    if (H[l] < 1) throw a.error("argument \"hidden\"[" + std::to_string(l) + "] must be at least 1");
    const long h = H[l], in = l ? H[l - 1] : V;
    const long sizes[4] = {checked_mul(a, G * h, in, "G*H*I"), checked_mul(a, G * h, h, "G*H*H"), G * h, G * h};
    for (int k = 0; k < 4; ++k) {
      offsets[4 * l + k] = off[4 * l + k];
      if (off[4 * l + k] + sizes[k] > P)
        throw a.error("argument \"offsets\"[" + std::to_string(4 * l + k) + "] leaves no room in params for " +
                      std::to_string(sizes[k]) + " floats");
    }
    hsum += h;
    if (l < L - 1) masked += h;
  }
  const long top[2] = {checked_mul(a, V, H[L - 1], "V*H"), V};
  for (int k = 0; k < 2; ++k) {
    offsets[4 * L + k] = off[4 * L + k];
    if (off[4 * L + k] + top[k] > P)
      throw a.error("argument \"offsets\"[" + std::to_string(4 * L + k) + "] leaves no room in params for " +
                    std::to_string(top[k]) + " floats");
  }
  const float* masks = masked ? a.f32_opt(12, "masks", checked_mul(a, M, masked, "T*N*sum(H)")) : nullptr;
  if (!masked && !(info[12].IsNull() || info[12].IsUndefined()))
    throw a.error("argument \"masks\" must be null for a single layer");
  const long stateLen = checked_mul(a, N, hsum, "N*sum(H)") * (cell == Cell::LSTM ? 2 : 1);
  float* state = a.f32_opt(13, "state", stateLen);
  const double scale = a.number(14, "scale");
  try {
    kernels();
  } catch (const std::runtime_error& e) {
    throw a.error(e.what());
  }
  const LmShape shape{cell, L, H, V, offsets, P};
  const double loss = lm_train_chunks(shape, params, grads, inputs, targets, T, N, rows, masks, state,
                                      static_cast<float>(scale));
  return Napi::Number::New(info.Env(), loss);
}

}  // namespace

void register_lm(Napi::Env env, Napi::Object exports) {
  exports.Set("lmTrainChunks", Napi::Function::New(env, LmTrainChunks, "lmTrainChunks"));
}

}  // namespace deeprnn
