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
# run_demo WHAT CHECK demo.sh-args...: one run with --json --idle backoff;
# its exit status must be 0 and its output one JSON line, which the Python
# CHECK (given r, the object, and t, the transport) asserts on.
run_demo() {
	local what=$1 check=$2 transport=$4
	shift 2
	"$root/scripts/demo.sh" --json --idle backoff "$@" >"$out"
	rc=$?
	[ $rc -eq 0 ] || { echo "[demo] FAIL: demo.sh $*: exit status $rc"; cat "$out"; exit 1; }
	python3 - "$out" "$transport" "$what" "$check" <<'PY' || exit 1
import json, sys
text = open(sys.argv[1]).read()
t, what = sys.argv[2], sys.argv[3]
lines = text.strip().splitlines()
assert len(lines) == 1, f"{what}: --json printed {len(lines)} lines: {text!r}"
r = json.loads(lines[0])
exec(sys.argv[4])
print(f"[demo] {what} {t} ok:", lines[0][:160])
PY
}
for transport in udp shm; do
	run_demo stream '
assert r["sent"] == 10000 and r["received"] == 10000 and r["lost"] == 0, r
assert r["p50_ns"] > 0 and r["max_ns"] >= r["p99_ns"], r
assert r["transport"] == t, r["transport"]
' --transport $transport --duration 2 --rate 5000
	run_demo queue '
for k in ["sent", "processed", "lost", "duplicates", "redelivered", "dead_lettered", "members"]:
    assert k in r, (k, r)
assert r["sent"] == 3000 and r["processed"] == 3000 and r["lost"] == 0, r
assert r["dead_lettered"] == 0 and r["transport"] == t, r
m = r["members"]
assert sorted(m) == ["1", "2", "3"] and all(v > 0 for v in m.values()), m
assert sum(m.values()) == r["processed"] + r["duplicates"], r
' --transport $transport --queue --duration 2 --rate 1500
done
"$root/scripts/demo.sh" --json --transport both >/dev/null 2>&1
[ $? -eq 2 ] || { echo "[demo] FAIL: --json with --transport both is not refused"; exit 1; }
echo "[demo] pass"
