#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's first command, shortened: scripts/demo.sh --json must print
# exactly one JSON object with every message delivered, over UDP and over
# shared memory; and the work queue, scripts/demo.sh --queue --json: one
# line, every job processed though member 2 was killed with -9, each member
# counted.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "[demo] skip: needs root"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for transport in udp shm; do
	"$root/scripts/demo.sh" --json --transport $transport --duration 2 --rate 5000 \
		--idle backoff >"$out"
	rc=$?
	[ $rc -eq 0 ] || { echo "[demo] FAIL: demo.sh --transport $transport: exit status $rc"
		cat "$out"; exit 1; }
	python3 - "$out" "$transport" <<'PY' || exit 1
import json, sys
text = open(sys.argv[1]).read()
lines = text.strip().splitlines()
assert len(lines) == 1, f"--json printed {len(lines)} lines: {text!r}"
r = json.loads(lines[0])
assert r["sent"] == 10000 and r["received"] == 10000 and r["lost"] == 0, r
assert r["p50_ns"] > 0 and r["max_ns"] >= r["p99_ns"], r
assert r["transport"] == {"udp": "udp", "shm": "shm"}[sys.argv[2]], r["transport"]
print(f"[demo] {sys.argv[2]} ok:", lines[0][:100])
PY
done
for transport in udp shm; do
	"$root/scripts/demo.sh" --queue --json --transport $transport --duration 2 --rate 1500 \
		--idle backoff >"$out"
	rc=$?
	[ $rc -eq 0 ] || { echo "[demo] FAIL: demo.sh --queue --transport $transport: exit status $rc"
		cat "$out"; exit 1; }
	python3 - "$out" "$transport" <<'PY' || exit 1
import json, sys
text = open(sys.argv[1]).read()
lines = text.strip().splitlines()
assert len(lines) == 1, f"--queue --json printed {len(lines)} lines: {text!r}"
r = json.loads(lines[0])
for k in ["sent", "processed", "lost", "duplicates", "redelivered", "dead_lettered", "members"]:
    assert k in r, (k, r)
assert r["sent"] == 3000 and r["processed"] == 3000 and r["lost"] == 0, r
assert r["dead_lettered"] == 0, r
m = r["members"]
assert sorted(m) == ["1", "2", "3"] and all(v > 0 for v in m.values()), m
assert sum(m.values()) == r["processed"] + r["duplicates"], r
print(f"[demo] queue {sys.argv[2]} ok:", lines[0][:160])
PY
done
"$root/scripts/demo.sh" --json --transport both >/dev/null 2>&1
[ $? -eq 2 ] || { echo "[demo] FAIL: --json with --transport both is not refused"; exit 1; }
echo "[demo] pass"
