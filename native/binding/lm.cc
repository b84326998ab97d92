// lmTrainChunks / lmEvalChunks: a whole model's training step, or its
// evaluation, over a batch in chunks of windows (kernels/lm.h).
#include <stdexcept>
#include <string>

#include "binding/args.h"
#include "kernels/cells.h"
#include "kernels/lm.h"
#include "simd/bf16.h"
#include "simd/kernels.h"

namespace deeprnn {
namespace {

// The model's shape from arguments (cell, L, hidden, V, params, ...) at
// `first`, with the parameter offsets at `offsets_at`, each region checked to
// lie inside params.
struct ShapeArgs {
  LmShape shape;
  const float* params;
  long hsum = 0, masked = 0;

  ShapeArgs(const Args& a, size_t offsets_at) {
    const Cell cell = a.cell(0, "cell");
    const long L = a.dim(1, "L", 1, kMaxLayers);
    const int* H = a.tokens(2, "hidden", L, 1L << 20);
    const long V = a.dim(3, "V");
    long P = 0;
    params = a.f32_any(4, "params", &P);
    const int* off = a.tokens(offsets_at, "offsets", 4 * L + 2, P);
    const long G = cell_gates(cell);
    shape.cell = cell;
    shape.L = L;
    shape.H = H;
    shape.V = V;
    shape.P = P;
    for (long l = 0; l < L; ++l) {
      if (H[l] < 1) throw a.error(a.what("hidden") + "[" + std::to_string(l) + "] must be at least 1");
      const long h = H[l], in = l ? H[l - 1] : V;
      LayerOffsets& o = shape.layer[l];
      o.W_ih = place(a, off, 4 * l, checked_mul(a, G * h, in, "G*H*I"), P);
      o.W_hh = place(a, off, 4 * l + 1, checked_mul(a, G * h, h, "G*H*H"), P);
      o.b_ih = place(a, off, 4 * l + 2, G * h, P);
      o.b_hh = place(a, off, 4 * l + 3, G * h, P);
      hsum += h;
      if (l < L - 1) masked += h;
    }
    shape.W_out = place(a, off, 4 * L, checked_mul(a, V, H[L - 1], "V*H"), P);
    shape.b_out = place(a, off, 4 * L + 1, V, P);
  }

  // offsets[i], checked to leave room for `size` floats in params.
  static long place(const Args& a, const int* off, long i, long size, long P) {
    if (off[i] + size > P)
      throw a.error(a.what("offsets") + "[" + std::to_string(i) + "] leaves no room in params for " +
                    std::to_string(size) + " floats");
    return off[i];
  }

  long state_len(const Args& a, long N) const {
    return checked_mul(a, N, hsum, "N*sum(H)") * (cell_spec(shape.cell).carries_c() ? 2 : 1);
  }
};

// The optional option "precision": "fp32" (absent: the same) or "bf16"; bf16
// chooses its product path now, turning a bad DEEPRNN_BF16 into an Error.
Precision precision_arg(const Args& a, size_t i) {
  if (a.absent(i, "precision") || a.choice(i, "precision", {"fp32", "bf16"}) == "fp32") return Precision::FP32;
  try {
    bf16_path();
  } catch (const std::runtime_error& e) {
    throw a.error(e.what());
  }
  return Precision::BF16;
}

// Windows of T + 1 tokens in a stream: option "tokens" (a Uint16Array or an
// Int32Array) and option "starts" (an Int32Array), each window inside the
// stream; the ids are not read here.
struct WindowArgs {
  const void* tokens;
  bool u16;
  const int* starts;
  long N;
};

WindowArgs window_args(const Args& a, const Napi::CallbackInfo& info, size_t starts_i, long T) {
  const Napi::Value tv = info[0].As<Napi::Object>().Get("tokens");
  const bool u16 = tv.IsTypedArray() && tv.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
  if (!tv.IsTypedArray() || (!u16 && tv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array))
    throw a.error(a.what("tokens") + " must be a Uint16Array or an Int32Array");
  Napi::TypedArray ta = tv.As<Napi::TypedArray>();
  const uint8_t* p = a.data(ta, "tokens", u16 ? "Uint16Array" : "Int32Array");
  const long len = static_cast<long>(ta.ElementLength());
  WindowArgs w{p, u16, nullptr, 0};
  w.starts = a.i32_any(starts_i, "starts", &w.N);
  if (w.N < 1) throw a.error(a.what("starts") + " must hold at least one window");
  for (long n = 0; n < w.N; ++n)
    if (w.starts[n] < 0 || w.starts[n] + T >= len)
      throw a.error(a.what("starts") + "[" + std::to_string(n) + "] = " + std::to_string(w.starts[n]) +
                    ": a window of " + std::to_string(T + 1) + " tokens must lie inside the " + std::to_string(len) +
                    " tokens");
  return w;
}

// A batch's tokens: options "inputs" and "targets" (T, N), or "tokens" and
// "starts" (N windows, gathered by the chunks), one pair or the other.
LmTokens batch_tokens(const Args& a, const Napi::CallbackInfo& info, size_t inputs_i, size_t tokens_i, long T, long N,
                      long V) {
  const long M = checked_mul(a, T, N, "T*N");
  LmTokens tk;
  const bool windows = !a.absent(tokens_i, "tokens") || !a.absent(tokens_i + 1, "starts");
  if (!windows) {
    tk.inputs = a.tokens(inputs_i, "inputs", M, V);
    tk.targets = a.tokens(inputs_i + 1, "targets", M, V);
    return tk;
  }
  if (!a.absent(inputs_i, "inputs") || !a.absent(inputs_i + 1, "targets"))
    throw a.error("give either inputs and targets or tokens and starts, not both");
  const WindowArgs w = window_args(a, info, tokens_i + 1, T);
  if (w.N != N) throw a.error(a.what("starts") + " must have length " + std::to_string(N) + ", got " + std::to_string(w.N));
  tk.stream = w.tokens;
  tk.u16 = w.u16;
  tk.starts = w.starts;
  return tk;
}

// After a batch of windows: an Error when one of their ids was out of range (nothing was computed).
void check_window_ids(const Args& a, const LmTokens& tk, long T, long V) {
  if (tk.bad < 0) return;
  const long n = tk.bad / (T + 1), t = tk.bad % (T + 1);
  const long at = static_cast<long>(tk.starts[n]) + t;
  const long id = tk.u16 ? static_cast<const uint16_t*>(tk.stream)[at] : static_cast<const int*>(tk.stream)[at];
  // The window by its start, which a shard's share of the starts keeps.
  throw a.error(a.what("tokens") + "[" + std::to_string(at) + "] = " + std::to_string(id) + " (step " +
                std::to_string(t) + " of the window at " + std::to_string(tk.starts[n]) + ") is outside [0, " +
                std::to_string(V) + ")");
}

// lmTrainChunks({ cell, L, hidden, V, params, grads, offsets, inputs, targets, T, N, rows, masks, state, scale, keep, precision })
//   -> sum of the T*N token losses; grads += d(loss sum * scale)/d(params), or with keep (optional,
//   default false) grads untouched and the chunks' gradients kept for mpiChainSum; precision: fp32 | bf16 (optional);
//   tokens and starts in place of inputs and targets: the batch's windows in a token stream (batch_tokens);
//   gradSquares (optional, not with keep): a Float64Array(1) that gets the sum of squares of grads after
//   the call, as sumSquares(grads) gives it
Napi::Value LmTrainChunks(const Napi::CallbackInfo& info) {
  Args a(info, "lmTrainChunks", {"cell", "L", "hidden", "V", "params", "grads", "offsets", "inputs", "targets", "T", "N", "rows", "masks", "state", "scale", "keep", "precision", "tokens", "starts", "gradSquares"});
  const ShapeArgs sa(a, 6);
  const LmShape& s = sa.shape;
  float* grads = a.f32(5, "grads", s.P);
  const long T = a.dim(9, "T"), N = a.dim(10, "N"), rows = a.dim(11, "rows");
  const long M = checked_mul(a, T, N, "T*N");
  LmTokens tk = batch_tokens(a, info, 7, 17, T, N, s.V);
  const float* masks = sa.masked ? a.f32_opt(12, "masks", checked_mul(a, M, sa.masked, "T*N*sum(H)")) : nullptr;
  if (!sa.masked && !a.absent(12, "masks")) throw a.error(a.what("masks") + " must be null for a single layer");
  float* state = a.f32_opt(13, "state", sa.state_len(a, N));
  const double scale = a.number(14, "scale");
  const bool keep = a.absent(15, "keep") ? false : a.boolean(15, "keep");
  double* squares = a.f64_opt(19, "gradSquares", 1);
  if (squares && keep) throw a.error(a.what("gradSquares") + " does not apply with keep (grads are left as they are)");
  ensure_kernels(a, true);
  const Precision precision = precision_arg(a, 16);
  const double loss = lm_train_chunks(s, sa.params, grads, tk, T, N, rows, masks, state, static_cast<float>(scale),
                                      keep, precision, squares);
  check_window_ids(a, tk, T, s.V);
  return Napi::Number::New(info.Env(), loss);
}

// lmEvalChunks({ cell, L, hidden, V, params, offsets, inputs, targets, T, N, rows, state, precision })
//   -> { loss: sum of the T*N token losses, correct: argmax hits }; tokens and starts as lmTrainChunks'
Napi::Value LmEvalChunks(const Napi::CallbackInfo& info) {
  Args a(info, "lmEvalChunks", {"cell", "L", "hidden", "V", "params", "offsets", "inputs", "targets", "T", "N", "rows", "state", "precision", "tokens", "starts"});
  const ShapeArgs sa(a, 5);
  const LmShape& s = sa.shape;
  const long T = a.dim(8, "T"), N = a.dim(9, "N"), rows = a.dim(10, "rows");
  LmTokens tk = batch_tokens(a, info, 6, 13, T, N, s.V);
  float* state = a.f32_opt(11, "state", sa.state_len(a, N));
  ensure_kernels(a, true);
  const Precision precision = precision_arg(a, 12);
  long correct = 0;
  const double loss = lm_eval_chunks(s, sa.params, tk, T, N, rows, state, &correct, precision);
  check_window_ids(a, tk, T, s.V);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("loss", Napi::Number::New(info.Env(), loss));
  out.Set("correct", Napi::Number::New(info.Env(), static_cast<double>(correct)));
  return out;
}

// lmTeamPlan({ cell, L, hidden, V, T, N, rows, train, threads }) -> { teams, size }: how a batch
// of N windows in chunks of `rows` would run on `threads` threads.
Napi::Value LmTeamPlan(const Napi::CallbackInfo& info) {
  Args a(info, "lmTeamPlan", {"cell", "L", "hidden", "V", "T", "N", "rows", "train", "threads"});
  LmShape s{};
  s.cell = a.cell(0, "cell");
  s.L = a.dim(1, "L", 1, kMaxLayers);
  s.H = a.tokens(2, "hidden", s.L, 1L << 20);
  for (long l = 0; l < s.L; ++l)
    if (s.H[l] < 1) throw a.error(a.what("hidden") + "[" + std::to_string(l) + "] must be at least 1");
  s.V = a.dim(3, "V");
  const long T = a.dim(4, "T"), N = a.dim(5, "N"), rows = a.dim(6, "rows");
  const bool train = a.boolean(7, "train");
  const int threads = static_cast<int>(a.dim(8, "threads", 1, 1024));
  const TeamPlan p = plan_teams(s, T, rows, (N + rows - 1) / rows, threads, train);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("teams", Napi::Number::New(info.Env(), p.teams));
  out.Set("size", Napi::Number::New(info.Env(), p.size));
  return out;
}

// fillBatch({ tokens, starts, T, inputs, targets }): the time-major batch of
// windows starting at starts (N of them) in tokens (Uint16Array or Int32Array).
Napi::Value FillBatch(const Napi::CallbackInfo& info) {
  Args a(info, "fillBatch", {"tokens", "starts", "T", "inputs", "targets"});
  const long T = a.dim(2, "T");
  const WindowArgs w = window_args(a, info, 1, T);
  const long M = checked_mul(a, T, w.N, "T*N");
  int* inputs = a.i32(3, "inputs", M);
  int* targets = a.i32(4, "targets", M);
  if (w.u16) fill_windows(inputs, targets, static_cast<const uint16_t*>(w.tokens), w.starts, T, w.N);
  else fill_windows(inputs, targets, static_cast<const int*>(w.tokens), w.starts, T, w.N);
  return info.Env().Undefined();
}

}  // namespace

void register_lm(Napi::Env env, Napi::Object exports) {
  def<LmTrainChunks>(env, exports, "lmTrainChunks");
  def<LmEvalChunks>(env, exports, "lmEvalChunks");
  def<LmTeamPlan>(env, exports, "lmTeamPlan");
  def<FillBatch>(env, exports, "fillBatch");
}

}  // namespace deeprnn
