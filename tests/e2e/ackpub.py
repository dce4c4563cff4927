#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Publish with acknowledgments and record exactly what was acknowledged.

  ackpub.py HOST PORT TOPIC TAG SECONDS OUTFILE [MAX]

Publishes payloads "TAG-<n>" on TOPIC with the ACK_REQ flag, keeping up to 64
unacknowledged, for at most SECONDS or until the broker stops answering for
one second (it was killed), or after MAX publishes (default unlimited). Each
acknowledged publish is written to OUTFILE once, as "<payload> <topic seq>",
and flushed at once, so the file is the truth about what the broker
acknowledged even if this process is killed too. Every frame of a datagram is
read (docs/PROTOCOL.md 4: a datagram may carry several), and an ACK or refusal
counts only for a publish still outstanding, of this session and topic: a
repeated or stray one is ignored.
"""
import os
import socket
import struct
import sys
import time

HELLO, WELCOME, RESOLVE, TOPIC, PUBLISH, ACK, ERROR = 0x01, 0x04, 0x10, 0x11, 0x20, 0x30, 0x7F


VERSION = 3        # the protocol version the session speaks
HELLO_VERSION = 1  # header version of every HELLO (PROTOCOL.md 9)


def hdr(t, length, session, flags=0, version=VERSION):
    return struct.pack("<BBHIII", HELLO_VERSION if t == HELLO else version, t, flags, length,
                       session, 0)


def frames(d):
    """(type, frame bytes) for each frame of datagram @d, as the 8-byte aligned framing says."""
    off = 0
    while off + 16 <= len(d):
        length = struct.unpack_from("<I", d, off + 4)[0]
        if length < 16 or off + length > len(d):
            return
        yield d[off + 1], d[off:off + length]
        off += (length + 7) & ~7


def request(s, data, want):
    for _ in range(25):
        s.send(data)
        end = time.time() + 0.2
        while time.time() < end:
            try:
                r = s.recv(65536)
            except socket.timeout:
                break
            # Any frame of the datagram: answers may share one with others.
            for t, f in frames(r):
                if t == want:
                    return f
    sys.exit("ackpub: broker did not answer")


def session(host, port):
    """An unauthenticated session with the broker: (socket, session id)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(0.2)
    nonce = int.from_bytes(os.urandom(8), "little")
    w = request(s, hdr(HELLO, 64, 0) + struct.pack("<HHIQ", VERSION, VERSION, 0, nonce) + bytes(32), WELCOME)
    return s, struct.unpack_from("<I", w, 16)[0]


def main():
    host, port, topic, tag, secs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), \
        sys.argv[4], float(sys.argv[5]), sys.argv[6]
    s, sess = session(host, port)
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
        for t, fr in frames(r):
            if struct.unpack_from("<I", fr, 8)[0] != sess:
                continue
            if t == ACK and len(fr) >= 40:
                topic, _, pseq, seq = struct.unpack_from("<IIQQ", fr, 16)
                if topic == tid and pseq in outstanding:
                    f.write(f"{outstanding.pop(pseq).decode()} {seq}\n")
            elif t == ERROR and len(fr) >= 32 and struct.unpack_from("<H", fr, 22)[0] == PUBLISH:
                outstanding.pop(struct.unpack_from("<Q", fr, 24)[0], None)


if __name__ == "__main__":
    main()
