#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A flood of malformed datagrams mixed with valid traffic: every valid
# message is still delivered, every bad one is counted by reason, and the
# dataplane neither crashes nor leaks.
. "$(dirname "$0")/lib.sh"
t_start
rounds=300

t_sub_bg "$T_DIR/ok.out" -t craft.ok -C $rounds -W 30
okpid=$T_LAST
t_sub_bg "$T_DIR/side.out" -t side -C 200 -W 30
sidepid=$T_LAST
t_wait 10 t_nsubs_is side 1 || t_fail "subscriber on side not registered"
t_wait 10 t_nsubs_is craft.ok 1 || t_fail "subscriber on craft.ok not registered"
before=$(mktemp "$T_DIR/before.XXXX")
"$SL_ROOT/scripts/sluice-stats" -n "$T_DP" >"$before"

# Valid traffic from the real tool runs alongside the flood.
t_pub -t side -m s -n 200 -r 2000 -a -q &
pubpid=$!
sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/craft.py" "$T_NET.1" 9500 $rounds \
	>"$T_DIR/craft.json" || t_fail "craft.py"
# Traffic the IP layer must refuse: wrong port, IP fragments, not UDP.
# Fragments and ICMP are written as whole Ethernet frames on the veth: the
# kernel would send a large datagram as one GSO packet, and conntrack may
# reassemble fragments sent through an IP raw socket.
sl_cl "$T_TAG" python3 - "$T_NET.1" "$T_NET.2" "${T_TAG}c0" <<'PY' || t_fail "raw sender"
import socket, struct, sys
dst, src, dev = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):
    s.sendto(b"x" * 32, (dst, 9501))                   # wrong_port
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((dev, 0))
def ip(proto, frag, payload, ident):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64,
                    proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    # The dataplane ignores the destination MAC: broadcast reaches it.
    return b"\xff" * 6 + b"\x02" + b"\x00" * 5 + b"\x08\x00" + h + payload
udp = struct.pack("!HHHH", 40000, 9500, 8 + 64, 0) + b"f" * 64
for i in range(30):                                    # ip_fragment: 2 each
    raw.send(ip(17, 0x2000, udp[:40], 100 + i))  # MF, offset 0
    raw.send(ip(17, 5, udp[40:], 100 + i))       # offset 40
for i in range(5):                                     # not_udp: ICMP echo
    raw.send(ip(1, 0, struct.pack("!BBHHH", 8, 0, 0, 1, i), 200 + i))
PY
wait "$pubpid" || t_fail "valid publisher (acked) failed"
wait "$okpid"
t_eq "valid publishes inside the flood all delivered" "$(wc -l <"$T_DIR/ok.out")" $rounds
wait "$sidepid"
t_eq "valid traffic from sluice-pub all delivered" "$(wc -l <"$T_DIR/side.out")" 200

python3 - "$before" "$T_DIR/craft.json" "$SL_ROOT" "$T_DP" <<'PY' || t_fail "drop counters"
import json, subprocess, sys
before = json.load(open(sys.argv[1]))
sent = json.load(open(sys.argv[2]))
after = json.loads(subprocess.check_output(
    [sys.argv[3] + "/scripts/sluice-stats", "-n", sys.argv[4]]))
d = lambda k: after["drop_" + k] - before["drop_" + k]
want = {
    "truncated": sent["truncated"] + sent["short_body"],
    "bad_length": sent["bad_length"] + sent["length_overflow"],
    "unknown_type": sent["unknown_type"],
    "oversize": sent["oversize"],
    "bad_field": sent["bad_field"],
    "no_session": sent["no_session"],
    "unknown_topic": sent["unknown_topic"],
    "wrong_port": 50,
    "not_udp": 5,
}
bad = 0
for k, v in want.items():
    ok = d(k) == v
    print(f"[malformed] {'ok' if ok else 'FAIL'}: drop_{k} {d(k)} (want {v})")
    bad += not ok
# af_packet's fanout asks the kernel to reassemble fragments (DEFRAG flag);
# a reassembled pair is a UDP datagram of 'f' bytes, dropped as bad_version.
# Each pair must show up as either two ip_fragment drops or one bad_version.
extra = d("bad_version") - sent["bad_version"] - sent["session_version"]
frag = d("ip_fragment") + 2 * extra
ok = extra >= 0 and frag == 60
print(f"[malformed] {'ok' if ok else 'FAIL'}: bad_version {d('bad_version')} "
      f"(want {sent['bad_version'] + sent['session_version']} + reassembled), fragments accounted {frag} (want 60)")
bad += not ok
for k in ("no_mbuf", "tx_full", "ring_full"):
    if d(k):
        print(f"[malformed] FAIL: drop_{k} {d(k)}")
        bad += 1
sys.exit(1 if bad else 0)
PY
kill -0 "$SL_DP_PID" || t_fail "dataplane died"
t_done
