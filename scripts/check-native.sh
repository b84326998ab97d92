#!/bin/sh
# Builds native/check/check_kernels.cc with the kernels (no Node, no OpenMP)
# and runs it: every kernel table the target supports against double
# precision and against the scalar table.
#
#   scripts/check-native.sh            this machine's architecture
#   scripts/check-native.sh aarch64    cross-compiled with aarch64-linux-gnu-g++
#                                      and run under qemu-aarch64 (Debian:
#                                      g++-aarch64-linux-gnu qemu-user)
set -eu
cd "$(dirname "$0")/.."
arch=${1:-native}
out=${TMPDIR:-/tmp}/deeprnn-check-$arch
flags="-O2 -std=c++17 -Inative -Wall -Wextra -Wno-unused-parameter"
common="native/check/check_kernels.cc native/kernels/*.cc native/simd/cpu.cc native/simd/scalar.cc"
case "$arch" in
  native)
    case "$(uname -m)" in
      x86_64)
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -c native/simd/avx2.cc -mavx2 -mfma -o "$out-avx2.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -c native/simd/avx512.cc -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma -mprefer-vector-width=512 -o "$out-avx512.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 $common "$out-avx2.o" "$out-avx512.o" -o "$out"
        ;;
      aarch64|arm64)
        ${CXX:-g++} $flags -DDEEPRNN_ARM64=1 $common native/simd/neon.cc -o "$out"
        ;;
      *)
        ${CXX:-g++} $flags $common -o "$out"
        ;;
    esac
    "$out"
    ;;
  aarch64)
    aarch64-linux-gnu-g++ $flags -static -DDEEPRNN_ARM64=1 $common native/simd/neon.cc -o "$out"
    qemu-aarch64 "$out"
    ;;
  *)
    echo "usage: scripts/check-native.sh [aarch64]" >&2
    exit 2
    ;;
esac
