# SPDX-License-Identifier: BSD-3-Clause
# Shared set-up for end-to-end tests (source it): a namespace pair made for
# this test alone, the real sluice-dataplane on af_packet in one of them,
# helpers to run clients in the other and to read counters. Everything is
# removed on exit, pass or fail. Exit codes: 0 pass, 1 fail, 77 skip.

set -uo pipefail
SL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SL_BUILD=${SL_BUILD:-$SL_ROOT/build}
# shellcheck source=../../scripts/netns.sh
. "$SL_ROOT/scripts/netns.sh"

T_NAME=$(basename "$0" .sh)
T_TAG="st$(($$ % 100000))"
T_DIR=$(mktemp -d "/tmp/sluice-$T_NAME.XXXXXX")
T_NET=10.$((60 + $$ % 30)).$(($$ % 200 + 1))
T_DP="sl-$T_TAG"
T_BG=()
T_FAILS=0

t_log() { echo "[$T_NAME] $*"; }
t_fail() {
	echo "[$T_NAME] FAIL: $*" >&2
	T_FAILS=$((T_FAILS + 1))
}
t_check() { # t_check "what" cond...
	local what=$1
	shift
	if "$@"; then t_log "ok: $what"; else t_fail "$what"; fi
}
t_eq() { # t_eq "what" got want
	if [ "$2" == "$3" ]; then t_log "ok: $1 ($2)"; else t_fail "$1: got '$2', want '$3'"; fi
}
t_ge() { # t_ge "what" got min
	if [ "$2" -ge "$3" ] 2>/dev/null; then t_log "ok: $1 ($2 >= $3)"; else
		t_fail "$1: got '$2', want >= $3"; fi
}

t_cleanup() {
	local p
	for p in "${T_BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	sl_dp_stop
	sl_relay_stop
	sl_ns_down "$T_TAG"
	# What a dataplane that died (or was killed) could not remove itself.
	rm -rf "/run/sluice/$T_DP" "/var/run/dpdk/$T_DP"
	if [ "$T_FAILS" -eq 0 ]; then rm -rf "$T_DIR"; else
		echo "[$T_NAME] logs kept in $T_DIR" >&2
		tail -n 20 "$T_DIR"/dp.log >&2 2>/dev/null || true
		# What the clients said: the log is kept on the machine that
		# ran the test, this output may be all there is elsewhere.
		local f
		for f in "$T_DIR"/*.err; do
			[ -s "$f" ] || continue
			echo "[$T_NAME] ${f##*/}:" >&2
			tail -n 5 "$f" >&2
		done
	fi
}

t_require() {
	[ "$(id -u)" -eq 0 ] || { echo "[$T_NAME] skip: needs root"; exit 77; }
	[ -x "$SL_BUILD/dataplane/sluice-dataplane" ] ||
		{ echo "[$T_NAME] skip: dataplane not built"; exit 77; }
	grep -qs ' hugetlbfs ' /proc/mounts ||
		{ echo "[$T_NAME] skip: no hugetlbfs (run scripts/setup.sh)"; exit 77; }
}

# t_start [extra sluice-dataplane args]: topology + dataplane, fast timers,
# backoff idle so the two cores are shared fairly.
t_start() {
	t_require
	trap t_cleanup EXIT
	trap 'exit 1' INT TERM
	sl_ns_up "$T_TAG" "$T_NET" || { t_fail "namespaces"; exit 1; }
	sl_dp_start "$T_TAG" "$T_DIR/dp.log" --name "$T_DP" --idle backoff \
		--set "port0.ip=$T_NET.1" --set heartbeat_ms=200 --set session_timeout_ms=1000 \
		"$@" || { t_fail "dataplane start"; exit 1; }
}

# t_start_relay [sluice-impair args] -- [extra sluice-dataplane args]: as
# t_start, with the impairment relay between the clients and the dataplane
# (client namespace | relay namespace | dataplane namespace). The relay's
# --ab impairs what the clients send, --ba what they receive; it stops by
# itself after --time (default here: 600 s) and at exit.
t_start_relay() {
	local relay=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		relay+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	t_require
	[ -x "$SL_BUILD/tools/sluice-impair" ] || { echo "[$T_NAME] skip: sluice-impair not built"; exit 77; }
	trap t_cleanup EXIT
	trap 'exit 1' INT TERM
	sl_relay_up "$T_TAG" "$T_NET" || { t_fail "namespaces"; exit 1; }
	sl_relay_start "$T_TAG" "$T_DIR/relay.log" "${relay[@]}" ||
		{ t_fail "relay start"; exit 1; }
	sl_dp_start "$T_TAG" "$T_DIR/dp.log" --name "$T_DP" --idle backoff \
		--set "port0.ip=$T_NET.1" --set heartbeat_ms=200 --set session_timeout_ms=1000 \
		"$@" || { t_fail "dataplane start"; exit 1; }
}

# The relay's counts so far, one JSON line: t_relay_counts [FILE]
t_relay_counts() {
	local n
	n=$(grep -c '^{' "$T_DIR/relay.log")
	kill -USR1 "$SL_RELAY_PID" 2>/dev/null || return 1
	t_wait 5 bash -c "[ \$(grep -c '^{' '$T_DIR/relay.log') -gt $n ]" || return 1
	grep '^{' "$T_DIR/relay.log" | tail -n 1
}

# Run a client tool in the client namespace against the broker.
t_pub() { sl_cl "$T_TAG" "$SL_BUILD/client/sluice-pub" -h "$T_NET.1" "$@"; }
t_sub() { sl_cl "$T_TAG" "$SL_BUILD/client/sluice-sub" -h "$T_NET.1" "$@"; }
# Start a subscriber in the background: t_sub_bg OUTFILE args...; sets T_LAST
t_sub_bg() {
	local out=$1
	shift
	# ip netns exec execs the tool: $! is the subscriber itself.
	ip netns exec "$T_TAG-cl" "$SL_BUILD/client/sluice-sub" -h "$T_NET.1" "$@" \
		>"$out" 2>"$out.err" &
	T_LAST=$!
	T_BG+=("$T_LAST")
}

# A shared-memory subscriber of this test's dataplane in the background:
# t_ssub_bg OUTFILE args... (stderr to OUTFILE.err); sets T_LAST
t_ssub_bg() {
	local out=$1
	shift
	"$SL_BUILD/client/sluice-sub" --shm "$T_DP" "$@" >"$out" 2>"$out.err" &
	T_LAST=$!
	T_BG+=("$T_LAST")
}
t_stat() { "$SL_ROOT/scripts/sluice-stats" -n "$T_DP" /sluice/stats --get "$1"; }
# t_stat_ge NAME N: is counter NAME at least N?
t_stat_ge() { [ "$(t_stat "$1")" -ge "$2" ]; }
# t_flip FILE OFFSET: change the byte at OFFSET (xor 0x5a, so it always
# changes: a fixed value would leave a byte that already held it intact).
t_flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 0x5a)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
t_topic() { "$SL_ROOT/scripts/sluice-stats" -n "$T_DP" /sluice/topics "$1" --get "$2"; }

# Wait (bounded) until a command succeeds: t_wait SECONDS cmd...
t_wait() { sl_wait "$@"; }

# t_control_up STATE_DIR: sluice-control for this test's dataplane (stopped at
# the end with the other background processes), waited for until attached.
t_control_up() {
	"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$1" >>"$T_DIR/control.log" 2>&1 &
	T_BG+=("$!")
	t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
	t_wait 10 bash -c "'$SL_BUILD/ctl/sluicectl' -n '$T_DP' dataplane status --json |
		grep -q '\"attached\":true'" || t_fail "sluice-control did not attach to the dataplane"
}

# Number of subscribers the broker has on a topic (0 if unknown).
t_nsubs() { t_topic "$1" subscribers 2>/dev/null || echo 0; }
t_nsubs_is() { [ "$(t_nsubs "$1")" == "$2" ]; }

t_done() {
	if [ -n "$SL_DP_PID" ]; then
		sl_dp_stop
		[ "$SL_DP_RC" == 0 ] || t_fail "dataplane exit status $SL_DP_RC after SIGTERM"
	fi
	if [ "$T_FAILS" -gt 0 ]; then
		echo "[$T_NAME] $T_FAILS check(s) failed"
		exit 1
	fi
	echo "[$T_NAME] pass"
	exit 0
}
