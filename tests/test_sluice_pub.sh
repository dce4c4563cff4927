#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sluice-pub -a against a fake broker (fake_broker.py) that repeats, drops,
# strays and refuses acks: each publish counts once, and the exit status is
# 3 whenever one was refused or never acknowledged.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PUB=${SL_BUILD:-$HERE/../build}/client/sluice-pub
FAKE=$HERE/fake_broker.py

command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
[ -x "$PUB" ] || { echo "FAIL: $PUB not built"; exit 1; }

T=$(mktemp -d /tmp/sluice-pub-test.XXXXXX)
FAKE_PID=
cleanup() {
	[ -n "$FAKE_PID" ] && { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; }
	rm -rf "$T"
}
trap cleanup EXIT

FAILS=0
fail() { echo "FAIL [$CASE]: $*"; echo "  stderr: $(cat "$T/err")"; FAILS=$((FAILS + 1)); }

# run MODE ARGS...: sluice-pub against a fresh fake in MODE; sets RC, stderr in $T/err.
run() {
	local mode=$1 port
	shift
	rm -f "$T/port"
	python3 "$FAKE" "$mode" "$T/port" &
	FAKE_PID=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	port=$(cat "$T/port" 2>/dev/null)
	[ -n "$port" ] || { echo "FAIL: fake_broker.py did not start"; exit 1; }
	"$PUB" -h 127.0.0.1 -p "$port" -t t -m x "$@" 2>"$T/err" >/dev/null
	RC=$?
	kill "$FAKE_PID" 2>/dev/null
	wait "$FAKE_PID" 2>/dev/null
	FAKE_PID=
}
has() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1'"; }

CASE="every ack repeated"
run twice -n 100 -a
[ "$RC" = 0 ] || fail "exit $RC, want 0"
has "100 published to 't' (topic 1), 100 acked"
# The last repeat may come after sluice-pub stopped listening.
grep -Eq "(99|100) repeated or stray acks ignored" "$T/err" || fail "repeats not counted"

CASE="repeated acks stand in for missing ones"
run dropdup -n 100 -a --timeout 300
[ "$RC" = 3 ] || fail "exit $RC, want 3"
has "10 of 100 messages were not acknowledged within 300 ms"
has "100 published to 't', 90 acknowledged, 0 refused, 10 unanswered"

CASE="refusals, each repeated"
run refuse -n 100 -a --timeout 300
[ "$RC" = 3 ] || fail "exit $RC, want 3"
has "50 of 100 messages were not acknowledged: topic journal full"
has "100 published to 't', 50 acknowledged, 50 refused, 0 unanswered"

CASE="stray acks: never sent, other topic"
run stray -n 50 -a
[ "$RC" = 0 ] || fail "exit $RC, want 0"
has "50 acked"
has "100 repeated or stray acks ignored"

CASE="no answer at all"
run silent -n 5 -a --timeout 200
[ "$RC" = 3 ] || fail "exit $RC, want 3"
has "5 of 5 messages were not acknowledged within 200 ms"

CASE="help documents the exit status"
"$PUB" --help >"$T/err" 2>&1
has "3 the broker refused"

[ "$FAILS" = 0 ] && echo "sluice-pub acks: ok"
[ "$FAILS" = 0 ]
