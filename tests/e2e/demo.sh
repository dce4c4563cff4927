#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's first command, shortened: scripts/demo.sh --json must print
# exactly one JSON object with every message delivered.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "[demo] skip: needs root"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$root/scripts/demo.sh" --json --duration 2 --rate 5000 --idle backoff >"$out"
rc=$?
[ $rc -eq 0 ] || { echo "[demo] FAIL: demo.sh exit status $rc"; cat "$out"; exit 1; }
python3 - "$out" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
lines = text.strip().splitlines()
assert len(lines) == 1, f"--json printed {len(lines)} lines: {text!r}"
r = json.loads(lines[0])
assert r["sent"] == 10000 and r["received"] == 10000 and r["lost"] == 0, r
assert r["p50_ns"] > 0 and r["max_ns"] >= r["p99_ns"], r
print("[demo] pass:", lines[0][:120])
PY
