#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Encrypted sessions on the wire: a capture of the client's veth (tcpdump in
# its namespace) while an authenticated publisher asks for encryption holds
# no byte of its payloads or topic name in clear, only SEAL datagrams with
# the encryption flag after the handshake; forged, bit-flipped and replayed
# datagrams among them are refused and counted; the same publisher without
# encryption shows its payloads (the check can fail). The client is
# tests/e2e/v3.py, written from docs/PROTOCOL.md alone, with ChaCha20-Poly1305
# (no SL_CAP_AESGCM) and with AES-256-GCM (python3-cryptography). Then
# libsluice's own tools, which offer AES-256-GCM where the CPU has AES-NI:
# a message published and delivered over encrypted AES-256-GCM sessions
# both ways is nowhere in the capture.
. "$(dirname "$0")/lib.sh"
command -v tcpdump >/dev/null || { echo "SKIP: tcpdump not installed"; exit 77; }
t_start
ctl_dir=$T_DIR/control
"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$ctl_dir" >>"$T_DIR/control.log" 2>&1 &
T_BG+=("$!")
t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
t_wait 10 ctl dataplane status --json | grep -q '"attached":true' ||
	t_fail "sluice-control did not attach to the dataplane"
ctl topic create secret.orders >/dev/null || t_fail "topic create"
ctl user add alice --credentials "$T_DIR/alice.cred" >/dev/null || t_fail "user add alice"

# tcpdump_start NAME / tcpdump_stop: a capture of the client's veth in
# $T_DIR/NAME.pcap.
tcpdump_start() {
	# ip netns exec execs tcpdump: $! is tcpdump itself, which SIGINT stops.
	ip netns exec "$T_TAG-cl" tcpdump -i "${T_TAG}c0" --immediate-mode -U -s 0 -w "$T_DIR/$1.pcap" \
		udp port 9500 2>"$T_DIR/$1.tcpdump.log" &
	T_CAP=$!
	T_BG+=("$T_CAP")
	t_wait 5 grep -q "listening on" "$T_DIR/$1.tcpdump.log" || t_fail "tcpdump did not start"
}
tcpdump_stop() {
	sleep 1 # the last answers reach the capture
	kill -INT "$T_CAP"
	wait "$T_CAP" 2>/dev/null
}

# capture NAME ARGS...: authpub.py ARGS under tcpdump on the client's veth;
# its JSON in $T_DIR/NAME.json, the capture in $T_DIR/NAME.pcap.
capture() {
	local name=$1
	shift
	tcpdump_start "$name"
	sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/authpub.py" "$T_NET.1" 9500 "$T_DIR/alice.cred" \
		secret.orders "$@" >"$T_DIR/$name.json" || t_fail "authpub.py $*"
	tcpdump_stop
}

# scan PCAP: "<datagrams> <in clear> <sealed> <sealed encrypted> <other>"
# from the UDP payloads of the capture (classic pcap, Ethernet).
scan() {
	python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
off, n, clear, sealed, enc, other = 24, 0, 0, 0, 0, 0
while off + 16 <= len(d):
    incl = struct.unpack_from("<I", d, off + 8)[0]
    pkt = d[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(pkt) < 42 or pkt[12:14] != b"\x08\x00" or pkt[23] != 17:
        continue
    ihl = (pkt[14] & 15) * 4
    p = pkt[14 + ihl + 8:]
    n += 1
    if b"good-" in p or b"flipped" in p or b"forged" in p or b"secret.orders" in p or \
            b"very-secret-" in p:
        clear += 1
    if len(p) >= 40 and p[1] == 0x09:
        sealed += 1
        enc += p[2] & 1
    else:
        other += 1
print(n, clear, sealed, enc, other)
PY
}

jq() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# encrypted_run NAME WHAT ARGS...: authpub.py --encrypt ARGS captured; its
# publishes acknowledged, nothing in clear, every sealed datagram encrypted,
# the bad datagrams refused and counted.
encrypted_run() {
	local name=$1 what=$2 m0 r0 x0 n clear sealed enc other
	shift 2
	m0=$(t_stat drop_bad_mac) r0=$(t_stat drop_mac_replay) x0=$(t_stat drop_mac_missing)
	capture "$name" --encrypt "$@"
	read -r n clear sealed enc other <<<"$(scan "$T_DIR/$name.pcap")"
	t_eq "$what: every valid publish acknowledged" "$(jq "$T_DIR/$name.json" 'len(v["acked"])')" 10
	t_eq "... over an encrypted session" "$(jq "$T_DIR/$name.json" 'v["encrypted"]')" True
	t_ge "... the capture holds the session's datagrams" "$n" 18
	t_eq "... no payload or topic byte in clear" "$clear" 0
	# In clear: HELLO, CHALLENGE and AUTH (resends possible), and the one
	# unsealed publish sent on purpose (its payload is "bare", not matched).
	t_ge "... sealed datagrams, both ways (the client's 14 at least)" "$sealed" 14
	t_eq "... every sealed datagram encrypted" "$enc" "$sealed"
	t_eq "... bit-flipped and forged datagrams rejected" "$(t_stat drop_bad_mac)" $((m0 + 2))
	t_eq "... replayed datagram rejected" "$(t_stat drop_mac_replay)" $((r0 + 1))
	t_eq "... unsealed frame of the session rejected" "$(t_stat drop_mac_missing)" $((x0 + 1))
}

encrypted_run enc "ChaCha20-Poly1305 encrypted"
t_eq "... in ChaCha20-Poly1305 (AES-256-GCM not offered)" "$(jq "$T_DIR/enc.json" 'v["aes"]')" False

# The same without encryption: sealed (authenticated) but readable. The
# scan finds the payloads, so its zero above means something.
capture plain
read -r n clear sealed enc other <<<"$(scan "$T_DIR/plain.pcap")"
t_eq "authenticated, not encrypted: acknowledged" "$(jq "$T_DIR/plain.json" 'len(v["acked"])')" 10
t_ge "... and its payloads readable in the capture" "$clear" 10
t_eq "... in sealed datagrams without the encryption flag" "$enc" 0

# AES-256-GCM, where this CPU has AES-NI (the dataplane's log says which
# suites it seals with): the same checks over an AES-256-GCM session.
if ! grep -q "AES-256-GCM (" "$T_DIR/dp.log"; then
	echo "[$T_NAME] no AES-256-GCM on this machine: its part skipped"
	t_done
fi
a0=$(t_stat auth_aesgcm)
encrypted_run aes "AES-256-GCM encrypted" --aes
t_eq "... in AES-256-GCM" "$(jq "$T_DIR/aes.json" 'v["aes"]')" True
t_eq "... counted by the broker" "$(t_stat auth_aesgcm)" $((a0 + 1))

# libsluice both ways: sluice-sub and sluice-pub, encrypted, each session
# AES-256-GCM; the message arrives and is nowhere in the capture.
a0=$(t_stat auth_aesgcm)
tcpdump_start lib
t_sub_bg "$T_DIR/lib.out" -t secret.orders -C 3 -W 10 -v --encrypt \
	--credentials "$T_DIR/alice.cred"
sub=$T_LAST
t_wait 10 test "$(t_stat auth_aesgcm)" -ge $((a0 + 1)) || t_fail "sluice-sub did not connect"
sleep 0.5 # the SUBSCRIBE answered
for i in 1 2 3; do
	t_pub -t secret.orders -m "very-secret-$i" --encrypt --credentials "$T_DIR/alice.cred" -q ||
		t_fail "sluice-pub $i"
done
t_wait 10 test "$(grep -c very-secret- "$T_DIR/lib.out")" -ge 3
wait "$sub" 2>/dev/null
tcpdump_stop
read -r n clear sealed enc other <<<"$(scan "$T_DIR/lib.pcap")"
t_eq "libsluice: the subscriber got the 3 messages" "$(grep -c very-secret- "$T_DIR/lib.out")" 3
t_eq "... every session AES-256-GCM (1 subscriber, 3 publishers)" "$(t_stat auth_aesgcm)" $((a0 + 4))
t_ge "... the capture holds their datagrams" "$sealed" 12
t_eq "... no message byte in clear" "$clear" 0
t_eq "... every sealed datagram encrypted" "$enc" "$sealed"
t_done
