#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Revocation that bites: live subscribers receiving a stream stop, and are told
# why, as soon as `sluicectl acl revoke` or `user remove` has answered: a
# capture of the client's link shows the ERROR (SL_E_DENIED, SL_E_AUTH_FAILED)
# and no DELIVER of the topic to that subscriber after it; sluice-sub says
# which subscription ended and why, and a shared-memory subscriber of the
# removed user sees its session end and exits.
. "$(dirname "$0")/lib.sh"
t_start
# shm clients run in the root namespace; a dataplane that died leaves its socket.
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT
ctl_dir=$T_DIR/control
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$ctl_dir" --metrics off \
	>>"$T_DIR/control.log" 2>&1 &
T_BG+=("$!")
t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
t_wait 10 ctl dataplane status --json | grep -q '"attached":true' || t_fail "control not attached"

ctl topic create rv.a >/dev/null && ctl topic create rv.b >/dev/null || t_fail "topic create"
for u in pubber bob carol; do
	ctl user add "$u" --credentials "$T_DIR/$u.cred" >/dev/null || t_fail "user add $u"
done
ctl acl grant pubber 'rv.>' pub >/dev/null || t_fail "acl grant pubber"
ctl acl grant bob 'rv.>' sub >/dev/null || t_fail "acl grant bob"
ctl acl grant carol rv.b sub >/dev/null || t_fail "acl grant carol"
ctl policy set auth required >/dev/null || t_fail "policy set auth required"
id_a=$(t_topic rv.a id) id_b=$(t_topic rv.b id)
r0=$(t_stat subs_revoked) s0=$(t_stat sessions_revoked)

# -U: each packet written at once, so the file is complete when read.
ip netns exec "$T_TAG-cl" tcpdump -i "${T_TAG}c0" -U -n -w "$T_DIR/cap.pcap" udp \
	2>"$T_DIR/tcpdump.log" &
CAP=$!
T_BG+=("$CAP")
t_wait 5 grep -q "listening" "$T_DIR/tcpdump.log" || t_fail "tcpdump did not start"

t_sub_bg "$T_DIR/bob.out" -t rv.a -W 20 --reconnect-max 0 --credentials "$T_DIR/bob.cred"
t_sub_bg "$T_DIR/carol.out" -t rv.b -W 20 --reconnect-max 0 --credentials "$T_DIR/carol.cred"
t_wait 10 t_nsubs_is rv.a 1 || t_fail "bob's subscription"
t_wait 10 t_nsubs_is rv.b 1 || t_fail "carol's subscription"
"$SL_BUILD/client/sluice-sub" --shm "$T_DP" -t rv.b -W 20 --reconnect-max 0 \
	--credentials "$T_DIR/carol.cred" >"$T_DIR/carol_shm.out" 2>"$T_DIR/carol_shm.out.err" &
SHM_SUB=$!
T_BG+=("$SHM_SUB")
t_wait 10 t_nsubs_is rv.b 2 || t_fail "carol's shared-memory subscription"
for t in rv.a rv.b; do
	sl_cl "$T_TAG" "$SL_BUILD/client/sluice-pub" -h "$T_NET.1" -t "$t" -m x -n 4000 -r 500 -q \
		--credentials "$T_DIR/pubber.cred" >/dev/null 2>&1 &
	T_BG+=("$!")
done
lines() { wc -l <"$1"; }
t_wait 10 bash -c "[ \$(wc -l <'$T_DIR/bob.out') -ge 20 ] && [ \$(wc -l <'$T_DIR/carol.out') -ge 20 ]" ||
	t_fail "the streams did not start"

# Revoke bob's right: answered once the broker ended the subscription.
ctl acl revoke bob 'rv.>' sub >/dev/null || t_fail "acl revoke"
t_eq "bob's subscription ended when the revoke answered" "$(t_nsubs rv.a)" 0
c1=$(lines "$T_DIR/carol.out")
t_wait 5 bash -c "[ \$(wc -l <'$T_DIR/carol.out') -gt $c1 ]" ||
	t_fail "carol's stream stopped too"

# Remove carol: her subscription ends with the answer too.
ctl user remove carol >/dev/null || t_fail "user remove"
t_eq "carol's subscription ended when the remove answered" "$(t_nsubs rv.b)" 0
b1=$(lines "$T_DIR/bob.out") c1=$(lines "$T_DIR/carol.out")
sleep 1
t_eq "bob printed nothing after the revoke" "$(lines "$T_DIR/bob.out")" "$b1"
t_eq "carol printed nothing after the remove" "$(lines "$T_DIR/carol.out")" "$c1"
kill -INT "$CAP" 2>/dev/null
wait "$CAP" 2>/dev/null

cap() { python3 "$SL_ROOT/tests/e2e/revoke_cap.py" "$T_DIR/cap.pcap" "$@"; }
got=$(cap "$id_a" 16)
t_log "revoke: $got"
t_check "bob got ERROR SL_E_DENIED for rv.a" grep -q "found=1" <<<"$got"
t_check "... after a stream of DELIVERs" grep -Eq "before=[1-9]" <<<"$got"
t_check "... and no DELIVER of rv.a after it" grep -q "after=0" <<<"$got"
got=$(cap "$id_b" 15)
t_log "remove: $got"
t_check "carol got ERROR SL_E_AUTH_FAILED for rv.b" grep -q "found=1" <<<"$got"
t_check "... after a stream of DELIVERs" grep -Eq "before=[1-9]" <<<"$got"
t_check "... and no DELIVER of rv.b after it" grep -q "after=0" <<<"$got"
# What the clients made of it (sluice-sub's words for SL_EV_SUB_REVOKED and
# SL_EV_SESSION_REVOKED).
t_check "bob was told his subscription ended, and why" grep -q \
	"ended the subscription to rv.a: the user's right to subscribe to it was revoked" \
	"$T_DIR/bob.out.err"
t_check "carol was told hers ended, and why" grep -q \
	"ended the subscription to rv.b: the user was removed or its key retired" \
	"$T_DIR/carol.out.err"
t_wait 5 bash -c "! kill -0 $SHM_SUB 2>/dev/null" ||
	t_fail "carol's shared-memory subscriber still runs after its session ended"
t_check "... whose session ended for good, said so" grep -q \
	"the broker ended the session: the user was removed or its key retired" \
	"$T_DIR/carol_shm.out.err"
t_check "... after its subscription ended" grep -q "ended the subscription to rv.b" \
	"$T_DIR/carol_shm.out.err"
t_ge "subscriptions revoked counted" "$(t_stat subs_revoked)" $((r0 + 3))
t_ge "carol's session ended and counted" "$(t_stat sessions_revoked)" $((s0 + 1))
t_done
