#!/usr/bin/env bash
# Where the time goes on the 16-core server: first the CPUs' topology and FMA
# peak, the weight gradients in both orders (bench/tn-order.mjs), the start-up
# timing by kind, C on one thread with the weight gradients in each order and
# as one chunk, the book's run in three variants (as it is, spinning waits,
# half the threads) twice each; then `perf record` with call graphs
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
# device call of 540 s: the book's runs and the scaling step are skipped
# (this script runs the book's run itself; PyTorch's and the scaling are in
# docs/benchmarks.md), the extra step may take 300 s.
# Then on the server: `bash .dev/measure.sh` (carry .dev); the reports come
# back in $OUT/extra.txt and $OUT/profile-*.txt.
set -u
TIMEFORMAT='%R'
if [ "${1:-}" = pack ]; then
  set -o pipefail
  [ -f .dev/measure.sh ] || { echo "run ../shared/tools/server16/prepare.sh first"; exit 1; }
  perf=$(command -v perf) || { echo "no perf here: apt-get install linux-perf"; exit 1; }
  file -L "$perf" | grep -q ELF || { echo "$perf is not the perf binary itself (a wrapper script?): name the binary"; exit 1; }
  ! ldd "$perf" | grep -q 'not found' || { echo "perf lacks libraries here: $(ldd "$perf" | grep 'not found' | tr '\n' ' ')"; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/perf/lib"
  cp -L "$perf" "$tmp/perf/perf" || exit 1
  ldd "$perf" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' \
    | while read -r lib; do cp -L "$lib" "$tmp/perf/lib/" || exit 1; done || exit 1
  ls "$tmp/perf/lib" | grep -q '^ld-linux' || { echo "perf's loader not found (ldd $perf)"; exit 1; }
  rm -f .dev/perf.tar.xz
  tar -C "$tmp" -cf - perf | xz -T2 -6 > .dev/perf.tar.xz || { echo "could not pack perf"; rm -f .dev/perf.tar.xz; exit 1; }
  cp "$0" .dev/extra.sh || exit 1
  # (measure.sh's book run too: the extra step runs it twice, without and with perf)
  sed -i -e 's|^( time timeout 45 node bin/deeprnn.js train.*|echo "skipped (bench/server16-profile.sh)"|' \
    -e 's|^( time timeout 100 python3 bench/torch_book.py.*|echo "skipped (bench/server16-profile.sh)"|' \
    -e 's|^timeout 80 node bin/deeprnn.js bench --configs A,B,C --threads 2,4,8.*|echo "skipped (bench/server16-profile.sh)"|' \
    -e 's|timeout 120 bash \$R/.dev/extra.sh|timeout 300 bash $R/.dev/extra.sh|' .dev/measure.sh
  grep -c 'skipped (bench/server16-profile.sh)' .dev/measure.sh | grep -qx 3 && grep -q 'timeout 300 bash' .dev/measure.sh \
    || { echo ".dev/measure.sh has changed: edit it by hand (skip the book runs and the scaling; extra step 300 s)"; exit 1; }
  du -sh .dev
  echo 'next: run `bash .dev/measure.sh` on the server, carry [".dev"], timeout_s 540'
  exit 0
fi

# On the server, from .dev/proj (measure.sh's extra step): first what needs no perf.
NT=$(nproc)
OUT=${OUT:-/tmp}
# Two threads of one core share its FMA units: a peak at NT/2 threads close to
# the one at NT says that the NT CPUs are NT/2 cores (earlier starts measured
# 1,350-1,404 GFLOP/s at 16 threads against 174 at one, and once 2,432).
echo "== the CPUs: topology, and the FMA peak at 1, $((NT / 2)) and $NT threads"
lscpu | grep -E '^ *(Model name|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|L2( cache)?|L3( cache)?|NUMA node\(s\)):'
for c in 0 1 $((NT / 2)); do echo "cpu$c's siblings: $(cat /sys/devices/system/cpu/cpu$c/topology/thread_siblings_list 2> /dev/null)"; done
peak=$(ls build/bench/fma_peak-avx512-* 2> /dev/null | head -n 1)
if [ -z "$peak" ] && g++ -O2 -fopenmp -mavx512f -mfma bench/fma_peak.cc -o /tmp/fma_peak 2> /dev/null; then peak=/tmp/fma_peak; fi
if [ -n "$peak" ]; then
  for t in 1 $((NT / 2)) "$NT"; do echo "FMA peak, $t threads: $(timeout 20 "$peak" "$t") GFLOP/s"; done
else
  echo "no FMA peak: no built bench/fma_peak and no g++"
fi
echo "== the weight gradients, one thread, each table across the columns (as before a933a86) and down the rows (now), taking turns"
timeout 60 node bench/tn-order.mjs avx512:5x64,avx512:12x32 9 2>&1
echo "== the start-up timing by kind, two processes"
for i in 1 2; do
  timeout 20 node -e "import('./dist/index.js').then(({ native }) => { const n = native(); n.tuneGemm(); const i = n.info(); console.log(i.gemmTile, JSON.stringify(i.gemmKindTiming)); })"
done
# C as one chunk of its 50 windows (DEEPRNN_CHUNK_TOKENS=4096) in place of two
# of 25: each step's recurrent product reads W_hh (4 MiB, twice that core's
# L2) once for 50 rows instead of once per 25; one earlier figure (4,739
# tokens/s against 3,225 and 4,332) lay inside that run's noise.
echo "== C on one thread, weight gradients as before (DEEPRNN_TN_ACROSS=1) and now, and as one chunk of 50 windows, taking turns"
for round in 1 2; do
  for v in DEEPRNN_TN_ACROSS=1 DEEPRNN_TN_ACROSS=0 DEEPRNN_CHUNK_TOKENS=4096; do
    r=$(env $v timeout 25 node bin/deeprnn.js bench --one C --threads 1 --batches 4 --warmup 1 --precision fp32 2> /dev/null)
    echo "$v: $(echo "$r" | grep -o '"tokensPerSec":[0-9]*\|"teams":"[^"]*"\|"gemmTile":"[^"]*"' | tr '\n' ' ')"
  done
done
# Each variant twice, in turns: as it is; libgomp's threads spinning while
# they wait (OMP_WAIT_POLICY=active: 3.38-3.82 s against 3.51-4.18 s in
# earlier runs, too few to tell); half the threads, one per core where the
# CPUs are pairs of threads.
echo "== the book's run (100 epochs) without perf: $NT threads, $NT with OMP_WAIT_POLICY=active, $((NT / 2)) spread over the cores"
for i in 1 2; do
  for v in "X=1 T=$NT" "OMP_WAIT_POLICY=active T=$NT" "OMP_PLACES=cores OMP_PROC_BIND=spread T=$((NT / 2))"; do
    t=${v##*T=}
    s=$( { time env ${v% T=*} timeout 20 node bin/deeprnn.js train --layers 2 --cell gru --threads "$t" --out /tmp/profile-book.safetensors --json > /tmp/profile-plain.json 2> /dev/null; } 2>&1 )
    echo "${v% T=*}, $t threads: $s s; $(grep -o '"valPpl":[0-9.]*' /tmp/profile-plain.json | tail -n 1) $(grep -o '"timings":{[^}]*}' /tmp/profile-plain.json)"
  done
done

mkdir -p /tmp/profile-perf
xz -dc "$(cd "$(dirname "$0")" && pwd)/perf.tar.xz" | tar -C /tmp/profile-perf -xf - || { echo "could not unpack the carried perf"; exit 0; }
P=/tmp/profile-perf/perf
perf() { "$P/lib/$(ls "$P/lib" | grep -m1 '^ld-linux')" --library-path "$P/lib" "$P/perf" "$@"; }
perf --version || { echo "the carried perf does not run here"; exit 0; }
# One profile: $1 its name, $2 samples per second per thread, then the command.
profile() {
  local name=$1 hz=$2
  shift 2
  local data=/tmp/profile-$name.data
  echo "== $name: $*"
  local start=$SECONDS
  timeout 40 "$P/lib/$(ls "$P/lib" | grep -m1 '^ld-linux')" --library-path "$P/lib" "$P/perf" record -q -o "$data" -e cpu-clock \
    -F "$hz" --call-graph dwarf,4096 -- "$@" > /tmp/profile-$name.out 2>&1
  echo "exit $?, $((SECONDS - start)) s, $(du -h "$data" | cut -f1); $(tail -c 300 /tmp/profile-$name.out | tr '\n' ' ')"
  # (--no-inline: without it perf asks addr2line about every frame, minutes instead of a second)
  {
    echo "### $name: by library"
    timeout 30 perf report -i "$data" --no-inline --no-children --sort dso --stdio -g none 2> /dev/null | grep -v '^#' | grep -v '^$' | head -12
    echo "### inclusive time by function (Children: the function and what it calls)"
    timeout 30 perf report -i "$data" --no-inline --children --sort sym --stdio -g none --percent-limit 0.7 2> /dev/null \
      | grep -v '^#' | grep -v '^$' | cut -c1-160 | head -90
    echo "### self time by function, with its callers (libgomp's: who waits)"
    timeout 40 perf report -i "$data" --no-inline --no-children --sort dso,sym --stdio --percent-limit 1 \
      -g caller,0.5,callee,function,percent 2> /dev/null | grep -v '^#' | grep -v '^$' | cut -c1-170 | head -400
  } > "$OUT/profile-$name.txt"
  echo "$((SECONDS - start)) s with the reports"
  head -40 "$OUT/profile-$name.txt" | cut -c1-140
  rm -f "$data"
}
profile book 200 node bin/deeprnn.js train --layers 2 --cell gru --epochs 40 --threads "$NT" --out /tmp/profile-book.safetensors --json
profile c1 300 node bin/deeprnn.js bench --one C --threads 1 --batches 6 --warmup 1 --precision fp32
profile c16 200 node bin/deeprnn.js bench --one C --threads "$NT" --batches 12 --warmup 2 --precision fp32
