#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Subscribe, publish, lose nothing yet ask again: NAK answered from the window and the journal.

  nak.py HOST PORT TOPIC N NAK_FIRST NAK_LAST
  nak.py --replay HOST PORT TOPIC WINDOW

Opens a session, subscribes to TOPIC (created if needed) and publishes N
messages "m<i>" to it itself, with acknowledgments, collecting their
DELIVERs. Then sends NAK NAK_FIRST..NAK_LAST and collects what comes back
for a second. Prints one JSON object: the live sequences, the resent ones
(DELIVER with RETRANS) with whether each carried REPLAY and its payload, and
each ERROR SL_E_GAP_LOST's range. With --replay: subscribes to TOPIC from
its earliest message with an initial credit of WINDOW, counts what the
replay sends in half a second, grants WINDOW more with CREDIT and counts
again. Every frame of every datagram is read.
"""
import json
import os
import socket
import struct
import sys
import time

from ackpub import HELLO, WELCOME, RESOLVE, TOPIC, PUBLISH, ACK, ERROR, frames, hdr

SUBSCRIBE, OK, DELIVER, NAK, CREDIT = 0x12, 0x14, 0x21, 0x31, 0x32
SUB_EARLIEST = 1
DLV_REPLAY, DLV_RETRANS = 1, 2
E_GAP_LOST = 24


class Client:
    def __init__(self, host, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.connect((host, port))
        self.s.settimeout(0.1)
        self.live, self.resent, self.lost, self.acks = [], [], [], set()

    def take(self, f):
        """Note a frame that is not the answer being waited for."""
        t = f[1]
        if t == DELIVER:
            flags, seq = struct.unpack_from("<H", f, 2)[0], struct.unpack_from("<Q", f, 24)[0]
            payload = f[40:].decode()
            if flags & DLV_RETRANS:
                self.resent.append({"seq": seq, "replay": bool(flags & DLV_REPLAY),
                                    "payload": payload})
            else:
                self.live.append(seq)
        elif t == ACK:
            self.acks.add(struct.unpack_from("<Q", f, 24)[0])
        elif t == ERROR and len(f) >= 48 and struct.unpack_from("<H", f, 20)[0] == E_GAP_LOST:
            self.lost.append(list(struct.unpack_from("<QQ", f, 32)))

    def pump(self, secs, until=None):
        end = time.time() + secs
        while time.time() < end:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            found = None
            # The rest of the datagram counts too: a replay's first
            # DELIVERs may share one with the OK.
            for t, f in frames(d):
                if found is None and until and until(t, f):
                    found = f
                else:
                    self.take(f)
            if found is not None:
                return found
        return None

    def request(self, data, want):
        for _ in range(25):
            self.s.send(data)
            f = self.pump(0.2, lambda t, f: t == want)
            if f is not None:
                return f
        sys.exit("nak.py: broker did not answer type %#x" % want)


def session(c, name):
    nonce = int.from_bytes(os.urandom(8), "little")
    w = c.request(hdr(HELLO, 64, 0) + struct.pack("<HHIQ", 3, 3, 0, nonce) +
                  b"nak".ljust(32, b"\0"), WELCOME)
    sess = struct.unpack_from("<I", w, 16)[0]
    t = c.request(hdr(RESOLVE, 24 + len(name), sess) + struct.pack("<IHH", 1, len(name), 1) +
                  name, TOPIC)
    return sess, struct.unpack_from("<I", t, 20)[0]


def replay(host, port, name, window):
    c = Client(host, port)
    sess, tid = session(c, name)
    c.request(hdr(SUBSCRIBE, 40, sess, flags=SUB_EARLIEST) +
              struct.pack("<IIQII", 2, tid, 0, window, 0), OK)
    c.pump(0.5)
    first = sorted(c.live)
    c.s.send(hdr(CREDIT, 32, sess) + struct.pack("<IIQ", tid, 0, 2 * window))
    c.pump(0.5)
    print(json.dumps({"first": first, "after_credit": sorted(c.live)}))


def main():
    if sys.argv[1] == "--replay":
        replay(sys.argv[2], int(sys.argv[3]), sys.argv[4].encode(), int(sys.argv[5]))
        return
    host, port, name, n, first, last = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), \
        int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    c = Client(host, port)
    sess, tid = session(c, name)
    c.request(hdr(SUBSCRIBE, 40, sess) + struct.pack("<IIQII", 2, tid, 0, 0, 0), OK)
    for i in range(1, n + 1):
        body = struct.pack("<IIQQ", tid, 0, i, 0) + b"m%d" % i
        c.s.send(hdr(PUBLISH, 16 + len(body), sess, flags=1) + body)
    end = time.time() + 5
    while time.time() < end and (len(c.acks) < n or len(c.live) < n):
        c.pump(0.1)
    c.s.send(hdr(NAK, 40, sess) + struct.pack("<IIQQ", tid, 0, first, last))
    c.pump(1.0)
    print(json.dumps({"acked": len(c.acks), "live": sorted(c.live), "resent": c.resent,
                      "lost": c.lost}))


if __name__ == "__main__":
    main()
