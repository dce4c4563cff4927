#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Test-only loss injection cannot be turned on by accident: a build without
# -Dfault_injection=true contains no code that reads SLUICE_FAULT_* (checked
# in the dataplane and in libsluice), and a build with it does (so that this
# check can fail).
#   test_fault_build.sh true|false DATAPLANE LIBSLUICE
set -u
want=$1
shift
fails=0
for f in "$@"; do
	[ -e "$f" ] || { echo "fault_build: $f missing"; exit 1; }
	n=$(grep -ac 'SLUICE_FAULT_' "$f")
	if [ "$want" = true ] && [ "$n" -eq 0 ]; then
		echo "fault_build: FAIL: $f lacks the injection code of a fault_injection build"
		fails=$((fails + 1))
	elif [ "$want" = false ] && [ "$n" -ne 0 ]; then
		echo "fault_build: FAIL: $f reads SLUICE_FAULT_* though built without fault_injection"
		fails=$((fails + 1))
	else
		echo "fault_build: ok: $(basename "$f") (fault_injection=$want)"
	fi
done
[ $fails -eq 0 ]
