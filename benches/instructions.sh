#!/usr/bin/env bash
# Deterministic companion to compare.sh: instructions executed by each workload function
# (callgrind, collecting only inside `run_workload`: process start-up and the profiler's
# final symbolization are excluded; churn2 is left out, its work runs on other threads),
# per configuration, and the ratio to the system allocator built the same way. Counts do not
# see cache misses or contention, but they do not move with the machine's load either, so
# they resolve the few-percent differences wall-clock medians cannot on a shared machine.
#
#   bash benches/instructions.sh     (after compare.sh has built; WORKLOAD_SCALE default 0.05)
set -euo pipefail
root=${BENCH_TARGET:-$(cd "$(dirname "$0")/.." && pwd)/target/bench}
export WORKLOAD_SCALE=${WORKLOAD_SCALE:-0.05}
nofp=$root/nofp/release track=$root/nofp-track/release fp=$root/fp/release
out=$root/results/callgrind
mkdir -p "$out"
configs=(
  "system|-|$nofp/sys" "off|system|$nofp/allocsite" "on|system|$track/allocsite"
  "on+profile64K|system|$track/allocsite profile=65536"
  "on+profile512K|system|$track/allocsite profile=524288"
  "on+every|system|$track/allocsite profile=1"
  "fp:system|-|$fp/sys" "fp:on|fp:system|$fp/allocsite"
  "fp:on+profile64K|fp:system|$fp/allocsite profile=65536"
  "fp:on+every|fp:system|$fp/allocsite profile=1"
  "fp:heapscope|fp:system|$fp/heapscope" "fp:heapscope@64K|fp:system|$fp/heapscope sampling=65536"
)
echo "| workload | configuration | instructions (workload function) | × base |"
echo "|---|---|---|---|"
for w in churn tree json; do
  declare -A count=()
  for c in "${configs[@]}"; do
    IFS='|' read -r name base cmd <<<"$c"
    file=$out/$w.${name//[:+@]/_}.out
    read -r bin opts <<<"$cmd"
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --callgrind-out-file="$file" --toggle-collect='*run_workload*' \
      "$bin" "$w" $opts >/dev/null 2>&1
    n=$(callgrind_annotate "$file" 2>/dev/null | grep "PROGRAM TOTALS" | awk '{gsub(",","",$1); print $1}')
    count[$name]=$n
    ratio=""
    [[ $base != - ]] && ratio=$(awk -v a="$n" -v b="${count[$base]}" 'BEGIN{printf "%.3f", a/b}')
    echo "| $w | $name | $n | $ratio |"
  done
  unset count
done
