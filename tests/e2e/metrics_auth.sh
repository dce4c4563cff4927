#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sluice-control's /metrics: by default it listens on 127.0.0.1 only; listening
# wider with --metrics-token, a request from another namespace without the
# bearer token (or with a wrong one) is refused 401 and counted, and one with
# it is answered. A token file others may read stops sluice-control.
# No dataplane is needed: /metrics answers (sluice_control_up) without one.
. "$(dirname "$0")/lib.sh"
trap t_cleanup EXIT
trap 'exit 1' INT TERM
command -v curl >/dev/null || { t_log "skip: curl not found"; exit 77; }
sl_ns_up "$T_TAG" "$T_NET" || { t_fail "namespaces"; exit 1; }
ip netns exec "$T_TAG-dp" ip addr add "$T_NET.1/24" dev "${T_TAG}d0"
SRV=$T_TAG-dp
port=9580
CTL_PID=
ctl_start() { # ctl_start LOG [sluice-control args]: in the server namespace
	local log=$1
	shift
	ip netns exec "$SRV" "$SL_BUILD/control/sluice-control" -n "$T_DP" \
		--state-dir "$T_DIR/state" --socket "$T_DIR/control.sock" "$@" >"$log" 2>&1 &
	CTL_PID=$!
	T_BG+=("$CTL_PID")
}
ctl_stop() { kill "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; rm -f "$T_DIR/control.sock"; }
listening() { ip netns exec "$SRV" ss -ltnH "sport = :$port" | awk '{print $4}'; }
is_listening() { [ -n "$(listening)" ]; }
# code NS URL [curl args]: the HTTP status (000: no connection).
code() {
	local ns=$1 url=$2
	shift 2
	ip netns exec "$ns" curl -s -o "$T_DIR/body" -w '%{http_code}' --max-time 3 "$@" "$url"
}

# --- the default: 127.0.0.1 only ---------------------------------------------
ctl_start "$T_DIR/default.log"
t_wait 10 is_listening || t_fail "sluice-control did not listen"
t_eq "default: listens on 127.0.0.1 only" "$(listening | sort -u | tr '\n' ' ')" "127.0.0.1:$port "
t_eq "default: answered on loopback, no token needed" \
	"$(code "$SRV" "http://127.0.0.1:$port/metrics")" 200
t_eq "default: not reachable from another namespace" \
	"$(code "$T_TAG-cl" "http://$T_NET.1:$port/metrics")" 000
ctl_stop

# --- a token file others may read: refused --------------------------------------
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/token"
tok=$(cat "$T_DIR/token")
chmod 644 "$T_DIR/token"
ip netns exec "$SRV" "$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$T_DIR/state" \
	--socket "$T_DIR/control.sock" --metrics "$T_NET.1:$port" --metrics-token "$T_DIR/token" \
	>"$T_DIR/mode.log" 2>&1 &
p=$!
T_BG+=("$p")
t_wait 5 bash -c "! kill -0 $p 2>/dev/null" || t_fail "started with a token file of mode 0644"
wait "$p"
t_eq "token file of mode 0644: exit status" "$?" 1
t_check "... says how to fix it" grep -q "chmod 600" "$T_DIR/mode.log"
rm -f "$T_DIR/control.sock"

# --- listening wider, with a token ------------------------------------------------
chmod 600 "$T_DIR/token"
ctl_start "$T_DIR/token.log" --metrics "$T_NET.1:$port" --metrics-token "$T_DIR/token"
t_wait 10 is_listening || t_fail "sluice-control did not listen on $T_NET.1"
url="http://$T_NET.1:$port/metrics"
t_eq "no token: 401" "$(code "$T_TAG-cl" "$url")" 401
t_check "... names the scheme" grep -q "Authorization: Bearer" "$T_DIR/body"
t_eq "wrong token: 401" "$(code "$T_TAG-cl" "$url" -H "Authorization: Bearer ${tok}x")" 401
t_eq "token of another scheme: 401" "$(code "$T_TAG-cl" "$url" -H "Authorization: Basic $tok")" 401
t_eq "no token on another path: 401, not 404" "$(code "$T_TAG-cl" "http://$T_NET.1:$port/")" 401
t_eq "the token: answered" "$(code "$T_TAG-cl" "$url" -H "Authorization: Bearer $tok")" 200
t_check "... with the metrics" grep -q "^sluice_control_up 1" "$T_DIR/body"
t_check "... and the refusals counted" \
	grep -q "^sluice_control_metrics_unauthorized_total 4$" "$T_DIR/body"
ctl_stop
t_done
