# SPDX-License-Identifier: BSD-3-Clause
# scripts/bench.sh, the replicated pair's rows (sourced by bench.sh, which
# defines row, bounded, lg_status, PIDS, forget, say, work, jdir, bin, build,
# root, rate, duration, sizes, max_size). The topology of docs/HA.md "Trying
# it": namespaces hatag-br (bridge), -a, -b (dataplanes), -c (clients); etcd
# on 127.0.0.1. Both dataplanes idle with backoff (two polling workers
# would share one core of this machine), so the reference is a single node
# in the same topology with the same idle strategy, in the same run:
#   "sluice-1node-sync"  node a alone, durability sync, at --rate, each size
#   "sluice-ha-sync"     the pair through the service IP: a sync publish is
#                        released (delivered, acknowledged) once the primary
#                        and the standby both persisted it
#   "sluice-1node-sync-max" / "sluice-ha-repl-max": the most 64 B sync
#                        messages/s one worker takes and delivers (at most
#                        1024 ahead, batched 50 us): alone, and replicated
#                        to the standby (its replication throughput)
# The ratio of the pair to the single node is printed under the table.

ha_bench_pids=()
hatag=slh$$ hanet=10.78.0
ha_name_of() { echo "sl-benchha-$1-$$"; }

# ha_bench_dp NODE [args]: a dataplane in the pair topology, backoff idle.
ha_bench_dp() {
	local n=$1 ip=$hanet.1
	shift
	[ "$n" = b ] && ip=$hanet.2
	SL_DP_WAIT=30 sl_ha_dp_start $hatag "$n" "$work/ha-$n.log" --name "$(ha_name_of "$n")" \
		--idle backoff --set "port0.ip=$ip" --set "journal_dir=$jdir/ha-$n" \
		--set durability=sync "$@" || return 1
	ha_bench_pids+=("$SL_DP_PID")
	PIDS+=("$SL_DP_PID")
	SL_DP_PID=
}

ha_bench_ctl() {
	"$build/control/sluice-control" -n "$(ha_name_of "$1")" --state-dir "$work/ha-ctl-$1" \
		--metrics off --etcd "$SL_ETCD_URL" --pair "bench-$$" --node "$1" \
		>>"$work/ha-ctl-$1.log" 2>&1 &
	ha_bench_pids+=("$!")
	PIDS+=("$!")
}

ha_bench_stop() {
	local p n
	for p in "${ha_bench_pids[@]}"; do
		sl_stop_pid "$p"
		forget "$p"
	done
	ha_bench_pids=()
	# Each node's run directory (CnC, sockets) and DPDK's: the names
	# carry this shell's pid, so nothing else uses them.
	for n in a b; do
		rm -rf "/run/sluice/$(ha_name_of "$n")" "/var/run/dpdk/$(ha_name_of "$n")"
	done
}

ha_bench_role_is() {
	[ "$(python3 "$root/tests/e2e/ha_state.py" "$(ha_name_of "$1")" role 2>/dev/null)" = "$2" ]
}
ha_bench_insync() {
	ETCDCTL_API=3 etcdctl --endpoints "$SL_ETCD_URL" --command-timeout=2s get \
		--print-value-only "/sluice/pairs/bench-$$/leader" 2>/dev/null |
		grep -Eq '"insync" *: *true'
}

# ha_bench_rows NAME HOST: the latency rows at each size and the max row.
ha_bench_rows() {
	local nm=$1 host=$2 s f st
	for s in "${sizes[@]}"; do
		f=$work/lg-$nm-$s.json
		bounded $((duration + 30)) "$f" ip netns exec $hatag-c "$bin/sluice-loadgen" \
			--host "$host" -r "$rate" -s "$s" -d "$duration" --topic-prefix "h$nm$s" --json -q
		row "sluice-$nm-sync" udp sync "$s" "$f" "$(lg_status $?)"
	done
	f=$work/lg-$nm-max.json
	bounded $((duration + 30)) "$f" ip netns exec $hatag-c "$bin/sluice-loadgen" --host "$host" \
		-r 0 -S 1 -s $max_size -d "$duration" --window 1024 --batch-us 50 \
		--topic-prefix "h${nm}max" --json -q
	st=$(lg_status $?)
	if [ "$nm" = ha ]; then
		row sluice-ha-repl-max udp sync $max_size "$f" "$st"
	else
		row "sluice-$nm-sync-max" udp sync $max_size "$f" "$st"
	fi
}

# ha_bench_not_built WHY STATUS ROW...: rows that could not be measured.
ha_bench_not_built() {
	local why=$1 st=$2 n
	shift 2
	for n in "$@"; do
		echo "{\"name\":\"$n\",\"transport\":\"udp\",\"durability\":\"sync\",\"size\":$max_size,\"status\":\"$st\"}" >>"$rows"
	done
	say "note: no pair rows ($why)"
}

bench_ha() {
	if ! sl_ha_has_pair "$build"; then
		ha_bench_not_built "this build has no broker pair" "not built" sluice-ha-sync \
			sluice-ha-repl-max
		return 0
	fi
	command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
		{ ha_bench_not_built "etcd is not installed: scripts/setup.sh" "not built" \
			sluice-ha-sync sluice-ha-repl-max; return 0; }
	say "the replicated pair: bridge $hatag-br, nodes $hatag-a/-b, clients $hatag-c, etcd on" \
		"127.0.0.1; --idle backoff; single node first, in the same topology"
	sl_ha_up $hatag $hanet || { say "note: cannot create the pair's namespaces"; return 0; }
	mkdir -p "$jdir"
	if ha_bench_dp a; then
		ha_bench_rows 1node $hanet.1
	else
		say "note: the single node did not start (see $work/ha-a.log)"
	fi
	ha_bench_stop
	sl_etcd_start "$work/etcd" "$work/etcd.log" || { sl_ha_down $hatag; return 0; }
	PIDS+=("$SL_ETCD_PID")
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/pair.key"
	chmod 600 "$work/pair.key"
	local pair=(--set "ha.key=$work/pair.key" --set "ha.service_ip=$hanet.10")
	rm -rf "$jdir/ha-a"
	if ha_bench_dp a --set "ha.peer=$hanet.2" --set ha.node=a "${pair[@]}" && ha_bench_ctl a &&
		sl_wait 20 ha_bench_role_is a primary &&
		ha_bench_dp b --set "ha.peer=$hanet.1" --set ha.node=b "${pair[@]}" && ha_bench_ctl b &&
		sl_wait 30 ha_bench_role_is b standby && sl_wait 30 ha_bench_insync; then
		ha_bench_rows ha $hanet.10
	else
		ha_bench_not_built "the pair did not come up: see $work/ha-*.log" failed \
			sluice-ha-sync sluice-ha-repl-max
	fi
	ha_bench_stop
	forget "$SL_ETCD_PID"
	sl_etcd_stop
	sl_ha_down $hatag
	rm -rf "$jdir"
	sync
}
