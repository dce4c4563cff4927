#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A TCP relay to etcd that a test can cut: one node's own path to etcd.

    ha_etcd_relay.py PORTFILE UPSTREAM_PORT [MAX_S]

Listens on 127.0.0.1 (a free port, written to PORTFILE once listening) and
forwards every connection to 127.0.0.1:UPSTREAM_PORT. Both sluice-control
processes of a pair run in the root namespace and would reach etcd over the
same loopback; each goes through a relay of its own instead, so that a test
can take etcd away from one node only.

SIGUSR1 cuts the path the way a partition does: nothing is forwarded either
way and nothing is answered (bytes are read and dropped, new connections are
accepted and then ignored), so the etcd client sees timeouts, not refusals.
SIGUSR2 heals it: connections that lived through the cut (their streams lost
bytes) are closed, and new ones are forwarded again. Counts go to stderr at
the end. Ends by itself after MAX_S seconds (default 600), or on SIGTERM.
"""
import os
import selectors
import signal
import socket
import sys
import time

portfile, up_port = sys.argv[1], int(sys.argv[2])
max_s = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
sel = selectors.DefaultSelector()
peer = {}        # socket -> its other end (None: a blackholed connection)
cut_seen = set()  # sockets open while the path was cut
state = {"cut": False, "run": True}
count = {"conns": 0, "dropped_bytes": 0, "cuts": 0, "refused_upstream": 0}


def close(s):
    for x in (s, peer.get(s)):
        if x is None or x not in peer:
            continue
        sel.unregister(x)
        peer.pop(x, None)
        cut_seen.discard(x)
        x.close()


def on_cut(*_):
    state["cut"] = True
    count["cuts"] += 1
    cut_seen.update(peer.keys())


def on_heal(*_):
    state["cut"] = False
    for s in list(cut_seen):
        close(s)
    cut_seen.clear()


def on_term(*_):
    state["run"] = False


signal.signal(signal.SIGUSR1, on_cut)
signal.signal(signal.SIGUSR2, on_heal)
signal.signal(signal.SIGTERM, on_term)
lsn = socket.socket()
lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsn.bind(("127.0.0.1", 0))
lsn.listen(64)
lsn.setblocking(False)
sel.register(lsn, selectors.EVENT_READ)
with open(portfile + ".tmp", "w") as f:
    f.write(f"{lsn.getsockname()[1]}\n")
os.rename(portfile + ".tmp", portfile)

end = time.monotonic() + max_s
while state["run"] and time.monotonic() < end:
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        if s is lsn:
            try:
                c, _ = lsn.accept()
            except OSError:
                continue
            count["conns"] += 1
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            u = None
            if not state["cut"]:
                u = socket.socket()
                u.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    u.connect(("127.0.0.1", up_port))
                except OSError:
                    # etcd is down: the client sees what it would see.
                    count["refused_upstream"] += 1
                    u.close()
                    c.close()
                    continue
                peer[u] = c
                sel.register(u, selectors.EVENT_READ)
            else:
                cut_seen.add(c)
            peer[c] = u
            sel.register(c, selectors.EVENT_READ)
            continue
        if s not in peer:
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            close(s)
            continue
        if state["cut"] or peer[s] is None:
            count["dropped_bytes"] += len(data)
            continue
        try:
            peer[s].sendall(data)
        except OSError:
            close(s)
for s in list(peer):
    close(s)
print(f"ha_etcd_relay: {count}", file=sys.stderr)
