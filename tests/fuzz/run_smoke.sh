#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# One harness's smoke: every seed of its corpus once, then SECONDS of
# fuzzing from them, in a scratch copy (the checked-in corpus is not
# changed). Passes when libFuzzer ends without a crash, a leak, a sanitizer
# report or a timeout; on a failure the reproducing input is kept in the
# scratch folder named in the output.
#
#   run_smoke.sh HARNESS CORPUS_DIR [SECONDS]
set -uo pipefail

harness=$1 corpus=$2 seconds=${3:-4}
name=$(basename "$harness")
[ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || { echo "$name: no seed corpus in $corpus"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/$name.smoke.XXXXXX")
mkdir -p "$work/corpus" "$work/crash"
cp "$corpus"/* "$work/corpus/"
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/crash/" "$work/corpus" >"$work/log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
cov=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
if [ "$rc" -eq 0 ]; then
	echo "$name: pass (${execs:-?} executions in ${seconds} s, ${cov:-no coverage line})"
	rm -rf "$work"
	exit 0
fi
tail -n 60 "$work/log"
echo "$name: FAIL (libFuzzer exit $rc); input and log kept in $work"
exit 1
