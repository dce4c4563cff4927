#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# MQTT side by side: Debian's mosquitto and sluice-mqtt in one run on this
# machine, driven by the same load tool (sluice-mqtt-loadgen) with the same
# load, printed as one table with Sluice's ratio to mosquitto.
#
#   benchmarks/bench_mqtt.sh [--quick] [--duration S] [--rates "R ..."] [--size B]
#                            [--sessions N] [--broker both|mosquitto|sluice]
#                            [--dp-idle backoff|busy] [--dp-idle-spin N] [--gw-spin-us N]
#                            [--skip "sessions max"]
#                            [--rows FILE] [--json FILE]
#
# Rows, each for both brokers (MQTT 3.1.1, one publisher and one subscriber
# connection on 127.0.0.1, --size payloads, 1 s warm-up then --duration s):
#   qos0-R, qos1-R  publish -> deliver latency p50/p99/p99.9 at R msgs/s for
#                   each of --rates (default "10000 50000"), open loop from
#                   each message's due time (no coordinated omission)
#   qos0-max, qos1-max  the most messages/s delivered: 4 publishers on one
#                   topic, 1 subscriber, at most 1000 messages ahead (QoS 1:
#                   1000 in flight per publisher); latency there is queueing
#   sessions        memory per idle persistent session: --sessions (default
#                   1000) clients each CONNECT with a persistent session,
#                   SUBSCRIBE at QoS 1 (all to one topic, b<broker>/sess/all:
#                   the cost of a session, not of a topic each) and DISCONNECT;
#                   the broker's RSS before and after, divided by N (sluice:
#                   sluice-mqtt's RSS, and the dataplane's RSS + hugetlb
#                   beside it); then the sessions are ended again
#
# Configurations, chosen to be comparable:
#   mosquitto  persistence false: messages and sessions in memory. (With
#              persistence true mosquitto only saves its database every
#              autosave_interval, 1800 s by default, so a PUBACK never
#              means "on disk" either: in memory is the honest match.)
#              set_tcp_nodelay true (as Sluice's sockets), max_inflight_messages
#              1000, max_queued_messages 100000, so neither broker drops
#              because of a small default queue.
#   sluice     sluice-dataplane (af_packet preset on a veth in its own
#              namespace, --dp-idle, default backoff: two shared cores),
#              sluice-control, and sluice-mqtt on 127.0.0.1 attached over
#              shared memory, anonymous clients allowed; load topics are
#              durability none (memory only: a QoS 1 PUBACK means accepted
#              and routed, as mosquitto's), the sessions' topics async
#              (journaled: what a persistent session replays from).
#              --max-inflight 1000, --max-queued 100000, --tx-max 64 MiB.
#              The QoS 1 rows' topics and the sessions' back-pressure block
#              (docs/MQTT.md 6.4): with the default drop a gateway behind
#              loses PUBACKed messages; block holds the publishers back.
# Nothing is pinned: the brokers and the tool share this machine's cores, so
# figures move from run to run; compare the two brokers within one run.
#
#   --quick          1 s rows, 200 sessions (a smoke test)
#   --broker B       only mosquitto, or only sluice (default both)
#   --dp-idle-spin N the dataplane's idle_spin (default 256: empty polls before
#                    a backoff sleep; a doorbell wakes it for shared memory)
#   --gw-spin-us N   sluice-mqtt's --spin-us (default 50: how long its loop
#                    polls after work before it sleeps on its doorbells)
#   --skip "KINDS"   leave out the sessions row and/or the *-max rows (a
#                    latency-only run)
#   --rows FILE      also append scripts/bench.sh rows (mqtt-<broker>-<row>, as
#                    mqtt-sluice-q1-50k, mqtt-mosquitto-q0-max)
#   --json FILE      also write the summary there (default: only stdout)
#   BUILD=dir        build directory (default build/)
#
# Exit status: 0 when every row was measured (targets are reported, not
# enforced), 1 when a row failed, 2 for usage. Needs root for the Sluice side
# (namespaces, hugepages); mosquitto needs nothing. Every process it starts
# is stopped by PID; the namespaces are removed on exit, also on Ctrl-C.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
quick=0 duration=3 rates="10000 50000" size=64 sessions=1000 broker=both idle=backoff skip=
dp_spin=256 gw_spin=50
rows_out= json_out=
usage() { sed -n '3,/^[^#]/p' "$0" | sed -n '/^#/s/^# \{0,1\}//p'; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--duration) duration=${2:-}; shift ;;
	--rates) rates=${2:-}; shift ;;
	--size) size=${2:-}; shift ;;
	--sessions) sessions=${2:-}; shift ;;
	--broker) broker=${2:-}; shift ;;
	--dp-idle) idle=${2:-}; shift ;;
	--skip) skip=${2:-}; shift ;;
	--dp-idle-spin) dp_spin=${2:-}; shift ;;
	--gw-spin-us) gw_spin=${2:-}; shift ;;
	--rows) rows_out=${2:-}; shift ;;
	--json) json_out=${2:-}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench_mqtt: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ $quick -eq 0 ] || { duration=1; [ "$sessions" = 1000 ] && sessions=200; }
[[ $duration =~ ^[0-9]+$ && $duration -ge 1 && $duration -le 60 ]] ||
	{ echo "bench_mqtt: --duration wants whole seconds 1..60" >&2; exit 2; }
[[ $dp_spin =~ ^[0-9]+$ && $gw_spin =~ ^[0-9]+$ ]] ||
	{ echo "bench_mqtt: --dp-idle-spin and --gw-spin-us want numbers" >&2; exit 2; }
[[ $sessions =~ ^[0-9]+$ && $sessions -ge 1 && $sessions -le 100000 ]] ||
	{ echo "bench_mqtt: --sessions wants 1..100000" >&2; exit 2; }
for r in $rates; do
	[[ $r =~ ^[0-9]+$ && $r -ge 1 ]] || { echo "bench_mqtt: --rates wants msgs/s" >&2; exit 2; }
done
case $broker in both|mosquitto|sluice) ;; *)
	echo "bench_mqtt: --broker is both, mosquitto or sluice" >&2; exit 2 ;; esac
case $idle in backoff|busy) ;; *)
	echo "bench_mqtt: --dp-idle is backoff or busy" >&2; exit 2 ;; esac

lg=$build/benchmarks/sluice-mqtt-loadgen
gw=$build/gateway/sluice-mqtt
mosq=$(command -v mosquitto || echo /usr/sbin/mosquitto)
say() { echo "bench_mqtt: $*" >&2; }
[ -x "$lg" ] || { say "$lg missing: build first (ninja -C $build)"; exit 1; }

work=$(mktemp -d /tmp/sluice-bench-mqtt.XXXXXX)
rows=$work/rows.jsonl
: >"$rows"
tag=slq$$ net=10.81.0 name=sl-bmqtt-$$
PIDS=()
SL_DP_PID=
# shellcheck source=scripts/netns.sh
SL_BUILD=$build
. "$root/scripts/netns.sh"
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
	if [ -n "$SL_DP_PID" ]; then
		sl_dp_stop
		sl_ns_down $tag
	fi
	rm -rf "$work" "/run/sluice/$name" "/var/run/dpdk/$name"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop PID: SIGTERM, wait, and drop it from the list the exit trap stops.
stop() {
	local p keep=()
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
listening() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
		"$1" 2>/dev/null
}
wait_listening() {
	local i
	for ((i = 0; i < 100; i++)); do
		listening "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# mem_kb PID: resident KiB, hugetlb pages included (the dataplane's memory is there).
mem_kb() {
	awk '/^VmRSS:|^HugetlbPages:/ { s += $2 } END { print s + 0 }' "/proc/$1/status" 2>/dev/null
}

# cpu_ticks "PID...": user + system clock ticks the processes used so far.
cpu_ticks() {
	local p t=0 f
	for p in $1; do
		f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${f% *} + ${f#* }))
	done
	echo $t
}
hz=$(getconf CLK_TCK)

# load BROKER ROW QOS RATE PORT "PIDS" tool-args...: one row of load.
load() {
	local b=$1 name=$2 q=$3 r=$4 port=$5 pids=$6 f=$work/$1-$2.json c0 c1 rc
	shift 6
	c0=$(cpu_ticks "$pids")
	timeout -k 3 $((duration + 40)) "$lg" -p "$port" -q "$q" -r "$r" -s "$size" -d "$duration" \
		-w 1 -t "b$b/$name" -i "b$b" --json "$@" >"$f" 2>>"$work/lg.err"
	rc=$?
	c1=$(cpu_ticks "$pids")
	row "$b" "$name" "$q" "$r" "$f" $rc "$(python3 -c "print(($c1 - $c0) / $hz)")"
}

# run_rows BROKER PORT "PIDS": every row against the broker on PORT (PIDS: its
# processes, for their CPU time and memory).
run_rows() {
	local b=$1 port=$2 pids=$3 r q
	# First, on a fresh broker: the load rows' freed buffers would otherwise
	# stay in its heap and hide what the sessions take.
	[[ " $skip " == *" sessions "* ]] || session_row "$b" "$port" "$pids"
	for q in 0 1; do
		for r in $rates; do
			load "$b" "qos$q-$r" $q "$r" "$port" "$pids"
		done
	done
	[[ " $skip " == *" max "* ]] && return 0
	for q in 0 1; do
		load "$b" "qos$q-max" $q 0 "$port" "$pids" -P 4 -S 1 --one-topic --window 1000 \
			--inflight 1000
	done
}

# row BROKER ROW QOS RATE JSONFILE RC BROKER_CPU_S: one row from the tool's JSON.
row() {
	python3 - "$@" >>"$rows" <<'PY'
import json, sys
b, name, qos, rate, path, rc, bcpu = sys.argv[1:8]
r = {"broker": b, "row": name, "qos": int(qos), "rate": float(rate), "status": "failed",
     "broker_cpu_s": float(bcpu)}
try:
    j = json.loads([l for l in open(path) if l.startswith("{")][-1])
    for k in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns", "msgs_per_s",
              "sent", "acked", "received", "lost", "duplicates", "unacked", "sent_per_s",
              "send_late_p99_ns", "cpu_s", "wall_s", "cpu_util", "size", "error"):
        if k in j:
            r[k] = j[k]
    r["status"] = j["status"] if rc in ("0", "3") else f"failed (exit {rc})"
    if j.get("count", 0) == 0 and r["status"] == "ok":
        r["status"] = "failed (no samples)"
except (OSError, IndexError, KeyError, ValueError):
    r["status"] = f"failed (exit {rc}, no JSON)"
print(json.dumps(r))
PY
}

# session_row BROKER PORT "PID...": memory per idle persistent session.
session_row() {
	local b=$1 port=$2 pids=$3 p before=() after=() cleared=() t0 f=$work/$b-sess.json rc
	# A few made and ended first, so code and first allocations are not counted.
	timeout -k 3 60 "$lg" -p "$port" --sessions 20 --sessions-filter "b$b/sess/all" \
		-i "b$b-warm" >/dev/null 2>&1
	timeout -k 3 60 "$lg" -p "$port" --sessions 20 --sessions-clear -i "b$b-warm" >/dev/null 2>&1
	sleep 0.5
	for p in $pids; do before+=("$(mem_kb "$p")"); done
	t0=$SECONDS
	timeout -k 3 120 "$lg" -p "$port" --sessions "$sessions" --sessions-filter "b$b/sess/all" \
		-i "b$b-sess" --json >"$f" 2>>"$work/lg.err"
	rc=$?
	sleep 1
	for p in $pids; do after+=("$(mem_kb "$p")"); done
	timeout -k 3 120 "$lg" -p "$port" --sessions "$sessions" --sessions-clear -i "b$b-sess" \
		--json >"$f.clear" 2>>"$work/lg.err"
	sleep 1
	for p in $pids; do cleared+=("$(mem_kb "$p")"); done
	python3 - "$b" "$sessions" "$rc" "$f" "${before[*]}" "${after[*]}" "${cleared[*]}" \
		"$((SECONDS - t0))" >>"$rows" <<'PY'
import json, sys
b, n, rc, path, before, after, cleared, secs = sys.argv[1:9]
n = int(n)
kb = lambda s: [int(x) for x in s.split()]
before, after, cleared = kb(before), kb(after), kb(cleared)
r = {"broker": b, "row": "sessions", "qos": 1, "rate": 0, "sessions": n,
     "status": "ok" if rc == "0" else f"failed (exit {rc})",
     "rss_before_kb": before, "rss_after_kb": after, "rss_cleared_kb": cleared}
try:
    j = json.loads(open(path).read().strip().splitlines()[-1])
    r["made"] = j["done"]
except (OSError, IndexError, KeyError, ValueError):
    r["made"] = 0
if before and after:
    r["bytes_per_session"] = (after[0] - before[0]) * 1024 / n
    r["bytes_per_session_all"] = (sum(after) - sum(before)) * 1024 / n
print(json.dumps(r))
PY
}

# --- mosquitto ---
if [ "$broker" != sluice ]; then
	if [ ! -x "$mosq" ]; then
		say "no mosquitto (Debian package mosquitto; scripts/setup.sh installs it)"
		echo '{"broker":"mosquitto","row":"all","status":"not installed"}' >>"$rows"
	else
		port=$(free_port)
		{
			echo "listener $port 127.0.0.1"
			echo "allow_anonymous true"
			echo "persistence false"
			echo "set_tcp_nodelay true"
			echo "max_inflight_messages 1000"
			echo "max_queued_messages 100000"
			echo "log_dest none"
			[ "$(id -u)" -eq 0 ] && echo "user root"
		} >"$work/mosquitto.conf"
		"$mosq" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
		mpid=$!
		PIDS+=("$mpid")
		if wait_listening "$port" "$mpid"; then
			say "mosquitto $("$mosq" -h 2>&1 | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p') on 127.0.0.1:$port (pid $mpid)"
			run_rows mosquitto "$port" "$mpid"
		else
			say "mosquitto did not start:"; cat "$work/mosquitto.log" >&2
			echo '{"broker":"mosquitto","row":"all","status":"failed (start)"}' >>"$rows"
		fi
		stop "$mpid"
	fi
fi

# --- sluice-mqtt ---
sluice_up() {
	[ "$(id -u)" -eq 0 ] || { say "the Sluice side needs root (namespaces, hugepages)"; return 1; }
	[ -x "$build/dataplane/sluice-dataplane" ] || { say "no sluice-dataplane in $build"; return 1; }
	sl_ns_up $tag $net || { say "cannot create the namespaces"; return 1; }
	SL_DP_WAIT=30 sl_dp_start $tag "$work/dp.log" --name $name --idle "$idle" \
		--set "idle_spin=$dp_spin" \
		--set "port0.ip=$net.1" --set "journal_dir=$work/journal" \
		--set "durability_rules=bsluice.sess*=async bsluice*=none" \
		--set "backpressure_rules=bsluice.qos1*=block bsluice.sess*=block" || return 1
	"$build/control/sluice-control" -n $name --state-dir "$work/control" --metrics off \
		>"$work/control.log" 2>&1 &
	cpid=$!
	PIDS+=("$cpid")
	for _ in $(seq 100); do
		timeout 5 "$build/ctl/sluicectl" -n $name dataplane status --json 2>/dev/null |
			grep -q '"attached":true' && break
		sleep 0.1
	done
	gport=$(free_port)
	mkdir -p "$work/mqtt-state"
	"$gw" --shm $name --listen 127.0.0.1 --port "$gport" --allow-anonymous \
		--state-dir "$work/mqtt-state" --name bench --max-inflight 1000 --max-queued 100000 \
		--tx-max 67108864 --spin-us "$gw_spin" >"$work/mqtt.log" 2>&1 &
	gpid=$!
	PIDS+=("$gpid")
	wait_listening "$gport" "$gpid" || { say "sluice-mqtt did not start:"; tail "$work/mqtt.log" >&2; return 1; }
	say "sluice-mqtt on 127.0.0.1:$gport (pid $gpid, spin $gw_spin us), dataplane $name (pid $SL_DP_PID, idle $idle, idle_spin $dp_spin)"
}
if [ "$broker" != mosquitto ]; then
	if [ ! -x "$gw" ]; then
		say "sluice-mqtt not built ($gw): Sluice rows left out"
		echo '{"broker":"sluice","row":"all","status":"not built"}' >>"$rows"
	elif sluice_up; then
		run_rows sluice "$gport" "$gpid $SL_DP_PID"
		stop "$gpid"
		stop "$cpid"
		sl_dp_stop
		sl_ns_down $tag
	else
		echo '{"broker":"sluice","row":"all","status":"failed (start)"}' >>"$rows"
	fi
fi

# --- table, ratios, summary ---
python3 - "$rows" "$size" "$rates" "${rows_out:-}" "${json_out:-}" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
size, rates, rows_out, json_out = int(sys.argv[2]), sys.argv[3].split(), sys.argv[4], sys.argv[5]
by = {(r["broker"], r["row"]): r for r in rows}
names = [f"qos{q}-{r}" for q in (0, 1) for r in rates] + ["qos0-max", "qos1-max"]

def t(ns):
    if ns is None:
        return "-"
    return f"{ns / 1e3:.0f}us" if ns < 1e5 else f"{ns / 1e6:.2f}ms"

def ok(r):
    return r is not None and r["status"] in ("ok", "loss")

def cell(r):
    if r is None:
        return f"{'-':>28}"
    if not ok(r):
        return f"{r['status'][:28]:>28}"
    return f"{t(r['p50_ns']):>8} {t(r['p99_ns']):>8} {r['msgs_per_s']:>10.0f}"

print(f"MQTT 3.1.1, {size} B payloads, same run, same host, same tool (sluice-mqtt-loadgen);"
      " latency publish -> deliver from the due time")
hdr = (f"{'row':10} | {'mosquitto p50      p99     msgs/s':>28} | {'sluice-mqtt p50    p99     msgs/s':>28} |"
       f" {'p50 x':>6} {'p99 x':>6} {'tput x':>6}")
print(hdr)
print("-" * len(hdr))
summary = {"size": size, "rows": {}}
for n in names:
    m, s = by.get(("mosquitto", n)), by.get(("sluice", n))
    rp50 = rp99 = rt = None
    if ok(m) and ok(s):
        rp50 = s["p50_ns"] / m["p50_ns"] if m["p50_ns"] else None
        rp99 = s["p99_ns"] / m["p99_ns"] if m["p99_ns"] else None
        rt = s["msgs_per_s"] / m["msgs_per_s"] if m["msgs_per_s"] else None
    f = lambda x: (f"{'-':>6}" if x is None else f"{x:6.2f}" if x >= 0.1 else f"{x:6.0e}")
    note = ""
    for who, r in (("mosquitto", m), ("sluice", s)):
        if r is not None and r["status"] == "loss":
            note += f"  {who}: lost {r.get('lost')} unacked {r.get('unacked', 0)}"
    print(f"{n:10} | {cell(m)} | {cell(s)} | {f(rp50)} {f(rp99)} {f(rt)}{note}")
    summary["rows"][n] = {
        "mosquitto": {k: m.get(k) for k in ("status", "p50_ns", "p99_ns", "p999_ns", "max_ns",
                                              "msgs_per_s", "lost", "duplicates")} if m else None,
        "sluice": {k: s.get(k) for k in ("status", "p50_ns", "p99_ns", "p999_ns", "max_ns",
                                           "msgs_per_s", "lost", "duplicates")} if s else None,
        "ratio_p50": rp50, "ratio_p99": rp99, "ratio_msgs_per_s": rt}
print("ratios: sluice-mqtt / mosquitto (latency: lower is better, < 1 beats mosquitto;"
      " throughput: higher is better).\n*-max rows: 4 publishers -> 1 subscriber,"
      " on one topic,\n  delivered msgs/s; their latency is queueing.")
print("CPU in each row, share of one core over the row: tool / broker (sluice: gateway +"
      " dataplane)")
for n in names:
    line = f"  {n:10}"
    for who in ("mosquitto", "sluice"):
        r = by.get((who, n))
        if ok(r) and r.get("wall_s"):
            line += (f"  {who} {100 * r['cpu_s'] / r['wall_s']:4.0f}% /"
                     f" {100 * r['broker_cpu_s'] / r['wall_s']:4.0f}%")
    print(line)
ms, ss = by.get(("mosquitto", "sessions")), by.get(("sluice", "sessions"))
summary["sessions"] = {}
for who, r in (("mosquitto", ms), ("sluice-mqtt", ss)):
    if r is None:
        continue
    if r["status"] != "ok" or "bytes_per_session" not in r:
        print(f"idle persistent sessions, {who}: {r['status']}")
        continue
    extra = ""
    if len(r["rss_before_kb"]) > 1:
        dp = (r["rss_after_kb"][1] - r["rss_before_kb"][1]) * 1024 / r["sessions"]
        extra = f" (dataplane RSS+hugetlb {dp:+.0f} B/session beside it)"
    print(f"idle persistent sessions, {who}: {r['made']} made, "
          f"{r['bytes_per_session']:.0f} B/session of RSS{extra}; RSS once they were ended: "
          f"{(r['rss_cleared_kb'][0] - r['rss_before_kb'][0]) * 1024 / r['sessions']:+.0f} B/session"
          " over the start (freed memory stays in the heap)")
    summary["sessions"][who] = {k: r.get(k) for k in ("sessions", "made", "bytes_per_session",
                                                     "bytes_per_session_all", "rss_before_kb",
                                                     "rss_after_kb", "rss_cleared_kb")}

# Targets (issue 17), judged on this run's rows.
def verdict(what, vals):
    if not vals:
        print(f"  [ n/a ] {what}: not measured")
        return
    tag = "MISSED" if not all(v[0] for v in vals) else " met "
    print(f"  [{tag}] {what}: " + "; ".join(v[1] for v in vals))
print("targets:")
lat = []
for n in names[:-2]:
    m, s = by.get(("mosquitto", n)), by.get(("sluice", n))
    if ok(m) and ok(s):
        lat.append((s["p50_ns"] < m["p50_ns"] and s["p99_ns"] < m["p99_ns"],
                    f"{n} {t(s['p50_ns'])}/{t(s['p99_ns'])} vs {t(m['p50_ns'])}/{t(m['p99_ns'])}"))
verdict("lower p50 and p99 than mosquitto at the same rate", lat)
verdict(">= 3x mosquitto's throughput at QoS 0 and QoS 1",
        [(summary["rows"][n]["ratio_msgs_per_s"] >= 3, f"{n} {summary['rows'][n]['ratio_msgs_per_s']:.2f}x")
         for n in ("qos0-max", "qos1-max") if summary["rows"][n]["ratio_msgs_per_s"] is not None])
s50 = by.get(("sluice", "qos1-50000"))
verdict("QoS 1 p99 < 1 ms at 50k msg/s (sluice-mqtt)",
        [(s50["p99_ns"] < 1e6, t(s50["p99_ns"]))] if ok(s50) else [])
summary["targets_note"] = "see the table; ratios are sluice / mosquitto of the same run"
line = json.dumps(summary)
print(line)
if json_out:
    with open(json_out, "w") as fo:
        fo.write(line + "\n")
# scripts/bench.sh rows: name mqtt-<broker>-<row>, transport mqtt.
if rows_out:
    with open(rows_out, "a") as fo:
        for r in rows:
            if r["row"] == "sessions" or r["row"] == "all":
                continue
            st = r["status"] if r["status"] in ("ok", "loss") else "failed"
            # Short enough for bench.sh's name column: qos1-50000 -> q1-50k.
            short = r["row"].replace("qos", "q")
            if short.endswith("000"):
                short = short[:-3] + "k"
            o = {"name": f"mqtt-{r['broker']}-{short}", "transport": "mqtt",
                 "durability": "none" if r["broker"] == "sluice" else None, "size": size,
                 "status": st}
            for k in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns", "msgs_per_s",
                      "lost", "received", "sent"):
                o[k] = r.get(k)
            fo.write(json.dumps(o) + "\n")
PY
table_rc=$?
failed=$(grep -c '"status": "failed' "$rows")
[ "$failed" -eq 0 ] || { say "$failed row(s) failed; the tool said:"; tail -5 "$work/lg.err" >&2; }
[ $table_rc -eq 0 ] && [ "$failed" -eq 0 ]
