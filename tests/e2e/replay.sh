#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Replay from the journal: from the earliest message, a sequence or a time,
# then live without gap or duplicate while publishing goes on; a topic
# without a journal refuses replay; a full journal refuses publishes before
# any ack and accepts them again once retention frees space; retention by
# size moves the earliest retained message.
. "$(dirname "$0")/lib.sh"
jdir="$T_DIR/journal"
t_start --set "journal_dir=$jdir" --set durability=none \
	--set "durability_rules=sync.*=sync async.*=async full.*=sync ret.*=async" \
	--set segment_mb=1 --set capacity_mb=0

# seqs FILE: the sequence column, space separated
seqs() { awk '{ printf "%s ", $2 }' "$1"; }

for pol in sync async; do
	topic=$pol.replay
	t_pub -t "$topic" -m old -n 500 -a -q || t_fail "$pol: first 500"
	# Publishing goes on while the replaying subscriber catches up.
	t_pub -t "$topic" -m new -n 500 -r 1000 -a -q &
	pub=$!
	t_sub_bg "$T_DIR/$pol.out" -t "$topic" --from earliest -C 1000 -W 30 -v
	sub=$T_LAST
	wait "$pub" || t_fail "$pol: publish during replay"
	wait "$sub"
	t_check "$pol: replay then live, seq 1..1000 once each, in order" \
		test "$(seqs "$T_DIR/$pol.out")" == "$(seq -s ' ' 1 1000) "
	t_eq "$pol: the old ones first" "$(head -500 "$T_DIR/$pol.out" | grep -c ' old$')" 500
done

# From a sequence, and from a time between two batches.
t_sub_bg "$T_DIR/fromseq.out" -t sync.replay --from seq:990 -C 11 -W 10 -v
wait "$T_LAST"
t_eq "from seq:990" "$(seqs "$T_DIR/fromseq.out")" "$(seq -s ' ' 990 1000) "
mid=$(($(date +%s%N)))
sleep 0.2
t_pub -t sync.replay -m later -n 3 -a -q || t_fail "later batch"
t_sub_bg "$T_DIR/fromtime.out" -t sync.replay --from "time:$mid" -C 3 -W 10 -v
wait "$T_LAST"
t_eq "from a time: only what came after it" "$(seqs "$T_DIR/fromtime.out")" "1001 1002 1003 "

# No journal, no replay: a clear refusal.
t_pub -t plain.topic -m x -a -q || t_fail "publish to plain.topic"
t_sub -t plain.topic --from earliest -C 1 -W 3 >/dev/null 2>"$T_DIR/plain.err"
t_check "replay on durability none is refused with a clear message" \
	grep -q "no journal" "$T_DIR/plain.err"
t_ge "no_journal counted" "$(t_stat drop_no_journal)" 1

# Retention by size: 1 MiB segments, keep ~1 MiB: the earliest moves on.
sl_dp_stop
t_log "restart with retain_mb=1 capacity_mb=2 retain_s=8"
sl_dp_start "$T_TAG" "$T_DIR/dp.log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" \
	--set "journal_dir=$jdir" --set durability=none \
	--set "durability_rules=async.*=async full.*=sync ret.*=async" \
	--set segment_mb=1 --set capacity_mb=2 --set retain_s=8 || { t_fail restart; t_done; }
t_eq "journals reloaded after restart: seq kept" "$(t_topic sync.replay seq)" 1003
# No rule says sync.* any more: the topic keeps the durability it was made with.
t_eq "reloaded topic keeps its durability, not today's rules" \
	"$(t_topic sync.replay durability)" sync

# Full journal: 2 segments of 1 MiB, nothing old enough to expire yet.
big=$(head -c 1000 /dev/zero | tr '\0' 'f')
t_pub -t full.t -m "$big" -n 3000 -a -q --timeout 5000 2>"$T_DIR/full.err"
t_eq "full journal: sluice-pub exits 3 (messages refused)" "$?" 3
t_check "full journal: refusal names the cause" grep -q "journal full" "$T_DIR/full.err"
stored=$(t_topic full.t seq)
t_ge "full journal: refused publishes counted" "$(t_stat drop_journal_full)" 1
t_check "full journal: some were stored, not all" test "$stored" -gt 100 -a "$stored" -lt 3000
# Acknowledged == stored: nothing refused was acknowledged.
t_eq "full journal: still refusing" \
	"$(t_pub -t full.t -m "$big" -a -q --timeout 1000 2>&1 >/dev/null | grep -c 'journal full')" 1
sleep 9 # retain_s=8 (room for a publisher that resends): the first segment expires, space comes back
t_pub -t full.t -m after -n 10 -a -q || t_fail "publishes after retention freed space"
t_eq "full journal: accepted again after retention" "$(t_topic full.t seq)" $((stored + 10))
first=$(t_topic full.t journal_first)
t_ge "retention deleted the oldest segment" "$first" 2
t_sub_bg "$T_DIR/ret.out" -t full.t --from earliest -C 1 -W 10 -v
wait "$T_LAST"
t_eq "earliest retained message is the journal's first" "$(awk '{ print $2 }' "$T_DIR/ret.out")" "$first"
t_done
