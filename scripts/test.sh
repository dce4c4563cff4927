#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Run the whole test suite: unit tests, then the end-to-end tests that start
# the real dataplane in network namespaces. Runs scripts/setup.sh first if
# the build is missing, and rebuilds. Ends with "N passed, N failed".
#
#   scripts/test.sh [meson test options, e.g. --suite unit or a test name]
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${SLUICE_BUILD:-$root/build}
[ "$(id -u)" -eq 0 ] || echo "test: not root: end-to-end tests will be skipped" >&2

if [ ! -f "$build/build.ninja" ] || ! grep -qs ' hugetlbfs ' /proc/mounts; then
	"$root/scripts/setup.sh" || { echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C "$build" >/dev/null || { ninja -C "$build"; echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

count() { sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1; }
ok=$(count Ok) fail=$(count Fail) xfail=$(count 'Unexpected Pass')
timeout=$(count Timeout) skipped=$(count Skipped)
failed=$(( ${fail:-0} + ${timeout:-0} + ${xfail:-0} ))
[ -n "$ok" ] || failed=$((failed + 1)) # meson itself failed
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
[ "${skipped:-0}" -eq 0 ] || echo "(${skipped} skipped)"
echo "${ok:-0} passed, $failed failed"
[ "$failed" -eq 0 ]
