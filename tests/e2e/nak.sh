#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Loss recovery through the real dataplane: a subscriber NAKs a range and
# gets it again marked RETRANS, from the retransmit window (8 messages here)
# and, on a sync topic, from the journal beyond it; on a topic without a
# journal what the window no longer holds comes back as ERROR SL_E_GAP_LOST
# with the range; a replay from the journal sends no more than the
# subscriber's credit; and the broker's counters say so.
. "$(dirname "$0")/lib.sh"
t_start --set "journal_dir=$T_DIR/journal" --set durability=none \
	--set "durability_rules=j.*=sync" --set retransmit_window=8

nak() { # nak OUT TOPIC N FIRST LAST
	sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/nak.py" "$T_NET.1" 9500 "$2" "$3" "$4" "$5" \
		>"$1" || t_fail "nak.py $2"
}
# q OUT EXPR: a Python expression over the JSON object v
q() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

# --- within the window: 14..18 of 20, sent again from memory ----------------
nak "$T_DIR/win.json" n.win 20 14 18
t_eq "window: all 20 acknowledged and delivered live" \
	"$(q "$T_DIR/win.json" 'v["acked"], v["live"] == list(range(1, 21))')" "(20, True)"
t_eq "window: 14..18 resent, from memory (no REPLAY), with their payloads" \
	"$(q "$T_DIR/win.json" '[(r["seq"], r["replay"], r["payload"]) for r in v["resent"]] == [(s, False, "m%d" % s) for s in range(14, 19)]')" True
t_eq "window: nothing reported lost" "$(q "$T_DIR/win.json" 'v["lost"]')" "[]"

# --- beyond the window, no journal: what is left, and the gap named ----------
nak "$T_DIR/gap.json" n.gap 20 3 15
t_eq "no journal: 13..15 resent from the window" \
	"$(q "$T_DIR/gap.json" '[r["seq"] for r in v["resent"]]')" "[13, 14, 15]"
t_eq "no journal: SL_E_GAP_LOST names 3..12" "$(q "$T_DIR/gap.json" 'v["lost"]')" "[[3, 12]]"

# --- beyond the window on a sync topic: the journal has the rest -------------
nak "$T_DIR/jrn.json" j.sync 20 2 18
t_eq "journal: 2..18 resent in order" \
	"$(q "$T_DIR/jrn.json" '[r["seq"] for r in v["resent"]] == list(range(2, 19))')" True
t_eq "journal: 2..12 read back from the journal (REPLAY), 13..18 from memory" \
	"$(q "$T_DIR/jrn.json" '[r["replay"] for r in v["resent"]] == [True] * 11 + [False] * 6')" True
t_eq "journal: payloads as published" \
	"$(q "$T_DIR/jrn.json" 'all(r["payload"] == "m%d" % r["seq"] for r in v["resent"])')" True
t_eq "journal: nothing reported lost" "$(q "$T_DIR/jrn.json" 'v["lost"]')" "[]"

# --- a replay from the journal is paced by credit ------------------------------
sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/nak.py" --replay "$T_NET.1" 9500 j.sync 7 \
	>"$T_DIR/rep.json" || t_fail "nak.py --replay"
t_eq "replay: an initial credit of 7 gets 1..7 and no more" \
	"$(q "$T_DIR/rep.json" 'v["first"] == list(range(1, 8))')" True
t_eq "replay: CREDIT 14 gets 8..14 and no more" \
	"$(q "$T_DIR/rep.json" 'v["after_credit"] == list(range(1, 15))')" True

# --- the counters ---------------------------------------------------------
t_eq "counter nak_received" "$(t_stat nak_received)" 3
t_eq "counter retransmitted" "$(t_stat retransmitted)" $((5 + 3 + 17))
t_eq "counter gap_lost" "$(t_stat gap_lost)" 10
t_done
