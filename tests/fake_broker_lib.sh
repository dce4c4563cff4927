# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the tests of a client tool against fake_broker.py (test_sluice_pub.sh,
# test_sluice_sub.sh): set TOOL (sluice-pub, sluice-sub) first. Gives TOOL_BIN, FAKE, a
# temporary folder T removed at exit with the fake, FAILS, fake_start, fake_stop and
# sealed_setup.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOL_BIN=${SL_BUILD:-$HERE/../build}/client/$TOOL
FAKE=$HERE/fake_broker.py

command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
[ -x "$TOOL_BIN" ] || { echo "FAIL: $TOOL_BIN not built"; exit 1; }

PY=python3
T=$(mktemp -d "/tmp/$TOOL-test.XXXXXX")
FAKE_PID=
cleanup() {
	[ -n "$FAKE_PID" ] && { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; }
	rm -rf "$T"
}
trap cleanup EXIT
FAILS=0

# fake_start MODE: a fresh fake broker (with $PY) in MODE, its port in FAKE_PORT, its
# log to $T/log.
fake_start() {
	rm -f "$T/port"
	"$PY" "$FAKE" "$1" "$T/port" "$T/log" &
	FAKE_PID=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	FAKE_PORT=$(cat "$T/port" 2>/dev/null)
	[ -n "$FAKE_PORT" ] || { echo "FAIL: fake_broker.py did not start"; exit 1; }
}

# fake_stop: the fake ends at the client's GOODBYE, writing its log: give it a moment.
fake_stop() {
	for _ in $(seq 20); do kill -0 "$FAKE_PID" 2>/dev/null || break; sleep 0.05; done
	kill "$FAKE_PID" 2>/dev/null
	wait "$FAKE_PID" 2>/dev/null
	FAKE_PID=
}

# sealed_setup: for the sealed cases, PY becomes a python3 with PyNaCl (Debian's
# python3-nacl belongs to the system python3, which may not be first on PATH), and
# $T/cred holds the fake's user alice with key KEY. Returns 1 (PY unchanged) without
# PyNaCl.
sealed_setup() {
	local py
	for py in python3 /usr/bin/python3; do
		"$py" -c "import nacl.bindings" 2>/dev/null || continue
		PY=$py
		KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
		printf 'user = alice\nkey = %s\n' "$KEY" >"$T/cred"
		chmod 600 "$T/cred"
		return 0
	done
	return 1
}
