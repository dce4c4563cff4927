# SPDX-License-Identifier: BSD-3-Clause
# Shell library (source it): a two-namespace topology for running
# sluice-dataplane on a veth pair, and starting/stopping it by PID.
#
#   sl_ns_up TAG NET     namespaces TAG-dp and TAG-cl joined by veth TAGd0 |
#                        TAGc0; the client side gets NET.2/24, the dataplane
#                        answers for NET.1 (pass e.g. 10.77.0)
#   sl_relay_up TAG NET  the same with a relay namespace TAG-rl in the middle:
#                        TAGc0 (TAG-cl) | TAGr0 (TAG-rl) TAGr1 | TAGd0 (TAG-dp);
#                        no addresses in TAG-rl, sl_relay_start forwards frames
#   sl_relay_start TAG LOG [sluice-impair args...]
#                        start sluice-impair in TAG-rl between TAGr0 (its side
#                        a, the clients) and TAGr1 (side b, the dataplane):
#                        --ab impairs what goes to the broker, --ba what comes
#                        back; sets SL_RELAY_PID; its count lines go to LOG
#   sl_relay_stop        SIGTERM (it prints its counts), wait up to 10 s, then SIGKILL
#   sl_ns_down TAG       remove them all (also safe when half made)
#   sl_dp_start TAG LOG [sluice-dataplane args...]
#                        start the dataplane in TAG-dp on af_packet over TAGd0;
#                        waits for "ready" (SL_DP_WAIT seconds, default 30);
#                        sets SL_DP_PID. SL_DP_CONF picks another config
#                        (default nic-configs/af_packet.conf), SL_DP_QUEUES
#                        its number of af_packet queue pairs; SL_DP_NS and
#                        SL_DP_IFACE another namespace and interface (default
#                        TAG-dp, TAGd0)
#   sl_dp_stop           SIGTERM, wait up to 10 s, then SIGKILL; SL_DP_RC is
#                        its exit status (0 after a clean stop)
#   sl_cl TAG cmd...     run a command in the client namespace
#   sl_wait SECONDS cmd...  run cmd every 0.1 s until it succeeds (status 0)
#                        or SECONDS have passed (status 1)
# TAG must be at most 10 characters (interface names are limited to 15).
#
# A broker pair's segment (docs/HA.md "Trying it"), TAG at most 12 characters:
#   sl_ha_up TAG NET     namespaces TAG-br (bridge TAGbr, no address, STP off,
#                        forward delay 0), TAG-a, TAG-b (the two dataplanes,
#                        veths TAGa0 and TAGb0, no kernel address) and TAG-c
#                        (the clients, TAGc0 with NET.100/24, accepting
#                        gratuitous ARP), each veth's other end on the bridge
#   sl_ha_down TAG       remove them (also safe when half made)
#   sl_ha_dp_start TAG NODE LOG [args]
#                        sl_dp_start in TAG-NODE on TAGNODE0 (NODE a or b)
#   sl_etcd_start DIR LOG [CPORT PPORT]
#                        a one-member etcd on 127.0.0.1, two free ports (or
#                        these: a restart on the same data), data in DIR; waits
#                        until healthy; sets SL_ETCD_URL, SL_ETCD_PID and
#                        SL_ETCD_PORTS ("CPORT PPORT")
#   sl_etcd_stop         SIGTERM, wait up to 10 s, then SIGKILL
#   sl_ha_has_pair BUILD does that build have the whole pair: the dataplane's
#                        service address (ha.service_ip), replication
#                        (ha.repl_port) and fence (its "lease ran out" line),
#                        and sluice-control --etcd

SL_ROOT=${SL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SL_BUILD=${SL_BUILD:-$SL_ROOT/build}
SL_DP_PID=

sl_ns_down() {
	local tag=$1
	ip netns del "$tag-dp" 2>/dev/null || true
	ip netns del "$tag-cl" 2>/dev/null || true
	ip netns del "$tag-rl" 2>/dev/null || true
	ip link del "${tag}d0" 2>/dev/null || true
}

# sl_ns_add NAME: a network namespace with loopback up and IPv6 off
# (IPv6 autoconfiguration chatter would only show up as drops).
sl_ns_add() {
	ip netns add "$1" || return 1
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$1" ip link set lo up
}

sl_ns_up() {
	local tag=$1 net=$2
	sl_ns_down "$tag"
	sl_ns_add "$tag-dp" || return 1
	sl_ns_add "$tag-cl" || return 1
	ip link add "${tag}d0" type veth peer name "${tag}c0" || return 1
	ip link set "${tag}d0" netns "$tag-dp" || return 1
	ip link set "${tag}c0" netns "$tag-cl" || return 1
	# The dataplane side has no kernel address: DPDK answers for NET.1.
	ip netns exec "$tag-dp" ip link set "${tag}d0" up
	ip netns exec "$tag-cl" ip addr add "$net.2/24" dev "${tag}c0"
	ip netns exec "$tag-cl" ip link set "${tag}c0" up
}

sl_relay_up() {
	local tag=$1 net=$2 ns
	sl_ns_down "$tag"
	for ns in dp rl cl; do
		sl_ns_add "$tag-$ns" || return 1
	done
	ip link add "${tag}c0" netns "$tag-cl" type veth peer name "${tag}r0" netns "$tag-rl" ||
		return 1
	ip link add "${tag}d0" netns "$tag-dp" type veth peer name "${tag}r1" netns "$tag-rl" ||
		return 1
	ip netns exec "$tag-rl" ip link set "${tag}r0" up
	ip netns exec "$tag-rl" ip link set "${tag}r1" up
	ip netns exec "$tag-dp" ip link set "${tag}d0" up
	ip netns exec "$tag-cl" ip addr add "$net.2/24" dev "${tag}c0"
	ip netns exec "$tag-cl" ip link set "${tag}c0" up
}

SL_RELAY_PID=
sl_relay_start() {
	local tag=$1 log=$2 i
	shift 2
	: >"$log" || return 1
	ip netns exec "$tag-rl" "$SL_BUILD/tools/sluice-impair" -a "${tag}r0" -b "${tag}r1" "$@" \
		>"$log" 2>&1 &
	SL_RELAY_PID=$!
	for ((i = 0; i < 50; i++)); do
		grep -q "relaying" "$log" 2>/dev/null && return 0
		kill -0 "$SL_RELAY_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "sluice-impair did not start:" >&2
	cat "$log" >&2
	SL_RELAY_PID=
	return 1
}

sl_relay_stop() {
	[ -n "$SL_RELAY_PID" ] || return 0
	sl_stop_pid "$SL_RELAY_PID"
	SL_RELAY_PID=
}

sl_cl() {
	local tag=$1
	shift
	ip netns exec "$tag-cl" "$@"
}

sl_dp_start() {
	local tag=$1 log=$2 i
	shift 2
	# Emptied here, not only by the redirection below: that one happens in
	# the background child, and until it runs the wait would find the
	# "ready" of a previous instance that wrote the same log.
	: >"$log" || return 1
	ip netns exec "${SL_DP_NS:-$tag-dp}" "$SL_BUILD/dataplane/sluice-dataplane" \
		-c "${SL_DP_CONF:-$SL_ROOT/nic-configs/af_packet.conf}" \
		--set "port0.vdev=net_af_packet0,iface=${SL_DP_IFACE:-${tag}d0},qpairs=${SL_DP_QUEUES:-1},qdisc_bypass=1,framesz=2048,framecnt=4096" \
		"$@" >"$log" 2>&1 &
	SL_DP_PID=$!
	for ((i = 0; i < ${SL_DP_WAIT:-30} * 10; i++)); do
		grep -q "sluice-dataplane: ready" "$log" 2>/dev/null && return 0
		if ! kill -0 "$SL_DP_PID" 2>/dev/null; then
			echo "sluice-dataplane exited during start-up:" >&2
			cat "$log" >&2
			SL_DP_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "sluice-dataplane not ready after ${SL_DP_WAIT:-30} s:" >&2
	cat "$log" >&2
	return 1
}

# sl_stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; returns its exit status.
sl_stop_pid() {
	local i
	kill -TERM "$1" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null
}

sl_dp_stop() {
	SL_DP_RC=
	[ -n "$SL_DP_PID" ] || return 0
	sl_stop_pid "$SL_DP_PID"
	SL_DP_RC=$?
	SL_DP_PID=
}

sl_wait() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

sl_ha_down() {
	local n
	for n in br a b c; do
		ip netns del "$1-$n" 2>/dev/null || true
	done
}

sl_ha_up() {
	local tag=$1 net=$2 n
	sl_ha_down "$tag"
	for n in br a b c; do
		sl_ns_add "$tag-$n" || return 1
	done
	# No STP and no forward delay: a port forwards as soon as it is up.
	ip netns exec "$tag-br" ip link add "${tag}br" type bridge stp_state 0 forward_delay 0 ||
		return 1
	ip netns exec "$tag-br" ip link set "${tag}br" up
	for n in a b c; do
		ip link add "${tag}${n}0" netns "$tag-$n" type veth peer name "${tag}${n}b" \
			netns "$tag-br" || return 1
		ip netns exec "$tag-br" ip link set "${tag}${n}b" master "${tag}br" || return 1
		ip netns exec "$tag-br" ip link set "${tag}${n}b" up
		ip netns exec "$tag-$n" ip link set "${tag}${n}0" up
	done
	# The clients take a gratuitous ARP for the service IP (it moves to the
	# new primary) even for an address they have no entry for yet.
	ip netns exec "$tag-c" sysctl -qw "net.ipv4.conf.${tag}c0.arp_accept=1"
	ip netns exec "$tag-c" ip addr add "$net.100/24" dev "${tag}c0"
}

sl_ha_has_pair() {
	local s
	for s in service_ip repl_port 'lease ran out'; do
		grep -aq "$s" "$1/dataplane/sluice-dataplane" 2>/dev/null || return 1
	done
	"$1/control/sluice-control" --help 2>&1 | grep -q -- '--etcd'
}

sl_ha_dp_start() {
	local tag=$1 n=$2
	shift 2
	SL_DP_NS="$tag-$n" SL_DP_IFACE="${tag}${n}0" sl_dp_start "$tag" "$@"
}

SL_ETCD_URL= SL_ETCD_PID= SL_ETCD_PORTS=
# A free TCP port on 127.0.0.1 (the kernel's pick, closed again at once).
sl_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sl_etcd_start() {
	local dir=$1 log=$2 cport=${3:-} pport=${4:-} i
	command -v etcd >/dev/null || { echo "etcd is not installed (scripts/setup.sh)" >&2; return 1; }
	[ -n "$cport" ] || { cport=$(sl_free_port) && pport=$(sl_free_port); } || return 1
	SL_ETCD_PORTS="$cport $pport"
	SL_ETCD_URL="http://127.0.0.1:$cport"
	etcd --name sluice --data-dir "$dir" \
		--listen-client-urls "$SL_ETCD_URL" --advertise-client-urls "$SL_ETCD_URL" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "sluice=http://127.0.0.1:$pport" \
		--log-level warn >"$log" 2>&1 &
	SL_ETCD_PID=$!
	for ((i = 0; i < 200; i++)); do
		curl -s -m 1 "$SL_ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"' && return 0
		kill -0 "$SL_ETCD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "etcd did not come up:" >&2
	tail -n 20 "$log" >&2
	sl_etcd_stop
	return 1
}

sl_etcd_stop() {
	[ -n "$SL_ETCD_PID" ] || return 0
	sl_stop_pid "$SL_ETCD_PID"
	SL_ETCD_PID=
}
