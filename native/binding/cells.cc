// cellForward / cellBackward: one layer over a whole sequence.
#include <stdexcept>

#include "binding/args.h"
#include "kernels/cells.h"
#include "simd/kernels.h"

namespace deeprnn {
namespace {

// savedSize(cell, T, N, H) -> floats the forward saves
Napi::Value SavedSize(const Napi::CallbackInfo& info) {
  Args a(info, "savedSize", 4);
  const Cell cell = a.cell(0, "cell");
  const long T = a.dim(1, "T"), N = a.dim(2, "N"), H = a.dim(3, "H");
  checked_mul(a, checked_mul(a, checked_mul(a, T, N, "T*N"), H, "T*N*H"), 6, "saved size");
  return Napi::Number::New(info.Env(), static_cast<double>(cell_saved_floats(cell, T, N, H)));
}

// cellForward({ cell, y, hT, cT, saved, gx, h0, c0, whh, bhh, T, N, H })
Napi::Value CellForward(const Napi::CallbackInfo& info) {
  Args a(info, "cellForward", {"cell", "y", "hT", "cT", "saved", "gx", "h0", "c0", "whh", "bhh", "T", "N", "H"});
  const Cell cell = a.cell(0, "cell");
  const long T = a.dim(10, "T"), N = a.dim(11, "N"), H = a.dim(12, "H");
  const long G = cell_gates(cell);
  const long TNH = checked_mul(a, checked_mul(a, T, N, "T*N"), H, "T*N*H");
  const long NH = N * H, GH = G * H;
  checked_mul(a, TNH, 6, "T*N*H*6");
  float* y = a.f32(1, "y", TNH);
  float* hT = a.f32(2, "hT", NH);
  const bool carries_c = cell_spec(cell).carries_c();
  float* cT = carries_c ? a.f32(3, "cT", NH) : nullptr;
  float* saved = a.f32(4, "saved", cell_saved_floats(cell, T, N, H));
  const float* gx = a.f32(5, "gx", TNH * G);
  const float* h0 = a.f32(6, "h0", NH);
  const float* c0 = carries_c ? a.f32(7, "c0", NH) : nullptr;
  const float* whh = a.f32(8, "whh", checked_mul(a, GH, H, "G*H*H"));
  const float* bhh = a.f32(9, "bhh", GH);
  ensure_kernels(a);
  float* work = scratch(0, cell_forward_work_floats(cell, T, N, H));
  cell_forward(cell, y, hT, cT, saved, work, gx, h0, c0, whh, bhh, T, N, H);
  return info.Env().Undefined();
}

// cellBackward({ cell, dgx, dh0, dc0, dwhh, dbhh, dy, dhT, dcT, saved, y, h0, c0, whh, T, N, H })
Napi::Value CellBackward(const Napi::CallbackInfo& info) {
  Args a(info, "cellBackward", {"cell", "dgx", "dh0", "dc0", "dwhh", "dbhh", "dy", "dhT", "dcT", "saved", "y", "h0", "c0", "whh", "T", "N", "H"});
  const Cell cell = a.cell(0, "cell");
  const long T = a.dim(14, "T"), N = a.dim(15, "N"), H = a.dim(16, "H");
  const long G = cell_gates(cell);
  const long TNH = checked_mul(a, checked_mul(a, T, N, "T*N"), H, "T*N*H");
  const long NH = N * H, GH = G * H;
  checked_mul(a, TNH, 6, "T*N*H*6");
  const bool lstm = cell_spec(cell).carries_c();
  float* dgx = a.f32(1, "dgx", TNH * G);
  float* dh0 = a.f32(2, "dh0", NH);
  float* dc0 = lstm ? a.f32(3, "dc0", NH) : nullptr;
  float* dwhh = a.f32(4, "dwhh", checked_mul(a, GH, H, "G*H*H"));
  float* dbhh = a.f32(5, "dbhh", GH);
  const float* dy = a.f32(6, "dy", TNH);
  const float* dhT = a.f32_opt(7, "dhT", NH);
  const float* dcT = lstm ? a.f32_opt(8, "dcT", NH) : nullptr;
  const float* saved = a.f32(9, "saved", cell_saved_floats(cell, T, N, H));
  const float* y = a.f32(10, "y", TNH);
  const float* h0 = a.f32(11, "h0", NH);
  const float* c0 = lstm ? a.f32(12, "c0", NH) : nullptr;
  const float* whh = a.f32(13, "whh", GH * H);
  ensure_kernels(a);
  float* work = scratch(1, cell_backward_work_floats(cell, T, N, H));
  cell_backward(cell, dgx, dh0, dc0, dwhh, dbhh, work, dy, dhT, dcT, saved, y, h0, c0, whh, T, N, H);
  return info.Env().Undefined();
}

// cells() -> [{ name, gates, gateNames, saved, carriesC }] for every cell kind (CellSpec)
Napi::Value Cells(const Napi::CallbackInfo& info) {
  Args a(info, "cells", 0);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, kNumCells);
  for (int i = 0; i < kNumCells; ++i) {
    const CellSpec& c = kCellSpecs[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, c.name));
    o.Set("gates", Napi::Number::New(env, c.G));
    o.Set("gateNames", Napi::String::New(env, c.gates));
    o.Set("saved", Napi::Number::New(env, c.saved));
    o.Set("backwardExtra", Napi::Number::New(env, c.dgh));
    o.Set("carriesC", Napi::Boolean::New(env, c.carries_c()));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace

void register_cells(Napi::Env env, Napi::Object exports) {
  def<Cells>(env, exports, "cells");
  def<SavedSize>(env, exports, "savedSize");
  def<CellForward>(env, exports, "cellForward");
  def<CellBackward>(env, exports, "cellBackward");
}

}  // namespace deeprnn
