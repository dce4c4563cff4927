# SPDX-License-Identifier: BSD-3-Clause
# Shared set-up for the tests of a replicated broker pair (source it after
# lib.sh): one layer-2 segment, the way an appliance pair and its clients
# share a LAN, and etcd for the pair's leadership.
#
#   namespace TAG-br: bridge TAGbr (no address, STP off, forward delay 0)
#     |- veth TAGab -- TAGa0 in TAG-a: dataplane A (af_packet), NET.1
#     |- veth TAGbb -- TAGb0 in TAG-b: dataplane B (af_packet), NET.2
#     `- veth TAGcb -- TAGc0 in TAG-c: the clients (kernel UDP), NET.100/24
#   service IP NET.10: answered (ARP) and served by whichever node is primary
#   etcd: 127.0.0.1:<free ports> in the root namespace, a fresh data dir;
#         both sluice-control processes run in the root namespace too
#
# Partitions (tests/e2e/ha_partition.sh). Both sluice-control processes reach
# etcd over loopback, so a namespace or link cut cannot separate one of them
# from etcd. With ha_etcd_relays_up, each node's sluice-control goes to etcd
# through a relay of its own instead (tests/e2e/ha_etcd_relay.py, a TCP relay
# on a free loopback port, stopped by its PID): ha_etcd_cut NODE makes it
# drop everything both ways, as a partition does (timeouts, not refusals),
# ha_etcd_heal NODE forwards again. The pair's own link is cut on the bridge:
# ha_link_cut marks both nodes' bridge ports "isolated" (bridge link set ...
# isolated on: isolated ports forward to the clients' port but not to each
# other), so each node still serves the clients while neither hears the
# other; ha_link_heal undoes it. No firewall is needed (these machines have
# neither iptables nor nft).
#
# Functions (the node is a or b):
#   ha_up                  the namespaces, bridge and veths above (sl_ha_up in
#                          scripts/netns.sh), etcd (HA_ETCD: its client URL)
#                          and the pair key, all removed on exit (ha_cleanup)
#   ha_dp_start NODE [args]  dataplane NODE as a pair member (ha.* keys,
#                          backoff idle, its own journal dir); HA_DP_ARGS are
#                          added to every start; sets HA_DP_PID[NODE]
#   ha_dp_start_single NODE [args]  dataplane NODE without a pair (smoke test)
#   ha_ctl_start NODE [args]  sluice-control for NODE (--etcd --pair --node;
#                          args after them, so a later --pair wins)
#   ha_kill NODE           kill -9 NODE's dataplane and sluice-control
#   ha_stop NODE           stop both by SIGTERM
#   ha_role NODE           the role NODE's dataplane applies now (a word)
#   ha_wait_role NODE ROLE SECONDS
#   ha_primary             the node whose dataplane is primary (or nothing)
#   ha_leader              etcd's leader key value (JSON) for the pair
#   ha_in_sync             etcd records the standby in sync
#   ha_cl cmd...           run a command in the clients' namespace
#   ha_etcd_relays_up      a relay to etcd per node (before ha_ctl_start)
#   ha_etcd_cut NODE, ha_etcd_heal NODE   cut or heal NODE's path to etcd
#   ha_link_cut, ha_link_heal             cut or heal the pair's link
#   ha_etcd_down, ha_etcd_restart         stop etcd; start it again (same
#                          ports, same data)
#   ha_fenced NODE         NODE's dataplane has stopped acknowledging (1 or 0)
# Skips (77) when the build has no pair support: ha_require_pair.

HA_NS_C="$T_TAG-c"
HA_VIP="$T_NET.10"
HA_CLIENT_IP="$T_NET.100"
HA_PAIR="pair-$T_TAG"
HA_ETCD=
HA_DP_ARGS=()
declare -A HA_DP_PID=() HA_CTL_PID=() HA_IP=([a]="$T_NET.1" [b]="$T_NET.2")
declare -A HA_RELAY_PID=() HA_CTL_ETCD=()

t_not() { ! "$@"; } # t_check "what" t_not cmd...: cmd fails

ha_name() { echo "${T_TAG}$1"; } # dataplane instance name of node $1
ha_other() { [ "$1" == a ] && echo b || echo a; }
ha_cl() { ip netns exec "$HA_NS_C" "$@"; }

ha_etcd_up() {
	command -v etcd >/dev/null || { echo "[$T_NAME] skip: etcd not installed (scripts/setup.sh)"; exit 77; }
	sl_etcd_start "$T_DIR/etcd" "$T_DIR/etcd.log" || return 1
	HA_ETCD=$SL_ETCD_URL
}

ha_etcdctl() { ETCDCTL_API=3 etcdctl --endpoints "$HA_ETCD" --command-timeout=2s "$@"; }
ha_leader() { ha_etcdctl get --print-value-only "/sluice/pairs/$HA_PAIR/leader"; }
ha_in_sync() { ha_leader | grep -Eq '"insync" *: *true'; }

ha_has_pair() { sl_ha_has_pair "$SL_BUILD"; }
ha_require_pair() {
	ha_has_pair || {
		echo "[$T_NAME] skip: this build has no broker pair (dataplane ha.* keys," \
			"sluice-control --etcd)"
		exit 77
	}
}

ha_cleanup() {
	local n
	for n in a b; do
		[ -n "${HA_CTL_PID[$n]:-}" ] && kill -KILL "${HA_CTL_PID[$n]}" 2>/dev/null
		[ -n "${HA_DP_PID[$n]:-}" ] && sl_stop_pid "${HA_DP_PID[$n]}"
		rm -rf "/run/sluice/$(ha_name $n)" "/var/run/dpdk/$(ha_name $n)"
		[ -n "${HA_RELAY_PID[$n]:-}" ] && sl_stop_pid "${HA_RELAY_PID[$n]}"
	done
	sl_etcd_stop
	t_cleanup
	sl_ha_down "$T_TAG"
}

# ha_up: the topology and etcd, removed on exit.
ha_up() {
	t_require
	trap ha_cleanup EXIT
	trap 'exit 1' INT TERM
	sl_ha_up "$T_TAG" "$T_NET" || { t_fail "namespaces and bridge"; exit 1; }
	ha_etcd_up || { t_fail "etcd"; exit 1; }
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/pair.key"
	chmod 600 "$T_DIR/pair.key"
}

# _ha_dp NODE args...: start dataplane NODE in its namespace.
_ha_dp() {
	local n=$1
	shift
	mkdir -p "$T_DIR/$n"
	sl_ha_dp_start "$T_TAG" "$n" "$T_DIR/$n/dp.log" \
		--name "$(ha_name "$n")" --idle backoff --set "port0.ip=${HA_IP[$n]}" \
		--set heartbeat_ms=200 --set session_timeout_ms=1000 \
		--set "journal_dir=$T_DIR/$n/journal" "$@" || return 1
	HA_DP_PID[$n]=$SL_DP_PID
	# sl_dp_stop must not stop it: each node is stopped by its own PID.
	SL_DP_PID=
}

ha_dp_start_single() { _ha_dp "$@"; }

ha_dp_start() {
	local n=$1
	shift
	_ha_dp "$n" --set "ha.peer=${HA_IP[$(ha_other "$n")]}" --set "ha.key=$T_DIR/pair.key" \
		--set "ha.service_ip=$HA_VIP" --set "ha.node=$n" ${HA_DP_ARGS[@]+"${HA_DP_ARGS[@]}"} "$@"
}

ha_ctl_start() {
	local n=$1 name
	shift
	name=$(ha_name "$n")
	"$SL_BUILD/control/sluice-control" -n "$name" --state-dir "$T_DIR/$n/control" --metrics off \
		--etcd "${HA_CTL_ETCD[$n]:-$HA_ETCD}" --pair "$HA_PAIR" --node "$n" "$@" >>"$T_DIR/$n/control.log" 2>&1 &
	HA_CTL_PID[$n]=$!
	t_wait 10 test -S "/run/sluice/$name/control.sock" ||
		{ t_fail "sluice-control of node $n did not start"; return 1; }
}

ha_kill() {
	local n=$1
	kill -KILL "${HA_DP_PID[$n]}" "${HA_CTL_PID[$n]}" 2>/dev/null
	wait "${HA_DP_PID[$n]}" "${HA_CTL_PID[$n]}" 2>/dev/null
	HA_DP_PID[$n]= HA_CTL_PID[$n]=
	# What a killed dataplane could not remove itself.
	rm -rf "/run/sluice/$(ha_name "$n")" "/var/run/dpdk/$(ha_name "$n")"
}

ha_stop() {
	local n=$1
	[ -n "${HA_CTL_PID[$n]:-}" ] && sl_stop_pid "${HA_CTL_PID[$n]}"
	[ -n "${HA_DP_PID[$n]:-}" ] && sl_stop_pid "${HA_DP_PID[$n]}"
	HA_DP_PID[$n]= HA_CTL_PID[$n]=
}

ha_state() { python3 "$SL_ROOT/tests/e2e/ha_state.py" "$(ha_name "$1")" "${@:2}" 2>/dev/null; }
# The dataplane's role (dp_role of struct sl_cnc_ha, as ha_state.py reads
# it) with od: polled every 0.1 s, a python start each time would take a
# good part of a core from the pair on a 2-core machine.
HA_ROLES=(single unknown primary standby candidate fenced)
ha_role() {
	local cnc=/run/sluice/$(ha_name "$1")/cnc off r
	off=$(od -An -tu8 -j 112 -N 8 "$cnc" 2>/dev/null | tr -d ' ') && [ -n "$off" ] &&
		[ "$off" -gt 0 ] || return 1
	r=$(od -An -tu4 -j $((off + 72)) -N 4 "$cnc" 2>/dev/null | tr -d ' ') && [ -n "$r" ] ||
		return 1
	echo "${HA_ROLES[$r]:-$r}"
}
ha_role_is() { [ "$(ha_role "$1")" == "$2" ]; }
ha_wait_role() { t_wait "$3" ha_role_is "$1" "$2"; }
ha_primary() {
	local n
	for n in a b; do
		[ -n "${HA_DP_PID[$n]:-}" ] && ha_role_is "$n" primary && { echo "$n"; return 0; }
	done
	return 1
}

# ha_etcd_relays_up: each node's own path to etcd, which a test can cut.
ha_etcd_relays_up() {
	local n port=${HA_ETCD##*:}
	for n in a b; do
		rm -f "$T_DIR/relay-$n.port"
		python3 "$SL_ROOT/tests/e2e/ha_etcd_relay.py" "$T_DIR/relay-$n.port" "$port" 900 \
			2>>"$T_DIR/relay-$n.log" &
		HA_RELAY_PID[$n]=$!
		t_wait 10 test -s "$T_DIR/relay-$n.port" || { t_fail "etcd relay of node $n"; return 1; }
		HA_CTL_ETCD[$n]="http://127.0.0.1:$(cat "$T_DIR/relay-$n.port")"
	done
}
ha_etcd_cut() { kill -USR1 "${HA_RELAY_PID[$1]}"; }
ha_etcd_heal() { kill -USR2 "${HA_RELAY_PID[$1]}"; }
_ha_isolate() {
	local n
	for n in a b; do
		ip netns exec "$T_TAG-br" bridge link set dev "${T_TAG}${n}b" isolated "$1" || return 1
	done
}
ha_link_cut() { _ha_isolate on; }
ha_link_heal() { _ha_isolate off; }
ha_etcd_down() { sl_etcd_stop; }
ha_etcd_restart() {
	local p
	read -ra p <<<"$SL_ETCD_PORTS"
	sl_etcd_start "$T_DIR/etcd" "$T_DIR/etcd-$(date +%s%N).log" "${p[0]}" "${p[1]}"
}
# dp_fenced of struct sl_cnc_ha (52 bytes into its dataplane half), with od
# as ha_role.
ha_fenced() {
	local cnc=/run/sluice/$(ha_name "$1")/cnc off
	off=$(od -An -tu8 -j 112 -N 8 "$cnc" 2>/dev/null | tr -d ' ') && [ -n "$off" ] &&
		[ "$off" -gt 0 ] || return 1
	od -An -tu4 -j $((off + 116)) -N 4 "$cnc" 2>/dev/null | tr -d ' '
}
