#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job: the broker on a virtual NIC in its own network namespace, the
# load generator against it from another namespace, and a latency report.
#
#   scripts/demo.sh [--json] [--duration S] [--rate N] [--size B]
#                   [--publishers N] [--subscribers M] [--idle busy|backoff]
#
# Runs scripts/setup.sh first if the build is missing. Everything it creates
# (namespaces sl-demo-dp and sl-demo-cl, a veth pair, the dataplane process)
# is removed on exit, also on Ctrl-C. --json prints only the load
# generator's JSON object.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
json=0 duration=5 rate=50000 size=64 pubs=1 subs=1 idle=busy
usage() { sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--json) json=1 ;;
	--duration) duration=$2; shift ;;
	--rate) rate=$2; shift ;;
	--size) size=$2; shift ;;
	--publishers) pubs=$2; shift ;;
	--subscribers) subs=$2; shift ;;
	--idle) idle=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) echo "demo: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (namespaces, hugepages)" >&2; exit 1; }

say() { [ $json -eq 1 ] || echo "demo: $*"; }

if [ ! -x "$root/build/dataplane/sluice-dataplane" ] ||
	[ ! -x "$root/build/benchmarks/sluice-loadgen" ] ||
	! grep -qs ' hugetlbfs ' /proc/mounts; then
	say "running scripts/setup.sh (first run: installs packages and builds)"
	if [ $json -eq 1 ]; then
		"$root/scripts/setup.sh" >&2 || exit 1
	else
		"$root/scripts/setup.sh" || exit 1
	fi
fi

# shellcheck source=scripts/netns.sh
. "$root/scripts/netns.sh"
tag=sl-demo
log=$(mktemp /tmp/sluice-demo.XXXXXX)
cleanup() {
	sl_dp_stop
	sl_ns_down $tag
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "creating namespaces $tag-dp (broker) and $tag-cl (clients), veth ${tag}d0 <-> ${tag}c0"
sl_ns_up $tag 10.77.0 || { echo "demo: cannot create the namespaces" >&2; exit 1; }
say "starting sluice-dataplane on af_packet (nic-configs/af_packet.conf), idle=$idle"
sl_dp_start $tag "$log" --name sluice-demo --idle "$idle" || exit 1
[ $json -eq 1 ] || sed -n 's/^sluice-dataplane: /  /p' "$log"

say "sluice-loadgen: $pubs publisher(s), $subs subscriber(s), $rate msg/s, $size B, ${duration}s"
args=(--host 10.77.0.1 -P "$pubs" -S "$subs" -r "$rate" -s "$size" -d "$duration" --topic-prefix demo)
if [ $json -eq 1 ]; then
	sl_cl $tag "$root/build/benchmarks/sluice-loadgen" "${args[@]}" --json
	rc=$?
else
	sl_cl $tag "$root/build/benchmarks/sluice-loadgen" "${args[@]}"
	rc=$?
	echo
	say "dataplane counters (scripts/sluice-stats -n sluice-demo):"
	"$root/scripts/sluice-stats" -n sluice-demo | python3 -c '
import json, sys
s = json.load(sys.stdin)
keys = ["rx_pkts", "tx_pkts", "publishes", "delivers", "sessions_opened", "drops"]
print("  " + "  ".join(f"{k} {s[k]}" for k in keys))'
fi
exit $rc
