#!/usr/bin/env bash
# Where the time goes on the 16-core server: the weight gradients by each
# AVX-512 tile and the start-up timing by kind, then `perf record` with call graphs
# (DWARF unwinding, so that libgomp's waits are charged to the barrier or
# the region that called them, and each product to the layer step that made
# it) of the book's run at every core, C on one thread and C at every core,
# each reported as inclusive time per function, time per library, and
# libgomp's callers. The server has no perf: this script carries one.
#
# Here, after `bash ../shared/tools/server16/prepare.sh`:
#   bash bench/server16-profile.sh pack
# packs perf and the libraries it loads into .dev/perf.tar.xz, itself into
# .dev/extra.sh, and edits .dev/measure.sh so that the whole run fits one
# device call of 540 s: PyTorch's book run and the scaling step are skipped
# (their figures are in docs/benchmarks.md), the extra step may take 330 s.
# Then on the server: `bash .dev/measure.sh` (carry .dev); the reports come
# back in $OUT/extra.txt and $OUT/profile-*.txt.
set -u
TIMEFORMAT='%R'
if [ "${1:-}" = pack ]; then
  [ -f .dev/measure.sh ] || { echo "run ../shared/tools/server16/prepare.sh first"; exit 1; }
  perf=$(command -v perf) || { echo "no perf here: apt-get install linux-perf"; exit 1; }
  tmp=$(mktemp -d)
  mkdir -p "$tmp/perf/lib"
  cp -L "$perf" "$tmp/perf/perf"
  ldd "$perf" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /ld-linux/ { print $1 }' | while read -r lib; do cp -L "$lib" "$tmp/perf/lib/"; done
  ls "$tmp/perf/lib" | grep -q '^ld-linux' || { echo "perf's loader not found (ldd $perf)"; exit 1; }
  rm -f .dev/perf.tar.xz && tar -C "$tmp" -cf - perf | xz -T2 -6 > .dev/perf.tar.xz && rm -rf "$tmp"
  cp "$0" .dev/extra.sh
  sed -i -e 's|^( time timeout 100 python3 bench/torch_book.py.*|echo "skipped (bench/server16-profile.sh)"|' \
    -e 's|^timeout 80 node bin/deeprnn.js bench --configs A,B,C --threads 2,4,8.*|echo "skipped (bench/server16-profile.sh)"|' \
    -e 's|timeout 120 bash \$R/.dev/extra.sh|timeout 330 bash $R/.dev/extra.sh|' .dev/measure.sh
  grep -c 'skipped (bench/server16-profile.sh)' .dev/measure.sh | grep -qx 2 && grep -q 'timeout 330 bash' .dev/measure.sh \
    || { echo ".dev/measure.sh has changed: edit it by hand (skip the torch book run and the scaling; extra step 330 s)"; exit 1; }
  du -sh .dev
  echo 'next: run `bash .dev/measure.sh` on the server, carry [".dev"], timeout_s 540'
  exit 0
fi

# On the server, from .dev/proj (measure.sh's extra step).
mkdir -p /tmp/profile-perf && xz -dc "$(cd "$(dirname "$0")" && pwd)/perf.tar.xz" | tar -C /tmp/profile-perf -xf - || exit 0
P=/tmp/profile-perf/perf
NT=$(nproc)
OUT=${OUT:-/tmp}
perf() { "$P/lib/$(ls "$P/lib" | grep -m1 '^ld-linux')" --library-path "$P/lib" "$P/perf" "$@"; }
perf --version || { echo "the carried perf does not run here"; exit 0; }
# One profile: $1 its name, $2 samples per second per thread, then the command.
profile() {
  local name=$1 hz=$2
  shift 2
  local data=/tmp/profile-$name.data
  echo "== $name: $*"
  local start=$SECONDS
  perf record -q -o "$data" -e cpu-clock -F "$hz" --call-graph dwarf,4096 -- "$@" > /tmp/profile-$name.out 2>&1
  echo "exit $?, $((SECONDS - start)) s, $(du -h "$data" | cut -f1); $(tail -c 300 /tmp/profile-$name.out | tr '\n' ' ')"
  # (--no-inline: without it perf asks addr2line about every frame, minutes instead of a second)
  {
    echo "### by library"
    perf report -i "$data" --no-inline --no-children --sort dso --stdio -g none 2> /dev/null | grep -v '^#' | grep -v '^$' | head -12
    echo "### inclusive time by function (Children: the function and what it calls)"
    perf report -i "$data" --no-inline --children --sort sym --stdio -g none --percent-limit 0.7 2> /dev/null | grep -v '^#' \
      | grep -v '^$' | cut -c1-160 | head -90
    echo "### self time by function, with its callers (libgomp's: who waits)"
    perf report -i "$data" --no-inline --no-children --sort dso,sym --stdio --percent-limit 1 -g caller,0.5,callee,function,percent \
      2> /dev/null | grep -v '^#' | grep -v '^$' | cut -c1-170 | head -400
  } > "$OUT/profile-$name.txt"
  head -40 "$OUT/profile-$name.txt" | cut -c1-140
  rm -f "$data"
}
echo "== the weight gradients by each AVX-512 tile, one thread (GFLOP/s; a short tile goes down the rows since a933a86), and the start-up timing by kind"
timeout 60 node bench/gemm.mjs avx512:5x64,avx512:12x32 7 tn 2>&1
node -e "import('./dist/index.js').then(({ native }) => { const n = native(); n.tuneGemm(); const i = n.info(); console.log(i.gemmTile, JSON.stringify(i.gemmKindTiming)); })"
profile book 200 node bin/deeprnn.js train --layers 2 --cell gru --epochs 40 --threads "$NT" --out /tmp/profile-book.safetensors --json
profile c1 300 node bin/deeprnn.js bench --one C --threads 1 --batches 6 --warmup 1 --precision fp32
profile c16 200 node bin/deeprnn.js bench --one C --threads "$NT" --batches 12 --warmup 2 --precision fp32
echo "== the book's run without perf, for scale"
for i in 1 2; do
  s=$( { time timeout 20 node bin/deeprnn.js train --layers 2 --cell gru --threads "$NT" --out /tmp/profile-book.safetensors --json > /tmp/profile-plain.json 2> /dev/null; } 2>&1 )
  echo "$s; $(grep -o '"valPpl":[0-9.]*\|"timings":{[^}]*}' /tmp/profile-plain.json | tr '\n' ' ')"
done
