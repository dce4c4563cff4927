#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end, a durable consumer group across a dataplane kill -9: one member
# acks everything, one holds ten messages unacknowledged; after kill -9 of
# the dataplane (and of both members) and a restart, the group resumes at
# its position with its unacknowledged set: a new member (over shared
# memory) gets exactly the ten held messages, as redeliveries, then the new
# ones, and none of the acknowledged ones again.
. "$(dirname "$0")/lib.sh"
jdir=$T_DIR/journal
dp_args=(--set "journal_dir=$jdir")
t_start "${dp_args[@]}"
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$T_DIR/control" >>"$T_DIR/control.log" 2>&1 &
T_BG+=("$!")
attached() { ctl dataplane status --json 2>/dev/null | grep -q '"attached":true'; }
t_wait 10 attached || t_fail "sluice-control did not attach to the dataplane"
gval() {
	ctl group show gd.q work --json |
		python3 -c 'import json,sys; v=json.load(sys.stdin); c=v.get("counters", v); print(c[sys.argv[1]])' "$1"
}
gval_is() { [ "$(gval "$1" 2>/dev/null)" == "$2" ]; }
lines_ge() { [ "$(cat "${@:2}" 2>/dev/null | wc -l)" -ge "$1" ]; }

ctl topic create gd.q --durability async >/dev/null || t_fail "topic create gd.q"
ctl group create gd.q work --durable --ack-wait-ms 60000 --grace-ms 60000 >/dev/null ||
	t_fail "group create --durable"
t_sub_bg "$T_DIR/ok.out" -t gd.q --group work --member-id 1 -v -W 60
okm=$T_LAST
t_sub_bg "$T_DIR/stuck.out" -t gd.q --group work --member-id 2 -v --no-ack --credit 10 -W 60
stuck=$T_LAST
t_wait 10 gval_is members 2 || t_fail "2 members not joined"
t_pub -t gd.q -m d -n 1000 -a -q || t_fail "publish 1000"
t_wait 20 lines_ge 990 "$T_DIR/ok.out" || t_fail "the acking member did not get 990"
t_wait 10 lines_ge 10 "$T_DIR/stuck.out" || t_fail "the stuck member did not get 10"
t_wait 10 gval_is acked 990 || t_fail "990 acks not settled"
t_check "the group's state file is there" test -n "$(find "$jdir" -name 'group-work.state' | head -n 1)"
sleep 0.5 # the state is saved within 10 ms of a change; give the snapshot time to land

kill -KILL "$SL_DP_PID" "$okm" "$stuck"
wait "$SL_DP_PID" 2>/dev/null
SL_DP_PID=
sl_dp_start "$T_TAG" "$T_DIR/dp.log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" \
	--set heartbeat_ms=200 --set session_timeout_ms=1000 "${dp_args[@]}" || t_fail "restart"
t_wait 10 attached || t_fail "sluice-control did not attach again"
t_wait 10 gval_is inflight 10 || t_fail "after the restart: the 10 unacknowledged are not held ($(gval inflight))"
t_eq "after the restart: nothing acknowledged before is pending" "$(gval pending)" 0

t_ssub_bg "$T_DIR/new.out" -t gd.q --group work --member-id 3 -v -W 60
newm=$T_LAST
t_wait 10 lines_ge 10 "$T_DIR/new.out" || t_fail "the new member did not get the 10 held messages"
t_pub -t gd.q -m e -n 100 -a -q || t_fail "publish 100 after the restart"
t_wait 10 lines_ge 110 "$T_DIR/new.out" || t_fail "the new member did not get the 100 new ones"
sleep 0.3
kill -TERM "$newm"
wait "$newm" 2>/dev/null
t_eq "the new member: the 10 held seqs, then 1001..1100, each once" \
	"$(awk '{ print $2 }' "$T_DIR/new.out" | sort -n | tr '\n' ' ')" \
	"$(awk '{ print $2 }' "$T_DIR/stuck.out" | sort -n | tr '\n' ' ')$(seq -s ' ' 1001 1100) "
t_ge "the held ones came back as redeliveries" "$(gval redelivered)" 10
t_done
