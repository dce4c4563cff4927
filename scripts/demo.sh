#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job: the broker on a virtual NIC in its own network namespace, the
# load generator against it from another namespace, and a latency report.
#
#   scripts/demo.sh [--json] [--duration S] [--rate N] [--size B]
#                   [--publishers N] [--subscribers M] [--idle busy|backoff]
#                   [--transport udp|shm|both] [--queue] [--keep | --stop]
#   scripts/demo.sh --ha [--json] [--cycles N] [--rate N]
#   scripts/demo.sh --mqtt [--json] [--duration S] [--rate N] [--size B]
#
# Runs scripts/setup.sh first if the build is missing. It starts
# sluice-dataplane (af_packet preset, namespace sl-demo-dp) and
# sluice-control, creates the user "demo" with an ACL on demo.* through
# sluicectl, turns authentication on, and runs sluice-loadgen with the demo
# credentials from namespace sl-demo-cl. Everything it created is removed on
# exit, also on Ctrl-C, unless --keep leaves the broker running for you to
# try sluicectl, sluice-pub and sluice-sub against (--stop ends it).
# --json prints only the load generator's JSON object.
# --queue runs a work queue instead: a consumer group of three sluice-sub
# members sharing demo.work (UDP, or shared memory with --transport shm),
# one of them killed with -9 mid-run; it reports what each member
# processed and that nothing was lost (--json: one line with sent,
# processed, lost, duplicates, redelivered, dead_lettered, members).
# --ha runs a replicated broker pair instead (docs/HA.md "Trying it"): etcd
# on loopback, two dataplanes and their sluice-control processes on one
# bridge, sluice-loadgen publishing through the service IP with every
# publish acknowledged only once both nodes hold it (durability sync) and
# subscribing; the primary is killed with -9 --cycles times (default 5),
# alternating, each time restarted to rejoin as the standby. It prints each
# failover's time (the kill to the first acknowledgement after it) and the
# delivery report (--json: one line with sent, acked, received, lost,
# duplicates, failovers, failover_ms_p50, failover_ms_p99, failover_ms_max).
# --mqtt runs the MQTT gateway instead: the broker as above, sluice-mqtt on
# 127.0.0.1 attached over shared memory, and a QoS 1 stream (default 1000
# msg/s) from mosquitto_pub to mosquitto_sub through it, as user "demo", on
# topic demo/mqtt (Sluice demo.mqtt, journaled); it prints the delivery
# report (--json: one line with sent, received, lost, duplicates, p50_us,
# p99_us, p999_us, max_us).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
json=0 duration=5 rate= size=64 pubs=1 subs=1 idle=busy keep=0 stop=0 transport= queue=0
ha=0 cycles=5 mqtt=0
name=sluice-demo tag=sl-demo
state=/run/sluice/$name/demo
usage() { sed -n '3,39p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--json) json=1 ;;
	--duration) duration=$2; shift ;;
	--rate) rate=$2; shift ;;
	--size) size=$2; shift ;;
	--publishers) pubs=$2; shift ;;
	--subscribers) subs=$2; shift ;;
	--idle) idle=$2; shift ;;
	--transport) transport=$2; shift ;;
	--queue) queue=1 ;;
	--ha) ha=1 ;;
	--mqtt) mqtt=1 ;;
	--cycles) cycles=$2; shift ;;
	--keep) keep=1 ;;
	--stop) stop=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "demo: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (namespaces, hugepages)" >&2; exit 1; }
[ -n "$transport" ] || { [ $json -eq 1 ] || [ $queue -eq 1 ] && transport=udp || transport=both; }
[ -n "$rate" ] || { [ $ha -eq 1 ] || [ $mqtt -eq 1 ] && rate=1000; } || { [ $queue -eq 1 ] && rate=2000 || rate=50000; }
if [ $mqtt -eq 1 ] && { [ $queue -eq 1 ] || [ $ha -eq 1 ] || [ $keep -eq 1 ]; }; then
	echo "demo: --mqtt runs alone (not with --queue, --ha or --keep)" >&2
	exit 2
fi
if [ $queue -eq 1 ] && [ "$transport" == both ]; then
	echo "demo: --queue runs one transport: --transport udp or shm" >&2
	exit 2
fi
case $transport in
udp|shm) ;;
both) [ $json -eq 0 ] || { echo "demo: --json prints one run: --transport udp or shm" >&2; exit 2; } ;;
*) echo "demo: --transport is udp, shm or both, not '$transport'" >&2; exit 2 ;;
esac

say() { [ $json -eq 1 ] || echo "demo: $*"; }

# shellcheck source=scripts/netns.sh
. "$root/scripts/netns.sh"

# Stop what a --keep run left: the PIDs it recorded, then the namespaces.
stop_kept() {
	local p
	for p in $(cat "$state/pids" 2>/dev/null); do
		kill -TERM "$p" 2>/dev/null && say "stopped process $p"
	done
	sleep 1
	for p in $(cat "$state/pids" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$state"
	sl_ns_down $tag
}
if [ $stop -eq 1 ]; then
	stop_kept
	say "demo broker stopped"
	exit 0
fi
[ -e "$state/pids" ] && [ $ha -eq 0 ] &&
	{ echo "demo: a kept demo is running; end it with --stop" >&2; exit 1; }

if [ ! -x "$root/build/dataplane/sluice-dataplane" ] ||
	[ ! -x "$root/build/benchmarks/sluice-loadgen" ] ||
	[ ! -x "$root/build/control/sluice-control" ] ||
	! grep -qs ' hugetlbfs ' /proc/mounts; then
	say "running scripts/setup.sh (first run: installs packages and builds)"
	if [ $json -eq 1 ]; then
		"$root/scripts/setup.sh" >&2 || exit 1
	else
		"$root/scripts/setup.sh" || exit 1
	fi
fi

if [ $ha -eq 1 ]; then
	# shellcheck source=scripts/demo_ha.sh
	. "$root/scripts/demo_ha.sh"
	demo_ha
	exit $?
fi

work=$(mktemp -d /tmp/sluice-demo.XXXXXX)
CTL_PID=
cleanup() {
	[ $keep -eq 1 ] && return
	[ -n "$CTL_PID" ] && { kill -TERM "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; }
	sl_dp_stop
	sl_ns_down $tag
	rm -rf "$work"
}
trap cleanup EXIT
trap 'keep=0; exit 130' INT TERM

ctl() { "$root/build/ctl/sluicectl" -n $name "$@"; }
quiet() { if [ $json -eq 1 ]; then "$@" >/dev/null; else "$@" | sed 's/^/  /'; fi; }

say "creating namespaces $tag-dp (broker) and $tag-cl (clients), veth ${tag}d0 <-> ${tag}c0"
sl_ns_up $tag 10.77.0 || { echo "demo: cannot create the namespaces" >&2; exit 1; }
say "starting sluice-dataplane on af_packet (nic-configs/af_packet.conf), idle=$idle"
sl_dp_start $tag "$work/dp.log" --name $name --idle "$idle" --set "journal_dir=$work/journal" ||
	exit 1
[ $json -eq 1 ] || sed -n 's/^sluice-dataplane: \(port\|worker\|ready\)/  \1/p' "$work/dp.log"

say "starting sluice-control; user 'demo' with an ACL on demo.>, authentication on"
"$root/build/control/sluice-control" -n $name --state-dir "$work/control" \
	--metrics 127.0.0.1:9580 >"$work/control.log" 2>&1 &
CTL_PID=$!
for _ in $(seq 1 100); do
	ctl dataplane status --json 2>/dev/null | grep -q '"attached":true' && break
	sleep 0.1
done
quiet ctl user add demo --credentials "$work/demo.cred" || exit 1
quiet ctl acl grant demo 'demo.>' pub,sub,admin,consume || exit 1
quiet ctl policy set auth required || exit 1

if [ $mqtt -eq 1 ]; then
	# shellcheck source=scripts/demo_mqtt.sh
	. "$root/scripts/demo_mqtt.sh"
	demo_mqtt
	exit $?
fi

if [ $queue -eq 1 ]; then
	# shellcheck source=scripts/demo_queue.sh
	. "$root/scripts/demo_queue.sh"
	demo_queue
	exit $?
fi

args=(-P "$pubs" -S "$subs" -r "$rate" -s "$size" -d "$duration" --topic-prefix demo
	--credentials "$work/demo.cred")
[ $json -eq 0 ] || args+=(--json)
rc=0
if [ $transport != shm ]; then
	say "sluice-loadgen over UDP from $tag-cl through the virtual NIC: $pubs publisher(s)," \
		"$subs subscriber(s), $rate msg/s, $size B, ${duration}s"
	sl_cl $tag "$root/build/benchmarks/sluice-loadgen" --host 10.77.0.1 "${args[@]}"
	rc=$?
fi
if [ $transport != udp ]; then
	# Same host: the load generator attaches to the dataplane's rings; the
	# latency is one-way, publish to deliver, on one TSC clock. It is kept
	# on cpu 0, off the worker's core (nic-configs/af_packet.conf: lcore 1).
	[ $json -eq 1 ] || { echo; say "sluice-loadgen on this host over shared memory:" \
		"same load, latency publish-to-deliver"; }
	"$root/build/benchmarks/sluice-loadgen" --shm $name --cpu 0 "${args[@]}"
	r=$?
	[ $rc -ne 0 ] || rc=$r
fi
if [ $json -eq 0 ]; then
	echo
	say "dataplane counters (sluicectl -n $name stats):"
	ctl stats | sed "s/^/  /" | head -8
fi

if [ $keep -eq 1 ]; then
	mkdir -p "$state"
	cp "$work/demo.cred" "$state/demo.cred"
	echo "$SL_DP_PID $CTL_PID" >"$state/pids"
	cat <<EOF

The broker keeps running (dataplane pid $SL_DP_PID, sluice-control pid $CTL_PID).
Try, as root:
  build/ctl/sluicectl -n $name topic list
  build/ctl/sluicectl -n $name user add alice --credentials alice.cred
  build/ctl/sluicectl -n $name acl grant alice 'orders.>' pub,sub,admin
  ip netns exec $tag-cl build/client/sluice-sub -h 10.77.0.1 -t orders.eu -v --credentials alice.cred &
  ip netns exec $tag-cl build/client/sluice-pub -h 10.77.0.1 -t orders.eu -m hello -a --credentials alice.cred
  ip netns exec $tag-cl build/client/sluice-pub -h 10.77.0.1 -t secret.x -m no --credentials alice.cred
  build/client/sluice-pub --shm $name -t orders.eu -m local -a --credentials alice.cred
  build/ctl/sluicectl -n $name stats --watch
Stop it with: scripts/demo.sh --stop
EOF
fi
exit $rc
