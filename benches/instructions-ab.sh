#!/usr/bin/env bash
# Instruction counts of two builds of the workloads, side by side: benches/instructions.sh's
# measurement (callgrind, collecting inside `run_workload` only), run on build A and build B
# alternately from one directory with one environment, so nothing but the binaries differs.
#
#   bash benches/instructions-ab.sh A_ROOT B_ROOT      (each a BENCH_TARGET that compare.sh built)
#
# Two figures per configuration:
# - the whole workload function (what instructions.sh prints). Two builds of the *same*
#   workload code can differ here by over 1%: the workloads crate is compiled anew against
#   each allocsite and LLVM may inline its own code differently (`system`, which runs no
#   allocsite code, moves too);
# - the allocator side: the instructions in the global allocator's shims (`__rust_alloc`,
#   `__rust_dealloc`, `__rust_realloc`, `__rust_alloc_zeroed`, where allocsite's hooks inline)
#   and in functions of allocsite, the figure a change to allocsite can move.
set -euo pipefail
a_root=$1 b_root=$2
out=$(mktemp -d)
cwd=$(mktemp -d)
trap 'rm -rf "$out" "$cwd"' EXIT
configs=(
  "system|nofp/release/sys|" "off|nofp/release/allocsite|" "on|nofp-track/release/allocsite|"
  "on+profile64K|nofp-track/release/allocsite|profile=65536"
  "fp:system|fp/release/sys|" "fp:on|fp/release/allocsite|"
  "fp:on+profile64K|fp/release/allocsite|profile=65536" "fp:on+every|fp/release/allocsite|profile=1"
)
# Prints "<whole> <allocator side>" for one run.
count() { # root binary workload options
  local file=$out/run.out
  # shellcheck disable=SC2086
  (cd "$cwd" && env -i PATH=/usr/bin:/bin WORKLOAD_SCALE=0.05 valgrind --tool=callgrind \
    --callgrind-out-file="$file" --toggle-collect='*run_workload*' "$1/$2" "$3" $4 >/dev/null 2>&1)
  callgrind_annotate --auto=no --inclusive=no --threshold=100 "$file" | awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); whole = $1; next }
    /^ *[0-9,]+ \(/ {
      n = $1; gsub(",", "", n)
      fn = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", fn); sub(/ \[.*$/, "", fn); sub(/^[^:]*:/, "", fn)
      if (fn ~ /__rust_(alloc|dealloc|realloc|alloc_zeroed)$|allocsite::|__rdl_|__rg_/ && fn !~ /allocsite_workloads/) side += n
    }
    END { printf "%d %d\n", whole, side }'
}
echo "| workload | configuration | whole A | whole B | change | allocator side A | allocator side B | change |"
echo "|---|---|---|---|---|---|---|---|"
for w in churn tree json; do
  for c in "${configs[@]}"; do
    IFS='|' read -r name bin opts <<<"$c"
    read -r wa sa < <(count "$a_root" "$bin" "$w" "$opts")
    read -r wb sb < <(count "$b_root" "$bin" "$w" "$opts")
    awk -v w="$w" -v n="$name" -v wa="$wa" -v wb="$wb" -v sa="$sa" -v sb="$sb" 'BEGIN {
      printf "| %s | %s | %d | %d | %+.2f%% | %d | %d | %+.2f%% |\n", w, n, wa, wb, (wb-wa)*100/wa, sa, sb, (sb-sa)*100/sa }'
  done
done
