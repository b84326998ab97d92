#!/usr/bin/env bash
# The chunk size on the 16-core server: the book's run (measure.sh's command) and config A at every
# core with DEEPRNN_CHUNK_TOKENS 2048, 1024 and 512 (the book's model's default), alternating, twice each. A
# chunk of the book's model keeps about 2.9 KB of activations a token: 6 MB at 2048 tokens, 1.5 MB
# at 512, so sixteen threads' chunks leave or fit the cores' caches (2 MB of L2 each there; on the
# 2-core development machine 1024 and 2048 ran the book in the same time). Results change with the
# chunk size by rounding only. After `bash ../shared/tools/server16/prepare.sh`:
# `cp bench/server16-chunks.sh .dev/extra.sh`; .dev/measure.sh runs it (at most 120 s) and its
# output comes back in $OUT/extra.txt (the device machine brings back only about 8 files from
# $OUT, and measure.sh writes 7: this writes none).
set -u
NT=$(nproc)
TIMEFORMAT='%R'
for round in 1 2; do
  for c in 2048 1024 512; do
    s=$( { time DEEPRNN_CHUNK_TOKENS=$c timeout 15 node bin/deeprnn.js train --layers 2 --cell gru --threads "$NT" \
      --out "/tmp/chunks-$c.safetensors" --json > "/tmp/chunks-book-$c.json" 2> /dev/null; } 2>&1 )
    echo "book run, chunks of $c tokens, $NT threads, round $round: $s s; $(grep -o '"valPpl":[0-9.]*\|"bestValPpl":[0-9.]*' "/tmp/chunks-book-$c.json" | tr '\n' ' ')"
  done
done
for c in 2048 1024 512; do
  DEEPRNN_CHUNK_TOKENS=$c timeout 12 node bin/deeprnn.js bench --configs A --threads "$NT" --repeat 3 --warmup 1 \
    --no-torch --json > "/tmp/chunks-A-$c.json" 2> /dev/null
  echo "bench A, chunks of $c tokens, $NT threads: exit $?; $(grep -o '"runs":\[[^]]*\]' "/tmp/chunks-A-$c.json")"
done
