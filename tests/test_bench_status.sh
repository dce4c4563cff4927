#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# scripts/bench.sh takes each measurement's status from the exit status ($?)
# of the run before it. A command substitution earlier in the same command
# (a row name built with $(...)) runs first and sets $? itself: the batched
# sluice-max-udp row was reported "failed (exit 1)" after every good run,
# and the rows named by a substitution that succeeds hid real failures.
# Every $? that bench.sh reads must come before any other substitution.
set -uo pipefail
f=$(cd "$(dirname "$0")/.." && pwd)/scripts/bench.sh
[ -r "$f" ] || { echo "test_bench_status: $f missing"; exit 1; }

# The shell does what the comment above says (bash 5).
name_then_status() { echo "$1 $2"; }
false
got=$(name_then_status "x$([ 1 = 1 ] && echo y)" "$?")
[ "$got" = "xy 0" ] || { echo "test_bench_status: bash no longer sets \$? in a substitution: '$got'"; exit 77; }

# Commands of bench.sh (continued lines joined) that read $? after a substitution.
bad=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$f" | grep -n '\$?' |
	grep -E '\$\([^)]*\)[^$]*.*\$\?' | grep -vE '^[0-9]+:[[:space:]]*[a-z_]+=\$\(lg_status \$\?\)[[:space:]]*$')
if [ -n "$bad" ]; then
	echo "test_bench_status: bench.sh reads \$? after a command substitution in the same command:"
	echo "$bad"
	exit 1
fi
n=$(grep -c 'lg_status \$?' "$f")
[ "$n" -ge 8 ] || { echo "test_bench_status: only $n statuses read; the check looks at the wrong file?"; exit 1; }
echo "test_bench_status: ok ($n statuses, each read before any other substitution)"
