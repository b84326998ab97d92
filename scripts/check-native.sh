#!/bin/sh
# Builds native/check/check_kernels.cc with the kernels (no Node, no OpenMP)
# and runs it: every kernel table the target supports against double
# precision and against the scalar table.
#
#   scripts/check-native.sh            this machine's architecture
#   scripts/check-native.sh aarch64    cross-compiled with aarch64-linux-gnu-g++
#                                      and run under qemu-aarch64 (Debian:
#                                      g++-aarch64-linux-gnu qemu-user)
#   scripts/check-native.sh x86-cpus   on x86-64: the native build run under
#                                      qemu-x86_64 as two other CPUs, a baseline
#                                      x86-64 (qemu64: the scalar table only)
#                                      and a Haswell (AVX2 and FMA, no
#                                      AVX-512), checking that each finds the
#                                      tables it should and runs on them
set -eu
cd "$(dirname "$0")/.."
arch=${1:-native}
out=${TMPDIR:-/tmp}/deeprnn-check-$arch
flags="-O2 -std=c++17 -Inative -Wall -Wextra -Wno-unused-parameter"
common="native/check/check_kernels.cc native/kernels/*.cc native/simd/cpu.cc native/simd/bf16.cc"
# the scalar table without contraction, as CMakeLists.txt builds it
scalar_obj=${TMPDIR:-/tmp}/deeprnn-check-$arch-scalar.o
case "$arch" in
  native)
    case "$(uname -m)" in
      x86_64)
        avx2="-mavx2 -mfma -ffp-contract=off"
        avx512="-mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma -mprefer-vector-width=512 -ffp-contract=off"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -c native/simd/avx2.cc $avx2 -o "$out-avx2.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -c native/simd/avx512.cc $avx512 -o "$out-avx512.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -c native/simd/avx512_tall.cc $avx512 -o "$out-avx512_tall.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -ffp-contract=off -c native/simd/scalar.cc -o "$scalar_obj"
        # the bf16 product paths (simd/bf16.h), each with its table's flags
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -ffp-contract=off -c native/simd/bf16_scalar.cc -o "$out-bf16_scalar.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -c native/simd/bf16_avx2.cc $avx2 -o "$out-bf16_avx2.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -c native/simd/bf16_avx512.cc $avx512 -o "$out-bf16_avx512.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -c native/simd/bf16_avx512bf16.cc -mavx512bf16 $avx512 -o "$out-bf16_avx512bf16.o"
        # the AMX path: on the tiles, and on the model of them (simd/gemm_bf16_amx.h)
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -DDEEPRNN_AMX=1 -c native/simd/bf16_amx.cc -mamx-tile -mamx-bf16 $avx512 -o "$out-bf16_amx.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -DDEEPRNN_AMX=1 -c native/simd/bf16_amx_model.cc -mavx2 -mfma -ffp-contract=off -o "$out-bf16_amx_model.o"
        ${CXX:-g++} $flags -DDEEPRNN_X86=1 -DDEEPRNN_AMX=1 $common "$scalar_obj" "$out-avx2.o" "$out-avx512.o" "$out-avx512_tall.o" \
          "$out-bf16_scalar.o" "$out-bf16_avx2.o" "$out-bf16_avx512.o" "$out-bf16_avx512bf16.o" "$out-bf16_amx.o" \
          "$out-bf16_amx_model.o" -o "$out"
        ;;
      aarch64|arm64)
        ${CXX:-g++} $flags -DDEEPRNN_ARM64=1 -ffp-contract=off -c native/simd/scalar.cc -o "$scalar_obj"
        ${CXX:-g++} $flags -DDEEPRNN_ARM64=1 $common "$scalar_obj" -ffp-contract=off native/simd/neon.cc \
          native/simd/bf16_scalar.cc native/simd/bf16_neon.cc native/simd/bf16_amx_model.cc -o "$out"
        ;;
      *)
        ${CXX:-g++} $flags -ffp-contract=off -c native/simd/scalar.cc -o "$scalar_obj"
        ${CXX:-g++} $flags $common "$scalar_obj" -ffp-contract=off native/simd/bf16_scalar.cc native/simd/bf16_amx_model.cc \
          -o "$out"
        ;;
    esac
    "$out"
    ;;
  aarch64)
    aarch64-linux-gnu-g++ $flags -DDEEPRNN_ARM64=1 -ffp-contract=off -c native/simd/scalar.cc -o "$scalar_obj"
    aarch64-linux-gnu-g++ $flags -static -DDEEPRNN_ARM64=1 $common "$scalar_obj" -ffp-contract=off native/simd/neon.cc \
      native/simd/bf16_scalar.cc native/simd/bf16_neon.cc native/simd/bf16_amx_model.cc -o "$out"
    qemu-aarch64 "$out"
    ;;
  x86-cpus)
    [ "$(uname -m)" = x86_64 ] || { echo "x86-cpus: only on x86-64" >&2; exit 2; }
    log=$(sh scripts/check-native.sh 2>&1) || { printf '%s\n' "$log"; echo "x86-cpus: the native build or its check failed" >&2; exit 1; }
    bin=${TMPDIR:-/tmp}/deeprnn-check-native
    for cpu in "qemu64:scalar" "Haswell-v4:scalar, avx2"; do
      model=${cpu%%:*}
      sets=${cpu#*:}
      echo "== as $model (qemu-x86_64 -cpu $model): expecting the instruction sets $sets"
      # TCG's warnings about features of the model it does not emulate (pcid, x2apic, ...) say nothing here
      log=$(qemu-x86_64 -cpu "$model" "$bin" 2>&1) || { printf '%s\n' "$log" | grep -v "TCG doesn't support"; exit 1; }
      printf '%s\n' "$log" | grep -v "TCG doesn't support" | tail -n 4
      printf '%s\n' "$log" | grep -qx "instruction sets: $sets" || { echo "$model: expected the instruction sets $sets" >&2; exit 1; }
    done
    ;;
  *)
    echo "usage: scripts/check-native.sh [aarch64|x86-cpus]" >&2
    exit 2
    ;;
esac
