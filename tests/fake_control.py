#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake sluice-control for sluicectl's tests: answers docs/CONTROL.md's admin commands.

Usage: fake_control.py SOCKET LOG [--rates flat|nested|none] [--status-counts]

Listens on the UNIX socket SOCKET, answers one JSON object a line from an
in-memory state, and appends each request line to LOG and each answer to
LOG.replies (both flushed at once). The state starts with two topics, one of
them created by a client (unmanaged, with terminal escapes in its name).
Each "stats" call advances the counters by a fixed amount and ts_ns by
exactly one second, so that rates are predictable: publishes +1000,
delivers +2000 per call. The answer has the members sluice-control builds
from the dataplane's counters area (docs/CONTROL.md, "The stats answer").
"rates" (per second, fixed: publishes 777) is flat, {"publishes":777,...}
over the counters only (the default), nested, {"counters":{...},"drops":{...},
"topics":[{"name",...}]} (the shape sluice-control answers), or left out
(none).
With --status-counts, "dataplane.status" gives "workers" and "ports" as
counts, the tables being in the stats answer only.

Misbehaviour on request, for the client's error paths: "topic.show" of
  slow     answers after 3 s
  huge     answers with a 5 MiB line
  garbage  answers with a line that is not JSON
  close    closes the connection without answering
"""

import json
import os
import re
import secrets
import socket
import sys
import threading
import time

NAME_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
PERMS = ("pub", "sub", "admin", "consume")
GROUP_RE = re.compile(r"^[A-Za-z0-9._-]{1,31}$")


class State:
    def __init__(self, rates):
        self.lock = threading.Lock()
        self.rates = rates
        self.next_topic_id = 1
        self.next_uid = 1
        self.topics = {}
        self.users = {}
        self.acl = []  # [{"user","pattern","perms"[,"group"]}]
        self.groups = {}  # (topic, name) -> group
        self.policy = {"auth": "open", "idle": "busy", "rate_limit": 0}
        self.calls = 0
        self.add_topic("orders.eu", "sync", 100, 3600, 64, True)
        self.add_topic("sensors\x1b[2J.raw", "none", 0, 0, 0, False)
        self.topics["orders.eu"].update(subscribers=2, published=1234567, delivered=2469134,
                                        seq=1234567, journal_bytes=67108864)
        # A live group with two members, one disconnected (member state 4).
        g = self.add_group({"topic": "orders.eu", "name": "billing", "policy": "key",
                            "durable": True})
        g.update(members=2, inflight=5, pending=12, delivered=900, redelivered=3, acked=890,
                 dead_lettered=1, live=True)
        g["member_list"] = [
            {"member": "00000000000000a1", "state": 1, "outstanding": 4, "credit": 60,
             "delivered": 500, "acked": 496, "nacked": 1, "session": 7},
            {"member": "00000000000000b2", "state": 4, "outstanding": 1, "credit": 0,
             "delivered": 400, "acked": 394, "nacked": 0, "session": 0}]

    def add_topic(self, name, durability, retain_mb, retain_s, capacity_mb, managed):
        t = {"name": name, "id": self.next_topic_id, "durability": durability,
             "retain_mb": retain_mb, "retain_s": retain_s, "capacity_mb": capacity_mb,
             "managed": managed, "subscribers": 0, "published": 0, "delivered": 0,
             "dropped": 0, "seq": 0, "journal_first": 0, "journal_durable": 0,
             "journal_bytes": 0, "journal_full": 0, "replay_gaps": 0, "deleted": False}
        self.next_topic_id += 1
        self.topics[name] = t
        return t


    def add_group(self, a):
        g = {"topic": a["topic"], "name": a["name"], "policy": a.get("policy", "rr"),
             "ack_wait_ms": a.get("ack_wait_ms", 30000),
             "max_deliveries": a.get("max_deliveries", 5), "grace_ms": a.get("grace_ms", 5000),
             "max_inflight": a.get("max_inflight", 0), "durable": a.get("durable", False),
             "retain": a.get("retain", False), "managed": True, "live": False}
        if "dead_letter" in a:
            g["dead_letter"] = a["dead_letter"]
        self.groups[(g["topic"], g["name"])] = g
        return g


class Refused(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


def need_str(args, key):
    v = args.get(key)
    if not isinstance(v, str):
        raise Refused("invalid", "'%s' is required and must be a string" % key)
    return v


def need_topic(st, name):
    if name not in st.topics:
        raise Refused("not_found", "topic '%s' not found" % name)
    return st.topics[name]


def need_user(st, name):
    if name not in st.users:
        raise Refused("not_found", "user '%s' not found" % name)
    return st.users[name]


def topic_create(st, a):
    name = need_str(a, "name")
    if not NAME_RE.match(name):
        raise Refused("invalid", "topic name '%s' is invalid: 1-200 printable characters, "
                      "no spaces" % name)
    if name in st.topics:
        raise Refused("exists", "topic '%s' exists" % name)
    dur = a.get("durability", "none")
    if dur not in ("none", "async", "sync"):
        raise Refused("invalid", "durability '%s' is invalid" % dur)
    for k in ("retain_mb", "retain_s", "capacity_mb"):
        if not isinstance(a.get(k, 0), int) or a.get(k, 0) < 0:
            raise Refused("invalid", "%s must be a non-negative integer" % k)
    return st.add_topic(name, dur, a.get("retain_mb", 0), a.get("retain_s", 0),
                        a.get("capacity_mb", 0), True)


def topic_delete(st, a):
    name = need_str(a, "name")
    need_topic(st, name)
    del st.topics[name]
    return None


def topic_update(st, a):
    t = need_topic(st, need_str(a, "name"))
    if "durability" in a and a["durability"] != t["durability"]:
        raise Refused("invalid", "topic '%s' has durability %s, which cannot change while the "
                      "topic exists" % (t["name"], t["durability"]))
    for k in ("retain_mb", "retain_s", "capacity_mb", "retransmit_window", "max_message"):
        if k in a:
            if not isinstance(a[k], int) or a[k] < 0:
                raise Refused("invalid", "%s must be a non-negative integer" % k)
            t[k] = a[k]
    if "backpressure" in a:
        t["backpressure"] = a["backpressure"]
    if "encryption" in a:
        if a["encryption"] not in ("off", "optional", "required"):
            raise Refused("invalid", "encryption '%s' is invalid: use off, optional or required"
                          % a["encryption"])
        t["encryption"] = a["encryption"]
    return t


def topic_show(st, a):
    return need_topic(st, need_str(a, "name"))


def user_add(st, a):
    name = need_str(a, "name")
    if not NAME_RE.match(name):
        raise Refused("invalid", "user name '%s' is invalid" % name)
    if name in st.users:
        raise Refused("exists", "user '%s' exists" % name)
    enc = a.get("encryption", "optional")
    if enc not in ENCRYPTION:
        raise Refused("invalid", "encryption '%s' is invalid" % enc)
    u = {"name": name, "uid": st.next_uid, "admin": bool(a.get("admin", False)),
         "key": secrets.token_hex(32), "encryption": enc, "keys": 1}
    st.next_uid += 1
    st.users[name] = u
    return {"name": name, "uid": u["uid"], "key": u["key"]}


ENCRYPTION = ("off", "optional", "required")


def user_update(st, a):
    u = need_user(st, need_str(a, "name"))
    if "encryption" in a:
        if a["encryption"] not in ENCRYPTION:
            raise Refused("invalid", "encryption '%s' is invalid" % a["encryption"])
        u["encryption"] = a["encryption"]
    if "admin" in a:
        u["admin"] = bool(a["admin"])
    return {k: u[k] for k in ("name", "uid", "admin", "encryption", "keys")}


def user_key_add(st, a):
    name = need_str(a, "name")
    u = need_user(st, name)
    if u["keys"] == 2:
        raise Refused("exists", "user '%s' holds two keys already" % name)
    u["keys"] = 2
    u["key"] = secrets.token_hex(32)
    return {"name": name, "uid": u["uid"], "key": u["key"]}


def user_key_retire(st, a):
    name = need_str(a, "name")
    u = need_user(st, name)
    if u["keys"] == 1:
        raise Refused("not_found", "user '%s' holds one key only" % name)
    u["keys"] = 1
    return {k: u[k] for k in ("name", "uid", "admin", "encryption", "keys")}


def user_remove(st, a):
    name = need_str(a, "name")
    need_user(st, name)
    del st.users[name]
    st.acl = [e for e in st.acl if e["user"] != name]
    return None


def check_perms(perms):
    if not isinstance(perms, list) or not perms or any(p not in PERMS for p in perms):
        raise Refused("invalid", "perms must be a list of pub, sub, admin, consume")


def acl_entry(st, a, replace):
    user, pattern = need_str(a, "user"), need_str(a, "pattern")
    need_user(st, user)
    check_perms(a.get("perms"))
    group = a.get("group")
    if group is not None and (not isinstance(group, str) or
                              (group and not GROUP_RE.match(group))):
        raise Refused("invalid", "group name '%s' is invalid" % group)
    for e in st.acl:
        if e["user"] == user and e["pattern"] == pattern:
            e["perms"] = [p for p in PERMS if (p in e["perms"] and not replace)
                          or p in a["perms"]]
            break
    else:
        e = {"user": user, "pattern": pattern, "perms": [p for p in PERMS if p in a["perms"]]}
        st.acl.append(e)
    if replace or group is not None:
        e.pop("group", None)
        if group:
            e["group"] = group
    return [e for e in st.acl if e["user"] == user]


def acl_grant(st, a):
    return acl_entry(st, a, False)


def acl_set(st, a):
    return acl_entry(st, a, True)


def need_group(st, a):
    key = (need_str(a, "topic"), need_str(a, "name"))
    if key not in st.groups:
        raise Refused("not_found", "topic '%s' has no group '%s'" % key)
    return st.groups[key]


def group_view(g):
    return {k: v for k, v in g.items() if k != "member_list"}


def group_create(st, a):
    topic, name = need_str(a, "topic"), need_str(a, "name")
    if not GROUP_RE.match(name):
        raise Refused("invalid", "group name '%s' is invalid: 1-31 characters of A-Z a-z 0-9 "
                      ". _ -" % name)
    t = need_topic(st, topic)
    if a.get("policy", "rr") not in ("rr", "least", "key"):
        raise Refused("invalid", "policy '%s' is invalid" % a["policy"])
    if (topic, name) in st.groups:
        raise Refused("exists", "topic '%s' has a group '%s' already" % (topic, name))
    if a.get("durable") and t["durability"] == "none":
        raise Refused("invalid", "group '%s': topic '%s' has durability none" % (name, topic))
    if name == "refused":
        # As sluice-control answers when the dataplane refuses the command.
        st.add_group(a)
        raise Refused("dataplane", "stored, but the dataplane refused: group 'refused' is "
                      "durable on the dataplane: delete it first (Operation not permitted)")
    return group_view(st.add_group(a))


def group_update(st, a):
    g = need_group(st, a)
    if "durable" in a and a["durable"] != g["durable"]:
        raise Refused("invalid", "group '%s' is %sdurable, which cannot change while it exists"
                      % (g["name"], "" if g["durable"] else "not "))
    for k in ("policy", "ack_wait_ms", "max_deliveries", "grace_ms", "max_inflight",
              "dead_letter", "retain"):
        if k in a:
            g[k] = a[k]
    return group_view(g)


def group_list(st, a):
    if "topic" in a:
        topic = need_str(a, "topic")
        need_topic(st, topic)
        return [group_view(g) for g in st.groups.values() if g["topic"] == topic]
    return [group_view(g) for g in st.groups.values()]


def group_show(st, a):
    g = need_group(st, a)
    return dict(group_view(g), member_list=g.get("member_list", []))


def group_delete(st, a):
    g = need_group(st, a)
    del st.groups[(g["topic"], g["name"])]
    return None


def group_reset(st, a):
    need_group(st, a)
    to = a.get("to")
    if to not in ("earliest", "latest", "seq", "time"):
        raise Refused("invalid", "'to' must be earliest, latest, seq or time")
    if (to == "seq") != ("seq" in a) or (to == "time") != ("time_ns" in a):
        raise Refused("invalid", "'seq' goes with to seq and 'time_ns' with to time")
    return {}


def acl_revoke(st, a):
    user, pattern = need_str(a, "user"), need_str(a, "pattern")
    perms = a.get("perms", list(PERMS))
    check_perms(perms)
    for e in st.acl:
        if e["user"] == user and e["pattern"] == pattern:
            e["perms"] = [p for p in e["perms"] if p not in perms]
            if not e["perms"]:
                st.acl.remove(e)
            return None
    raise Refused("not_found", "no ACL entry for user '%s' on '%s'" % (user, pattern))


def acl_list(st, a):
    if "user" in a:
        return [e for e in st.acl if e["user"] == need_str(a, "user")]
    return st.acl


def policy_set(st, a):
    if not a or set(a) - {"auth", "idle", "rate_limit"}:
        raise Refused("invalid", "policy.set takes auth, idle and/or rate_limit")
    if "auth" in a and a["auth"] not in ("open", "required"):
        raise Refused("invalid", "auth is open or required")
    if "idle" in a and a["idle"] not in ("busy", "backoff"):
        raise Refused("invalid", "idle is busy or backoff")
    if "rate_limit" in a:
        r = a["rate_limit"]
        if type(r) is not int or not 0 <= r <= 100000000:
            raise Refused("invalid", "rate_limit is 0..100000000")
    st.policy.update(a)
    return st.policy


def stats(st, a):
    n = st.calls
    st.calls += 1
    topics = [dict(t, published=t["published"] + 1000 * n, delivered=t["delivered"] + 2000 * n)
              for t in st.topics.values()]
    snap = {"ts_ns": 1764099000000000001 + n * 1000000000, "pid": 1234, "uptime_s": 3723.5,
            "auth_required": 1 if st.policy["auth"] == "required" else 0,
            "idle": st.policy["idle"], "topic_slots_full": 0,
            "counters": {"rx_pkts": 5000000 + 3000 * n, "publishes": 1234567 + 1000 * n,
                         "delivers": 2469134 + 2000 * n, "acks": 0},
            "drops": {"truncated": 7 + n, "no_mbuf": 0, "bad_mac": 3},
            "authz": {"syncs_begun": 1, "syncs_completed": 1, "syncs_abandoned": 0,
                      "sync_users_swept": 0, "sync_acls_swept": 0, "sync_auth_kept": 0,
                      "tables_published": 2},
            "workers": [{"worker": 0, "lcore": 1, "port": 0, "queue": 0, "rx_pkts": 10,
                         "tx_pkts": 20, "sessions": 1}],
            "ports": [{"port": 0, "ipackets": 10, "opackets": 20, "imissed": 0, "ierrors": 0}],
            "topics": topics,
            "groups": [dict({k: v for k, v in group_view(g).items()
                             if k in ("members", "inflight", "pending", "delivered",
                                      "redelivered", "acked", "dead_lettered")},
                            topic=g["topic"], group=g["name"])
                       for g in st.groups.values() if g["live"]]}
    counter_rates = {"rx_pkts": 777, "publishes": 777, "delivers": 1554, "acks": 0}
    if st.rates == "flat":
        snap["rates"] = counter_rates
    elif st.rates == "nested":
        snap["rates"] = {"counters": counter_rates,
                         "drops": {"truncated": 1, "no_mbuf": 0, "bad_mac": 0},
                         "topics": [{"name": t["name"], "published": 777, "delivered": 1554}
                                    for t in topics]}
    return snap


def dataplane_status(st, a):
    if st.status_counts:
        return {"attached": True, "pid": 1234, "uptime_s": 3723.5, "heartbeat_age_ms": 12,
                "workers": 1, "ports": 1, "synced": True, "stale": False}
    return {"attached": True, "pid": 1234, "uptime_s": 3723.5, "heartbeat_age_ms": 12,
            "workers": [{"worker": 0, "lcore": 1, "port": 0, "queue": 0, "rx_pkts": 10,
                         "tx_pkts": 20, "sessions": 1},
                        {"worker": 1, "lcore": 2, "port": 0, "queue": 1, "rx_pkts": 11,
                         "tx_pkts": 21, "sessions": 0}],
            "ports": [{"port": 0, "ipackets": 21, "opackets": 41, "imissed": 0, "ierrors": 0}]}


COMMANDS = {
    "topic.create": topic_create, "topic.delete": topic_delete, "topic.update": topic_update,
    "topic.list": lambda st, a: list(st.topics.values()), "topic.show": topic_show,
    "user.add": user_add, "user.remove": user_remove, "user.update": user_update,
    "user.key_add": user_key_add, "user.key_retire": user_key_retire,
    "user.list": lambda st, a: [{k: u[k] for k in ("name", "uid", "admin", "encryption", "keys")}
                                for u in st.users.values()],
    "acl.grant": acl_grant, "acl.revoke": acl_revoke, "acl.list": acl_list, "acl.set": acl_set,
    "group.create": group_create, "group.list": group_list, "group.show": group_show,
    "group.delete": group_delete, "group.reset": group_reset, "group.update": group_update,
    "policy.set": policy_set, "policy.show": lambda st, a: st.policy,
    "stats": stats, "dataplane.status": dataplane_status,
}


def misbehave(conn, req):
    """The error paths a real daemon should never take; True if one was taken."""
    if req.get("cmd") != "topic.show" or not isinstance(req.get("args"), dict):
        return False
    name = req["args"].get("name")
    if name == "slow":
        time.sleep(3)
        conn.sendall(b'{"ok":true,"result":{}}\n')
    elif name == "huge":
        conn.sendall(b'{"ok":true,"result":"' + b"x" * (5 << 20) + b'"}\n')
    elif name == "garbage":
        conn.sendall(b"this is not json\n")
    elif name == "close":
        pass
    else:
        return False
    return True


def answer(st, line):
    try:
        req = json.loads(line)
    except ValueError:
        return {"ok": False, "code": "invalid", "error": "request is not JSON"}
    fn = COMMANDS.get(req.get("cmd"))
    args = req.get("args", {})
    if fn is None:
        return {"ok": False, "code": "invalid", "error": "unknown command '%s'" % req.get("cmd")}
    if not isinstance(args, dict):
        return {"ok": False, "code": "invalid", "error": "args must be an object"}
    try:
        with st.lock:
            res = fn(st, args)
    except Refused as e:
        return {"ok": False, "code": e.code, "error": e.msg}
    return {"ok": True} if res is None else {"ok": True, "result": res}


def serve(conn, st, log, log_lock):
    with conn:
        f = conn.makefile("rb")
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with log_lock:
                log.write(line + "\n")
                log.flush()
            try:
                req = json.loads(line)
            except ValueError:
                req = {}
            if isinstance(req, dict) and misbehave(conn, req):
                return
            out = json.dumps(answer(st, line), separators=(",", ":"))
            with log_lock:
                log.replies.write(out + "\n")
                log.replies.flush()
            conn.sendall(out.encode() + b"\n")


class Log:
    def __init__(self, path):
        self.f = open(path, "a")
        self.replies = open(path + ".replies", "a")

    def write(self, s):
        self.f.write(s)

    def flush(self):
        self.f.flush()


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    path, log = sys.argv[1], Log(sys.argv[2])
    rates, counts, rest = "flat", False, sys.argv[3:]
    while rest:
        if rest[0] == "--rates" and len(rest) > 1 and rest[1] in ("flat", "nested", "none"):
            rates, rest = rest[1], rest[2:]
        elif rest[0] == "--status-counts":
            counts, rest = True, rest[1:]
        else:
            sys.stderr.write(__doc__)
            return 2
    st = State(rates)
    st.status_counts = counts
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    log_lock = threading.Lock()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, st, log, log_lock), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
