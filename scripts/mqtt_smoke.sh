#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Quick smoke run of sluice-mqtt (not the e2e suite): a dataplane in its test
# namespaces, sluice-control, the gateway on 127.0.0.1 over shared memory,
# mosquitto_pub/mosquitto_sub and sluice-pub/sluice-sub. Run it under the
# shared lock: flock /tmp/sluice-e2e.lock bash scripts/mqtt_smoke.sh
. "$(dirname "$0")/../tests/e2e/lib.sh"
t_start --set "journal_dir=$T_DIR/journal" --set "durability_rules=dur.*=sync"
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT
command -v mosquitto_pub >/dev/null || { echo "skip: no mosquitto_pub"; exit 77; }
PORT=$((20000 + $$ % 20000))
GW=$SL_BUILD/gateway/sluice-mqtt

"$GW" --shm "$T_DP" --port "$PORT" --listen 127.0.0.1 --allow-anonymous \
	--state-dir "$T_DIR/mqtt" --verbose ${SMOKE_GW_ARGS:-} >"$T_DIR/gw.log" 2>&1 &
GWPID=$!
T_BG+=("$GWPID")
t_wait 10 bash -c "grep -q listening '$T_DIR/gw.log'" || { cat "$T_DIR/gw.log"; t_fail "gateway start"; t_done; }

mpub() { timeout 10 mosquitto_pub -h 127.0.0.1 -p "$PORT" "$@"; }
msub() { timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" "$@"; }

# QoS 0 and 1, MQTT to MQTT with a wildcard, both protocol versions.
for v in mqttv311 mqttv5; do
	for q in 0 1 2; do
		out=$T_DIR/sub-$v-$q.out
		msub -V $v -t "smoke/$v/+/x" -q $q -C 3 -v >"$out" 2>&1 &
		sp=$!
		sleep 0.5
		for i in 1 2 3; do mpub -V $v -t "smoke/$v/$i/x" -q $q -m "m$i" || t_fail "pub $v q$q"; done
		wait $sp
		t_eq "mqtt->mqtt $v qos $q" "$(wc -l <"$out")" 3
	done
done

# Native publisher -> MQTT subscriber (a topic created by sluice-pub).
out=$T_DIR/native.out
msub -t "nat/#" -q 1 -C 2 -v >"$out" 2>&1 &
sp=$!
sleep 0.5
"$SL_BUILD/client/sluice-pub" --shm "$T_DP" -t nat.a -m hello -n 2 -a -q || t_fail "native pub"
wait $sp
t_eq "native->mqtt" "$(grep -c '^nat/a hello$' "$out")" 2

# MQTT publisher -> native subscriber.
"$SL_BUILD/client/sluice-pub" --shm "$T_DP" -t to.native -m x -n 1 -q 2>/dev/null
t_ssub_bg "$T_DIR/ns.out" -t to.native -C 2 -W 10 -v
ns=$T_LAST
t_wait 5 t_nsubs_is to.native 1
mpub -t to/native -q 1 -m fromMQTT
mpub -t to/native -q 1 -m again
wait "$ns"
t_eq "mqtt->native" "$(grep -c 'fromMQTT\|again' "$T_DIR/ns.out")" 2

# Retained.
mpub -t ret/a -r -q 1 -m kept
out=$(msub -t "ret/#" -C 1 -W 3)
t_eq "retained" "$out" kept

cat "$T_DIR/gw.log" | tail -n 20
kill -TERM "$GWPID"
wait "$GWPID"
t_eq "gateway exit status" "$?" 0
t_done
