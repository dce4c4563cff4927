# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# A broker pair under a sync-acknowledged load, for the tests that make one
# fault after another while it runs (ha_partition.sh, ha_etcd_down.sh).
# Source it after lib.sh and lib_ha.sh.
#
#   hl_up                  topology, etcd, one relay to etcd per node
#                          (lib_ha.sh), node a primary, node b its in-sync
#                          standby, and sluice-loadgen in the clients'
#                          namespace: one idempotent producer through the
#                          service address, every publish acknowledged (sync)
#                          and logged (--ack-log), one subscriber
#   hl_settle              wait (bounded) until one node is primary, the other
#                          its in-sync standby, and ACKs still arrive; sets
#                          HL_P, HL_S (the nodes) and HL_E (the epoch)
#   hl_now                 CLOCK_REALTIME ns (the ack log's clock)
#   hl_watch_fence NODE MAX_S  poll until NODE's dataplane stops acknowledging
#                          (fenced, or no longer primary); prints the ms since
#                          HL_T_CUT, or -1
#   hl_scenario NAME KIND T_CUT T_DONE T_HEAL EPOCH FENCE_MS
#                          record a fault for ha_check.py (its KINDs)
#   hl_finish              end the load, stop both nodes, dump the journals and
#                          judge the run (tests/e2e/ha_check.py)
# HA_RATE msgs/s (default 1000); HA_DETECT_MS, HA_LEASE_MS: pair timings.

HL_TOPIC=ha.0
HL_RATE=${HA_RATE:-1000}
HL_LEASE_MS=${HA_LEASE_MS:-100}
HL_LG=
HL_P='' HL_S='' HL_E='' HL_T_CUT=''
HL_ACKED=$T_DIR/acked
HL_SCEN=$T_DIR/scenarios

hl_now() { date +%s%N; }
hl_acked() { wc -l <"$HL_ACKED"; }
# hl_acks_grow N SECONDS: N more ACKs arrive within SECONDS.
hl_acks_grow() {
	local want=$(($(hl_acked) + $1))
	t_wait "$2" bash -c "[ \$(wc -l <'$HL_ACKED') -ge $want ]"
}
hl_standby_ready() { ha_role_is "$1" standby && ha_in_sync; }

hl_up() {
	ha_require_pair
	ha_up
	# Stopped from outside (a timeout): a failure, so that the logs are kept.
	trap 't_fail "stopped by a signal before the end"; exit 1' INT TERM
	ha_etcd_relays_up || exit 1
	HA_DP_ARGS=(--set durability=sync --set "ha.lease_ms=$HL_LEASE_MS")
	[ -z "${HA_DETECT_MS:-}" ] || HA_DP_ARGS+=(--set "ha.detect_ms=$HA_DETECT_MS")
	: >"$HL_ACKED"
	: >"$HL_SCEN"
	t_log "etcd at $HA_ETCD (node a via ${HA_CTL_ETCD[a]}, b via ${HA_CTL_ETCD[b]});" \
		"A ${HA_IP[a]}, B ${HA_IP[b]}, service IP $HA_VIP; lease $HL_LEASE_MS ms"
	ha_dp_start a && ha_ctl_start a || { t_fail "node a start"; exit 1; }
	ha_wait_role a primary 20 || { t_fail "node a did not become primary"; exit 1; }
	ha_dp_start b && ha_ctl_start b || { t_fail "node b start"; exit 1; }
	t_wait 30 hl_standby_ready b || { t_fail "node b did not become the in-sync standby"; exit 1; }
	# Longer than any run of these tests; ended by SIGUSR1 (the drain still
	# waits for every delivery and ACK). ip netns exec execs the tool: $! is
	# sluice-loadgen itself.
	ip netns exec "$HA_NS_C" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$HA_VIP" -P 1 -S 1 \
		-r "$HL_RATE" -s 64 -d 400 --topic-prefix ha --producer "hapt-$T_TAG" \
		--ack-log "$HL_ACKED" --drain-ms 30000 --warmup-ms 0 --events --json -q \
		>"$T_DIR/load.json" 2>"$T_DIR/load.err" &
	HL_LG=$!
	T_BG+=("$HL_LG")
	hl_acks_grow 200 20 || { t_fail "the load got no acknowledgements"; exit 1; }
}

ctl_status() { timeout 5 "$SL_BUILD/ctl/sluicectl" -n "$(ha_name "$1")" ha status --json 2>&1; }
hl_settle() {
	local try p s
	for ((try = 0; try < 5; try++)); do
		kill -0 "$HL_LG" 2>/dev/null || { t_fail "the load generator ended early"; return 1; }
		t_wait 20 ha_primary >/dev/null || continue
		p=$(ha_primary)
		s=$(ha_other "$p")
		t_wait 30 hl_standby_ready "$s" || continue
		hl_acks_grow 300 20 || continue
		HL_E=$(ha_state "$p" epoch)
		if ha_role_is "$p" primary && ha_role_is "$s" standby &&
			[ "$(ha_state "$s" epoch)" == "$HL_E" ] && [ "$(ha_fenced "$p")" == 0 ]; then
			HL_P=$p HL_S=$s
			return 0
		fi
	done
	t_fail "no primary with an in-sync standby, under load, that held still"
	for p in a b; do
		t_log "node $p: $(ha_state "$p")"
		t_log "node $p: $(ctl_status "$p" | head -c 900)"
		t_log "node $p: port MAC $(ip netns exec "$T_TAG-$p" cat "/sys/class/net/${T_TAG}${p}0/address")"
	done
	t_log "the clients' ARP entries: $(ha_cl ip neigh show | tr '\n' ';')"
	t_log "ACKs so far: $(hl_acked), the last: $(tail -n 1 "$HL_ACKED")"
	return 1
}

hl_watch_fence() {
	local n=$1 end=$(($(hl_now) + $2 * 1000000000)) t
	while t=$(hl_now) && [ "$t" -lt "$end" ]; do
		if ! ha_role_is "$n" primary || [ "$(ha_fenced "$n")" == 1 ]; then
			echo $(((t - HL_T_CUT) / 1000000))
			return 0
		fi
		sleep 0.005
	done
	echo -1
}

hl_scenario() { echo "$*" >>"$HL_SCEN"; }

hl_finish() {
	local i rc surv n J=$SL_BUILD/persist/sluice-journal
	kill -USR1 "$HL_LG" 2>/dev/null
	for ((i = 0; i < 600; i++)); do # the drain: 30 s at most, and the report
		kill -0 "$HL_LG" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$HL_LG" 2>/dev/null && { t_fail "the load generator did not end"; kill -KILL "$HL_LG"; }
	wait "$HL_LG"
	rc=$?
	t_eq "sluice-loadgen: everything acknowledged and delivered once (exit status)" "$rc" 0
	grep -E '^sluice-loadgen: event' "$T_DIR/load.err" | sort | uniq -c | sed "s/^/[$T_NAME] /"
	surv=$(ha_primary) || surv=
	[ -n "$surv" ] || { t_fail "no primary at the end"; surv=a; }
	for n in a b; do
		timeout 10 "$SL_BUILD/ctl/sluicectl" -n "$(ha_name "$n")" ha status --json \
			>"$T_DIR/$n.status" 2>&1
		t_log "node $n: failovers $(jq -c '[.failovers, .spurious_failovers, .starved_silences]' \
			"$T_DIR/$n.status" 2>/dev/null) (all, spurious, silences put down to CPU" \
			"starvation), etcd errors" \
			"$(jq -c '.etcd.errors' "$T_DIR/$n.status" 2>/dev/null)"
	done
	for n in a b; do
		ha_stop "$n"
	done
	for n in a b; do
		"$J" dump --hex "$T_DIR/$n/journal/$HL_TOPIC" >"$T_DIR/$n.dump" 2>"$T_DIR/$n.dump.err" ||
			t_fail "sluice-journal dump of node $n: $(head -n 3 "$T_DIR/$n.dump.err")"
	done
	python3 "$SL_ROOT/tests/e2e/ha_check.py" "$T_NAME" "$HL_ACKED" "$T_DIR/load.json" \
		"$T_DIR/$surv.dump" "$T_DIR/$(ha_other "$surv").dump" "$HL_SCEN" "$HL_LEASE_MS" \
		"${HA_REPORT:-/dev/null}" ||
		t_fail "acknowledged messages lost, or the journals disagree, or a scenario's bounds broken"
}
