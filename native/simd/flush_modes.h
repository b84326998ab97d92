// vdpbf16ps's float32 modes, for the code that reproduces it with float32
// FMAs (the bf16 fallback, the AMX model): while a DenormalsAsZero lives, this
// thread reads subnormal inputs as zero and writes subnormal results as zero
// (MXCSR DAZ and FTZ on x86, FPCR.FZ on aarch64; elsewhere nothing). In an
// unnamed namespace: each file has its own, whatever its flags.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace deeprnn {
namespace {

struct DenormalsAsZero {
#if defined(__x86_64__) || defined(__i386__)
  unsigned saved = _mm_getcsr();
  DenormalsAsZero() { _mm_setcsr(saved | 0x8040u); }  // FTZ (bit 15) and DAZ (bit 6)
  ~DenormalsAsZero() { _mm_setcsr(saved); }
#elif defined(__aarch64__)
  unsigned long saved = __builtin_aarch64_get_fpcr64();
  DenormalsAsZero() { __builtin_aarch64_set_fpcr64(saved | (1ul << 24)); }  // FZ: inputs and results
  ~DenormalsAsZero() { __builtin_aarch64_set_fpcr64(saved); }
#endif
};

}  // namespace
}  // namespace deeprnn
