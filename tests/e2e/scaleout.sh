#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Scale-out (docs/SCALEOUT.md): two pairs, each one single-node broker
# that is a pair in etcd's terms (--pair, --advertise; no standby), on the
# bridge of lib_ha.sh with real etcd. A topic created on pair 1 is placed
# there in etcd; sluicectl moves it to pair 2; a client that still asks
# pair 1 is told SL_E_MOVED, follows to pair 2 and publishes and
# subscribes there; a client that predates the code gets a clear error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"
ha_up
P1="p1-$T_TAG" P2="p2-$T_TAG"
TOPIC=so.orders
PORT=9500
t_log "etcd at $HA_ETCD; pair $P1 = ${HA_IP[a]}, pair $P2 = ${HA_IP[b]}"

for n in a b; do
	ha_dp_start_single "$n" || { t_fail "dataplane $n start"; exit 1; }
done
ha_ctl_start a --pair "$P1" --advertise "${HA_IP[a]}:$PORT" || exit 1
ha_ctl_start b --pair "$P2" --advertise "${HA_IP[b]}:$PORT" || exit 1
ctl() { local n=$1; shift; "$SL_BUILD/ctl/sluicectl" -n "$(ha_name "$n")" "$@"; }
attached() { ctl "$1" dataplane status --json | grep -q '"attached":true'; }
for n in a b; do
	t_check "sluice-control $n attached" t_wait 10 attached "$n"
done
placement() { ha_etcdctl get --print-value-only "/sluice/placement/$TOPIC"; }
registered() { ha_etcdctl get --print-value-only "/sluice/pairs/$1/service" | grep -q "$2"; }
t_check "pair 2 registered its service address" t_wait 10 registered "$P2" "${HA_IP[b]}:$PORT"

# 1. Created on pair 1: placed there (compare-and-swap create, epoch 1).
out=$(ctl a topic create "$TOPIC" --durability async --json 2>&1)
t_check "topic created on pair 1 ($out)" grep -q '"placement":"recorded"' <<<"$out"
t_check "etcd places it on pair 1, epoch 1 ($(placement))" \
	grep -q "\"pair\":\"$P1\".*\"epoch\":1\|\"epoch\":1.*\"pair\":\"$P1\"" <<<"$(placement)"
out=$(ctl b topic create "$TOPIC" 2>&1)
t_check "pair 2 refuses to create a topic placed on pair 1 ($out)" grep -q "placed on pair $P1" <<<"$out"
out=$(ha_cl "$SL_BUILD/client/sluice-pub" -h "${HA_IP[a]}" -t "$TOPIC" -m before -n 5 -a 2>&1)
t_check "5 publishes acknowledged on pair 1 ($out)" [ $? -eq 0 ]
# A subscriber on pair 1 from before the move (live): told when it moves.
ha_cl "$SL_BUILD/client/sluice-sub" -h "${HA_IP[a]}" -t "$TOPIC" -C 20 -W 30 -v \
	>"$T_DIR/early.out" 2>"$T_DIR/early.err" &
EARLY=$!
T_BG+=("$EARLY")
nsubs() { "$SL_ROOT/scripts/sluice-stats" -n "$(ha_name "$1")" /sluice/topics "$TOPIC" \
	--get subscribers 2>/dev/null; }
nsubs_is() { [ "$(nsubs "$1")" == "$2" ]; }
t_check "a subscriber on pair 1 before the move" t_wait 10 nsubs_is a 1

# 2. Moved: pair 2 creates it and takes the placement (epoch 2); pair 1 marks it moved.
t0=$(date +%s%N)
out=$(ctl a topic move "$TOPIC" --to "$P2" 2>&1)
t_log "sluicectl topic move took $(( ($(date +%s%N) - t0) / 1000000 )) ms (measured, not asserted)"
t_check "sluicectl topic move ($out)" grep -q "moved topic $TOPIC to pair $P2 (${HA_IP[b]}:$PORT), placement epoch 2" <<<"$out"
t_check "etcd places it on pair 2, epoch 2 ($(placement))" \
	grep -q "\"pair\":\"$P2\"" <<<"$(placement)"
t_check "placement epoch 2" grep -q '"epoch":2' <<<"$(placement)"
shows() { ctl b topic show "$TOPIC" >/dev/null 2>&1; }
t_check "pair 2 holds the topic" shows
t_check "the move left pair 2's inbox" t_not grep -q "$TOPIC" \
	<<<"$(ha_etcdctl get --print-value-only "/sluice/pairs/$P2/inbox")"
out=$(ctl a topic move "$TOPIC" --to "$P2" 2>&1)
t_check "moving it again from pair 1 is refused ($out)" grep -q "moved to pair $P2 already" <<<"$out"

# 3. An old client (first 32 bytes of ERROR only) asking pair 1: a clear error, code 35.
out=$(ha_cl python3 "$SL_ROOT/tests/e2e/oldresolve.py" "${HA_IP[a]}" "$PORT" "$TOPIC" 2>&1)
t_eq "an old client's RESOLVE on pair 1 is refused SL_E_MOVED" "$out" "error 35 0"

# 4. libsluice asking pair 1 follows to pair 2: a subscriber, then a publisher.
ha_cl "$SL_BUILD/client/sluice-sub" -h "${HA_IP[a]}" -t "$TOPIC" -C 20 -W 20 -v \
	>"$T_DIR/sub.out" 2>"$T_DIR/sub.err" &
SUB=$!
T_BG+=("$SUB")
# Both: the one from before the move (told SL_E_MOVED) and the one that asked pair 1 after it.
t_check "both subscribers subscribed on pair 2" t_wait 15 nsubs_is b 2
t_check "pair 1 has no subscriber left" nsubs_is a 0
out=$(ha_cl "$SL_BUILD/client/sluice-pub" -h "${HA_IP[a]}" -t "$TOPIC" -m after -n 20 -a 2>&1)
t_check "20 publishes sent to pair 1's address are acknowledged (on pair 2) ($out)" [ $? -eq 0 ]
wait "$SUB"
rc=$?
t_eq "the subscriber got its 20 messages and exited 0" "$rc" 0
t_eq "the subscriber's messages" "$(grep -c ' after$' "$T_DIR/sub.out")" 20
wait "$EARLY"
rc=$?
t_eq "the subscriber from before the move got the 20 new messages on pair 2" "$rc" 0
t_eq "its messages" "$(grep -c ' after$' "$T_DIR/early.out")" 20
pub_b=$("$SL_ROOT/scripts/sluice-stats" -n "$(ha_name b)" /sluice/topics "$TOPIC" --get published)
pub_a=$("$SL_ROOT/scripts/sluice-stats" -n "$(ha_name a)" /sluice/topics "$TOPIC" --get published)
t_eq "pair 2 stored the 20 new messages" "$pub_b" 20
t_eq "pair 1 kept its 5 and took no more" "$pub_a" 5
if [ "$T_FAILS" -gt 0 ]; then
	for f in sub.err early.err a/control.log b/control.log; do
		echo "--- $f"; tail -n 20 "$T_DIR/$f"
	done
fi

# 5. Restarted, pair 1's sluice-control still answers for the moved topic.
ha_stop a
ha_dp_start_single a || { t_fail "dataplane a restart"; exit 1; }
ha_ctl_start a --pair "$P1" --advertise "${HA_IP[a]}:$PORT" || exit 1
t_check "sluice-control a attached again" t_wait 10 attached a
moved_again() { [ "$(ha_cl python3 "$SL_ROOT/tests/e2e/oldresolve.py" "${HA_IP[a]}" "$PORT" \
	"$TOPIC" 2>/dev/null)" == "error 35 0" ]; }
t_check "after a restart of pair 1 the topic is still answered SL_E_MOVED" t_wait 10 moved_again

# 6. Moved back to pair 1, which still holds it: it takes the placement
# (epoch 3) and clears its mark; pair 2 now redirects, and a publisher
# that asks pair 2 ends up on pair 1.
out=$(ctl b topic move "$TOPIC" --to "$P1" 2>&1)
t_check "moved back to pair 1 ($out)" grep -q "moved topic $TOPIC to pair $P1 (${HA_IP[a]}:$PORT), placement epoch 3" <<<"$out"
out=$(ha_cl python3 "$SL_ROOT/tests/e2e/oldresolve.py" "${HA_IP[b]}" "$PORT" "$TOPIC" 2>&1)
t_eq "pair 2 now answers SL_E_MOVED" "$out" "error 35 0"
out=$(ha_cl "$SL_BUILD/client/sluice-pub" -h "${HA_IP[b]}" -t "$TOPIC" -m back -n 3 -a 2>&1)
t_check "3 publishes sent to pair 2's address are acknowledged (on pair 1) ($out)" [ $? -eq 0 ]
pub_a=$("$SL_ROOT/scripts/sluice-stats" -n "$(ha_name a)" /sluice/topics "$TOPIC" --get published)
t_eq "pair 1 stored them (its counters start at its restart)" "$pub_a" 3
for n in a b; do
	ha_stop "$n"
done
t_done
