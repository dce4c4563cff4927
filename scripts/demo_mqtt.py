#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A QoS 1 stream through an MQTT broker with Debian's standard clients, and its
delivery report (scripts/demo.sh --mqtt; works against any MQTT broker).

mosquitto_sub subscribes at QoS 1; mosquitto_pub -l publishes every line it reads
from its standard input as a QoS 1 message. This script feeds mosquitto_pub
(-M 1000: up to 1000 unacknowledged) one line per message on a fixed schedule
("SEQ DUE_NS padding": message i is due at start + i / rate, written late
rather than skipped), reads what mosquitto_sub
prints, and takes each message's latency as its arrival minus its due time
(CLOCK_MONOTONIC: one host, one clock). So the figures are end to end through
both clients and the broker, the clients' own queueing included. Lost: sent
and never received; duplicates: received more than once (QoS 1 allows them
after a resend; none are expected here).

What the figures include besides the broker: mosquitto_pub, like libmosquitto
by default, sends with Nagle's algorithm on (--nodelay turns it off), so a
small PUBLISH waits until the previous one is acknowledged at the TCP level;
sluice-mqtt acknowledges every read at once (TCP_QUICKACK), but the stream
still goes out in small bursts, and the tail grows with whatever delays the
gateway's next read. --nodelay here passes --nodelay to both clients. Over a
loopback with both clients and the broker on a two-core machine, a busy-polling
dataplane takes one core for itself: the tail is the scheduler's too.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

CLOCK = time.CLOCK_MONOTONIC


def now_ns():
    return time.clock_gettime_ns(CLOCK)


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


class Receiver(threading.Thread):
    """Reads mosquitto_sub's lines: probes, and the stream's SEQ DUE_NS lines."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc = proc
        self.lock = threading.Lock()
        self.probes = 0
        self.seen = set()
        self.dups = 0
        self.lat_ns = []
        self.other = 0
        self.last_ns = now_ns()

    def run(self):
        for raw in self.proc.stdout:
            t = now_ns()
            parts = raw.split()
            with self.lock:
                self.last_ns = t
                if parts and parts[0] == b"probe":
                    self.probes += 1
                    continue
                try:
                    seq, due = int(parts[0]), int(parts[1])
                except (IndexError, ValueError):
                    self.other += 1
                    continue
                if seq in self.seen:
                    self.dups += 1
                    continue
                self.seen.add(seq)
                self.lat_ns.append(t - due)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--user")
    ap.add_argument("--password-file", help="a Sluice credentials file (its key is the password)"
                    " or a file holding the password")
    ap.add_argument("--topic", default="demo/mqtt")
    ap.add_argument("--rate", type=float, default=1000, help="messages/s (default 1000)")
    ap.add_argument("--duration", type=float, default=5, help="seconds of sending (default 5)")
    ap.add_argument("--size", type=int, default=64, help="payload bytes, at least 40 (default 64)")
    ap.add_argument("--nodelay", action="store_true",
                    help="clients with Nagle's algorithm off (mosquitto_pub/sub --nodelay)")
    ap.add_argument("--durability", default="", help="the topic's durability, for the report")
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    a = ap.parse_args()
    say = (lambda *m: None) if a.json else (lambda *m: print("demo:", *m, flush=True))

    auth = []
    if a.user:
        auth += ["-u", a.user]
    if a.password_file:
        pw = None
        with open(a.password_file) as f:
            lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        for l in lines:
            k, _, v = l.partition("=")
            if k.strip() == "key":
                pw = v.strip()
        auth += ["-P", pw if pw is not None else (lines[0] if lines else "")]
    common = ["-h", a.host, "-p", str(a.port), "-q", "1", "-t", a.topic, "-V", "mqttv311"] + auth
    if a.nodelay:
        common.append("--nodelay")
    tag = f"demo-mqtt-{os.getpid()}"
    n = max(1, int(a.rate * a.duration))

    sub = subprocess.Popen(["mosquitto_sub", "-i", tag + "-sub"] + common,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rx = Receiver(sub)
    rx.start()
    pub = None
    try:
        # Subscribed once a probe comes back (mosquitto_sub has no "ready").
        deadline = time.monotonic() + 15
        while rx.probes == 0 and time.monotonic() < deadline and sub.poll() is None:
            subprocess.run(["mosquitto_pub", "-i", tag + "-probe", "-m", "probe"] + common,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
            time.sleep(0.3)
        if rx.probes == 0:
            err = sub.stderr.read1(4096).decode(errors="replace").strip() if sub.poll() is not None else ""
            print(f"demo: mosquitto_sub got nothing within 15 s{': ' + err if err else ''}",
                  file=sys.stderr)
            return 1
        say(f"mosquitto_sub subscribed to '{a.topic}' at QoS 1; mosquitto_pub -l sending {n}"
            f" messages at {a.rate:.0f}/s, QoS 1, {a.size} B")

        # -M: up to 1000 unacknowledged (default 20, which at a journaled
        # topic's PUBACK pace would hold the stream back in the client).
        pub = subprocess.Popen(["mosquitto_pub", "-i", tag + "-pub", "-l", "-M", "1000"] + common,
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        pad_to = max(a.size, 40)
        t0 = now_ns() + 1_000_000
        late = 0
        for i in range(n):
            due = t0 + int(i * 1e9 / a.rate)
            wait = due - now_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
            elif wait < -1_000_000:
                late += 1
            line = f"{i} {due} "
            pub.stdin.write((line + "x" * max(0, pad_to - len(line) - 1) + "\n").encode())
            pub.stdin.flush()
        send_s = (now_ns() - t0) / 1e9
        pub.stdin.close()
        try:
            pub_rc = pub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pub.kill()
            pub_rc = pub.wait()
        # Drain: all of them, or 5 s without a new line.
        while True:
            with rx.lock:
                done = len(rx.seen) >= n
                quiet = now_ns() - rx.last_ns > 5_000_000_000
            if done or quiet:
                break
            time.sleep(0.05)
    finally:
        for p in (pub, sub):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
    rx.join(timeout=5)

    with rx.lock:
        lat = sorted(rx.lat_ns)
        received, dups = len(rx.seen), rx.dups
    lost = n - received
    r = {"sent": n, "received": received, "lost": lost, "duplicates": dups,
         "p50_us": round(pct(lat, 50) / 1e3, 1), "p90_us": round(pct(lat, 90) / 1e3, 1),
         "p99_us": round(pct(lat, 99) / 1e3, 1), "p999_us": round(pct(lat, 99.9) / 1e3, 1),
         "max_us": round((lat[-1] if lat else 0) / 1e3, 1), "qos": 1, "rate": a.rate,
         "send_s": round(send_s, 3), "sent_late_1ms": late, "publisher_exit": pub_rc,
         "clients": "mosquitto_pub -l / mosquitto_sub", "nagle": not a.nodelay,
         "durability": a.durability}
    if a.json:
        print(json.dumps(r))
    else:
        print(f"demo: delivery report (QoS 1, through mosquitto_pub -> broker -> mosquitto_sub)")
        print(f"  sent        {n} in {send_s:.2f} s ({n / send_s:.0f}/s;"
              f" {late} written more than 1 ms late)")
        print(f"  received    {received}")
        print(f"  lost        {lost}")
        print(f"  duplicates  {dups}")
        print(f"  latency     p50 {r['p50_us']} us, p90 {r['p90_us']} us, p99 {r['p99_us']} us,"
              f" p99.9 {r['p999_us']} us, max {r['max_us']} us (due time -> mosquitto_sub's line)")
        print(f"  mosquitto_pub exit status {pub_rc}"
              f"{' (every message handed over)' if pub_rc == 0 else ''}")
        print(f"  clients     mosquitto_pub -l -M 1000 / mosquitto_sub, Nagle's algorithm"
              f" {'off (--nodelay)' if a.nodelay else 'on (their default; --nodelay turns it off)'}")
        if a.durability == "async":
            print("  durability  async: a PUBACK waits for the next periodic persist (at most"
                  " async_lag_ms, 10 ms); deliveries do not")
        elif a.durability == "sync":
            print("  durability  sync: a PUBACK and every delivery wait for the persist barrier")
    return 0 if lost == 0 and pub_rc == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
