#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end, partitioned topics (sluicectl -> sluice-control -> a dataplane
# with two workers): a topic of 4 partitions is 4 ordinary topics owned by
# both workers; 2,000 keyed messages from two publishers (UDP and shared
# memory) reach a subscriber of the name each exactly once, in order per
# key, each on the partition its key hashes to, and each partition's
# journal holds only its keys; a consumer group of the name gets every
# message once; a client that does not ask for the partition map is told
# (SL_E_PARTITIONED), never given the name's id; bad counts and clashing
# names (in control's state, or topics clients made) are refused with a
# message.
. "$(dirname "$0")/lib.sh"
SL_DP_CONF=$SL_ROOT/nic-configs/af_packet-2q.conf SL_DP_QUEUES=2 \
	t_start --set "journal_dir=$T_DIR/journal"
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
t_control_up "$T_DIR/control"
# on_all_partitions CMD ARGS: CMD pq#I ARGS holds for I = 0..3.
on_all_partitions() {
	local i
	for i in 0 1 2 3; do "$1" "pq#$i" "${@:2}" || return 1; done
}
has_topic() { t_topic "$1" owner >/dev/null 2>&1; }
gone() { ! has_topic "$1"; }
# members_are TOPIC N: group "workers" of TOPIC has N members.
members_are() {
	[ "$(ctl group show "$1" workers --json 2>/dev/null | python3 -c \
		'import json,sys; v=json.load(sys.stdin); print(v.get("counters", v)["members"])' \
		2>/dev/null)" == "$2" ]
}

# --- bad counts and clashing names: refused, with the reason -------------------------
ctl topic create pq --partitions 0 >/dev/null 2>"$T_DIR/err"
t_eq "--partitions 0: usage error" "$?" 2
grep -q "from 1 to 64" "$T_DIR/err" || t_fail "--partitions 0: message: $(cat "$T_DIR/err")"
ctl topic create pq --partitions 65 >/dev/null 2>&1
t_eq "--partitions 65: usage error" "$?" 2
ctl topic create pq --partitions 4 --durability sync >/dev/null || t_fail "topic create pq"
ctl topic create "pq#1" >/dev/null 2>"$T_DIR/err"
t_eq "an ordinary topic under a partition's name: refused" "$?" 1
grep -q "partition of partitioned topic 'pq'" "$T_DIR/err" || t_fail "clash message: $(cat "$T_DIR/err")"
ctl topic delete "pq#2" >/dev/null 2>"$T_DIR/err"
t_eq "deleting one partition: refused" "$?" 1
# A partition's name that a client already made a topic of: not taken over.
t_pub -t "pz#1" -m x -q || t_fail "publish to pz#1"
t_wait 5 ctl topic show "pz#1" >/dev/null 2>&1 || t_fail "control does not see pz#1"
ctl topic create pz --partitions 2 >/dev/null 2>"$T_DIR/err"
t_eq "a partition's name a client holds: refused" "$?" 1
grep -q "needs that name for its partition 1" "$T_DIR/err" || t_fail "message: $(cat "$T_DIR/err")"
ctl topic show pq --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["partitions"] == 4' ||
	t_fail "topic show: partitions"

# --- ordinary topics underneath, spread over both workers -----------------------------
t_wait 5 on_all_partitions has_topic || t_fail "a partition is not in the dataplane"
owners=$(for i in 0 1 2 3; do t_topic "pq#$i" owner; done | sort -u | wc -l)
t_eq "the partitions are owned by both workers" "$owners" 2

# --- an old client resolving the name is told, not given an id ------------------------
t_eq "RESOLVE without PARTS: SL_E_PARTITIONED (33), detail 4 partitions" \
	"$(sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/oldresolve.py" "$T_NET.1" 9500 pq)" "error 33 4"

# --- keyed messages: once each, in order per key, on their key's partition -------------
N=1000
t_sub_bg "$T_DIR/sub" -t pq -v --headers -C $((2 * N)) -W 60
sub=$T_LAST
t_wait 10 on_all_partitions t_nsubs_is 1 || t_fail "subscriber not on every partition"
# Payload "u I" / "s I", key k<I mod 40>: two publishers, one per transport.
seq 0 $((N - 1)) | sed 's/^/u /' | t_pub -t pq -l --keys 40 -a -q --timeout 20000 ||
	t_fail "publish over UDP"
seq 0 $((N - 1)) | sed 's/^/s /' |
	"$SL_BUILD/client/sluice-pub" --shm "$T_DP" -t pq -l --keys 40 -a -q --timeout 20000 ||
	t_fail "publish over shared memory"
wait "$sub" || t_fail "subscriber: not every message within 60 s ($(wc -l <"$T_DIR/sub") lines)"

python3 "$SL_ROOT/tests/e2e/partcheck.py" live "$T_DIR/sub" "$N" || t_fail "deliveries"

# --- each partition's journal holds only its keys (replayed from the earliest) ---------
for i in 0 1 2 3; do
	t_sub -t "pq#$i" --headers --from earliest -W 10 -C \
		"$(t_topic "pq#$i" seq)" >"$T_DIR/replay.$i" 2>"$T_DIR/replay.$i.err" ||
		t_fail "replay of pq#$i"
done
python3 "$SL_ROOT/tests/e2e/partcheck.py" journal "$T_DIR" "$N" || t_fail "journals"

# --- a consumer group of the name: every message once, from all partitions -------------
ctl group create pq workers >/dev/null || t_fail "group create"
t_sub_bg "$T_DIR/g1" -t pq --group workers -v -W 60
g1=$T_LAST
t_sub_bg "$T_DIR/g2" -t pq --group workers -v -W 60
g2=$T_LAST
t_wait 10 on_all_partitions members_are 2 || t_fail "members not on every partition"
seq 0 399 | sed 's/^/g /' | t_pub -t pq -l --keys 16 -a -q --timeout 20000 || t_fail "publish to group"
t_wait 30 bash -c "[ \$(cat '$T_DIR/g1' '$T_DIR/g2' | wc -l) -ge 400 ]" || t_fail "group: not all processed"
kill -TERM "$g1" "$g2" 2>/dev/null
wait "$g1" "$g2" 2>/dev/null
t_eq "group: each message once" "$(awk '{ print $NF }' "$T_DIR/g1" "$T_DIR/g2" | sort -u | wc -l)" 400
t_eq "group: no duplicate" "$(cat "$T_DIR/g1" "$T_DIR/g2" | wc -l)" 400

# --- deleted: the name and its partitions go ------------------------------------------
ctl topic delete pq >/dev/null || t_fail "topic delete pq"
t_wait 5 on_all_partitions gone || t_fail "a partition is still there"
gone pq || t_fail "the name is still there"
t_done
