#!/usr/bin/env bash
# What the GEMM tile chosen per kind of product changes on the 16-core server,
# in about 4 minutes and one file of its own: C on one thread with the tile
# the timing keeps and with each tile forced (DEEPRNN_GEMM_TILE), taking
# turns; the start-up timing by kind; the two AVX-512 tiles of their own on the
# shapes of configs A, B and C, taking turns (bench/gemm.mjs); the book's run at every core three
# times (and with OMP_WAIT_POLICY=active twice); B and C in bf16 at every core
# beside PyTorch's autocast. After `bash ../shared/tools/server16/prepare.sh`:
# `cp bench/server16-kinds.sh .dev/extra.sh`, then `bash .dev/measure.sh` on
# the server (its extra step limited to 120 s: raise it in .dev/measure.sh).
set -u
NT=$(nproc)
TIMEFORMAT='%R'
tb() { grep -o '"config":"[A-D]"\|"threads":[0-9]*\|"tokensPerSec":[0-9]*\|"teams":"[^"]*"\|"gemmTile":"[^"]*"\|"torchTokensPerSec":[0-9]*\|"bf16TokensPerSec":[0-9]*\|"torchBf16TokensPerSec":[0-9]*\|"bf16Path":"[a-z0-9]*"' "$1" | tr '\n' ' '; echo; }
echo "== the start-up timing, by kind, in three processes"
for i in 1 2 3; do
  node -e "import('./dist/index.js').then(({ native }) => { const n = native(); n.tuneGemm(); const i = n.info(); console.log(i.gemmTile, JSON.stringify(i.gemmKindTiming)); })"
done
echo "== C, 1 thread, by tile"
for round in 1 2; do
  for v in X=1 DEEPRNN_GEMM_TILE=5x64+12x32 DEEPRNN_GEMM_TILE=12x32; do
    env $v timeout 25 node bin/deeprnn.js bench --configs C --threads 1 --repeat 1 --batches 4 --warmup 1 --no-torch --json > /tmp/kinds.json 2>/dev/null
    echo "$v: $(tb /tmp/kinds.json | sed 's/"gemmTile":"[^"]*" //')"
  done
done
echo "== the book's run, $NT threads"
for v in X=1 OMP_WAIT_POLICY=active X=2 OMP_WAIT_POLICY=active X=3; do
  s=$( { time env $v timeout 20 node bin/deeprnn.js train --layers 2 --cell gru --threads "$NT" --out /tmp/kinds-book.safetensors --json > /tmp/kinds-book.json 2> /dev/null; } 2>&1 )
  echo "$v: $s s; $(grep -o '"valPpl":[0-9.]*\|"bestValPpl":[0-9.]*\|"timings":{[^}]*}' /tmp/kinds-book.json | tr '\n' ' ')"
done
echo "== every AVX-512 tile, one thread, GFLOP/s"
timeout 80 node bench/gemm.mjs avx512:5x64,avx512:12x32 7 2>&1  # the two taking turns sample by sample
echo "== bf16, B and C at $NT threads beside PyTorch's autocast"
timeout 90 node bin/deeprnn.js bench --precision bf16 --configs B,C --threads "$NT" --repeat 1 --batches 10 --warmup 2 --json > "$OUT/bf16.json" 2> /dev/null
echo "exit $?: $(tb "$OUT/bf16.json")"
