#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The impairment relay (sluice-impair) that the loss tests put between the
# clients and the dataplane: without impairment it is transparent (nothing
# lost, duplicated or reordered end to end); with impairment it loses,
# duplicates and holds back the fractions asked for, per direction, and its
# counts add up. It stops by itself after --time, and on SIGTERM.
. "$(dirname "$0")/lib.sh"

# counts JSON EXPR: evaluate EXPR (Python, the counts as c) on the relay's last count line.
counts() { python3 -c "import json,sys; c=json.loads(sys.argv[1]); print($2)" "$1"; }

t_start_relay --time 120 --seed 5 -- --set "journal_dir=$T_DIR/journal" \
	--set "durability_rules=rsync.*=sync"
# 1. Transparent: loadgen through the relay, nothing lost or duplicated.
sl_cl "$T_TAG" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" -P 1 -S 1 -r 4000 -d 1 \
	--json -q >"$T_DIR/lg.json" 2>"$T_DIR/lg.err"
t_eq "loadgen through a transparent relay: exit status" "$?" 0
c=$(t_relay_counts) || t_fail "relay counts on SIGUSR1"
t_eq "relay forwarded every frame to the broker" "$(counts "$c" 'c["ab"]["rx"] == c["ab"]["tx"]')" True
t_eq "relay forwarded every frame to the client" "$(counts "$c" 'c["ba"]["rx"] == c["ba"]["tx"]')" True
t_ge "relay saw the load" "$(counts "$c" 'c["ab"]["rx"]')" 4000
sl_dp_stop
sl_relay_stop

# 2. Impaired: 10% loss towards the broker; towards the client 10%
# duplicated and 25% held back 1 ms.
sl_relay_start "$T_TAG" "$T_DIR/relay2.log" --time 60 --seed 9 --ab loss=0.1 \
	--ba dup=0.1,reorder=0.25,delay-us=1000 || t_fail "relay restart"
sl_dp_start "$T_TAG" "$T_DIR/dp2.log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" ||
	t_fail "dataplane restart"
t_pub -t r.loss -m x -n 4000 -q
got=$(t_stat publishes)
t_check "about 10% of 4000 publishes lost on the way (accepted $got)" \
	test "$got" -ge 3400 -a "$got" -le 3800
# Traffic back to the client: a subscriber's deliveries (the broker packs
# what one loop iteration has for a peer into one datagram, so datagrams are
# fewer than messages; about 10% of the publishes are lost on the way in).
lg=$(sl_cl "$T_TAG" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" -P 1 -S 1 -r 2000 \
	-d 1 --drain-ms 200 --topic-prefix r.back --json -q 2>/dev/null | grep '^{' | tail -n 1)
sl_relay_stop
c=$(grep '^{' "$T_DIR/relay2.log" | tail -n 1)
t_ge "relay: the subscriber got the stream through it" \
	"$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["received"])' "$lg" 2>/dev/null)" 1500
t_eq "relay: a->b rx = tx + lost" "$(counts "$c" 'c["ab"]["rx"] == c["ab"]["tx"] + c["ab"]["lost"]')" True
t_eq "relay: broker's count = what the relay let through" \
	"$(counts "$c" '4000 - c["ab"]["lost"] <= '"$got"' <= 4000')" True
t_ge "relay: deliveries came back through it (datagrams)" "$(counts "$c" 'c["ba"]["rx"]')" 500
t_eq "relay: b->a tx = rx + dup" "$(counts "$c" 'c["ba"]["tx"] == c["ba"]["rx"] + c["ba"]["dup"]')" True
t_eq "relay: nothing lost b->a, no overflow" "$(counts "$c" 'c["ba"]["lost"] + c["ba"]["overflow"]')" 0
t_eq "relay: about 25% held back" \
	"$(counts "$c" '0.18 < c["ba"]["held"] / (c["ba"]["rx"] + c["ba"]["dup"]) < 0.32')" True

# 3. It ends by itself.
sl_relay_start "$T_TAG" "$T_DIR/relay3.log" --time 1 || t_fail "relay restart"
p=$SL_RELAY_PID
t_check "relay exits by itself after --time" t_wait 5 bash -c "! kill -0 $p 2>/dev/null"
t_check "and prints its counts" grep -q '^{"seed":1' "$T_DIR/relay3.log"
SL_RELAY_PID=
t_done
