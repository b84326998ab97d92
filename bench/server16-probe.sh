#!/usr/bin/env bash
# Where the 16-core server's time goes, in about 100 s and two files: the GEMM's
# recurrent shapes on one thread (bench/recurrent-shapes.mjs), C on one thread
# and on every core with its default chunks and with one chunk of all 50 windows
# (DEEPRNN_CHUNK_TOKENS=4096) and a tile forced, the book's run at every core
# with chunks of 256 and 512 tokens, and B and C in bf16 on the AMX tiles beside
# PyTorch's autocast. After `bash ../shared/tools/server16/prepare.sh`:
# `cp bench/server16-probe.sh .dev/extra.sh`; .dev/measure.sh runs it from
# .dev/proj (at most 120 s) and brings back $OUT/extra.txt and
# $OUT/bf16-amx.json. Only about 8 files under $OUT come back from the device
# machine: this writes two.
set -u
NT=$(nproc)
TIMEFORMAT='%R'
tb() { grep -o '"config":"[A-D]"\|"threads":[0-9]*\|"tokensPerSec":[0-9]*\|"teams":"[^"]*"\|"torchTokensPerSec":[0-9]*\|"bf16TokensPerSec":[0-9]*\|"torchBf16TokensPerSec":[0-9]*\|"bf16Path":"[a-z0-9]*"' "$1" | tr '\n' ' '; echo; }
lscpu | grep -E 'Model name|^CPU\(s\)|Thread|L2|L3'
echo "== shapes"; timeout 30 node bench/recurrent-shapes.mjs 2>&1
echo "== C, 1 thread: default chunks / one chunk / one chunk with 5x64"
for v in "X=1" "DEEPRNN_CHUNK_TOKENS=4096" "DEEPRNN_CHUNK_TOKENS=4096 DEEPRNN_GEMM_TILE=5x64" "X=2"; do
  env $v timeout 25 node bin/deeprnn.js bench --configs C --threads 1 --repeat 1 --batches 4 --warmup 1 --no-torch --json > /tmp/probe.json 2>/dev/null
  echo "$v: $(tb /tmp/probe.json)"
done
echo "== C, $NT threads: default / one chunk"
for v in "X=1" "DEEPRNN_CHUNK_TOKENS=4096" "X=2" "DEEPRNN_CHUNK_TOKENS=4096"; do
  env $v timeout 25 node bin/deeprnn.js bench --configs C --threads "$NT" --repeat 1 --batches 20 --warmup 2 --no-torch --json > /tmp/probe.json 2>/dev/null
  echo "$v: $(tb /tmp/probe.json)"
done
echo "== the book's run, $NT threads"
for c in 256 512; do
  s=$( { time DEEPRNN_CHUNK_TOKENS=$c timeout 20 node bin/deeprnn.js train --layers 2 --cell gru --threads "$NT" --out /tmp/probe-$c.safetensors --json > /tmp/probe-book.json 2> /dev/null; } 2>&1 )
  echo "chunks of $c: $s s; $(grep -o '"valPpl":[0-9.]*\|"bestValPpl":[0-9.]*\|"timings":{[^}]*}' /tmp/probe-book.json | tr '\n' ' ')"
done
echo "== bf16 on AMX, B and C at $NT threads beside PyTorch's autocast"
DEEPRNN_BF16=amx timeout 60 node bin/deeprnn.js bench --precision bf16 --configs B,C --threads "$NT" --repeat 1 --batches 10 --warmup 2 \
  --json > "$OUT/bf16-amx.json" 2> /dev/null
echo "exit $?: $(tb "$OUT/bf16-amx.json")"
