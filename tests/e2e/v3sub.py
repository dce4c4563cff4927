#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A protocol version 3 subscriber: what a version 3 session gets from a version 4 broker.

  v3sub.py HOST PORT TOPIC COUNT SECONDS

Subscribes to TOPIC (tests/e2e/v3.py, version 3 only) and reads until COUNT
DELIVERs or SECONDS pass. Prints one JSON line: the payloads in seq order,
the seqs, and every frame header version and DELIVER flag word seen, so the
caller can check that no version 4 frame and no header block reached it.
"""
import json
import socket
import struct
import sys
import time

import v3

RESOLVE, TOPIC, SUBSCRIBE, OK, DELIVER, HEARTBEAT = 0x10, 0x11, 0x12, 0x14, 0x21, 0x40


def main():
    host, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    count, secs = int(sys.argv[4]), float(sys.argv[5])
    c = v3.connect(host, port, name=b"v3sub")
    res = v3.hdr(RESOLVE, 24 + len(topic), c.id) + struct.pack("<IHH", 1, len(topic), 1) + topic
    tid = struct.unpack_from("<I", c.request(res, TOPIC), 20)[0]
    sub = v3.hdr(SUBSCRIBE, 40, c.id) + struct.pack("<IIQII", 2, tid, 0, 4096, 0)
    c.request(sub, OK)
    got, versions, flags, kinds = {}, set(), set(), set()
    end = time.time() + secs
    beat = 0.0
    while time.time() < end and len(got) < count:
        # Alive well within the broker's session timeout (WELCOME).
        if time.time() - beat > c.timeout_ms / 4000.0:
            c.send(v3.hdr(HEARTBEAT, 24, c.id) + struct.pack("<Q", 0))
            beat = time.time()
        try:
            frames = c.recv()
        except socket.timeout:
            continue
        for t, f in frames:
            versions.add(f[0])
            kinds.add(t)
            if t != DELIVER:
                continue
            flags.add(struct.unpack_from("<H", f, 2)[0])
            length, = struct.unpack_from("<I", f, 4)
            word, seq = struct.unpack_from("<IQ", f, 20)
            got[seq] = {"payload": f[40:length].decode("latin-1"), "word20": word}
    seqs = sorted(got)
    print(json.dumps({"n": len(got), "seqs": seqs, "payloads": [got[s]["payload"] for s in seqs],
                      "word20": sorted({got[s]["word20"] for s in seqs}),
                      "versions": sorted(versions), "deliver_flags": sorted(flags),
                      "types": sorted(kinds)}))


if __name__ == "__main__":
    main()
