# SPDX-License-Identifier: BSD-3-Clause
"""MQTT end-to-end helpers, broker-agnostic: the same commands run against
Debian's mosquitto (the reference that shows a case itself is right) and
against sluice-mqtt. Standard-client traffic goes through paho-mqtt 1.6.1;
what paho cannot show (v5 reason codes on PUBACK, raw malformed packets)
goes through the small raw codec below. Each command prints "ok: ..." or
"FAIL: ..." lines and exits 0 only when every check held; every wait is
bounded.

Run with Debian's /usr/bin/python3 (python3-paho-mqtt):
  mqtt_lib.py COMMAND --port P [--user U --pw PW] [command options]
"""

import argparse
import hashlib
import json
import os
import select
import socket
import struct
import sys
import threading
import time

import paho.mqtt.client as paho

FAILS = []


def ok(what):
    print("ok: %s" % what, flush=True)


def fail(what):
    FAILS.append(what)
    print("FAIL: %s" % what, flush=True)


def check(what, cond, detail=""):
    if cond:
        ok(what)
    else:
        fail("%s%s" % (what, (": " + detail) if detail else ""))
    return cond


def eq(what, got, want):
    if isinstance(want, list) and len(want) > 10 and isinstance(got, list):
        g, w = set(got), set(want)
        detail = "got %d, want %d: missing %d (first %s), unexpected %d (first %s)" % (
            len(got), len(want), len(w - g), sorted(w - g)[:5], len(g - w), sorted(g - w)[:5])
    else:
        detail = "got %r, want %r" % (got, want)
    return check(what, got == want, detail)


# --- payloads: self-checking, so integrity is verified wherever they land ---------
def payload(tag, i):
    """b"TAG:IIIIII:FILL": FILL (0..199 bytes) derived from TAG and I."""
    h = hashlib.sha256(("%s/%d" % (tag, i)).encode()).hexdigest()
    fill = (h * 4)[: (i * 37) % 200]
    return ("%s:%06d:%s" % (tag, i, fill)).encode()


def parse_payload(p):
    """(tag, i) if P is a payload() intact, else None."""
    try:
        s = p.decode()
        tag, idx, _ = s.split(":", 2)
        i = int(idx)
    except (UnicodeDecodeError, ValueError):
        return None
    return (tag, i) if payload(tag, i) == p else None


# --- a raw MQTT codec: enough to speak v3.1.1 and v5 byte by byte -------------------
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mstr(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack(">H", len(b)) + b


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def props(items):
    """v5 properties: ITEMS is a list of (id, bytes already encoded)."""
    b = b"".join(bytes([k]) + v for k, v in items)
    return varint(len(b)) + b


def connect_pkt(cid, v=4, user=None, pw=None, clean=True, keepalive=30, will=None,
                expiry=None, proto_name=b"MQTT", flags_or=0):
    """WILL: (topic, payload, qos, retain)."""
    flags = (0x02 if clean else 0) | flags_or
    tail = mstr(cid)
    if will:
        wt, wp, wq, wr = will
        flags |= 0x04 | (wq << 3) | (0x20 if wr else 0)
        tail += (props([]) if v == 5 else b"") + mstr(wt) + mstr(wp)
    if user is not None:
        flags |= 0x80
        tail += mstr(user)
    if pw is not None:
        flags |= 0x40
        tail += mstr(pw)
    body = mstr(proto_name) + bytes([v, flags]) + struct.pack(">H", keepalive)
    if v == 5:
        body += props([(0x11, struct.pack(">I", expiry))] if expiry is not None else [])
    return packet(CONNECT, 0, body + tail)


def publish_pkt(topic, data, qos=0, mid=None, retain=False, v=4, dup=False):
    body = mstr(topic)
    if qos:
        body += struct.pack(">H", mid)
    if v == 5:
        body += props([])
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    return packet(PUBLISH, flags, body + data)


def subscribe_pkt(mid, filters, v=4):
    body = struct.pack(">H", mid) + (props([]) if v == 5 else b"")
    for f, q in filters:
        body += mstr(f) + bytes([q])
    return packet(SUBSCRIBE, 2, body)


def read_varint(b, off):
    n, mul = 0, 1
    for k in range(4):
        if off + k >= len(b):
            raise ValueError("short varint")
        c = b[off + k]
        n += (c & 0x7F) * mul
        mul *= 128
        if not c & 0x80:
            return n, off + k + 1
    raise ValueError("varint over 4 bytes")


class Closed(Exception):
    pass


class Raw:
    """One TCP connection speaking MQTT by hand."""

    def __init__(self, host, port, timeout=5.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.v = 4

    def send(self, b):
        self.s.sendall(b)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError()
        r, _, _ = select.select([self.s], [], [], left)
        if not r:
            raise TimeoutError()
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            raise Closed()
        self.buf += d

    def read(self, timeout=5.0):
        """(type, flags, body); raises Closed (EOF or reset) or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                try:
                    n, off = read_varint(self.buf, 1)
                    if len(self.buf) >= off + n:
                        h = self.buf[0]
                        body = self.buf[off:off + n]
                        self.buf = self.buf[off + n:]
                        return h >> 4, h & 15, body
                except ValueError:
                    pass
            self._fill(deadline)

    def read_type(self, want, timeout=5.0):
        """The next packet of type WANT, skipping others (PUBLISHes included)."""
        deadline = time.monotonic() + timeout
        while True:
            t, f, b = self.read(max(0.01, deadline - time.monotonic()))
            if t == want:
                return t, f, b

    def closed_within(self, timeout):
        """True when the peer closes within TIMEOUT (what came before is dropped)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                self.buf = b""
        except Closed:
            return True
        except (TimeoutError, OSError):
            return False

    def connect(self, cid, v=4, **kw):
        """(session_present, reason code) from the CONNACK."""
        self.v = v
        self.send(connect_pkt(cid, v=v, **kw))
        t, _, b = self.read()
        if t != CONNACK:
            raise ValueError("expected CONNACK, got type %d" % t)
        return b[0] & 1, b[1]

    def publish_qos(self, topic, data, qos, mid, retain=False):
        """Reason code of the PUBACK (QoS 1) or PUBREC (QoS 2, then PUBREL/PUBCOMP)."""
        self.send(publish_pkt(topic, data, qos=qos, mid=mid, retain=retain, v=self.v))
        t, _, b = self.read_type(PUBACK if qos == 1 else PUBREC)
        rc = b[2] if len(b) > 2 else 0
        if qos == 2 and rc < 0x80:
            self.send(packet(PUBREL, 2, struct.pack(">H", mid)))
            self.read_type(PUBCOMP)
        return rc

    def subscribe(self, mid, filters):
        """The SUBACK's return codes, one per filter."""
        self.send(subscribe_pkt(mid, filters, v=self.v))
        _, _, b = self.read_type(SUBACK)
        off = 2
        if self.v == 5:
            n, off = read_varint(b, off)
            off += n
        return list(b[off:])

    def disconnect(self):
        try:
            self.send(packet(DISCONNECT, 0, b"\x00\x00" if self.v == 5 else b""))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def abort(self):
        """Close with RST, no DISCONNECT: an unclean end for the broker."""
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.s.close()


# --- paho: the standard client ----------------------------------------------------
def proto(v):
    return paho.MQTTv5 if int(v) == 5 else paho.MQTTv311


class Client:
    """A paho client run by its own thread; every wait bounded."""

    def __init__(self, a, cid="", v=4, clean=True, expiry=None, user=None, pw=None, will=None):
        self.v = int(v)
        kw = {"client_id": cid, "protocol": proto(v)}
        if self.v != 5:
            kw["clean_session"] = clean
        self.c = paho.Client(**kw)
        self.clean, self.expiry = clean, expiry
        u = user if user is not None else a.user
        if u:
            self.c.username_pw_set(u, pw if pw is not None else a.pw)
        if will:
            self.c.will_set(*will)
        self.c.max_inflight_messages_set(int(getattr(a, "inflight", 20) or 20))
        self.c.max_queued_messages_set(0)
        self.msgs = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.gone = threading.Event()
        self.subacked = {}
        self.acked = set()
        self.rc = None
        self.session_present = None
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = self._on_publish
        self.c.on_disconnect = self._on_disconnect
        self.host, self.port = a.host, a.port

    def _on_connect(self, c, u, flags, rc, properties=None):
        self.rc = rc if isinstance(rc, int) else rc.value
        self.session_present = flags.get("session present")
        self.connected.set()

    def _on_message(self, c, u, m):
        with self.lock:
            self.msgs.append((m.topic, bytes(m.payload), m.qos, m.retain, time.monotonic()))

    def _on_subscribe(self, c, u, mid, granted, properties=None):
        self.subacked[mid] = [g if isinstance(g, int) else g.value for g in granted]

    def _on_publish(self, c, u, mid):
        with self.lock:
            self.acked.add(mid)

    def _on_disconnect(self, c, u, rc, properties=None):
        self.gone.set()

    def start(self, timeout=10):
        """Connect; the CONNACK code (None when none came within TIMEOUT)."""
        kw = {}
        if self.v == 5:
            from paho.mqtt.properties import Properties
            from paho.mqtt.packettypes import PacketTypes
            p = Properties(PacketTypes.CONNECT)
            if self.expiry is not None:
                p.SessionExpiryInterval = self.expiry
            kw = {"clean_start": self.clean, "properties": p}
        self.c.connect(self.host, self.port, keepalive=30, **kw)
        self.c.loop_start()
        self.connected.wait(timeout)
        return self.rc

    def sub(self, filt, qos, timeout=10):
        """Subscribe and wait for the SUBACK: the granted codes, None on timeout."""
        rc, mid = self.c.subscribe(filt, qos)
        deadline = time.monotonic() + timeout
        while mid not in self.subacked and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.subacked.get(mid)

    def pub(self, topic, data, qos, retain=False):
        return self.c.publish(topic, data, qos=qos, retain=retain)

    def wait_count(self, n, timeout, pred=lambda m: True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if sum(1 for m in self.msgs if pred(m)) >= n:
                    return True
            time.sleep(0.02)
        return False

    def got(self, pred=lambda m: True):
        with self.lock:
            return [m for m in self.msgs if pred(m)]

    def stop(self, clean=True):
        if clean:
            self.c.disconnect()
        self.c.loop_stop()


# --- received files: one format per client, one checker -----------------------------
def load_received(path, fmt):
    """[(topic, payload bytes)] from a paho jsonl, mosquitto_sub -v or sluice-sub -v file."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if fmt == "jsonl":
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    continue  # a line cut short
                out.append((r["t"], bytes.fromhex(r["p"])))
            elif fmt == "mosq":  # "TOPIC PAYLOAD"
                t, _, p = line.partition(b" ")
                out.append((t.decode(errors="replace"), p))
            elif fmt == "sluice":  # "TOPIC SEQ PAYLOAD"
                parts = line.split(b" ", 2)
                if len(parts) == 3:
                    out.append((parts[0].decode(errors="replace"), parts[2]))
    return out


def verify(what, recs, tag, n, exactly_once):
    """All of TAG's 0..N-1 present and intact, first deliveries in order; no
    duplicates when EXACTLY_ONCE. Returns True when all held."""
    idx, bad = [], 0
    for _, p in recs:
        r = parse_payload(p)
        if r is None:
            if not p.startswith(b"probe"):
                bad += 1
            continue
        if r[0] == tag:
            idx.append(r[1])
    seen, first, breaks = set(), [], 0
    for i in idx:
        if i not in seen:
            seen.add(i)
            first.append(i)
    for x, y in zip(first, first[1:]):
        if y < x:
            breaks += 1
    dups = len(idx) - len(seen)
    missing = [i for i in range(n) if i not in seen]
    res = True
    res &= check("%s: all %d received" % (what, n), not missing,
                 "%d missing, first %s" % (len(missing), missing[:5]))
    res &= check("%s: payloads intact" % what, bad == 0, "%d damaged" % bad)
    res &= check("%s: in order" % what, breaks == 0, "%d order breaks" % breaks)
    if exactly_once:
        res &= check("%s: no duplicates" % what, dups == 0, "%d duplicates" % dups)
    elif dups:
        print("note: %s: %d duplicates (allowed at this QoS)" % (what, dups))
    return res


# --- commands -------------------------------------------------------------------------
def cmd_pub(a):
    """Publish COUNT payload(TAG, i) at QOS through paho, paced at RATE/s; with
    --acked FILE, each acknowledged index is appended to FILE as it comes."""
    c = Client(a, cid=a.cid or "", v=a.v)
    rc = c.start()
    if rc != 0:
        fail("pub: CONNACK %r" % rc)
        return
    mids = {}
    accf = open(a.acked, "a") if a.acked else None
    written = set()
    start = time.monotonic()
    for i in range(a.start, a.start + a.count):
        if c.gone.is_set():
            break
        info = c.pub(a.topic, payload(a.tag, i), a.qos, retain=a.retain)
        mids[info.mid] = i
        if a.rate:
            d = start + (i - a.start + 1) / a.rate - time.monotonic()
            if d > 0:
                time.sleep(d)
        if accf:
            with c.lock:
                new = [m for m in c.acked if m not in written]
            for m in new:
                written.add(m)
                accf.write("%d\n" % mids[m])
            accf.flush()
    deadline = time.monotonic() + a.timeout
    while a.qos and time.monotonic() < deadline and not c.gone.is_set():
        with c.lock:
            if len(c.acked) >= len(mids):
                break
        time.sleep(0.02)
    if accf:
        with c.lock:
            new = [m for m in c.acked if m not in written]
        for m in new:
            accf.write("%d\n" % mids[m])
        accf.close()
    if a.qos:
        eq("pub %s: acknowledged" % a.topic, len(c.acked), a.count)
    else:
        ok("pub %s: %d sent" % (a.topic, len(mids)))
    if c.gone.is_set() and not a.allow_drop:
        fail("pub %s: connection lost" % a.topic)
    c.stop()


def cmd_sub(a):
    """Subscribe to FILTER at QOS through paho; write each message as a JSON line
    to OUT; touch READY after the SUBACK; stop after COUNT messages (not counting
    probes) or TIMEOUT seconds."""
    c = Client(a, cid=a.cid or "", v=a.v, clean=not a.persist, expiry=a.expiry)
    rc = c.start()
    if rc != 0:
        fail("sub: CONNACK %r" % rc)
        return
    g = c.sub(a.filter, a.qos)
    if not check("sub %s: SUBACK" % a.filter, g is not None and g[0] < 0x80, "granted %r" % g):
        return
    open(a.ready, "w").close() if a.ready else None
    real = lambda m: not m[1].startswith(b"probe")
    c.wait_count(a.count, a.timeout, real) if a.count else time.sleep(a.timeout)
    time.sleep(a.linger)
    with open(a.out, "w") as f:
        for t, p, q, r, ts in c.got():
            f.write(json.dumps({"t": t, "p": p.hex(), "q": q, "r": int(r)}) + "\n")
    c.stop()


def cmd_gen(a):
    """payload(TAG, i) for i in START..START+COUNT-1, one a line (for -l publishers)."""
    out = sys.stdout.buffer
    for i in range(a.start, a.start + a.count):
        out.write(payload(a.tag, i) + b"\n")


def cmd_check(a):
    verify(a.what, load_received(a.file, a.format), a.tag, a.count, a.exactly_once)


def cmd_probe(a):
    """Publish 'probe' at QoS 0 to TOPIC every 100 ms until FILE holds 'probe'
    (a subscriber without a readiness signal, e.g. mosquitto_sub, is then on)."""
    c = Client(a, v=4)
    if c.start() != 0:
        fail("probe: connect")
        return
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        c.pub(a.topic, b"probe", 0)
        time.sleep(0.1)
        try:
            if b"probe" in open(a.file, "rb").read():
                c.stop()
                ok("probe: subscriber on %s is live" % a.topic)
                return
        except OSError:
            pass
    c.stop()
    fail("probe: subscriber on %s never saw a probe" % a.topic)


def collect(a, filt, qos=1, v=4, cid=""):
    c = Client(a, cid=cid, v=v)
    if c.start() != 0:
        fail("connect for %s" % filt)
        return None
    g = c.sub(filt, qos)
    check("SUBACK for %s" % filt, g is not None and g[0] < 0x80, "granted %r" % g)
    return c


def cmd_wildcards(a):
    """+ and #, 'a/#' matching 'a', '$' topics not matched by a leading wildcard."""
    for v in (4, 5):
        p = "wc%d" % v
        filters = {
            "%s/+/x" % p: ["%s/a/x" % p, "%s/b/x" % p],
            "%s/#" % p: [p, "%s/a" % p, "%s/a/x" % p, "%s/b/x" % p, "%s/a/y" % p,
                         "%s/a/x/z" % p],
            "%s/+" % p: ["%s/a" % p],
            "+/a": ["%s/a" % p, "o%s/a" % p],
            "+/+/x": ["%s/a/x" % p, "%s/b/x" % p],
            "#": None,  # everything published below but '$' ones
            "$%s/#" % p: ["$%s/a" % p, "$%s/a/x" % p],
            "$%s/+/x" % p: ["$%s/a/x" % p],
        }
        topics = [p, "%s/a" % p, "%s/a/x" % p, "%s/b/x" % p, "%s/a/y" % p, "%s/a/x/z" % p,
                  "$%s/a" % p, "$%s/a/x" % p, "o%s/a" % p]
        subs = {f: collect(a, f, 1, v) for f in filters}
        if None in subs.values():
            return
        pc = Client(a, v=v)
        pc.start()
        for t in topics:
            pc.pub(t, ("w:" + t).encode(), 1).wait_for_publish(5)
        pc.pub(p + "/end", b"end", 1).wait_for_publish(5)
        pc.stop()
        # Each subscriber that matches p/end (#, p/#, p/+) has everything before it.
        for f, c in subs.items():
            c.wait_count(1, 5, lambda m: m[1] == b"end") if f in ("#", p + "/#", p + "/+") else None
        time.sleep(0.5)
        for f, c in subs.items():
            got = sorted(m[0] for m in c.got() if m[1].startswith(b"w:") and m[0] in topics)
            want = sorted(t for t in topics if not t.startswith("$")) if filters[f] is None \
                else sorted(filters[f])
            eq("v%d: filter %r gets exactly %s" % (v, f, want), got, want)
            bad = [m[0] for m in c.got() if m[1].startswith(b"w:") and m[1] != ("w:" + m[0]).encode()]
            eq("v%d: %r: each payload is its topic's" % (v, f), bad, [])
            c.stop()


def cmd_retained(a):
    for v in (4, 5):
        t = "rt%d/a" % v
        pc = Client(a, v=v)
        pc.start()
        pc.pub(t, b"r1", 1, retain=True).wait_for_publish(5)
        pc.pub(t, b"r2", 1, retain=True).wait_for_publish(5)
        pc.pub("rt%d/b" % v, b"rb", 1, retain=True).wait_for_publish(5)
        c = collect(a, t, 1, v)
        check("v%d: a new subscriber gets the last retained" % v, c.wait_count(1, 5))
        time.sleep(0.3)
        got = [(m[1], m[3]) for m in c.got()]
        eq("v%d: exactly the last retained, retain flag set" % v, got, [(b"r2", True)])
        pc.pub(t, b"live", 1).wait_for_publish(5)
        c.wait_count(2, 5)
        eq("v%d: a live message comes with the retain flag clear" % v,
           [(m[1], m[3]) for m in c.got()][1:], [(b"live", False)])
        c.stop()
        w = collect(a, "rt%d/#" % v, 1, v)
        w.wait_count(2, 5)
        time.sleep(0.3)
        eq("v%d: a wildcard subscriber gets each topic's retained" % v,
           sorted((m[0], m[1]) for m in w.got()), [(t, b"r2"), ("rt%d/b" % v, b"rb")])
        w.stop()
        pc.pub(t, b"", 1, retain=True).wait_for_publish(5)
        pc.pub("rt%d/b" % v, b"", 1, retain=True).wait_for_publish(5)
        time.sleep(0.3)
        c = collect(a, "rt%d/#" % v, 1, v)
        time.sleep(1.5)
        eq("v%d: an empty retained payload clears it" % v, [m[:2] for m in c.got()], [])
        c.stop()
        pc.stop()


def cmd_will(a):
    """An unclean end delivers the will; a clean DISCONNECT does not."""
    for v in (4, 5):
        t = "wl%d" % v
        s = collect(a, t + "/#", 1, v)
        # Unclean: the socket reset, no DISCONNECT.
        r = Raw(a.host, a.port)
        _, rc = r.connect("will-a-%d" % v, v=v, user=a.user, pw=a.pw,
                          will=(t + "/a", b"gone-a", 1, False))
        eq("v%d: will client connected" % v, rc, 0)
        time.sleep(0.2)
        r.abort()
        check("v%d: socket reset without DISCONNECT: the will is delivered" % v,
              s.wait_count(1, 10, lambda m: m[0] == t + "/a"))
        # Clean: DISCONNECT, then nothing.
        r = Raw(a.host, a.port)
        _, rc = r.connect("will-b-%d" % v, v=v, user=a.user, pw=a.pw,
                          will=(t + "/b", b"gone-b", 1, False))
        eq("v%d: second will client connected" % v, rc, 0)
        time.sleep(0.2)
        r.disconnect()
        # paho, cleanly too (its own DISCONNECT)
        pc = Client(a, cid="will-c-%d" % v, v=v, will=(t + "/c", b"gone-c", 1, False))
        pc.start()
        time.sleep(0.2)
        pc.stop()
        time.sleep(2.0)
        eq("v%d: clean DISCONNECT: no will" % v,
           sorted((m[0], m[1]) for m in s.got()), [(t + "/a", b"gone-a")])
        s.stop()


def cmd_session(a):
    """A persistent session keeps what was published at QoS 1 while it was away."""
    n = a.count
    for v in (4, 5):
        for how in ("disconnect", "reset"):
            t = "%s/s%d%s" % (a.prefix, v, how[0])
            cid = "sess-%d-%s-%d" % (v, how, os.getpid())
            c = Client(a, cid=cid, v=v, clean=False, expiry=300 if v == 5 else None)
            if c.start() != 0:
                fail("v%d: persistent connect" % v)
                continue
            g = c.sub(t, 1)
            check("v%d %s: SUBACK" % (v, how), g is not None and g[0] == 1, "granted %r" % g)
            pc = Client(a, v=v)
            pc.start()
            # One message while connected: the subscription is live.
            pc.pub(t, payload("s", 0), 1).wait_for_publish(5)
            check("v%d %s: live before the disconnect" % (v, how), c.wait_count(1, 10))
            if how == "disconnect":
                c.stop()
            else:
                c.c._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.c.loop_stop()
                c.c._sock.close()
            time.sleep(0.5)
            for i in range(1, n + 1):
                pc.pub(t, payload("s", i), 1)
            deadline = time.monotonic() + 20
            while len(pc.acked) < n + 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            eq("v%d %s: %d published at QoS 1 while away, acknowledged" % (v, how, n),
               len(pc.acked), n + 1)
            pc.stop()
            c2 = Client(a, cid=cid, v=v, clean=False, expiry=300 if v == 5 else None)
            rc = c2.start()
            eq("v%d %s: reconnect accepted" % (v, how), rc, 0)
            eq("v%d %s: session present" % (v, how), bool(c2.session_present), True)
            c2.wait_count(n, 20, lambda m: parse_payload(m[1]) and parse_payload(m[1])[1] >= 1)
            time.sleep(0.3)
            recs = [(m[0], m[1]) for m in c2.got() if parse_payload(m[1]) and
                    parse_payload(m[1])[1] >= 1]
            got = sorted(set(parse_payload(p)[1] for _, p in recs))
            eq("v%d %s: every message published while away delivered" % (v, how),
               got, list(range(1, n + 1)))
            verify("v%d %s" % (v, how), [(t, payload("s", 0))] + recs, "s", n + 1, False)
            # End the session: a clean one with the same id.
            c2.stop()
            c3 = Client(a, cid=cid, v=v, clean=True, expiry=0 if v == 5 else None)
            c3.start()
            c3.stop()


def cmd_psess(a):
    """One visit of persistent session CID: connect with Clean Session 0 (--clean: 1; v5:
    Session Expiry EXPIRY), check Session Present against --present, subscribe
    to FILTER when given, take messages until COUNT of TAG (indices START..
    START+COUNT-1) came or TIMEOUT, LINGER more, PUBACK them (paho does), and
    leave with DISCONNECT. Checks: exactly those indices, in order, none
    twice unless --allow-drop (at least once); with COUNT 0, none at all."""
    c = Client(a, cid=a.cid, v=a.v, clean=a.clean, expiry=a.expiry if a.v == 5 else None)
    dups = []
    orig = c.c.on_message

    def on_msg(cl, u, m):
        if m.dup:
            dups.append(m.mid)
        orig(cl, u, m)
    c.c.on_message = on_msg
    rc = c.start()
    if not check("psess %s: CONNACK 0" % a.cid, rc == 0, "got %r" % rc):
        return
    if a.present is not None:
        eq("psess %s: session present" % a.cid, int(bool(c.session_present)), a.present)
    if a.filter:
        g = c.sub(a.filter, a.qos)
        check("psess %s: SUBACK" % a.cid, g is not None and g[0] == a.qos, "granted %r" % g)
    mine = lambda m: parse_payload(m[1]) is not None and parse_payload(m[1])[0] == a.tag
    if a.count:
        c.wait_count(a.count, a.timeout, mine)
    time.sleep(a.linger)
    recs = [(m[0], m[1]) for m in c.got(mine)]
    c.stop()
    if a.out:
        with open(a.out, "w") as f:
            for t, p in recs:
                f.write(json.dumps({"t": t, "p": p.hex()}) + "\n")
    idx = [parse_payload(p)[1] for _, p in recs]
    print("psess %s: %d received, %d distinct, %d with DUP" % (a.cid, len(idx), len(set(idx)),
                                                                len(dups)))
    if a.count == 0:
        eq("psess %s: nothing delivered again" % a.cid, idx, [])
        return
    extra = sorted(i for i in set(idx) if not a.start <= i < a.start + a.count)
    eq("psess %s: nothing outside %d..%d" % (a.cid, a.start, a.start + a.count - 1),
       extra[:5], [])
    seen = set(idx)
    missing = [i for i in range(a.start, a.start + a.count) if i not in seen]
    check("psess %s: all %d received" % (a.cid, a.count), not missing,
          "%d missing, first %s" % (len(missing), missing[:5]))
    first, had = [], set()
    for i in idx:
        if i not in had:
            had.add(i)
            first.append(i)
    breaks = sum(1 for x, y in zip(first, first[1:]) if y < x)
    check("psess %s: in order" % a.cid, breaks == 0, "%d order breaks" % breaks)
    d = len(idx) - len(seen)
    if a.allow_drop:
        if d:
            print("note: psess %s: %d duplicates (at least once)" % (a.cid, d))
    else:
        eq("psess %s: no duplicates" % a.cid, d, 0)


def cmd_rawsess(a):
    """Persistent session CID over a raw socket (v3.1.1, Clean Session 0), to see
    the DUP flag and to withhold PUBACKs. --what take: subscribe to FILTER at
    QoS 1, read COUNT PUBLISHes of TAG, acknowledge none, close. --what dup:
    reconnect (Session Present 1), read COUNT PUBLISHes of TAG, each with DUP
    set, indices START.. in order, acknowledge them, DISCONNECT."""
    r = Raw(a.host, a.port)
    present, rc = r.connect(a.cid, clean=False, user=a.user, pw=a.pw)
    eq("rawsess %s: CONNACK" % a.cid, rc, 0)
    if a.what == "take":
        eq("rawsess %s: session present" % a.cid, present, 0)
        eq("rawsess %s: SUBACK" % a.cid, r.subscribe(1, [(a.filter, 1)]), [1])
        open(a.ready, "w").close() if a.ready else None
    else:
        eq("rawsess %s: session present" % a.cid, present, 1)
    got, dups = [], 0
    deadline = time.monotonic() + a.timeout
    while len(got) < a.count and time.monotonic() < deadline:
        try:
            t, f, b = r.read(max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        if t != PUBLISH:
            continue
        tl = struct.unpack(">H", b[:2])[0]
        mid = struct.unpack(">H", b[2 + tl:4 + tl])[0]
        pp = parse_payload(b[4 + tl:])
        if pp is None or pp[0] != a.tag:
            continue
        got.append(pp[1])
        dups += 1 if f & 8 else 0
        if a.what == "dup":
            r.send(packet(PUBACK, 0, struct.pack(">H", mid)))
    print("rawsess %s %s: %d received, %d with DUP" % (a.cid, a.what, len(got), dups))
    eq("rawsess %s %s: received" % (a.cid, a.what), got, list(range(a.start, a.start + a.count)))
    if a.what == "dup":
        eq("rawsess %s: DUP on each (sent before the restart)" % a.cid, dups, a.count)
        time.sleep(0.3)
        r.disconnect()
    else:
        eq("rawsess %s: first sending, no DUP" % a.cid, dups, 0)
        r.close()


def cmd_shared(a):
    """$share/G/topic: two members, each message to exactly one; a plain
    subscriber beside them gets every message."""
    n = a.count
    for v in (4, 5):
        t = "sh%d/t" % v
        m1 = collect(a, "$share/g%d/%s" % (v, t), 1, v)
        m2 = collect(a, "$share/g%d/%s" % (v, t), 1, v)
        pl = collect(a, t, 1, v)
        if None in (m1, m2, pl):
            return
        pc = Client(a, v=v)
        pc.start()
        for i in range(n):
            pc.pub(t, payload("sh", i), 1)
        deadline = time.monotonic() + 20
        while len(pc.acked) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        eq("v%d: %d published" % (v, n), len(pc.acked), n)
        pl.wait_count(n, 20)
        deadline = time.monotonic() + 20
        while len(m1.got()) + len(m2.got()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        i1 = [parse_payload(m[1])[1] for m in m1.got() if parse_payload(m[1])]
        i2 = [parse_payload(m[1])[1] for m in m2.got() if parse_payload(m[1])]
        eq("v%d: shared: every message delivered to the group" % v,
           sorted(set(i1) | set(i2)), list(range(n)))
        eq("v%d: shared: none to both members" % v, sorted(set(i1) & set(i2)), [])
        eq("v%d: shared: none twice to one member" % v,
           (len(i1) - len(set(i1)), len(i2) - len(set(i2))), (0, 0))
        # Round robin (mosquitto; docs/MQTT.md for Sluice): near half each.
        check("v%d: shared: each member takes at least a quarter" % v,
              min(len(i1), len(i2)) >= n // 4, "%d and %d" % (len(i1), len(i2)))
        print("note: v%d: shares %d / %d" % (v, len(i1), len(i2)))
        verify("v%d: plain subscriber beside the group" % v, [(m[0], m[1]) for m in pl.got()],
               "sh", n, False)
        for c in (m1, m2, pl, pc):
            c.stop()


def cmd_shared_denied(a):
    """$share/G/T by a user without admin on T, for a group G that does not
    exist: the gateway may not have it created (sluice-control refuses), so
    SUBACK 0x87 (v5) / 0x80 (v3.1.1); the connection goes on."""
    for v in (5, 4):
        r = Raw(a.host, a.port)
        _, rc = r.connect("shd-%d" % v, v=v, user=a.user, pw=a.pw)
        eq("v%d: limited user connects" % v, rc, 0)
        codes = r.subscribe(1, [("$share/gdenied/acl/sub/x", 1)])
        eq("v%d: $share/gdenied/acl/sub/x: SUBACK refused" % v, codes, [0x87 if v == 5 else 0x80])
        eq("v%d: a plain subscription on the same connection still granted" % v,
           r.subscribe(2, [("acl/sub/x", 1)]), [1])
        r.disconnect()


def cmd_auth(a):
    """Bad password / unknown user -> CONNACK refused; the right one accepted."""
    for v, good, bad in ((4, {0}, {4, 5}), (5, {0}, {0x86, 0x87})):
        for what, user, pw in (("wrong password", a.user, a.pw[:-1] + ("0" if a.pw[-1] != "0" else "1")),
                               ("unknown user", "nosuchuser", a.pw),
                               ("no password", a.user, None)):
            r = Raw(a.host, a.port)
            try:
                _, rc = r.connect("auth-%d" % v, v=v, user=user, pw=pw)
            except (Closed, TimeoutError, ValueError) as e:
                rc = "no CONNACK (%s)" % type(e).__name__
            check("v%d: %s: CONNACK refused" % (v, what), rc in bad,
                  "code %r, want one of %s" % (rc, sorted(bad)))
            check("v%d: %s: connection closed after the refusal" % (v, what), r.closed_within(5))
        r = Raw(a.host, a.port)
        _, rc = r.connect("auth-ok-%d" % v, v=v, user=a.user, pw=a.pw)
        eq("v%d: right password: accepted" % v, rc, 0)
        r.disconnect()


def cmd_acl(a):
    """User A.USER may publish under acl/pub/# and subscribe under acl/sub/#
    only: v5 refusals carry 0x87; the allowed operations work end to end."""
    bad_pub = "acl/sub/x"
    for v in (5, 4):
        # A privileged subscriber on everything, first: what is refused must not reach it.
        adm = Client(a, v=v, user=a.user2, pw=a.pw2)
        adm.start()
        g = adm.sub("acl/#", 1)
        check("v%d: privileged subscriber on acl/#" % v, g and g[0] < 0x80, "granted %r" % g)
        r = Raw(a.host, a.port)
        _, rc = r.connect("acl-%d" % v, v=v, user=a.user, pw=a.pw)
        eq("v%d: limited user connects" % v, rc, 0)
        codes = r.subscribe(1, [("acl/pub/x", 1)])
        want = {0x87} if v == 5 else {0x80}
        if a.strict:
            check("v%d: SUBSCRIBE outside the ACL refused" % v, codes and codes[0] in want,
                  "codes %r, want %s" % (codes, sorted(want)))
        else:  # mosquitto grants it and checks each delivery instead
            print("note: v%d: SUBSCRIBE outside the ACL: SUBACK %r (not checked here)" % (v, codes))
        codes = r.subscribe(2, [("acl/sub/x", 1)])
        eq("v%d: SUBSCRIBE inside the ACL granted QoS 1" % v, codes, [1])
        if v == 5:
            rc = r.publish_qos(bad_pub, b"no", 1, 3)
            eq("v5: PUBLISH QoS 1 outside the ACL: PUBACK 0x87", rc, 0x87)
            rc = r.publish_qos(bad_pub, b"no", 2, 4)
            eq("v5: PUBLISH QoS 2 outside the ACL: PUBREC 0x87", rc, 0x87)
        else:
            # v3.1.1 cannot say no: a PUBACK as usual, or the connection
            # closed [MQTT-3.3.5-2]; then again, with the allowed subscription.
            r.send(publish_pkt(bad_pub, b"no", qos=1, mid=3))
            try:
                r.read_type(PUBACK, 5)
                print("note: v4: PUBLISH outside the ACL: PUBACK")
            except Closed:
                print("note: v4: PUBLISH outside the ACL: connection closed")
                r = Raw(a.host, a.port)
                _, rc = r.connect("acl-%d" % v, v=v, user=a.user, pw=a.pw)
                eq("v4: limited user connects again", rc, 0)
                eq("v4: SUBSCRIBE inside the ACL granted QoS 1 again",
                   r.subscribe(2, [("acl/sub/x", 1)]), [1])
            except TimeoutError:
                fail("v4: PUBLISH outside the ACL: neither PUBACK nor close in 5 s")
        rc = r.publish_qos("acl/pub/x", b"yes-%d" % v, 1, 5)
        check("v%d: PUBLISH inside the ACL acknowledged" % v, rc < 0x80, "code %#x" % rc)
        check("v%d: ... and delivered" % v, adm.wait_count(1, 5, lambda m: m[1] == b"yes-%d" % v))
        # The limited user receives on what it may subscribe to.
        adm.pub("acl/sub/x", b"to-limited", 1).wait_for_publish(5)
        try:
            t, f, b = r.read_type(PUBLISH, 5)
            n = struct.unpack(">H", b[:2])[0]
            eq("v%d: limited user receives on its allowed filter, nothing before it" % v,
               (b[2:2 + n], b"to-limited" in b), (b"acl/sub/x", True))
        except (Closed, TimeoutError):
            fail("v%d: limited user got nothing on acl/sub/x" % v)
        time.sleep(0.5)
        eq("v%d: nothing refused reached the privileged subscriber" % v,
           [m[1] for m in adm.got() if m[1] == b"no"], [])
        adm.stop()
        r.disconnect()


def cmd_killpub(a):
    """Publish payload(TAG, i) at QoS 1 until the connection goes (the broker is
    killed) or COUNT are sent; every PUBACKed index is appended to ACKED as it
    comes (flushed: the record survives whatever happens next)."""
    c = Client(a, v=a.v)
    if c.start() != 0:
        fail("killpub: connect")
        return
    mids = {}
    f = open(a.acked, "w")
    done = set()
    start = time.monotonic()
    open(a.ready, "w").close() if a.ready else None
    i = 0
    while i < a.count and not c.gone.is_set() and time.monotonic() - start < a.timeout:
        with c.lock:
            inflight = len(mids) - len(c.acked)
        if inflight < 20:
            mids[c.pub(a.topic, payload(a.tag, i), 1).mid] = i
            i += 1
        else:
            time.sleep(0.001)
        with c.lock:
            new = c.acked - done
        for m in new:
            done.add(m)
            f.write("%d\n" % mids[m])
        if new:
            f.flush()
    time.sleep(0.2)
    with c.lock:
        new = c.acked - done
    for m in new:
        f.write("%d\n" % mids[m])
    f.close()
    print(json.dumps({"sent": i, "acked": len(c.acked), "gone": c.gone.is_set()}))
    c.c.loop_stop()


def cmd_contains(a):
    """Every index in ACKED is among the payloads of FILE (sluice-sub -v)."""
    acked = set(int(x) for x in open(a.acked).read().split())
    got = set()
    bad = 0
    for _, p in load_received(a.file, a.format):
        r = parse_payload(p)
        if r is None:
            bad += 1
        elif r[0] == a.tag:
            got.add(r[1])
    lost = sorted(acked - got)
    check("%d acknowledged, all in the journal" % len(acked), not lost,
          "%d lost, first %s" % (len(lost), lost[:10]))
    check("payloads intact", bad == 0, "%d damaged" % bad)
    check("some messages acknowledged before the kill", len(acked) >= a.min)
    print("note: %d acknowledged, %d in the journal" % (len(acked), len(got)))


# --- case 8: malformed packets, each with its specified answer ------------------------
def answer(r, timeout=3.0):
    """What the broker did: 'close', 'connack:RC', 'disconnect:RC', 'silent'
    (nothing within TIMEOUT), or 'other:TYPE'. A CONNACK or DISCONNECT must be
    followed by the close: ':open' is added when it is not."""
    try:
        t, _, b = r.read(timeout)
    except Closed:
        return "close"
    except TimeoutError:
        return "silent"
    except OSError:
        return "close"
    if t == CONNACK:
        res = "connack:%#x" % (b[1] if len(b) > 1 else -1)
    elif t == DISCONNECT:
        res = "disconnect:%#x" % (b[0] if b else 0)
    else:
        return "other:%d" % t
    return res if r.closed_within(timeout) else res + ":open"


def bad_cases(a):
    """(name, protocol version, connect first?, bytes, accepted answers)."""
    up = dict(user=a.user, pw=a.pw)
    pub = lambda t, v: publish_pkt(t, b"x", qos=0, v=v)
    mal = {"close", "disconnect:0x81"}
    return [
        ("remaining length over 4 bytes", 4, False, b"\x10\xff\xff\xff\xff\x01", {"close"}),
        ("remaining length over 4 bytes after CONNECT", 5, True,
         b"\x30\xff\xff\xff\xff\x01", mal),
        ("remaining length beyond the packet size limit", 5, True,
         b"\x30\xff\xff\xff\x7f" + b"\x00\x01a", {"close", "disconnect:0x95", "disconnect:0x81"}),
        ("remaining length beyond the packet size limit (v3.1.1)", 4, True,
         b"\x30\xff\xff\xff\x7f" + b"\x00\x01a", {"close"}),
        ("protocol level 6", None, False, connect_pkt("bad-level", v=6, **up),
         {"connack:0x1", "connack:0x84"}),
        ("protocol level 3 with name MQTT", None, False, connect_pkt("bad-level3", v=3, **up),
         {"connack:0x1", "connack:0x84"}),
        ("protocol name not MQTT", None, False,
         connect_pkt("bad-name", v=4, proto_name=b"MQXX", **up),
         {"close", "connack:0x1", "connack:0x84", "connack:0x81"}),
        ("PUBLISH before CONNECT", None, False, pub("pre/connect", 4), {"close"}),
        ("SUBSCRIBE before CONNECT", None, False, subscribe_pkt(1, [("pre/#", 0)]), {"close"}),
        ("wildcard + in a PUBLISH topic", 5, True, pub("bad/+/x", 5),
         {"close", "disconnect:0x90", "disconnect:0x81", "disconnect:0x82"}),
        ("wildcard # in a PUBLISH topic", 4, True, pub("bad/#", 4), {"close"}),
        ("SUBSCRIBE with reserved flags 0000", 5, True,
         packet(SUBSCRIBE, 0, struct.pack(">H", 7) + props([]) + mstr("ok/x") + b"\x01"), mal),
        ("SUBSCRIBE with reserved flags 0000 (v3.1.1)", 4, True,
         packet(SUBSCRIBE, 0, struct.pack(">H", 7) + mstr("ok/x") + b"\x01"), {"close"}),
        ("PUBLISH with QoS 3", 5, True, packet(PUBLISH, 6, mstr("ok/x") + b"\x00\x01" + props([])),
         mal),
        ("CONNECT flags reserved bit set", None, False,
         connect_pkt("bad-flag", v=4, flags_or=1, **up), {"close"}),
        # mosquitto 2.0.11 answers PINGRESP: it does not check [MQTT-2.2.2-2]
        ("PINGREQ with flags 0001", 4, True, packet(PINGREQ, 1, b""), {"close"}, "strict"),
        ("invalid UTF-8 in a PUBLISH topic", 5, True, publish_pkt(b"bad/\xff\xfe", b"x", v=5),
         {"close", "disconnect:0x81", "disconnect:0x90"}),
        ("overlong UTF-8 (C0 80) in the client id", None, False,
         connect_pkt(b"id\xc0\x80", v=4, **up), {"close"}),
        ("U+0000 in a SUBSCRIBE filter", 5, True, subscribe_pkt(8, [(b"bad/\x00", 0)], v=5),
         mal),
        ("second CONNECT", 5, True, connect_pkt("again", v=5, **up),
         {"close", "disconnect:0x82"}),
    ]


def cmd_flood(a):
    """Each malformed case ROUNDS times on fresh connections while a healthy
    paho client publishes at QoS 1 to itself; writes {name: count} of what was
    sent to --sent (for the broker's counters)."""
    healthy = Client(a, cid="healthy-%d" % os.getpid(), v=5)
    if healthy.start() != 0:
        fail("healthy client: connect")
        return
    g = healthy.sub("healthy/t", 1)
    check("healthy client subscribed", g and g[0] == 1, "granted %r" % g)
    stop = threading.Event()
    sent = [0]

    def pump():
        i = 0
        t0 = time.monotonic()
        while not stop.is_set() and i < a.count:
            healthy.pub("healthy/t", payload("h", i), 1)
            i += 1
            sent[0] = i
            d = t0 + i / a.rate - time.monotonic()
            if d > 0:
                time.sleep(d)
    th = threading.Thread(target=pump)
    th.start()
    answers = {}
    cases = bad_cases(a)
    cases = [c[:5] for c in cases if len(c) == 5 or a.strict]
    # The rounds spread over the healthy client's run.
    gap = a.count / a.rate / max(1, a.rounds)
    t0 = time.monotonic()
    for rnd in range(a.rounds):
        d = t0 + rnd * gap - time.monotonic()
        if d > 0:
            time.sleep(d)
        for name, v, conn_first, data, accept in cases:
            try:
                r = Raw(a.host, a.port)
            except OSError as e:
                answers.setdefault(name, []).append("connect failed: %s" % e)
                continue
            try:
                if conn_first:
                    _, rc = r.connect("bad-%d" % rnd, v=v, user=a.user, pw=a.pw)
                    if rc != 0:
                        answers.setdefault(name, []).append("CONNACK %d" % rc)
                        continue
                r.send(data)
                answers.setdefault(name, []).append(answer(r))
            except (OSError, Closed, TimeoutError, ValueError) as e:
                answers.setdefault(name, []).append("error %s" % type(e).__name__)
            finally:
                r.close()
    for name, v, conn_first, data, accept in cases:
        got = answers.get(name, [])
        wrong = sorted(set(x for x in got if x not in accept))
        check("%s: %d of %d answered as specified (%s)" % (name, len(got) - len(
            [x for x in got if x not in accept]), a.rounds, "/".join(sorted(accept))),
            not wrong and len(got) == a.rounds, "got %s" % wrong)
    th.join(a.count / a.rate + 30)
    stop.set()
    th.join(5)
    n = sent[0]
    eq("healthy client: all it meant to send was sent", n, a.count)
    deadline = time.monotonic() + 20
    while len(healthy.acked) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    eq("healthy client: every publish acknowledged", len(healthy.acked), n)
    healthy.wait_count(n, 20)
    verify("healthy client (%d messages during the flood)" % n,
           [(m[0], m[1]) for m in healthy.got()], "h", n, False)
    check("healthy client still connected", not healthy.gone.is_set())
    healthy.stop()
    # A new client is served after the flood.
    c = Client(a, v=4)
    eq("a new client connects after the flood", c.start(), 0)
    c.stop()
    if a.sent:
        with open(a.sent, "w") as f:
            json.dump({name: len(answers.get(name, [])) for name, *_ in cases}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--user", default=None)
    ap.add_argument("--pw", default=None)
    ap.add_argument("--user2", default=None)
    ap.add_argument("--pw2", default=None)
    ap.add_argument("--v", type=int, default=4)
    ap.add_argument("--cid", default=None)
    ap.add_argument("--topic")
    ap.add_argument("--filter")
    ap.add_argument("--prefix", default="dur")
    ap.add_argument("--qos", type=int, default=1)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--tag", default="m")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--linger", type=float, default=0.3)
    ap.add_argument("--retain", action="store_true")
    ap.add_argument("--persist", action="store_true")
    ap.add_argument("--expiry", type=int, default=None)
    ap.add_argument("--allow-drop", action="store_true")
    ap.add_argument("--inflight", type=int, default=20)
    ap.add_argument("--out")
    ap.add_argument("--ready")
    ap.add_argument("--acked")
    ap.add_argument("--sent")
    ap.add_argument("--file")
    ap.add_argument("--format", default="jsonl")
    ap.add_argument("--what", default="received")
    ap.add_argument("--exactly-once", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min", type=int, default=1)
    ap.add_argument("--present", type=int, default=None)
    ap.add_argument("--clean", action="store_true")
    ap.add_argument("--strict", action="store_true",
                    help="also what the specification requires and mosquitto does not do")
    a = ap.parse_args()
    cmds = {k[4:]: v for k, v in globals().items() if k.startswith("cmd_")}
    if a.cmd not in cmds:
        print("unknown command %s (%s)" % (a.cmd, ", ".join(sorted(cmds))), file=sys.stderr)
        return 2
    try:
        cmds[a.cmd](a)
    except Exception as e:  # a case that crashed is a failed case, with its cause
        import traceback
        traceback.print_exc()
        fail("%s: %s: %s" % (a.cmd, type(e).__name__, e))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
