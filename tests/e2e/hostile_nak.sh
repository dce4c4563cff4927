#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A hostile subscriber floods the broker with NAKs and sends bogus NAK
# ranges (naker.py) while another subscriber (sluice-loadgen) takes a live
# stream on the same topic: every bogus NAK is counted (drop nak_bad) and
# answered with nothing, the flood is rate-limited (nak_limited), and the
# other subscriber's stream is unaffected (nothing lost, duplicated or out of
# order).
. "$(dirname "$0")/lib.sh"
t_start
# The topic, with messages in it, before the load.
t_pub -t hn.0 -m seed -n 2000 -q || t_fail "seeding the topic"
before=$("$SL_ROOT/scripts/sluice-stats" -n "$T_DP" 2>/dev/null)

sl_cl "$T_TAG" timeout -k 5 120 "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" \
	-P 1 -S 1 -r 4000 -d 4 --drain-ms 10000 --topic-prefix hn --json --events \
	>"$T_DIR/lg.json" 2>"$T_DIR/lg.err" &
lg=$!
T_BG+=("$lg")
sleep 1
sl_cl "$T_TAG" timeout -k 5 60 python3 "$SL_ROOT/tests/e2e/naker.py" "$T_NET.1" 9500 hn.0 \
	"${NAK_FLOOD:-20000}" >"$T_DIR/naker.json" 2>"$T_DIR/naker.err"
t_eq "naker.py ran" "$?" 0
wait "$lg"
t_eq "the other subscriber's stream: loadgen passes" "$?" 0
after=$("$SL_ROOT/scripts/sluice-stats" -n "$T_DP" 2>/dev/null)
python3 - "$before" "$after" "$T_DIR/naker.json" "$T_DIR/lg.json" <<'PY' || t_fail "NAK counters"
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sent = json.load(open(sys.argv[3]))
lg = json.loads([l for l in open(sys.argv[4]) if l.startswith("{")][-1])
d = lambda k: a.get(k, 0) - b.get(k, 0)
bogus = sum(v for k, v in sent.items() if k not in ("flood", "retransmitted_received", "range"))
print(f"[hostile_nak] naker sent {sent}; broker: nak_received {d('nak_received')} "
      f"drop_nak_bad {d('drop_nak_bad')} nak_limited {d('nak_limited')} "
      f"retransmitted {d('retransmitted')}; loadgen lost {lg['lost']} duplicates "
      f"{lg['duplicates']} out_of_order {lg['out_of_order']} p99 {lg['p99_ns']} ns")
assert d("drop_nak_bad") >= bogus, "every bogus NAK counted"
assert d("nak_limited") > 0, "the flood was rate-limited"
# It got some of what it asked for, far less than all: the limit held.
assert sent["retransmitted_received"] > 0 and d("retransmitted") > 0, "NAKs were served"
assert d("retransmitted") < sent["flood"] * 1000 // 10, "retransmissions bounded"
assert lg["lost"] == 0 and lg["duplicates"] == 0 and lg["out_of_order"] == 0
PY
t_done
