#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Run the whole test suite: unit tests, then the end-to-end tests that start
# the real dataplane in network namespaces. Runs scripts/setup.sh first if
# the build is missing, and rebuilds. Ends with "N passed, N failed".
#
#   scripts/test.sh [meson test options, e.g. --suite unit or a test name]
#
# With SLUICE_SANITIZE=1 (the default when CI=true) the unit tests also run
# in an AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/),
# counted in the same total.
#
# With SLUICE_FAULT=1 (the default when CI=true and no test is named) a
# second build with test-only loss injection (build-fault/, meson option
# fault_injection) runs the tests of suite "fault" and the check that it
# holds the injection code; build/, the one the README installs, stays a
# default build without it.
#
# With SLUICE_FUZZ=1 (the default when CI=true and no test is named) the
# libFuzzer harnesses are built with clang in build-fuzz/ (meson option
# fuzz, scripts/fuzz.sh --build) and the suite "fuzz" runs each a few
# seconds over its seed corpus, one line per harness; scripts/fuzz.sh is
# the long run.
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
passed=0 failed=0 skipped=0

# run_suite BUILD_DIR [meson test args]: adds to the totals
run_suite() {
	local dir=$1 rc ok fail xfail timeout skip
	shift
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count() { sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1; }
	ok=$(count Ok) fail=$(count Fail) xfail=$(count 'Unexpected Pass')
	timeout=$(count Timeout) skip=$(count Skipped)
	fail=$(( ${fail:-0} + ${timeout:-0} + ${xfail:-0} ))
	[ -n "$ok" ] || fail=$((fail + 1)) # meson itself failed
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
	passed=$((passed + ${ok:-0}))
	failed=$((failed + fail))
	skipped=$((skipped + ${skip:-0}))
}

run_suite "$build" "$@"
if [ "${SLUICE_FAULT:-$([ "${CI:-}" = true ] && [ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
	fault=${SLUICE_FAULT_BUILD:-$root/build-fault}
	echo "test: the loss-injection tests in a build with -Dfault_injection=true ($fault)"
	if { [ -f "$fault/build.ninja" ] ||
		meson setup "$fault" "$root" -Dfault_injection=true -Dbenchmarks=disabled \
			>/dev/null; } && ninja -C "$fault" >/dev/null; then
		run_suite "$fault" --suite fault
	else
		echo "test: the fault-injection build failed"
		failed=$((failed + 1))
	fi
fi
if [ "${SLUICE_FUZZ:-$([ "${CI:-}" = true ] && [ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
	fuzz=${SLUICE_FUZZ_BUILD:-$root/build-fuzz}
	echo "test: each fuzz harness a few seconds over its seed corpus ($fuzz)"
	if SLUICE_FUZZ_BUILD=$fuzz "$root/scripts/fuzz.sh" --build; then
		run_suite "$fuzz" --suite fuzz --no-rebuild
	else
		echo "test: the fuzzing build failed"
		failed=$((failed + 1))
	fi
fi
if [ "${SLUICE_SANITIZE:-$([ "${CI:-}" = true ] && echo 1 || echo 0)}" = 1 ]; then
	asan=${SLUICE_ASAN_BUILD:-$root/build-asan}
	echo "test: unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer ($asan)"
	if { [ -f "$asan/build.ninja" ] ||
		meson setup "$asan" "$root" -Db_sanitize=address,undefined -Db_lundef=false \
			-Dbenchmarks=disabled >/dev/null; } && ninja -C "$asan" >/dev/null; then
		run_suite "$asan" --suite unit
	else
		echo "test: the sanitizer build failed"
		failed=$((failed + 1))
	fi
fi
[ "$skipped" -eq 0 ] || echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
