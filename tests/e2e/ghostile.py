#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A hostile consumer-group member: acknowledges what it was never given.

  ghostile.py HOST PORT TOPIC GROUP MEMBER_ID COUNT SECONDS OTHER

Opens a protocol version 4 session (tests/e2e/v3.py, offering version 4),
joins GROUP of TOPIC as MEMBER_ID with credit COUNT, prints "joined" on
stderr, and takes up to COUNT GDELIVERs without acknowledging any (for
SECONDS at most). Then it sends, each in its own frame: a GACK of a seq no
member was ever given (10**12), a GACK of OTHER (another member's), a GNAK
of the never-given seq, and a GACK of one seq it holds, twice (the second
finds it settled). It prints one JSON line: the seqs it was given and the
details of the NOT_HELD errors it got back.
"""
import json
import socket
import struct
import sys
import time

import v3

v3.VERSION = 4  # offer version 4 in HELLO: groups are version 4 frames


def hdr4(t, length, sid):
    """A version 4 frame header (v3.hdr's default version is 3: the lowest
    version that defines a frame is what it carries, PROTOCOL.md 9)."""
    return v3.hdr(t, length, sid, version=4)

RESOLVE, TOPIC, OK, HEARTBEAT, ERROR = 0x10, 0x11, 0x14, 0x40, 0x7F
GJOIN, GROUP, GCTL, GDELIVER, GACK, GNAK = 0x19, 0x1A, 0x1B, 0x24, 0x33, 0x34
E_NOT_HELD = 32


def gack(sid, gid, seqs, flags=0):  # flags: bit 0 CUMULATIVE
    return hdr4(GACK, 24 + 8 * len(seqs), sid) + struct.pack("<IHH", gid, flags, len(seqs)) + \
        b"".join(struct.pack("<Q", s) for s in seqs)


def main():
    host, port, topic, group = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4].encode()
    member, count, secs = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    other = int(sys.argv[8])
    c = v3.connect(host, port, name=b"ghostile")
    res = v3.hdr(RESOLVE, 24 + len(topic), c.id) + struct.pack("<IHH", 1, len(topic), 1) + topic
    tid = struct.unpack_from("<I", c.request(res, TOPIC), 20)[0]
    join = hdr4(GJOIN, 72, c.id) + struct.pack("<IIQ", tid, count, member) + \
        group.ljust(32, b"\0") + struct.pack("<II", 0, 2)
    gid = struct.unpack_from("<I", c.request(join, GROUP), 16)[0]
    print("joined", file=sys.stderr, flush=True)
    given, not_held, beat = [], [], [0.0]
    end = time.time() + secs

    def pump(until):
        while time.time() < until:
            if time.time() - beat[0] > c.timeout_ms / 4000.0:
                c.send(v3.hdr(HEARTBEAT, 24, c.id) + struct.pack("<Q", 0))
                beat[0] = time.time()
            try:
                got = c.recv()
            except socket.timeout:
                continue
            for t, f in got:
                if t == GDELIVER and struct.unpack_from("<I", f, 40)[0] == gid:
                    given.append(struct.unpack_from("<Q", f, 24)[0])
                elif t == ERROR and struct.unpack_from("<H", f, 20)[0] == E_NOT_HELD:
                    not_held.append(struct.unpack_from("<Q", f, 24)[0])
            if until == end and len(given) >= count:
                return

    pump(end)
    c.send(gack(c.id, gid, [10 ** 12]))
    c.send(gack(c.id, gid, [other]))
    c.send(hdr4(GNAK, 40, c.id) + struct.pack("<IIQII", gid, 0, 10 ** 12, 7, 0))
    if given:
        c.send(gack(c.id, gid, [given[0]]))
        time.sleep(0.05)
        c.send(gack(c.id, gid, [given[0]]))
    pump(time.time() + 1.0)
    print(json.dumps({"group_id": gid, "given": sorted(given), "not_held": not_held}))


if __name__ == "__main__":
    main()
