#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end through the real processes: many topics, several subscribers
# per topic, unsubscribe, and a subscriber that disappears.
. "$(dirname "$0")/lib.sh"
t_start

# --- many topics: one subscriber on 20 topics, 5 messages each -------------
topics=()
for i in $(seq 0 19); do topics+=(-t "many.$i"); done
t_sub_bg "$T_DIR/many.out" "${topics[@]}" -C 100 -W 20 -v
many=$T_LAST
t_wait 10 t_nsubs_is many.19 1 || t_fail "subscriber on many.19 not registered"
for i in $(seq 0 19); do
	t_pub -t "many.$i" -m "m$i" -n 5 -a -q || t_fail "publish to many.$i"
done
wait "$many"
t_eq "many topics: subscriber exit status" "$?" 0
t_eq "many topics: messages received" "$(wc -l <"$T_DIR/many.out")" 100
bad=0
for i in $(seq 0 19); do
	got=$(awk -v t="many.$i" '$1 == t { printf "%s,", $2 }' "$T_DIR/many.out")
	[ "$got" == "1,2,3,4,5," ] || { bad=1; t_fail "many.$i sequences: $got"; }
	grep -qv "many.$i [0-9]* m$i\$" <(grep "^many.$i " "$T_DIR/many.out") && bad=1
done
t_eq "many topics: every topic got its own 5 messages in order" "$bad" 0

# --- fan-out: 3 subscribers on one topic, 50 messages ------------------------
fans=()
for j in 1 2 3; do
	t_sub_bg "$T_DIR/fan$j.out" -t fan -C 50 -W 20 -v
	fans+=("$T_LAST")
done
t_wait 10 t_nsubs_is fan 3 || t_fail "3 subscribers on fan not registered ($(t_nsubs fan))"
t_pub -t fan -m payload -n 50 -a -q || t_fail "publish to fan"
for j in 1 2 3; do
	wait "${fans[$((j - 1))]}"
	t_eq "fan-out: subscriber $j exit status" "$?" 0
	t_eq "fan-out: subscriber $j sequence 1..50" \
		"$(awk '{ print $2 }' "$T_DIR/fan$j.out" | tr '\n' ' ')" "$(seq -s ' ' 1 50) "
done
t_eq "fan-out: topic delivered counter" "$(t_topic fan delivered)" 150

# --- unsubscribe: one leaves after 5 messages, the other stays ---------------
t_sub_bg "$T_DIR/uns.out" -t uns -U 5 -W 8 -v
leaver=$T_LAST
t_sub_bg "$T_DIR/stay.out" -t uns -C 10 -W 15 -v
stayer=$T_LAST
t_wait 10 t_nsubs_is uns 2 || t_fail "2 subscribers on uns not registered"
t_pub -t uns -m first -n 5 -a -q || t_fail "publish first half"
t_wait 10 grep -q unsubscribed "$T_DIR/uns.out.err" || t_fail "leaver did not unsubscribe"
t_wait 5 t_nsubs_is uns 1 || t_fail "broker still has $(t_nsubs uns) subscribers on uns"
t_pub -t uns -m second -n 5 -a -q || t_fail "publish second half"
wait "$stayer"
t_eq "unsubscribe: remaining subscriber got all 10" "$(wc -l <"$T_DIR/stay.out")" 10
kill -TERM "$leaver" 2>/dev/null
wait "$leaver" 2>/dev/null
t_eq "unsubscribe: leaver got only the first 5" "$(wc -l <"$T_DIR/uns.out")" 5
t_eq "unsubscribe: leaver saw nothing after" "$(grep -c second "$T_DIR/uns.out")" 0

# --- a pattern subscription: existing and later topics, nothing else ----------
t_pub -t wild.a -m before -a -q || t_fail "create wild.a"
t_sub_bg "$T_DIR/wild.out" -t 'wild.*' -C 3 -W 15 -v
wild=$T_LAST
t_wait 10 t_nsubs_is wild.a 1 || t_fail "pattern subscriber not on wild.a"
t_pub -t wild.a.deep -m no -a -q || t_fail "publish wild.a.deep"
t_pub -t wild.a -m one -a -q || t_fail "publish wild.a"
t_pub -t wild.b -m two -a -q || t_fail "publish wild.b (created after the pattern)"
t_pub -t other.a -m no -a -q || t_fail "publish other.a"
t_pub -t wild.c -m three -a -q || t_fail "publish wild.c"
wait "$wild"
t_eq "pattern wild.*: matching topics only, also ones created later" \
	"$(awk '{ print $3 }' "$T_DIR/wild.out" | tr '\n' ' ')" "one two three "
t_eq "pattern wild.*: not on wild.a.deep" "$(t_nsubs wild.a.deep)" 0

# --- a subscriber that disappears (kill -9: no GOODBYE) ----------------------
t_sub_bg "$T_DIR/gone.out" -t gone -W 30 -v
victim=$T_LAST
t_sub_bg "$T_DIR/alive.out" -t gone -C 40 -W 20 -v
alive=$T_LAST
t_wait 10 t_nsubs_is gone 2 || t_fail "2 subscribers on gone not registered"
expired0=$(t_stat sessions_expired)
t_pub -t gone -m before -n 20 -a -q || t_fail "publish before kill"
kill -KILL "$victim"
wait "$victim" 2>/dev/null
t_pub -t gone -m after -n 20 -a -q || t_fail "publish after kill"
wait "$alive"
t_eq "vanished subscriber: survivor got all 40" "$(wc -l <"$T_DIR/alive.out")" 40
# The survivor left with GOODBYE; the dead one never says goodbye, so only
# expiry (session_timeout_ms is 1000 here) can remove it.
t_wait 10 t_nsubs_is gone 0 || t_fail "dead subscriber still registered"
# The stats answer samples the counters every 100 ms: read until it holds.
t_check "vanished subscriber: sessions_expired counts it" \
	t_wait 3 t_stat_ge sessions_expired $((expired0 + 1))
t_eq "no drops of valid traffic (no_mbuf)" "$(t_stat drop_no_mbuf)" 0
t_eq "no drops of valid traffic (tx_full)" "$(t_stat drop_tx_full)" 0
t_done
