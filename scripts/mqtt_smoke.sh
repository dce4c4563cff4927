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
GW=${SMOKE_GW:-$SL_BUILD/gateway/sluice-mqtt}

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" >/dev/null 2>&1 || t_fail "openssl req"
TLSPORT=$((PORT + 2))
"$GW" --shm "$T_DP" --port "$PORT" --listen 127.0.0.1 --allow-anonymous \
	--tls-cert "$T_DIR/cert.pem" --tls-key "$T_DIR/key.pem" --tls-port "$TLSPORT" \
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

# TLS: both ends over TLS, and TLS to plain.
tls() { timeout 10 "$@" -h 127.0.0.1 -p "$TLSPORT" --cafile "$T_DIR/cert.pem"; }
tls mosquitto_sub -t 'tls/#' -q 1 -C 2 -v >"$T_DIR/tls.out" 2>&1 &
tp=$!
msub -t 'tls/#' -q 1 -C 2 >"$T_DIR/tlsplain.out" 2>&1 &
tpp=$!
sleep 0.5
tls mosquitto_pub -t tls/a -q 1 -m secret1 || t_fail "TLS publish"
mpub -t tls/b -q 0 -m plain2
wait $tp $tpp
t_eq "TLS subscriber" "$(cat "$T_DIR/tls.out" | tr '\n' ' ')" "tls/a secret1 tls/b plain2 "
t_eq "plain subscriber of a TLS publisher" "$(cat "$T_DIR/tlsplain.out" | tr '\n' ' ')" "secret1 plain2 "

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


ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
t_control_up "$T_DIR/state"
gwstat() { ctl stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); g=[g for g in d["gateways"] if g["name"]==sys.argv[2]]; print(g[0]["counters"][sys.argv[1]] if g else "none:%s" % d["gateways"])' "$1" "mqtt-$PORT"; }

# Will: a client killed without DISCONNECT has its will published.
msub -t will/t -C 1 >"$T_DIR/will.out" 2>&1 &
wp=$!
sleep 0.3
mosquitto_sub -h 127.0.0.1 -p "$PORT" -t none --will-topic will/t --will-payload gone --will-qos 1 >/dev/null 2>&1 &
dying=$!
sleep 0.5
kill -KILL $dying
wait $wp
t_eq "will published on unclean close" "$(cat "$T_DIR/will.out")" gone

# Persistent session: QoS 1 messages published while it is away arrive on reconnect.
msub -V mqttv311 -c -i psess -q 1 -t "pers/#" -E >/dev/null 2>&1
for i in 1 2 3; do mpub -t pers/x -q 1 -m "p$i"; done
out=$(msub -V mqttv311 -c -i psess -q 1 -t "pers/#" -C 3 -W 5 | tr '\n' ' ')
t_eq "persistent session: missed QoS 1 messages delivered" "$out" "p1 p2 p3 "

# Takeover: a second CONNECT with the same client id ends the first.
mosquitto_sub -h 127.0.0.1 -p "$PORT" -V mqttv5 -i same -t a >/dev/null 2>&1 &
first=$!
sleep 0.5
mosquitto_sub -h 127.0.0.1 -p "$PORT" -V mqttv5 -i same -t a -W 1 >/dev/null 2>&1
sleep 0.3
t_check "takeover: the first client was disconnected" bash -c "! kill -0 $first 2>/dev/null"
kill $first 2>/dev/null
t_ge "takeovers counted" "$(gwstat takeovers)" 1

# Shared subscription on a consumer group: each message to one member.
"$SL_BUILD/client/sluice-pub" --shm "$T_DP" -t shr.t -m x -n 1 -q 2>/dev/null
t_wait 5 "$SL_BUILD/ctl/sluicectl" -n "$T_DP" topic show shr.t >/dev/null
ctl group create shr.t g1 >/dev/null 2>"$T_DIR/group.err" || t_fail "group create: $(cat "$T_DIR/group.err")"
msub -q 1 -t '$share/g1/shr/t' -C 20 -W 6 >"$T_DIR/sh1.out" 2>&1 &
s1=$!
msub -q 1 -t '$share/g1/shr/t' -C 20 -W 6 >"$T_DIR/sh2.out" 2>&1 &
s2=$!
sleep 0.5
for i in $(seq 1 20); do mpub -t shr/t -q 1 -m "s$i"; done
wait $s1 $s2
t_eq "shared subscription: 20 messages, each once" "$(cat "$T_DIR/sh1.out" "$T_DIR/sh2.out" | grep '^s[0-9]*$' | sort -u | wc -l)/$(cat "$T_DIR/sh1.out" "$T_DIR/sh2.out" | grep -c '^s[0-9]*$')" "20/20"
t_check "shared subscription: both members got some" bash -c "grep -q '^s' '$T_DIR/sh1.out' && grep -q '^s' '$T_DIR/sh2.out'"

# Bad input: each gets its answer and a counter; a healthy subscriber is unaffected.
msub -q 1 -t healthy -C 1 -W 10 >"$T_DIR/healthy.out" 2>&1 &
hp=$!
python3 - "$PORT" <<'PY' || t_fail "bad input script"
import socket, sys, struct
port = int(sys.argv[1])
def conn(data, want=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(data)
    got = b""
    try:
        while True:
            b = s.recv(100)
            if not b: break
            got += b
    except socket.timeout:
        print("no close for", data[:8]); sys.exit(1)
    s.close()
    if want is not None and not got.startswith(want):
        print("want", want, "got", got, "for", data[:12]); sys.exit(1)
v5c = bytes([0x10, 16, 0, 4]) + b"MQTT" + bytes([5, 2, 0, 30, 0, 0, 3]) + b"bad"
conn(b"\x30\x05\x00\x01a\x00\x00")                     # PUBLISH before CONNECT: closed
conn(b"\x10\xff\xff\xff\xff\x7f")                     # 5-byte remaining length: closed
conn(bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([3, 2, 0, 30, 0, 1]) + b"x", b"\x20\x02\x00\x01")  # level 3: CONNACK rc 1
conn(bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([9, 2, 0, 30, 0, 1]) + b"x", b"\x20\x02\x00\x01")  # level 9
pub = bytes([0x30, 9, 0, 3]) + b"a/#" + bytes([0]) + b"xyz"  # v5 PUBLISH with a wildcard
conn(v5c + pub, b"\x20")                               # CONNACK then DISCONNECT 0x90
for n in range(200):
    conn(bytes([0x10, 3, 0xde, 0xad, 0xbe]))          # malformed CONNECT flood
print("bad input ok")
PY
mpub -q 1 -t healthy -m alive
wait $hp
t_eq "healthy client unaffected" "$(cat "$T_DIR/healthy.out")" alive
t_ge "bad_version counted" "$(gwstat bad_version)" 2
t_ge "bad_before_connect counted" "$(gwstat bad_before_connect)" 1
t_ge "bad_malformed counted" "$(gwstat bad_malformed)" 200
t_ge "bad_topic counted" "$(gwstat bad_topic)" 1
ctl stats | grep -A2 GATEWAY

# Authentication and ACLs: a second gateway with credentials of its own.
ctl user add alice --credentials "$T_DIR/alice.cred" >/dev/null || t_fail "user add alice"
ctl user add bob --credentials "$T_DIR/bob.cred" >/dev/null || t_fail "user add bob"
ctl user add gw --admin --credentials "$T_DIR/gw.cred" >/dev/null || t_fail "user add gw"
ctl acl grant alice 'sec.>' pub,sub,admin >/dev/null || t_fail "acl alice"
ctl acl grant bob 'sec.b' pub,sub >/dev/null || t_fail "acl bob"
ctl policy set auth required >/dev/null || t_fail "auth required"
PORT2=$((PORT + 1))
"$GW" --shm "$T_DP" --port "$PORT2" --listen 127.0.0.1 --credentials "$T_DIR/gw.cred" \
	--name mqtt-auth --state-dir "$T_DIR/mqtt2" --verbose >"$T_DIR/gw2.log" 2>&1 &
T_BG+=("$!")
t_wait 10 bash -c "grep -q listening '$T_DIR/gw2.log'" || t_fail "gateway 2 start"
key() { sed -n 's/^key *= *//p' "$1"; }
AK=$(key "$T_DIR/alice.cred")
BK=$(key "$T_DIR/bob.cred")
a2() { timeout 10 mosquitto_pub -h 127.0.0.1 -p "$PORT2" "$@"; }
timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT2" -u alice -P "$AK" -t 'sec/#' -C 1 -W 5 >"$T_DIR/alice.out" 2>&1 &
ap=$!
sleep 0.5
a2 -u alice -P "$AK" -t sec/a -q 1 -m ok-alice || t_fail "alice publishes"
wait $ap
t_eq "alice: authenticated publish and subscribe" "$(cat "$T_DIR/alice.out")" ok-alice
a2 -u alice -P "$BK" -t sec/a -q 1 -m x 2>"$T_DIR/badkey.err"
t_check "wrong key refused" grep -qi "not authori\|bad user" "$T_DIR/badkey.err"
a2 -t sec/a -q 1 -m x 2>"$T_DIR/anon.err"
t_check "anonymous refused (allow_anonymous off)" grep -qi "not authori\|refused" "$T_DIR/anon.err"
a2 -V mqttv5 -u bob -P "$BK" -t sec/a -q 1 -m x 2>"$T_DIR/acl.err"
t_check "ACL: bob may not publish to sec/a (v5 PUBACK 0x87)" test -s "$T_DIR/acl.err"
cat "$T_DIR/acl.err"
cat "$T_DIR/gw.log" | tail -n 20
kill -TERM "$GWPID"
wait "$GWPID"
t_eq "gateway exit status" "$?" 0
t_done
