#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake broker for sluice-pub's and sluice-sub's tests: answers publishes wrongly, and
delivers over a bad link, on purpose.

Usage: fake_broker.py MODE PORTFILE [LOG]

Serves one UDP socket on 127.0.0.1 (a free port, written to PORTFILE) as
docs/PROTOCOL.md says for HELLO (WELCOME), RESOLVE (TOPIC 1) and HEARTBEAT
(echoed), and answers each PUBLISH with producer sequence n as MODE says:
  twice   ACK sent twice: every publish acknowledged, every ACK repeated
  dropdup every 10th publish gets no ACK, but the ACK before it is sent
          again, so the ACK frames add up to the publishes sent
  refuse  odd n acknowledged, even n refused (SL_E_JOURNAL_FULL) twice
  silent  no answer at all
  stray   ACK for n + 1000 and for n - 1 of another topic, then n's own ACK
or, for subscribers, sends topic 1's messages 1..LOSSY_N after a SUBSCRIBE on
a link that loses, reorders and duplicates them (session version 3):
  lossy   see lossy_plan(): some DELIVERs dropped the first time, some sent
          out of order or twice, LOST_FIRST..LOST_LAST never (a NAK for them
          is answered with ERROR SL_E_GAP_LOST), one message in DELIVER_FRAG
          pieces with a piece missing, and the tail dropped but told by a
          STATUS; never past the client's credit (SUBSCRIBE's window, then
          CREDIT). Each NAK is answered with the messages again
          (SL_DLV_F_RETRANS); each NAK and CREDIT is written to LOG as
          "nak TOPIC FIRST LAST" / "credit TOPIC LIMIT".
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
VERSION = 3  # the protocol version this fake speaks
INCARNATION = 0x5EED5EED5EED5EED
MAX_MESSAGE = 1 << 20
SUBSCRIBE, OK, DELIVER, DELIVER_FRAG, NAK, CREDIT, STATUS = \
    0x12, 0x14, 0x21, 0x23, 0x31, 0x32, 0x41
DLV_F_RETRANS, E_GAP_LOST = 2, 24
LOSSY_N, LOST_FIRST, LOST_LAST, FRAG_SEQ, FRAG_LEN, FRAG_PIECE = 300, 100, 102, 150, 4000, 1384


def hdr(t, length, flags=0, version=VERSION):
    return struct.pack("<BBHIII", version, t, flags, length, SESSION, 0)


def pad(frame):
    return frame + b"\0" * (-len(frame) % 8)


def payload(seq):
    body = b"m%d" % seq
    return body + b"." * (FRAG_LEN - len(body)) if seq == FRAG_SEQ else body


def deliver(seq, flags=0):
    """DELIVER frames of seq (DELIVER_FRAG pieces for FRAG_SEQ), each padded."""
    p = payload(seq)
    if seq != FRAG_SEQ:
        return [pad(hdr(DELIVER, 40 + len(p), flags) + struct.pack("<IIQQ", TOPIC_ID, 0, seq,
                                                                   seq * 1000) + p)]
    out = []
    for off in range(0, len(p), FRAG_PIECE):
        piece = p[off:off + FRAG_PIECE]
        out.append(pad(hdr(DELIVER_FRAG, 48 + len(piece), flags) +
                       struct.pack("<IIQQII", TOPIC_ID, len(p), seq, seq * 1000, off,
                                   len(piece)) + piece))
    return out


def lossy_plan():
    """The first transmission: (seq, frames) per datagram, in sending order."""
    out = []
    seqs = list(range(1, LOSSY_N + 1))
    for i in range(0, len(seqs) - 1, 10):  # every 10th pair swapped
        seqs[i + 3], seqs[i + 4] = seqs[i + 4], seqs[i + 3]
    for seq in seqs:
        if LOST_FIRST <= seq <= LOST_LAST or seq > LOSSY_N - 3 or seq % 17 == 5:
            continue  # lost for good, the tail, and ordinary losses
        frames = deliver(seq)
        if seq == FRAG_SEQ:
            frames = frames[:1] + frames[2:]  # the middle piece lost
        out += [(seq, [f]) for f in frames]
        if seq % 13 == 0:
            out.append((seq, frames[:1]))  # duplicated
    st = hdr(STATUS, 24 + 16) + struct.pack("<II", 1, 0) + struct.pack("<IIQ", TOPIC_ID, 0,
                                                                       LOSSY_N)
    out.append((LOSSY_N, [st]))
    return out


def send_within(s, peer, plan, limit):
    """Send the plan's datagrams while their seq is within the credit."""
    while plan and plan[0][0] <= limit:
        s.sendto(b"".join(plan.pop(0)[1]), peer)


def nak_answer(first, last):
    frames = []
    lost = [s for s in range(first, last + 1) if LOST_FIRST <= s <= LOST_LAST]
    for seq in range(first, last + 1):
        if seq not in lost:
            frames += deliver(seq, DLV_F_RETRANS)
    if lost:
        frames.append(hdr(ERROR, 48) + struct.pack("<IHHQQQ", 0, E_GAP_LOST, NAK, TOPIC_ID,
                                                   lost[0], lost[-1]))
    return [[f] for f in frames]


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
    log = open(sys.argv[3], "w", buffering=1) if len(sys.argv) > 3 else None
    plan, limit = [], 0
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
                s.sendto(hdr(WELCOME, 56) + struct.pack("<IIQIHHQII", SESSION, 1000, nonce, 1392,
                                                        VERSION, 0, INCARNATION,
                                                        MAX_MESSAGE, 0), peer)
            elif t == SUBSCRIBE:
                s.sendto(hdr(OK, 24) + struct.pack("<II", struct.unpack_from("<I", f, 16)[0], 0),
                         peer)
                if mode == "lossy":  # the client's window is the first credit
                    plan, limit = lossy_plan(), struct.unpack_from("<I", f, 32)[0]
                    send_within(s, peer, plan, limit)
            elif t == NAK:
                topic, _, first, last = struct.unpack_from("<IIQQ", f, 16)
                if log:
                    log.write("nak %d %d %d\n" % (topic, first, last))
                if topic == TOPIC_ID and 1 <= first <= last <= LOSSY_N:
                    for d in nak_answer(first, last):
                        s.sendto(b"".join(d), peer)
            elif t == CREDIT:
                topic, _, lim = struct.unpack_from("<IIQ", f, 16)
                if log:
                    log.write("credit %d %d\n" % (topic, lim))
                if topic == TOPIC_ID:
                    limit = max(limit, lim)
                    send_within(s, peer, plan, limit)
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
