#!/usr/bin/env bash
# Criterion micro-benchmarks (alloc/free pairs 16 B–64 KiB, realloc growth, two threads) for
# every configuration, in one run, then one table of medians (ns) and ratios to `system`.
#
#   bash benches/micro.sh            # all configurations
#   QUICK=1 bash benches/micro.sh    # criterion --quick
#   TABLE_ONLY=1 bash benches/micro.sh   # only print the table of the last results
#
# Each configuration is its own bench binary in benches/workloads/benches/ (each installs its
# own #[global_allocator]). Results go to $BENCH_TARGET/criterion (CRITERION_HOME).
# heapscope 0.3.0 declares rust-version 1.96; it builds with --ignore-rust-version on 1.95.
set -euo pipefail
cd "$(dirname "$0")/workloads"
root=${BENCH_TARGET:-$(cd ../.. && pwd)/target/bench}
export CRITERION_HOME=$root/criterion
extra=()
[[ -n ${QUICK:-} ]] && extra=(-- --quick)
fpflags="-C force-frame-pointers=yes"

if [[ -z ${TABLE_ONLY:-} ]]; then
CARGO_TARGET_DIR=$root/nofp cargo bench --quiet \
  --bench alloc_system --bench alloc_allocsite --bench alloc_dhat "${extra[@]}"
CARGO_TARGET_DIR=$root/nofp-track cargo bench --quiet --features track --bench alloc_allocsite "${extra[@]}"
BENCH_PREFIX=fp: CARGO_TARGET_DIR=$root/fp RUSTFLAGS="$fpflags" cargo bench --quiet \
  --ignore-rust-version --features track,heapscope \
  --bench alloc_system --bench alloc_allocsite --bench alloc_heapscope "${extra[@]}"
fi

python3 - "$CRITERION_HOME" <<'PY' | tee "$root/micro.md"
import json, os, sys
home = sys.argv[1]
rows, configs = {}, []
for dirpath, _, files in os.walk(home):
    if "benchmark.json" in files and dirpath.endswith("/new"):
        meta = json.load(open(os.path.join(dirpath, "benchmark.json")))
        est = json.load(open(os.path.join(dirpath, "estimates.json")))
        # BenchmarkId::new(config, size) or BenchmarkId::from_parameter(config).
        config = meta.get("function_id") or meta.get("value_str")
        bench = meta["group_id"] + ("/" + meta["value_str"] if meta.get("function_id") and meta.get("value_str") else "")
        rows.setdefault(bench, {})[config] = est["median"]["point_estimate"]
        if config not in configs:
            configs.append(config)
order = ["system", "allocsite-off", "allocsite-on", "allocsite-profile64K", "allocsite-every", "dhat"]
order += ["fp:" + c for c in order[:5]] + ["fp:heapscope"]
configs = [c for c in order if c in configs] + sorted(c for c in configs if c not in order)
def key(b):
    g, _, v = b.partition("/")
    return (g, int(v) if v.isdigit() else 0)
print("| benchmark | " + " | ".join(configs) + " |")
print("|---" * (len(configs) + 1) + "|")
for bench in sorted(rows, key=key):
    r = rows[bench]
    cells = []
    for c in configs:
        if c not in r:
            cells.append("")
            continue
        base = r.get("fp:system" if c.startswith("fp:") else "system")
        ratio = f" ({r[c] / base:.2f}×)" if base and c not in ("system", "fp:system") else ""
        cells.append(f"{r[c]:.1f}{ratio}")
    print(f"| {bench} | " + " | ".join(cells) + " |")
PY
