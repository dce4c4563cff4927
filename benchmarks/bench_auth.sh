#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run bench-auth and print the datagram seal and open cost per AEAD candidate and the
# handshake's costs. Writes bench-results/auth.json.
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

def table(title, algs, name):
    """One row per algorithm and size; name(op, key, mode, size) is the benchmark's."""
    print(title)
    print(f"  {'algorithm':<46} {'N':>5} {'seal mac':>9} {'seal enc':>9} {'open mac':>9} {'open enc':>9}")
    for key, label in algs:
        for size in [32, 256, 1024]:
            cells = [b.get(name(op, key, mode, size)) for op in ("Seal", "Open") for mode in ("mac", "enc")]
            if all(c is None for c in cells):
                continue
            txt = [f"{ns(c):>9.0f}" if c and "error_occurred" not in c else f"{'-':>9}" for c in cells]
            print(f"  {label:<46} {size:>5} " + " ".join(txt))

table("\nSeal and open of a datagram carrying N bytes of frames, CPU ns (MAC only / encrypted):",
      [("ChaCha", "ChaCha20-Poly1305 (libsodium, the protocol's)"),
       ("AesGcmSodium", "AES-256-GCM (libsodium)"),
       ("AesGcmIpsecMb", "AES-256-GCM (intel-ipsec-mb)")],
      lambda op, key, mode, size: f"BM_{op}_{key}/{mode}/{size}")
table("\nThe worker path: sl_seal_k / sl_seal_open_k (+ replay window) with a precomputed session key, CPU ns:",
      [("ChaCha", "ChaCha20-Poly1305 (libsodium)"),
       ("AesIpsecMb", "AES-256-GCM (intel-ipsec-mb)"),
       ("AesSodium", "AES-256-GCM (libsodium)")],
      lambda op, key, mode, size: (f"BM_{op}_ChaCha/{mode}/{size}" if key == "ChaCha"
                                   else f"BM_{op}K/{key}_{mode}/{size}"))
for key, label in [("Chacha", "ChaCha20-Poly1305"), ("AesIpsecMb", "AES-256-GCM (intel-ipsec-mb)"),
                   ("AesSodium", "AES-256-GCM (libsodium)")]:
    c = b.get(f"BM_SealKeyInit/{key}")
    if c and "error_occurred" not in c:
        print(f"  key precomputation, {label}: {ns(c):.0f} ns")
print()
for name, what in [("BM_Memcpy/256", "memcpy of 256 B"),
                   ("BM_ReplayInOrder", "replay window, in order"),
                   ("BM_Cookie", "CHALLENGE cookie (BLAKE2b)"),
                   ("BM_RngNonce", "server nonce (worker ChaCha20 keystream)"),
                   ("BM_AuthProof", "AUTH proof (HMAC-SHA256)"),
                   ("BM_SessionKeys", "session keys (HKDF-SHA256)"),
                   ("BM_SessionIdDecode", "session id decode (4-round Feistel)")]:
    r = b.get(name)
    if r:
        print(f"  {what:<46} {ns(r):>9.1f} ns")
PY
