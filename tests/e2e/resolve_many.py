#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Create many topics in the broker by RESOLVE (auto-create), one session.

  resolve_many.py HOST PORT PREFIX COUNT

Resolves PREFIX.0 .. PREFIX.COUNT-1 with the create flag and prints how many
the broker answered with a topic id. Needs auth open.
"""
import struct
import sys

from ackpub import RESOLVE, TOPIC, hdr, request, session


def main():
    host, port, prefix, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    s, sess = session(host, port)
    ids = set()
    for i in range(count):
        topic = f"{prefix}.{i}".encode()
        res = hdr(RESOLVE, 24 + len(topic), sess) + struct.pack("<IHH", i + 1, len(topic), 1) + topic
        ids.add(struct.unpack_from("<I", request(s, res, TOPIC), 20)[0])
    print(len(ids))


if __name__ == "__main__":
    main()
