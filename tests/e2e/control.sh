#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The control plane end to end: sluicectl -> sluice-control -> dataplane.
# Topics, users and ACLs; the authorization matrix; forged, altered and
# replayed frames; revocation; kill -9 of sluice-control (state survives,
# the dataplane keeps delivering, later changes still arrive); topic create
# and delete under live traffic; malformed control requests; metrics;
# per-topic back-pressure policy (set, default from the dataplane's rules,
# applied live to existing topics, persisted, restored after a dataplane
# restart).
. "$(dirname "$0")/lib.sh"
dp_args=(--set "journal_dir=$T_DIR/journal" --set "backpressure_rules=bp.r.*=disconnect"
	--set "durability_rules=bp.dur=async")
t_start "${dp_args[@]}"
ctl_dir=$T_DIR/control
mport=$((20000 + $$ % 20000))
CTL_PID=
ctl_start() {
	"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$ctl_dir" \
		--metrics "127.0.0.1:$mport" >>"$T_DIR/control.log" 2>&1 &
	CTL_PID=$!
	T_BG+=("$CTL_PID")
	t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
	t_wait 10 ctl dataplane status --json | grep -q '"attached":true' ||
		t_fail "sluice-control did not attach to the dataplane"
}
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
pub() { t_pub "$@" -q --timeout 1000; }
ctl_start

# --- topology, users, ACLs --------------------------------------------------
ctl topic create orders.eu --durability sync || t_fail "topic create"
t_eq "topic created in the dataplane with its policy" "$(t_topic orders.eu durability)" sync

# --- back-pressure policy per topic ----------------------------------------------
# jget FIELD...: those fields of the JSON object on stdin, space-separated.
jget() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(*(v[k] for k in sys.argv[1:]))' "$@"; }
ctl topic create bp.blk --backpressure block >/dev/null || t_fail "topic create --backpressure block"
t_eq "--backpressure block reaches the dataplane" "$(t_topic bp.blk backpressure)" block
t_eq "topic show: desired and applied back-pressure" \
	"$(ctl --json topic show bp.blk | jget backpressure backpressure_applied)" "block block"
ctl topic list >"$T_DIR/list.txt" || t_fail "topic list"
t_check "topic list shows the policy" grep -Eq '^bp\.blk +[0-9]+ +none +block ' "$T_DIR/list.txt"
ctl topic create bp.r.x >/dev/null || t_fail "topic create bp.r.x"
t_eq "no --backpressure: the dataplane's rules decide" "$(t_topic bp.r.x backpressure)" disconnect
t_eq "... shown as default, applied disconnect" \
	"$(ctl --json topic show bp.r.x | jget backpressure backpressure_applied)" "default disconnect"
ctl topic create bp.dur --durability async --backpressure block >/dev/null ||
	t_fail "topic create bp.dur"
ctl topic create bp.bad --backpressure wait >/dev/null 2>"$T_DIR/bp.err"
t_eq "invalid --backpressure: usage error" "$?" 2
t_check "... that names the valid values" grep -q "backpressure is drop, block or disconnect" \
	"$T_DIR/bp.err"
ctl topic show bp.bad >/dev/null 2>&1
t_eq "... and creates nothing" "$?" 4
pub -t bp.live -m x || t_fail "a client creates bp.live"
t_eq "client-created topic: the dataplane's default" "$(t_topic bp.live backpressure)" drop
ctl topic create bp.live --backpressure disconnect >/dev/null || t_fail "adopt bp.live"
t_eq "an existing topic takes control's policy live" "$(t_topic bp.live backpressure)" disconnect
ctl user add alice --credentials "$T_DIR/alice.cred" >/dev/null || t_fail "user add alice"
ctl user add bob --credentials "$T_DIR/bob.cred" >/dev/null || t_fail "user add bob"
t_check "credentials file is private" test "$(stat -c %a "$T_DIR/alice.cred")" = 600
ctl acl grant alice 'orders.>' pub,sub,admin || t_fail "acl grant alice"
ctl acl grant bob orders.eu sub || t_fail "acl grant bob"
ctl policy set auth required || t_fail "policy set auth required"
t_eq "dataplane enforces authentication" \
	"$(python3 -c 'import json,sys; print(json.load(sys.stdin)["auth"])' < <(ctl --json policy show))" required

# --- the authorization matrix ------------------------------------------------
A="--credentials $T_DIR/alice.cred"
B="--credentials $T_DIR/bob.cred"
# The same user with one key digit changed.
python3 - "$T_DIR/bob.cred" "$T_DIR/wrong.cred" <<'PY'
import os, sys
lines = open(sys.argv[1]).read().splitlines()
out = [l[:-1] + ("0" if l[-1] != "0" else "1") if l.startswith("key") else l for l in lines]
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, ("\n".join(out) + "\n").encode())
PY
d0=$(t_stat drop_auth_required) f0=$(t_stat drop_auth_failed) n0=$(t_stat drop_denied)
pub -t orders.eu -m x 2>"$T_DIR/noauth.err"
t_eq "no credentials: refused" "$?" 1
t_check "no credentials: says authentication is required" grep -qi "requires authentication" "$T_DIR/noauth.err"
pub -t orders.eu -m x --credentials "$T_DIR/wrong.cred" 2>"$T_DIR/wrong.err"
t_eq "wrong secret: refused" "$?" 1
t_check "wrong secret: says so" grep -qi "refused the credentials" "$T_DIR/wrong.err"
t_sub_bg "$T_DIR/bob.out" -t orders.eu -C 3 -W 15 $B
bobsub=$T_LAST
t_wait 10 t_nsubs_is orders.eu 1 || t_fail "bob's subscription not registered"
pub -t orders.eu -m hello -n 3 -a $A || t_fail "alice publishes to orders.eu"
wait "$bobsub"
t_eq "allowed: bob receives alice's messages" "$(grep -c hello "$T_DIR/bob.out")" 3
pub -t orders.eu -m x -a $B 2>"$T_DIR/bobpub.err"
t_eq "bob may not publish (sub only): exit 3, refused" "$?" 3
t_check "bob's refusal names the ACL" grep -qi "not allowed" "$T_DIR/bobpub.err"
t_sub -t orders.us -C 1 -W 3 $B >/dev/null 2>"$T_DIR/bobsub.err"
t_check "bob may not subscribe outside his ACL" grep -qi "not allowed" "$T_DIR/bobsub.err"
pub -t orders.eu.fr -m x -a $A || t_fail "wildcard '>' covers orders.eu.fr"
pub -t orders -m x -a $A 2>/dev/null && t_fail "'orders.>' must not cover 'orders'"
pub -t ordersx.eu -m x -a $A 2>/dev/null && t_fail "'orders.>' must not cover 'ordersx.eu'"
t_ge "unauthenticated attempts counted" "$(t_stat drop_auth_required)" $((d0 + 1))
t_ge "wrong proofs counted" "$(t_stat drop_auth_failed)" $((f0 + 1))
t_ge "denials counted" "$(t_stat drop_denied)" $((n0 + 4))

# --- forged, altered and replayed frames among valid ones ----------------------
m0=$(t_stat drop_bad_mac) r0=$(t_stat drop_mac_replay) x0=$(t_stat drop_mac_missing)
sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/authpub.py" "$T_NET.1" 9500 "$T_DIR/alice.cred" \
	orders.eu >"$T_DIR/authpub.json" || t_fail "authpub.py"
t_eq "valid frames acknowledged, all ten" \
	"$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["acked"]))' <"$T_DIR/authpub.json")" 10
t_eq "bit-flipped and forged frames rejected" "$(t_stat drop_bad_mac)" $((m0 + 2))
t_eq "replayed frame rejected" "$(t_stat drop_mac_replay)" $((r0 + 1))
t_eq "frame without MAC rejected" "$(t_stat drop_mac_missing)" $((x0 + 1))

# --- kill -9 of sluice-control --------------------------------------------------
t_sub_bg "$T_DIR/during.out" -t orders.eu -C 5 -W 20 $A
during=$T_LAST
t_wait 10 t_nsubs_is orders.eu 1 || t_fail "subscription before the kill"
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null
pub -t orders.eu -m while-down -n 5 -a $A || t_fail "publishing while control is down"
wait "$during"
t_eq "dataplane delivers while sluice-control is dead" "$(grep -c while-down "$T_DIR/during.out")" 5
t_check "back-pressure persisted" grep -q '"name":"bp.blk","durability":"none","backpressure":"block"' \
	"$ctl_dir/state.json"
# A state file from before topics had a back-pressure policy: no such key.
python3 - "$ctl_dir/state.json" <<'PY' || t_fail "strip backpressure from state.json"
import json, os, sys
s = json.load(open(sys.argv[1]))
for t in s["topics"]:
    if t["name"] == "bp.r.x":
        del t["backpressure"]
fd = os.open(sys.argv[1] + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(s).encode())
os.close(fd)
os.rename(sys.argv[1] + ".new", sys.argv[1])
PY
ctl_start
t_eq "back-pressure survives kill -9" "$(ctl --json topic show bp.blk | jget backpressure)" block
t_eq "a topic without the key loads as default" \
	"$(ctl --json topic show bp.r.x | jget backpressure backpressure_applied)" "default disconnect"
t_check "users survive kill -9" sh -c "'$SL_BUILD/ctl/sluicectl' -n '$T_DP' user list | grep -q alice"
t_check "topics survive kill -9" sh -c "'$SL_BUILD/ctl/sluicectl' -n '$T_DP' topic list | grep -q orders.eu"
ctl acl grant bob orders.eu pub,sub || t_fail "change after restart"
pub -t orders.eu -m now-allowed -a $B || t_fail "a change made after the restart reaches the dataplane"

# --- revocation ---------------------------------------------------------------------
ctl user remove bob || t_fail "user remove bob"
pub -t orders.eu -m x -a $B 2>/dev/null && t_fail "removed user still accepted"
t_ge "revoked session or unknown user refused" "$(( $(t_stat drop_auth_failed) + $(t_stat drop_user_revoked) ))" $((f0 + 2))

# --- topic create/delete under live traffic ---------------------------------------------
sl_cl "$T_TAG" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" -P 2 -S 2 --topics 2 \
	-r 2000 -d 3 --topic-prefix orders.lg --credentials "$T_DIR/alice.cred" --json \
	>"$T_DIR/lg.json" 2>"$T_DIR/lg.err" &
lg=$!
for i in 1 2 3 4 5 6; do
	ctl topic create "orders.churn$i" >/dev/null || t_fail "create churn$i"
	sleep 0.2
	ctl topic delete "orders.churn$i" >/dev/null || t_fail "delete churn$i"
done
wait "$lg"
t_eq "no message lost on unaffected topics during topic churn" "$?" 0
ctl topic show orders.churn1 >/dev/null 2>&1
t_eq "deleted topic is gone (exit 4: not found)" "$?" 4

# --- malformed control requests change nothing ---------------------------------------------
before=$(ctl --json user list)
python3 - "/run/sluice/$T_DP/control.sock" >"$T_DIR/bad.out" <<'PY'
import socket, sys
for req in [b"not json\n", b'{"cmd":"user.add"}\n', b'{"cmd":"nope","args":{}}\n',
            b'{"cmd":"acl.grant","args":{"user":"ghost","pattern":"a","perms":["pub"]}}\n',
            b'{"cmd":"topic.create","args":{"name":"a b"}}\n', b"[1,2,\n",
            b'{"cmd":"topic.create","args":{"name":"bp.bad","backpressure":"wait"}}\n']:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(req)
    s.settimeout(5)
    print(s.recv(65536).decode().strip())
    s.close()
PY
t_eq "every malformed request answered with an error" "$(grep -c '"ok":false' "$T_DIR/bad.out")" 7
t_check "a bad back-pressure value is refused as invalid, saying why" \
	grep -q "\"error\":\"backpressure 'wait' is invalid: use drop, block or disconnect" "$T_DIR/bad.out"
t_eq "and nothing changed" "$(ctl --json user list)" "$before"

# --- publish rate limit, set live -------------------------------------------------------------
ctl policy set rate 50 >/dev/null || t_fail "policy set rate"
pub -t orders.eu -m burst -n 200 -a $A 2>"$T_DIR/rate.err"
t_eq "over the rate limit: refused, exit 3" "$?" 3
t_check "over the rate limit: says so" grep -qi "rate limit" "$T_DIR/rate.err"
t_ge "rate-limited publishes counted" "$(t_stat drop_rate_limited)" 100
ctl policy set rate 0 >/dev/null || t_fail "policy set rate 0"
pub -t orders.eu -m burst -n 200 -a $A || t_fail "no limit again"

# --- metrics and stats ------------------------------------------------------------------------
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$mport/metrics', timeout=5).read().decode())" \
	>"$T_DIR/metrics.txt" || t_fail "metrics endpoint"
t_check "Prometheus text has the publish counter" grep -q '^sluice_publishes_total' "$T_DIR/metrics.txt"
t_check "Prometheus text has per-topic series" grep -q 'topic="orders.eu"' "$T_DIR/metrics.txt"
ctl stats >"$T_DIR/stats.txt" || t_fail "sluicectl stats"
t_check "sluicectl stats shows topics" grep -q orders.eu "$T_DIR/stats.txt"
t_eq "the stats answer carries each topic's back-pressure" "$(ctl --json stats | python3 -c '
import json, sys
print(next(t["backpressure"] for t in json.load(sys.stdin)["topics"] if t["name"] == "bp.blk"))')" block

# --- dataplane restart: a reloaded journal's topic gets control's policy back -------------
sl_dp_stop
t_eq "dataplane stops cleanly" "$SL_DP_RC" 0
sl_dp_start "$T_TAG" "$T_DIR/dp2.log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" \
	--set heartbeat_ms=200 --set session_timeout_ms=1000 "${dp_args[@]}" ||
	{ t_fail "dataplane restart"; exit 1; }
synced() { ctl dataplane status --json | grep -q '"synced":true'; }
bp_is() { [ "$(t_topic "$1" backpressure 2>/dev/null)" = "$2" ]; }
t_wait 10 synced || t_fail "no resync after the dataplane restart"
t_wait 5 bp_is bp.dur block
t_eq "reloaded durable topic: control's back-pressure restored by the resync" \
	"$(t_topic bp.dur backpressure)" block
t_eq "... and its journal kept" "$(t_topic bp.dur durability)" async
t_eq "a topic only control holds is recreated with its policy" "$(t_topic bp.blk backpressure)" block
kill -TERM "$CTL_PID"
wait "$CTL_PID"
t_eq "sluice-control stops cleanly" "$?" 0
t_done
