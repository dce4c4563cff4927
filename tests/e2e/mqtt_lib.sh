# SPDX-License-Identifier: BSD-3-Clause
# Shared set-up for the MQTT end-to-end tests (source it after choosing
# nothing: it sources lib.sh). The broker under test is MQTT_BROKER:
#   sluice     (default) the dataplane in its namespaces, sluice-control and
#              sluice-mqtt on loopback, attached over shared memory;
#   mosquitto  Debian's mosquitto on a free loopback port with a generated
#              config: the reference that shows the MQTT-level checks
#              themselves are right. Checks that need Sluice (native
#              clients, mapping, journal, counters) are skipped there.
# The MQTT-level checks live in mqtt_lib.py and run the same against both.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MQ_BROKER=${MQTT_BROKER:-sluice}
# Debian's python: python3-paho-mqtt is installed for it, not for a pyenv one.
MQ_PYTHON=/usr/bin/python3
MQ_LIB=$SL_ROOT/tests/e2e/mqtt_lib.py
MQ_HOST=127.0.0.1
MQ_PORT=
MQ_PID=
MQ_AUTH=0
# Users when started with --auth: MQ_USER may do everything, MQ_LUSER may
# publish under acl/pub/# and subscribe under acl/sub/# only.
MQ_USER=tester MQ_PW=
MQ_LUSER=limited MQ_LPW=

mq_sluice() { [ "$MQ_BROKER" == sluice ]; }
# What the specification requires and mosquitto 2.0.11 does not do (SUBACK
# refusals for an ACL, flag checks on every packet) is checked on Sluice only.
MQ_STRICT=
[ "$MQ_BROKER" == sluice ] && MQ_STRICT=--strict

# mq_py COMMAND [args]: mqtt_lib.py against the broker under test, as MQ_USER
# when --auth is on; its output is logged, its status returned.
mq_py() {
	local cmd=$1
	shift
	local cred=()
	[ "$MQ_AUTH" == 1 ] && cred=(--user "$MQ_USER" --pw "$MQ_PW")
	timeout 180 "$MQ_PYTHON" "$MQ_LIB" "$cmd" --host "$MQ_HOST" --port "$MQ_PORT" "${cred[@]}" "$@"
}
# mq_case WHAT COMMAND [args]: a whole mqtt_lib.py case; its lines in the
# log (prefixed), one failure here per failed check there.
mq_case() {
	local what=$1 out rc n
	shift
	out=$(mq_py "$@" 2>&1)
	rc=$?
	echo "$out" | sed "s/^/[$T_NAME] $what: /"
	n=$(echo "$out" | grep -c '^FAIL:')
	if [ "$rc" -ne 0 ]; then
		T_FAILS=$((T_FAILS + (n > 0 ? n : 1)))
		echo "[$T_NAME] FAIL: $what ($n check(s), status $rc)" >&2
	fi
	return "$rc"
}

# Options for Debian's mosquitto_pub / mosquitto_sub.
mq_cli_opts() {
	echo "-h $MQ_HOST -p $MQ_PORT"
	[ "$MQ_AUTH" == 1 ] && echo "-u $MQ_USER -P $MQ_PW"
}

mq_free_port() {
	"$MQ_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
mq_listening() { "$MQ_PYTHON" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }
mq_alive() { [ -n "$MQ_PID" ] && kill -0 "$MQ_PID" 2>/dev/null; }

# mq_start [--auth]: the broker under test, listening on MQ_HOST:MQ_PORT.
mq_start() {
	[ "${1:-}" == --auth ] && MQ_AUTH=1
	[ -x "$MQ_PYTHON" ] && "$MQ_PYTHON" -c 'import paho.mqtt' 2>/dev/null ||
		{ echo "[$T_NAME] skip: no python3-paho-mqtt for $MQ_PYTHON"; exit 77; }
	command -v mosquitto_sub >/dev/null ||
		{ echo "[$T_NAME] skip: no mosquitto-clients"; exit 77; }
	case "$MQ_BROKER" in
	mosquitto) mq_start_mosquitto ;;
	sluice) mq_start_sluice ;;
	*) echo "[$T_NAME] MQTT_BROKER is sluice or mosquitto, not '$MQ_BROKER'" >&2; exit 2 ;;
	esac
	t_log "broker under test: $MQ_BROKER on $MQ_HOST:$MQ_PORT"
}

mq_start_mosquitto() {
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] ||
		{ echo "[$T_NAME] skip: no mosquitto"; exit 77; }
	trap mq_cleanup EXIT
	trap 'exit 1' INT TERM
	MQ_PORT=$(mq_free_port)
	local conf=$T_DIR/mosquitto.conf
	{
		echo "user root"
		echo "listener $MQ_PORT $MQ_HOST"
		echo "persistence false"
		echo "max_queued_messages 100000"
		echo "max_packet_size 1048576"
		echo "log_dest file $T_DIR/mosquitto.log"
		echo "log_type all"
		if [ "$MQ_AUTH" == 1 ]; then
			echo "allow_anonymous false"
			echo "password_file $T_DIR/passwd"
			echo "acl_file $T_DIR/acl"
		else
			echo "allow_anonymous true"
		fi
	} >"$conf"
	if [ "$MQ_AUTH" == 1 ]; then
		MQ_PW=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
		MQ_LPW=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
		: >"$T_DIR/passwd"
		mosquitto_passwd -b "$T_DIR/passwd" "$MQ_USER" "$MQ_PW" || t_fail "mosquitto_passwd"
		mosquitto_passwd -b "$T_DIR/passwd" "$MQ_LUSER" "$MQ_LPW" || t_fail "mosquitto_passwd"
		printf 'user %s\ntopic readwrite #\n\nuser %s\ntopic write acl/pub/#\ntopic read acl/sub/#\n' \
			"$MQ_USER" "$MQ_LUSER" >"$T_DIR/acl"
		chmod 644 "$T_DIR/passwd" "$T_DIR/acl"
	fi
	/usr/sbin/mosquitto -c "$conf" >"$T_DIR/mosquitto.out" 2>&1 &
	MQ_PID=$!
	t_wait 10 mq_listening "$MQ_PORT" || { t_fail "mosquitto did not start"; cat "$T_DIR/mosquitto.out"; exit 1; }
}

mq_cleanup() {
	local p
	for p in "${T_BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ "$MQ_BROKER" == mosquitto ]; then
		[ -n "$MQ_PID" ] && kill -TERM "$MQ_PID" 2>/dev/null && wait "$MQ_PID" 2>/dev/null
		if [ "$T_FAILS" -eq 0 ]; then rm -rf "$T_DIR"; else
			echo "[$T_NAME] logs kept in $T_DIR" >&2
		fi
		return
	fi
	[ -n "$MQ_PID" ] && kill -KILL "$MQ_PID" 2>/dev/null
	t_cleanup
	rm -f "/run/sluice/$T_DP/shm.sock" "/run/sluice/$T_DP"/mqtt-*.ctrs
	rmdir "/run/sluice/$T_DP" 2>/dev/null
}

# --- sluice-mqtt -------------------------------------------------------------------
MQ_GW=
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }

mq_start_sluice() {
	MQ_GW=$SL_BUILD/gateway/sluice-mqtt
	[ -x "$MQ_GW" ] || { echo "[$T_NAME] skip: sluice-mqtt not built"; exit 77; }
	t_start --set "journal_dir=$T_DIR/journal" --set "durability_rules=dur.*=async"
	trap mq_cleanup EXIT
	t_control_up "$T_DIR/control"
	if [ "$MQ_AUTH" == 1 ]; then
		ctl user add "$MQ_USER" --credentials "$T_DIR/$MQ_USER.cred" >/dev/null || t_fail "user add"
		ctl user add "$MQ_LUSER" --credentials "$T_DIR/$MQ_LUSER.cred" >/dev/null || t_fail "user add"
		ctl user add gateway --credentials "$T_DIR/gateway.cred" >/dev/null || t_fail "user add"
		# Creating a topic needs admin in Sluice: the all-powerful user has it,
		# the limited one does not (its topics are created for it).
		ctl acl grant "$MQ_USER" '>' pub,sub,admin >/dev/null || t_fail "acl grant"
		ctl acl grant gateway '>' pub,sub,admin >/dev/null || t_fail "acl grant"
		ctl acl grant "$MQ_LUSER" 'acl.pub.>' pub >/dev/null || t_fail "acl grant"
		ctl acl grant "$MQ_LUSER" 'acl.sub.>' sub >/dev/null || t_fail "acl grant"
		for tp in acl.pub.x acl.sub.x; do
			ctl topic create "$tp" >/dev/null || t_fail "topic create $tp"
		done
		ctl policy set auth required >/dev/null || t_fail "policy set auth required"
		MQ_PW=$(sed -n 's/^key *= *//p' "$T_DIR/$MQ_USER.cred")
		MQ_LPW=$(sed -n 's/^key *= *//p' "$T_DIR/$MQ_LUSER.cred")
		# Native clients authenticate as the all-powerful user.
		export SLUICE_CREDENTIALS=$T_DIR/$MQ_USER.cred
	fi
	mq_gw_start
}

# The gateway alone (again, after a kill): on loopback in the root namespace,
# attached to this test's dataplane over shared memory.
mq_gw_start() {
	local args=(--shm "$T_DP" --listen "$MQ_HOST" --state-dir "$T_DIR/mqtt-state" --name e2e
		--verbose)
	[ -n "$MQ_PORT" ] || MQ_PORT=$(mq_free_port)
	mkdir -p "$T_DIR/mqtt-state"
	if [ "$MQ_AUTH" == 1 ]; then
		args+=(--credentials "$T_DIR/gateway.cred")
	else
		args+=(--allow-anonymous)
	fi
	"$MQ_GW" "${args[@]}" --port "$MQ_PORT" >>"$T_DIR/mqtt.log" 2>&1 &
	MQ_PID=$!
	t_wait 10 mq_listening "$MQ_PORT" || { t_fail "sluice-mqtt did not start"; tail "$T_DIR/mqtt.log"; exit 1; }
}

# A native subscriber (sluice-sub) on a Sluice topic: mq_nsub_bg udp|shm OUT args...
mq_nsub_bg() {
	local tr=$1
	shift
	if [ "$tr" == shm ]; then t_ssub_bg "$@"; else t_sub_bg "$@"; fi
}
# A native publisher (60 s at most): mq_npub udp|shm args...
mq_npub() {
	local tr=$1
	shift
	if [ "$tr" == shm ]; then timeout 60 "$SL_BUILD/client/sluice-pub" --shm "$T_DP" "$@"; else
		sl_cl "$T_TAG" timeout 60 "$SL_BUILD/client/sluice-pub" -h "$T_NET.1" "$@"; fi
}

# A gateway counter (sluicectl stats --json, its "gateways" part): mq_ctr NAME
mq_ctr() {
	ctl stats --json 2>/dev/null | "$MQ_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
g = d.get("gateways", {})
for k, v in (g.items() if isinstance(g, dict) else enumerate(g)):
    c = v.get("counters", v)
    if sys.argv[1] in c:
        print(c[sys.argv[1]])
        break' "$1"
}

mq_done() {
	if [ "$MQ_BROKER" == sluice ]; then
		if mq_alive; then
			kill -TERM "$MQ_PID"
			local i
			for ((i = 0; i < 50; i++)); do mq_alive || break; sleep 0.1; done
			mq_alive && t_fail "sluice-mqtt still running 5 s after SIGTERM"
			wait "$MQ_PID" 2>/dev/null
			t_eq "sluice-mqtt exit status after SIGTERM" "$?" 0
		fi
		MQ_PID=
		t_done
	fi
	if [ "$T_FAILS" -gt 0 ]; then
		echo "[$T_NAME] $T_FAILS check(s) failed"
		exit 1
	fi
	echo "[$T_NAME] pass"
	exit 0
}
