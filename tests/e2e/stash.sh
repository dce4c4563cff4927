#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A request (a topic resolve) made while thousands of deliveries arrive over
# shared memory: libsluice keeps every one of them for the next poll, in
# order, with no gap (tests/shm_stash.c), on a topic in memory and on a
# journaled one (sync). Before, past 512 stashed records the rest was
# dropped and only counted (stash_drops).
. "$(dirname "$0")/lib.sh"
t_start --set "journal_dir=$T_DIR/journal" --set "durability_rules=dur.*=sync"
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT

STASH=$SL_BUILD/tests/shm_stash
[ -x "$STASH" ] || { t_fail "$STASH not built"; t_done; }

case_run() { # case_run WHAT TOPIC N
	local out
	out=$(timeout 60 "$STASH" "$T_DP" "$2" "$3" 2>"$T_DIR/$2.err")
	local rc=$?
	t_log "$1: $out"
	t_eq "$1: nothing lost, in order, no gap (exit status)" "$rc" 0
}
case_run "5000 deliveries during a resolve, topic in memory" mem.stash 5000
case_run "3000 deliveries during a resolve, journaled topic" dur.stash 3000
t_eq "broker dropped nothing for a full ring" "$(t_stat drop_shm_ring_full)" 0
t_done
