#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Long versions of the loss-recovery tests, too long for the suite: the loss
# matrix with many more messages per cell, and many kill -9 restarts under a
# sync-acknowledged stream. Each run is bounded and stops by itself; each
# test leaves nothing behind (namespaces, processes) and keeps its logs in
# /tmp only when it fails. Prints the loss-matrix table at the end.
#
#   scripts/soak.sh [--count N] [--rate R] [--restarts N]
#   scripts/soak.sh --ha [--cycles N]
#     --count N     messages per loss-matrix cell (default 100000)
#     --rate R      msgs/s in the loss matrix (default 5000)
#     --restarts N  kill -9 cycles in the restart test (default 20)
#     --ha          instead, the broker pair's failover test with N kill -9
#                   cycles of the primary (--cycles, default 20), under a
#                   sync-acknowledged load; prints its failover times and
#                   delivery report (one JSON line last)
#   BUILD=dir       build directory (default build/)
# Needs root. Exit status 0 when every test passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
count=100000 rate=5000 restarts=20 ha=0 cycles=20
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=${2:-}; shift ;;
	--rate) rate=${2:-}; shift ;;
	--restarts) restarts=${2:-}; shift ;;
	--ha) ha=1 ;;
	--cycles) cycles=${2:-}; shift ;;
	-h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "soak: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
for v in "$count" "$rate" "$restarts" "$cycles"; do
	[[ $v =~ ^[0-9]+$ && $v -ge 1 ]] || { echo "soak: numbers must be whole and >= 1" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "soak: run as root (network namespaces)" >&2; exit 1; }
ninja -C "$build" >/dev/null || { echo "soak: build failed" >&2; exit 1; }
table=$(mktemp)
trap 'rm -f "$table"' EXIT
failed=0
run() { # run NAME ENV... : one e2e test, its exit status counted
	local t=$1
	shift
	echo "soak: $t ($*)"
	env SL_BUILD="$build" "$@" timeout -k 10 7200 "$root/tests/e2e/$t.sh"
	case $? in
	0) ;;
	77) echo "soak: $t SKIPPED (see its line above)" ;;
	*) echo "soak: $t FAILED"; failed=$((failed + 1)) ;;
	esac
}
if [ $ha -eq 1 ]; then
	run ha_failover HA_CYCLES="$cycles" HA_REPORT="$table"
	echo "soak: broker pair, $cycles kill -9 cycles of the primary:"
	sed 's/^/  /' "$table"
	echo "soak: $failed test(s) failed"
	[ "$failed" -eq 0 ]
	exit
fi
run lossmatrix LOSS_COUNT="$count" LOSS_RATE="$rate" LOSS_TABLE="$table"
run restart RESTART_ROUNDS="$restarts"
echo "soak: loss matrix, $count messages per cell at $rate msgs/s:"
sed 's/^/  /' "$table"
echo "soak: $failed test(s) failed"
[ "$failed" -eq 0 ]
