#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Idempotent producers against a real broker (docs/PROTOCOL.md 15).

  producer.py basic HOST PORT TOPIC NAME N
      bind producer NAME, publish N messages (producer_seq 1..N, ACK asked),
      resend all N: each resend is ACKed with SL_ACK_F_DUP and the original
      seq; producer_seq N+2 gets SL_E_OUT_OF_ORDER; N+1 is then accepted.
  producer.py fence HOST PORT TOPIC NAME
      two instances of NAME: the second fences the first (its publishes and
      its resumed binding get SL_E_FENCED), the second publishes.
  producer.py v1 HOST PORT
      a HELLO for version 1 only gets ERROR SL_E_VERSION (header version 1).
  producer.py crash1 HOST PORT TOPIC NAME N STATE
      bind NAME, publish N acknowledged messages, save epoch and seqs to STATE.
  producer.py crash2 HOST PORT TOPIC NAME K STATE
      after a broker restart: resume NAME at the saved epoch, resend the last
      K: each ACKed as a duplicate with its original seq; then one new one.
  producer.py plain HOST PORT TOPIC N
      no producer: publish producer_seq 1..N twice (a v1-style resend):
      stored twice, for `sluice-journal verify --dups` to find.

Prints one JSON summary line; exits 1 with the reason when a check fails.
"""

import json
import os
import struct
import sys
import time

from ackpub import ACK, ERROR, PUBLISH, RESOLVE, TOPIC, VERSION, frames, hdr, request, session

PRODUCER, PRODUCER_ID, HELLO = 0x17, 0x18, 0x01
ACK_F_DUP = 1
E_VERSION, E_FENCED, E_OUT_OF_ORDER = 6, 21, 23


def fail(msg):
    sys.exit(f"producer.py: FAIL: {msg}")


def resolve(s, sess, topic):
    res = hdr(RESOLVE, 24 + len(topic), sess) + struct.pack("<IHH", 1, len(topic), 1) + topic
    return struct.unpack_from("<I", request(s, res, TOPIC), 20)[0]


def answers(s, secs):
    """Every frame received within SECS (or until 0.3 s of silence)."""
    out, end, quiet = [], time.time() + secs, time.time() + 0.3
    s.settimeout(0.05)
    while time.time() < end and time.time() < quiet:
        try:
            d = s.recv(65536)
        except (OSError, ConnectionRefusedError):
            continue
        quiet = time.time() + 0.3
        out.extend(frames(d))
    s.settimeout(0.2)
    return out


def bind(s, sess, name, epoch=0, req=7):
    """PRODUCER: (producer_id, epoch) or ('error', code)."""
    f = hdr(PRODUCER, 32 + len(name), sess) + struct.pack("<IHHII", req, len(name), 0, epoch, 0) \
        + name
    for _ in range(20):
        s.send(f)
        for t, fr in answers(s, 0.5):
            if t == PRODUCER_ID and struct.unpack_from("<I", fr, 16)[0] == req:
                e, pid = struct.unpack_from("<IQ", fr, 20)
                return pid, e
            if t == ERROR and struct.unpack_from("<I", fr, 16)[0] == req:
                return "error", struct.unpack_from("<H", fr, 20)[0]
    fail("no answer to PRODUCER")


def publish(s, sess, tid, pseq, payload, first=False):
    """ACK_REQ, and FIRST (bit 1) when PSEQ is the lowest not yet settled."""
    body = struct.pack("<IIQQ", tid, 0, pseq, 0) + payload
    s.send(hdr(PUBLISH, 16 + len(body), sess, flags=1 | (2 if first else 0)) + body)


def collect(s, sess, tid, want, secs=5.0):
    """ACKs and PUBLISH refusals for producer seqs in WANT: {pseq: (kind, flags, value)}."""
    got, end = {}, time.time() + secs
    while time.time() < end and len(got) < len(want):
        for t, fr in answers(s, 0.5):
            if struct.unpack_from("<I", fr, 8)[0] != sess:
                continue
            if t == ACK and len(fr) >= 40:
                topic, _, pseq, seq = struct.unpack_from("<IIQQ", fr, 16)
                if topic == tid and pseq in want and pseq not in got:
                    got[pseq] = ("ack", struct.unpack_from("<H", fr, 2)[0], seq)
            elif t == ERROR and len(fr) >= 32 and struct.unpack_from("<H", fr, 22)[0] == PUBLISH:
                pseq = struct.unpack_from("<Q", fr, 24)[0]
                if pseq in want and pseq not in got:
                    got[pseq] = ("error", 0, struct.unpack_from("<H", fr, 20)[0])
    return got


def publish_acked(s, sess, tid, pseqs, tag):
    """Publish PSEQS in order, in windows of 32, until each is ACKed: {pseq: (flags, seq)}."""
    res, pseqs = {}, list(pseqs)
    for i in range(0, len(pseqs), 32):
        win = pseqs[i:i + 32]
        for attempt in range(10):
            todo = [p for p in win if p not in res]
            if not todo:
                break
            for p in todo:
                publish(s, sess, tid, p, f"{tag}-{p}".encode(), first=p == todo[0])
            for p, (kind, flags, v) in collect(s, sess, tid, set(todo), 2.0).items():
                if kind != "ack":
                    fail(f"{tag}: publish {p} refused with code {v}")
                res[p] = (flags, v)
        if any(p not in res for p in win):
            fail(f"{tag}: publishes not acknowledged: {[p for p in win if p not in res]}")
    return res


def cmd_basic(host, port, topic, name, n):
    s, sess = session(host, port)
    tid = resolve(s, sess, topic)
    pid, epoch = bind(s, sess, name)
    if pid == "error":
        fail(f"PRODUCER refused: {epoch}")
    first = publish_acked(s, sess, tid, range(1, n + 1), "basic")
    if any(f & ACK_F_DUP for f, _ in first.values()):
        fail("a first publish was ACKed as a duplicate")
    seqs = [first[p][1] for p in range(1, n + 1)]
    if seqs != list(range(seqs[0], seqs[0] + n)):
        fail(f"first publishes not stored in order: {seqs[:5]}...")
    # Resend every one: duplicates, each with the original's seq.
    again = publish_acked(s, sess, tid, range(1, n + 1), "basic")
    bad = [p for p in range(1, n + 1) if again[p] != (ACK_F_DUP, first[p][1])]
    if bad:
        fail(f"resends not ACKed as duplicates with the original seq: {bad[:5]} "
             f"(got {[again[p] for p in bad[:5]]})")
    # A gap: out of order, not stored; then the next one in order is.
    publish(s, sess, tid, n + 2, b"gap")
    got = collect(s, sess, tid, {n + 2})
    if got.get(n + 2) != ("error", 0, E_OUT_OF_ORDER):
        fail(f"producer_seq {n + 2} after {n}: got {got.get(n + 2)}, want OUT_OF_ORDER")
    nxt = publish_acked(s, sess, tid, [n + 1], "basic")
    if nxt[n + 1] != (0, seqs[-1] + 1):
        fail(f"producer_seq {n + 1}: got {nxt[n + 1]}, want seq {seqs[-1] + 1}")
    print(json.dumps({"producer": pid, "epoch": epoch, "stored": n + 1, "dups_acked": n,
                      "first_seq": seqs[0], "last_seq": seqs[-1] + 1}))


def cmd_fence(host, port, topic, name):
    a, sa = session(host, port)
    tid = resolve(a, sa, topic)
    pid_a, ea = bind(a, sa, name)
    publish_acked(a, sa, tid, [1, 2], "fence-a")
    b, sb = session(host, port)
    pid_b, eb = bind(b, sb, name)
    if pid_b != pid_a or not eb > ea:
        fail(f"second instance: id {pid_b} epoch {eb}, want id {pid_a} and epoch > {ea}")
    publish_acked(b, sb, tid, [1, 2, 3], "fence-b")
    publish(a, sa, tid, 3, b"fence-a-3")
    got = collect(a, sa, tid, {3})
    if got.get(3) != ("error", 0, E_FENCED):
        fail(f"the older instance's publish: got {got.get(3)}, want FENCED")
    # Its binding cannot come back either (a reconnect with its epoch).
    c, sc = session(host, port)
    r = bind(c, sc, name, ea, req=9)
    if r != ("error", E_FENCED):
        fail(f"resuming the older epoch: got {r}, want FENCED")
    # The newer one resumes on another session and goes on.
    d, sd = session(host, port)
    if bind(d, sd, name, eb, req=10) != (pid_b, eb):
        fail("resuming the newest epoch was refused")
    publish_acked(d, sd, tid, [4], "fence-b")
    print(json.dumps({"producer": pid_a, "fenced_epoch": ea, "epoch": eb}))


def cmd_v1(host, port):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(0.2)
    nonce = int.from_bytes(os.urandom(8), "little")
    hello = hdr(HELLO, 64, 0) + struct.pack("<HHIQ", 1, 1, 0, nonce) + b"old".ljust(32, b"\0")
    for _ in range(10):
        s.send(hello)
        for t, fr in answers(s, 0.5):
            if t == ERROR:
                code, ft = struct.unpack_from("<HH", fr, 20)
                if fr[0] != 1 or code != E_VERSION or ft != HELLO:
                    fail(f"version 1 HELLO: ERROR version {fr[0]} code {code} type {ft}")
                print(json.dumps({"v1_refused": code}))
                return
            fail(f"version 1 HELLO answered with frame type {t:#x}")
    fail("version 1 HELLO: no answer")


def cmd_crash1(host, port, topic, name, n, state):
    s, sess = session(host, port)
    tid = resolve(s, sess, topic)
    pid, epoch = bind(s, sess, name)
    acked = publish_acked(s, sess, tid, range(1, n + 1), "crash")
    with open(state, "w") as f:
        json.dump({"producer": pid, "epoch": epoch,
                   "seqs": {str(p): v for p, (_, v) in acked.items()}}, f)
    print(json.dumps({"producer": pid, "epoch": epoch, "acked": len(acked)}))


def cmd_crash2(host, port, topic, name, k, state):
    st = json.load(open(state))
    n = len(st["seqs"])
    s, sess = session(host, port)
    tid = resolve(s, sess, topic)
    if bind(s, sess, name, st["epoch"]) != (st["producer"], st["epoch"]):
        fail("resuming the producer's epoch after the restart was refused")
    pseqs = range(n - k + 1, n + 1)
    again = publish_acked(s, sess, tid, pseqs, "crash")
    bad = [p for p in pseqs if again[p] != (ACK_F_DUP, st["seqs"][str(p)])]
    if bad:
        fail(f"resends after the restart not ACKed as duplicates with the original seq: "
             f"{bad[:5]} (got {[again[p] for p in bad[:5]]})")
    nxt = publish_acked(s, sess, tid, [n + 1], "crash")
    if nxt[n + 1][0] & ACK_F_DUP or nxt[n + 1][1] != st["seqs"][str(n)] + 1:
        fail(f"the next publish after the restart: {nxt[n + 1]}")
    # A new instance (epoch 0) after the restart: above the journal's epoch.
    t, st2 = session(host, port)
    pid2, e2 = bind(t, st2, name, 0, req=11)
    if pid2 != st["producer"] or not e2 > st["epoch"]:
        fail(f"a new instance after the restart got epoch {e2}, not above {st['epoch']}")
    print(json.dumps({"resent": k, "dups_acked": k, "next_seq": nxt[n + 1][1],
                      "new_epoch": e2}))


def cmd_plain(host, port, topic, n):
    s, sess = session(host, port)
    tid = resolve(s, sess, topic)
    for _ in range(2):
        publish_acked(s, sess, tid, range(1, n + 1), "plain")
    print(json.dumps({"published": 2 * n}))


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "v1":
        return cmd_v1(a[0], int(a[1]))
    host, port, topic = a[0], int(a[1]), a[2].encode()
    if cmd == "basic":
        return cmd_basic(host, port, topic, a[3].encode(), int(a[4]))
    if cmd == "fence":
        return cmd_fence(host, port, topic, a[3].encode())
    if cmd == "crash1":
        return cmd_crash1(host, port, topic, a[3].encode(), int(a[4]), a[5])
    if cmd == "crash2":
        return cmd_crash2(host, port, topic, a[3].encode(), int(a[4]), a[5])
    if cmd == "plain":
        return cmd_plain(host, port, topic, int(a[3]))
    fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
