#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A subscriber cut off for longer than the topic's retransmit window holds
# (the relay drops everything towards the clients for 300 ms of a 2000
# msgs/s stream; window 64 messages) gets the unrecoverable-gap event with
# exactly the range it missed (one event, or several that follow one another
# when the broker answered several NAKs), and everything before and after it
# once and in order; the broker counts the lost range (gap_lost).
. "$(dirname "$0")/lib.sh"
t_start_relay --time 120 --cut ba -- --set retransmit_window=64

sl_cl "$T_TAG" timeout -k 5 60 "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" \
	-P 1 -S 1 -r 2000 -d 3 --drain-ms 5000 --topic-prefix gp --json --events \
	>"$T_DIR/lg.json" 2>"$T_DIR/lg.err" &
lg=$!
T_BG+=("$lg")
t_wait 20 bash -c "[ \"\$('$SL_ROOT/scripts/sluice-stats' -n '$T_DP' /sluice/topics gp.0 \
	--get seq 2>/dev/null || echo 0)\" -ge 1000 ]" || t_fail "the stream did not get going"
kill -USR2 "$SL_RELAY_PID" # cut
sleep 0.3
kill -USR2 "$SL_RELAY_PID" # restored
wait "$lg"
t_eq "loadgen: exit status 3 (messages lost)" "$?" 3
c=$(t_relay_counts)
t_log "relay: $c"
python3 - "$T_DIR/lg.json" "$(t_stat gap_lost)" <<'PY' || t_fail "gap event"
import json, sys
r = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
e, gaps, miss = r["events"], r["gap_ranges"], r["missing"]
print(f"[gap] lost {r['lost']} duplicates {r['duplicates']} out_of_order {r['out_of_order']}"
      f" events {e} gap_ranges {gaps} missing {miss} broker gap_lost {sys.argv[2]}")
assert r["duplicates"] == 0 and r["out_of_order"] == 0
assert r["lost"] > 64, "the cut was longer than the window"
# One hole; the broker may answer the NAKs for it in more than one notice
# (one per NAK), so the events' ranges follow one another without a break.
assert len(miss) == 1 and e["gap"] == len(gaps) >= 1, "one hole, its events"
gaps.sort(key=lambda g: g["first"])
assert all(b["first"] == a["last"] + 1 for a, b in zip(gaps, gaps[1:])), "contiguous events"
# One publisher on a new topic: message index i has topic seq i + 1.
assert gaps[0]["first"] == miss[0]["first"] + 1 and gaps[-1]["last"] == miss[0]["last"] + 1, \
    "the events name exactly the range never delivered"
assert e["gap_seqs"] == r["lost"]
assert int(sys.argv[2]) > 0, "the broker counted it"
PY
t_done
