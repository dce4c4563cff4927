#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sluice-pub -a against a fake broker (fake_broker.py) that repeats, drops,
# strays and refuses acks: each publish counts once, and the exit status is
# 3 whenever one was refused or never acknowledged.
TOOL=sluice-pub
. "$(dirname "$0")/fake_broker_lib.sh"

fail() { echo "FAIL [$CASE]: $*"; echo "  stderr: $(cat "$T/err")"; FAILS=$((FAILS + 1)); }

# run MODE ARGS...: sluice-pub against a fresh fake in MODE; sets RC, stderr in $T/err.
run() {
	local mode=$1
	shift
	fake_start "$mode"
	"$TOOL_BIN" -h 127.0.0.1 -p "$FAKE_PORT" -t t -m x "$@" 2>"$T/err" >/dev/null
	RC=$?
	fake_stop
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

# Version 3 sealing against a fake that does it with PyNaCl on its own.
if sealed_setup; then
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
SLUICE_CREDENTIALS= "$TOOL_BIN" -h 127.0.0.1 -p 9 -t t -m x --encrypt 2>"$T/err" >/dev/null
[ "$?" = 1 ] || fail "exit $?, want 1"
has "--encrypt needs credentials"

CASE="--keys bounds"
"$TOOL_BIN" -h 127.0.0.1 -p 9 -t t -m x --keys 0 2>"$T/err" >/dev/null
[ "$?" = 2 ] || fail "--keys 0: exit $?, want 2"
has "keys '0' is not a number from 1 to 1000000"
"$TOOL_BIN" -h 127.0.0.1 -p 9 -t t -m x --keys 5 --key "$(printf '%059d' 0)" 2>"$T/err" >/dev/null
[ "$?" = 2 ] || fail "--keys with a 59-byte --key: exit $?, want 2"
has "--key with --keys: at most 58 bytes"

CASE="help documents the exit status"
"$TOOL_BIN" --help >"$T/err" 2>&1
has "3 the broker refused"

[ "$FAILS" = 0 ] && echo "sluice-pub acks: ok"
[ "$FAILS" = 0 ]
