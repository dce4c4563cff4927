#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the generated part of the fuzz seed corpora (tests/fuzz/corpus/).

  make_seeds.py [CORPUS_DIR]

The packet, frame, handshake and shared-memory seeds are real datagrams and
ring records of the wire protocol (docs/PROTOCOL.md), built here from its
layouts: what a client and the broker send in an ordinary session. The
configuration seeds are the presets in nic-configs/, the journal seeds are
segments the journal itself wrote, and the control requests are sluicectl's;
those are files of their own in the corpus, not made here.
"""
import os
import struct
import sys

VER = 3  # SL_PROTO_VERSION; HELLO keeps header version 1
(HELLO, CHALLENGE, AUTH, WELCOME, GOODBYE, RESOLVE, TOPIC, SUBSCRIBE, UNSUBSCRIBE, OK,
 PSUBSCRIBE, PRODUCER, PRODUCER_ID, PUBLISH, DELIVER, PUBLISH_FRAG, DELIVER_FRAG, ACK, NAK,
 CREDIT, HEARTBEAT, STATUS, ERROR) = (0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x11, 0x12, 0x13,
                                      0x14, 0x15, 0x17, 0x18, 0x20, 0x21, 0x22, 0x23, 0x30,
                                      0x31, 0x32, 0x40, 0x41, 0x7F)
F_AUTH = 1 << 15
CAP_AUTH = 1
SESSION = 0x01000001


def align(b):
    return b + b"\0" * (-len(b) % 8)


def frame(ftype, body, session=SESSION, flags=0, version=VER):
    return align(struct.pack("<BBHIII", version, ftype, flags, 16 + len(body), session, 0) + body)


def hello(auth=False, nonce=0x1122334455667788, name=b"sluice-pub"):
    """Zero padding to 96 bytes, as protocol 3 asks (2 ignores it)."""
    return frame(HELLO, struct.pack("<HHIQ", 1, 3, CAP_AUTH if auth else 0, nonce) +
                 name.ljust(32, b"\0") + b"\0" * 32, session=0, version=1)


def auth(session=SESSION):
    """Protocol 2's AUTH (client_nonce, proof), as long as protocol 3's (152
    bytes, whose fields the harness fills in when asked)."""
    return frame(AUTH, bytes(range(16)) + b"\0" * 32 + b"\0" * 88, session=session)


def resolve(name, req=1, flags=1, ftype=RESOLVE):
    return frame(ftype, struct.pack("<IHH", req, len(name), flags) + name)


def subscribe(topic=1, req=2, ftype=SUBSCRIBE):
    return frame(ftype, struct.pack("<IIQII", req, topic, 0, 64, 0))


def publish(topic=1, pseq=1, payload=b"hello, sluice", flags=0, trailer=False):
    if trailer:
        body = struct.pack("<IIQQ", topic, len(payload), pseq, 123) + align(payload) + b"\0" * 16
        return frame(PUBLISH, body, flags=flags | F_AUTH)
    return frame(PUBLISH, struct.pack("<IIQQ", topic, 0, pseq, 123) + payload, flags=flags)


def deliver(topic=1, seq=1, payload=b"hello, sluice"):
    return frame(DELIVER, struct.pack("<IIQQ", topic, 0, seq, 123) + payload)


def frag(ftype, topic=1, seq=1, msg_len=3000, off=0, data=b"x" * 1400):
    return frame(ftype, struct.pack("<IIQQII", topic, msg_len, seq, 123, off, len(data)) + data)


def producer(name=b"orders-gw", req=3):
    return frame(PRODUCER, struct.pack("<IHHII", req, len(name), 0, 1, 0) + name)


def nak(topic=1, first=3, last=5):
    return frame(NAK, struct.pack("<IIQQ", topic, 0, first, last))


def credit(topic=1, limit=128):
    return frame(CREDIT, struct.pack("<IIQ", topic, 0, limit))


def heartbeat(ts=1):
    return frame(HEARTBEAT, struct.pack("<Q", ts))


def goodbye():
    return frame(GOODBYE, b"")


def broker_frames():
    """What a broker sends a client: replies, deliveries, errors."""
    return [
        frame(WELCOME, struct.pack("<IIQIHHQII", SESSION, 1000, 0x1122334455667788, 1432, 2, 0,
                                   7, 4 << 20, 0)),
        frame(CHALLENGE, struct.pack("<Q", 0x1122334455667788) + bytes(range(16)), session=SESSION),
        frame(TOPIC, struct.pack("<II", 1, 1)),
        frame(OK, struct.pack("<IIQ", 2, 0, 1)),
        frame(PRODUCER_ID, struct.pack("<IIQ", 3, 1, 0xabcdef)),
        frame(ACK, struct.pack("<IIQQ", 1, 0, 1, 1)),
        frame(STATUS, struct.pack("<II", 2, 0) + struct.pack("<IIQ", 1, 0, 9) +
              struct.pack("<IIQ", 2, 0, 4)),
        frame(ERROR, struct.pack("<IHHQ", 0, 3, PUBLISH, 1)),
        frame(ERROR, struct.pack("<IHHQQQ", 0, 21, NAK, 1, 2, 6)),  # REPLAY_GAP with range
    ]


def pkt(payload, dst_port=7000, proto=17, frag_off=0, ihl=5):
    """An Ethernet frame from 10.0.0.2:5555 to 10.0.0.1."""
    eth = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x22]) + struct.pack(">H", 0x0800)
    opts = b"\x01" * ((ihl - 5) * 4)
    tot = ihl * 4 + 8 + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, tot, 1, frag_off, 64, proto, 0,
                     bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])) + opts
    s = sum(struct.unpack(">%dH" % (len(ip) // 2), ip))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack(">H", ~s & 0xFFFF) + ip[12:]
    udp = struct.pack(">HHHH", 5555, dst_port, 8 + len(payload), 0)
    return eth + ip + udp + payload


def arp_request():
    eth = b"\xff" * 6 + bytes([2, 0, 0, 0, 0, 0x22]) + struct.pack(">H", 0x0806)
    return eth + struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, bytes([2, 0, 0, 0, 0, 0x22]),
                             bytes([10, 0, 0, 2]), b"\0" * 6, bytes([10, 0, 0, 1]))


def dgrams(ctl_and_payloads):
    out = b""
    for ctl, p in ctl_and_payloads:
        out += bytes([ctl]) + struct.pack("<H", len(p)) + p
    return out


def shm_records(frames, start=0, pad_at_end=False):
    """A tx ring of 4096 bytes holding @frames as committed records from @start."""
    ring = bytearray(4096)
    pos = start
    for f in frames:
        off = pos % 4096
        rec = 8 + len(align(f))
        if off + rec > 4096:
            struct.pack_into("<Q", ring, off, (((pos >> 12) % 0xFFFFFFFF + 1) << 32) | 0xFFFFFFFF)
            pos += 4096 - off
            off = 0
        ring[off + 8:off + 8 + len(f)] = f
        struct.pack_into("<Q", ring, off, (((pos >> 12) % 0xFFFFFFFF + 1) << 32) | len(f))
        pos += rec
    end = max(i for i in range(4096) if ring[i]) + 1 if any(ring) else 0
    return bytes([1]) + struct.pack("<H", start) + bytes(ring[:(end + 7) & ~7])


# Replication datagrams (docs/REPLICATION.md): header, frames, a zero tag.
# fuzz_repl's first byte: bit 0 seal (the harness writes header and tag),
# bit 1 encrypt; unsealed seeds exercise the refusals.
R_HB, R_TOPIC, R_POS, R_TRUNC, R_DATA, R_ACK = 1, 2, 3, 4, 5, 6


def rframe(ftype, body, flags=0):
    return align(struct.pack("<BBHI", ftype, flags, 0, 8 + len(body)) + body)


def rdgram(frames, role=2, epoch=3):
    body = b"".join(frames)
    n = 40 + len(body) + 16
    return struct.pack("<IBBBBIIQQQ", 0x50524c53, 1, role, 0, 0, epoch, n, 1 << 12, 1,
                       1700000000000) + body + b"\0" * 16


def rdata(seq, payload, rtopic=1, total=None, off=0):
    total = len(payload) if total is None else total
    return rframe(R_DATA, struct.pack("<IIQQQQIHHII", rtopic, 3, seq, 123, 0xabc, seq, 1, 0, 0,
                                      total, off) + payload)


def repl_seeds():
    hb = rframe(R_HB, struct.pack("<IIQQII", 2, 3, 1000, 900, 1, 0))
    name = b"orders.eu"
    topic = rframe(R_TOPIC, struct.pack("<IBBBBQQQIIQ", 1, 2, 0, len(name), 0, 0, 0, 0, 0, 0, 9)
                   + name)
    pos = rframe(R_POS, struct.pack("<IIQQ", 1, 2, 40, 1))
    trunc = rframe(R_TRUNC, struct.pack("<IIQ", 1, 0, 39))
    ack = rframe(R_ACK, struct.pack("<IIQQ", 1, 1, 41, 42))
    return {
        "hb": rdgram([hb]),
        "topic-pos": rdgram([topic, pos]),
        "stream": rdgram([hb] + [rdata(s, b"record %d" % s) for s in range(1, 6)]),
        "fragment": rdgram([rdata(7, b"x" * 600, total=1500, off=600)]),
        "trunc-ack": rdgram([trunc, ack], role=3),
        "unknown-type": rdgram([rframe(9, b"\0" * 8), hb]),
    }


def mqtt_varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def mqtt(hdr0, body):
    """One MQTT packet: fixed header, remaining length, body."""
    return bytes([hdr0]) + mqtt_varint(len(body)) + body


def ms(b):
    """An MQTT UTF-8 string or binary field: two-byte length, bytes."""
    return struct.pack(">H", len(b)) + b


def mprops(*props):
    body = b"".join(props)
    return mqtt_varint(len(body)) + body


def mqtt_seeds():
    """MQTT 3.1.1 and 5.0 sessions as fuzz_mqtt reads them: a selector byte
    (bit 0: decode as a client; bits 1-2: level 0, 4, 5; bits 3-4: maximum
    packet size), then the packets one side sends."""
    user = b"\x26" + ms(b"unit") + ms(b"celsius")
    v4 = [mqtt(0x10, ms(b"MQTT") + b"\x04\xee\x00\x3c" + ms(b"sensor-1") + ms(b"dev/1/status") +
               ms(b"offline") + ms(b"alice") + ms(b"key")),
          mqtt(0x82, b"\x00\x01" + ms(b"cmd/+/set") + b"\x01" + ms(b"cfg/#") + b"\x02"),
          mqtt(0x30, ms(b"dev/1/temp") + b"21.5"),
          mqtt(0x32, ms(b"dev/1/temp") + b"\x00\x02" + b"21.6"),
          mqtt(0x3d, ms(b"dev/1/temp") + b"\x00\x03" + b"21.7"),
          mqtt(0x40, b"\x00\x05"), mqtt(0x50, b"\x00\x06"), mqtt(0x62, b"\x00\x06"),
          mqtt(0x70, b"\x00\x03"), mqtt(0xa2, b"\x00\x04" + ms(b"cfg/#")), mqtt(0xc0, b""),
          mqtt(0xe0, b"")]
    v5 = [mqtt(0x10, ms(b"MQTT") + b"\x05\xc6\x00\x1e" +
               mprops(b"\x11\x00\x00\x0e\x10", b"\x21\x00\x0a", b"\x27\x00\x01\x00\x00",
                      b"\x22\x00\x08", user) + ms(b"sensor-2") +
               mprops(b"\x18\x00\x00\x00\x05", b"\x01\x01", b"\x03" + ms(b"text/plain")) +
               ms(b"dev/2/status") + ms(b"gone") + ms(b"bob") + ms(b"key")),
          mqtt(0x82, b"\x00\x01" + mprops(b"\x0b\x07", user) + ms(b"cmd/2/#") + b"\x2e" +
               ms(b"$share/g/jobs/+") + b"\x01"),
          mqtt(0x30, ms(b"dev/2/temp") + mprops(b"\x23\x00\x01", b"\x02\x00\x00\x00\x3c", user) +
               b"19.0"),
          mqtt(0x30, ms(b"") + mprops(b"\x23\x00\x01") + b"19.1"),
          mqtt(0x34, ms(b"rpc/req") + b"\x00\x09" +
               mprops(b"\x08" + ms(b"rpc/resp/2"), b"\x09" + ms(b"\x00\x01")) + b"{}"),
          mqtt(0x40, b"\x00\x05"), mqtt(0x40, b"\x00\x05\x10"),
          mqtt(0x50, b"\x00\x06\x00" + mprops(b"\x1f" + ms(b"ok"))), mqtt(0x62, b"\x00\x06"),
          mqtt(0x70, b"\x00\x09\x92\x00"), mqtt(0xa2, b"\x00\x04\x00" + ms(b"cmd/2/#")),
          mqtt(0xf0, b"\x18" + mprops(b"\x15" + ms(b"SCRAM"), b"\x16" + ms(b"\x01"))),
          mqtt(0xc0, b""), mqtt(0xe0, b"\x04" + mprops(b"\x11\x00\x00\x00\x00"))]
    v4_server = [mqtt(0x20, b"\x00\x00"), mqtt(0x90, b"\x00\x01\x01\x80"),
                 mqtt(0x33, ms(b"cmd/1/set") + b"\x00\x07" + b"on"), mqtt(0x40, b"\x00\x02"),
                 mqtt(0x50, b"\x00\x03"), mqtt(0x70, b"\x00\x03"), mqtt(0xb0, b"\x00\x04"),
                 mqtt(0xd0, b"")]
    v5_server = [mqtt(0x20, b"\x01\x00" + mprops(b"\x12" + ms(b"auto-7"), b"\x24\x01", b"\x25\x01",
                                                b"\x22\x00\x10", b"\x13\x00\x14")),
                 mqtt(0x90, b"\x00\x01" + mprops(b"\x1f" + ms(b"partly")) + b"\x02\x8f\x9e"),
                 mqtt(0x3b, ms(b"cmd/2/set") + b"\x00\x07" + mprops(b"\x0b\x07", b"\x0b\x09", user) +
                      b"on"),
                 mqtt(0xb0, b"\x00\x04\x00\x00\x11"), mqtt(0xd0, b""),
                 mqtt(0xe0, b"\x9c" + mprops(b"\x1c" + ms(b"other:1883"), b"\x1f" + ms(b"moving")))]
    seeds = {
        "v311-client-session": b"\x00" + b"".join(v4),
        "v5-client-session": b"\x00" + b"".join(v5),
        "v5-client-after-connect": b"\x04" + b"".join(v5[1:]),
        "v5-client-small-max": b"\x0c" + b"".join(v5[1:]),
        "v311-server-session": b"\x03" + b"".join(v4_server),
        "v5-server-session": b"\x05" + b"".join(v5_server),
        "v311-connect-only": b"\x00" + v4[0],
        "v5-publish-two-byte-length": b"\x04" + mqtt(0x30, ms(b"a/b") + b"\x00" + b"x" * 200),
        "v5-publish-too-large": b"\x0c" + mqtt(0x30, ms(b"a/b") + b"\x00" + b"x" * 200),
    }
    return seeds


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    session = [hello(), resolve(b"prices"), subscribe(), publish(), heartbeat()]
    client = session + [resolve(b"orders.>", ftype=PSUBSCRIBE), subscribe(ftype=UNSUBSCRIBE),
                        producer(), frag(PUBLISH_FRAG), nak(), credit(), goodbye(),
                        publish(trailer=True)]

    d = os.path.join(root, "fuzz_pkt")
    write(d, "arp-request", arp_request())
    write(d, "udp-hello", pkt(hello()))
    write(d, "udp-publish-batch", pkt(publish() + publish(pseq=2) + heartbeat()))
    write(d, "udp-wrong-port", pkt(hello(), dst_port=7001))
    write(d, "ipv4-options", pkt(hello(), ihl=7))
    write(d, "ipv4-fragment", pkt(hello(), frag_off=0x2000))
    write(d, "tcp", pkt(b"\0" * 20, proto=6))

    d = os.path.join(root, "fuzz_frame")
    for i, f in enumerate(client + broker_frames()):
        write(d, "frame-%02x-%d" % (f[1], i), f)
    write(d, "datagram-session", b"".join(session))
    write(d, "datagram-deliveries", b"".join(deliver(seq=s) for s in (1, 2, 4, 3, 7)))
    write(d, "datagram-frags", frag(DELIVER_FRAG, off=0) + frag(DELIVER_FRAG, off=1400) +
          frag(DELIVER_FRAG, off=2800, data=b"y" * 200))
    write(d, "datagram-broker", b"".join(broker_frames()))

    d = os.path.join(root, "fuzz_handshake")
    write(d, "open-session", bytes([0]) + dgrams([(0, hello()), (4, b"".join(session[1:]))]))
    write(d, "auth-required-open-hello", bytes([1]) + dgrams([(0, hello())]))
    write(d, "auth-session", bytes([1]) + dgrams([
        (0, hello(auth=True, name=b"alice")), (1, auth()),
        (6, frame(RESOLVE, struct.pack("<IHH", 1, 6, 1) + b"prices" +
                                           b"\0" * 2 + b"\0" * 16, flags=F_AUTH)),
        (6, publish(trailer=True)), (6, frame(HEARTBEAT, struct.pack("<Q", 1) + b"\0" * 16,
                                               flags=F_AUTH))]))
    write(d, "auth-bad-proof", bytes([1]) + dgrams([(0, hello(auth=True, name=b"alice")),
                                                    (0, auth())]))
    write(d, "hello-new-nonce", bytes([1]) + dgrams([
        (0, hello(auth=True, name=b"alice")), (1, auth()),
        (0, hello(nonce=7)), (6, publish(trailer=True))]))

    d = os.path.join(root, "fuzz_repl")
    for name, dg in repl_seeds().items():
        write(d, "sealed-" + name, bytes([1]) + dg)
        write(d, "encrypted-" + name, bytes([3]) + dg)
    write(d, "unsealed-hb", bytes([0]) + repl_seeds()["hb"])

    d = os.path.join(root, "fuzz_shm")
    write(d, "session", shm_records(session))
    write(d, "session-wrapping", shm_records(session + [publish(payload=b"p" * 900)] * 3,
                                             start=3072))
    write(d, "torn-record", shm_records(session)[:-8] + b"\0" * 8)

    d = os.path.join(root, "fuzz_mqtt")
    for name, data in mqtt_seeds().items():
        write(d, name, data)


if __name__ == "__main__":
    main()
