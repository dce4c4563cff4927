#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# kill -9 of the dataplane while publishers with the sync policy are being
# acknowledged, in a bounded loop; after each restart every acknowledged
# message is in the journal exactly once and in order.
. "$(dirname "$0")/lib.sh"
rounds=${CRASH_ROUNDS:-5}
jdir="$T_DIR/journal"
dp_args=(--set "journal_dir=$jdir" --set durability=sync --set segment_mb=1)
t_start "${dp_args[@]}"

# Acknowledgements recorded so far (the file appears with the first one).
n_acked() { cat "$T_DIR/acked" 2>/dev/null | wc -l; }

for r in $(seq 1 "$rounds"); do
	before=$(n_acked)
	sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/ackpub.py" "$T_NET.1" 9500 crash.t "r$r" 20 \
		"$T_DIR/acked" 6000 &
	pub=$!
	T_BG+=("$pub")
	# Kill at a different point of the stream each round: after 100 .. 1900
	# of its 6000 acknowledgements. Counted in acknowledgements, not in time
	# from the launch: starting the publisher (ip netns exec, python) takes
	# from 0.1 s to over a second on a loaded 2-core machine, so a kill timed
	# from the launch often came before its first datagram and the round
	# tested nothing, or after its last one.
	want=$((before + 100 + 200 * ((r * 7 + $$) % 10)))
	for ((i = 0; i < 1500; i++)); do # 30 s at most
		[ "$(n_acked)" -lt "$want" ] && kill -0 "$pub" 2>/dev/null || break
		sleep 0.02
	done
	[ "$(n_acked)" -gt "$before" ] ||
		{ t_fail "round $r: the publisher got no acknowledgement"; break; }
	kill -KILL "$SL_DP_PID"
	wait "$SL_DP_PID" 2>/dev/null
	SL_DP_PID=
	wait "$pub" 2>/dev/null
	t_log "round $r: killed; $(wc -l <"$T_DIR/acked") acknowledged so far"
	sl_dp_start "$T_TAG" "$T_DIR/dp.log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" \
		--set heartbeat_ms=200 --set session_timeout_ms=1000 "${dp_args[@]}" ||
		{ t_fail "restart after round $r"; break; }
	grep -h "topic crash.t" "$T_DIR/dp.log" | sed "s/^/[crash] round $r recovery: /"
done

acked=$(wc -l <"$T_DIR/acked")
t_ge "messages acknowledged over $rounds rounds" "$acked" $((rounds * 50))
last=$(t_topic crash.t seq)
# Read back over shared memory, where a replay waits for room in the
# subscriber's ring: over UDP it is not flow-controlled (see the README's
# limits), and 10,000 and more replayed datagrams in one burst can overrun a
# subscriber that is short of CPU, whose socket then drops the tail.
"$SL_BUILD/client/sluice-sub" --shm "$T_DP" -t crash.t --from earliest -C "$last" -W 30 -v \
	>"$T_DIR/replay.out" 2>"$T_DIR/replay.err" &
T_BG+=("$!")
wait "$!"
t_eq "replay returned the whole journal" "$(wc -l <"$T_DIR/replay.out")" "$last"
python3 - "$T_DIR/acked" "$T_DIR/replay.out" <<'PY' || t_fail "acknowledged messages missing, duplicated or out of order"
import sys
acked = [l.split() for l in open(sys.argv[1])]
rows = [l.split() for l in open(sys.argv[2])]
seqs = [int(r[1]) for r in rows]
assert seqs == list(range(1, len(rows) + 1)), "journal sequences are not 1..N"
where = {}
for r in rows:
    assert r[2] not in where, f"payload {r[2]} stored twice"
    where[r[2]] = int(r[1])
for payload, seq in acked:
    assert payload in where, f"acknowledged {payload} (seq {seq}) lost"
    assert where[payload] == int(seq), f"{payload}: acked as seq {seq}, stored as {where[payload]}"
# Within each publisher's round the stored order is the publish order.
last = {}
for r in rows:
    tag, n = r[2].rsplit("-", 1)
    assert int(n) > last.get(tag, 0), f"{r[2]} out of order"
    last[tag] = int(n)
print(f"[crash] ok: {len(acked)} acknowledged messages all present once, in order, "
      f"among {len(rows)} stored")
PY

# The inspection tool (read-only) on the journal the broker left, stopped first
# so the journal is closed cleanly, then on a copy with one flipped byte in
# committed data.
sl_dp_stop
t_eq "dataplane stops cleanly after the last restart" "$SL_DP_RC" 0
J="$SL_BUILD/persist/sluice-journal"
"$J" verify "$jdir/crash.t" >"$T_DIR/verify.out" 2>&1
t_eq "sluice-journal verify: clean after the crashes" "$?" 0
t_check "sluice-journal info: last seq is the topic's" \
	grep -Eq "last seq: +$last\$" <("$J" info "$jdir/crash.t")
t_check "sluice-journal dump: the last record" \
	grep -q "$(tail -n 1 "$T_DIR/replay.out" | awk '{ print $3 }')" \
	<("$J" dump "$jdir/crash.t" --from "$last" --count 1)
cp -a "$jdir/crash.t" "$T_DIR/damaged"
seg=$(ls "$T_DIR/damaged"/*.seg | head -n 1)
# Byte 4000 is in record 55's CRC field (records of 72 bytes after the 64-byte
# segment header). It is changed, not set: writing 0xff left the record
# intact whenever its CRC's low byte already was 0xff (1 run in 256).
t_flip "$seg" 4000
"$J" verify "$T_DIR/damaged" >"$T_DIR/verify2.out" 2>&1
t_eq "sluice-journal verify: damage in committed data (exit 5)" "$?" 5
t_done
