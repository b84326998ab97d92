#!/usr/bin/env bash
# The bf16 figures on the 16-core server, beside PyTorch 2.x under bf16 autocast, and the AMX
# path's check there: after `bash ../shared/tools/server16/prepare.sh`,
# `cp bench/server16-extra.sh .dev/extra.sh`; .dev/measure.sh then runs it from .dev/proj (node on
# PATH, at most 120 s). The device machine brings back only about 8 files from $OUT, and
# measure.sh writes 7: this writes one, $OUT/bench-bf16.json, and prints the rest (extra.txt).
set -u
NT=$(nproc)
echo "bf16 path: $(node -e "import('./dist/index.js').then((m) => console.log(m.native().info().bf16))")"
# the tiles against their model, bit for bit, and each product's time on AMX and on vdpbf16ps
timeout 20 node bench/amx-check.mjs 2>&1
echo "amx-check exit $?"
# B and C at 1 thread and at every core, fp32 and bf16 on the default path (AMX where allowed), beside PyTorch
timeout 65 node bin/deeprnn.js bench --precision bf16 --configs B,C --threads "1,$NT" --repeat 1 --warmup 1 \
  --batches 5 --json > "$OUT/bench-bf16.json"
echo "bench exit $?"
# C in bf16 on vdpbf16ps, for the tiles' gain (no PyTorch: its figures are in bench-bf16.json)
DEEPRNN_BF16=avx512bf16 timeout 30 node bin/deeprnn.js bench --precision bf16 --configs C --threads "1,$NT" --repeat 1 \
  --warmup 1 --batches 5 --no-torch --json > /tmp/bench-vdp.json
echo "bench vdpbf16ps exit $?: $(grep -o '"threads":[0-9]*\|"tokensPerSec":[0-9]*\|"bf16TokensPerSec":[0-9]*\|"bf16Path":"[a-z0-9]*"' /tmp/bench-vdp.json | tr '\n' ' ')"
