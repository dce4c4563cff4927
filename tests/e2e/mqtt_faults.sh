#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# MQTT gateway, refusals and faults, with standard clients (paho, raw
# sockets): a wrong password or unknown user gets CONNACK 4/5 (v3.1.1) or
# 0x86/0x87 (v5); a user outside its ACL gets SUBACK 0x80/0x87 and PUBACK
# or PUBREC 0x87 while what it may do works end to end; a bounded flood of
# malformed packets (bad and oversize remaining length, wrong protocol
# levels, packets before CONNECT, wildcards in PUBLISH topics, reserved
# flag bits, bad UTF-8) gets the answer the specification names for each
# while a healthy client loses nothing, the gateway counts the drops by
# reason and keeps running; kill -9 of the gateway under QoS 1 load loses
# nothing it PUBACKed (a native subscriber replays the topic's journal).
# MQTT_BROKER=mosquitto runs the MQTT-level checks against mosquitto.
. "$(dirname "$0")/mqtt_lib.sh"
mq_start --auth
ROUNDS=${MQTT_FLOOD_ROUNDS:-10}

# --- 6: authentication and ACL refusal ------------------------------------------------
mq_case auth auth
mq_case acl acl --user "$MQ_LUSER" --pw "$MQ_LPW" --user2 "$MQ_USER" --pw2 "$MQ_PW" $MQ_STRICT
# A shared subscription whose consumer group does not exist, by a user without
# admin on the topic: the gateway asks sluice-control to create the group for
# that user, which refuses (docs/MQTT.md): SUBACK refused, no group made.
if mq_sluice; then
	mq_case "shared, no right to create the group" shared_denied --user "$MQ_LUSER" --pw "$MQ_LPW"
	t_eq "no group gdenied made for the limited user" \
		"$(ctl group list acl.sub.x 2>/dev/null | grep -c gdenied)" 0
fi

# --- 8: a bounded flood of malformed packets beside a healthy client --------------------
BAD=(bad_malformed bad_protocol bad_version bad_before_connect bad_too_large bad_topic)
if mq_sluice; then
	declare -A c0
	for k in "${BAD[@]}"; do
		c0[$k]=$(mq_ctr "$k")
		[ -n "${c0[$k]}" ] || t_fail "no gateway counter $k in sluicectl stats"
	done
fi
mq_case flood flood --rounds "$ROUNDS" --count 500 --rate 100 --sent "$T_DIR/flood.json" $MQ_STRICT
t_check "the broker still runs after the flood" mq_alive
if mq_sluice; then
	# Each reason, at least as often as the cases that can only be it were sent.
	want() { echo $((c0[$1] + $2 * ROUNDS)); }
	ctr_ge() { # ctr_ge NAME MIN: bounded wait (counters are sampled)
		local i got
		for ((i = 0; i < 30; i++)); do
			got=$(mq_ctr "$1")
			[ "$got" -ge "$2" ] 2>/dev/null && break
			sleep 0.1
		done
		t_ge "counter $1" "$got" "$2"
	}
	ctr_ge bad_before_connect "$(want bad_before_connect 2)"
	ctr_ge bad_version "$(want bad_version 2)"
	ctr_ge bad_too_large "$(want bad_too_large 2)"
	ctr_ge bad_topic "$(want bad_topic 2)"
	ctr_ge bad_malformed "$(want bad_malformed 5)"
	ctr_ge bad_protocol "$(want bad_protocol 1)"
	# Every bad packet sent is counted under some reason.
	sent=$("$MQ_PYTHON" -c 'import json,sys; print(sum(json.load(open(sys.argv[1])).values()))' \
		"$T_DIR/flood.json")
	bad_sum() {
		local k n=0
		for k in "${BAD[@]}"; do n=$((n + $(mq_ctr "$k") - c0[$k])); done
		echo "$n"
	}
	for ((i = 0; i < 30; i++)); do
		[ "$(bad_sum)" -ge "$sent" ] && break
		sleep 0.1
	done
	t_eq "every bad packet counted once, under a reason" "$(bad_sum)" "$sent"
fi

# --- 7: kill -9 of the gateway under QoS 1 load: nothing PUBACKed is lost ------------
if mq_sluice; then
	: >"$T_DIR/acked"
	mq_py killpub --topic dur/kill/t --tag k --count 1000000 --timeout 60 \
		--acked "$T_DIR/acked" --v 4 >"$T_DIR/killpub.out" 2>"$T_DIR/killpub.err" &
	kp=$!
	T_BG+=("$kp")
	t_wait 30 bash -c "[ \$(wc -l <'$T_DIR/acked') -ge 2000 ]" ||
		t_fail "kill -9: 2000 PUBACKs did not come"
	kill -KILL "$MQ_PID"
	wait "$MQ_PID" 2>/dev/null
	t_log "gateway killed -9 after $(wc -l <"$T_DIR/acked") PUBACKs"
	t_wait 15 bash -c "! kill -0 $kp 2>/dev/null" || t_fail "kill -9: the publisher did not see the end"
	wait "$kp"
	t_log "publisher: $(cat "$T_DIR/killpub.out")"
	# The whole topic from its start, read until quiet.
	t_ssub_bg "$T_DIR/replay.out" -t dur.kill.t --from earliest -v -W 8
	rp=$T_LAST
	t_wait 15 bash -c "! kill -0 $rp 2>/dev/null"
	wait "$rp"
	t_eq "kill -9: the replay ended normally" "$?" 0
	mq_case "kill -9" contains --acked "$T_DIR/acked" --file "$T_DIR/replay.out" --format sluice \
		--tag k --min 2000
	# The gateway comes back on the same port and serves again.
	mq_gw_start
	mq_case "after the restart" pub --topic dur/kill/after --qos 1 --count 50 --tag a
fi

mq_done
