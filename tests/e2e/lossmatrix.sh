#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The loss matrix: a publisher with acks and a subscriber (sluice-loadgen)
# through the impairment relay, for each impairment (1% and 5% loss, 25% of
# frames held back 1 ms, 1% duplication, in both directions) and each
# durability (none, sync): every message delivered exactly once and in
# order (lost, duplicates and out_of_order all 0), every publish
# acknowledged, and on sync topics every acknowledged message in the journal
# exactly once (sluice-journal verify --dups).
#
#   LOSS_COUNT=N    messages per cell (default 2000; scripts/soak.sh runs more)
#   LOSS_RATE=R     msgs/s (default 2000)
#   LOSS_TABLE=F    also append one line per cell to F
. "$(dirname "$0")/lib.sh"
count=${LOSS_COUNT:-2000}
rate=${LOSS_RATE:-2000}
jdir=$T_DIR/journal
cells=("loss1 loss=0.01" "loss5 loss=0.05" "reorder reorder=0.25,delay-us=1000" "dup dup=0.01")

t_start_relay --time 5 -- --set "journal_dir=$jdir" --set "durability_rules=lmsync.*=sync"
sl_relay_stop
seed=11
for cell in "${cells[@]}"; do
	name=${cell%% *} spec=${cell#* }
	seed=$((seed + 1))
	sl_relay_start "$T_TAG" "$T_DIR/relay-$name.log" --time 600 --seed $seed --both "$spec" ||
		{ t_fail "$name: relay start"; break; }
	for dur in none sync; do
		out=$T_DIR/lg-$name-$dur.json
		sl_cl "$T_TAG" timeout -k 5 300 "$SL_BUILD/benchmarks/sluice-loadgen" \
			--host "$T_NET.1" -P 1 -S 1 -n "$count" -r "$rate" --ack --drain-ms 30000 \
			--topic-prefix "lm$dur.$name" --json --events >"$out" 2>"$out.err"
		rc=$?
		row=$(python3 - "$out" "$name" "$dur" <<'PY'
import json, sys
try:
    r = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
except (OSError, IndexError, ValueError):
    print(f"{sys.argv[2]:8} {sys.argv[3]:5} no report")
    sys.exit(0)
e = r["events"]
print(f"{sys.argv[2]:8} {sys.argv[3]:5} sent {r['sent']} received {r['received']} lost {r['lost']}"
      f" duplicates {r['duplicates']} out_of_order {r['out_of_order']} acked {r['acked']}"
      f" unacked {r['unacked']} refused {r['refused']} gap_events {e['gap']}"
      f" reconnects {e['reconnected']} p50 {r['p50_ns']} p99 {r['p99_ns']} p999 {r['p999_ns']}")
PY
)
		t_log "$row"
		[ -n "${LOSS_TABLE:-}" ] && echo "$row" >>"$LOSS_TABLE"
		t_eq "$name $dur: loadgen passes (lost, duplicates, out of order 0, all acked)" "$rc" 0
		t_check "$name $dur: all $count sent and received" \
			grep -q "sent $count received $count lost 0 duplicates 0 out_of_order 0 acked $count " \
			<<<"$row"
	done
	sl_relay_stop
	t_log "$name relay: $(grep '^{' "$T_DIR/relay-$name.log" | tail -n 1)"
done

# The journals, with the broker stopped so that they are closed cleanly.
sl_dp_stop
t_eq "dataplane stops cleanly" "$SL_DP_RC" 0
for cell in "${cells[@]}"; do
	name=${cell%% *}
	j=$jdir/lmsync.$name.0
	"$SL_BUILD/persist/sluice-journal" verify --dups "$j" >"$T_DIR/verify-$name.out" 2>&1
	t_eq "$name sync: journal clean, no (producer, epoch, seq) stored twice" "$?" 0
	t_check "$name sync: the journal holds the $count messages" \
		grep -Eq "last seq: +$count\$" <("$SL_BUILD/persist/sluice-journal" info "$j")
done
t_done
