#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# MQTT gateway, state that outlives a packet, with standard clients:
# retained messages (a new subscriber gets the last one, flagged; an empty
# retained payload clears it); will messages (a client that vanishes, by a
# reset socket or kill -9 of mosquitto_sub, has its will delivered; a clean
# DISCONNECT has none); persistent sessions (v3.1.1 clean session 0 and v5
# session expiry: QoS 1 messages published on a durable topic while the
# subscriber was away, whether it left by DISCONNECT or a reset, all come
# when it returns, in order); shared subscriptions ($share/G/topic: two
# members, each message to exactly one of them; the group made by the gateway).
# MQTT_BROKER=mosquitto runs the same checks against mosquitto.
. "$(dirname "$0")/mqtt_lib.sh"
mq_start

# --- 3: retained and will ------------------------------------------------------------
mq_case retained retained
mq_case will will
# A standard client killed -9: its will, as mosquitto_sub declared it.
mq_py sub --filter wk/# --qos 1 --count 1 --timeout 30 --out "$T_DIR/wk.out" \
	--ready "$T_DIR/wk.ready" >"$T_DIR/wk.log" 2>&1 &
wk=$!
T_BG+=("$wk")
t_wait 10 test -e "$T_DIR/wk.ready" || t_fail "will: subscriber not ready"
# shellcheck disable=SC2046
mosquitto_sub $(mq_cli_opts) -t wk/live -q 1 -v -W 60 --will-topic wk/gone --will-payload "killed -9" \
	--will-qos 1 >"$T_DIR/wk.mosq" 2>"$T_DIR/wk.mosq.err" &
victim=$!
T_BG+=("$victim")
mq_case "will probe" probe --topic wk/live --file "$T_DIR/wk.mosq" --timeout 10
{ kill -KILL "$victim"; wait "$victim"; } 2>/dev/null
wait "$wk"
t_eq "will: mosquitto_sub killed -9: its will delivered" \
	"$("$MQ_PYTHON" -c 'import json,sys; print([(r["t"], bytes.fromhex(r["p"]).decode()) for r in map(json.loads, open(sys.argv[1])) if r["t"] != "wk/live"])' "$T_DIR/wk.out")" \
	"[('wk/gone', 'killed -9')]"

# --- 4: persistent session across a disconnect (a durable topic: dur/...) -------------
mq_case session session --prefix dur --count 200

# --- 5: shared subscriptions ---------------------------------------------------------------
# Sluice maps $share/G/T to consumer group G of topic T; neither exists
# before: the gateway creates the topic (a resolve) and has sluice-control
# create the group for the user (open mode: any user may; the refusal is
# in mqtt_faults.sh). mosquitto needs nothing.
mq_case shared shared --count 300
if mq_sluice; then
	for v in 4 5; do
		t_eq "group g$v of sh$v.t made by the gateway" \
			"$(ctl group show "sh$v.t" "g$v" >/dev/null 2>&1 && echo yes)" yes
	done
fi

mq_done
