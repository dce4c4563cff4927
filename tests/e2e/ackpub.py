#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Publish with acknowledgments and record exactly what was acknowledged.

  ackpub.py HOST PORT TOPIC TAG SECONDS OUTFILE [MAX]

Publishes payloads "TAG-<n>" on TOPIC with the ACK_REQ flag, keeping up to 64
unacknowledged, for at most SECONDS or until the broker stops answering for
one second (it was killed), or after MAX publishes (default unlimited). Every ACK is written to OUTFILE as
"<payload> <topic seq>" and flushed at once, so the file is the truth about
what the broker acknowledged even if this process is killed too.
"""
import os
import socket
import struct
import sys
import time

HELLO, WELCOME, RESOLVE, TOPIC, PUBLISH, ACK, ERROR = 0x01, 0x04, 0x10, 0x11, 0x20, 0x30, 0x7F


def hdr(t, length, session, flags=0):
    return struct.pack("<BBHIII", 1, t, flags, length, session, 0)


def request(s, data, want):
    for _ in range(25):
        s.send(data)
        end = time.time() + 0.2
        while time.time() < end:
            try:
                r = s.recv(2048)
            except socket.timeout:
                break
            if len(r) >= 16 and r[1] == want:
                return r
    sys.exit("ackpub: broker did not answer")


def main():
    host, port, topic, tag, secs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), \
        sys.argv[4], float(sys.argv[5]), sys.argv[6]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(0.2)
    nonce = int.from_bytes(os.urandom(8), "little")
    w = request(s, hdr(HELLO, 64, 0) + struct.pack("<HHIQ", 1, 1, 0, nonce) + bytes(32), WELCOME)
    sess = struct.unpack_from("<I", w, 16)[0]
    res = hdr(RESOLVE, 24 + len(topic), sess) + struct.pack("<IHH", 1, len(topic), 1) + topic
    tid = struct.unpack_from("<I", request(s, res, TOPIC), 20)[0]
    limit = int(sys.argv[7]) if len(sys.argv) > 7 else 1 << 62
    f = open(out, "a", buffering=1)
    s.settimeout(0.01)
    outstanding, n, last_answer = {}, 0, time.time()
    end = time.time() + secs
    while time.time() < end and time.time() - last_answer < 1.0:
        while len(outstanding) < 64 and n < limit:
            n += 1
            payload = f"{tag}-{n}".encode()
            body = struct.pack("<IIQQ", tid, 0, n, 0) + payload
            s.send(hdr(PUBLISH, 16 + len(body), sess, flags=1) + body)
            outstanding[n] = payload
        try:
            r = s.recv(2048)
        except (socket.timeout, ConnectionRefusedError):
            continue
        last_answer = time.time()
        if len(r) >= 40 and r[1] == ACK:
            pseq, seq = struct.unpack_from("<QQ", r, 24)
            p = outstanding.pop(pseq, None)
            if p is not None:
                f.write(f"{p.decode()} {seq}\n")
        elif len(r) >= 32 and r[1] == ERROR:
            outstanding.pop(struct.unpack_from("<Q", r, 24)[0], None)


if __name__ == "__main__":
    main()
