#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# MQTT gateway with standard clients (mosquitto_pub/mosquitto_sub, paho):
# QoS 0, 1 and 2 between MQTT clients; from MQTT clients to native
# sluice-sub subscribers and from native sluice-pub publishers to MQTT
# clients, over UDP and over shared memory (every message, payloads intact,
# in order per topic, none twice at QoS 2); the wildcards + and # ('a/#'
# matches 'a'; '$' topics not matched by a leading wildcard); the mapping of
# names that are not plain Sluice names ('.', space, '%', an empty level)
# seen from native clients both ways.
# MQTT_BROKER=mosquitto runs the MQTT-level checks against mosquitto.
. "$(dirname "$0")/mqtt_lib.sh"
mq_start
N=${MQTT_N:-200}

# lines_ge N FILE: FILE has at least N lines that are not probes.
lines_ge() { [ "$(grep -vc ' probe$' "$2" 2>/dev/null)" -ge "$1" ]; }
# mosub OUT TOPIC QOS [mosquitto_sub args]: Debian's subscriber in the
# background (T_LAST), printing "TOPIC PAYLOAD"; bounded by -W.
mosub() {
	local out=$1 tp=$2 q=$3
	shift 3
	# shellcheck disable=SC2046
	mosquitto_sub $(mq_cli_opts) -t "$tp" -q "$q" -v -W 60 "$@" >"$out" 2>"$out.err" &
	T_LAST=$!
	T_BG+=("$T_LAST")
}
# pahosub OUT FILTER QOS V COUNT: mqtt_lib.py's subscriber in the background
# (T_LAST); OUT.ready appears after its SUBACK.
pahosub() {
	mq_py sub --filter "$2" --qos "$3" --v "$4" --count "$5" --timeout 60 --out "$1" \
		--ready "$1.ready" >"$1.log" 2>&1 &
	T_LAST=$!
	T_BG+=("$T_LAST")
}
# mopub TOPIC QOS TAG V: N payloads as lines through mosquitto_pub -l.
mopub() {
	local mv=mqttv311
	[ "$4" == 5 ] && mv=mqttv5
	# shellcheck disable=SC2046
	mq_py gen --tag "$3" --count "$N" | timeout 60 mosquitto_pub $(mq_cli_opts) -t "$1" -q "$2" -l -V "$mv" ||
		t_fail "mosquitto_pub -q $2 to $1"
}
stop_bg() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# verify WHAT FILE FORMAT TAG QOS
verify() {
	local eo=()
	[ "$5" == 2 ] && eo=(--exactly-once)
	mq_case "$1" check --file "$2" --format "$3" --tag "$4" --count "$N" --what "$4" "${eo[@]}"
}

# --- 1: MQTT to MQTT, QoS 0, 1, 2; paho and mosquitto clients on both ends ------------
for q in 0 1 2; do
	tp=e2e/mm/q$q
	v=$((q == 1 ? 5 : 4))
	pahosub "$T_DIR/mm$q.paho" "$tp" "$q" "$v" $((2 * N))
	ps=$T_LAST
	mosub "$T_DIR/mm$q.mosq" "$tp" "$q"
	ms=$T_LAST
	t_wait 10 test -e "$T_DIR/mm$q.paho.ready" || t_fail "q$q: paho subscriber not ready"
	mq_case "q$q probe" probe --topic "$tp" --file "$T_DIR/mm$q.mosq" --timeout 10
	# QoS 0 is paced: loss is allowed there, and must not come from a burst.
	mq_case "q$q paho publish" pub --topic "$tp" --qos "$q" --v "$v" --count "$N" --tag "p$q" \
		--rate $((q == 0 ? 1000 : 0))
	mopub "$tp" "$q" "m$q" $((5 - v + 4))
	t_wait 30 lines_ge $((2 * N)) "$T_DIR/mm$q.mosq" || t_fail "q$q: mosquitto_sub did not get $((2 * N))"
	wait "$ps"
	stop_bg "$ms"
	for f in paho mosq; do
		fmt=jsonl
		[ $f == mosq ] && fmt=mosq
		verify "q$q paho -> $f" "$T_DIR/mm$q.$f" "$fmt" "p$q" "$q"
		verify "q$q mosquitto_pub -> $f" "$T_DIR/mm$q.$f" "$fmt" "m$q" "$q"
	done
done

if mq_sluice; then
	# --- 1: MQTT clients to native subscribers (UDP and shared memory) ------------------
	for q in 0 1 2; do
		tp=e2e/mn/q$q
		st=e2e.mn.q$q
		mq_nsub_bg udp "$T_DIR/mn$q.udp" -t "$st" -v -C $((2 * N)) -W 60
		nu=$T_LAST
		mq_nsub_bg shm "$T_DIR/mn$q.shm" -t "$st" -v -C $((2 * N)) -W 60
		ns=$T_LAST
		t_wait 10 t_nsubs_is "$st" 2 || t_fail "q$q: native subscribers on $st not registered"
		mq_case "q$q paho publish to native" pub --topic "$tp" --qos "$q" --count "$N" \
			--tag "p$q" --rate $((q == 0 ? 1000 : 0))
		mopub "$tp" "$q" "m$q" 4
		wait "$nu"
		t_eq "q$q: native UDP subscriber exit status" "$?" 0
		wait "$ns"
		t_eq "q$q: native shm subscriber exit status" "$?" 0
		for tr in udp shm; do
			verify "q$q paho -> sluice-sub $tr" "$T_DIR/mn$q.$tr" sluice "p$q" "$q"
			verify "q$q mosquitto_pub -> sluice-sub $tr" "$T_DIR/mn$q.$tr" sluice "m$q" "$q"
		done
	done

	# --- 1: native publishers (UDP and shared memory) to MQTT clients at each QoS -------
	for tr in udp shm; do
		tp=e2e/nm/$tr
		pids=()
		for q in 0 1 2; do
			pahosub "$T_DIR/nm.$tr.$q" "$tp" "$q" $((q == 1 ? 5 : 4)) "$N"
			pids+=("$T_LAST")
		done
		mosub "$T_DIR/nm.$tr.mosq" "$tp" 2
		ms=$T_LAST
		for q in 0 1 2; do
			t_wait 10 test -e "$T_DIR/nm.$tr.$q.ready" || t_fail "$tr: paho q$q subscriber not ready"
		done
		mq_case "$tr probe" probe --topic "$tp" --file "$T_DIR/nm.$tr.mosq" --timeout 10
		mq_py gen --tag "n$tr" --count "$N" | mq_npub "$tr" -t "e2e.nm.$tr" -l -a -q ||
			t_fail "$tr: sluice-pub -l -a"
		for p in "${pids[@]}"; do wait "$p"; done
		t_wait 30 lines_ge "$N" "$T_DIR/nm.$tr.mosq" || t_fail "$tr: mosquitto_sub did not get $N"
		stop_bg "$ms"
		for q in 0 1 2; do
			verify "sluice-pub $tr -> paho q$q" "$T_DIR/nm.$tr.$q" jsonl "n$tr" "$q"
		done
		verify "sluice-pub $tr -> mosquitto_sub q2" "$T_DIR/nm.$tr.mosq" mosq "n$tr" 2
	done
fi

# --- 2: wildcards ------------------------------------------------------------------------
mq_case wildcards wildcards

# --- 2: names that need the mapping, seen from native clients ------------------------------
if mq_sluice; then
	# MQTT name -> the Sluice name a native subscriber uses (docs/MQTT.md).
	declare -A map=(["odd/a.b/c"]="odd.a%2Eb.c" ["odd/sp ace"]="odd.sp%20ace"
		["odd//e"]="odd.%.e" ["odd/100%"]="odd.100%25" ["odd/x*y>"]="odd.x%2Ay%3E")
	declare -A npid
	for m in "${!map[@]}"; do
		mq_nsub_bg udp "$T_DIR/odd.${map[$m]}" -t "${map[$m]}" -v -C 1 -W 20
		npid[$m]=$T_LAST
	done
	for m in "${!map[@]}"; do
		t_wait 10 t_nsubs_is "${map[$m]}" 1 || t_fail "native subscriber on ${map[$m]} not registered"
	done
	for m in "${!map[@]}"; do
		mq_py pub --topic "$m" --qos 1 --count 1 --tag "odd" >/dev/null || t_fail "publish to '$m'"
	done
	for m in "${!map[@]}"; do
		wait "${npid[$m]}"
		t_eq "'$m' reaches the native subscriber of '${map[$m]}'" \
			"$(cut -d' ' -f1,3 "$T_DIR/odd.${map[$m]}")" "${map[$m]} odd:000000:"
	done
	# And back: native publishes to mapped names, an MQTT subscriber on odd/#.
	pahosub "$T_DIR/odd.back" "odd/#" 1 5 ${#map[@]}
	ob=$T_LAST
	t_wait 10 test -e "$T_DIR/odd.back.ready" || t_fail "paho subscriber on odd/# not ready"
	for m in "${!map[@]}"; do
		t_pub -t "${map[$m]}" -m "back" -a -q || t_fail "native publish to ${map[$m]}"
	done
	wait "$ob"
	t_eq "native publishes reach MQTT under the MQTT names" \
		"$("$MQ_PYTHON" -c 'import json,sys; print(sorted(json.loads(l)["t"] for l in open(sys.argv[1])))' \
			"$T_DIR/odd.back")" \
		"$("$MQ_PYTHON" -c 'import sys; print(sorted(sys.argv[1:]))' "${!map[@]}")"

	# Native publishes to topics new to the gateway, through an MQTT wildcard:
	# the gateway asks the broker each new id's name (RESOLVE by id,
	# names_asked), not the dataplane's counters area (names_area), and
	# gives none up (unknown_topic).
	na0=$(mq_ctr names_asked)
	nr0=$(mq_ctr names_area)
	uk0=$(mq_ctr unknown_topic)
	pahosub "$T_DIR/fresh" "fresh/+" 1 5 6
	fp=$T_LAST
	t_wait 10 test -e "$T_DIR/fresh.ready" || t_fail "paho subscriber on fresh/+ not ready"
	for i in 1 2 3 4 5 6; do
		t_pub -t "fresh.n$i" -m "new" -a -q || t_fail "native publish to fresh.n$i"
	done
	wait "$fp"
	t_eq "6 topics new to the gateway reach fresh/+" "$(wc -l <"$T_DIR/fresh")" 6
	names_asked_ge() { [ "$(mq_ctr names_asked)" -ge "$1" ]; }
	t_wait 5 names_asked_ge $((na0 + 6))
	t_ge "names asked of the broker" "$(($(mq_ctr names_asked) - na0))" 6
	t_eq "names read from the counters area" "$(($(mq_ctr names_area) - nr0))" 0
	t_eq "deliveries given up for want of a name" "$(($(mq_ctr unknown_topic) - uk0))" 0
fi

mq_done
