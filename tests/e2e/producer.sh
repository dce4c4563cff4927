#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Idempotent producers through the real dataplane (tests/e2e/producer.py):
# resends of acknowledged publishes are ACKed as duplicates with the original
# seq and stored once; a second instance fences the first; a version 1 client
# is refused; after kill -9 and a restart of the dataplane on a sync topic,
# resending the last publishes stores none of them twice (sluice-journal
# verify --dups), and a journal that does hold a message twice is found.
. "$(dirname "$0")/lib.sh"
jdir="$T_DIR/journal"
dp_args=(--set "journal_dir=$jdir" --set durability=sync --set segment_mb=1)
t_start "${dp_args[@]}"
P="python3 $SL_ROOT/tests/e2e/producer.py"
J="$SL_BUILD/persist/sluice-journal"

# run NAME args...: one producer.py phase in the client namespace.
run() {
	local name=$1 out
	shift
	if out=$(sl_cl "$T_TAG" $P "$@" 2>&1); then
		t_log "ok: $name: $out"
	else
		t_fail "$name: $out"
	fi
}

run "version 1 client refused" v1 "$T_NET.1" 9500
run "duplicates ACKed with the original seq" basic "$T_NET.1" 9500 prod.basic feed-a 200
run "a second instance fences the first" fence "$T_NET.1" 9500 prod.fence feed-b
run "publish 300 acknowledged before the crash" crash1 "$T_NET.1" 9500 prod.crash feed-c 300 \
	"$T_DIR/state.json"
t_ge "dup_publishes counted" "$(t_stat dup_publishes)" 200
t_ge "fenced publishes counted" "$(t_stat drop_producer_fenced)" 1
t_ge "out-of-order publishes counted" "$(t_stat drop_producer_out_of_order)" 1
t_ge "version 1 HELLOs refused, counted" "$(t_stat version_refused)" 1

kill -KILL "$SL_DP_PID"
wait "$SL_DP_PID" 2>/dev/null
SL_DP_PID=
sl_dp_start "$T_TAG" "$T_DIR/dp.log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" \
	--set heartbeat_ms=200 --set session_timeout_ms=1000 "${dp_args[@]}" ||
	{ t_fail "restart after kill -9"; t_done; }
run "resend after the restart: duplicates, stored once" crash2 "$T_NET.1" 9500 prod.crash \
	feed-c 50 "$T_DIR/state.json"
# A client without a producer resending (same producer_seq) is stored twice.
run "publishes without a producer, sent twice" plain "$T_NET.1" 9500 prod.plain 20
sl_dp_stop

for t in prod.basic prod.fence prod.crash; do
	"$J" verify --dups "$jdir/$t" >"$T_DIR/verify.$t" 2>&1
	t_eq "sluice-journal verify --dups $t: nothing stored twice" "$?" 0
done
t_check "prod.crash holds the 301 messages once each" \
	grep -q "^read back: *301 records" "$T_DIR/verify.prod.crash"
t_check "dump shows producer id, epoch and seq" \
	grep -q "producer [0-9]* epoch [1-9][0-9]* seq 301 " <("$J" dump "$jdir/prod.crash" --from 301)
"$J" verify --dups "$jdir/prod.plain" >"$T_DIR/verify.plain" 2>&1
t_eq "sluice-journal verify --dups finds messages stored twice (exit 1)" "$?" 1
t_check "... and lists them" grep -q "^duplicate: .* seq 20 stored at seq 20 and 40" \
	"$T_DIR/verify.plain"
t_done
