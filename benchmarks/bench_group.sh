#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run bench-group (the consumer-group engine: offer + ack per message, by policy) and
# print ns per message (CPU time) beside the open-addressed table floor of the same run.
# Writes bench-results/group.json. Usage: bench_group.sh [BUILD_DIR] (default: build).
set -eu

build=${1:-build}
bin=$build/benchmarks/bench-group
out=bench-results
min_time=${BENCH_MIN_TIME:-0.2}

if [ ! -x "$bin" ]; then
	echo "bench_group.sh: $bin not found: build with 'meson setup $build && ninja -C $build'" \
		"(needs libbenchmark-dev and libdpdk-dev)" >&2
	exit 2
fi
mkdir -p "$out"
"$bin" --benchmark_min_time="$min_time" --benchmark_out="$out/group.json" \
	--benchmark_out_format=json

python3 - "$out/group.json" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    rows = json.load(f)["benchmarks"]
floor = next(r for r in rows if r["name"] == "BM_FloorSeqTable")
floor_ns = floor["cpu_time"]
print(f"\nns per message (CPU time), floor (insert + erase in an open-addressed table) {floor_ns:.2f} ns:")
for r in rows:
    if r["name"] == "BM_FloorSeqTable":
        continue
    per = 32 if r["name"].startswith("BM_GroupBurst") else 1
    per = 2 if r["name"].startswith("BM_GroupJoinLeave") else per
    ns = r["cpu_time"] / per
    print(f"  {r['name']:48} {ns:10.1f} ns  {ns / floor_ns:8.1f} x floor")
PY
