#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""What a capture of the client's veth shows about one revoked subscription.

Usage: revoke_cap.py PCAP TOPIC_ID CODE

Finds the first ERROR the broker sent with code CODE, frame type SUBSCRIBE
and detail TOPIC_ID, and counts the DELIVERs of that topic sent to the same
client port before and after it. Frames are read at the top level of each
datagram and inside a SEAL (MAC-only seals carry their frames in clear).
Prints one line: "found=0|1 port=P before=N after=M".
"""
import struct
import sys

FT_SEAL, FT_SUBSCRIBE, FT_DELIVER, FT_DELIVER_FRAG, FT_ERROR = 0x09, 0x12, 0x21, 0x23, 0x7F
BROKER_PORT = 9500


def packets(path):
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    magic = struct.unpack_from("<I", data)[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(end + "I", data, off + 8)[0]
        off += 16
        if off + incl > len(data):
            return  # the last record, still being written
        yield data[off:off + incl]
        off += incl


def udp_from_broker(pkt):
    if len(pkt) < 14 + 20 + 8 or struct.unpack_from("!H", pkt, 12)[0] != 0x0800:
        return None
    ihl = (pkt[14] & 0x0F) * 4
    if pkt[14 + 9] != 17:
        return None
    u = 14 + ihl
    sport, dport, ulen = struct.unpack_from("!HHH", pkt, u)
    if sport != BROKER_PORT:
        return None
    return dport, pkt[u + 8:u + ulen]


def frames(buf, lo, hi):
    off = lo
    while off + 16 <= hi:
        ftype = buf[off + 1]
        length = struct.unpack_from("<I", buf, off + 4)[0]
        if length < 16 or off + length > hi:
            return
        if ftype == FT_SEAL and length >= 24 + 16:
            yield from frames(buf, off + 24, off + length - 16)
        else:
            yield ftype, buf[off:off + length]
        off += (length + 7) & ~7


def main():
    path, topic, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    found, port, before, after = 0, 0, 0, 0
    seen = []  # (dport, is_error_match)
    for pkt in packets(path):
        u = udp_from_broker(pkt)
        if u is None:
            continue
        dport, payload = u
        for ftype, f in frames(payload, 0, len(payload)):
            if ftype in (FT_DELIVER, FT_DELIVER_FRAG) and len(f) >= 20:
                if struct.unpack_from("<I", f, 16)[0] == topic:
                    seen.append((dport, False))
            elif ftype == FT_ERROR and len(f) >= 32:
                _, ecode, eft, detail = struct.unpack_from("<IHHQ", f, 16)
                if ecode == code and eft == FT_SUBSCRIBE and detail == topic:
                    seen.append((dport, True))
    for i, (dport, is_err) in enumerate(seen):
        if is_err:
            found, port = 1, dport
            before = sum(1 for d, e in seen[:i] if d == dport and not e)
            after = sum(1 for d, e in seen[i + 1:] if d == dport and not e)
            break
    print("found=%d port=%d before=%d after=%d" % (found, port, before, after))


if __name__ == "__main__":
    main()
