#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The shared-memory transport end to end through the real processes:
# shm to shm with acks, mixed with UDP both ways, a durable topic, auth;
# hostile clients (shm_hostile: garbage records, scribbled consumer words,
# oversize records, writes after detach, kill -9 mid-claim) while a healthy
# pair keeps exchanging messages; many short-lived clients; a burst committed
# right before the hang-up; then, on 16 KiB rings, each slow-subscriber
# policy (drop, block, disconnect) and the bound on held messages. Slots must
# be reclaimed (shm_attached = shm_detached) after every phase.
# shm clients run in the root namespace: the UNIX socket is reachable there.
. "$(dirname "$0")/lib.sh"
t_start --set "journal_dir=$T_DIR/journal" --set "durability_rules=dur.*=sync"
# A dataplane that died leaves its shm socket behind: removed with the rest.
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT

HOSTILE=$SL_BUILD/tests/shm_hostile
[ -x "$HOSTILE" ] || { t_fail "$HOSTILE not built"; t_done; }
spub() { "$SL_BUILD/client/sluice-pub" --shm "$T_DP" "$@"; }
# An shm publisher in the background: spub_bg ERRFILE args...; sets T_LAST
spub_bg() {
	local err=$1
	shift
	spub "$@" 2>"$err" &
	T_LAST=$!
	T_BG+=("$T_LAST")
}
hostile() { timeout 120 "$HOSTILE" "$1" "$T_DP" "${@:2}"; }
# "1..N" when FILE's lines carry topic sequences 1, 2, ... N in order, else
# where the order breaks: inorder FILE
inorder() { awk '$2 != NR { printf "line %d has seq %s", NR, $2; bad = 1; exit }
	END { if (!bad) printf "1..%d", NR }' "$1"; }
lines_ge() { [ "$(wc -l <"$1")" -ge "$2" ]; }
dp_alive() { kill -0 "$SL_DP_PID" 2>/dev/null && t_stat polls >/dev/null; }
slots_free() { [ "$(t_stat shm_attached)" == "$(t_stat shm_detached)" ]; }
# Wait (bounded) for a background process; its exit status, 124 if it is
# still running after SECONDS (then it is killed).
wait_for() { # wait_for SECONDS PID
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$2" 2>/dev/null; then
		kill -KILL "$2" 2>/dev/null
		wait "$2" 2>/dev/null
		return 124
	fi
	wait "$2"
}
# "received N gaps G replay_gaps R (S seqs)" of sluice-sub --stats:
# stat_of FILE.err received|gaps
stat_of() { sed -n "s/^received \([0-9]*\) gaps \([0-9]*\) replay_gaps .*$/\1 \2/p" "$1" |
	awk -v k="$2" '{ print (k == "received") ? $1 : $2 }'; }
# Telemetry entry of the shm client with PID: shm_client PID KEY
shm_client() {
	"$SL_ROOT/scripts/sluice-stats" -n "$T_DP" /sluice/shm | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in d.values():
    if c.get("pid") == int(sys.argv[1]):
        print(c[sys.argv[2]])' "$1" "$2"
}

# --- shm publisher -> shm subscriber: all, in order, acked --------------------------
t_ssub_bg "$T_DIR/s1.out" -t plain -C 200 -W 20 -v
s1=$T_LAST
t_wait 10 t_nsubs_is plain 1 || t_fail "shm subscriber on plain not registered"
a0=$(t_stat shm_attached)
spub -t plain -m hello -n 200 -a 2>"$T_DIR/p1.err"
t_eq "shm publish: exit status" "$?" 0
t_check "shm publish: every message acked" grep -q "200 published to 'plain' (topic [0-9]*), 200 acked" "$T_DIR/p1.err"
wait_for 20 "$s1"
t_eq "shm subscriber: exit status" "$?" 0
t_eq "shm subscriber: 1..200 in order" "$(inorder "$T_DIR/s1.out")" 1..200
t_eq "shm subscriber: payloads intact" "$(grep -c '^plain [0-9]* hello$' "$T_DIR/s1.out")" 200
t_ge "shm clients attached" "$(t_stat shm_attached)" $((a0 + 1))
t_ge "frames read from tx rings" "$(t_stat shm_rx_frames)" 200
t_ge "frames written to rx rings" "$(t_stat shm_tx_frames)" 400
t_check "slots reclaimed after plain" t_wait 5 slots_free

# --- mixed transports: shm -> UDP and UDP -> shm -------------------------------------
t_sub_bg "$T_DIR/u1.out" -t mix.a -C 50 -W 20 -v
u1=$T_LAST
t_ssub_bg "$T_DIR/s2.out" -t mix.b -C 50 -W 20 -v
s2=$T_LAST
t_wait 10 t_nsubs_is mix.a 1 || t_fail "UDP subscriber on mix.a not registered"
t_wait 10 t_nsubs_is mix.b 1 || t_fail "shm subscriber on mix.b not registered"
spub -t mix.a -m from-shm -n 50 -a -q || t_fail "shm publish to mix.a"
t_pub -t mix.b -m from-udp -n 50 -a -q || t_fail "UDP publish to mix.b"
wait_for 20 "$u1"
t_eq "shm -> UDP subscriber: exit status" "$?" 0
t_eq "shm -> UDP subscriber: 1..50, payloads" "$(grep -c ' from-shm$' "$T_DIR/u1.out") $(inorder "$T_DIR/u1.out")" \
	"50 1..50"
wait_for 20 "$s2"
t_eq "UDP -> shm subscriber: exit status" "$?" 0
t_eq "UDP -> shm subscriber: 1..50, payloads" "$(grep -c ' from-udp$' "$T_DIR/s2.out") $(inorder "$T_DIR/s2.out")" \
	"50 1..50"

# --- a durable topic (sync) over shm: acked means journaled; replay from it ----------
spub -t dur.orders -m durable -n 100 -a 2>"$T_DIR/dur.err"
t_eq "durable shm publish: exit status" "$?" 0
t_check "durable shm publish: all 100 acked" grep -q "100 acked" "$T_DIR/dur.err"
t_eq "durable topic has policy sync" "$(t_topic dur.orders durability)" sync
t_ssub_bg "$T_DIR/dur.out" -t dur.orders --from earliest -C 100 -W 20 -v
wait_for 20 "$T_LAST"
t_eq "durable topic: replay over shm, exit status" "$?" 0
t_eq "durable topic: replay over shm, 1..100" "$(inorder "$T_DIR/dur.out")" 1..100
t_check "slots reclaimed after mixed and durable" t_wait 5 slots_free

# --- hostile clients, each beside a healthy pair that must not notice --------------------
# healthy_start TAG: an shm subscriber and a paced shm publisher on ok.TAG.
healthy_start() {
	t_ssub_bg "$T_DIR/ok.$1.out" -t "ok.$1" -C 300 -W 30 -v
	OK_SUB=$T_LAST
	t_wait 10 t_nsubs_is "ok.$1" 1 || t_fail "$1: healthy subscriber not registered"
	spub_bg "$T_DIR/ok.$1.pub.err" -t "ok.$1" -m fine -n 300 -r 300 -a -q --timeout 5000
	OK_PUB=$T_LAST
}
healthy_check() {
	wait_for 30 "$OK_PUB"
	t_eq "$1: healthy publisher unaffected (all acked)" "$?" 0
	wait_for 30 "$OK_SUB"
	t_eq "$1: healthy subscriber unaffected (exit status)" "$?" 0
	t_eq "$1: healthy subscriber got 1..300 in order" "$(inorder "$T_DIR/ok.$1.out")" 1..300
	t_check "$1: dataplane alive and answering" dp_alive
	t_check "$1: slots reclaimed" t_wait 5 slots_free
}

c0=$(t_stat drop_shm_corrupt)
healthy_start garbage
hostile garbage >"$T_DIR/garbage.out" 2>&1
t_eq "garbage: every bad record cut its client off (notice 1)" "$?" 0
t_eq "garbage: 7 cases, each cut" "$(grep -c 'notice 1 (cut: corrupt)$' "$T_DIR/garbage.out")" 7
t_eq "garbage: drop_shm_corrupt counts each" "$(t_stat drop_shm_corrupt)" $((c0 + 7))
healthy_check garbage

c0=$(t_stat drop_shm_corrupt)
healthy_start badcons
hostile badcons hostile.cons >"$T_DIR/badcons.out" 2>&1
t_eq "badcons: scribbled consumer words cut the client off" "$?" 0
t_eq "badcons: ahead, huge, misaligned, behind: each cut" \
	"$(grep -c 'notice 1 (cut: corrupt)$' "$T_DIR/badcons.out")" 4
t_eq "badcons: drop_shm_corrupt counts each" "$(t_stat drop_shm_corrupt)" $((c0 + 4))
healthy_check badcons

c0=$(t_stat drop_shm_corrupt)
healthy_start oversize
hostile oversize hostile.big >"$T_DIR/oversize.out" 2>&1
t_eq "oversize: claims refused, oversize records cut off" "$?" 0
t_eq "oversize: claim over SL_MAX_MESSAGE is -EMSGSIZE" \
	"$(grep -c '^oversize claim SL_MAX_MESSAGE + 1: Message too long$' "$T_DIR/oversize.out")" 1
t_eq "oversize: both oversize records cut" "$(grep -c 'notice 1 (cut: corrupt)$' "$T_DIR/oversize.out")" 2
t_eq "oversize: drop_shm_corrupt counts each" "$(t_stat drop_shm_corrupt)" $((c0 + 2))
healthy_check oversize

d0=$(t_stat shm_detached)
healthy_start afterdetach
t_ssub_bg "$T_DIR/ad.out" -t hostile.ad -W 5 -v
ad=$T_LAST
t_wait 10 t_nsubs_is hostile.ad 1 || t_fail "afterdetach: watcher not registered"
hostile afterdetach hostile.ad 2 >"$T_DIR/afterdetach.out" 2>&1
t_eq "afterdetach: the tool ran" "$?" 0
t_check "afterdetach: it wrote records after hanging up" grep -q "wrote [1-9][0-9]* records" "$T_DIR/afterdetach.out"
wait_for 10 "$ad"
t_eq "afterdetach: nothing written after the hang-up was delivered" "$(wc -l <"$T_DIR/ad.out")" 0
t_eq "afterdetach: nothing published on its topic" "$(t_topic hostile.ad published)" 0
t_ge "afterdetach: the slot was reclaimed (shm_detached)" "$(t_stat shm_detached)" $((d0 + 1))
healthy_check afterdetach

# --- kill -9 mid-claim: only committed messages arrive, the slot comes back ----------
for how in hold raise; do
	d0=$(t_stat shm_detached)
	t_ssub_bg "$T_DIR/ck.$how.out" -t "claim.$how" -W 4 -v
	ck=$T_LAST
	t_wait 10 t_nsubs_is "claim.$how" 1 || t_fail "claimkill $how: subscriber not registered"
	if [ "$how" == hold ]; then
		"$HOSTILE" claimkill "$T_DP" "claim.$how" 40 hold >"$T_DIR/ck.$how.tool" 2>&1 &
		tool=$!
		T_BG+=("$tool")
		t_wait 10 grep -q claimed "$T_DIR/ck.$how.tool" || t_fail "claimkill: never claimed"
		kill -KILL "$tool"
		wait "$tool" 2>/dev/null
		rc=$?
	else
		hostile claimkill "claim.$how" 40 raise >"$T_DIR/ck.$how.tool" 2>&1
		rc=$?
	fi
	t_eq "claimkill $how: publisher died of SIGKILL mid-claim" "$rc/$(grep -c claimed "$T_DIR/ck.$how.tool")" 137/1
	wait_for 10 "$ck"
	t_eq "claimkill $how: exactly the 40 committed, in order" "$(inorder "$T_DIR/ck.$how.out")" 1..40
	t_eq "claimkill $how: nothing torn" "$(grep -vc "^claim.$how [0-9]* committed [0-9]*$" "$T_DIR/ck.$how.out")" 0
	t_check "claimkill $how: slot reclaimed (shm_detached)" t_wait 5 t_stat_ge shm_detached $((d0 + 1))
	t_check "claimkill $how: all slots free" t_wait 5 slots_free
done
spub -t claim.hold -m after -a -q || t_fail "claimkill: the topic takes publishes after the kill"

# --- many short-lived clients: none refused, every slot comes back ---------------------
hostile attachmany 300 >"$T_DIR/attachmany.out" 2>&1
t_eq "attachmany: 300 fresh clients, none cut off before WELCOME" "$?" 0
t_check "slots reclaimed after 300 attaches" t_wait 5 slots_free

# --- the attach socket itself: bad requests, silent connections, every slot taken ----------
sock=/run/sluice/$T_DP/shm.sock
ba0=$(t_stat drop_shm_bad_attach)
ns0=$(t_stat drop_shm_no_slot)
# attach_probe MODE: what the broker answers on the socket (status, or "closed").
attach_probe() {
	python3 - "$sock" "$1" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.settimeout(5)
mode = sys.argv[2]
if mode == "short":
    s.send(b"hello")
elif mode == "magic":
    s.send(struct.pack("<QII32s", 0x1234, 1, 0, b"x"))
elif mode == "version":
    s.send(struct.pack("<QII32s", 0x314d48534543554c, 99, 0, b"x"))
elif mode == "v2":
    s.send(struct.pack("<QII32s", 0x314d48534543554c, 2, 0, b"old"))
# mode "silent": send nothing
try:
    d = s.recv(64)
except socket.timeout:
    print("timeout"); sys.exit(0)
if not d:
    print("closed")
elif mode == "v2":
    print("status %d version %d" % struct.unpack("<QiI", d[:16])[1:])
else:
    print("status %d" % struct.unpack("<Qi", d[:12])[1])
PY
}
t_eq "attach: a short request is refused (-EPROTO)" "$(attach_probe short)" "status -71"
t_eq "attach: a wrong magic is refused (-EPROTO)" "$(attach_probe magic)" "status -71"
# A client of the previous layout (line records came with version 3): told
# which version the dataplane speaks, and the log names both.
t_eq "attach: a version 2 client is refused, told version 3" "$(attach_probe v2)" \
	"status -71 version 3"
t_check "attach: the log names the old client's layout and the dataplane's" \
	t_wait 3 grep -q "speaks shared-memory layout version 2, this dataplane version 3" "$T_DIR/dp.log"
t_eq "attach: another version is refused (-EPROTO)" "$(attach_probe version)" "status -71"
t_eq "attach: a silent connection is closed within its second" "$(attach_probe silent)" closed
t_check "attach: each counted (drop_shm_bad_attach)" t_wait 3 t_stat_ge drop_shm_bad_attach $((ba0 + 5))
# 64 silent connections take every slot (shm_max_clients = 64) for a second.
python3 - "$sock" >"$T_DIR/hold.out" 2>&1 <<'PY' &
import socket, sys, time
socks = []
for _ in range(64):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    socks.append(s)
print("held", flush=True)
time.sleep(2.5)
PY
holder=$!
T_BG+=("$holder")
t_wait 5 grep -q held "$T_DIR/hold.out" || t_fail "attach: could not open 64 connections"
sleep 0.3
spub -t attach.full -m x -q 2>"$T_DIR/full.err"
t_eq "attach: with every slot taken, sluice-pub fails" "$?" 1
t_check "attach: and says the dataplane is at shm_max_clients" \
	grep -q "serves its maximum of shared-memory clients" "$T_DIR/full.err"
t_ge "attach: refusal counted (drop_shm_no_slot)" "$(t_stat drop_shm_no_slot)" $((ns0 + 1))
wait "$holder" 2>/dev/null
t_check "attach: slots come back once the silent ones time out" \
	t_wait 5 spub -t attach.full -m y -a -q
t_check "attach: dataplane alive" dp_alive

# --- a burst committed right before the hang-up: all of it is read -----------------------
# The records become visible at once, just before close(); the broker must
# read what was committed before it lets go of the client.
for k in 1 2 3; do
	t_ssub_bg "$T_DIR/burst$k.out" -t "burst.$k" -C 5000 -W 10 -v
	b=$T_LAST
	t_wait 10 t_nsubs_is "burst.$k" 1 || t_fail "burst $k: subscriber not registered"
	hostile burstclose "burst.$k" 5000 >"$T_DIR/burst$k.tool" 2>&1
	t_eq "burst $k: 5000 records committed, then hung up" "$?" 0
	wait_for 10 "$b"
	t_eq "burst $k: all 5000 delivered in order, payloads match" \
		"$(inorder "$T_DIR/burst$k.out") $(awk '$4 + 0 != $2' "$T_DIR/burst$k.out" | wc -l)" "1..5000 0"
done
t_check "slots reclaimed after the bursts" t_wait 5 slots_free

# --- authentication over shm ------------------------------------------------------------
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$T_DIR/control" >>"$T_DIR/control.log" 2>&1 &
CTL_PID=$!
T_BG+=("$CTL_PID")
t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
t_wait 10 sh -c "'$SL_BUILD/ctl/sluicectl' -n '$T_DP' dataplane status --json | grep -q '\"attached\":true'" ||
	t_fail "sluice-control did not attach"
ctl user add alice --credentials "$T_DIR/alice.cred" >/dev/null || t_fail "user add alice"
ctl acl grant alice 'sec.>' pub,sub,admin >/dev/null || t_fail "acl grant alice"
ctl policy set auth required >/dev/null || t_fail "policy set auth required"
spub -t sec.a -m x -q 2>"$T_DIR/noauth.err"
t_eq "auth: shm client without credentials refused" "$?" 1
t_check "auth: says authentication is required" grep -qi "requires authentication" "$T_DIR/noauth.err"
# The same user with the key's last digit changed.
python3 - "$T_DIR/alice.cred" "$T_DIR/wrong.cred" <<'PY'
import os, sys
lines = open(sys.argv[1]).read().splitlines()
out = [l[:-1] + ("0" if l[-1] != "0" else "1") if l.startswith("key") else l for l in lines]
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, ("\n".join(out) + "\n").encode())
PY
spub -t sec.a -m x -q --credentials "$T_DIR/wrong.cred" 2>"$T_DIR/wrong.err"
t_eq "auth: wrong key refused" "$?" 1
t_check "auth: says the credentials were refused" grep -qi "refused the credentials" "$T_DIR/wrong.err"
t_ssub_bg "$T_DIR/sec.out" -t sec.a -C 20 -W 15 -v --credentials "$T_DIR/alice.cred"
sec=$T_LAST
t_wait 10 t_nsubs_is sec.a 1 || t_fail "auth: alice's shm subscription not registered"
spub -t sec.a -m secret -n 20 -a -q --credentials "$T_DIR/alice.cred" || t_fail "auth: alice publishes over shm"
wait_for 15 "$sec"
t_eq "auth: alice's shm subscriber got 1..20" "$(inorder "$T_DIR/sec.out")" 1..20
spub -t other.a -m x -a -q --credentials "$T_DIR/alice.cred" 2>"$T_DIR/acl.err"
t_eq "auth: the ACL holds over shm too" "$?" 1
t_check "auth: the refusal names the ACL" grep -qi "not allowed" "$T_DIR/acl.err"
kill -TERM "$CTL_PID"
wait "$CTL_PID"
t_eq "sluice-control stops cleanly" "$?" 0
t_check "slots reclaimed after auth" t_wait 5 slots_free

# === 16 KiB rings: slow subscribers and the back-pressure policies =========================
sl_dp_stop
t_eq "dataplane (phase 1) stops cleanly" "$SL_DP_RC" 0
# A stopped subscriber sends no heartbeats: sessions last 10 s in this phase.
sl_dp_start "$T_TAG" "$T_DIR/dp2.log" --name "$T_DP" --idle backoff \
	--set "port0.ip=$T_NET.1" --set heartbeat_ms=200 --set session_timeout_ms=10000 \
	--set shm_ring_kb=16 --set max_topics=8192 \
	--set "backpressure_rules=bpd*=drop bpb*=block bpc*=disconnect bpo*=block" ||
	{ t_fail "dataplane restart with 16 KiB rings"; t_done; }
PAY=$(printf 'p%.0s' $(seq 1 100))

# --- drop: the slow subscriber misses messages, sees the gap; nobody waits -----------------
t_ssub_bg "$T_DIR/drop.out" -t bpd.t -W 30 -v --stats
slow=$T_LAST
t_wait 10 t_nsubs_is bpd.t 1 || t_fail "drop: subscriber not registered"
f0=$(t_stat drop_shm_ring_full) hb0=$(t_stat drop_shm_held_back) bh0=$(t_stat bp_held)
kill -STOP "$slow"
spub -t bpd.t -m "$PAY" -n 2000 -a --timeout 5000 2>"$T_DIR/drop.pub.err"
t_eq "drop: publisher finished, all acked" "$?" 0
t_eq "drop: publisher never held back" "$(t_stat drop_shm_held_back)/$(t_stat bp_held)" "$hb0/$bh0"
full=$(( $(t_stat drop_shm_ring_full) - f0 ))
t_ge "drop: drop_shm_ring_full counted" "$full" 1
t_eq "drop: the broker's per-client dropped count agrees" "$(shm_client "$slow" dropped)" "$full"
kill -CONT "$slow"
spub -t bpd.t -m last -a -q || t_fail "drop: publish after the stall"
t_wait 10 grep -q "^bpd.t 2001 last$" "$T_DIR/drop.out" || t_fail "drop: the message after the stall never arrived"
kill -TERM "$slow"
wait_for 10 "$slow"
t_eq "drop: subscriber exits cleanly" "$?" 0
got=$(stat_of "$T_DIR/drop.out.err" received) gaps=$(stat_of "$T_DIR/drop.out.err" gaps)
t_ge "drop: the subscriber saw a gap" "$gaps" 1
t_eq "drop: received + gaps = every message" "$((got + gaps))" 2001
t_eq "drop: what was dropped is what the gaps show" "$gaps" "$full"
t_check "drop: received in increasing order" sh -c "awk '\$2 <= p { exit 1 } { p = \$2 }' '$T_DIR/drop.out'"

# --- block: publishers are held back, then everything arrives, no gap -----------------------
t_ssub_bg "$T_DIR/block.out" -t bpb.t -C 2000 -W 30 -v --stats
slow=$T_LAST
t_wait 10 t_nsubs_is bpb.t 1 || t_fail "block: subscriber not registered"
hb0=$(t_stat drop_shm_held_back) bh0=$(t_stat bp_held) bp0=$(t_stat drop_backpressure)
kill -STOP "$slow"
spub_bg "$T_DIR/block.pub.err" -t bpb.t -m "$PAY" -n 2000 -a --timeout 20000
pub=$T_LAST
t_check "block: the broker holds the publisher back" \
	t_wait 5 t_stat_ge drop_shm_held_back $((hb0 + 1))
t_ge "block: messages held (bp_held)" "$(t_stat bp_held)" $((bh0 + 1))
sleep 0.5
t_check "block: the shm publisher waits (still running)" kill -0 "$pub"
t_pub -t bpb.t -m udp -a --timeout 1000 2>"$T_DIR/block.udp.err"
t_eq "block: a UDP publisher is refused (exit 3)" "$?" 3
t_check "block: the UDP refusal names back-pressure" grep -qi "behind" "$T_DIR/block.udp.err"
t_ge "block: drop_backpressure counted" "$(t_stat drop_backpressure)" $((bp0 + 1))
kill -CONT "$slow"
wait_for 30 "$pub"
t_eq "block: publisher finishes after the subscriber resumes, all acked" "$?" 0
t_check "block: the publisher met back-pressure (send retries)" \
	grep -q "2000 acked, [1-9][0-9]* send retries" "$T_DIR/block.pub.err"
wait_for 30 "$slow"
t_eq "block: subscriber got all 2000 (exit status)" "$?" 0
t_eq "block: 1..2000 in order, no gap" "$(inorder "$T_DIR/block.out")" 1..2000
t_eq "block: --stats shows no gap" "$(stat_of "$T_DIR/block.out.err" gaps)" 0
t_eq "block: nothing held any more" "$(t_topic bpb.t held)" 0

# --- disconnect: the slow subscriber is cut off; the others go on ------------------------
t_ssub_bg "$T_DIR/cut.ok.out" -t bpc.t -C 1000 -W 30 -v
okc=$T_LAST
t_ssub_bg "$T_DIR/cut.slow.out" -t bpc.t -W 30 -v
slow=$T_LAST
"$HOSTILE" slowsub "$T_DP" bpc.t 4 >"$T_DIR/cut.lib.out" 2>&1 &
lib=$!
T_BG+=("$lib")
t_wait 10 t_nsubs_is bpc.t 3 || t_fail "disconnect: 3 subscribers not registered ($(t_nsubs bpc.t))"
sc0=$(t_stat drop_shm_slow_cut)
kill -STOP "$slow"
spub -t bpc.t -m "$PAY" -n 1000 -r 2000 -a --timeout 5000 -q
t_eq "disconnect: publisher unaffected, all acked" "$?" 0
t_check "disconnect: both slow subscribers cut (drop_shm_slow_cut)" \
	t_wait 5 t_stat_ge drop_shm_slow_cut $((sc0 + 2))
wait_for 30 "$okc"
t_eq "disconnect: the reading subscriber got all 1000 (exit status)" "$?" 0
t_eq "disconnect: the reading subscriber: 1..1000 in order" "$(inorder "$T_DIR/cut.ok.out")" 1..1000
kill -CONT "$slow"
wait_for 10 "$slow"
t_eq "disconnect: the cut sluice-sub exits with an error" "$?" 1
t_check "disconnect: sluice-sub says it was too slow" \
	grep -q "disconnected by the broker: deliveries fell too far behind" "$T_DIR/cut.slow.out.err"
wait_for 15 "$lib"
t_eq "disconnect: libsluice fails -ENOTCONN with last_error SL_E_SLOW_CONSUMER" "$?" 0
t_check "disconnect: libsluice's error says why" grep -q "last_error 19 (disconnected: deliveries fell too far behind)" "$T_DIR/cut.lib.out"
t_wait 5 t_nsubs_is bpc.t 0 || t_fail "disconnect: subscriptions left on bpc.t ($(t_nsubs bpc.t))"

# --- block, many topics: the held list stays within its bound (4096 per worker) -------------
t_ssub_bg "$T_DIR/held.out" -t 'bpo.>' -W 60 -v --stats
slow=$T_LAST
# A pattern subscription takes effect asynchronously: publish until it shows.
for ((i = 0; i < 50; i++)); do
	spub -t bpo.ready -m ready -q || t_fail "held: publish bpo.ready"
	t_wait 1 grep -q " ready$" "$T_DIR/held.out" && break
done
t_check "held: pattern subscriber ready" grep -q " ready$" "$T_DIR/held.out"
bh0=$(t_stat bp_held) ov0=$(t_stat drop_bp_overflow) dl0=$(t_stat delivers)
kill -STOP "$slow"
hostile manytopics bpo.m 4800 >"$T_DIR/held.tool" 2>&1
t_eq "held: 4800 topics created and published to" "$?" 0
t_check "held: the overflow is dropped and counted (drop_bp_overflow)" \
	t_wait 5 t_stat_ge drop_bp_overflow $((ov0 + 1))
held=$(( $(t_stat bp_held) - bh0 )) over=$(( $(t_stat drop_bp_overflow) - ov0 ))
now=$(( $(t_stat delivers) - dl0 ))
t_ge "held: messages were held" "$held" 1
t_check "held: never more than 4096 held ($held)" test "$held" -le 4096
t_eq "held: each message delivered, held or counted as overflow" "$((now + held + over))" 4800
kill -CONT "$slow"
t_wait 30 lines_ge "$T_DIR/held.out" $(( $(grep -c " ready$" "$T_DIR/held.out") + 4800 - over )) ||
	t_fail "held: the subscriber did not catch up ($(wc -l <"$T_DIR/held.out") lines)"
kill -TERM "$slow"
wait_for 10 "$slow"
t_eq "held: subscriber exits cleanly" "$?" 0
t_eq "held: every message not counted as overflow arrived" "$(grep -vc " ready$" "$T_DIR/held.out")" $((4800 - over))
t_eq "held: nothing held any more" "$(t_topic bpo.m.0 held)" 0
t_check "held: dataplane alive" dp_alive

t_check "all slots reclaimed at the end" t_wait 5 slots_free
t_eq "no mbufs lost (drop_no_mbuf)" "$(t_stat drop_no_mbuf)" 0

# === 2 MiB rings: a client punches a hole in its own huge-page region ====================
sl_dp_stop
t_eq "dataplane (phase 2) stops cleanly" "$SL_DP_RC" 0
sl_dp_start "$T_TAG" "$T_DIR/dp3.log" --name "$T_DP" --idle backoff \
	--set "port0.ip=$T_NET.1" --set heartbeat_ms=200 --set session_timeout_ms=1000 \
	--set shm_ring_kb=2048 || { t_fail "dataplane restart with 2 MiB rings"; t_done; }
# With every free huge page taken, the broker's next write into the hole
# faults (SIGBUS); the dataplane must put memory there, cut the client off
# and go on serving the others.
t_ssub_bg "$T_DIR/punch.ok.out" -t punch.ok -C 100 -W 30 -v
ok_sub=$T_LAST
t_wait 10 t_nsubs_is punch.ok 1 || t_fail "punch: healthy subscriber not registered"
pc0=$(t_stat drop_shm_corrupt)
hostile punch >"$T_DIR/punch.tool" 2>&1
prc=$?
if [ $prc -eq 77 ]; then
	t_log "punch: skipped ($(tail -n 1 "$T_DIR/punch.tool"))"
else
	t_eq "punch: the client punching its region is cut off" "$prc" 0
	t_ge "punch: the fault is counted as a broken client (drop_shm_corrupt)" \
		"$(t_stat drop_shm_corrupt)" $((pc0 + 1))
fi
t_check "punch: dataplane alive" dp_alive
spub -t punch.ok -m x -n 100 -r 2000 -a -q || t_fail "punch: healthy publisher after the fault"
wait_for 10 "$ok_sub"
t_eq "punch: the healthy subscriber got all 100" "$(wc -l <"$T_DIR/punch.ok.out")" 100
t_check "punch: slots reclaimed" t_wait 5 slots_free

# --- the dataplane killed under its clients: they notice and say so ------------------------
# It tries to attach again for a second, then gives up.
t_ssub_bg "$T_DIR/orphan.out" -t orphan.t -W 60 --reconnect-max 1000
orphan=$T_LAST
t_wait 10 t_nsubs_is orphan.t 1 || t_fail "orphan: subscriber not registered"
kill -KILL "$SL_DP_PID"
wait "$SL_DP_PID" 2>/dev/null
SL_DP_PID=
wait_for 5 "$orphan"
t_eq "orphan: the subscriber of a killed dataplane exits with an error" "$?" 1
t_check "orphan: and says the broker closed its session" \
	grep -q "broker closed the session" "$T_DIR/orphan.out.err"
rm -rf "/run/sluice/$T_DP" "/var/run/dpdk/$T_DP"
t_done
