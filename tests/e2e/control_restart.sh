#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Restarting sluice-control neither denies authorized clients nor opens the
# dataplane: a control with empty state leaves a dataplane's required
# authentication and backoff idle strategy as they are; then sluice-control
# is killed with -9 and restarted 10 times under a steady, authenticated,
# acknowledged publisher that is allowed throughout, and not one publish is
# refused (each resync is staged and published once, at its SYNC_END).
. "$(dirname "$0")/lib.sh"
t_start --set auth=required
ctl_dir=$T_DIR/control
CTL_PID=
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
# jget FIELD...: those fields of the JSON object on stdin (dotted paths), space-separated.
jget() {
	python3 -c '
import json, sys
v = json.load(sys.stdin)
def get(o, path):
    for k in path.split("."):
        o = o[k]
    return o
print(*(get(v, k) for k in sys.argv[1:]))' "$@"
}
# This control process has attached and its resync was applied.
resynced() { ctl --json dataplane status 2>/dev/null | grep -q '"synced":true'; }
ctl_start() {
	"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$ctl_dir" --metrics off \
		>>"$T_DIR/control.log" 2>&1 &
	CTL_PID=$!
	T_BG+=("$CTL_PID")
	t_wait 10 resynced ||
		t_fail "sluice-control did not attach and resync"
}
ctl_kill() {
	kill -KILL "$CTL_PID"
	wait "$CTL_PID" 2>/dev/null
}

# --- a control with empty state changes no setting it was not given ---------
ctl_start
# Let the dataplane write a snapshot after the resync (every 100 ms).
sleep 0.5
t_eq "empty-state control: authentication stays required" \
	"$(ctl --json stats | jget auth_required)" 1
t_eq "empty-state control: idle strategy stays backoff" "$(ctl --json stats | jget idle)" backoff
t_eq "empty-state control: no policy setting is set" "$(ctl --json policy show | jget set)" "[]"
ctl user add alice --credentials "$T_DIR/alice.cred" >/dev/null || t_fail "user add alice"
ctl topic create load.a >/dev/null || t_fail "topic create load.a"
ctl acl grant alice 'load.>' pub >/dev/null || t_fail "acl grant alice"
ctl policy set auth required >/dev/null || t_fail "policy set auth required"
ctl_kill

# Many more of alice's ACL entries, ahead of the one that lets her publish:
# a resync takes many command drains, as with a real ACL.
python3 - "$ctl_dir/state.json" <<'PY' || t_fail "add ACL entries to state.json"
import json, os, sys
s = json.load(open(sys.argv[1]))
s["acls"] = [{"user": "alice", "pattern": "pad.%d" % i, "perms": ["sub"]}
             for i in range(1000)] + s["acls"]
fd = os.open(sys.argv[1] + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(s).encode())
os.close(fd)
os.rename(sys.argv[1] + ".new", sys.argv[1])
PY
ctl_start

# --- 10 kill -9 restarts under a steady acknowledged publisher -------------------
cat >"$T_DIR/steadypub.py" <<'PY'
"""Publish to TOPIC every 2 ms, authenticated (protocol version 3), each asking for an ACK, until
STOPFILE exists (at most 120 s); resend a publish unanswered for 300 ms (up
to 10 times). Prints {"sent","acked","refused":{code:n},"unacked","resends"}."""
import hashlib, hmac, json, os, socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
import authpub as ap

host, port, cred, topic, stopfile = sys.argv[2], int(sys.argv[3]), sys.argv[4], \
    sys.argv[5].encode(), sys.argv[6]
user, key = ap.load(cred)
c = ap.v3.connect(host, port, user=user, key=key)
s, sess = c.s, c.id
res = ap.hdr(ap.RESOLVE, 24 + len(topic), sess) + struct.pack("<IHH", 1, len(topic), 0) + topic
tid = struct.unpack_from("<I", c.request(res, ap.TOPIC), 20)[0]
s.setblocking(False)

pending, acked, refused = {}, set(), {}
sent = resends = 0


def send(pseq):
    body = struct.pack("<IIQQ", tid, 0, pseq, 0) + struct.pack("<Q", pseq)
    c.send(ap.hdr(ap.PUBLISH, 16 + len(body), sess, flags=1) + body)


def receive():
    while True:
        try:
            got = c.recv()
        except BlockingIOError:
            return
        # The frames of a sealed datagram, opened under k_s2c.
        d = b"".join(f + bytes(-len(f) % 8) for _, f in got)
        off = 0
        while off + 16 <= len(d):
            t, length = d[off + 1], struct.unpack_from("<I", d, off + 4)[0]
            if length < 16 or off + length > len(d):
                break
            if t == ap.ACK and length >= 40:
                pseq = struct.unpack_from("<Q", d, off + 24)[0]
                if pending.pop(pseq, None) is not None:
                    acked.add(pseq)
            elif t == ap.ERROR and length >= 32 and \
                    struct.unpack_from("<H", d, off + 22)[0] == ap.PUBLISH:
                code, pseq = struct.unpack_from("<H", d, off + 20)[0], \
                    struct.unpack_from("<Q", d, off + 24)[0]
                if pending.pop(pseq, None) is not None:
                    refused[str(code)] = refused.get(str(code), 0) + 1
            off += (length + 7) & ~7


start = time.time()
print("steadypub: publishing", file=sys.stderr, flush=True)
next_at = start
while not os.path.exists(stopfile) and time.time() - start < 120:
    now = time.time()
    if now >= next_at:
        sent += 1
        pending[sent] = [now, 0]
        send(sent)
        next_at += 0.002
    for pseq, p in list(pending.items()):
        if now - p[0] > 0.3 and p[1] < 10:
            p[0], p[1] = now, p[1] + 1
            resends += 1
            send(pseq)
    receive()
    time.sleep(0.0005)
end = time.time() + 3
while pending and time.time() < end:
    now = time.time()
    for pseq, p in list(pending.items()):
        if now - p[0] > 0.3 and p[1] < 10:
            p[0], p[1] = now, p[1] + 1
            resends += 1
            send(pseq)
    receive()
    time.sleep(0.005)
print(json.dumps({"sent": sent, "acked": len(acked), "refused": refused,
                  "unacked": len(pending), "resends": resends}))
PY
denied0=$(t_stat drop_denied)
read -r pubs0 syncs0 <<<"$(ctl --json stats | jget authz.tables_published authz.syncs_completed)"
sl_cl "$T_TAG" python3 "$T_DIR/steadypub.py" "$SL_ROOT/tests/e2e" "$T_NET.1" 9500 \
	"$T_DIR/alice.cred" load.a "$T_DIR/stop" >"$T_DIR/pub.json" 2>"$T_DIR/pub.err" &
pub_pid=$!
T_BG+=("$pub_pid")
t_wait 10 grep -q publishing "$T_DIR/pub.err" || t_fail "the publisher did not start"
sleep 0.5
for i in 1 2 3 4 5 6 7 8 9 10; do
	ctl_kill
	sleep 0.2
	ctl_start
	sleep 0.3
done
touch "$T_DIR/stop"
wait "$pub_pid" || t_fail "the publisher failed: $(cat "$T_DIR/pub.err")"
t_log "publisher: $(cat "$T_DIR/pub.json")"
t_eq "no publish refused across 10 restarts of sluice-control" \
	"$(jget refused <"$T_DIR/pub.json")" "{}"
t_eq "every publish acknowledged" "$(jget unacked <"$T_DIR/pub.json")" 0
t_ge "the publisher kept publishing throughout" "$(jget acked <"$T_DIR/pub.json")" 1000
t_eq "no denial counted by the dataplane" "$(t_stat drop_denied)" "$denied0"
# One table per resync, not one per command of it (a resync staged again
# after a stalled heartbeat counts as a resync of its own).
read -r pubs syncs <<<"$(ctl --json stats | jget authz.tables_published authz.syncs_completed)"
t_ge "each restart resynced" "$((syncs - syncs0))" 10
t_eq "each resync published its table once" "$((pubs - pubs0))" "$((syncs - syncs0))"
sleep 0.3
t_eq "after the restarts: authentication still required" \
	"$(ctl --json stats | jget auth_required)" 1
t_eq "after the restarts: idle strategy still backoff" "$(ctl --json stats | jget idle)" backoff

# --- only the operator lowers authentication ---------------------------------
ctl policy set auth open >/dev/null || t_fail "policy set auth open"
sleep 0.3
t_eq "an explicit policy set auth open lowers it" "$(ctl --json stats | jget auth_required)" 0
kill -TERM "$CTL_PID"
wait "$CTL_PID"
t_eq "sluice-control stops cleanly" "$?" 0
t_done
