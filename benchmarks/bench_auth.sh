#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run bench-auth and print the per-frame verify cost (SipHash MAC + compare + replay
# check) against memcpy of the same size. Writes bench-results/auth.json.
# Usage: bench_auth.sh [BUILD_DIR] (default: build).
set -eu

build=${1:-build}
bin=$build/benchmarks/bench-auth
out=bench-results
min_time=${BENCH_MIN_TIME:-0.2}

if [ ! -x "$bin" ]; then
	echo "bench_auth.sh: $bin not found: build with 'meson setup $build && ninja -C $build'" \
		"(needs libbenchmark-dev)" >&2
	exit 2
fi
mkdir -p "$out"
"$bin" --benchmark_min_time="$min_time" \
	--benchmark_out="$out/auth.json" --benchmark_out_format=json

python3 - "$out/auth.json" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    b = {r["name"]: r for r in json.load(f)["benchmarks"]}

def ns(r):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[r.get("time_unit", "ns")]
    return r["cpu_time"] * scale

print("\nPer-frame verify (SipHash-2-4 MAC + compare + replay check) vs memcpy of the frame:")
print(f"  {'size':>5} {'ns/frame':>9} {'GB/s':>7} {'siphash ns':>10} {'memcpy ns':>9} {'/memcpy':>8}")
for size in [32, 64, 128, 256, 512, 1024]:
    v, s, m = (b.get(f"{n}/{size}") for n in ["BM_FrameVerify", "BM_SipHash", "BM_Memcpy"])
    if v is None or m is None or "error_occurred" in v:
        print(f"  {size:>5}  (failed: {v and v.get('error_message')})")
        continue
    print(f"  {size:>5} {ns(v):>9.1f} {v['bytes_per_second'] / 1e9:>7.2f} "
          f"{ns(s) if s else float('nan'):>10.1f} {ns(m):>9.1f} {ns(v) / ns(m):>7.1f}x")
r = b.get("BM_ReplayInOrder")
if r:
    print(f"\n  replay check, in order: {ns(r):.2f} ns")
r = b.get("BM_Sha256/4096")
if r:
    print(f"  SHA-256, 4 KiB message: {r['bytes_per_second'] / 1e6:.0f} MB/s")
r = b.get("BM_AuthProof")
if r:
    print(f"  session set-up (proof + session key: 2 HMAC-SHA256): {ns(r) / 1e3:.2f} us")
PY
