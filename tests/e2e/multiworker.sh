#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Two workers on two rx queues: sessions land on either worker, topics are
# owned by one of them, and messages cross between workers through the
# handoff rings without loss or duplication. With 12 publishers on 5 topics
# the chance that every publisher lands on its topic owner is 2^-12.
. "$(dirname "$0")/lib.sh"
SL_DP_CONF=$SL_ROOT/nic-configs/af_packet-2q.conf SL_DP_QUEUES=2 t_start

sl_cl "$T_TAG" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" -P 12 -S 4 --topics 5 \
	-r 6000 -d 2 --json >"$T_DIR/lg.json" 2>"$T_DIR/lg.err"
t_eq "loadgen exit status (0: nothing lost or duplicated)" "$?" 0
python3 - "$T_DIR/lg.json" <<'PY' || t_fail "loadgen report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["sent"] == 12000 and r["received"] == 4 * 12000, r
assert r["lost"] == 0 and r["duplicates"] == 0, r
PY
w() { "$SL_ROOT/scripts/sluice-stats" -n "$T_DP" /sluice/workers --get "$1"; }
t_ge "worker0 received packets" "$(w worker0.rx_pkts)" 1
t_ge "worker1 received packets" "$(w worker1.rx_pkts)" 1
t_ge "messages handed between workers" "$(t_stat handoff_out)" 1000
t_eq "handoffs: nothing dropped at a full ring" "$(t_stat drop_ring_full)" 0
t_eq "every publish delivered 4 times" "$(t_stat delivers)" $((4 * $(t_stat publishes)))
t_eq "no session expired (the set-up keeps every client alive)" "$(t_stat sessions_expired)" 0
t_done
