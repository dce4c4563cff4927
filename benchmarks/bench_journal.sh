#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run bench-journal twice: on an ordinary file system (msync path) and on tmpfs with
# PMEM_IS_PMEM_FORCE=1 (emulated persistent memory: flush instructions, no msync).
# Writes bench-results/journal-{fs,pmem-emulated}.json and prints ratios to the floors
# measured in the same run. Usage: bench_journal.sh [BUILD_DIR] (default: build).
set -eu

build=${1:-build}
bin=$build/benchmarks/bench-journal
out=bench-results
min_time=${BENCH_MIN_TIME:-0.2}
fs_dir=/var/tmp/sluice-bench-$$
pmem_dir=/dev/shm/sluice-bench-$$

if [ ! -x "$bin" ]; then
	echo "bench_journal.sh: $bin not found: build with 'meson setup $build && ninja -C $build'" \
		"(needs libbenchmark-dev)" >&2
	exit 2
fi
mkdir -p "$out"
trap 'rm -rf "$fs_dir" "$pmem_dir"' EXIT INT TERM

run() { # name dir [env...]
	name=$1 dir=$2
	shift 2
	echo "=== $name: journal in $dir $* ==="
	env SLUICE_BENCH_DIR="$dir" "$@" "$bin" --benchmark_min_time="$min_time" \
		--benchmark_out="$out/journal-$name.json" --benchmark_out_format=json
}

run fs "$fs_dir"
run pmem-emulated "$pmem_dir" PMEM_IS_PMEM_FORCE=1

python3 - "$out/journal-fs.json" "$out/journal-pmem-emulated.json" <<'PY'
import json, sys

def load(path):
    with open(path) as f:
        return {b["name"]: b for b in json.load(f)["benchmarks"]}

print("\nRatios to the floors measured in the same run (higher is better):")
print("  append: payload bytes/s / memcpy 4 KiB bytes/s;  recovery: scan GB/s / memcpy 1 MiB GB/s")
for path, what in zip(sys.argv[1:], ["file system (msync)", "tmpfs + PMEM_IS_PMEM_FORCE=1 (emulated pmem)"]):
    b = load(path)
    mc = b["BM_Memcpy/4096"]["bytes_per_second"]
    mc_big = b["BM_Memcpy/1048576"]["bytes_per_second"]
    print(f"\n{what}: memcpy 4 KiB {mc / 1e9:.2f} GB/s, 1 MiB {mc_big / 1e9:.2f} GB/s")
    print(f"  {'policy':8} {'size':>5} {'items/s':>12} {'MB/s':>10} {'/memcpy':>9}")
    for pol in ["none", "async", "replica", "sync32", "sync1"]:
        for size in [32, 256, 1024, 4096]:
            r = b.get(f"BM_JournalAppend/{pol}/{size}")
            if r is None or "error_occurred" in r:
                print(f"  {pol:8} {size:>5}  (failed: {r and r.get('error_message')})")
                continue
            print(f"  {pol:8} {size:>5} {r['items_per_second']:>12.0f} "
                  f"{r['bytes_per_second'] / 1e6:>10.1f} {r['bytes_per_second'] / mc:>9.4f}")
    for size in [256, 1024]:
        f, r = (b.get(f"BM_JournalSegments/{k}/{size}") for k in ("fresh", "recycled"))
        if not f or not r or "error_occurred" in f or "error_occurred" in r:
            print(f"  segments {size:>5}  (failed)")
            continue
        print(f"  segments {size:>5} B, sync per 32, 4 MiB segments retired at once:"
              f" fresh {f['items_per_second']:.0f}/s, recycled {r['items_per_second']:.0f}/s"
              f" = {r['items_per_second'] / f['items_per_second']:.2f}x"
              f" ({r.get('rolls_recycled', 0):.0f} rolls into a recycled segment)")
    r = b.get("BM_RecoveryScan")
    if r and "error_occurred" not in r:
        print(f"  recovery scan {r['bytes_per_second'] / 1e9:.2f} GB/s = "
              f"{r['bytes_per_second'] / mc_big:.3f} x memcpy 1 MiB")
PY
