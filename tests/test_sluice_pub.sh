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

PY=python3
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
	"$PY" "$FAKE" "$mode" "$T/port" "$T/log" &
	FAKE_PID=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	port=$(cat "$T/port" 2>/dev/null)
	[ -n "$port" ] || { echo "FAIL: fake_broker.py did not start"; exit 1; }
	"$PUB" -h 127.0.0.1 -p "$port" -t t -m x "$@" 2>"$T/err" >/dev/null
	RC=$?
	# The fake ends at the GOODBYE, writing its log: give it a moment.
	for _ in $(seq 20); do kill -0 "$FAKE_PID" 2>/dev/null || break; sleep 0.05; done
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

# Version 3 sealing against a fake that does it with PyNaCl on its own
# (Debian's python3-nacl: the system python3, which may not be first on PATH).
NACL_PY=
for py in python3 /usr/bin/python3; do
	"$py" -c "import nacl.bindings" 2>/dev/null && { NACL_PY=$py; break; }
done
if [ -n "$NACL_PY" ]; then
	PY=$NACL_PY
	KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
	printf 'user = alice\nkey = %s\n' "$KEY" >"$T/cred"
	chmod 600 "$T/cred"
	export FAKE_USER=alice FAKE_KEY=$KEY

	CASE="encrypted session"
	export FAKE_ENC=optional
	run twice -n 100 -a --credentials "$T/cred" --encrypt
	[ "$RC" = 0 ] || fail "exit $RC, want 0"
	has "100 published to 't' (topic 1), 100 acked"
	read -r _ _ n _ e _ p _ b <"$T/log" || true
	[ "${n:-0}" -ge 100 ] && [ "$e" = "$n" ] && [ "$p" = 0 ] && [ "$b" = 0 ] ||
		fail "fake saw: $(cat "$T/log")"

	CASE="authenticated, not encrypted"
	run twice -n 10 -a --credentials "$T/cred"
	[ "$RC" = 0 ] || fail "exit $RC, want 0"
	read -r _ _ n _ e _ p _ b <"$T/log" || true
	[ "${n:-0}" -ge 10 ] && [ "$e" = 0 ] && [ "$p" = 0 ] && [ "$b" = 0 ] ||
		fail "fake saw: $(cat "$T/log")"

	CASE="encryption required, not asked for"
	export FAKE_ENC=required
	run twice -n 1 --credentials "$T/cred"
	[ "$RC" = 1 ] || fail "exit $RC, want 1"
	has "the broker requires an encrypted session for user 'alice': add --encrypt"

	CASE="encryption asked for, the user's policy off"
	export FAKE_ENC=off
	run twice -n 1 --credentials "$T/cred" --encrypt
	[ "$RC" = 1 ] || fail "exit $RC, want 1"
	has "does not encrypt sessions of user 'alice'"
	unset FAKE_USER FAKE_KEY FAKE_ENC
else
	echo "sealed cases skipped: no PyNaCl (python3-nacl)"
fi

CASE="--encrypt needs credentials"
SLUICE_CREDENTIALS= "$PUB" -h 127.0.0.1 -p 9 -t t -m x --encrypt 2>"$T/err" >/dev/null
[ "$?" = 1 ] || fail "exit $?, want 1"
has "--encrypt needs credentials"

CASE="help documents the exit status"
"$PUB" --help >"$T/err" 2>&1
has "3 the broker refused"

[ "$FAILS" = 0 ] && echo "sluice-pub acks: ok"
[ "$FAILS" = 0 ]
