#!/usr/bin/env bash
# The bf16 figures on the 16-core server, beside PyTorch 2.x under bf16 autocast:
# after `bash ../shared/tools/server16/prepare.sh`, `cp bench/server16-extra.sh .dev/extra.sh`;
# .dev/measure.sh then runs it from .dev/proj (node on PATH, at most 120 s) and brings back
# $OUT/bench-bf16.json. B and C at 1 thread and at every core, fp32 and bf16, one run each.
set -u
echo "bf16 path: $(node -e "import('./dist/index.js').then((m) => console.log(m.native().info().bf16))")"
timeout 110 node bin/deeprnn.js bench --precision bf16 --configs B,C --threads "1,$(nproc)" --repeat 1 --batches 10 \
  --json > "$OUT/bench-bf16.json"
echo "bench exit $?"
