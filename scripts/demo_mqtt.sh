# SPDX-License-Identifier: BSD-3-Clause
# scripts/demo.sh --mqtt (sourced by demo.sh, which has started the broker,
# sluice-control and the user "demo" with an ACL on demo.>): sluice-mqtt on
# 127.0.0.1, attached to the dataplane over shared memory, and a QoS 1
# stream through it with Debian's standard clients (scripts/demo_mqtt.py:
# mosquitto_pub -l -> sluice-mqtt -> mosquitto_sub, user "demo", its key as
# the password) on topic demo/mqtt, which is Sluice's demo.mqtt, journaled
# (async: a PUBACK means the journal holds it). Then the delivery report.
# The clients run as users run them, Nagle's algorithm on; DEMO_MQTT_NODELAY=1
# gives both --nodelay (scripts/demo_mqtt.py says what each includes).

GW_PID=
demo_mqtt_stop() {
	[ -n "$GW_PID" ] || return 0
	kill -TERM "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	GW_PID=
}

demo_mqtt() {
	local gw=$root/build/gateway/sluice-mqtt port rc
	if [ ! -x "$gw" ]; then
		echo "demo: $gw missing: build it (ninja -C build)" >&2
		return 1
	fi
	command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null ||
		{ echo "demo: mosquitto_pub/mosquitto_sub missing (Debian mosquitto-clients; scripts/setup.sh)" >&2; return 1; }
	trap 'demo_mqtt_stop; cleanup' EXIT
	# The gateway's own session (wills, retained messages, anonymous
	# clients if allowed): a user of its own.
	quiet ctl user add mqtt-gateway --credentials "$work/gateway.cred" || return 1
	quiet ctl acl grant mqtt-gateway '>' pub,sub,admin || return 1
	quiet ctl topic create demo.mqtt --durability async || return 1
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	say "starting sluice-mqtt on 127.0.0.1:$port, attached to $name over shared memory"
	mkdir -p "$work/mqtt"
	"$gw" --shm $name --listen 127.0.0.1 --port "$port" --credentials "$work/gateway.cred" \
		--state-dir "$work/mqtt" --name demo >"$work/mqtt.log" 2>&1 &
	GW_PID=$!
	for _ in $(seq 1 100); do
		python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
			"$port" 2>/dev/null && break
		kill -0 "$GW_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "$GW_PID" 2>/dev/null; then
		echo "demo: sluice-mqtt did not start:" >&2
		tail -5 "$work/mqtt.log" >&2
		GW_PID=
		return 1
	fi
	say "topic demo/mqtt (Sluice demo.mqtt, durability async); try it yourself meanwhile with"
	say "  mosquitto_sub -p $port -u demo -P \$KEY -t 'demo/#' -q 1 -v"
	local a=(--port "$port" --user demo --password-file "$work/demo.cred" --topic demo/mqtt
		--rate "$rate" --duration "$duration" --size "$size" --durability async)
	[ "${DEMO_MQTT_NODELAY:-0}" == 1 ] && a+=(--nodelay)
	[ $json -eq 0 ] || a+=(--json)
	/usr/bin/python3 "$root/scripts/demo_mqtt.py" "${a[@]}"
	rc=$?
	if [ $json -eq 0 ]; then
		echo
		say "dataplane and sluice-mqtt counters (sluicectl -n $name stats):"
		ctl stats >"$work/stats.txt" 2>&1
		{ head -2 "$work/stats.txt"; sed -n '/^GATEWAY/,/^$/p' "$work/stats.txt"; } |
			sed "s/^/  /"
	fi
	demo_mqtt_stop
	return $rc
}
