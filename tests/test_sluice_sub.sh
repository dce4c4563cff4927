#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sluice-sub over a link that loses, reorders and duplicates deliveries
# (fake_broker.py lossy): NAKs name the missing ranges, the lost tail is
# found from STATUS, a large message is reassembled, a range the broker no
# longer has is a gap event, and every other message is printed once, in
# order. Then as a consumer group member (fake_broker.py group): its
# options, acks, naks of a poison message, pulling, and leaving at exit.
TOOL=sluice-sub
. "$(dirname "$0")/fake_broker_lib.sh"

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# run_case ARGS...: sluice-sub against a fresh lossy fake; every check below.
run_case() {
	fake_start lossy

	# 300 messages, 100..102 lost for good: 297 to print.
	# A window of 64: the fake sends only within the credit granted.
	"$TOOL_BIN" -h 127.0.0.1 -p "$FAKE_PORT" -t t -v -C 297 -W 10 --stats --window 64 "$@" >"$T/out" 2>"$T/err"
	RC=$?
	fake_stop

	[ "$RC" = 0 ] || fail "$CASE: exit $RC, want 0"
	# Every message but the lost ones, once, in order.
	{ seq 1 99; seq 103 300; } | sed 's/^/t /' >"$T/want"
	cut -d' ' -f1,2 "$T/out" >"$T/got"
	cmp -s "$T/want" "$T/got" || fail "$CASE: messages not 1..99, 103..300 in order: $(diff "$T/want" "$T/got" | head -5)"
	# Payloads are the messages' own; the large one arrived whole.
	grep -q '^t 5 m5$' "$T/out" || fail "$CASE: message 5 (recovered by NAK) missing or damaged"
	grep -q '^t 150 m150\.\.\.' "$T/out" || fail "$CASE: large message 150 missing"
	[ "$(grep '^t 150 ' "$T/out" | wc -c)" = $((6 + 4000 + 1)) ] ||
		fail "$CASE: large message 150 not 4000 bytes"
	# The NAKs: single losses, the large message whose piece was lost, the
	# range lost for good, the tail told by STATUS.
	for r in "5 5" "22 22" "150 150" "100 102" "298 300"; do
		grep -q "^nak 1 $r\$" "$T/log" || fail "$CASE: no NAK for $r: $(grep nak "$T/log" | head -20 | tr '\n' ,)"
	done
	# Every NAK asked only for what was missing, or for the late half of a
	# swapped pair (seq % 10 == 4) when the fake was descheduled between the two
	# for longer than nak_delay_us.
	if grep '^nak' "$T/log" | awk '{ for (s = $3; s <= $4; s++) if (!(s % 17 == 5 || s >= 100 && s <= 102 || s == 150 || s > 297 || s % 10 == 4)) exit 1 }'; then :; else
		fail "$CASE: a NAK asked for a message that had arrived: $(grep nak "$T/log" | tr '\n' ,)"
	fi
	# Credit granted as the messages were delivered: limit = next expected - 1 +
	# window, sent each time it moved by window / 4 (16); the last one, after
	# message 300 at the latest, covers at least 286 - 1 + 64.
	max=$(awk '$1 == "credit" && $2 == 1 { if ($3 > m) m = $3 } END { print m + 0 }' "$T/log")
	[ "$max" -ge 349 ] && [ "$max" -le 364 ] || fail "$CASE: highest CREDIT $max, want 349..364"
	[ "$(grep -c '^credit 1 ' "$T/log")" -ge 16 ] || fail "$CASE: too few CREDITs: $(grep -c credit "$T/log")"
	grep -q "^sluice-sub: gap: topic t seq 100..102 lost" "$T/err" || fail "$CASE: gap 100..102 not said: $(cat "$T/err")"
	grep -q "^received 297 gaps 3 " "$T/err" || fail "$CASE: stats: $(cat "$T/err")"
	grep -Eq "^recovery: naks [0-9]+ \([0-9]+ seqs\) retransmitted [1-9][0-9]* duplicates [1-9][0-9]* reordered [1-9][0-9]* gap_events 1 given_up 0$" "$T/err" ||
		fail "$CASE: recovery stats: $(cat "$T/err")"
}

CASE=open
run_case
# The same over a sealed, encrypted session (the fake seals with PyNaCl, on its own).
if sealed_setup; then
	CASE=encrypted
	FAKE_USER=alice FAKE_KEY=$KEY FAKE_ENC=required run_case --credentials "$T/cred" --encrypt
	grep -Eq "^seal in [1-9][0-9]* enc [1-9][0-9]* plain 0 bad 0$" "$T/log" ||
		fail "$CASE: fake saw: $(tail -1 "$T/log")"
else
	echo "encrypted case skipped: no PyNaCl (python3-nacl)"
fi

# Consumer groups (--group): usage, then a member against the fake's group mode.
"$TOOL_BIN" --help >"$T/help"
for o in --group --member-id --credit --pull --ack-delay-ms --nak-seq --no-ack delivery=N; do
	grep -q -- "$o" "$T/help" || fail "--help does not mention $o"
done
usage_case() { # WHY ARGS...: exit 2 with a message
	local why=$1
	shift
	"$TOOL_BIN" "$@" >/dev/null 2>"$T/uerr"
	[ $? = 2 ] && [ -s "$T/uerr" ] || fail "usage: $why: not refused with exit 2"
}
usage_case "group of a pattern" -t 'a.*' --group g
usage_case "group of two topics" -t a -t b --group g
usage_case "group with --from" -t a --group g --from earliest
usage_case "--nak-seq without --group" -t a --nak-seq 3
usage_case "--member-id 0" -t a --group g --member-id 0
usage_case "--credit over 4096" -t a --group g --credit 4097
usage_case "--pull 0" -t a --group g --pull 0

# Pushed: 1..10 printed with their delivery counts, each acked once except
# the poison 4, given back each time until the fake's third delivery; the
# member leaves at -C.
CASE=group
fake_start group
"$TOOL_BIN" -h 127.0.0.1 -p "$FAKE_PORT" -t t --group work --member-id 77 --credit 8 -v \
	-C 12 -W 10 --nak-seq 4 --stats >"$T/out" 2>"$T/err"
RC=$?
fake_stop
[ "$RC" = 0 ] || fail "$CASE: exit $RC: $(cat "$T/err")"
{ for i in $(seq 10); do echo "t $i delivery=1 m$i"; done
  echo "t 4 delivery=2 m4"; echo "t 4 delivery=3 m4"; } >"$T/want"
cmp -s "$T/want" "$T/out" || fail "$CASE: printed: $(diff "$T/want" "$T/out" | head -5)"
grep -q '^gjoin work 77 8 0$' "$T/log" || fail "$CASE: join: $(grep gjoin "$T/log")"
acked=$(awk '$1 == "gack" && $2 == 0 { for (i = 3; i <= NF; i++) print $i }' "$T/log" | sort -n | tr '\n' ' ')
[ "$acked" = "1 2 3 5 6 7 8 9 10 " ] || fail "$CASE: acked '$acked', want 1..10 but 4, once each"
[ "$(grep -c '^gnak 4 0 1$' "$T/log")" = 3 ] || fail "$CASE: naks: $(grep gnak "$T/log" | tr '\n' ,)"
grep -q '^gctl 1 0$' "$T/log" || fail "$CASE: no LEAVE at exit"
grep -q '^group: delivered 12 redelivered 2 acked 9 nacked 3 not_held 0$' "$T/err" ||
	fail "$CASE: stats: $(cat "$T/err")"

# Pulled 4 at a time, slow work, never acked: three FETCHes, no GACK.
CASE=group-pull
fake_start group
start=$(date +%s%N)
"$TOOL_BIN" -h 127.0.0.1 -p "$FAKE_PORT" -t t --group work --pull 4 --ack-delay-ms 20 --no-ack \
	--headers -C 10 -W 10 >"$T/out" 2>"$T/err"
RC=$?
ms=$((($(date +%s%N) - start) / 1000000))
fake_stop
[ "$RC" = 0 ] || fail "$CASE: exit $RC: $(cat "$T/err")"
[ "$(grep -c '^\[delivery=1\] m[0-9]*$' "$T/out")" = 10 ] || fail "$CASE: printed: $(head -3 "$T/out")"
grep -Eq '^gjoin work [0-9]+ 256 1$' "$T/log" || fail "$CASE: join: $(grep gjoin "$T/log")"
[ "$(grep -c '^gctl 4 4$' "$T/log")" = 3 ] || fail "$CASE: fetches: $(grep gctl "$T/log" | tr '\n' ,)"
grep -q '^gack' "$T/log" && fail "$CASE: --no-ack acked: $(grep gack "$T/log" | head -2)"
[ "$ms" -ge 200 ] || fail "$CASE: 10 messages with --ack-delay-ms 20 took only $ms ms"

if [ "$FAILS" -gt 0 ]; then
	echo "stderr: $(cat "$T/err")"
	exit 1
fi
echo "ok"
