#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake broker for sluice-pub's tests: answers publishes wrongly on purpose.

Usage: fake_broker.py MODE PORTFILE

Serves one UDP socket on 127.0.0.1 (a free port, written to PORTFILE) as
docs/PROTOCOL.md says for HELLO (WELCOME), RESOLVE (TOPIC 1) and HEARTBEAT
(echoed), and answers each PUBLISH with producer sequence n as MODE says:
  twice   ACK sent twice: every publish acknowledged, every ACK repeated
  dropdup every 10th publish gets no ACK, but the ACK before it is sent
          again, so the ACK frames add up to the publishes sent
  refuse  odd n acknowledged, even n refused (SL_E_JOURNAL_FULL) twice
  silent  no answer at all
  stray   ACK for n + 1000 and for n - 1 of another topic, then n's own ACK
Stops after 30 s, or at the client's GOODBYE.
"""
import os
import socket
import struct
import sys
import time

HELLO, WELCOME, RESOLVE, TOPIC, PUBLISH, ACK, HEARTBEAT, ERROR, GOODBYE = \
    0x01, 0x04, 0x10, 0x11, 0x20, 0x30, 0x40, 0x7F, 0x05
SESSION, TOPIC_ID, E_JOURNAL_FULL, E_VERSION = 9, 1, 10, 6
VERSION = 2  # the protocol version this fake speaks
INCARNATION = 0x5EED5EED5EED5EED
MAX_MESSAGE = 1 << 20


def hdr(t, length, flags=0, version=VERSION):
    return struct.pack("<BBHIII", version, t, flags, length, SESSION, 0)


def ack(topic, pseq):
    return hdr(ACK, 40) + struct.pack("<IIQQ", topic, 0, pseq, 1000 + pseq)


def refusal(pseq):
    return hdr(ERROR, 32) + struct.pack("<IHHQ", 0, E_JOURNAL_FULL, PUBLISH, pseq)


def answers(mode, pseq):
    if mode == "twice":
        return [ack(TOPIC_ID, pseq)] * 2
    if mode == "dropdup":
        return [ack(TOPIC_ID, pseq - 1)] if pseq % 10 == 0 else [ack(TOPIC_ID, pseq)]
    if mode == "refuse":
        return [ack(TOPIC_ID, pseq)] if pseq % 2 else [refusal(pseq)] * 2
    if mode == "stray":
        return [ack(TOPIC_ID, pseq + 1000), ack(TOPIC_ID + 1, pseq - 1), ack(TOPIC_ID, pseq)]
    return []


def frames(d):
    off = 0
    while off + 16 <= len(d):
        t, length = d[off + 1], struct.unpack_from("<I", d, off + 4)[0]
        if length < 16 or off + length > len(d):
            return
        yield t, d[off:off + length]
        off += (length + 7) & ~7


def main():
    mode, portfile = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    end = time.time() + 30
    while time.time() < end:
        try:
            d, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        for t, f in frames(d):
            if t == HELLO:
                lo, hi = struct.unpack_from("<HH", f, 16)
                nonce = struct.unpack_from("<Q", f, 24)[0]
                if not lo <= VERSION <= hi:
                    # Header version 1: every client reads that (PROTOCOL.md 9).
                    s.sendto(hdr(ERROR, 32, version=1) +
                             struct.pack("<IHHQ", 0, E_VERSION, HELLO, nonce), peer)
                    continue
                s.sendto(hdr(WELCOME, 56) + struct.pack("<IIQIHHQII", SESSION, 1000, nonce, 1400,
                                                        VERSION, 0, INCARNATION,
                                                        MAX_MESSAGE, 0), peer)
            elif t == RESOLVE:
                req = struct.unpack_from("<I", f, 16)[0]
                s.sendto(hdr(TOPIC, 24) + struct.pack("<II", req, TOPIC_ID), peer)
            elif t == HEARTBEAT:
                s.sendto(f, peer)
            elif t == PUBLISH:
                for a in answers(mode, struct.unpack_from("<Q", f, 24)[0]):
                    s.sendto(a, peer)
            elif t == GOODBYE:
                return


if __name__ == "__main__":
    main()
