#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The other virtual-NIC presets: tap carries real pub/sub traffic from the
# kernel side of its interface; memif and ring come up and stop cleanly.
. "$(dirname "$0")/lib.sh"
t_require
ns="$T_TAG-dp"
trap 't_cleanup' EXIT
sl_ns_add "$ns" || { t_fail "netns"; exit 1; }

# start_preset CONF [args]: run in $ns, wait for ready; sets SL_DP_PID
start_preset() {
	local conf=$1 i
	shift
	ip netns exec "$ns" "$SL_BUILD/dataplane/sluice-dataplane" -c "$SL_ROOT/nic-configs/$conf" \
		--name "$T_DP" "$@" >"$T_DIR/dp.log" 2>&1 &
	SL_DP_PID=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "sluice-dataplane: ready" "$T_DIR/dp.log" && return 0
		kill -0 "$SL_DP_PID" 2>/dev/null || break
		sleep 0.1
	done
	t_fail "$conf: dataplane did not start"
	cat "$T_DIR/dp.log" >&2
	return 1
}

# --- tap ----------------------------------------------------------------------
if start_preset tap.conf; then
	ip netns exec "$ns" ip addr add 10.78.0.2/24 dev sl-tap0
	ip netns exec "$ns" ip link set sl-tap0 up
	ip netns exec "$ns" "$SL_BUILD/client/sluice-sub" -h 10.78.0.1 -t tap.demo -C 20 -W 20 \
		>"$T_DIR/tap.out" 2>"$T_DIR/tap.err" &
	sub=$!
	T_BG+=("$sub")
	t_wait 10 t_nsubs_is tap.demo 1 || t_fail "tap: subscriber not registered"
	ip netns exec "$ns" "$SL_BUILD/client/sluice-pub" -h 10.78.0.1 -t tap.demo -m over-tap \
		-n 20 -a -q || t_fail "tap: publish"
	wait "$sub"
	t_eq "tap: subscriber got every message" "$(grep -c over-tap "$T_DIR/tap.out")" 20
	sl_dp_stop
	t_eq "tap: clean stop" "$SL_DP_RC" 0
fi

# --- memif (server; nobody connects) and ring ---------------------------------
if start_preset memif.conf \
	--set "port0.vdev=net_memif0,role=server,id=0,socket=$T_DIR/memif.sock,socket-abstract=no"; then
	t_check "memif: socket file created" test -S "$T_DIR/memif.sock"
	sl_dp_stop
	t_eq "memif: clean stop" "$SL_DP_RC" 0
fi
if start_preset ring.conf; then
	sl_dp_stop
	t_eq "ring: clean stop" "$SL_DP_RC" 0
fi
t_check "no hugepage files left behind" \
	test -z "$(find /dev/hugepages -maxdepth 1 -name "${T_DP}map_*" 2>/dev/null)"
t_done
