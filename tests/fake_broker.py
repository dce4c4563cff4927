#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake broker for sluice-pub's and sluice-sub's tests: answers publishes wrongly, and
delivers over a bad link, on purpose.

Usage: fake_broker.py MODE PORTFILE [LOG]

Serves one UDP socket on 127.0.0.1 (a free port, written to PORTFILE) as
docs/PROTOCOL.md says for the version 3 handshake (HELLO, CHALLENGE, AUTH,
WELCOME), RESOLVE (TOPIC 1) and HEARTBEAT (echoed), and answers each PUBLISH
with producer sequence n as MODE says:
  twice   ACK sent twice: every publish acknowledged, every ACK repeated
  dropdup every 10th publish gets no ACK, but the ACK before it is sent
          again, so the ACK frames add up to the publishes sent
  refuse  odd n acknowledged, even n refused (SL_E_JOURNAL_FULL) twice
  silent  no answer at all
  stray   ACK for n + 1000 and for n - 1 of another topic, then n's own ACK
or, for subscribers, sends topic 1's messages 1..LOSSY_N after a SUBSCRIBE on
a link that loses, reorders and duplicates them:
  lossy   see lossy_plan(): some DELIVERs dropped the first time, some sent
          out of order or twice, LOST_FIRST..LOST_LAST never (a NAK for them
          is answered with ERROR SL_E_GAP_LOST), one message in DELIVER_FRAG
          pieces with a piece missing, and the tail dropped but told by a
          STATUS; never past the client's credit (SUBSCRIBE's window, then
          CREDIT). Each NAK is answered with the messages again
          (SL_DLV_F_RETRANS); each NAK and CREDIT is written to LOG as
          "nak TOPIC FIRST LAST" / "credit TOPIC LIMIT".
or, for consumer group members (protocol version 4 in this mode):
  group   GJOIN is answered with GROUP (group id GROUP_ID) and topic 1's
          messages 1..GROUP_N go to the member as GDELIVER, pushed, or as
          GCTL FETCH asks for a pull member; a GNAK sends its message again
          with the delivery count one higher, up to GROUP_MAX_DELIVERIES.
          LOG gets "gjoin GROUP MEMBER CREDIT FLAGS", "gctl OP N",
          "gack FLAGS SEQ...", "gnak SEQ DELAY ERROR".
Stops after 30 s, or at the client's GOODBYE.

With FAKE_USER and FAKE_KEY (64 hex digits) in the environment the fake
requires that user to authenticate, and seals every datagram of the session
both ways (ChaCha20-Poly1305 with keys from HKDF, PROTOCOL.md 3 and 17, by
PyNaCl: an implementation of its own, not the project's); FAKE_ENC (off,
optional: the default, required) is the user's encryption policy. At the end
it writes "seal in N enc E plain P bad B" to LOG: datagrams from the client
sealed, encrypted, unsealed (other than HELLO and AUTH) and failing their tag.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

HELLO, CHALLENGE, AUTH, WELCOME, SEAL, RESOLVE, TOPIC, PUBLISH, ACK, HEARTBEAT, ERROR, GOODBYE = \
    0x01, 0x02, 0x03, 0x04, 0x09, 0x10, 0x11, 0x20, 0x30, 0x40, 0x7F, 0x05
SESSION, TOPIC_ID, E_JOURNAL_FULL, E_VERSION = 9, 1, 10, 6
E_AUTH_REQUIRED, E_AUTH_FAILED, E_ENCRYPTION_REQUIRED = 14, 15, 27
VERSION = 3  # the protocol version this fake speaks
HELLO_MIN_LEN = 96
CAP_AUTH, CAP_ENC = 1, 2
WELCOME_F_AUTH, WELCOME_F_ENC, SEAL_F_ENC = 1, 2, 1
INCARNATION = 0x5EED5EED5EED5EED
MAX_MESSAGE = 1 << 20
SESSION_TIMEOUT_MS = 10000
SUBSCRIBE, OK, DELIVER, DELIVER_FRAG, NAK, CREDIT, STATUS = \
    0x12, 0x14, 0x21, 0x23, 0x31, 0x32, 0x41
DLV_F_RETRANS, E_GAP_LOST = 2, 24
LOSSY_N, LOST_FIRST, LOST_LAST, FRAG_SEQ, FRAG_LEN = 300, 100, 102, 150, 4000
# Data bytes of one DELIVER_FRAG (SL_MAX_FRAG_DATA: one fits a sealed datagram).
FRAG_PIECE = 1384
MAX_PAYLOAD = 1392
GJOIN, GROUP, GCTL, GDELIVER, GACK, GNAK = 0x19, 0x1A, 0x1B, 0x24, 0x33, 0x34
GROUP_ID, GROUP_N, GROUP_MAX_DELIVERIES, GCTL_FETCH = 5, 10, 3, 4


def hdr(t, length, flags=0, version=VERSION, session=SESSION):
    return struct.pack("<BBHIII", version, t, flags, length, session, 0)


def pad(frame):
    return frame + b"\0" * (-len(frame) % 8)


def payload(seq):
    body = b"m%d" % seq
    return body + b"." * (FRAG_LEN - len(body)) if seq == FRAG_SEQ else body


def deliver(seq, flags=0, piece=FRAG_PIECE):
    """DELIVER frames of seq (DELIVER_FRAG pieces for FRAG_SEQ), each padded."""
    p = payload(seq)
    if seq != FRAG_SEQ:
        return [pad(hdr(DELIVER, 40 + len(p), flags) + struct.pack("<IIQQ", TOPIC_ID, 0, seq,
                                                                   seq * 1000) + p)]
    out = []
    for off in range(0, len(p), piece):
        chunk = p[off:off + piece]
        out.append(pad(hdr(DELIVER_FRAG, 48 + len(chunk), flags) +
                       struct.pack("<IIQQII", TOPIC_ID, len(p), seq, seq * 1000, off,
                                   len(chunk)) + chunk))
    return out


def lossy_plan(piece):
    """The first transmission: (seq, frames) per datagram, in sending order."""
    out = []
    seqs = list(range(1, LOSSY_N + 1))
    for i in range(0, len(seqs) - 1, 10):  # every 10th pair swapped
        seqs[i + 3], seqs[i + 4] = seqs[i + 4], seqs[i + 3]
    for seq in seqs:
        if LOST_FIRST <= seq <= LOST_LAST or seq > LOSSY_N - 3 or seq % 17 == 5:
            continue  # lost for good, the tail, and ordinary losses
        frames = deliver(seq, piece=piece)
        if seq == FRAG_SEQ:
            frames = frames[:1] + frames[2:]  # the middle piece lost
        out += [(seq, [f]) for f in frames]
        if seq % 13 == 0:
            out.append((seq, frames[:1]))  # duplicated
    st = hdr(STATUS, 24 + 16) + struct.pack("<II", 1, 0) + struct.pack("<IIQ", TOPIC_ID, 0,
                                                                       LOSSY_N)
    out.append((LOSSY_N, [st]))
    return out


def nak_answer(first, last, piece):
    frames = []
    lost = [s for s in range(first, last + 1) if LOST_FIRST <= s <= LOST_LAST]
    for seq in range(first, last + 1):
        if seq not in lost:
            frames += deliver(seq, DLV_F_RETRANS, piece)
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


def hmac256(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


class Session:
    """The fake's one session: its peer, and once authenticated, its keys."""

    def __init__(self, sock, user, key, enc_policy):
        self.s, self.user, self.key, self.enc_policy = sock, user, key, enc_policy
        self.secret = os.urandom(32)
        self.peer = None
        self.k_c2s = self.k_s2c = None
        self.enc = False
        self.tx_seq = self.rx_top = 0
        self.rx_seen = set()
        self.counts = {"in": 0, "enc": 0, "plain": 0, "bad": 0}

    # --- the handshake

    def cookie(self, peer, version, caps, nonce, issued, server_nonce):
        ip = socket.inet_aton(peer[0])
        msg = (b"sluice-cookie-v3" + b"\0" + ip + struct.pack(">H", peer[1]) +
               struct.pack("<HIQQ", version, caps, nonce, issued) + server_nonce)
        return hashlib.blake2b(msg, key=self.secret, digest_size=16).digest()

    def hello(self, f, peer):
        if len(f) < 32:
            return
        lo, hi, caps, nonce = struct.unpack_from("<HHIQ", f, 16)
        if lo <= VERSION <= hi and len(f) < HELLO_MIN_LEN:
            return  # a version 3 HELLO is padded: dropped
        if not lo <= VERSION <= hi:
            # Header version 1: every client reads that (PROTOCOL.md 9).
            self.plain(hdr(ERROR, 32, version=1, session=0) +
                       struct.pack("<IHHQ", 0, E_VERSION, HELLO, nonce), peer)
            return
        caps &= CAP_AUTH | CAP_ENC
        issued, sn = int(time.monotonic() * 1000), os.urandom(16)
        self.plain(hdr(CHALLENGE, 72, session=0) +
                   struct.pack("<QHHIQ", nonce, VERSION, 0, caps, issued) + sn +
                   self.cookie(peer, VERSION, caps, nonce, issued, sn), peer)

    def refuse(self, code, nonce, peer):
        self.plain(hdr(ERROR, 32, session=0) + struct.pack("<IHHQ", 0, code, AUTH, nonce), peer)

    def auth(self, f, peer):
        if len(f) < 152:
            return
        nonce, version, _, caps, issued = struct.unpack_from("<QHHIQ", f, 16)
        sn, cookie, cn = f[40:56], f[56:72], f[72:88]
        name, proof = f[88:120], f[120:152]
        if not hmac.compare_digest(cookie, self.cookie(peer, version, caps, nonce, issued, sn)):
            return  # not a CHALLENGE of ours to this address
        authed = bool(caps & CAP_AUTH)
        if self.user and not authed:
            return self.refuse(E_AUTH_REQUIRED, nonce, peer)
        if authed:
            want = hmac256(self.key or b"", b"sluice-auth-v3", f[16:24], f[24:26], f[28:32],
                           f[32:40], sn, cookie, cn, name)
            if name.rstrip(b"\0") != self.user or not hmac.compare_digest(want, proof):
                return self.refuse(E_AUTH_FAILED, nonce, peer)
        if (caps & CAP_ENC and not authed) or (authed and self.enc_policy == "required" and
                                               not caps & CAP_ENC):
            return self.refuse(E_ENCRYPTION_REQUIRED, nonce, peer)
        self.peer, self.tx_seq, self.rx_top, self.rx_seen = peer, 0, 0, set()
        self.k_c2s = self.k_s2c = None
        flags = 0
        if authed:
            prk = hmac256(sn + cn, self.key)
            self.k_c2s = hmac256(prk, b"sluice-v3 client->broker\x01")
            self.k_s2c = hmac256(prk, b"sluice-v3 broker->client\x01")
            self.enc = (bool(caps & CAP_ENC) and self.enc_policy != "off") or \
                self.enc_policy == "required"
            flags = WELCOME_F_AUTH | (WELCOME_F_ENC if self.enc else 0)
        self.send(hdr(WELCOME, 56, flags) +
                  struct.pack("<IIQIHHQII", SESSION, 1000, nonce, MAX_PAYLOAD, VERSION, 0,
                              INCARNATION, MAX_MESSAGE, SESSION_TIMEOUT_MS))

    # --- the seal

    def seal(self, inner):
        """One SEAL around the frames @inner (PROTOCOL.md 3)."""
        inner = pad(inner)
        self.tx_seq += 1
        h = hdr(SEAL, 24 + len(inner) + 16, SEAL_F_ENC if self.enc else 0) + \
            struct.pack("<Q", self.tx_seq)
        nonce = struct.pack("<IQ", 1, self.tx_seq)
        if self.enc:
            return h + aead_encrypt(inner, h, nonce, self.k_s2c)
        return h + inner + aead_encrypt(b"", h + inner, nonce, self.k_s2c)

    def open(self, d):
        """The inner bytes of the sealed datagram @d, or None (counted)."""
        flags, length, session = struct.unpack_from("<HII", d, 2)
        self.counts["in"] += 1
        if self.k_c2s is None or length > len(d) or length < 40 or length % 8 or \
                session != SESSION or (self.enc and not flags & SEAL_F_ENC):
            self.counts["bad"] += 1
            return None
        seq = struct.unpack_from("<Q", d, 16)[0]
        nonce = struct.pack("<IQ", 0, seq)
        try:
            if flags & SEAL_F_ENC:
                inner = aead_decrypt(d[24:length], d[:24], nonce, self.k_c2s)
                self.counts["enc"] += 1
            else:
                aead_decrypt(d[length - 16:length], d[:length - 16], nonce, self.k_c2s)
                inner = d[24:length - 16]
        except CryptoError:
            self.counts["bad"] += 1
            return None
        if seq in self.rx_seen or seq + 1024 <= self.rx_top:
            self.counts["bad"] += 1
            return None
        self.rx_seen.add(seq)
        self.rx_top = max(self.rx_top, seq)
        return inner

    def plain(self, d, peer):
        self.s.sendto(d, peer)

    def send(self, d):
        """Frames @d to the session's peer: sealed when it is authenticated."""
        self.s.sendto(self.seal(d) if self.k_s2c else d, self.peer)

    def report(self):
        c = self.counts
        return "seal in %d enc %d plain %d bad %d\n" % (c["in"], c["enc"], c["plain"], c["bad"])


def serve(mode, ss, plan_state, d, peer, log):
    """One datagram from @peer; returns False at the client's GOODBYE."""
    if len(d) >= 16 and d[1] == SEAL:
        if peer != ss.peer:
            return True
        d = ss.open(d)
        if d is None:
            return True
    elif ss.k_c2s is not None and peer == ss.peer:
        if any(t not in (HELLO, AUTH) for t, _ in frames(d)):
            ss.counts["plain"] += 1
            return True
    for t, f in frames(d):
        if t == HELLO:
            ss.hello(f, peer)
        elif t == AUTH:
            ss.auth(f, peer)
        elif peer != ss.peer:
            continue
        elif mode == "group" and group_frame(t, f, ss, plan_state, log):
            continue
        elif t == SUBSCRIBE:
            ss.send(hdr(OK, 24) + struct.pack("<II", struct.unpack_from("<I", f, 16)[0], 0))
            if mode == "lossy":  # the client's window is the first credit
                plan_state["plan"] = lossy_plan(plan_state["piece"])
                plan_state["limit"] = struct.unpack_from("<I", f, 32)[0]
                send_within(ss, plan_state)
        elif t == NAK:
            topic, _, first, last = struct.unpack_from("<IIQQ", f, 16)
            if log:
                log.write("nak %d %d %d\n" % (topic, first, last))
            if topic == TOPIC_ID and 1 <= first <= last <= LOSSY_N:
                for dg in nak_answer(first, last, plan_state["piece"]):
                    ss.send(b"".join(dg))
        elif t == CREDIT:
            topic, _, lim = struct.unpack_from("<IIQ", f, 16)
            if log:
                log.write("credit %d %d\n" % (topic, lim))
            if topic == TOPIC_ID:
                plan_state["limit"] = max(plan_state["limit"], lim)
                send_within(ss, plan_state)
        elif t == RESOLVE:
            req = struct.unpack_from("<I", f, 16)[0]
            ss.send(hdr(TOPIC, 24) + struct.pack("<II", req, TOPIC_ID))
        elif t == HEARTBEAT:
            ss.send(f)
        elif t == PUBLISH:
            for a in answers(mode, struct.unpack_from("<Q", f, 24)[0]):
                ss.send(a)
        elif t == GOODBYE:
            return False
    return True


def gdeliver(ss, st, seq):
    st["count"][seq] = st["count"].get(seq, 0) + 1
    p = b"m%d" % seq
    ss.send(pad(hdr(GDELIVER, 48 + len(p), version=4) +
                struct.pack("<IHHQQII", TOPIC_ID, 0, 0, seq, seq * 1000, GROUP_ID,
                            st["count"][seq]) + p))


def gsend(ss, st):
    """Messages waiting go to the member: all when pushed, as fetched when pulled."""
    while st["waiting"] and (not st["pull"] or st["fetch"] > 0):
        gdeliver(ss, st, st["waiting"].pop(0))
        st["fetch"] -= 1


def group_frame(t, f, ss, st, log):
    """The group frames of mode group; True when @t was one."""
    say = log.write if log else (lambda _: None)
    if t == GJOIN:
        _, credit, member = struct.unpack_from("<IIQ", f, 16)
        name = f[32:64].rstrip(b"\0").decode()
        flags, req = struct.unpack_from("<II", f, 64)
        say("gjoin %s %d %d %d\n" % (name, member, credit, flags))
        ss.send(hdr(GROUP, 56, version=4) +
                struct.pack("<IHHIIIIQII", GROUP_ID, 1, 0, 30000, GROUP_MAX_DELIVERIES, 5000,
                            credit, member, req, 0))
        st["pull"] = flags & 1
        st["waiting"] = list(range(1, GROUP_N + 1))
        gsend(ss, st)
    elif t == GCTL:
        _, op, n, req = struct.unpack_from("<IIII", f, 16)
        say("gctl %d %d\n" % (op, n))
        ss.send(hdr(OK, 24) + struct.pack("<II", req, 0))
        if op == GCTL_FETCH:
            st["fetch"] += n
            gsend(ss, st)
    elif t == GACK:
        flags, n = struct.unpack_from("<HH", f, 20)
        seqs = struct.unpack_from("<%dQ" % n, f, 24)
        say("gack %d %s\n" % (flags, " ".join(str(x) for x in seqs)))
    elif t == GNAK:
        delay, seq, err = struct.unpack_from("<IQI", f, 20)
        say("gnak %d %d %d\n" % (seq, delay, err))
        if st["count"].get(seq, 0) < GROUP_MAX_DELIVERIES:
            gdeliver(ss, st, seq)
    else:
        return False
    return True


def send_within(ss, st):
    """Send the plan's datagrams while their seq is within the credit."""
    plan = st["plan"]
    while plan and plan[0][0] <= st["limit"]:
        ss.send(b"".join(plan.pop(0)[1]))


def main():
    mode, portfile = sys.argv[1], sys.argv[2]
    log = open(sys.argv[3], "w", buffering=1) if len(sys.argv) > 3 else None
    user = os.environ.get("FAKE_USER", "").encode()
    key = bytes.fromhex(os.environ["FAKE_KEY"]) if user else None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.2)
    ss = Session(s, user, key, os.environ.get("FAKE_ENC", "optional"))
    plan_state = {"plan": [], "limit": 0, "piece": FRAG_PIECE,
                  "waiting": [], "pull": 0, "fetch": 0, "count": {}}
    if mode == "group":
        global VERSION
        VERSION = 4  # groups are version 4: CHALLENGE and WELCOME say so
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    end = time.time() + 30
    while time.time() < end:
        try:
            d, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        if not serve(mode, ss, plan_state, d, peer, log):
            break
    if log:
        log.write(ss.report())


if __name__ == "__main__":
    try:
        from nacl.bindings import crypto_aead_chacha20poly1305_ietf_decrypt as aead_decrypt
        from nacl.bindings import crypto_aead_chacha20poly1305_ietf_encrypt as aead_encrypt
        from nacl.exceptions import CryptoError
    except ImportError:
        if os.environ.get("FAKE_USER"):
            sys.exit(77)  # sealing needs PyNaCl (python3-nacl)
    main()
