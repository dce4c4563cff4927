#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The benchmark suite: this machine's floors and Sluice over UDP, measured in
# one run, printed as one table with Sluice's ratio to its floor.
#
#   scripts/bench.sh [--quick] [--micro] [--duration S] [--rate N]
#
# Floors (each p50/p99/p99.9/max and a throughput): cache-line ping-pong
# between two cores, rte_ring ping-pong between two lcores, memcpy 64 B..1 MiB,
# kernel UDP round trip on loopback and across the suite's veth pair (client
# namespace -> kernel UDP echo in the broker's namespace; the floor for "UDP
# through the virtual NIC"). Then sluice-dataplane (af_packet on the veth,
# --idle busy) with sluice-loadgen at a fixed rate, durability none and sync,
# payload 32, 256 and 1024 B; ratio = Sluice / veth UDP floor of the same size.
#
#   --quick        1 s per Sluice run and short floors (a smoke test, ~30 s)
#   --micro        also run benchmarks/bench_journal.sh and bench_auth.sh
#   --duration S   seconds per Sluice run (default 3)
#   --rate N       msgs/s offered per Sluice run (default 20000)
#   BUILD=dir      build directory (default build/; built with ninja first)
#
# Writes bench-results/latest.json (rows; floors have transport "floor") and
# bench-results/latency.png (gnuplot). Runs scripts/setup.sh if the build is
# missing. Needs root (namespaces). Every process it starts is stopped by PID
# and the namespaces are removed on exit, also on Ctrl-C.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
quick=0 micro=0 duration=3 rate=20000
usage() { sed -n '3,25p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--micro) micro=1 ;;
	--duration) duration=${2:-}; shift ;;
	--rate) rate=${2:-}; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ $duration =~ ^[0-9]+$ && $duration -ge 1 && $duration -le 60 ]] ||
	{ echo "bench: --duration wants whole seconds 1..60" >&2; exit 2; }
[[ $rate =~ ^[0-9]+$ && $rate -ge 100 && $rate -le 1000000 ]] ||
	{ echo "bench: --rate wants msgs/s 100..1000000" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (network namespaces, hugepages)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 is needed (scripts/setup.sh installs it)" >&2; exit 1; }

floor_s=1 # per floor measurement
if [ $quick -eq 1 ]; then
	duration=1 floor_s=0.3
fi
sizes=(32 256 1024)
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
	sl_ns_down $tag
	rm -rf "$work" "$jdir" "/var/run/dpdk/sl-floor-$$" "/var/run/dpdk/$name"
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

# row NAME TRANSPORT DURABILITY SIZE JSONFILE [STATUS]: one row from a tool's JSON.
row() {
	python3 - "$@" >>"$rows" <<'PY'
import json, sys
name, transport, dur, size, path = sys.argv[1:6]
status = sys.argv[6] if len(sys.argv) > 6 else "ok"
r = {"name": name, "transport": transport, "durability": None if dur == "-" else dur,
     "size": int(size), "status": status}
try:
    with open(path) as f:
        j = json.loads([l for l in f if l.startswith("{")][-1])
    for k in ["p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns"]:
        r[k] = j[k]
    r["msgs_per_s"] = j.get("msgs_per_s", j.get("ops_per_s"))
    for k in ["gbps", "lost", "received", "sent"]:
        if k in j:
            r[k] = j[k]
except (OSError, IndexError, KeyError, ValueError):
    r["status"] = "failed"
print(json.dumps(r))
PY
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
		rc=$?
		case $rc in
		0) st=ok ;;
		3) st="loss" ;;
		*) st="failed (exit $rc)" ;;
		esac
		row sluice udp "$dur" "$s" "$work/lg-$dur-$s.json" "$st"
	done
done
sl_dp_stop
[ "${SL_DP_RC:-0}" = 0 ] || say "note: sluice-dataplane exited with status $SL_DP_RC"

# --- 3. not built yet ---
for dur in none sync; do
	for s in "${sizes[@]}"; do
		echo "{\"name\":\"sluice\",\"transport\":\"shm\",\"durability\":\"$dur\",\"size\":$s,\"status\":\"not built\"}" >>"$rows"
	done
done

# --- 4. table, JSON, plot ---
mkdir -p "$root/bench-results"
python3 - "$rows" "$root/bench-results/latest.json" "$work/plot" <<'PY'
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

veth = {r["size"]: r for r in rows if r["name"] == "udp-veth" and r["status"] == "ok"}
for r in rows:
    f = veth.get(r["size"]) if r["name"] == "sluice" else None
    r["floor_p50_ns"] = f["p50_ns"] if f else None
    r["floor_p99_ns"] = f["p99_ns"] if f else None

hdr = f"{'name':13} {'transport':9} {'durab':5} {'size':>7} {'p50':>8} {'p99':>8} {'p99.9':>8} {'max':>8} {'msgs/s':>12} {'r.p50':>6} {'r.p99':>6}"
print(hdr)
print("-" * len(hdr))
for r in rows:
    d = r["durability"] or "-"
    head = f"{r['name']:13} {r['transport']:9} {d:5} {r['size']:>7}"
    if r["status"] in ("not built", "failed") or r["status"].startswith("failed"):
        print(f"{head}   {r['status']}")
        continue
    rate = f"{r['msgs_per_s']:.0f}"
    if "gbps" in r:
        rate = f"{r['gbps']:.1f} GB/s"
    ratio = ["-", "-"]
    if r["floor_p50_ns"]:
        ratio = [f"{r['p50_ns'] / r['floor_p50_ns']:.2f}", f"{r['p99_ns'] / r['floor_p99_ns']:.2f}"]
    note = "" if r["status"] == "ok" else f"  ({r['status']}: lost {r.get('lost', '?')})"
    print(f"{head} {t(r['p50_ns']):>8} {t(r['p99_ns']):>8} {t(r['p999_ns']):>8} "
          f"{t(r['max_ns']):>8} {rate:>12} {ratio[0]:>6} {ratio[1]:>6}{note}")

keys = ["name", "transport", "durability", "size", "p50_ns", "p99_ns", "p999_ns", "max_ns",
        "msgs_per_s", "floor_p50_ns", "floor_p99_ns"]
good = [r for r in rows if r["status"] in ("ok", "loss")]
with open(out, "w") as f:
    json.dump([{k: r[k] for k in keys} for r in good], f, indent=1)
    f.write("\n")

# One block per row for gnuplot: x = 1/(1-p), y = us.
with open(plot + ".dat", "w") as f, open(plot + ".titles", "w") as tt:
    for r in good:
        f.write(f"# {r['name']} {r['transport']} {r['durability']} {r['size']}\n")
        for x, k in [(2, "p50_ns"), (10, "p90_ns"), (100, "p99_ns"), (1000, "p999_ns"),
                     (10000, "p9999_ns")]:
            f.write(f"{x} {max(r[k], 0.001) / 1000.0}\n")
        f.write("\n\n")
        d = "" if r["durability"] is None else " " + r["durability"]
        tt.write(f"{r['name']} {r['transport']}{d} {r['size']}B\n")
PY
say "shared-memory transport: not built yet; its rows are in the table only, not in the JSON"
failed=$(grep -c '"status": "failed' "$rows")
[ "$failed" -eq 0 ] || say "note: $failed measurement(s) failed and are left out of the JSON; see below"
grep -h . "$work/stderr.log" 2>/dev/null | grep -v '^EAL:\|^TELEMETRY:' | tail -5 | sed 's/^/  /'
say "wrote bench-results/latest.json"

if command -v gnuplot >/dev/null; then
	term="pngcairo size 1000,700 font ',10'"
	gnuplot -e "set terminal $term" -e "quit" 2>/dev/null || term="png size 1000,700"
	{
		echo "set terminal $term noenhanced"
		echo "set output '$root/bench-results/latency.png'"
		echo "set title 'Latency percentiles ($(hostname), $(date -u +%F))'"
		echo "set logscale xy"
		echo "set xtics ('50' 2, '90' 10, '99' 100, '99.9' 1000, '99.99' 10000)"
		echo "set xlabel 'percentile'"
		echo "set ylabel 'latency (us)'"
		echo "set key outside right"
		echo "set grid"
		i=0 sep="plot"
		while IFS= read -r title; do
			dt=1 # floors dashed, Sluice solid
			[[ $title == *" floor "* ]] && dt=2
			echo "$sep '$work/plot.dat' index $i with linespoints dt $dt title '$title' \\"
			sep=","
			i=$((i + 1))
		done <"$work/plot.titles"
		echo ""
	} >"$work/plot.gp"
	if timeout 60 gnuplot "$work/plot.gp" 2>>"$work/stderr.log"; then
		say "wrote bench-results/latency.png"
	else
		say "gnuplot failed; no plot (see $work/plot.gp)"
	fi
else
	say "note: gnuplot not installed (scripts/setup.sh adds gnuplot-nox); plot skipped"
fi

if [ $micro -eq 1 ]; then
	for m in bench_journal bench_auth; do
		say "micro-benchmark benchmarks/$m.sh"
		(cd "$root" && timeout -k 5 600 "benchmarks/$m.sh" "$build") ||
			say "benchmarks/$m.sh did not finish (built without libbenchmark-dev?)"
	done
fi
say "done in $((SECONDS - start_s)) s"
