#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A load generator whose set-up outlasts the broker's session timeout: 16
# clients connected one after the other, 5 topics resolved and 20
# subscriptions made, each a round trip of 40 ms through the relay (20 ms
# held each way), about 2.5 s against the 1 s timeout of these tests. The
# clients connected first must be kept alive meanwhile: no session expires,
# no client reconnects, and nothing published is lost.
. "$(dirname "$0")/lib.sh"

t_start_relay --time 120 --seed 3 --both delay-us=20000 --

start=$(date +%s%N)
sl_cl "$T_TAG" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" -P 12 -S 4 --topics 5 \
	-r 1200 -d 1 --drain-ms 2000 --json >"$T_DIR/lg.json" 2>"$T_DIR/lg.err"
t_eq "loadgen exit status (0: nothing lost or duplicated)" "$?" 0
t_ge "the run (set-up included) outlasted the session timeout, ms" \
	"$((($(date +%s%N) - start) / 1000000))" 3000
python3 - "$T_DIR/lg.json" <<'PY' || t_fail "loadgen report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["sent"] == 1200 and r["received"] == 4 * 1200, r
assert r["lost"] == 0 and r["duplicates"] == 0, r
assert r["events"]["disconnected"] == 0 and r["events"]["reconnected"] == 0, r["events"]
PY
t_eq "no session expired at the broker" "$(t_stat sessions_expired)" 0
t_eq "no frame for a session the broker did not know" "$(t_stat drop_no_session)" 0
t_done
