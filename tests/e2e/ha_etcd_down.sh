#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A broker pair under a sync-acknowledged load, without etcd, then with its
# standby restarted:
#   etcd-down        etcd stopped for HA_DOWN_S seconds (default 3) with both
#                    nodes healthy: the pair keeps serving (ACKs go on, same
#                    epoch, same roles), both nodes report etcd unreachable,
#                    and what cannot happen until etcd is back does not: a
#                    forced promotion is refused (docs/HA.md "While etcd is
#                    down"). etcd is started again on the same data and ports,
#                    and both nodes see it again.
#   standby-restart  the standby killed (-9) and, HA_DOWN_S seconds later,
#                    started again: the primary acknowledges alone meanwhile;
#                    the restarted node catches up (sluicectl ha status
#                    --json: catchup done/total), its lag returns to 0, and
#                    etcd records it in sync again.
# At the end (tests/e2e/ha_check.py): every acknowledged message is on the
# primary exactly once, no sequence number holds two payloads on the two
# nodes, the subscriber lost nothing and got no duplicate. HA_REPORT=FILE:
# one JSON line of the numbers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"
. "$(dirname "$0")/lib_ha_load.sh"
down_s=${HA_DOWN_S:-3}

ctl_json() { timeout 5 "$SL_BUILD/ctl/sluicectl" -n "$(ha_name "$1")" ha status --json 2>/dev/null; }
# etcd_seen NODE true|false: NODE's sluice-control says whether etcd answers.
etcd_seen() { [ "$(ctl_json "$1" | jq -r '.etcd.reachable')" == "$2" ]; }
both_etcd_up() { etcd_seen a true && etcd_seen b true; }
json_true() { jq -e "$2" <<<"$1" >/dev/null; } # json_true JSON FILTER
roles_kept() { ha_role_is "$1" primary && ha_role_is "$2" standby; }
lag_zero() { [ "$(ha_state "$1" lag_records)" == 0 ]; }
not_solo() { [ "$(ctl_json "$1" | jq -r .solo)" == false ]; }

hl_up

# etcd down, both nodes healthy.
if hl_settle; then
	p=$HL_P s=$HL_S
	n0=$(hl_acked)
	t_cut=$(hl_now)
	ha_etcd_down
	t_done=$(hl_now)
	t_check "etcd-down: the primary ($p) sees etcd unreachable" t_wait 5 etcd_seen "$p" false
	t_check "etcd-down: the standby ($s) sees etcd unreachable" t_wait 5 etcd_seen "$s" false
	out=$(timeout 10 "$SL_BUILD/ctl/sluicectl" -n "$(ha_name "$s")" ha promote --force 2>&1)
	t_log "etcd-down: sluicectl ha promote --force on the standby: $out"
	t_check "etcd-down: a forced promotion is refused while etcd is down" \
		grep -q "etcd is not reachable" <<<"$out"
	sleep "$down_s"
	t_check "etcd-down: roles kept ($p primary, $s standby)" roles_kept "$p" "$s"
	t_check "etcd-down: the primary is not fenced" test "$(ha_fenced "$p")" == 0
	t_heal=$(hl_now)
	n1=$(hl_acked)
	ha_etcd_restart || { t_fail "etcd did not start again"; exit 1; }
	t_log "etcd-down: $((n1 - n0)) acknowledged in $(((t_heal - t_cut) / 1000000)) ms without etcd"
	t_check "etcd-down: both nodes see etcd again" t_wait 10 both_etcd_up
	hl_scenario etcd-down serve "$t_cut" "$t_done" "$t_heal" "$HL_E" -1
fi

# The standby restarted during the load.
if hl_settle; then
	p=$HL_P s=$HL_S
	t_cut=$(hl_now)
	ha_kill "$s"
	t_done=$(hl_now)
	t_check "standby-restart: etcd records $s out of sync" t_wait 10 t_not ha_in_sync
	sleep "$down_s"
	n_behind=$(ha_state "$p" lag_records)
	t_heal=$(hl_now)
	ha_dp_start "$s" && ha_ctl_start "$s" || { t_fail "standby-restart: restart of $s"; exit 1; }
	# Catch-up progress as sluicectl shows it, until etcd records it in sync.
	seen=
	for ((i = 0; i < 300; i++)); do
		j=$(ctl_json "$s") && seen+="$(jq -c '[.role, .catchup.done, .catchup.total]' <<<"$j") "
		hl_standby_ready "$s" && break
		sleep 0.1
	done
	t_log "standby-restart: $p's lag while $s was down: $n_behind records; $s's catch-up (role, done," \
		"total) as sluicectl showed it: $(tr ' ' '\n' <<<"$seen" | uniq | head -n 12 | tr '\n' ' ')"
	t_check "standby-restart: $s rejoined as the in-sync standby" hl_standby_ready "$s"
	j=$(ctl_json "$s")
	t_log "standby-restart: $s catch-up $(jq -c .catchup <<<"$j")"
	t_check "standby-restart: $s caught up records it lacked (catchup.total > 0, done >= total)" \
		json_true "$j" '.catchup.total > 0 and .catchup.done >= .catchup.total'
	t_check "standby-restart: the primary's lag returns to 0 records" t_wait 10 lag_zero "$p"
	t_check "standby-restart: the primary no longer acknowledges alone" t_wait 10 not_solo "$p"
	hl_scenario standby-restart restart "$t_cut" "$t_done" "$t_heal" "$HL_E" -1
fi

hl_settle || true
hl_finish
t_done
