#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Large messages over UDP: publish them in PUBLISH_FRAG pieces, receive them whole.

  largemsg.py HOST PORT TOPIC SIZE...

Opens a subscriber session and a publisher session, subscribes the first to
TOPIC (created if missing), and publishes one message of each SIZE bytes
(a pattern of its own per message) as PUBLISH_FRAG pieces of at most
SL_MAX_FRAG_DATA bytes with ACK_REQ, pieces in a shuffled order and one piece
sent twice. A message not acknowledged within 2 s is sent again whole, same
producer_seq (the broker ignores the pieces it has). The subscriber
reassembles the DELIVER_FRAG pieces of each topic seq and checks each
message against what was sent, and that the ACK named its seq. Prints one
line per message and "ok", exit 0; anything else exits 1 with the reason.
"""
import hashlib
import os
import random
import socket
import struct
import sys
import time

import v3  # noqa: E402
from ackpub import frames

HELLO, WELCOME, RESOLVE, TOPIC, SUBSCRIBE, OK = 0x01, 0x04, 0x10, 0x11, 0x12, 0x14
DELIVER, PUBLISH_FRAG, DELIVER_FRAG, ACK, ERROR = 0x21, 0x22, 0x23, 0x30, 0x7F
ACK_REQ = 1
INCOMPLETE = 26
MAX_DATAGRAM = 1472
MAX_FRAG_DATA = 1384  # SL_MAX_FRAG_DATA (version 3: a sealed piece fits a datagram)


class Session:
    """One session (the v3 handshake), in the version WELCOME chose."""

    def __init__(self, host, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for a whole 1 MiB message's pieces (root in the test's namespace).
        try:
            self.s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self.s.connect((host, port))
        self.s.settimeout(0.2)
        c = v3.Session(self.s, name=b"largemsg")
        self.sess, self.version = c.id, struct.unpack_from("<H", c.welcome, 36)[0]

    def hdr(self, t, length, flags=0):
        return struct.pack("<BBHIII", self.version, t, flags, length, self.sess, 0)

    def request(self, data, want):
        for _ in range(25):
            self.s.send(data)
            end = time.time() + 0.2
            while time.time() < end:
                try:
                    r = self.s.recv(65536)
                except socket.timeout:
                    break
                for t, f in frames(r):
                    if t == want:
                        return f
                    if t == ERROR:
                        sys.exit("largemsg: ERROR code %d to frame type 0x%x" %
                                 struct.unpack_from("<HH", f, 20))
        sys.exit("largemsg: broker did not answer (wanted type 0x%x)" % want)

    def resolve(self, topic):
        res = self.hdr(RESOLVE, 24 + len(topic)) + struct.pack("<IHH", 1, len(topic), 1) + topic
        return struct.unpack_from("<I", self.request(res, TOPIC), 20)[0]


def pattern(n, size):
    """@size bytes that differ per message and per position."""
    seed = hashlib.sha256(b"large-%d" % n).digest()
    out = bytearray()
    ctr = 0
    while len(out) < size:
        out += hashlib.sha256(seed + ctr.to_bytes(8, "little")).digest()
        ctr += 1
    return bytes(out[:size])


def pieces(pub, tid, pseq, msg):
    out = []
    for off in range(0, len(msg), MAX_FRAG_DATA):
        data = msg[off:off + MAX_FRAG_DATA]
        out.append(pub.hdr(PUBLISH_FRAG, 48 + len(data), ACK_REQ) +
                      struct.pack("<IIQQII", tid, len(msg), pseq, time.time_ns(), off,
                                  len(data)) + data)
    random.shuffle(out)
    out.append(out[len(out) // 2])  # a duplicate piece
    return out


def receive(sub, tid, want, deadline):
    """{seq: message} for @want whole messages of topic @tid."""
    parts, done = {}, {}
    sub.s.settimeout(0.05)
    while len(done) < want and time.time() < deadline:
        try:
            d = sub.s.recv(65536)
        except socket.timeout:
            continue
        for t, f in frames(d):
            if t == DELIVER_FRAG:
                topic, msg_len, seq, _ts, off, flen = struct.unpack_from("<IIQQII", f, 16)
                if topic != tid or seq in done:
                    continue
                buf, have = parts.setdefault(seq, (bytearray(msg_len), {}))
                have[off] = flen
                buf[off:off + flen] = f[48:48 + flen]
                if sum(have.values()) == msg_len:
                    done[seq] = bytes(buf)
                    del parts[seq]
            elif t == DELIVER:
                topic, _pl, seq = struct.unpack_from("<IIQ", f, 16)
                if topic == tid:
                    done[seq] = bytes(f[40:])
    return done


def main():
    host, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    sizes = [int(x) for x in sys.argv[4:]]
    random.seed(12)
    sub, pub = Session(host, port), Session(host, port)
    tid = sub.resolve(topic)
    if pub.resolve(topic) != tid:
        sys.exit("largemsg: the two sessions resolved different ids")
    sub.request(sub.hdr(SUBSCRIBE, 40) + struct.pack("<IIQII", 2, tid, 0, 0, 0), OK)
    acked = {}
    pub.s.settimeout(0.01)
    for n, size in enumerate(sizes):
        msg, pseq = pattern(n, size), 1000 + n
        for attempt in range(5):
            for i, fr in enumerate(pieces(pub, tid, pseq, msg)):
                pub.s.send(fr)
                if i % 32 == 31:
                    time.sleep(0.001)  # a burst the broker's rx ring takes
            end = time.time() + 2
            while pseq not in acked and time.time() < end:
                try:
                    d = pub.s.recv(65536)
                except socket.timeout:
                    continue
                for t, f in frames(d):
                    if t == ACK:
                        _topic, _r, ps, seq = struct.unpack_from("<IIQQ", f, 16)
                        acked[ps] = seq
                    elif t == ERROR:
                        code, ps = struct.unpack_from("<H", f, 20)[0], \
                            struct.unpack_from("<Q", f, 24)[0]
                        print("ERROR code %d for producer_seq %d" % (code, ps))
                        if code != INCOMPLETE:  # pieces lost: send it again
                            sys.exit("largemsg: refused")
                        end = 0
            if pseq in acked:
                break
            print("message %d: no ACK yet, sent again (attempt %d)" % (n, attempt + 2))
        if pseq not in acked:
            sys.exit("largemsg: message %d (%d bytes) never acknowledged" % (n, size))
    got = receive(sub, tid, len(sizes), time.time() + 10)
    for n, size in enumerate(sizes):
        seq = acked[1000 + n]
        if seq not in got:
            sys.exit("largemsg: message %d (seq %d) not received whole" % (n, seq))
        if got[seq] != pattern(n, size):
            sys.exit("largemsg: message %d (seq %d) differs from what was sent" % (n, seq))
        print("message %d: %d bytes, seq %d, received whole" % (n, size, seq))
    if len(got) != len(sizes):
        sys.exit("largemsg: %d messages received, %d sent" % (len(got), len(sizes)))
    print("ok")


if __name__ == "__main__":
    main()
