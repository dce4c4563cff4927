#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end, consumer groups (sluicectl -> sluice-control -> dataplane, real
# sluice-sub members), over UDP and over shared memory: three members share
# a stream and each message is processed exactly once when all ack; kill -9
# of a member mid-stream moves its unacknowledged messages to the others
# and nothing is lost; a poison message reaches the dead-letter topic after
# max-deliveries with its delivery count; a group filter delivers exactly
# the matching messages; a member that never acks is bounded by its credit
# and does not stop the others; key affinity keeps per-key order across
# 10,000 keys, also when a member is killed -9 mid-stream (over UDP); a
# hostile member (a version 4 client of its own, over UDP) acking what it
# was never given, or another member's, is refused and counted. (Durable
# groups across a dataplane kill -9: groups_durable.sh.)
. "$(dirname "$0")/lib.sh"
t_start --set "journal_dir=$T_DIR/journal"
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT
ctl_dir=$T_DIR/control
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
t_control_up "$ctl_dir"

# gval TOPIC GROUP FIELD: a counter of the group (sluicectl group show --json).
gval() {
	ctl group show "$1" "$2" --json |
		python3 -c 'import json,sys; v=json.load(sys.stdin); c=v.get("counters", v); print(c[sys.argv[1]])' "$3"
}
gmembers_is() { [ "$(gval "$1" "$2" members 2>/dev/null)" == "$3" ]; }
# gcheck WHAT TOPIC GROUP FIELD OP VALUE (OP: -eq or -ge): the counter, read
# until it holds (3 s at most: the dataplane samples its counters every
# 100 ms, so a counter can trail what the clients already saw).
gcheck() {
	local what=$1 tp=$2 g=$3 f=$4 op=$5 want=$6 got i
	for ((i = 0; i < 30; i++)); do
		got=$(gval "$tp" "$g" "$f" 2>/dev/null)
		[ "$got" "$op" "$want" ] 2>/dev/null && break
		sleep 0.1
	done
	if [ "$got" "$op" "$want" ] 2>/dev/null; then t_log "ok: $what ($got)"; else
		t_fail "$what: got '$got', want $op $want"; fi
}
# member TRANSPORT OUT args...: a sluice-sub group member in the background (T_LAST).
member() {
	local tr=$1 out=$2
	shift 2
	if [ "$tr" == shm ]; then t_ssub_bg "$out" "$@"; else t_sub_bg "$out" "$@"; fi
}
# seqs FILES...: the seqs the members printed (-v: "TOPIC SEQ ..."), one per line.
seqs() { awk '{ print $2 }' "$@"; }
lines_ge() { [ "$(cat "${@:2}" 2>/dev/null | wc -l)" -ge "$1" ]; }
# kill_mid WHAT OUT COLUMN TOTAL AFTER sluice-pub-args...: with members 1..3
# (pids, printing to OUT.1..3) joined, publish in the background (acked);
# kill -9 member 2 once it printed AFTER lines; wait for the publisher, then
# (bounded) until TOTAL distinct seqs (in COLUMN) were printed; stop 1 and 3.
kill_mid() {
	local what=$1 out=$2 col=$3 total=$4 after=$5 pub
	shift 5
	t_pub "$@" -a -q --timeout 20000 &
	pub=$!
	T_BG+=("$pub")
	t_wait 30 lines_ge "$after" "$out.2" || t_fail "$what: member 2 did not get $after"
	kill -KILL "${pids[1]}"
	wait "$pub" || t_fail "$what: publish $*"
	t_wait 40 bash -c "[ \$(awk '{ print \$$col }' '$out'.? | sort -u | wc -l) -ge $total ]" ||
		t_fail "$what: not every message processed after the kill"
	stop_members "${pids[0]}" "${pids[2]}"
}
stop_members() {
	local p
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}

ctl topic create gq.dlq >/dev/null || t_fail "topic create gq.dlq"
for tr in udp shm; do
	# --- three members share a stream; each message exactly once ------------------
	tp=gq.share.$tr
	ctl topic create "$tp" >/dev/null || t_fail "$tr: topic create"
	ctl group create "$tp" work --policy rr --ack-wait-ms 5000 --grace-ms 200 >/dev/null ||
		t_fail "$tr: group create"
	pids=()
	for i in 1 2 3; do
		member "$tr" "$T_DIR/share.$tr.$i" -t "$tp" --group work --member-id "$i" -v -W 60
		pids+=("$T_LAST")
	done
	t_wait 10 gmembers_is "$tp" work 3 || t_fail "$tr: 3 members not joined"
	t_pub -t "$tp" -m w -n 3000 -a -q || t_fail "$tr: publish 3000"
	t_wait 20 lines_ge 3000 "$T_DIR"/share.$tr.? || t_fail "$tr: 3000 messages not processed"
	t_wait 5 bash -c "[ \"\$('$SL_BUILD/ctl/sluicectl' -n '$T_DP' group show '$tp' work --json |
		python3 -c 'import json,sys; v=json.load(sys.stdin); print(v.get(\"counters\", v)[\"inflight\"])')\" == 0 ]" ||
		t_fail "$tr: acks not all settled"
	stop_members "${pids[@]}"
	t_eq "$tr: 3000 processed, each exactly once" "$(seqs "$T_DIR"/share.$tr.? | sort -n | uniq | wc -l) $(seqs "$T_DIR"/share.$tr.? | wc -l)" "3000 3000"
	# Round-robin passes over a member whose credit is full, so the shares
	# are near, not exactly, a third each.
	for i in 1 2 3; do
		t_ge "$tr: member $i took a share" "$(wc -l <"$T_DIR/share.$tr.$i")" 300
	done
	gcheck "$tr: acked" "$tp" work acked -eq 3000
	gcheck "$tr: nothing redelivered" "$tp" work redelivered -eq 0

	# --- kill -9 of a member mid-stream: its messages reach the others -------------
	# A journaled topic: a redelivery reads the journal however long the dead
	# member's session takes to expire (a `none` topic keeps only its
	# retransmit window; a group that falls behind it gets a counted gap).
	tp=gq.kill.$tr
	ctl topic create "$tp" --durability async >/dev/null || t_fail "$tr: topic create"
	ctl group create "$tp" work --policy least --ack-wait-ms 30000 --grace-ms 200 >/dev/null ||
		t_fail "$tr: group create"
	pids=()
	for i in 1 2 3; do
		member "$tr" "$T_DIR/kill.$tr.$i" -t "$tp" --group work --member-id "$i" -v -W 60 \
			--credit 64 --ack-delay-ms 1
		pids+=("$T_LAST")
	done
	t_wait 10 gmembers_is "$tp" work 3 || t_fail "$tr: 3 members not joined"
	kill_mid "$tr" "$T_DIR/kill.$tr" 2 3000 300 -t "$tp" -m k -n 3000 -r 1500
	t_eq "$tr: kill -9: nothing lost" "$(seqs "$T_DIR"/kill.$tr.? | sort -nu | wc -l)" 3000
	gcheck "$tr: kill -9: no gap" "$tp" work gap_lost -eq 0
	gcheck "$tr: kill -9: the dead member's unacknowledged messages redelivered" \
		"$tp" work redelivered -ge 1
done

# --- key affinity: per-key order over 10,000 keys, a member killed -9 mid-stream ----
# Each member prints "NS TOPIC SEQ [delivery=N key=K] PAYLOAD" (--stamp: one
# clock for the three processes). Per key, in time order, a seq never comes
# before one printed earlier (a repeat is the killed member's unacknowledged
# message, redelivered), and the key is the one the publisher gave that seq.
ctl topic create gq.keys --durability async >/dev/null || t_fail "topic create gq.keys"
ctl group create gq.keys work --policy key --ack-wait-ms 30000 --grace-ms 200 >/dev/null ||
	t_fail "group create --policy key"
pids=()
for i in 1 2 3; do
	t_sub_bg "$T_DIR/keys.$i" -t gq.keys --group work --member-id "$i" -v --headers --stamp -W 90
	pids+=("$T_LAST")
done
t_wait 10 gmembers_is gq.keys work 3 || t_fail "keys: 3 members not joined"
kill_mid keys "$T_DIR/keys" 3 20000 2000 -t gq.keys -m k --keys 10000 -n 20000 -r 4000
python3 - "$T_DIR"/keys.? >"$T_DIR/keys.check" <<'PY' || t_fail "keys: $(cat "$T_DIR/keys.check")"
import sys
rows = []
for path in sys.argv[1:]:
    for line in open(path):
        f = line.split()
        if len(f) < 5 or not f[3].startswith("[delivery="):
            continue  # a line cut short by kill -9
        key = next((x[4:].rstrip("]") for x in f[3:] if x.startswith("key=")), None)
        rows.append((int(f[0]), int(f[2]), key))
rows.sort()
last, bad, wrongkey, seqs = {}, 0, 0, set()
for _, seq, key in rows:
    seqs.add(seq)
    if key != "k%d" % ((seq - 1) % 10000):
        wrongkey += 1
    if seq < last.get(key, 0):
        bad += 1
    last[key] = max(seq, last.get(key, 0))
print("rows %d distinct %d keys %d out_of_order %d wrong_key %d" % (len(rows), len(seqs), len(last), bad, wrongkey))
sys.exit(0 if bad == 0 and wrongkey == 0 and len(seqs) == 20000 and len(last) == 10000 else 1)
PY
t_log "keys: $(cat "$T_DIR/keys.check")"
gcheck "keys: no gap" gq.keys work gap_lost -eq 0
gcheck "keys: the killed member's messages redelivered" gq.keys work redelivered -ge 1

# Poison, filter and credit, over UDP and shared memory; UDP last, so its
# credit members stay for the hostile member below.
for tr in shm udp; do
	# --- a poison message goes to the dead-letter topic after max-deliveries -----
	tp=gq.poison.$tr
	ctl topic create "$tp" >/dev/null || t_fail "$tr: topic create $tp"
	ctl group create "$tp" work --ack-wait-ms 30000 --max-deliveries 3 --dead-letter gq.dlq \
		>/dev/null || t_fail "$tr: group create with a dead-letter topic"
	t_sub_bg "$T_DIR/dlq.$tr.out" -t gq.dlq -v --headers -C 1 -W 30
	dlq=$T_LAST
	t_wait 10 t_nsubs_is gq.dlq 1 || t_fail "$tr: dead-letter subscriber not registered"
	member "$tr" "$T_DIR/poison.$tr.out" -t "$tp" --group work --member-id 7 -v --nak-seq 5 -W 60
	pois=$T_LAST
	t_wait 10 gmembers_is "$tp" work 1 || t_fail "$tr: poison member not joined"
	t_pub -t "$tp" -m p -n 10 -a -q || t_fail "$tr: publish 10 to $tp"
	wait "$dlq"
	t_eq "$tr: dead letter: one message on gq.dlq" "$(wc -l <"$T_DIR/dlq.$tr.out")" 1
	for h in sl-delivery-count=3 sl-topic=$tp sl-seq=5 sl-group=work sl-last-error=1; do
		t_check "$tr: dead letter: header $h" grep -q "[[ ]$h" "$T_DIR/dlq.$tr.out"
	done
	gcheck "$tr: dead letter: counted" "$tp" work dead_lettered -eq 1
	t_wait 5 bash -c "[ \$(awk '\$2 != 5' '$T_DIR/poison.$tr.out' | wc -l) -ge 9 ]" ||
		t_fail "$tr: the nine good messages not processed"
	stop_members "$pois"
	t_wait 10 t_nsubs_is gq.dlq 0 || t_fail "$tr: dead-letter subscriber still registered"

	# --- a header filter on the group: exactly the matching messages --------------
	tp=gq.filter.$tr
	ctl topic create "$tp" >/dev/null || t_fail "$tr: topic create $tp"
	ctl group create "$tp" work >/dev/null || t_fail "$tr: group create $tp"
	member "$tr" "$T_DIR/filter.$tr.out" -t "$tp" --group work -v --filter region=eu -W 60
	filt=$T_LAST
	t_wait 10 gmembers_is "$tp" work 1 || t_fail "$tr: filtered member not joined"
	t_pub -t "$tp" -m eu --header region=eu -n 10 -a -q
	t_pub -t "$tp" -m us --header region=us -n 10 -a -q
	t_pub -t "$tp" -m eu --header region=eu -n 5 -a -q
	t_wait 10 lines_ge 15 "$T_DIR/filter.$tr.out" || t_fail "$tr: filter: 15 eu messages not processed"
	sleep 0.3
	stop_members "$filt"
	t_eq "$tr: filter: exactly the eu messages" "$(seqs "$T_DIR/filter.$tr.out" | tr '\n' ' ')" \
		"$(seq -s ' ' 1 10) $(seq -s ' ' 21 25) "
	gcheck "$tr: filter: skipped messages counted (the position moves)" "$tp" work \
		filter_skipped -eq 10

	# --- a member that never acks is bounded by its credit; the others go on ------
	tp=gq.credit.$tr
	ctl topic create "$tp" >/dev/null || t_fail "$tr: topic create $tp"
	ctl group create "$tp" work --ack-wait-ms 60000 >/dev/null || t_fail "$tr: group create $tp"
	member "$tr" "$T_DIR/stuck.$tr.out" -t "$tp" --group work --member-id 1 -v --credit 5 \
		--no-ack -W 60
	stuck=$T_LAST
	member "$tr" "$T_DIR/ok.$tr.out" -t "$tp" --group work --member-id 2 -v -W 60
	okm=$T_LAST
	t_wait 10 gmembers_is "$tp" work 2 || t_fail "$tr: credit: 2 members not joined"
	t_pub -t "$tp" -m c -n 500 -a -q || t_fail "$tr: publish 500 to $tp"
	t_wait 10 lines_ge 495 "$T_DIR/ok.$tr.out" ||
		t_fail "$tr: credit: the acking member did not get the rest"
	sleep 0.3
	t_eq "$tr: credit: the member that never acks holds exactly its credit" \
		"$(wc -l <"$T_DIR/stuck.$tr.out")" 5
	t_eq "$tr: credit: the other member got all the rest" "$(wc -l <"$T_DIR/ok.$tr.out")" 495
	t_eq "$tr: credit: together every message once" \
		"$(seqs "$T_DIR/stuck.$tr.out" "$T_DIR/ok.$tr.out" | sort -nu | wc -l)" 500
	[ "$tr" == udp ] || stop_members "$stuck" "$okm"
done

# --- a hostile member: acks for what it does not hold are refused and counted -------
# It takes 3 new messages (credit 3) and acks, besides, a seq never given, one the
# stuck member holds, a GNAK of the never-given one and one of its own twice.
nh0=$(gval gq.credit.udp work ack_not_held)
other=$(seqs "$T_DIR/stuck.udp.out" | head -n 1)
ip netns exec "$T_TAG-cl" python3 "$SL_ROOT/tests/e2e/ghostile.py" "$T_NET.1" 9500 gq.credit.udp work 99 3 10 \
	"$other" >"$T_DIR/hostile.json" 2>"$T_DIR/hostile.err" &
host=$!
T_BG+=("$host")
t_wait 10 gmembers_is gq.credit.udp work 3 || t_fail "hostile member not joined"
t_pub -t gq.credit.udp -m h -n 10 -a -q || t_fail "publish 10 more to gq.credit.udp"
wait "$host" || t_fail "ghostile.py: $(cat "$T_DIR/hostile.err")"
t_check "hostile: the stuck member's five are still unsettled" \
	test "$(gval gq.credit.udp work inflight)" -ge 5
stop_members "$stuck" "$okm"
hj() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T_DIR/hostile.json" "$1"; }
t_eq "hostile: it was given its credit" "$(hj 'len(v["given"])')" 3
t_eq "hostile: after its one good ack, at most one more" "$(hj 'v["later"] <= 1')" True
t_eq "hostile: NOT_HELD for the never-given seq, the other member's, the GNAK, the second ack" \
	"$(hj 'sorted(v["not_held"]) == sorted([10**12, '"$other"', 10**12, v["given"][0]])')" True
gcheck "hostile: counted ack_not_held" gq.credit.udp work ack_not_held -eq $((nh0 + 4))

t_done
