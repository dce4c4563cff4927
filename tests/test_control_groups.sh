#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Consumer groups through the real sluice-control and sluicectl, against a fake dataplane
# process (fake_dataplane.c): the CnC commands sent, the dataplane's refusals reported, the
# group counters read, the groups kept in state.json and resent on a resync, the consume right.
set -u

B=${SL_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
CTL=$B/ctl/sluicectl
CONTROL=$B/control/sluice-control
FAKE=$B/tests/fake_dataplane
for f in "$CTL" "$CONTROL" "$FAKE"; do [ -x "$f" ] || { echo "FAIL: $f not built"; exit 1; }; done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the CnC region lives under /run/sluice (root)"; exit 77; }

NAME=ctlgroups$$
T=$(mktemp -d /tmp/sl-ctlgroups.XXXXXX)
SOCK=$T/control.sock
DPLOG=$T/dp.log
DP=0
CP=0
cleanup() {
	[ "$DP" -ne 0 ] && kill "$DP" 2>/dev/null && wait "$DP" 2>/dev/null
	[ "$CP" -ne 0 ] && kill "$CP" 2>/dev/null && wait "$CP" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"; rm -rf "/run/sluice/$NAME"
}
trap cleanup EXIT

FAILS=0
CASE=""
fail() { echo "FAIL [$CASE]: $*"; echo "  stdout: $(head -c 1500 "$T/out")"; \
	echo "  stderr: $(head -c 1500 "$T/err")"; FAILS=$((FAILS + 1)); }
ctl() { CASE="sluicectl $*"; "$CTL" -s "$SOCK" "$@" >"$T/out" 2>"$T/err"; RC=$?; }
rc_is() { [ "$RC" -eq "$1" ] || fail "exit status $RC, expected $1"; }
out_has() { grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1'"; }
err_has() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1'"; }
dp_has() { grep -qxF -- "$1" "$DPLOG" || fail "the dataplane did not get '$1'"; }
out_json() {
	python3 -I -S - "$T/out" "$1" <<'EOF' || fail "--json output: $1"
import json, sys
v = json.loads(open(sys.argv[1]).read())
assert eval(sys.argv[2]), sys.argv[2]
EOF
}

start_dp() {
	"$FAKE" "$NAME" "$DPLOG" 2>"$T/dp.err" &
	DP=$!
}
# Until dataplane.status holds TEXT (5 s at most).
wait_status() {
	for _ in $(seq 100); do
		"$CTL" -s "$SOCK" --json dataplane status >"$T/out" 2>/dev/null &&
			grep -q "$1" "$T/out" && return 0
		sleep 0.05
	done
	CASE="wait_status"; fail "no $1 within 5 s"
}
# Stop it, and wait until sluice-control has noticed (the region is gone).
stop_dp() {
	kill "$DP"; wait "$DP" 2>/dev/null; DP=0
	wait_status '"attached":false'
}
start_control() {
	# No metrics listener: a fixed port would collide with any other sluice-control here.
	"$CONTROL" -n "$NAME" --state-dir "$T/state" --socket "$SOCK" --metrics off 2>"$T/control.err" &
	CP=$!
	for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.05; done
	echo "FAIL: sluice-control did not listen"; cat "$T/control.err"; exit 1
}
# Until the last resync the dataplane saw is complete.
wait_synced() { wait_status '"synced":true'; }
# Until the group counters of TOPIC GROUP show LABEL = VALUE (sampled every 50 ms).
wait_counter() {
	for _ in $(seq 40); do
		"$CTL" -s "$SOCK" --json group show "$1" "$2" >"$T/out" 2>/dev/null &&
			python3 -I -S -c 'import json,sys; v=json.load(open(sys.argv[1])); sys.exit(0 if v.get(sys.argv[2]) == int(sys.argv[3]) else 1)' "$T/out" "$3" "$4" && return 0
		sleep 0.05
	done
	CASE="wait_counter $*"; fail "not seen"
}

start_dp
start_control
wait_synced
ctl topic create jobs --durability sync; rc_is 0
ctl topic create mem; rc_is 0
dp_has "TOPIC_UPSERT jobs"

# --- create: the command, its settings, the dataplane's answers ---
ctl group create jobs workers --durable --policy key --ack-wait-ms 700 --max-deliveries 3 \
	--dead-letter jobs.dead --grace-ms 250 --max-inflight 64; rc_is 0
dp_has "GROUP_UPSERT jobs workers policy=3 flags=1 ack_wait=700 max_del=3 grace=250 inflight=64 dl=jobs.dead"
ctl group create mem fast; rc_is 0
dp_has "GROUP_UPSERT mem fast policy=1 flags=0 ack_wait=30000 max_del=5 grace=5000 inflight=0 dl=-"
ctl group create client.t g1; rc_is 0 # a topic only the dataplane knows
ctl group create nosuch g; rc_is 4; err_has "no topic 'nosuch': create it first"
ctl group create mem d --durable; rc_is 1; err_has "durability none"
ctl group create jobs workers; rc_is 1; err_has "has a group 'workers' already"
# The dataplane reloaded "legacy" as durable: an in-memory one is refused there.
ctl group create jobs legacy; rc_is 1
err_has "stored, but the dataplane refused: group 'legacy' differs in durability"
err_has "(Operation not permitted)"
ctl topic create refuse.x; rc_is 1
ctl group create refuse.x g; rc_is 1
err_has "stored, but the dataplane refused: unknown topic 'refuse.x' (No such file or directory)"
# Deleting what the dataplane lacks is done (its ENOENT is no failure).
ctl group delete refuse.x g; rc_is 0; dp_has "GROUP_DELETE refuse.x g"
ctl group delete refuse.x g; rc_is 4

# --- update: the whole spec sent again; durability fixed ---
ctl group update mem fast --policy least --grace-ms 9 --dead-letter mem.dl; rc_is 0
dp_has "GROUP_UPSERT mem fast policy=2 flags=0 ack_wait=30000 max_del=5 grace=9 inflight=0 dl=mem.dl"
ctl group update mem fast --dead-letter ''; rc_is 0
dp_has "GROUP_UPSERT mem fast policy=2 flags=0 ack_wait=30000 max_del=5 grace=9 inflight=0 dl=-"
ctl group update mem fast --retain; rc_is 1; err_has "retain needs a durable group"
ctl group update jobs workers --no-retain --max-inflight 65; rc_is 0
dp_has "GROUP_UPSERT jobs workers policy=3 flags=1 ack_wait=700 max_del=3 grace=250 inflight=65 dl=jobs.dead"
ctl group update jobs nosuch --grace-ms 1; rc_is 4
ctl group update client.t g1; rc_is 2

# --- list and show: settings merged with the group and gmember slots ---
wait_counter jobs workers delivered 10
ctl --json group show jobs workers; rc_is 0
out_json 'v["policy"] == "key" and v["durable"] and v["managed"] and v["live"] and v["members"] == 1 and v["member_list"][0]["member"] == "00000000000000a1" and v["member_list"][0]["state"] == 1 and v["acked"] == 9'
ctl group show jobs workers; rc_is 0; out_has "dead_letter:"; out_has "jobs.dead"
grep -Eq "^00000000000000a1 +active +1 +0 +10 +9 +0$" "$T/out" || fail "member row"
ctl --json group list jobs; rc_is 0
out_json 'sorted(g["name"] for g in v) == ["legacy", "workers"]'
out_json '[g["managed"] for g in v if g["name"] == "legacy"] == [True]'
ctl --json group list; rc_is 0
out_json '{(g["topic"], g["name"]) for g in v} >= {("jobs", "workers"), ("mem", "fast"), ("client.t", "g1")}'
ctl group show jobs nosuch; rc_is 4
ctl --json stats; rc_is 0
out_json '[g["delivered"] for g in v["groups"] if g["topic"] == "jobs" and g["group"] == "workers"] == [10]'

# --- reset: sent, not stored; checked before ---
ctl group reset jobs workers --to 42; rc_is 0
dp_has "GROUP_RESET jobs workers how=3 arg=42"
wait_counter jobs workers cursor 42
ctl group reset jobs workers --to 2026-12-05T10:00:00Z; rc_is 0
dp_has "GROUP_RESET jobs workers how=4 arg=1796464800000000000"
ctl group reset jobs workers --to earliest; rc_is 0; dp_has "GROUP_RESET jobs workers how=1 arg=0"
wait_counter jobs workers reset_dropped 3
ctl group reset mem fast --to 2026-12-05T10:00:00Z; rc_is 1; err_has "durability none"
ctl group reset jobs nosuch --to latest; rc_is 4

# --- the consume right, with and without a group ---
ctl user add w; rc_is 0
ctl acl set w 'jobs' sub,consume --group workers; rc_is 0
dp_has "ACL_SET 1 jobs 10 workers"
ctl acl grant w 'mem' consume; rc_is 0
dp_has "ACL_SET 1 mem 8 -"
ctl --json acl list w; rc_is 0
out_json '{"user": "w", "pattern": "jobs", "perms": ["sub", "consume"], "group": "workers"} in v'

# --- state.json keeps them; a new dataplane gets them all at its resync ---
python3 -I -S - "$T/state/state.json" <<'EOF' || { CASE=state.json; fail "groups not saved"; }
import json, sys
s = json.load(open(sys.argv[1]))
assert s["version"] == 4
g = {(x["topic"], x["name"]): x for x in s["groups"]}
assert g[("jobs", "workers")]["durable"] and g[("jobs", "workers")]["ack_wait_ms"] == 700
assert g[("jobs", "workers")]["max_inflight"] == 65 and g[("mem", "fast")]["policy"] == "least"
assert ("mem", "fast") in g and ("client.t", "g1") in g
assert {"user": "w", "pattern": "jobs", "perms": ["sub", "consume"], "group": "workers"} in s["acls"]
EOF
stop_dp
: >"$DPLOG"
# No dataplane: a durable group's deletion is refused, an in-memory one goes.
ctl group delete jobs workers; rc_is 1; err_has "no dataplane is attached"
ctl group create mem gone; rc_is 0
ctl group delete mem gone; rc_is 0
start_dp
wait_synced
dp_has "GROUP_UPSERT jobs workers policy=3 flags=1 ack_wait=700 max_del=3 grace=250 inflight=65 dl=jobs.dead"
dp_has "GROUP_UPSERT mem fast policy=2 flags=0 ack_wait=30000 max_del=5 grace=9 inflight=0 dl=-"
dp_has "GROUP_UPSERT client.t g1 policy=1 flags=0 ack_wait=30000 max_del=5 grace=5000 inflight=0 dl=-"
dp_has "ACL_SET 1 jobs 10 workers"
CASE="resync order"
python3 -I -S - "$DPLOG" <<'EOF' || fail "groups not after the topics and before SYNC_END"
import sys
lines = open(sys.argv[1]).read().splitlines()
t = max(i for i, l in enumerate(lines) if l.startswith("TOPIC_UPSERT"))
g = [i for i, l in enumerate(lines) if l.startswith("GROUP_UPSERT")]
e = max(i for i, l in enumerate(lines) if l == "SYNC_END")
assert g and t < min(g) and max(g) < e
assert not any("mem gone" in l for l in lines)
EOF
# A restart of sluice-control: the state file brings them back.
kill -9 "$CP"; wait "$CP" 2>/dev/null; CP=0
rm -f "$SOCK"
start_control
wait_synced
ctl --json group list mem; rc_is 0; out_json '[g["name"] for g in v] == ["fast"]'

# --- delete: one group; a topic's deletion takes its groups ---
ctl group delete jobs workers; rc_is 0; dp_has "GROUP_DELETE jobs workers"
ctl group delete jobs workers; rc_is 4
ctl topic delete mem; rc_is 0
ctl --json group list; rc_is 0; out_json 'not any(g["topic"] == "mem" for g in v)'
# A topic a client created: its deletion takes its groups from the state too.
ctl topic delete client.t; rc_is 0
ctl --json group list; rc_is 0; out_json 'not any(g["topic"] == "client.t" for g in v)'
python3 -I -S -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(any(g["topic"] == "client.t" for g in s["groups"]))' "$T/state/state.json" || { CASE="topic delete client.t"; fail "its group stayed in state.json"; }

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all control group checks passed"
