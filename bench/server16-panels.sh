#!/usr/bin/env bash
# What W_hh in panels and the small row tiles change on the 16-core server, in
# about 70 s and no file of its own (measure.sh keeps this script's output as
# extra.txt): the GEMM's recurrent shapes by rows and in panels on one thread
# (bench/recurrent-shapes.mjs), then C on one thread and on every core and B on
# one thread with panels (DEEPRNN_PANELS=1) and without (0), taking turns, C in
# bf16 on every core both ways, and the book's run at every core (its small
# row tiles are not switched off: compare with README's 4.14-4.46 s). After
# `bash ../shared/tools/server16/prepare.sh`: `cp bench/server16-panels.sh
# .dev/extra.sh`, then `bash .dev/measure.sh` on the server.
set -u
NT=$(nproc)
TIMEFORMAT='%R'
tb() { grep -o '"config":"[A-D]"\|"threads":[0-9]*\|"tokensPerSec":[0-9]*\|"teams":"[^"]*"\|"bf16TokensPerSec":[0-9]*\|"bf16Path":"[a-z0-9]*"\|"gemmTile":"[^"]*"\|"whhPanels":[a-z]*' "$1" | tr '\n' ' '; echo; }
lscpu | grep -E 'Model name|^CPU\(s\)|L2|L3'
echo "== shapes on one thread, GFLOP/s (panels in parentheses)"; timeout 30 node bench/recurrent-shapes.mjs 2>&1
run() {  # PANELS CONFIG THREADS BATCHES [bench options]
  local p=$1 c=$2 t=$3 n=$4; shift 4
  DEEPRNN_PANELS=$p timeout 25 node bin/deeprnn.js bench --configs "$c" --threads "$t" --repeat 1 --batches "$n" --warmup 1 --no-torch --json "$@" > /tmp/panels.json 2>/dev/null
  echo "DEEPRNN_PANELS=$p: $(tb /tmp/panels.json)"
}
echo "== C, 1 thread"; for p in 1 0 1 0; do run $p C 1 4; done
echo "== C, $NT threads"; for p in 1 0 1 0; do run $p C "$NT" 10; done
echo "== B, 1 thread"; for p in 1 0; do run $p B 1 6; done
echo "== C in bf16, $NT threads"; for p in 1 0; do run $p C "$NT" 10 --precision bf16; done
echo "== the book's run, $NT threads"
s=$( { time timeout 20 node bin/deeprnn.js train --layers 2 --cell gru --threads "$NT" --out /tmp/panels-book.safetensors --json > /tmp/panels-book.json 2> /dev/null; } 2>&1 )
echo "$s s; $(grep -o '"valPpl":[0-9.]*\|"bestValPpl":[0-9.]*\|"timings":{[^}]*}' /tmp/panels-book.json | tr '\n' ' ')"
