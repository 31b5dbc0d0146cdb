#!/usr/bin/env bash
# Whole-process comparison of allocsite against the system allocator, `dhat` and `heapscope`.
# Builds every configuration in release mode, then runs each workload as a whole process
# several times, alternating configurations, and prints medians, min–max, ratios to the
# system allocator (built the same way: with or without frame pointers) and peak RSS.
#
#   bash benches/compare.sh [main|fast|sweep|exact|stacks|hotpath|all]      (default: main)
#
# main: every configuration on every workload. fast: only the cheap configurations (system,
# feature off, feature on, default-rate profiling), for more runs of the ratios that must be
# resolved to a few percent. sweep: profiling at 16/64/256/512 KiB, churn and json.
# exact: every allocation recorded with frame pointers (allocsite's profile=1 and measure,
# heapscope), against the system allocator built with frame pointers.
# stacks: every allocation recorded in the default build (no frame pointers: the cached
# unwinder) and with frame pointers, beside dhat and heapscope, and the sampled default in
# both builds (the stack-capture table in BENCHMARKS.md).
# hotpath: the hot-path table (issue 12): counters only, sampled at 64 and 512 KiB, every
# allocation recorded in both builds, dhat and heapscope (every allocation and 64 KiB), in one
# alternating run. With COMPARE_WITH=<another BENCH_TARGET root> it adds "before:" rows for
# counters, 64 KiB and every allocation built there (e.g. from the previous commit).
#
# Environment: REPS (runs per fast configuration, default 5), SLOW_REPS (runs of the
# every-allocation configurations without frame pointers and of dhat, default 3),
# WORKLOADS (comma list, default all), OUT (results directory, default
# /work/target-bench/results or target/bench-results), BENCH_TARGET (build directory root),
# NO_BUILD=1 to reuse the last build.
# heapscope 0.3.0 declares rust-version 1.96; it builds with --ignore-rust-version on 1.95.
set -euo pipefail
cd "$(dirname "$0")/workloads"
what=${1:-main}
root=${BENCH_TARGET:-$(cd ../.. && pwd)/target/bench}
out=${OUT:-$root/results}
reps=${REPS:-5}
slow=${SLOW_REPS:-3}
mkdir -p "$out"
nofp=$root/nofp/release
track=$root/nofp-track/release
fp=$root/fp/release
fpflags="-C force-frame-pointers=yes"

if [[ -z ${NO_BUILD:-} ]]; then
  echo "== building (release): system, allocsite feature off, dhat, driver" >&2
  CARGO_TARGET_DIR=$root/nofp cargo build --release --quiet --bins
  echo "== building: allocsite feature on, no frame pointers" >&2
  CARGO_TARGET_DIR=$root/nofp-track cargo build --release --quiet --features track --bin allocsite
  echo "== building: system, allocsite feature on, heapscope, all with $fpflags" >&2
  CARGO_TARGET_DIR=$root/fp RUSTFLAGS="$fpflags" cargo build --release --quiet \
    --ignore-rust-version --features track,heapscope --bin sys --bin allocsite --bin heapscope
fi

# The driver's config: name, ratio base, runs ('-' = REPS), workloads, command.
config=$out/$what.conf
case $what in
main) cat >"$config" <<CONF
system                -          -        all          $nofp/sys
off                   system     -        all          $nofp/allocsite
on                    system     -        all          $track/allocsite
on+profile64K         system     -        all          $track/allocsite profile=65536
on+every              system     $slow    all          $track/allocsite profile=1
on+measure            system     $slow    churn        $track/allocsite measure
dhat                  system     $slow    all          $nofp/dhat
fp:system             -          -        all          $fp/sys
fp:on                 fp:system  -        all          $fp/allocsite
fp:on+profile64K      fp:system  -        all          $fp/allocsite profile=65536
fp:on+every           fp:system  -        all          $fp/allocsite profile=1
fp:on+measure         fp:system  -        churn        $fp/allocsite measure
fp:heapscope          fp:system  -        all          $fp/heapscope
fp:heapscope@64K      fp:system  -        all          $fp/heapscope sampling=65536
CONF
;;
fast) cat >"$config" <<CONF
system                -          -        all          $nofp/sys
off                   system     -        all          $nofp/allocsite
on                    system     -        all          $track/allocsite
on+profile64K         system     -        all          $track/allocsite profile=65536
fp:system             -          -        all          $fp/sys
fp:on                 fp:system  -        all          $fp/allocsite
fp:on+profile64K      fp:system  -        all          $fp/allocsite profile=65536
CONF
;;
sweep) cat >"$config" <<CONF
system                -          -        churn,json   $nofp/sys
on+profile16K         system     -        churn,json   $track/allocsite profile=16384
on+profile64K         system     -        churn,json   $track/allocsite profile=65536
on+profile256K        system     -        churn,json   $track/allocsite profile=262144
on+profile512K        system     -        churn,json   $track/allocsite profile=524288
fp:system             -          -        churn,json   $fp/sys
fp:on+profile16K      fp:system  -        churn,json   $fp/allocsite profile=16384
fp:on+profile64K      fp:system  -        churn,json   $fp/allocsite profile=65536
fp:on+profile256K     fp:system  -        churn,json   $fp/allocsite profile=262144
fp:on+profile512K     fp:system  -        churn,json   $fp/allocsite profile=524288
CONF
;;
exact) cat >"$config" <<CONF
fp:system             -          -        all          $fp/sys
fp:on+every           fp:system  -        all          $fp/allocsite profile=1
fp:on+measure         fp:system  -        churn        $fp/allocsite measure
fp:heapscope          fp:system  -        all          $fp/heapscope
CONF
;;
stacks) cat >"$config" <<CONF
system                -          -        all          $nofp/sys
on+every              system     -        all          $track/allocsite profile=1
on+measure            system     -        churn        $track/allocsite measure
on+profile64K         system     -        all          $track/allocsite profile=65536
dhat                  system     -        all          $nofp/dhat
fp:system             -          -        all          $fp/sys
fp:on+every           fp:system  -        all          $fp/allocsite profile=1
fp:on+measure         fp:system  -        churn        $fp/allocsite measure
fp:on+profile64K      fp:system  -        all          $fp/allocsite profile=65536
fp:heapscope          fp:system  -        all          $fp/heapscope
CONF
;;
hotpath) cat >"$config" <<CONF
system                -          -        all          $nofp/sys
on                    system     -        all          $track/allocsite
on+profile64K         system     -        all          $track/allocsite profile=65536
on+profile512K        system     -        all          $track/allocsite profile=524288
on+every              system     -        all          $track/allocsite profile=1
dhat                  system     -        all          $nofp/dhat
fp:system             -          -        all          $fp/sys
fp:on+every           fp:system  -        all          $fp/allocsite profile=1
fp:heapscope          fp:system  -        all          $fp/heapscope
fp:heapscope@64K      fp:system  -        all          $fp/heapscope sampling=65536
CONF
if [[ -n ${COMPARE_WITH:-} ]]; then cat >>"$config" <<CONF
before:on             system     -        all          $COMPARE_WITH/nofp-track/release/allocsite
before:on+profile64K  system     -        all          $COMPARE_WITH/nofp-track/release/allocsite profile=65536
before:on+every       system     -        all          $COMPARE_WITH/nofp-track/release/allocsite profile=1
fp:before:on+every    fp:system  -        all          $COMPARE_WITH/fp/release/allocsite profile=1
CONF
fi
;;
all) "$0" main; NO_BUILD=1 "$0" fast; NO_BUILD=1 "$0" sweep; exit ;;
*) echo "usage: $0 [main|fast|sweep|exact|stacks|hotpath|all]" >&2; exit 2 ;;
esac

args=(--config "$config" --reps "$reps" --raw "$out/$what.csv" --md "$out/$what.md")
[[ -n ${WORKLOADS:-} ]] && args+=(--workloads "$WORKLOADS")
echo "== running $what: $reps runs per configuration ($slow for the slow ones); results in $out" >&2
"$nofp/compare" "${args[@]}"
