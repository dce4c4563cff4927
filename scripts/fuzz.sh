#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The long fuzzing run: each libFuzzer harness of tests/fuzz in turn, one
# process at a time, for SECONDS each (default 300), starting from its
# checked-in seed corpus. Builds the harnesses first in a clang build folder
# of their own (build-fuzz/, meson option fuzz, AddressSanitizer and
# UndefinedBehaviorSanitizer), configuring it if needed.
#
#   scripts/fuzz.sh [--seconds N] [harness ...]     run (default: every harness)
#   scripts/fuzz.sh --build                         only configure and build
#   scripts/fuzz.sh --list                          the harnesses
#
# New inputs are kept in build-fuzz/fuzz-corpus/HARNESS (the checked-in
# corpus is not changed; copy an input worth keeping into
# tests/fuzz/corpus/HARNESS by hand), findings in build-fuzz/fuzz-crashes/
# HARNESS. Prints one line per harness: executions, libFuzzer's coverage
# (cov: edges, ft: features), corpus size, and pass or FAIL; exits 1 when
# any harness found something. SLUICE_FUZZ_BUILD=dir: another build folder.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${SLUICE_FUZZ_BUILD:-$root/build-fuzz}
harnesses=(fuzz_pkt fuzz_frame fuzz_handshake fuzz_shm fuzz_journal fuzz_ctl_request fuzz_config
	fuzz_hdrs fuzz_repl fuzz_mqtt)
[ -f "$root/common/crypto.h" ] && harnesses+=(fuzz_seal) # the datagram seal, once there
seconds=300
build_only=0
chosen=()

die() { echo "fuzz: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--seconds) [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] || die "--seconds needs a number"
		seconds=$2; shift 2 ;;
	--build) build_only=1; shift ;;
	--list) printf '%s\n' "${harnesses[@]}"; exit 0 ;;
	-h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	fuzz_*) chosen+=("$1"); shift ;;
	*) chosen+=("fuzz_$1"); shift ;;
	esac
done
for h in "${chosen[@]}"; do
	[[ " ${harnesses[*]} " == *" $h "* ]] || die "no harness $h (scripts/fuzz.sh --list)"
done
[ ${#chosen[@]} -gt 0 ] || chosen=("${harnesses[@]}")

command -v clang >/dev/null || die "clang not found: run scripts/setup.sh (Debian packages clang, llvm)"
if [ ! -f "$build/build.ninja" ]; then
	CC=clang CXX=clang++ meson setup "$build" "$root" -Dfuzz=true -Dbenchmarks=disabled \
		-Dwerror_ci=false -Dbuildtype=debugoptimized -Db_ndebug=false >/dev/null ||
		die "meson setup of $build failed"
fi
targets=()
for h in "${chosen[@]}"; do targets+=("tests/fuzz/$h"); done
ninja -C "$build" "${targets[@]}" >/dev/null || { ninja -C "$build" "${targets[@]}"; die "build failed"; }
[ "$build_only" = 0 ] || exit 0

failed=0
for h in "${chosen[@]}"; do
	corpus=$build/fuzz-corpus/$h crashes=$build/fuzz-crashes/$h log=$build/fuzz-logs/$h.log
	mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
	cp -n "$root/tests/fuzz/corpus/$h"/* "$corpus/" 2>/dev/null
	"$build/tests/fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*')
	if [ "$rc" -eq 0 ]; then
		echo "$h: pass: ${execs:-?} executions in $seconds s, ${cov:-no coverage line}"
	else
		failed=1
		grep -E 'ERROR|SUMMARY|invariant|runtime error' "$log" | head -n 5
		echo "$h: FAIL: libFuzzer exit $rc after ${execs:-?} executions; input in $crashes, log $log"
	fi
done
exit "$failed"
