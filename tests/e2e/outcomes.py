#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Publishers that account for the outcome of every publish (docs/PROTOCOL.md).

  outcomes.py fill  HOST PORT TOPIC OUT --size N --max N --secs S
      Publish with ACK_REQ, up to 64 unanswered, until the broker has refused
      some (--refusals, default 64) or --max publishes or --secs seconds.
  outcomes.py rate  HOST PORT TOPIC OUT --rate R --secs S [--size N]
      Publish with ACK_REQ at a steady rate (open loop) for S seconds.
  outcomes.py probe HOST PORT TOPIC OUT --rate R --secs S
      One publish at a time at a steady rate; OUT gets one line per publish:
      "<wall time> <round trip in microseconds>" (ACK) or "<wall time> lost".

fill and rate wait (--drain seconds, default 3) for the answers still due,
then write to OUT a JSON summary: sent, acked, refused (by error code),
unanswered (their producer sequences), duplicate answers, and for acked
publishes the lowest and highest topic sequence. An answer is counted once per
publish: a second answer for the same publish is reported, never counted.
"""
import argparse
import json
import os
import socket
import struct
import sys
import time

from ackpub import frames, hdr, request

HELLO, WELCOME, RESOLVE, TOPIC, PUBLISH, ACK, ERROR = 0x01, 0x04, 0x10, 0x11, 0x20, 0x30, 0x7F
ACK_REQ = 1


def connect(host, port, topic):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Answers come in bursts when a whole window is refused at once.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect((host, port))
    s.settimeout(0.2)
    nonce = int.from_bytes(os.urandom(8), "little")
    w = request(s, hdr(HELLO, 64, 0) + struct.pack("<HHIQ", 3, 3, 0, nonce) + bytes(32), WELCOME)
    sess = struct.unpack_from("<I", w, 16)[0]
    name = topic.encode()
    res = hdr(RESOLVE, 24 + len(name), sess) + struct.pack("<IHH", 1, len(name), 1) + name
    tid = struct.unpack_from("<I", request(s, res, TOPIC), 20)[0]
    return s, sess, tid


class Tally:
    """Outcome of every publish, by producer sequence."""

    def __init__(self):
        self.sent = 0
        self.open = set()
        self.acked = 0
        self.refused = {}
        self.dups = 0
        self.seq_lo = None
        self.seq_hi = None

    def publish(self, s, sess, tid, payload):
        self.sent += 1
        body = struct.pack("<IIQQ", tid, 0, self.sent, 0) + payload
        s.send(hdr(PUBLISH, 16 + len(body), sess, flags=ACK_REQ) + body)
        self.open.add(self.sent)

    def answer(self, dgram):
        """Account for one datagram; returns the number of answers in it."""
        n = 0
        for t, f in frames(dgram):
            if t == ACK and len(f) >= 40:
                pseq, seq = struct.unpack_from("<QQ", f, 24)
            elif t == ERROR and len(f) >= 32 and struct.unpack_from("<H", f, 22)[0] == PUBLISH:
                pseq = struct.unpack_from("<Q", f, 24)[0]
            else:
                continue
            n += 1
            if pseq not in self.open:
                self.dups += 1
                continue
            self.open.discard(pseq)
            if t == ACK:
                self.acked += 1
                self.seq_lo = seq if self.seq_lo is None else min(self.seq_lo, seq)
                self.seq_hi = seq if self.seq_hi is None else max(self.seq_hi, seq)
            else:
                code = struct.unpack_from("<H", f, 20)[0]
                self.refused[code] = self.refused.get(code, 0) + 1
        return n

    def drain(self, s, secs):
        end = time.time() + secs
        s.settimeout(0.05)
        while self.open and time.time() < end:
            try:
                self.answer(s.recv(65536))
            except (socket.timeout, ConnectionRefusedError):
                pass

    def summary(self):
        return {"sent": self.sent, "acked": self.acked,
                "refused": {str(k): v for k, v in sorted(self.refused.items())},
                "refused_total": sum(self.refused.values()),
                "unanswered": sorted(self.open)[:50], "unanswered_total": len(self.open),
                "duplicate_answers": self.dups, "seq_lo": self.seq_lo, "seq_hi": self.seq_hi}


def fill(a):
    s, sess, tid = connect(a.host, a.port, a.topic)
    t = Tally()
    payload = b"f" * a.size
    s.settimeout(0.01)
    end = time.time() + a.secs
    while time.time() < end and t.sent < a.max and sum(t.refused.values()) < a.refusals:
        while len(t.open) < 64 and t.sent < a.max:
            t.publish(s, sess, tid, payload)
        try:
            t.answer(s.recv(65536))
        except (socket.timeout, ConnectionRefusedError):
            pass
    t.drain(s, a.drain)
    return t


def rate(a):
    s, sess, tid = connect(a.host, a.port, a.topic)
    t = Tally()
    payload = b"r" * a.size
    s.setblocking(False)
    start = time.time()
    end = start + a.secs
    while True:
        now = time.time()
        if now >= end:
            break
        # Open loop: publish what the schedule says is due, whatever came back.
        while t.sent < int((now - start) * a.rate):
            t.publish(s, sess, tid, payload)
        try:
            while True:
                t.answer(s.recv(65536))
        except (BlockingIOError, ConnectionRefusedError):
            pass
        time.sleep(0.0005)
    t.drain(s, a.drain)
    return t


def probe(a):
    s, sess, tid = connect(a.host, a.port, a.topic)
    out = open(a.out, "w", buffering=1)
    n = 0
    period = 1.0 / a.rate
    start = time.time()
    end = start + a.secs
    while time.time() < end:
        n += 1
        body = struct.pack("<IIQQ", tid, 0, n, 0) + b"p" * 16
        s.settimeout(0.5)
        t0 = time.perf_counter()
        s.send(hdr(PUBLISH, 16 + len(body), sess, flags=ACK_REQ) + body)
        got = None
        while got is None:
            try:
                r = s.recv(65536)
            except socket.timeout:
                break
            for t, f in frames(r):
                if t == ACK and len(f) >= 40 and struct.unpack_from("<Q", f, 24)[0] == n:
                    got = time.perf_counter() - t0
        wall = time.time()
        out.write(f"{wall:.6f} {got * 1e6:.1f}\n" if got is not None else f"{wall:.6f} lost\n")
        wait = start + n * period - time.time()
        if wait > 0:
            time.sleep(wait)
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["fill", "rate", "probe"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("topic")
    p.add_argument("out")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--max", type=int, default=1 << 30)
    p.add_argument("--secs", type=float, default=10)
    p.add_argument("--rate", type=float, default=500)
    p.add_argument("--refusals", type=int, default=64)
    p.add_argument("--drain", type=float, default=3)
    a = p.parse_args()
    t = {"fill": fill, "rate": rate, "probe": probe}[a.mode](a)
    if t is not None:
        with open(a.out, "w") as f:
            json.dump(t.summary(), f)
            f.write("\n")


if __name__ == "__main__":
    main()
