#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A hostile subscriber: NAK floods and bogus NAK ranges (protocol version 2).

  naker.py HOST PORT TOPIC FLOOD

Opens a session, subscribes to TOPIC (an existing topic with messages), and
sends, mixed: FLOOD valid NAKs for the 1000 seqs up to the latest live
DELIVER it has seen (held in the broker's retransmit window), as fast as it can, and bogus NAKs of each class (first > last, a range over
SL_NAK_MAX_RANGE, past the topic's latest seq, a topic it is not subscribed
to, an unknown topic). Prints a JSON object: NAKs sent per class, and the
retransmitted DELIVERs it received.
"""
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ackpub import frames, hdr, request, session  # noqa: E402

RESOLVE, TOPIC, SUBSCRIBE, OK = 0x10, 0x11, 0x12, 0x14
DELIVER, NAK = 0x21, 0x31
DLV_F_RETRANS = 0x0002
NAK_MAX_RANGE = 65536


def resolve(s, sess, name, req):
    n = name.encode()
    t = request(s, hdr(RESOLVE, 24 + len(n), sess) + struct.pack("<IHH", req, len(n), 1) + n, TOPIC)
    return struct.unpack_from("<I", t, 20)[0]


def nak(sess, topic, first, last):
    return hdr(NAK, 40, sess) + struct.pack("<IIQQ", topic, 0, first, last)


def main():
    host, port, name, flood = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    s, sess = session(host, port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    topic = resolve(s, sess, name, 1)
    other = resolve(s, sess, name + ".other", 2)  # exists, not subscribed to
    request(s, hdr(SUBSCRIBE, 40, sess) + struct.pack("<IIQII", 3, topic, 0, 0, 0), OK)

    bogus = {
        "reversed": nak(sess, topic, 500, 100),
        "too_wide": nak(sess, topic, 1, 1 + NAK_MAX_RANGE),
        "past_latest": nak(sess, topic, 1 << 40, (1 << 40) + 10),
        "not_subscribed": nak(sess, other, 1, 10),
        "unknown_topic": nak(sess, 0xFFFFF0, 1, 10),
    }
    sent = {k: 0 for k in bogus}
    sent["flood"] = 0
    s.setblocking(False)
    retrans = 0
    latest = 0

    def drain():
        nonlocal retrans, latest
        while True:
            try:
                r = s.recv(65536)
            except (BlockingIOError, ConnectionRefusedError):
                return
            for t, f in frames(r):
                if t != DELIVER:
                    continue
                if struct.unpack_from("<H", f, 2)[0] & DLV_F_RETRANS:
                    retrans += 1
                else:
                    latest = max(latest, struct.unpack_from("<Q", f, 24)[0])

    end = time.time() + 5
    while latest == 0 and time.time() < end:
        drain()
        time.sleep(0.01)
    if latest == 0:
        sys.exit("naker.py: no live DELIVER on the topic")
    good = nak(sess, topic, max(1, latest - 999), latest)

    for i in range(flood):
        try:
            s.send(good)
            sent["flood"] += 1
            if i % 10 == 0:
                for k, d in bogus.items():
                    s.send(d)
                    sent[k] += 1
        except (BlockingIOError, ConnectionRefusedError):
            time.sleep(0.001)
        if i % 64 == 0:
            drain()
    end = time.time() + 0.5
    while time.time() < end:
        drain()
        time.sleep(0.01)
    sent["retransmitted_received"] = retrans
    sent["range"] = [max(1, latest - 999), latest]
    print(json.dumps(sent))


if __name__ == "__main__":
    main()
