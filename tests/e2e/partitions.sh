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
# names are refused with a message.
. "$(dirname "$0")/lib.sh"
SL_DP_CONF=$SL_ROOT/nic-configs/af_packet-2q.conf SL_DP_QUEUES=2 \
	t_start --set "journal_dir=$T_DIR/journal"
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$T_DIR/control" >>"$T_DIR/control.log" 2>&1 &
T_BG+=("$!")
t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
t_wait 10 bash -c "'$SL_BUILD/ctl/sluicectl' -n '$T_DP' dataplane status --json | grep -q '\"attached\":true'" ||
	t_fail "sluice-control did not attach to the dataplane"

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
ctl topic show pq --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["partitions"] == 4' ||
	t_fail "topic show: partitions"

# --- ordinary topics underneath, spread over both workers -----------------------------
for i in 0 1 2 3; do
	t_wait 5 bash -c "'$SL_ROOT/scripts/sluice-stats' -n '$T_DP' /sluice/topics 'pq#$i' --get owner \
		>/dev/null 2>&1" || t_fail "partition pq#$i not in the dataplane"
done
owners=$(for i in 0 1 2 3; do t_topic "pq#$i" owner; done | sort -u | wc -l)
t_eq "the partitions are owned by both workers" "$owners" 2

# --- an old client resolving the name is told, not given an id ------------------------
t_eq "RESOLVE without PARTS: SL_E_PARTITIONED (33), detail 4 partitions" \
	"$(sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/oldresolve.py" "$T_NET.1" 9500 pq)" "error 33 4"

# --- keyed messages: once each, in order per key, on their key's partition -------------
N=1000
t_sub_bg "$T_DIR/sub" -t pq -v --headers -C $((2 * N)) -W 60
sub=$T_LAST
t_wait 10 bash -c "for i in 0 1 2 3; do [ \"\$('$SL_ROOT/scripts/sluice-stats' -n '$T_DP' /sluice/topics \
	\"pq#\$i\" --get subscribers)\" == 1 ] || exit 1; done" || t_fail "subscriber not on every partition"
# Payload "u I" / "s I", key k<I mod 40>: two publishers, one per transport.
seq 0 $((N - 1)) | sed 's/^/u /' | t_pub -t pq -l --keys 40 -a -q --timeout 20000 ||
	t_fail "publish over UDP"
seq 0 $((N - 1)) | sed 's/^/s /' |
	"$SL_BUILD/client/sluice-pub" --shm "$T_DP" -t pq -l --keys 40 -a -q --timeout 20000 ||
	t_fail "publish over shared memory"
wait "$sub" || t_fail "subscriber: not every message within 60 s ($(wc -l <"$T_DIR/sub") lines)"

python3 - "$T_DIR/sub" "$N" <<'PY' || t_fail "deliveries"
import sys
M = (1 << 64) - 1
def khash(b):  # PROTOCOL.md 7.4
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & M
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M
    return h ^ (h >> 33)
n = int(sys.argv[2])
seen, last, parts = set(), {}, {}
for line in open(sys.argv[1]):
    # "pq#P SEQ [key=kK] PUB I"
    topic, seq, key, pub, i = line.split()
    assert key.startswith("[key=") and key.endswith("]"), line
    key, i = key[5:-1], int(i)
    assert (pub, i) not in seen, "duplicate " + line
    seen.add((pub, i))
    assert key == "k%d" % (i % 40), line
    p = int(topic.split("#")[1])
    assert p == khash(key.encode()) % 4, "on the wrong partition: " + line
    parts[p] = parts.get(p, 0) + 1
    assert last.get((pub, key), -1) < i, "out of order within key: " + line
    last[(pub, key)] = i
assert len(seen) == 2 * n, len(seen)
assert len(parts) == 4 and min(parts.values()) > 0, parts
print("deliveries ok:", sorted(parts.items()))
PY

# --- each partition's journal holds only its keys (replayed from the earliest) ---------
for i in 0 1 2 3; do
	t_sub -t "pq#$i" --headers --from earliest -W 10 -C \
		"$(t_topic "pq#$i" seq)" >"$T_DIR/replay.$i" 2>"$T_DIR/replay.$i.err" ||
		t_fail "replay of pq#$i"
done
python3 - "$T_DIR" "$N" <<'PY' || t_fail "journals"
import sys
M = (1 << 64) - 1
def khash(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & M
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M
    return h ^ (h >> 33)
total = 0
for p in range(4):
    for line in open("%s/replay.%d" % (sys.argv[1], p)):
        key = line.split()[0][5:-1]
        assert khash(key.encode()) % 4 == p, "partition %d holds key %s" % (p, key)
        total += 1
assert total == 2 * int(sys.argv[2]), total
PY

# --- a consumer group of the name: every message once, from all partitions -------------
ctl group create pq workers >/dev/null || t_fail "group create"
t_sub_bg "$T_DIR/g1" -t pq --group workers -v -W 60
g1=$T_LAST
t_sub_bg "$T_DIR/g2" -t pq --group workers -v -W 60
g2=$T_LAST
t_wait 10 bash -c "[ \$(ctl() { '$SL_BUILD/ctl/sluicectl' -n '$T_DP' \"\$@\"; }; \
	ctl group show 'pq#3' workers --json | python3 -c 'import json,sys; v=json.load(sys.stdin); \
	print(v.get(\"counters\", v)[\"members\"])') == 2 ]" || t_fail "members not on every partition"
seq 0 399 | sed 's/^/g /' | t_pub -t pq -l --keys 16 -a -q --timeout 20000 || t_fail "publish to group"
t_wait 30 bash -c "[ \$(cat '$T_DIR/g1' '$T_DIR/g2' | wc -l) -ge 400 ]" || t_fail "group: not all processed"
kill -TERM "$g1" "$g2" 2>/dev/null
wait "$g1" "$g2" 2>/dev/null
t_eq "group: each message once" "$(awk '{ print $NF }' "$T_DIR/g1" "$T_DIR/g2" | sort -u | wc -l)" 400
t_eq "group: no duplicate" "$(cat "$T_DIR/g1" "$T_DIR/g2" | wc -l)" 400

# --- deleted: the name and its partitions go ------------------------------------------
ctl topic delete pq >/dev/null || t_fail "topic delete pq"
t_wait 5 bash -c "! '$SL_ROOT/scripts/sluice-stats' -n '$T_DP' /sluice/topics 'pq#0' --get owner \
	>/dev/null 2>&1" || t_fail "partition pq#0 still there"
t_done
