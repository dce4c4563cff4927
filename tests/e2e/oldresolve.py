#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""RESOLVE a name as a client that predates partitioned topics (no PARTS flag).

  oldresolve.py HOST PORT NAME

Prints the answer: "topic ID" for a TOPIC, or "error CODE DETAIL" for an
ERROR. Needs auth open.
"""
import struct
import sys

from ackpub import hdr, request, session

RESOLVE, ERROR = 0x10, 0x7F
CREATE = 1


def main():
    host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    s, sess = session(host, port)
    # CREATE set, as an old client that would make the topic if missing.
    res = hdr(RESOLVE, 24 + len(name), sess) + struct.pack("<IHH", 7, len(name), CREATE) + name
    res += b"\0" * (-len(res) % 8)
    f = request(s, res, ERROR)
    req_id, code, ftype, detail = struct.unpack_from("<IHHQ", f, 16)
    assert req_id == 7 and ftype == RESOLVE, (req_id, ftype)
    print("error", code, detail)


if __name__ == "__main__":
    main()
