#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Test-only loss injection (a build with -Dfault_injection=true): the
# dataplane warns that it is such a build, loses the fraction of received
# and sent frames that SLUICE_FAULT_RX_LOSS / _TX_LOSS ask for, and says how
# many; libsluice loses what SLUICE_FAULT_CLIENT_TX_LOSS asks for. Nothing
# is lost without the variables.
. "$(dirname "$0")/lib.sh"
n=4000

# 1. The dataplane loses 10% of what it receives: sluice-pub without acks
# sends n publishes, the broker takes about 90% of them.
SLUICE_FAULT_RX_LOSS=0.1 SLUICE_FAULT_SEED=7 t_start
t_check "dataplane warns of a fault-injection build" grep -q "FAULT INJECTION BUILD" "$T_DIR/dp.log"
t_pub -t f.rx -m x -n $n -q
got=$(t_stat publishes)
t_check "about 10% of $n publishes lost on rx (accepted $got)" \
	test "$got" -ge $((n * 85 / 100)) -a "$got" -le $((n * 95 / 100))
sl_dp_stop
lost=$(sed -n 's/.*fault injection lost \([0-9]*\) received and \([0-9]*\) sent.*/\1/p' "$T_DIR/dp.log")
t_ge "dataplane reports what it lost on rx" "${lost:-0}" $((n - got))

# 2. No variables: the warning, and nothing lost.
SL_DP_PID=
sl_dp_start "$T_TAG" "$T_DIR/dp2.log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" ||
	{ t_fail "dataplane restart"; t_done; }
t_check "dataplane warns without variables too" grep -q "FAULT INJECTION BUILD" "$T_DIR/dp2.log"
t_pub -t f.none -m x -n 1000 -a -q
t_eq "sluice-pub with acks, no injection: exit status" "$?" 0
t_eq "no injection: every publish accepted" "$(t_stat publishes)" 1000

# 3. The client loses 10% of what it sends (and says so on stderr); the
# dataplane loses 20% of the frames it sends (deliveries to a subscriber at
# 2000 msgs/s here, one datagram each).
sl_dp_stop
SLUICE_FAULT_TX_LOSS=0.2 sl_dp_start "$T_TAG" "$T_DIR/dp3.log" --name "$T_DP" --idle backoff \
	--set "port0.ip=$T_NET.1" || { t_fail "dataplane restart"; t_done; }
SLUICE_FAULT_CLIENT_TX_LOSS=0.1 t_pub -t f.ctx -m x -n $n -q 2>"$T_DIR/pub.err"
t_check "libsluice warns when injecting" grep -q "FAULT INJECTION BUILD" "$T_DIR/pub.err"
got=$(t_stat publishes)
t_check "about 10% of $n publishes lost by the client (accepted $got)" \
	test "$got" -ge $((n * 85 / 100)) -a "$got" -le $((n * 95 / 100))
sl_cl "$T_TAG" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" -P 1 -S 1 -r 2000 -d 1 \
	--drain-ms 200 --topic-prefix f.tx --json -q >/dev/null 2>&1
tx=$(t_stat tx_pkts)
t_ge "the dataplane sent the deliveries" "$tx" 1500
sl_dp_stop
lost=$(sed -n 's/.*fault injection lost [0-9]* received and \([0-9]*\) sent.*/\1/p' "$T_DIR/dp3.log")
t_check "about 20% of $tx frames sent lost (${lost:-none})" \
	test "${lost:-0}" -ge $((tx * 15 / 100)) -a "${lost:-0}" -le $((tx * 25 / 100))
t_done
