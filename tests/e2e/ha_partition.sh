#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Partitions of a broker pair under a sync-acknowledged load: the pair's link
# cut on the bridge (both nodes still reach the clients, neither the other),
# and each node's own path to etcd cut or not (lib_ha.sh: a relay per node).
# In turn, each cut lasting HA_CUT_S seconds (default 1.5) and then healed:
#   primary-cut  the primary loses its standby and etcd, the standby keeps
#                etcd: the primary fences itself within the lease L, the
#                standby takes over no sooner than L after the cut, and the
#                old primary's last ACK comes before the new one's first;
#   standby-cut  the standby loses the primary and etcd: the primary records
#                it out of sync and acknowledges alone, no promotion;
#   etcd-neither the link is cut and neither node reaches etcd: the primary
#                stops acknowledging within L, nobody is promoted; after the
#                heal, ACKs resume.
# After each heal the cut-off node rejoins as the in-sync standby before the
# next cut. At the end (tests/e2e/ha_check.py): every acknowledged message is
# on the last primary exactly once, no sequence number holds two payloads on
# the two nodes, the subscriber lost nothing and got no duplicate; per cut,
# the numbers (ACKs, fence time, time without an ACK). HA_REPORT=FILE: one
# JSON line of them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"
. "$(dirname "$0")/lib_ha_load.sh"
cut_s=${HA_CUT_S:-1.5}

json_is() { jq -e "${@:2}" <<<"$1" >/dev/null; } # json_is JSON jq-args... FILTER
heard_none() { python3 -c 'import sys; sys.exit(0 <= float(sys.argv[1]) < 1000)' "${HEARD[$1]}"; }

# part NAME KIND WHO: one cut of the pair's link, and of the paths to etcd of
# WHO (primary, standby or both).
part() {
	local name=$1 kind=$2 n t_done t_heal fence promoted=-1 lead
	hl_settle || return 1
	case $3 in
	primary) set -- "$HL_P" ;;
	standby) set -- "$HL_S" ;;
	both) set -- a b ;;
	esac
	t_log "$name: primary $HL_P, standby $HL_S, epoch $HL_E, $(hl_acked) acked;" \
		"cutting the link and etcd from: ${*:-nobody}"
	HL_T_CUT=$(hl_now)
	for n in "$@"; do
		ha_etcd_cut "$n"
	done
	ha_link_cut || { t_fail "$name: bridge port isolation"; return 1; }
	t_done=$(hl_now)
	fence=$(hl_watch_fence "$HL_P" 1)
	if [ "$kind" == promote ] && ha_wait_role "$HL_S" primary 1; then
		promoted=$((($(hl_now) - HL_T_CUT) / 1000000))
	fi
	sleep "$cut_s"
	# Each node's ms since it last heard the other: the cut's own witness.
	declare -gA HEARD=([a]=$(ha_state a peer_heard_age_ms) [b]=$(ha_state b peer_heard_age_ms))
	heard="a ${HEARD[a]} ms, b ${HEARD[b]} ms"
	# What etcd holds at the end of the cut (read directly, not through a relay).
	lead=$(ha_leader)
	t_heal=$(hl_now)
	ha_link_heal || t_fail "$name: bridge ports not healed"
	for n in "$@"; do
		ha_etcd_heal "$n"
	done
	t_log "$name: healed after $(((t_heal - HL_T_CUT) / 1000000)) ms; old primary $HL_P" \
		"stopped acknowledging after $fence ms (seen), $HL_S primary after $promoted ms" \
		"(seen); etcd held $lead; at the end of the cut each node last heard the other: $heard"
	case $kind in
	promote) t_check "$name: etcd names $HL_S at a newer epoch during the cut" \
		json_is "$lead" --arg n "$HL_S" --argjson e "$HL_E" '.node == $n and .epoch > $e' ;;
	*) t_check "$name: etcd still names $HL_P at epoch $HL_E during the cut" \
		json_is "$lead" --arg n "$HL_P" --argjson e "$HL_E" '.node == $n and .epoch == $e' ;;
	esac
	t_check "$name: the cut held (neither node heard the other for the last second of it)" \
		heard_none a && t_check "$name: (b)" heard_none b
	[ "$kind" == keep ] ||
		t_check "$name: the old primary stopped acknowledging (seen within 1 s)" \
			test "$fence" -ge 0
	hl_scenario "$name" "$kind" "$HL_T_CUT" "$t_done" "$t_heal" "$HL_E" "$fence"
}

hl_up
# A pair that does not settle again ends the run at once (its state is shown).
part primary-cut promote primary && part standby-cut keep standby &&
	part etcd-neither stall both && hl_settle
hl_finish
t_done
