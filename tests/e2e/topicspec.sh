#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A topic's deletion and spec last across restarts of the dataplane and of
# sluice-control: a deleted durable topic stays deleted (its journal is
# gone; created again, its name starts at sequence 1 with nothing to
# replay), also when a crash interrupted the deletion; retention, capacity
# and back-pressure set with topic create or topic update are applied live,
# saved beside the journal and in control's state, and come back after
# restarts; topic update refuses a durability change; a spec file of the
# old format loads, a damaged one is reported and its topic still loads.
. "$(dirname "$0")/lib.sh"
jdir=$T_DIR/journal
dp_args=(--set "journal_dir=$jdir" --set segment_mb=1 --set durability=none
	--set "durability_rules=rule.*=async")
t_start "${dp_args[@]}"
ctl_dir=$T_DIR/control
CTL_PID=
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
ctl_start() {
	"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$ctl_dir" --metrics off \
		>>"$T_DIR/control.log" 2>&1 &
	CTL_PID=$!
	T_BG+=("$CTL_PID")
	t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
	t_wait 10 synced || t_fail "sluice-control did not sync with the dataplane"
}
ctl_stop() {
	kill -TERM "$CTL_PID"
	wait "$CTL_PID" || t_fail "sluice-control exit status $?"
}
synced() { ctl dataplane status --json 2>/dev/null | grep -q '"synced":true'; }
dp_restart() { # extra args
	if [ -n "$SL_DP_PID" ]; then
		sl_dp_stop
		[ "$SL_DP_RC" == 0 ] || t_fail "dataplane exit status $SL_DP_RC after SIGTERM"
	fi
	sl_dp_start "$T_TAG" "$T_DIR/dp.log" --name "$T_DP" --idle backoff \
		--set "port0.ip=$T_NET.1" --set heartbeat_ms=200 --set session_timeout_ms=1000 \
		"${dp_args[@]}" "$@" || { t_fail "dataplane restart"; exit 1; }
}
# live NAME FIELD: a field of a live (not deleted) topic in the dataplane's
# counters area, read from its CnC region (docs/COUNTERS.md) so that no
# sluice-control is needed; "-" when there is no such topic.
live() {
	python3 "$SL_ROOT/tests/e2e/cnc_counters.py" "/run/sluice/$T_DP/cnc" topic |
		python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin) if t["name"] == sys.argv[1] and not t["deleted"]]
print(t[0][sys.argv[2]] if t else "-")' "$1" "$2"
}
jget() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(*(v[k] for k in sys.argv[1:]))' "$@"; }
pub() { t_pub -q -a --timeout 2000 "$@"; }
seqs() { awk '{ printf "%s ", $2 }' "$1"; }
MB=1048576
ctl_start

# --- before the restarts: a deletion, a spec set at create and changed by update ------------
ctl topic create del.me --durability sync >/dev/null || t_fail "topic create del.me"
pub -t del.me -m old -n 20 || t_fail "publish to del.me"
t_eq "del.me holds 20 messages" "$(live del.me seq)" 20
t_check "its journal is on disk" test -d "$jdir/del.me"
ctl topic delete del.me >/dev/null || t_fail "topic delete del.me"
t_check "deleted: its journal directory is gone when the delete returns" test ! -e "$jdir/del.me"
t_eq "and no tombstone is left" "$(find "$jdir" -maxdepth 1 -name '.deleted.*' | wc -l)" 0

ctl topic create spec.a --durability async --retain-mb 7 --retain-s 3600 --capacity-mb 64 \
	--backpressure block >/dev/null || t_fail "topic create spec.a"
t_eq "create: retention, capacity and back-pressure applied" \
	"$(live spec.a retain_bytes) $(live spec.a retain_age_s) $(live spec.a capacity_bytes) $(live spec.a backpressure)" \
	"$((7 * MB)) 3600 $((64 * MB)) block"
pub -t spec.a -m a -n 3 || t_fail "publish to spec.a"
ctl topic update spec.a --retain-mb 5 --capacity-mb 32 --backpressure drop >"$T_DIR/upd.out" ||
	t_fail "topic update spec.a"
t_check "update says so" grep -q "updated topic spec.a" "$T_DIR/upd.out"
t_eq "update: applied live, retain_s kept" \
	"$(live spec.a retain_bytes) $(live spec.a retain_age_s) $(live spec.a capacity_bytes) $(live spec.a backpressure)" \
	"$((5 * MB)) 3600 $((32 * MB)) drop"
t_check "saved beside the journal" grep -q "^retain_bytes = $((5 * MB))$" "$jdir/spec.a/policy"

# Refusals, exit codes per sluicectl's rules, nothing changed.
ctl topic update spec.a --durability sync >/dev/null 2>"$T_DIR/dur.err"
t_eq "durability change refused (exit 1)" "$?" 1
t_check "... saying why and what to do" \
	grep -q "cannot change while the topic exists.*delete the topic" "$T_DIR/dur.err"
t_eq "... and nothing changed" "$(live spec.a durability)" async
ctl topic update spec.a >/dev/null 2>"$T_DIR/none.err"
t_eq "nothing to update: usage error (exit 2)" "$?" 2
ctl topic update no.such --retain-mb 1 >/dev/null 2>&1
t_eq "unknown topic: not found (exit 4)" "$?" 4
ctl topic update spec.a --retain-mb x >/dev/null 2>&1
t_eq "bad number: usage error (exit 2)" "$?" 2

# Retention lowered live deletes segments at the owner's next retention pass.
ctl topic create spec.r --durability async >/dev/null || t_fail "topic create spec.r"
head -c 1300 /dev/zero | tr '\0' r >"$T_DIR/big"
pub -t spec.r -f "$T_DIR/big" -n 2000 || t_fail "fill spec.r"
t_eq "spec.r keeps everything at first" "$(live spec.r journal_first)" 1
ctl topic update spec.r --retain-mb 1 >/dev/null || t_fail "update spec.r --retain-mb 1"
first_moved() { [ "$(live spec.r journal_first)" -gt 1 ]; }
t_wait 10 first_moved
t_check "lowered retention applies to the live journal" first_moved

# --- restart the dataplane without sluice-control, then control -------------------------------
ctl_stop
dp_restart
t_eq "dataplane restart: the deleted topic is still gone" "$(live del.me seq)" -
t_eq "dataplane restart without control: the spec is restored from its journal directory" \
	"$(live spec.a durability) $(live spec.a retain_bytes) $(live spec.a retain_age_s) $(live spec.a capacity_bytes) $(live spec.a backpressure) $(live spec.a seq)" \
	"async $((5 * MB)) 3600 $((32 * MB)) drop 3"
ctl_start
t_eq "control restart: the deleted topic is still gone" "$(live del.me seq)" -
ctl topic show del.me >/dev/null 2>&1
t_eq "sluicectl: not found" "$?" 4
t_eq "control restart: its state holds the update" \
	"$(ctl --json topic show spec.a | jget retain_mb retain_s capacity_mb backpressure backpressure_applied)" \
	"5 3600 32 drop drop"
t_eq "and the resync kept the dataplane's" "$(live spec.a capacity_bytes)" $((32 * MB))
ctl topic create del.me --durability sync >/dev/null || t_fail "create del.me again"
t_eq "created again: sequence 0" "$(live del.me seq)" 0
t_sub -t del.me --from earliest -C 1 -W 2 -v >"$T_DIR/del.replay" 2>/dev/null
t_eq "nothing of the old topic to replay" "$(wc -l <"$T_DIR/del.replay")" 0
pub -t del.me -m new || t_fail "publish to the new del.me"
t_sub -t del.me --from earliest -C 1 -W 5 -v >"$T_DIR/del.new" 2>/dev/null
t_eq "its first message is sequence 1, the new one" "$(cat "$T_DIR/del.new")" "del.me 1 new"

# --- an interrupted deletion, old and damaged spec files ------------------------------------
pub -t rule.crash -m x -n 5 || t_fail "publish to rule.crash"
pub -t rule.old -m o -n 4 || t_fail "publish to rule.old"
pub -t rule.bad -m b -n 6 || t_fail "publish to rule.bad"
t_eq "rule.* journaled by the rules" "$(live rule.crash durability)" async
sl_dp_stop
detached() { ctl dataplane status --json | grep -q '"attached":false'; }
t_wait 10 detached || t_fail "sluice-control did not notice the dataplane stop"
ctl topic delete del.me >/dev/null 2>"$T_DIR/detached.err"
t_eq "no dataplane attached: a delete is refused (exit 1)" "$?" 1
t_check "... saying why" grep -q "no dataplane is attached" "$T_DIR/detached.err"
ctl_stop
# A crash after the rename, before the removal, leaves a tombstone.
mv "$jdir/rule.crash" "$jdir/.deleted.1.0" || t_fail "make a tombstone"
printf 'durability = sync\n' >"$jdir/rule.old/policy"
sed -i 's/^retain_bytes = 0$/retain_bytes = 1/' "$jdir/rule.bad/policy"
cp "$jdir/rule.bad/policy" "$T_DIR/bad.policy"
dp_restart
t_eq "a tombstone is never loaded as a topic" "$(live rule.crash seq)" -
t_check "and is removed at start" test ! -e "$jdir/.deleted.1.0"
t_eq "a version 1 spec file still loads (its durability, not the rules')" \
	"$(live rule.old durability) $(live rule.old seq)" "sync 4"
t_check "... and is rewritten in the current format" grep -q "^version = 2$" "$jdir/rule.old/policy"
t_eq "a damaged spec file: the topic still loads, by the rules" \
	"$(live rule.bad durability) $(live rule.bad seq)" "async 6"
t_check "... the damage is reported, naming the file" \
	grep -q "rule.bad/policy not read: checksum mismatch" "$T_DIR/dp.log"
t_check "... and the file is left as it was" cmp -s "$jdir/rule.bad/policy" "$T_DIR/bad.policy"
t_eq "the refused delete left del.me as it was" "$(live del.me seq)" 1
ctl_start
t_eq "and still managed by control" "$(ctl --json topic show del.me | jget managed)" True
t_done
