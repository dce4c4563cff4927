#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Messages larger than one datagram over UDP, through the real dataplane: a
# 64 KiB and a 1 MiB message published in PUBLISH_FRAG pieces to a sync
# topic are acknowledged once, journaled as one record each, and reach a
# subscriber whole (DELIVER_FRAG pieces); one over the topic's limit is
# refused with SL_E_TOO_BIG and counted. Over shared memory, messages
# larger than a datagram go whole both ways: 2,500 of 4 KiB (more than the
# worker's arena has units, so the retransmit window must give buffers
# back) and 200 of 64 KiB reach a subscriber, none lost.
. "$(dirname "$0")/lib.sh"
jdir="$T_DIR/journal"
t_start --set "journal_dir=$jdir" --set durability=sync --set segment_mb=4 \
	--set max_message=1048576

out=$(sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/largemsg.py" "$T_NET.1" 9500 big.sync \
	65536 1048576 2>&1)
rc=$?
echo "$out" | sed "s/^/[$T_NAME] /"
t_eq "64 KiB and 1 MiB messages acknowledged and received whole" "$rc" 0
[ "$rc" == 0 ] || "$SL_ROOT/scripts/sluice-stats" -n "$T_DP" /sluice/stats >&2
t_ge "large messages reassembled (counter)" "$(t_stat large_messages)" 2
t_ge "DELIVER_FRAG pieces sent (counter)" "$(t_stat deliver_frags)" $((47 + 737))
t_eq "journal: one record per message" "$(t_topic big.sync seq)" 2

# Over the limit (1 MiB + 1): refused, counted, nothing stored.
out=$(sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/largemsg.py" "$T_NET.1" 9500 big.sync \
	1048577 2>&1)
t_check "a message over max_message is refused with SL_E_TOO_BIG" \
	grep -q "ERROR code 25 for producer_seq 1000" <<<"$out"
t_eq "too big: counted" "$(t_stat drop_frag_too_big)" 1
t_eq "too big: nothing journaled" "$(t_topic big.sync seq)" 2

# SIZE:COUNT:WINDOW: at most WINDOW messages in flight, which the client's
# receive ring (512 KiB by default) holds: none is dropped for want of room.
for spec in 4096:2500:16 65536:200:4; do
	IFS=: read -r size count win <<<"$spec"
	spec=$size:$count
	out=$(timeout -k 3 60 "$SL_BUILD/benchmarks/sluice-loadgen" --shm "$T_DP" -r 0 -S 1 \
		-s "$size" -n "$count" --window "$win" --topic-prefix "shm$size" 2>&1)
	rc=$?
	echo "$out" | grep -E "^(sent|received|lost)" | sed "s/^/[$T_NAME] ${spec%%:*} B: /"
	t_eq "shared memory, ${spec%%:*} B whole: all ${spec#*:} received, none lost" "$rc" 0
done
t_done
