#!/usr/bin/env bash
# The bf16 figures on the 16-core server, beside PyTorch 2.x under bf16 autocast, and the AMX
# path's check there: after `bash ../shared/tools/server16/prepare.sh`,
# `cp bench/server16-extra.sh .dev/extra.sh`; .dev/measure.sh then runs it from .dev/proj (node on
# PATH, at most 120 s) and brings back $OUT/amx-check.txt, $OUT/bench-bf16.json and
# $OUT/bench-amx.json.
set -u
echo "bf16 path: $(node -e "import('./dist/index.js').then((m) => console.log(m.native().info().bf16))")"
# the tiles against their model, bit for bit, and each product's time on AMX and on vdpbf16ps
timeout 20 node bench/amx-check.mjs > "$OUT/amx-check.txt" 2>&1
echo "amx-check exit $?"; tail -3 "$OUT/amx-check.txt"
# B and C at 1 thread and at every core, fp32 and bf16 (vdpbf16ps), one run each, beside PyTorch
timeout 65 node bin/deeprnn.js bench --precision bf16 --configs B,C --threads "1,$(nproc)" --repeat 1 --warmup 1 \
  --batches 5 --json > "$OUT/bench-bf16.json"
echo "bench exit $?"
# C in bf16 on the AMX tiles (no PyTorch: its figures are in bench-bf16.json)
DEEPRNN_BF16=amx timeout 30 node bin/deeprnn.js bench --precision bf16 --configs C --threads "1,$(nproc)" --repeat 1 \
  --warmup 1 --batches 5 --no-torch --json > "$OUT/bench-amx.json"
echo "bench amx exit $?"
