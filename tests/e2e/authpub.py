#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Authenticated publisher that also sends forged, altered and replayed frames.

  authpub.py HOST PORT CREDENTIALS TOPIC

Authenticates with the user and key in CREDENTIALS, resolves TOPIC, then
sends, in order: 5 valid publishes ("good-1".."good-5"), a publish with one
payload bit flipped after sealing ("flipped"), a replay of good-1's exact
datagram, a publish without a trailer ("bare"), a publish whose MAC is
random ("forged"), and 5 more valid publishes ("good-6".."good-10"), each
asking for an ACK. Prints a JSON object: how many of each kind were sent and
the producer sequence numbers acknowledged, each once (every frame of a
datagram is read; a repeated ACK, or one of another session or topic, adds
nothing).
"""
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import time

from ackpub import frames, hdr  # the plain header and framing, as unauthenticated

HELLO, CHALLENGE, AUTH, WELCOME, RESOLVE, TOPIC, PUBLISH, ACK, ERROR = \
    0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x20, 0x30, 0x7F
F_AUTH = 1 << 15
MASK = (1 << 64) - 1


def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(key, data):
    k0, k1 = struct.unpack("<QQ", key)
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

    def rnd():
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & MASK; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
        v2 = (v2 + v3) & MASK; v3 = rotl(v3, 16); v3 ^= v2
        v0 = (v0 + v3) & MASK; v3 = rotl(v3, 21); v3 ^= v0
        v2 = (v2 + v1) & MASK; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    n = len(data)
    tail = data[n - n % 8:] + bytes(7 - n % 8) + bytes([n & 0xFF])
    for i in range(0, n - n % 8, 8):
        m = struct.unpack_from("<Q", data, i)[0]
        v3 ^= m; rnd(); rnd(); v0 ^= m
    m = struct.unpack("<Q", tail)[0]
    v3 ^= m; rnd(); rnd(); v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        rnd()
    return v0 ^ v1 ^ v2 ^ v3


def seal(skey, frame, seq):
    """Pad to 8, append the trailer, set the AUTH flag and length, MAC."""
    frame = bytearray(frame + bytes(-len(frame) % 8))
    length = len(frame) + 16
    frame[2:4] = struct.pack("<H", struct.unpack_from("<H", frame, 2)[0] | F_AUTH)
    frame[4:8] = struct.pack("<I", length)
    frame += struct.pack("<Q", seq)
    return bytes(frame) + struct.pack("<Q", siphash24(skey, bytes(frame)))


def load(path):
    kv = {}
    for line in open(path):
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            kv[k.strip()] = v.strip()
    return kv["user"], bytes.fromhex(kv["key"])


def request(s, data, want):
    for _ in range(20):
        s.send(data)
        end = time.time() + 0.2
        while time.time() < end:
            try:
                r = s.recv(2048)
            except socket.timeout:
                break
            if len(r) >= 16 and r[1] == want:
                return r
            if len(r) >= 32 and r[1] == ERROR:
                sys.exit(f"authpub: broker error {struct.unpack_from('<H', r, 20)[0]}")
    sys.exit(f"authpub: no reply {want:#x}")


def main():
    host, port, cred, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
    user, key = load(cred)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(0.2)
    nonce = int.from_bytes(os.urandom(8), "little")
    uname = user.encode().ljust(32, b"\0")
    ch = request(s, hdr(HELLO, 64, 0) + struct.pack("<HHIQ", 2, 2, 1, nonce) + uname, CHALLENGE)
    sess = struct.unpack_from("<I", ch, 8)[0]
    snonce, cnonce = ch[24:40], os.urandom(16)
    proof = hmac.new(key, b"sluice-auth-v1" + struct.pack("<Q", nonce) + snonce + cnonce + uname,
                     hashlib.sha256).digest()
    skey = hmac.new(key, b"sluice-session-v1" + snonce + cnonce, hashlib.sha256).digest()[:16]
    w = request(s, hdr(AUTH, 64, sess) + cnonce + proof, WELCOME)
    assert siphash24(skey, w[:len(w) - 8]) == struct.unpack_from("<Q", w, len(w) - 8)[0], \
        "WELCOME not sealed with the session key"
    seq = 1

    def nxt():
        nonlocal seq
        seq += 1
        return seq
    res = hdr(RESOLVE, 24 + len(topic), sess) + struct.pack("<IHH", 1, len(topic), 0) + topic
    tid = struct.unpack_from("<I", request(s, seal(skey, res, nxt()), TOPIC), 20)[0]

    def pub(payload, pseq):
        body = struct.pack("<IIQQ", tid, len(payload), pseq, 0) + payload
        return hdr(PUBLISH, 16 + len(body), sess, flags=1) + body

    sent = {"good": 0, "flipped": 0, "replayed": 0, "bare": 0, "forged": 0}
    first = None
    for i in range(1, 6):
        d = seal(skey, pub(b"good-%d" % i, i), nxt())
        first = first or d
        s.send(d)
        sent["good"] += 1
    d = bytearray(seal(skey, pub(b"flipped", 100), nxt()))
    d[42] ^= 0x01
    s.send(bytes(d)); sent["flipped"] += 1
    s.send(first); sent["replayed"] += 1
    s.send(pub(b"bare", 101)); sent["bare"] += 1
    d = bytearray(seal(skey, pub(b"forged", 102), nxt()))
    d[-8:] = os.urandom(8)
    s.send(bytes(d)); sent["forged"] += 1
    for i in range(6, 11):
        s.send(seal(skey, pub(b"good-%d" % i, i), nxt()))
        sent["good"] += 1
    acks, end = set(), time.time() + 2
    while time.time() < end and len(acks) < 10:
        try:
            r = s.recv(2048)
        except socket.timeout:
            continue
        for t, fr in frames(r):
            if t == ACK and len(fr) >= 40 and struct.unpack_from("<I", fr, 8)[0] == sess \
                    and struct.unpack_from("<I", fr, 16)[0] == tid:
                acks.add(struct.unpack_from("<Q", fr, 24)[0])
    sent["acked"] = sorted(acks)
    print(json.dumps(sent))


if __name__ == "__main__":
    main()
