#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# kill -9 and restart of the dataplane in the middle of a sync-acknowledged
# stream: the publisher and the subscriber (sluice-loadgen, no code of its
# own to reconnect) notice, reconnect with backoff, resend what was not
# acknowledged and resume the durable subscription after the last message
# delivered; the run ends with every message sent received once, in order,
# and every publish acknowledged; the journal holds each once.
#
#   RESTART_ROUNDS=N   kill -9 N times during the stream (default 1)
. "$(dirname "$0")/lib.sh"
rounds=${RESTART_ROUNDS:-1}
count=$((4000 + 2000 * rounds))
jdir=$T_DIR/journal
dp_args=(--set "journal_dir=$jdir" --set "durability_rules=rs.*=sync")
t_start "${dp_args[@]}"

out=$T_DIR/lg.json
ip netns exec "$T_TAG-cl" timeout -k 5 180 "$SL_BUILD/benchmarks/sluice-loadgen" \
	--host "$T_NET.1" -P 1 -S 1 -n "$count" -r 1000 --ack --drain-ms 30000 --topic-prefix rs \
	--json --events >"$out" 2>"$out.err" &
lg=$!
T_BG+=("$lg")
for r in $(seq 1 "$rounds"); do
	# Into the stream: the topic has messages, more are coming.
	t_wait 30 bash -c "[ \"\$('$SL_ROOT/scripts/sluice-stats' -n '$T_DP' /sluice/topics rs.0 \
		--get seq 2>/dev/null || echo 0)\" -ge $((1000 + (r - 1) * 2000)) ]" ||
		{ t_fail "round $r: the stream did not get going"; break; }
	kill -KILL "$SL_DP_PID"
	wait "$SL_DP_PID" 2>/dev/null
	SL_DP_PID=
	t_log "round $r: dataplane killed at seq about $((1000 + (r - 1) * 2000))"
	sleep 0.5 # long enough for the clients to notice (liveness)
	rm -rf "/run/sluice/$T_DP" "/var/run/dpdk/$T_DP"
	sl_dp_start "$T_TAG" "$T_DIR/dp.log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" \
		--set heartbeat_ms=200 --set session_timeout_ms=1000 "${dp_args[@]}" ||
		{ t_fail "restart after round $r"; break; }
done
wait "$lg"
t_eq "loadgen across $rounds restart(s): exit status" "$?" 0
python3 - "$out" "$count" "$rounds" <<'PY' || t_fail "loadgen report"
import json, sys
r = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
n, rounds = int(sys.argv[2]), int(sys.argv[3])
e = r["events"]
print(f"[restart] sent {r['sent']} received {r['received']} lost {r['lost']} duplicates "
      f"{r['duplicates']} out_of_order {r['out_of_order']} acked {r['acked']} events {e}")
assert r["sent"] == n and r["received"] == n, "sent = received"
assert r["lost"] == 0 and r["duplicates"] == 0 and r["out_of_order"] == 0
assert r["acked"] == n and r["unacked"] == 0 and r["refused"] == 0
# Both clients lost the broker and came back, each round.
assert e["disconnected"] >= 2 * rounds and e["reconnected"] >= 2 * rounds, e
assert e["gap"] == 0, e
PY
sl_dp_stop
t_eq "dataplane stops cleanly after the restarts" "$SL_DP_RC" 0
"$SL_BUILD/persist/sluice-journal" verify --dups "$jdir/rs.0" >"$T_DIR/verify.out" 2>&1
t_eq "journal clean, no (producer, epoch, seq) stored twice" "$?" 0
t_check "the journal holds the $count messages once each" \
	grep -Eq "last seq: +$count\$" <("$SL_BUILD/persist/sluice-journal" info "$jdir/rs.0")
t_done
