#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Authenticated publisher that also sends forged, altered and replayed datagrams.

  authpub.py HOST PORT CREDENTIALS TOPIC [--encrypt] [--aes]

Authenticates (protocol version 3, tests/e2e/v3.py: written from
docs/PROTOCOL.md alone) with the user and key in CREDENTIALS, resolves TOPIC,
then sends, in order: 5 valid publishes ("good-1".."good-5"), a publish whose
sealed datagram has one bit flipped ("flipped"), a replay of good-1's exact
datagram, a publish without a seal ("bare"), a publish whose tag is random
("forged"), and 5 more valid publishes ("good-6".."good-10"), each asking for
an ACK. Prints a JSON object: how many of each kind were sent, the producer
sequence numbers acknowledged, each once (every frame of a sealed datagram is
read; a repeated ACK, or one of another session or topic, adds nothing), and
the broker datagrams dropped as not sealed under the session's key. With --aes
it offers AES-256-GCM (SL_CAP_AESGCM) and says whether the session got it.
"""
import json
import os
import socket
import struct
import sys
import time

import v3

RESOLVE, TOPIC, PUBLISH, ACK = 0x10, 0x11, 0x20, 0x30
hdr, frames, HELLO, CHALLENGE, AUTH, WELCOME, ERROR = \
    v3.hdr, v3.frames, v3.HELLO, v3.CHALLENGE, v3.AUTH, v3.WELCOME, v3.ERROR


def load(path):
    kv = {}
    for line in open(path):
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            kv[k.strip()] = v.strip()
    return kv["user"], bytes.fromhex(kv["key"])


def main():
    host, port, cred, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
    user, key = load(cred)
    c = v3.connect(host, port, user=user, key=key, encrypt="--encrypt" in sys.argv,
                   aes="--aes" in sys.argv)
    sess = c.id
    res = hdr(RESOLVE, 24 + len(topic), sess) + struct.pack("<IHH", 1, len(topic), 0) + topic
    tid = struct.unpack_from("<I", c.request(res, TOPIC), 20)[0]

    def pub(payload, pseq):
        body = struct.pack("<IIQQ", tid, 0, pseq, 0) + payload
        return hdr(PUBLISH, 16 + len(body), sess, flags=1) + body

    sent = {"good": 0, "flipped": 0, "replayed": 0, "bare": 0, "forged": 0}
    first = None
    for i in range(1, 6):
        d = c.wrap(pub(b"good-%d" % i, i))
        first = first or d
        c.s.send(d)
        sent["good"] += 1
    d = bytearray(c.wrap(pub(b"flipped", 100)))
    d[v3.SEAL_HDR + 42] ^= 0x01
    c.s.send(bytes(d)); sent["flipped"] += 1
    c.s.send(first); sent["replayed"] += 1
    c.s.send(pub(b"bare", 101)); sent["bare"] += 1
    d = bytearray(c.wrap(pub(b"forged", 102)))
    d[-v3.TAG:] = os.urandom(v3.TAG)
    c.s.send(bytes(d)); sent["forged"] += 1
    for i in range(6, 11):
        c.send(pub(b"good-%d" % i, i))
        sent["good"] += 1
    acks, end = set(), time.time() + 2
    while time.time() < end and len(acks) < 10:
        try:
            got = c.recv()
        except socket.timeout:
            continue
        for t, fr in got:
            if t == ACK and len(fr) >= 40 and struct.unpack_from("<I", fr, 8)[0] == sess \
                    and struct.unpack_from("<I", fr, 16)[0] == tid:
                acks.add(struct.unpack_from("<Q", fr, 24)[0])
    sent["acked"] = sorted(acks)
    sent["forged_dropped"] = c.forged
    sent["encrypted"] = c.enc
    sent["aes"] = c.aes
    print(json.dumps(sent))


if __name__ == "__main__":
    main()
