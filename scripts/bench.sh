#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The benchmark suite: this machine's floors and Sluice over UDP and over
# shared memory, measured in one run, printed as one table with Sluice's
# ratio to its floor, and which targets were met.
#
#   scripts/bench.sh [--quick] [--micro] [--duration S] [--rate N] [--shm-rate N]
#
# Floors (each p50/p99/p99.9/max and a throughput): cache-line ping-pong
# between two cores, rte_ring ping-pong between two lcores, memcpy 64 B..1 MiB,
# kernel UDP round trip on loopback and across the suite's veth pair (client
# namespace -> kernel UDP echo in the broker's namespace; the floor for "UDP
# through the virtual NIC"). Then sluice-dataplane (af_packet on the veth,
# --idle busy) with sluice-loadgen at a fixed rate, durability none and sync,
# payload 32, 256 and 1024 B; ratio = Sluice / veth UDP floor of the same size.
# Then the same over shared memory (sluice-loadgen --shm, pinned to cpu 0,
# the dataplane's worker on cpu 1): one-way publish-to-deliver latency (TSC)
# at --shm-rate, ratio = Sluice / cache-line ping-pong round trip (measured
# again just before these rows, "pingpong-2", as the VM's vCPUs move); the time
# of the publish call itself (rows "publish-call"); and the maximum rate with
# 64 B payloads, publish only and with one subscriber (rows "sluice-max-*").
# Sync journals over shared memory are on tmpfs with PMEM_IS_PMEM_FORCE=1:
# emulated persistent memory (rows named "*-emupmem"), not a real device;
# and again on an ordinary file system, msync (rows named "*-file").
# Authenticated rows (same dataplane, a user made through sluice-control):
# "sluice-mac" every datagram sealed with a tag both ways, "sluice-aead"
# encrypted too, in the suite a client gets by default (AES-256-GCM where the
# CPU has AES-NI: the dataplane's log line "seal suites" says); the same
# with "-chacha" from a client that does not offer AES-256-GCM
# (SLUICE_AESGCM_IMPL=none): ChaCha20-Poly1305. Durability none, ratio to
# the plaintext row.
# Shared memory is never sealed (the rings are private to the client).
# Consumer groups over shared memory (a user-less sluice-control makes the
# groups): "sluice-group3", a group of three acking members at --shm-rate,
# 64 B, against "sluice-fanout3", a fan-out to three subscribers in the same
# run (the ratio of the two is printed as a note); "sluice-group3-max", the
# most acked messages/s one worker dispatches to a group of three.
# Loss and throughput rows (same run): "sluice-max-udp", the most 64 B
# messages/s one worker delivers over UDP (publisher and subscriber, at most
# 1024 ahead, publishes batched up to 50 us; "-nobatch": one a datagram), against "udp-veth-rate", kernel UDP packets/s one way across
# the veth; "sluice-64k", 64 KiB messages over UDP and over shared memory, in
# MB/s against memcpy of 64 KiB; through the impairment relay (sluice-impair
# in a namespace between the clients and the dataplane), 256 B at --rate with
# acks at --relay-rate, "sluice-relay" without loss (the relay's own cost) and
# "sluice-loss1" with 1% loss both ways: publish-to-deliver p50/p99/p99.9
# including the recovered messages, ratio to the veth floor of that size.
# A replicated pair (scripts/bench_ha.sh; etcd and two dataplanes with
# backoff idle on one bridge): "sluice-ha-sync", sync publishes through the
# service IP, each released once primary and standby persisted it, against
# "sluice-1node-sync", one node in the same topology and idle strategy;
# "sluice-ha-repl-max", the most 64 B sync messages/s replicated through one
# worker, against "sluice-1node-sync-max".
# MQTT (benchmarks/bench_mqtt.sh, when sluice-mqtt-loadgen is built):
# "mqtt-sluice-*" rows through sluice-mqtt against "mqtt-mosquitto-*", Debian's
# mosquitto driven by the same tool with the same load in the same run (QoS 0
# and 1 at fixed rates, and the maximum rate); ratio = sluice / mosquitto.
#
#   --quick        1 s per Sluice run and short floors (a smoke test, ~45 s)
#   --micro        also run the Google Benchmark micro-benchmarks: benchmarks/bench_hotpath.sh
#                  (frame parse, lookups, ring handoff, journal append, MAC check),
#                  bench_journal.sh and bench_auth.sh
#   --duration S   seconds per Sluice run (default 3)
#   --rate N       msgs/s offered per Sluice run over UDP (default 20000)
#   --shm-rate N   msgs/s offered per latency run over shared memory
#                  (default 100000, the rate the latency targets name)
#   --relay-rate N msgs/s offered through the impairment relay (default 5000:
#                  the relay is a user-space process sharing the clients' core)
#   BUILD=dir      build directory (default build/; built with ninja first)
#
# Writes bench-results/latest.json (rows; floors have transport "floor") and
# bench-results/latency.png (gnuplot). Runs scripts/setup.sh if the build is
# missing. Needs root (namespaces). Every process it starts is stopped by PID
# and the namespaces are removed on exit, also on Ctrl-C.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
quick=0 micro=0 duration=3 rate=20000 shm_rate=100000 relay_rate=5000
usage() { sed -n '3,/^[^#]/p' "$0" | sed -n '/^#/s/^# \{0,1\}//p'; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--micro) micro=1 ;;
	--duration) duration=${2:-}; shift ;;
	--rate) rate=${2:-}; shift ;;
	--shm-rate) shm_rate=${2:-}; shift ;;
	--relay-rate) relay_rate=${2:-}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ $duration =~ ^[0-9]+$ && $duration -ge 1 && $duration -le 60 ]] ||
	{ echo "bench: --duration wants whole seconds 1..60" >&2; exit 2; }
[[ $rate =~ ^[0-9]+$ && $rate -ge 100 && $rate -le 1000000 ]] ||
	{ echo "bench: --rate wants msgs/s 100..1000000" >&2; exit 2; }
[[ $shm_rate =~ ^[0-9]+$ && $shm_rate -ge 100 && $shm_rate -le 10000000 ]] ||
	{ echo "bench: --shm-rate wants msgs/s 100..10000000" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (network namespaces, hugepages)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 is needed (scripts/setup.sh installs it)" >&2; exit 1; }

floor_s=1 # per floor measurement
if [ $quick -eq 1 ]; then
	duration=1 floor_s=0.3
fi
sizes=(32 256 1024)
max_size=64 # payload of the maximum-rate runs
lg_cpu=0    # the loadgen's cpu over shm; the worker has lcore 1 (nic-configs/af_packet.conf)
memcpy_sizes=(64 512 4096 65536 1048576)
tag=slb$$ net=10.79.0 name=sl-bench-$$
start_s=$SECONDS

say() { echo "bench: $*"; }

# --- build ---
if [ ! -f "$build/build.ninja" ] || [ ! -x "$build/dataplane/sluice-dataplane" ] ||
	[ ! -x "$build/benchmarks/sluice-loadgen" ] || ! grep -qs ' hugetlbfs ' /proc/mounts; then
	say "build or hugepages missing: running scripts/setup.sh"
	SLUICE_BUILD=$build timeout 1200 "$root/scripts/setup.sh" || exit 1
fi
timeout 900 ninja -C "$build" >/dev/null || { ninja -C "$build" | tail -20; echo "bench: build failed" >&2; exit 1; }
bin=$build/benchmarks
for b in sluice-floor-pingpong sluice-floor-udp sluice-loadgen; do
	[ -x "$bin/$b" ] || { echo "bench: $bin/$b missing after the build" >&2; exit 1; }
done

# shellcheck source=scripts/netns.sh
SL_BUILD=$build
. "$root/scripts/netns.sh"

work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
jdir=/var/tmp/sluice-bench-$$ # sync journals on an ordinary file system (msync path)
pmdir=/dev/shm/sluice-bench-$$ # shm rows: sync journals on tmpfs, emulated pmem
rows=$work/rows.jsonl
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	sl_dp_stop
	sl_relay_stop
	sl_ns_down $tag
	sl_etcd_stop
	sl_ha_down "slh$$"
	rm -rf "$work" "$jdir" "$pmdir" "/var/run/dpdk/sl-floor-$$" "/var/run/dpdk/$name"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# forget PID: drop PID from the list the exit trap stops.
forget() {
	local p keep=()
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# bounded SECS OUT cmd...: run cmd with a time limit, its stdout into OUT, as a
# child this shell can stop by PID (and wait for interruptibly).
bounded() {
	local secs=$1 out=$2 pid rc
	shift 2
	timeout -k 3 "$secs" "$@" >"$out" 2>>"$work/stderr.log" &
	pid=$!
	PIDS+=("$pid")
	wait "$pid"
	rc=$?
	forget "$pid"
	return $rc
}

# row NAME TRANSPORT DURABILITY SIZE JSONFILE [STATUS [KEY=VALUE...]]: one row
# from a tool's JSON. KEY=VALUE: pct=PREFIX takes the percentiles from
# PREFIXp50_ns.. (e.g. publish_call_), rate=KEY the rate from KEY, nolat=1
# leaves the latency out (null), msgs_per_s=N and note=TEXT set those.
row() {
	python3 - "$@" >>"$rows" <<'PY'
import json, sys
name, transport, dur, size, path = sys.argv[1:6]
status = sys.argv[6] if len(sys.argv) > 6 else "ok"
opt = dict(a.split("=", 1) for a in sys.argv[7:])
r = {"name": name, "transport": transport, "durability": None if dur == "-" else dur,
     "size": int(size), "status": status}
try:
    with open(path) as f:
        j = json.loads([l for l in f if l.startswith("{")][-1])
    pct = opt.get("pct", "")
    for k in ["p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns"]:
        r[k] = None if opt.get("nolat") else j[pct + k]
    r["msgs_per_s"] = j[opt["rate"]] if "rate" in opt else j.get("msgs_per_s", j.get("ops_per_s"))
    for k in ["gbps", "lost", "received", "sent", "publish_per_s", "send_s", "due_p50_ns",
              "due_p99_ns", "publish_call_p99_ns", "backpressure"]:
        if k in j:
            r[k] = j[k]
    if j.get("count", 1) == 0:
        r["status"] = "failed (no samples: cpus too busy?)"
except (OSError, IndexError, KeyError, ValueError):
    r["status"] = "failed"
if "msgs_per_s" in opt:
    r["msgs_per_s"] = float(opt["msgs_per_s"])
if "note" in opt:
    r["note"] = opt["note"]
print(json.dumps(r))
PY
}

# lg_status RC: a row status from sluice-loadgen's exit status.
lg_status() {
	case $1 in
	0) echo ok ;;
	3) echo loss ;;
	*) echo "failed (exit $1)" ;;
	esac
}

# dp_publishes: the running dataplane's count of accepted publishes ("" if unreadable).
dp_publishes() {
	timeout 10 "$root/scripts/sluice-stats" -n "$name" /sluice/stats --get publishes \
		2>>"$work/stderr.log" || true
}

# --- 1. floors, before the dataplane holds a core ---
say "floors (${floor_s} s each): cache-line ping-pong, rte_ring, memcpy, kernel UDP"
bounded 30 "$work/pp.json" "$bin/sluice-floor-pingpong" --json -d $floor_s
row pingpong floor - 64 "$work/pp.json"
if [ -x "$bin/sluice-floor-ring" ]; then
	bounded 60 "$work/ring.json" "$bin/sluice-floor-ring" --no-pci --no-huge -m 256 \
		--file-prefix sl-floor-$$ -l 0,1 --no-telemetry -- --json -d $floor_s
	row rte_ring floor - 8 "$work/ring.json"
else
	echo '{"name":"rte_ring","transport":"floor","durability":null,"size":8,"status":"not built"}' >>"$rows"
fi
for s in "${memcpy_sizes[@]}"; do
	bounded 30 "$work/memcpy$s.json" "$bin/sluice-floor-pingpong" --memcpy -s "$s" --json \
		-d "$(python3 -c "print($floor_s / 3)")"
	row memcpy floor - "$s" "$work/memcpy$s.json"
done
bounded 30 "$work/udplo.json" "$bin/sluice-floor-udp" --json -s 32 -d $floor_s
row udp-loopback floor - 32 "$work/udplo.json"

say "namespaces $tag-dp (broker) and $tag-cl (clients), veth ${tag}d0 <-> ${tag}c0"
sl_ns_up $tag $net || { echo "bench: cannot create the namespaces" >&2; exit 1; }
# The veth floor: a kernel UDP echo on the broker side (address .3, removed
# before the dataplane starts), pinned where the dataplane's worker will run.
ip netns exec $tag-dp ip addr add $net.3/24 dev ${tag}d0
ip netns exec $tag-dp timeout -k 3 60 "$bin/sluice-floor-udp" --echo --bind $net.3 \
	--port 9600 --cpu 1 -d 50 --json 2>>"$work/stderr.log" &
echo_pid=$!
PIDS+=("$echo_pid")
for _ in $(seq 50); do
	ip netns exec $tag-dp ss -Huln 'sport = :9600' 2>/dev/null | grep -q . && break
	sleep 0.1
done
for s in "${sizes[@]}"; do
	stop=()
	[ "$s" = "${sizes[-1]}" ] && stop=(--stop-echo)
	bounded 30 "$work/udpveth$s.json" ip netns exec $tag-cl "$bin/sluice-floor-udp" --json \
		--peer $net.3 --port 9600 -s "$s" -d $floor_s --cpu 0 "${stop[@]}"
	row udp-veth floor - "$s" "$work/udpveth$s.json"
done
kill -TERM "$echo_pid" 2>/dev/null
wait "$echo_pid" 2>/dev/null
forget "$echo_pid"
# Kernel UDP packets/s one way across the veth: the floor of sluice-max-udp.
if [ -x "$bin/sluice-floor-udp-rate" ]; then
	ip netns exec $tag-dp timeout -k 3 30 "$bin/sluice-floor-udp-rate" --sink --bind $net.3 \
		--cpu 1 -d $floor_s >"$work/udprate.json" 2>>"$work/stderr.log" &
	sink_pid=$!
	PIDS+=("$sink_pid")
	sleep 0.2
	bounded 30 /dev/null ip netns exec $tag-cl "$bin/sluice-floor-udp-rate" --peer $net.3 \
		--cpu 0 -s $max_size -d $floor_s
	wait "$sink_pid"
	forget "$sink_pid"
	row udp-veth-rate floor - $max_size "$work/udprate.json" ok nolat=1 rate=pkts_per_s
else
	echo '{"name":"udp-veth-rate","transport":"floor","durability":null,"size":64,"status":"not built"}' >>"$rows"
fi
ip netns exec $tag-dp ip addr flush dev ${tag}d0

# --- 2. Sluice over UDP through the virtual NIC ---
say "sluice-dataplane on af_packet (${tag}d0), --idle busy; sync journals in $jdir" \
	"($(stat -f -c %T /var/tmp))"
mkdir -p "$jdir"
SL_DP_WAIT=30 sl_dp_start $tag "$work/dp.log" --name $name --idle busy \
	--set "port0.ip=$net.1" --set "journal_dir=$jdir/journal" \
	--set "durability_rules=bsync*=sync bnone*=none" || exit 1
say "sluice-loadgen: $rate msg/s, ${duration} s per run, 1 publisher, 1 subscriber"
for dur in none sync; do
	for s in "${sizes[@]}"; do
		bounded $((duration + 30)) "$work/lg-$dur-$s.json" ip netns exec $tag-cl \
			"$bin/sluice-loadgen" --host $net.1 -r "$rate" -s "$s" -d "$duration" \
			--topic-prefix "b$dur$s" --json -q
		row sluice udp "$dur" "$s" "$work/lg-$dur-$s.json" "$(lg_status $?)"
	done
done
# The same with authenticated sessions: every datagram both ways sealed
# (a tag, "sluice-mac") and encrypted ("sluice-aead"), in the default suite
# and in ChaCha20-Poly1305 ("-chacha"); a user made through sluice-control,
# durability none. Ratio: to the plaintext row of the same size, printed
# under the table.
# The help is read whole before grep looks at it: under pipefail, grep -q
# leaving early would fail the pipe with SIGPIPE once the help outgrows one
# pipe write, and the rows would be skipped without a word.
lg_help=$("$bin/sluice-loadgen" --help 2>&1)
# ctl_up STATE_DIR: sluice-control for the running dataplane (no metrics
# listener), waited for until attached; ctl runs sluicectl against it.
ctl() { timeout 10 "$build/ctl/sluicectl" -n $name "$@"; }
ctl_up() {
	"$build/control/sluice-control" -n $name --state-dir "$1" --metrics off \
		>>"$work/control.log" 2>&1 &
	ctl_pid=$!
	PIDS+=("$ctl_pid")
	for _ in $(seq 100); do
		ctl dataplane status --json 2>/dev/null | grep -q '"attached":true' && break
		sleep 0.1
	done
}
ctl_down() {
	kill -TERM "$ctl_pid" 2>/dev/null
	wait "$ctl_pid" 2>/dev/null
	forget "$ctl_pid"
}
if [ -x "$build/control/sluice-control" ] && grep -q -- --encrypt <<<"$lg_help"; then
	say "the same, authenticated: every datagram sealed (MAC), and encrypted (AEAD)"
	ctl_up "$work/control"
	if ctl user add bench --credentials "$work/bench.cred" >/dev/null 2>>"$work/stderr.log" &&
		ctl acl grant bench 'bcr.>' pub,sub >/dev/null 2>>"$work/stderr.log"; then
		for mode in mac aead mac-chacha aead-chacha; do
			enc=(); [ "${mode%-*}" = aead ] && enc=(--encrypt)
			impl=; [ "${mode#*-}" = chacha ] && impl=none
			for s in "${sizes[@]}"; do
				f=$work/lg-$mode-$s.json
				bounded $((duration + 30)) "$f" ip netns exec $tag-cl \
					env SLUICE_AESGCM_IMPL=$impl "$bin/sluice-loadgen" \
					--host $net.1 -r "$rate" -s "$s" -d "$duration" --topic-prefix "bcr.$mode$s" \
					--credentials "$work/bench.cred" "${enc[@]}" --json -q
				row "sluice-$mode" udp none "$s" "$f" "$(lg_status $?)"
			done
		done
		say "$(grep -o 'seal suites: .*' "$work/dp.log" | head -1)"
	else
		say "note: no user for the authenticated rows (see $work/stderr.log)"
	fi
	ctl_down
else
	say "note: no authenticated rows (no sluice-control in $build, or sluice-loadgen without --encrypt)"
fi
# The most messages one worker delivers over UDP: a publisher as fast as it
# can, at most 1024 messages ahead of its subscriber (the latency is queueing).
say "sluice-loadgen over UDP at the maximum rate ($max_size B), and 64 KiB messages"
# Publishes batched up to 50 us per datagram (--batch-us); the broker packs
# deliveries to one subscriber per poll iteration either way.
for b in 0 50; do
	f=$work/max-udp-$b.json
	bounded $((duration + 30)) "$f" ip netns exec $tag-cl "$bin/sluice-loadgen" --host $net.1 \
		-r 0 -S 1 -s $max_size -d "$duration" --window 1024 --batch-us $b \
		--topic-prefix bnonemax$b --json -q
	# The status first: a command substitution in the row's name would set $?.
	st=$(lg_status $?)
	row "sluice-max-udp$([ $b = 0 ] && echo -nobatch)" udp none $max_size "$f" "$st"
done
f=$work/64k-udp.json
bounded $((duration + 30)) "$f" ip netns exec $tag-cl "$bin/sluice-loadgen" --host $net.1 \
	-r 0 -S 1 -s 65536 -d "$duration" --window 64 --topic-prefix bnone64k --json -q
row sluice-64k udp none 65536 "$f" "$(lg_status $?)"
sl_dp_stop
[ "${SL_DP_RC:-0}" = 0 ] || say "note: sluice-dataplane exited with status $SL_DP_RC"
# Deleted now, its dirty pages need no writeback: kernel flusher threads
# would otherwise still be writing the journals during the next section.
rm -rf "$jdir"
sync

# --- 2b. the replicated pair (scripts/bench_ha.sh) ---
# shellcheck source=scripts/bench_ha.sh
. "$root/scripts/bench_ha.sh"
bench_ha

# --- 2b. UDP through the impairment relay: without loss, and 1% loss both ways ---
if [ -x "$build/tools/sluice-impair" ]; then
	say "sluice-impair between the clients and the dataplane: 256 B at $relay_rate msg/s with acks"
	sl_ns_down $tag
	sl_relay_up $tag $net || { echo "bench: cannot create the relay namespaces" >&2; exit 1; }
	SL_DP_WAIT=30 sl_dp_start $tag "$work/dp-relay.log" --name $name --idle busy \
		--set "port0.ip=$net.1" || exit 1
	for spec in relay:loss=0 loss1:loss=0.01; do
		sl_relay_start $tag "$work/relay-${spec%%:*}.log" --time 300 --seed 1 \
			--both "${spec#*:}" || exit 1
		f=$work/relay-${spec%%:*}.json
		bounded $((duration + 60)) "$f" ip netns exec $tag-cl "$bin/sluice-loadgen" \
			--host $net.1 -r "$relay_rate" -s 256 -d "$duration" --ack --drain-ms 10000 \
			--topic-prefix "bl${spec%%:*}" --json -q
		row "sluice-${spec%%:*}" udp none 256 "$f" "$(lg_status $?)"
		sl_relay_stop
	done
	sl_dp_stop
else
	say "sluice-impair not built: no relay rows"
fi

# --- 3. Sluice over shared memory, on the same host ---
# The loadgen attaches through /run/sluice/$name/shm.sock from the root
# namespace (a UNIX socket is a path, not an address). Sync journals go to
# tmpfs with PMEM_IS_PMEM_FORCE=1: libpmem takes its flush-instruction path
# there, as on real persistent memory (emulated: tmpfs is not durable).
# Rings of 4 MiB instead of 512 KiB: at 1 KiB x 100000/s a 512 KiB ring
# holds 5 ms, less than this VM's scheduling hiccups, and a delivery lost
# to a full ring would drop out of the latency figures instead of showing.
# The floor of these rows, measured again right before them: the host moves
# this VM's vCPUs around, and the ping-pong changes with where they land.
bounded 30 "$work/pp2.json" "$bin/sluice-floor-pingpong" --json -d $floor_s
row pingpong-2 floor - 64 "$work/pp2.json"
# The shared-memory ring alone between the same two cores, with the real
# record layout (one-line 32 B message records), both ways of telling the
# consumer a record is there: polling the record's own line, or a doorbell
# word (sluice-bench-shm-ring). The layout's own floor: one-way latency at
# --shm-rate, and the flat-out rate.
if [ -x "$bin/sluice-bench-shm-ring" ]; then
	for m in line doorbell; do
		bounded 60 "$work/shmring-$m.json" "$bin/sluice-bench-shm-ring" --mode $m \
			--rate "$shm_rate" --cpus "$lg_cpu,1" --json
		row "shm-ring-$m" floor - 32 "$work/shmring-$m.json"
	done
else
	echo '{"name":"shm-ring-line","transport":"floor","durability":null,"size":32,"status":"not built"}' >>"$rows"
fi
say "sluice-dataplane again for shared memory, --idle busy; sync journals in $pmdir" \
	"(tmpfs, PMEM_IS_PMEM_FORCE=1: emulated persistent memory)"
mkdir -p "$pmdir"
PMEM_IS_PMEM_FORCE=1 SL_DP_WAIT=30 sl_dp_start $tag "$work/dp-shm.log" --name $name --idle busy \
	--set "port0.ip=$net.1" --set "journal_dir=$pmdir/journal" --set retain_mb=1024 \
	--set shm_ring_kb=4096 \
	--set "durability_rules=ssync*=sync snone*=none msync*=sync mnone*=none" || exit 1
# shm_name DURABILITY: row name; sync rows say their journal is emulated pmem.
shm_name() { if [ "$1" = sync ]; then echo "$2-emupmem"; else echo "$2"; fi; }
say "sluice-loadgen --shm: $shm_rate msg/s, ${duration} s per run, 1 publisher, 1 subscriber," \
	"cpu $lg_cpu"
for dur in none sync; do
	for s in "${sizes[@]}"; do
		f=$work/shm-$dur-$s.json
		bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
			-r "$shm_rate" -s "$s" -d "$duration" --topic-prefix "s$dur$s" --json -q
		st=$(lg_status $?)
		row "$(shm_name $dur sluice)" shm "$dur" "$s" "$f" "$st"
		row publish-call shm "$dur" "$s" "$f" "$st" pct=publish_call_ rate=publish_per_s
	done
done
say "sluice-loadgen --shm: maximum rate, $max_size B, ${duration} s per run," \
	"publish only and 1 subscriber"
for dur in none sync; do
	# Publish only: what the broker accepted, from its own counter.
	f=$work/max-$dur-pub.json
	before=$(dp_publishes)
	bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
		-r 0 -S 0 -s $max_size -d "$duration" --topic-prefix "m${dur}p" --json -q
	st=$(lg_status $?)
	after=$(dp_publishes)
	acc=$(python3 - "$f" "$before" "$after" <<'PY'
import json, sys
try:
    j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
    n = int(sys.argv[3]) - int(sys.argv[2])
except (OSError, IndexError, ValueError):
    sys.exit(0)
ok = "equal to" if n == j["sent"] else "NOT equal to"
print(f"{n / j['send_s']:.1f} broker accepted {n} ({ok} the {j['sent']} published,"
      f" {j['publish_per_s']:.0f}/s), {j['backpressure']} EAGAINs, publish call"
      f" p50 {j['publish_call_p50_ns']} ns p99 {j['publish_call_p99_ns']} ns")
PY
)
	if [ -n "$acc" ]; then
		say "  publish only, $dur: ${acc#* }"
		row "$(shm_name $dur sluice-max-pub)" shm "$dur" $max_size "$f" "$st" nolat=1 \
			"msgs_per_s=${acc%% *}"
		row publish-call-max shm "$dur" $max_size "$f" "$st" pct=publish_call_ \
			rate=publish_per_s
	else
		say "  publish only, $dur: dataplane counters unreadable; the loadgen's publish rate stands"
		row "$(shm_name $dur sluice-max-pub)" shm "$dur" $max_size "$f" "$st" nolat=1 \
			rate=publish_per_s
	fi
	# One subscriber: delivered per second; latency is queueing at this rate.
	f=$work/max-$dur-sub.json
	bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
		-r 0 -S 1 -s $max_size -d "$duration" --topic-prefix "m${dur}s" --json -q
	st=$(lg_status $?)
	row "$(shm_name $dur sluice-max-sub)" shm "$dur" $max_size "$f" "$st"
done
# 64 KiB messages, a few in flight: the rings are 4 MiB.
f=$work/64k-shm.json
bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
	-r 0 -S 1 -s 65536 -d "$duration" --window 16 --topic-prefix "m64k" --json -q
row sluice-64k shm none 65536 "$f" "$(lg_status $?)"
# Consumer groups over shared memory: a group of three members (handles
# polled by the loadgen's one thread, each acking every message) against a
# fan-out to three subscribers, same rate and size; then the most acked
# messages per second one worker dispatches to a group of three. Groups are
# made through sluice-control, so these rows need it.
if [ -x "$build/control/sluice-control" ] && grep -q -- --consumers <<<"$lg_help"; then
	ctl_up "$work/control-shm"
	say "consumer groups over shared memory: a group of 3 against a fan-out to 3, $shm_rate msg/s," \
		"64 B; then a group of 3 at the maximum rate, acked"
	f=$work/fan3.json
	bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
		-r "$shm_rate" -S 3 -s 64 -d "$duration" --topic-prefix "gfan" --json -q
	row sluice-fanout3 shm none 64 "$f" "$(lg_status $?)"
	for run in rate max; do
		r=$shm_rate; [ $run = max ] && r=0
		if ctl topic create "g$run.0" >/dev/null 2>>"$work/stderr.log" &&
			ctl group create "g$run.0" bench --ack-wait-ms 30000 >/dev/null 2>>"$work/stderr.log"; then
			f=$work/group3-$run.json
			bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
				-r "$r" --group bench --consumers 3 -s 64 -d "$duration" --topic-prefix "g$run" \
				--json -q
			st=$(lg_status $?)
			if [ $run = rate ]; then
				row sluice-group3 shm none 64 "$f" "$st"
			else
				row sluice-group3-max shm none 64 "$f" "$st"
			fi
		else
			say "note: no group for the group rows (see $work/stderr.log)"
		fi
	done
	say "$(python3 - "$work/fan3.json" "$work/group3-rate.json" <<'PY'
import json, sys
try:
    a, b = (json.loads([l for l in open(p) if l.startswith("{")][-1]) for p in sys.argv[1:3])
    print(f"group of 3 / fan-out to 3 (same run): p50 {b['p50_ns'] / a['p50_ns']:.2f}x,"
          f" p99 {b['p99_ns'] / a['p99_ns']:.2f}x; group: {b.get('processed')} processed,"
          f" lost {b.get('lost')}, duplicates {b.get('duplicates')}")
except (OSError, IndexError, KeyError, ValueError, ZeroDivisionError) as e:
    print(f"group of 3 / fan-out to 3: not computed ({e})")
PY
)"
	ctl_down
else
	say "note: no group rows (no sluice-control in $build, or sluice-loadgen without --group)"
fi
sl_dp_stop
[ "${SL_DP_RC:-0}" = 0 ] || say "note: sluice-dataplane (shared memory) exited with status $SL_DP_RC"

# --- 3b. sync durability over shared memory, journals on an ordinary file ---
# The *-emupmem rows again with the journals on $jdir (no PMEM_IS_PMEM_FORCE:
# libpmem's msync path, as on a disk): "sluice-file" at --shm-rate, and
# "sluice-max-pub-file" (accepted by the broker, from its counter) and
# "sluice-max-sub-file" at the maximum rate.
say "sluice-dataplane again for shared memory; sync journals in $jdir" \
	"($(stat -f -c %T /var/tmp), ordinary files: msync)"
mkdir -p "$jdir"
SL_DP_WAIT=30 sl_dp_start $tag "$work/dp-file.log" --name $name --idle busy \
	--set "port0.ip=$net.1" --set "journal_dir=$jdir/journal" --set retain_mb=1024 \
	--set shm_ring_kb=4096 --set "durability_rules=fsync*=sync" || exit 1
for s in "${sizes[@]}"; do
	f=$work/file-$s.json
	bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
		-r "$shm_rate" -s "$s" -d "$duration" --topic-prefix "fsync$s" --json -q
	row sluice-file shm sync "$s" "$f" "$(lg_status $?)"
done
f=$work/file-max-pub.json
before=$(dp_publishes)
bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
	-r 0 -S 0 -s $max_size -d "$duration" --topic-prefix fsyncp --json -q
st=$(lg_status $?)
after=$(dp_publishes)
acc=$(python3 -c 'import json, sys
j = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
print((int(sys.argv[3]) - int(sys.argv[2])) / j["send_s"])' "$f" "$before" "$after" 2>/dev/null)
if [ -n "$acc" ]; then
	row sluice-max-pub-file shm sync $max_size "$f" "$st" nolat=1 "msgs_per_s=$acc"
else
	row sluice-max-pub-file shm sync $max_size "$f" "$st" nolat=1 rate=publish_per_s
fi
f=$work/file-max-sub.json
bounded $((duration + 30)) "$f" "$bin/sluice-loadgen" --shm "$name" --cpu $lg_cpu \
	-r 0 -S 1 -s $max_size -d "$duration" --topic-prefix fsyncs --json -q
row sluice-max-sub-file shm sync $max_size "$f" "$(lg_status $?)"
sl_dp_stop
[ "${SL_DP_RC:-0}" = 0 ] || say "note: sluice-dataplane (file journals) exited with status $SL_DP_RC"
rm -rf "$jdir"

# --- 3c. the broker's own CPU per message, single-threaded (no other core involved) ---
# The worker's path over shared memory (test_shm_worker --bench: one-line
# message records, no subscriber and one shm subscriber; the TSC around each
# poll of 32, median), and what the latency histograms add per message
# (bench-hotpath's LatHist rows, on minus off, CPU time). Figures a busy
# machine moves least: a poll that lost its core is an outlier, not a shift.
if [ -x "$build/tests/test_shm_worker" ]; then
	say "worker CPU per message over shared memory (test_shm_worker --bench 20000)"
	timeout 120 "$build/tests/test_shm_worker" --bench 20000 2>>"$work/stderr.log" |
		grep "^worker per message" >"$work/worker-cost.txt"
	python3 - "$work/worker-cost.txt" >>"$rows" <<'PY'
import json, re, sys
for l in open(sys.argv[1]):
    m = re.search(r"(no subscriber|one shm subscriber): p10 ([0-9.]+) ns, median ([0-9.]+) ns, p90 ([0-9.]+) ns", l)
    if m:
        med = float(m.group(3))
        print(json.dumps({"name": "worker-cpu" + ("-sub" if "one" in m.group(1) else "-pub"),
                          "transport": "shm", "durability": "none", "size": 32, "status": "ok",
                          "p50_ns": med, "p90_ns": float(m.group(4)), "p99_ns": None,
                          "p999_ns": None, "p9999_ns": None, "max_ns": None,
                          "msgs_per_s": 1e9 / med, "cpu_p10_ns": float(m.group(2))}))
PY
fi
if [ -x "$bin/bench-hotpath" ]; then
	say "latency histograms' cost per message (bench-hotpath LatHist rows, CPU time)"
	timeout 120 "$bin/bench-hotpath" --benchmark_filter='LatHist(Deliver|Persist)' \
		--benchmark_min_time=0.3 --benchmark_repetitions=3 \
		--benchmark_report_aggregates_only=true --benchmark_format=json \
		>"$work/lathist.json" 2>>"$work/stderr.log"
	python3 - "$work/lathist.json" >>"$rows" <<'PY'
import json, sys
try:
    b = json.load(open(sys.argv[1]))["benchmarks"]
except (OSError, ValueError, KeyError):
    sys.exit(0)
med = {x["run_name"]: 1e9 / x["items_per_second"] for x in b
       if x.get("aggregate_name") == "median" and x.get("items_per_second")}
for what, on, off in (("deliver", "BM_LatHistDeliver/on:1/topics:8", "BM_LatHistDeliver/on:0/topics:1"),
                      ("persist", "BM_LatHistPersist/on:1", "BM_LatHistPersist/on:0")):
    if on in med and off in med:
        print(json.dumps({"name": "hist-cost-" + what, "transport": "cpu", "durability": None,
                          "size": 0, "status": "ok", "p50_ns": None, "p90_ns": None,
                          "p99_ns": None, "p999_ns": None, "p9999_ns": None, "max_ns": None,
                          "msgs_per_s": 0, "cost_ns": med[on] - med[off], "on_ns": med[on],
                          "off_ns": med[off]}))
PY
fi

# --- 3d. MQTT: sluice-mqtt against Debian's mosquitto (benchmarks/bench_mqtt.sh) ---
# Rows "mqtt-mosquitto-*" and "mqtt-sluice-*" (QoS 0/1 at 10k and 50k msg/s,
# and the maximum rate), same tool, same load; r. = sluice / mosquitto.
if [ -x "$bin/sluice-mqtt-loadgen" ]; then
	say "MQTT: sluice-mqtt and mosquitto side by side (benchmarks/bench_mqtt.sh)"
	mq=(--duration "$duration"); [ $quick -eq 1 ] && mq=(--quick)
	BUILD=$build timeout -k 5 900 bash "$root/benchmarks/bench_mqtt.sh" "${mq[@]}" \
		--rows "$rows" 2>&1 | grep -v '^{"size"' | sed 's/^/  /'
else
	say "sluice-mqtt-loadgen not built: no MQTT rows"
fi

# --- 4. table, JSON, plot ---
mkdir -p "$root/bench-results"
table_ok=1
python3 - "$rows" "$root/bench-results/latest.json" "$work/plot" <<'PY' || table_ok=0
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out, plot = sys.argv[2], sys.argv[3]

def t(ns):
    if ns is None:
        return "-"
    if ns < 1000:
        return f"{ns:.1f}ns" if ns < 100 else f"{ns:.0f}ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f}us"
    return f"{ns / 1e6:.2f}ms"

# Floors: UDP rows against the kernel UDP round trip across the same veth;
# shared-memory latency rows against the cache-line ping-pong round trip
# (one-way through the broker is two cache-line hand-offs at least, as is
# one ping-pong round trip).
veth = {r["size"]: r for r in rows if r["name"] == "udp-veth" and r["status"] == "ok" and
        r["p50_ns"] and r["p99_ns"]}
pp = None
for n in ("pingpong", "pingpong-2"): # the later one, when it worked
    pp = next((r for r in rows if r["name"] == n and r["status"] == "ok" and
               r["p50_ns"] and r["p99_ns"]), pp)
for r in rows:
    f = None
    if r["name"] in ("sluice", "sluice-relay", "sluice-loss1") and r["transport"] == "udp":
        f = veth.get(r["size"])
    elif r["name"] in ("sluice", "sluice-emupmem", "sluice-file") and r["transport"] == "shm":
        f = pp
    elif r["name"].startswith("mqtt-sluice-"):
        # MQTT: against mosquitto's row of the same load, same run.
        f = next((q for q in rows if q["name"] == "mqtt-mosquitto-" + r["name"][12:] and
                  q["status"] in ("ok", "loss") and q.get("p50_ns") and q.get("p99_ns")), None)
    r["floor_p50_ns"] = f["p50_ns"] if f else None
    r["floor_p99_ns"] = f["p99_ns"] if f else None

hdr = f"{'name':22} {'transport':9} {'durab':5} {'size':>7} {'p50':>8} {'p99':>8} {'p99.9':>8} {'max':>8} {'msgs/s':>12} {'r.p50':>6} {'r.p99':>6}"
print(hdr)
print("-" * len(hdr))
for r in rows:
    d = r["durability"] or "-"
    head = f"{r['name']:22} {r['transport']:9} {d:5} {r['size']:>7}"
    if r["status"] in ("not built", "failed") or r["status"].startswith("failed"):
        print(f"{head}   {r['status']}")
        continue
    rate = f"{r['msgs_per_s']:.0f}"
    if "gbps" in r:
        rate = f"{r['gbps']:.1f} GB/s"
    ratio = ["-", "-"]
    if r["floor_p50_ns"] and r["floor_p99_ns"] and r["p50_ns"] is not None:
        ratio = [f"{r['p50_ns'] / r['floor_p50_ns']:.2f}", f"{r['p99_ns'] / r['floor_p99_ns']:.2f}"]
    note = "" if r["status"] == "ok" else f"  ({r['status']}: lost {r.get('lost', '?')})"
    print(f"{head} {t(r['p50_ns']):>8} {t(r['p99_ns']):>8} {t(r['p999_ns']):>8} "
          f"{t(r['max_ns']):>8} {rate:>12} {ratio[0]:>6} {ratio[1]:>6}{note}")
print("shm rows: latency is one-way publish to deliver (TSC; r. = ratio to the ping-pong round"
      " trip,\n  pingpong-2, measured again just before them);\n  publish-call: time inside claim+copy+commit, msgs/s = publish rate;"
      " sluice-max-pub: accepted by\n  the broker per second (no subscriber);"
      " sluice-max-sub: delivered per second, latency = queueing;\n"
      "  publish-call-max: the publish call during sluice-max-pub;\n"
      "  shm-ring-*: the ring alone (sluice-bench-shm-ring), one-line records between the two cores:\n"
      "  latency one-way at the shm rate, msgs/s flat out; -line polls the record, -doorbell a word;\n"
      "  *-emupmem: sync journal on tmpfs with PMEM_IS_PMEM_FORCE=1 (emulated persistent memory)\n"
      "  *-file: sync journal on an ordinary file system (msync)\n"
      "mqtt-* rows: benchmarks/bench_mqtt.sh, publish -> deliver over TCP on 127.0.0.1 from the"
      " due time;\n  r. = sluice-mqtt / mosquitto of the same row (*-max: msgs/s delivered)")
# Throughput against the floors of the same run.
def first_ok(name, transport=None, size=None):
    return next((r for r in rows if r["name"] == name and r["status"] in ("ok", "loss") and
                 (transport is None or r["transport"] == transport) and
                 (size is None or r["size"] == size) and r.get("msgs_per_s")), None)
# Each maximum rate against its floor's rate: UDP against kernel UDP one way
# across the veth; shared memory against the ring alone between the same
# two cores (shm-ring-line, flat out).
def rate_vs(names, fl, what):
    for n in names:
        mx = first_ok(n)
        if fl and mx:
            print(f"  {n}, one worker, {mx['size']} B: {mx['msgs_per_s'] / 1e6:.2f}M msgs/s vs {what}"
                  f" {fl['msgs_per_s'] / 1e6:.2f}M/s = {mx['msgs_per_s'] / fl['msgs_per_s']:.2f}x")
        else:
            print(f"  {n}: not measured" + ("" if fl else " (no floor)"))
# The pair against one node, same topology and idle strategy, same run.
one = {r["size"]: r for r in rows if r["name"] == "sluice-1node-sync" and r["status"] == "ok"}
busy = {r["size"]: r for r in rows if r["name"] == "sluice" and r["transport"] == "udp" and
        r["durability"] == "sync" and r["status"] == "ok"}
ha = [r for r in rows if r["name"] == "sluice-ha-sync" and r["status"] == "ok"]
if ha:
    print("replicated pair (sync, released once both nodes persisted) against one node:")
for r in ha:
    o, b = one.get(r["size"]), busy.get(r["size"])
    line = f"  {r['size']} B: p50 {t(r['p50_ns'])}, p99 {t(r['p99_ns'])}"
    if o:
        line += (f"; 1 node (backoff) {t(o['p50_ns'])} / {t(o['p99_ns'])} = "
                 f"{r['p50_ns'] / o['p50_ns']:.2f}x / {r['p99_ns'] / o['p99_ns']:.2f}x")
    if b:
        line += f"; 1 node (busy) p50 {t(b['p50_ns'])} = {r['p50_ns'] / b['p50_ns']:.2f}x"
    print(line)
mh, m1 = first_ok("sluice-ha-repl-max"), first_ok("sluice-1node-sync-max")
if mh:
    print(f"  replication throughput, one worker, {mh['size']} B sync: {mh['msgs_per_s']:.0f} msgs/s"
          + (f" vs one node {m1['msgs_per_s']:.0f} = {mh['msgs_per_s'] / m1['msgs_per_s']:.2f}x"
             if m1 else ""))
print("throughput against floors:")
rate_vs(("sluice-max-udp", "sluice-max-udp-nobatch"), first_ok("udp-veth-rate"),
        "kernel UDP pkts one way")
rate_vs(("sluice-max-pub", "sluice-max-sub", "sluice-max-pub-emupmem", "sluice-max-sub-emupmem"),
        first_ok("shm-ring-line"), "the shm ring alone")
for r in rows:
    if r["name"].startswith("worker-cpu") and r["status"] == "ok":
        print(f"  {r['name']}: the worker's own CPU per 32 B message over shm, single-threaded:"
              f" median {t(r['p50_ns'])} (p10 {t(r['cpu_p10_ns'])}) = {r['msgs_per_s'] / 1e6:.1f}M msgs/s"
              f" a worker core could take")
    if r["name"].startswith("hist-cost") and r["status"] == "ok":
        print(f"  {r['name']}: latency histograms add {r['cost_ns']:.1f} ns per message"
              f" ({t(r['off_ns'])} off, {t(r['on_ns'])} on; bench-hotpath, CPU time)")
# The publish call's p99 at the latency rows' rate beside the same at the
# maximum rate.
for dur in ("none", "sync"):
    calls = [r for r in rows if r["name"] == "publish-call" and r["durability"] == dur and
             r["status"] in ("ok", "loss") and r["p99_ns"] is not None]
    mx = next((r for r in rows if r["name"] == "publish-call-max" and r["durability"] == dur and
               r["status"] in ("ok", "loss") and r["p99_ns"] is not None), None)
    if calls or mx:
        print(f"  publish call p99, {dur}: at {calls[0]['msgs_per_s']:.0f} msg/s " if calls else
              f"  publish call p99, {dur}: ", end="")
        print(", ".join(f"{r['size']} B {t(r['p99_ns'])}" for r in calls) +
              (f" | at the maximum rate ({mx['msgs_per_s'] / 1e6:.2f}M/s) {mx['size']} B"
               f" {t(mx['p99_ns'])} (p50 {t(mx['p50_ns'])})" if mx else " | maximum rate not measured"))
for q in ("q0", "q1"):
    ms, mm = first_ok(f"mqtt-sluice-{q}-max"), first_ok(f"mqtt-mosquitto-{q}-max")
    if ms and mm:
        print(f"  MQTT {q} maximum rate: sluice-mqtt {ms['msgs_per_s']:.0f} msgs/s vs mosquitto"
              f" {mm['msgs_per_s']:.0f} = {ms['msgs_per_s'] / mm['msgs_per_s']:.2f}x")
mc = first_ok("memcpy", size=65536)
for tr in ("udp", "shm"):
    r = first_ok("sluice-64k", tr)
    if r and mc:
        mbs, fmbs = r["msgs_per_s"] * 65536 / 1e6, mc["gbps"] * 1e3
        print(f"  64 KiB over {tr}: {mbs:.1f} MB/s vs memcpy 64 KiB {fmbs:.0f} MB/s = {mbs / fmbs:.4f}x")
    else:
        print(f"  64 KiB over {tr}: not measured")
for mode in ("mac", "aead", "mac-chacha", "aead-chacha"):
    for r in rows:
        if r["name"] != f"sluice-{mode}" or r["status"] not in ("ok", "loss") or r["p50_ns"] is None:
            continue
        plain = next((q for q in rows if q["name"] == "sluice" and q["transport"] == "udp" and
                      q["durability"] == "none" and q["size"] == r["size"] and
                      q["status"] == "ok" and q["p50_ns"]), None)
        if plain:
            print(f"  {r['name']} {r['size']} B: p50 {t(r['p50_ns'])} = {r['p50_ns'] / plain['p50_ns']:.2f}x"
                  f" plaintext ({t(plain['p50_ns'])}, {'+' if r['p50_ns'] >= plain['p50_ns'] else '-'}"
                  f"{t(abs(r['p50_ns'] - plain['p50_ns']))}),"
                  f" p99 {r['p99_ns'] / plain['p99_ns']:.2f}x")
for n in ("sluice-relay", "sluice-loss1"):
    r = first_ok(n)
    if r:
        print(f"  {n}: sent {r.get('sent')} received {r.get('received')} lost {r.get('lost')}"
              f" ({r['status']})")
for r in rows:
    if r["transport"] == "shm" and r["name"] in ("sluice", "sluice-emupmem") and \
            r["status"] in ("ok", "loss") and r.get("due_p50_ns") is not None:
        print(f"  {r['name']} {r['durability']} {r['size']} B: from the due time p50 "
              f"{t(r['due_p50_ns'])} p99 {t(r['due_p99_ns'])} (counts any wait before the publish)")

keys = ["name", "transport", "durability", "size", "p50_ns", "p99_ns", "p999_ns", "max_ns",
        "msgs_per_s", "floor_p50_ns", "floor_p99_ns"]
good = [r for r in rows if r["status"] in ("ok", "loss")]
with open(out, "w") as f:
    json.dump([{k: r[k] for k in keys} for r in good], f, indent=1)
    f.write("\n")

# One block per row for gnuplot: x = 1/(1-p), y = us. The maximum-rate rows
# are left out: their latency is queueing (or there is none, publish only).
# Two panels: UDP through the virtual NIC with its kernel floors (left), the
# same host over shared memory with the core-to-core floors (right); memcpy
# is a bandwidth floor, left out. Colour by size, dashes for floors, points
# by kind (sync, publish call).
def panel(r):
    if r["name"].startswith(("memcpy", "worker-cpu", "hist-cost", "mqtt-")):
        return None
    if r["transport"] == "udp" or r["name"].startswith("udp-"):
        return "L"
    return "R"
colour = {8: 4, 32: 1, 64: 1, 256: 2, 1024: 3}
with open(plot + ".dat", "w") as f, open(plot + ".titles", "w") as tt:
    for r in good:
        if r["name"].startswith("sluice-max") or r["p50_ns"] is None or panel(r) is None:
            continue
        f.write(f"# {r['name']} {r['transport']} {r['durability']} {r['size']}\n")
        for x, k in [(2, "p50_ns"), (10, "p90_ns"), (100, "p99_ns"), (1000, "p999_ns"),
                     (10000, "p9999_ns")]:
            f.write(f"{x} {max(r[k], 0.001) / 1000.0}\n")
        f.write("\n\n")
        d = "" if r["durability"] is None else " " + r["durability"]
        dt = 2 if r["transport"] == "floor" else 1
        pt = 6 if r["name"] == "publish-call" else 7 if r["durability"] == "sync" else 5
        tt.write(f"{panel(r)}|{colour.get(r['size'], 5)}|{dt}|{pt}|"
                 f"{r['name']} {r['transport']}{d} {r['size']}B\n")

# Targets, each judged on this run's own rows (shm latency on durability none).
def ok_rows(name, transport, dur=None):
    return [r for r in rows if r["name"] == name and r["transport"] == transport and
            r["status"] in ("ok", "loss") and r["p50_ns"] is not None and
            (dur is None or r["durability"] == dur)]

def verdict(what, vals):
    # vals: list of (passed, text), passed None when it cannot be judged
    # (its floor failed); no rows: not measured.
    if not vals:
        print(f"  [ n/a ] {what}: not measured")
        return
    res = [v[0] for v in vals]
    tag = "MISSED" if False in res else " n/a " if None in res else " met "
    print(f"  [{tag}] {what}: " + "; ".join(v[1] for v in vals))

print("targets:")
lat = ok_rows("sluice", "shm", "none")
verdict("shm p50 < 1 us and <= 1.5x ping-pong p50" +
        (f" ({t(pp['p50_ns'])})" if pp else ""),
        [((r["p50_ns"] < 1000 and r["p50_ns"] <= 1.5 * pp["p50_ns"]) if pp else
          (False if r["p50_ns"] >= 1000 else None),
          f"{r['size']} B {t(r['p50_ns'])}" + (f" = {r['p50_ns'] / pp['p50_ns']:.2f}x" if pp else ""))
         for r in lat])
verdict("shm p99 <= 3x ping-pong p99" + (f" ({t(pp['p99_ns'])})" if pp else ""),
        [(r["p99_ns"] <= 3 * pp["p99_ns"] if pp else None,
          f"{r['size']} B {t(r['p99_ns'])}" + (f" = {r['p99_ns'] / pp['p99_ns']:.2f}x" if pp else ""))
         for r in lat])
# Aeron's IPC round trip (two hops, as publish -> worker -> subscriber is)
# is about 1.15x the ping-pong round trip on this machine.
verdict("shm one-way p50 <= 1.15x ping-pong p50 (Aeron IPC's round trip here)",
        [(r["p50_ns"] <= 1.15 * pp["p50_ns"] if pp else None,
          f"{r['size']} B" + (f" {r['p50_ns'] / pp['p50_ns']:.2f}x" if pp else " no floor"))
         for r in lat])
verdict("publish call p99 < 100 ns (at the latency rows' rate)",
        [(r["p99_ns"] < 100, f"{r['durability']} {r['size']} B {t(r['p99_ns'])}")
         for r in ok_rows("publish-call", "shm")])
def rate_rows(name):
    return [r for r in rows if r["name"] == name and r["status"] in ("ok", "loss")]
verdict(">= 20M msg/s, durability none (publish only, accepted by the broker)",
        [(r["msgs_per_s"] >= 20e6, f"{r['msgs_per_s'] / 1e6:.2f}M/s")
         for r in rate_rows("sluice-max-pub")])
verdict(">= 14M msg/s delivered to one shm subscriber, durability none (Aeron IPC's rate here)",
        [(r["msgs_per_s"] >= 14e6, f"{r['msgs_per_s'] / 1e6:.2f}M/s")
         for r in rate_rows("sluice-max-sub")])
verdict(">= 5M msg/s, durability sync on tmpfs-emulated pmem (publish only)",
        [(r["msgs_per_s"] >= 5e6, f"{r['msgs_per_s'] / 1e6:.2f}M/s")
         for r in rate_rows("sluice-max-pub-emupmem")])
verdict("the broker's latency histograms cost < 5 ns per message",
        [(r["cost_ns"] < 5, f"{r['name'][10:]} {r['cost_ns']:.1f} ns")
         for r in rows if r["name"].startswith("hist-cost") and r["status"] == "ok"])
verdict("UDP round trip p50 <= 1.2x kernel UDP across the veth (durability none)",
        [(r["p50_ns"] <= 1.2 * r["floor_p50_ns"] if r["floor_p50_ns"] else None,
          f"{r['size']} B " + (f"{r['p50_ns'] / r['floor_p50_ns']:.2f}x" if r["floor_p50_ns"] else "no floor"))
         for r in ok_rows("sluice", "udp", "none")])
PY
failed=$(grep -c '"status": "failed' "$rows")
[ "$failed" -eq 0 ] || say "note: $failed measurement(s) failed and are left out of the JSON; see below"
grep -h . "$work/stderr.log" 2>/dev/null | grep -v '^EAL:\|^TELEMETRY:' | tail -5 | sed 's/^/  /'
if [ $table_ok -eq 0 ]; then
	say "error: making the table, bench-results/latest.json or the plot data failed (above)"
elif [ -s "$root/bench-results/latest.json" ]; then
	say "wrote bench-results/latest.json"
fi

if [ ! -s "$work/plot.titles" ]; then
	say "no latency rows to plot"
elif command -v gnuplot >/dev/null; then
	term="pngcairo size 1400,650 font ',9'"
	gnuplot -e "set terminal $term" -e "quit" 2>/dev/null || term="png size 1400,650"
	{
		echo "set terminal $term noenhanced"
		echo "set output '$root/bench-results/latency.png'"
		echo "set multiplot layout 1,2 title 'Latency percentiles ($(hostname), $(date -u +%F));" \
			"dashed: floors of this machine; colour: message size'"
		echo "set logscale xy"
		echo "set xtics ('50' 2, '90' 10, '99' 100, '99.9' 1000, '99.99' 10000)"
		echo "set xlabel 'percentile'"
		echo "set ylabel 'latency (us)'"
		echo "set key top left font ',8'"
		echo "set grid"
		for side in L R; do
			if [ $side = L ]; then
				echo "set title 'UDP through the virtual NIC (round trip from the due time)'"
			else
				echo "set title 'same host, shared memory (one-way publish to deliver; publish call)'"
			fi
			i=0 sep="plot"
			while IFS='|' read -r p lc dt pt title; do
				if [ "$p" = $side ]; then
					echo "$sep '$work/plot.dat' index $i with linespoints lc $lc dt $dt" \
						"pt $pt title '$title' \\"
					sep=","
				fi
				i=$((i + 1))
			done <"$work/plot.titles"
			echo ""
		done
		echo "unset multiplot"
	} >"$work/plot.gp"
	if timeout 60 gnuplot "$work/plot.gp" 2>>"$work/stderr.log"; then
		say "wrote bench-results/latency.png"
	else
		say "gnuplot failed; no plot:"
		tail -n 3 "$work/stderr.log" >&2
	fi
else
	say "note: gnuplot not installed (scripts/setup.sh adds gnuplot-nox); plot skipped"
fi

if [ $micro -eq 1 ]; then
	for m in bench_hotpath bench_journal bench_auth; do
		say "micro-benchmark benchmarks/$m.sh"
		(cd "$root" && timeout -k 5 600 "benchmarks/$m.sh" "$build") ||
			say "benchmarks/$m.sh did not finish (built without libbenchmark-dev?)"
	done
fi
say "done in $((SECONDS - start_s)) s"
