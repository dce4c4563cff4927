#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# MQTT gateway, persistent sessions on the broker's journal (docs/MQTT.md
# 6.6): a paho client with Clean Session 0 subscribes at QoS 1 to a durable
# topic and leaves; N messages are published through MQTT while it is away
# (the gateway keeps no copy: msgs_in_use stays flat, persist_skipped counts
# them, nothing is queued); the gateway is killed -9 and M more are
# published by a native client while it is down; the gateway restarts on
# the same --state-dir, and the client, reconnecting with Clean Session 0
# and without subscribing again, gets its session back (Session Present)
# and all N+M messages, in order, once. Then: K more while it is away with
# the gateway up (only those K come, and a live subscriber of the same user
# gets them once, not again from the replay), and a second kill -9 after
# the client acknowledged everything: nothing comes again; and a third after
# a raw client took J without acknowledging: they come again with DUP set.
# Sluice only: mosquitto keeps nothing across kill -9 without persistence.
. "$(dirname "$0")/mqtt_lib.sh"
[ "$MQ_BROKER" == sluice ] || { echo "[$T_NAME] skip: Sluice's journal only"; exit 77; }
mq_start
N=${MQTT_PERSIST_N:-2000}
M=${MQTT_PERSIST_M:-500}
K=${MQTT_PERSIST_K:-300}
T=dur/persist/t
ST=dur.persist.t
CID=persist-$$
# Journaled and lossless toward the gateway.
ctl topic create "$ST" --durability async --backpressure block >/dev/null || t_fail "topic create $ST"

# ctr_wait NAME OP VALUE: a gateway counter, bounded wait (sampled every 100 ms).
ctr_wait() {
	local i got
	for ((i = 0; i < 50; i++)); do
		got=$(mq_ctr "$1")
		[ -n "$got" ] && [ "$got" "$2" "$3" ] && break
		sleep 0.1
	done
	echo "$got"
}

# --- 1: the session subscribes and leaves -----------------------------------------
mq_case "subscribe" psess --cid "$CID" --filter "$T" --qos 1 --present 0 --tag p --linger 0.2

# --- 2: N published while it is away: no copy in the gateway -------------------------
m0=$(ctr_wait msgs_in_use -ge 0)
q0=$(ctr_wait queue_full -ge 0)
s0=$(ctr_wait persist_skipped -ge 0)
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$MQ_PID/status")
mq_case "N while away" pub --topic "$T" --qos 1 --count "$N" --tag p --timeout 60
s1=$(ctr_wait persist_skipped -ge $((s0 + N)))
t_ge "persist_skipped: the $N messages not queued" "$s1" $((s0 + N))
m1=$(ctr_wait msgs_in_use -le $((m0 + 8)))
t_log "msgs_in_use before $m0, after $N messages for the away session $m1;" \
	"gateway RSS $rss0 -> $(awk '/VmRSS/ {print $2}' "/proc/$MQ_PID/status") KiB"
t_check "msgs_in_use does not grow with N (at most +8)" [ "$m1" -le $((m0 + 8)) ]
t_eq "queue_full unchanged" "$(mq_ctr queue_full)" "$q0"

# --- 3: kill -9, M more by a native client while the gateway is down -----------------
sleep 0.3 # a tick: what the gateway has appended is in the page cache anyway
{ kill -KILL "$MQ_PID"; wait "$MQ_PID"; } 2>/dev/null
MQ_PID=
mq_py gen --tag p --start "$N" --count "$M" | mq_npub shm -t "$ST" -l -a -q ||
	t_fail "sluice-pub -l -a: $M while the gateway is down"

# --- 4: restart, reconnect without subscribing: all N+M, in order, once ----------------
mq_gw_start
t_ge "sess_restored after the restart" "$(ctr_wait sess_restored -ge 1)" 1
mq_case "after kill -9" psess --cid "$CID" --present 1 --tag p --start 0 --count $((N + M)) \
	--timeout 60 --linger 0.5
t_ge "replays" "$(ctr_wait replays -ge 1)" 1
t_ge "replayed" "$(ctr_wait replayed -ge $((N + M)))" $((N + M))
t_eq "sess_taken_up" "$(mq_ctr sess_taken_up)" 1

# --- 5: K more while away, the gateway up: only those K --------------------------------
# Beside it a clean subscriber of the same user (the gateway's one libsluice
# session carries both) takes the K live: the resumed session's replay on that
# shared session must not reach it again.
mq_py sub --filter "$T" --qos 1 --count "$K" --timeout 60 --linger 3 --out "$T_DIR/beside.out" \
	--ready "$T_DIR/beside.ready" >"$T_DIR/beside.log" 2>&1 &
bs=$!
T_BG+=("$bs")
t_wait 10 test -e "$T_DIR/beside.ready" || t_fail "beside: subscriber not ready"
mq_case "K while away" pub --topic "$T" --qos 1 --count "$K" --tag k --timeout 60
mq_case "resumed" psess --cid "$CID" --present 1 --tag k --start 0 --count "$K" \
	--timeout 30 --linger 0.5
wait "$bs"
mq_case "beside, during the replay" check --file "$T_DIR/beside.out" --tag k --count "$K" \
	--exactly-once

# --- 6: a second kill -9 once all is acknowledged: nothing comes again -----------------
sleep 0.5 # two ticks: the cursor is in the log
{ kill -KILL "$MQ_PID"; wait "$MQ_PID"; } 2>/dev/null
MQ_PID=
mq_gw_start
mq_case "nothing again" psess --cid "$CID" --present 1 --tag p --count 0 --linger 2
t_eq "redelivered (nothing was unacknowledged)" "$(mq_ctr redelivered)" 0

# --- 6b: sent and not acknowledged, then kill -9: delivered again, DUP set ------------
J=20
mq_py rawsess --cid "$CID-raw" --what take --filter "$T" --tag j --count "$J" --timeout 30 \
	--ready "$T_DIR/raw.ready" >"$T_DIR/raw.take" 2>&1 &
rw=$!
T_BG+=("$rw")
t_wait 10 test -e "$T_DIR/raw.ready" || t_fail "raw session not subscribed"
mq_case "J published" pub --topic "$T" --qos 1 --count "$J" --tag j --timeout 30
wait "$rw"
t_eq "raw session took $J without PUBACK" "$?" 0
sed "s/^/[$T_NAME] take: /" "$T_DIR/raw.take"
sleep 0.3 # the cursor (sent J, acknowledged none) reached the log when it left
{ kill -KILL "$MQ_PID"; wait "$MQ_PID"; } 2>/dev/null
MQ_PID=
mq_gw_start
mq_case "again with DUP" rawsess --cid "$CID-raw" --what dup --tag j --count "$J" --timeout 30
t_ge "redelivered" "$(ctr_wait redelivered -ge "$J")" "$J"
mq_case "raw clean" psess --cid "$CID-raw" --clean --present 0 --tag j --count 0 --linger 0.2

# --- 7: a clean session ends it: after a restart it is gone -----------------------------
mq_case "clean" psess --cid "$CID" --clean --present 0 --tag p --count 0 --linger 0.2
kill -TERM "$MQ_PID"
wait "$MQ_PID" 2>/dev/null
MQ_PID=
mq_gw_start
t_eq "no session left after the clean start" "$(ctr_wait sessions -ge 0)" 0
mq_done
