#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Send crafted malformed Sluice datagrams to a broker, mixed with valid ones.

  craft.py HOST PORT ROUNDS

Opens a real session (HELLO/WELCOME), then sends ROUNDS rounds; each round
has one datagram of every bad class plus one valid PUBLISH on topic
"craft.ok" (resolved with create). Prints a JSON object: for each class the
number of datagrams sent, and "valid" for the good publishes.
"""
import json
import os
import socket
import struct
import sys
import time

VER = 3
HELLO, WELCOME, RESOLVE, TOPIC, PUBLISH, ERROR = 0x01, 0x04, 0x10, 0x11, 0x20, 0x7F


def hdr(ftype, length, session, version=VER, flags=0):
    return struct.pack("<BBHIII", version, ftype, flags, length, session, 0)


def publish(session, topic, payload, seq):
    body = struct.pack("<IIQQ", topic, 0, seq, 0) + payload
    return hdr(PUBLISH, 16 + len(body), session) + body


def request(sock, data, want):
    for _ in range(20):
        sock.send(data)
        end = time.time() + 0.2
        while time.time() < end:
            try:
                r = sock.recv(2048)
            except socket.timeout:
                break
            if len(r) >= 16 and r[1] == want:
                return r
    sys.exit(f"craft.py: no reply of type {want:#x}")


def main():
    host, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(0.2)
    nonce = int.from_bytes(os.urandom(8), "little")
    hello = hdr(HELLO, 64, 0, version=1) + struct.pack("<HHIQ", VER, VER, 0, nonce) + b"craft".ljust(32, b"\0")
    w = request(s, hello, WELCOME)
    sess = struct.unpack_from("<I", w, 16)[0]
    name = b"craft.ok"
    res = hdr(RESOLVE, 24 + len(name), sess) + struct.pack("<IHH", 1, len(name), 1) + name
    t = request(s, res, TOPIC)
    topic = struct.unpack_from("<I", t, 20)[0]

    ok = publish(sess, topic, b"x" * 16, 1)
    bad = {
        "truncated": ok[:10],
        "bad_length": ok[:4] + struct.pack("<I", len(ok) + 8) + ok[8:],
        "length_overflow": ok[:4] + struct.pack("<I", 0xFFFFFFFF) + ok[8:],
        "unknown_type": hdr(0x55, 24, sess) + bytes(8),
        "bad_version": hdr(PUBLISH, len(ok), sess, version=VER + 1) + ok[16:],
        "session_version": hdr(PUBLISH, len(ok), sess, version=1) + ok[16:],
        "oversize": publish(sess, topic, b"o" * 1410, 2),
        "bad_field": hdr(RESOLVE, 24 + 3, sess) + struct.pack("<IHH", 2, 3, 0) + b"a\x01b",
        "no_session": publish(sess ^ 0x5A5A, topic, b"n", 3),
        "unknown_topic": publish(sess, 0xFFFFF0, b"u", 4),
        "short_body": hdr(PUBLISH, 20, sess) + bytes(4),
    }
    sent = {k: 0 for k in bad}
    sent["valid"] = 0
    for i in range(rounds):
        for k, d in bad.items():
            s.send(d)
            sent[k] += 1
        s.send(publish(sess, topic, b"valid-%06d" % i, 100 + i))
        sent["valid"] += 1
        if i % 20 == 19:
            time.sleep(0.002)  # stay within the veth queue; drops would muddle counts
    # Take the broker's answers (ERROR frames) before the socket closes: one
    # arriving after would bounce as ICMP, a packet the counts do not expect.
    quiet = time.time() + 0.3
    while time.time() < quiet:
        try:
            s.recv(2048)
            quiet = time.time() + 0.3
        except (socket.timeout, ConnectionRefusedError):
            pass
    print(json.dumps(sent))


if __name__ == "__main__":
    main()
