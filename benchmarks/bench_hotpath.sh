#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run bench-hotpath (frame/packet parse, route and session lookup, handoff ring, journal
# append, MAC check) and print one line per benchmark. Writes bench-results/hotpath.json.
# The journal goes to /dev/shm (SLUICE_BENCH_DIR overrides it) with PMEM_IS_PMEM_FORCE=1,
# so appends take libpmem's persistent-memory path: a copy plus a fence, no msync.
# Usage: bench_hotpath.sh [BUILD_DIR] (default: build). BENCH_MIN_TIME: seconds per benchmark.
set -eu

build=${1:-build}
bin=$build/benchmarks/bench-hotpath
out=bench-results
min_time=${BENCH_MIN_TIME:-0.2}

if [ ! -x "$bin" ]; then
	echo "bench_hotpath.sh: $bin not found: build with 'meson setup $build && ninja -C $build'" \
		"(needs libbenchmark-dev; libdpdk for the pkt, route, session and ring parts)" >&2
	exit 2
fi
mkdir -p "$out"
SLUICE_BENCH_DIR=${SLUICE_BENCH_DIR:-/dev/shm} PMEM_IS_PMEM_FORCE=1 \
	"$bin" --benchmark_min_time="$min_time" \
	--benchmark_out="$out/hotpath.json" --benchmark_out_format=json

python3 - "$out/hotpath.json" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    doc = json.load(f)
ctx = doc["context"]

def ns(r):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[r.get("time_unit", "ns")]
    return r["cpu_time"] * scale

print("\nHot path (cpu time; an item is a frame, packet, lookup, ring element or record):")
print(f"  {'benchmark':<34} {'ns/op':>9} {'ns/item':>8} {'Mitems/s':>9}")
for r in doc["benchmarks"]:
    if r.get("run_type", "iteration") != "iteration":
        continue
    if r.get("error_occurred"):
        print(f"  {r['name']:<34}  failed: {r.get('error_message')}")
        continue
    ips = r.get("items_per_second")
    per = f"{1e9 / ips:>8.2f}" if ips else f"{'-':>8}"
    rate = f"{ips / 1e6:>9.1f}" if ips else f"{'-':>9}"
    print(f"  {r['name']:<34} {ns(r):>9.2f} {per} {rate}")
print(f"\n  journal: {ctx.get('journal_dir')}, PMEM_IS_PMEM_FORCE={ctx.get('pmem_is_pmem_force')}"
      " (set by this script: libpmem treats the tmpfs file as persistent memory)")
if ctx.get("dataplane_benchmarks", "built") != "built":
    print(f"  dataplane benchmarks {ctx['dataplane_benchmarks']}")
PY
