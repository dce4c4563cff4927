#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Judge a broker pair's run against its acknowledgements and its journals.

    ha_check.py NAME ACKED LOAD_JSON SURVIVOR_DUMP OTHER_DUMP SCENARIOS LEASE_MS REPORT

ACKED is sluice-loadgen's --ack-log ("PUB INDEX WALL_NS EPOCH" per ACK, in
arrival order), LOAD_JSON its report, the dumps `sluice-journal dump --hex`
of the topic on the last primary (SURVIVOR) and on the other node.
SCENARIOS has one line per fault the test made:

    NAME KIND T_CUT T_CUT_DONE T_HEAL EPOCH FENCE_MS

(CLOCK_REALTIME ns, the clock of the ack log: T_CUT just before the fault,
T_CUT_DONE once it was in place, T_HEAL when it was undone; EPOCH the
primary's leader epoch before it; FENCE_MS when the test saw the old primary
stop acknowledging, -1 if not watched). KIND says what must hold while the
fault lasts:

    promote  the primary is cut off from its standby and etcd: its last ACK
             comes within L of the cut, and before the first ACK of a newer
             epoch, which comes no sooner than L after the cut
    keep     the standby is cut off: no newer epoch, the primary acknowledges
             on (alone) before the fault ends
    stall    the pair is cut and neither node reaches etcd: no ACK later
             than L after the cut and no newer epoch until the heal, ACKs
             again after it
    serve    etcd is down, both nodes healthy: ACKs go on, same epoch
    restart  the standby was killed at T_CUT and restarted at T_HEAL: ACKs
             go on, same epoch

Always: every acknowledged message is on the survivor exactly once, no
sequence number holds two different payloads on the two nodes, the
subscriber lost nothing and got no duplicate. Prints one line of numbers a
scenario and writes everything as one JSON line to REPORT. Exit 1 on any
failure.
"""
import json
import struct
import sys

import journal_dump

name, acked_f, load_f, surv_f, other_f, scen_f, lease_ms, report_f = sys.argv[1:9]
L = int(lease_ms) * 1_000_000
# How late the test's clock readings and an ACK's arrival may be against the
# instants the pair acted on (process starts, `ip netns exec`, a loaded
# 2-core machine): the bounds below are L plus this, the order of ACKs exact.
SLACK = 50_000_000
ok = True


def fail(msg):
    global ok
    ok = False
    print(f"[{name}] FAIL: {msg}", file=sys.stderr)


def dump(path):
    """seq -> payload bytes, from sluice-journal dump --hex."""
    return journal_dump.read(path, lambda line: fail(f"{path}: {line}"))


acks = []  # (arrival ns, epoch, (pub, idx))
for line in open(acked_f):
    f = line.split()
    if len(f) >= 4:
        acks.append((int(f[2]), int(f[3]), (int(f[0]), int(f[1]))))
acks.sort()

surv, other = dump(surv_f), dump(other_f)
where = {}
for seq, p in surv.items():
    pub, _run, idx = struct.unpack_from("<IIQ", p)
    k = (pub, idx)
    if k in where:
        fail(f"message {k} stored twice on the survivor (seqs {where[k]} and {seq})")
    where[k] = seq
lost = [a[2] for a in acks if a[2] not in where]
if lost:
    fail(f"{len(lost)} acknowledged messages not on the survivor, e.g. {lost[:5]}")
diff = sorted(s for s in surv.keys() & other.keys() if surv[s] != other[s])
if diff:
    fail(f"{len(diff)} seqs hold different payloads on the two nodes, e.g. {diff[:5]}")
try:
    load = json.loads([x for x in open(load_f) if x.startswith("{")][-1])
except (OSError, IndexError, ValueError):
    load = {}
    fail("no report from sluice-loadgen")
for k in ("lost", "duplicates"):
    if load.get(k) != 0:
        fail(f"subscriber: {k} {load.get(k)}")


def ms(ns):
    return None if ns is None else round(ns / 1e6, 1)


def max_gap(t0, t1):
    """Longest time without an ACK arriving between t0 and t1."""
    ts = [t0] + [a[0] for a in acks if t0 < a[0] < t1] + [t1]
    return max(b - a for a, b in zip(ts, ts[1:]))


scenarios = []
for line in open(scen_f):
    f = line.split()
    if not f:
        continue
    sname, kind = f[0], f[1]
    t_cut, t_done, t_heal, e0 = (int(x) for x in f[2:6])
    fence_ms = float(f[6])
    during = [a for a in acks if t_cut <= a[0] <= t_heal]
    old_after = [a[0] for a in acks if a[0] >= t_cut and a[1] <= e0]
    new = [a[0] for a in acks if a[0] >= t_cut and a[1] > e0]
    new_during = [t for t in new if t <= t_heal]
    after = [a for a in acks if t_heal < a[0]]
    last_old_in_cut = max([t for t in old_after if t <= t_heal], default=None)
    first_new = min(new, default=None)
    r = {"scenario": sname, "kind": kind, "epoch": e0,
         "cut_ms": ms(t_heal - t_cut), "acks_during": len(during),
         "acks_during_old_epoch": sum(1 for a in during if a[1] <= e0),
         "acks_during_new_epoch": len(new_during),
         "last_old_ack_after_cut_ms": ms(None if last_old_in_cut is None
                                         else last_old_in_cut - t_cut),
         "first_new_epoch_ack_after_cut_ms": ms(None if first_new is None
                                                else first_new - t_cut),
         "fence_seen_ms": fence_ms,
         "no_ack_ms": ms(max_gap(t_cut, (after[0][0] if after else t_heal))),
         "acks_after_heal_5s": sum(1 for a in after if a[0] < t_heal + 5_000_000_000)}
    scenarios.append(r)
    bad = []
    if kind == "promote":
        if first_new is None or first_new > t_heal:
            bad.append("the node that reaches etcd did not take over during the cut")
        else:
            if first_new < t_cut + L:
                bad.append("the new primary acknowledged sooner than L after the cut")
            late_old = [t for t in old_after if t >= first_new]
            if late_old:
                bad.append(f"{len(late_old)} ACKs of epoch <= {e0} arrived after the first "
                           "of the new primary: two primaries acknowledging")
        if last_old_in_cut is not None and last_old_in_cut > t_done + L + SLACK:
            bad.append(f"the cut-off primary acknowledged {ms(last_old_in_cut - t_done)} ms "
                       "after the cut (lease L exceeded)")
    elif kind == "keep":
        if new_during:
            bad.append("a newer epoch acknowledged while the standby was cut off")
        if not [a for a in during if a[0] > t_done + L + SLACK]:
            bad.append("the primary did not acknowledge alone while its standby was cut off")
    elif kind == "stall":
        if new_during:
            bad.append("a node was promoted while neither reached etcd")
        late = [a for a in during if a[0] > t_done + L + SLACK]
        if late:
            bad.append(f"{len(late)} ACKs later than L after the cut, with neither etcd "
                       "nor the standby: the primary did not fence itself")
        if not after:
            bad.append("no ACK after the heal")
    elif kind in ("serve", "restart"):
        if new_during:
            bad.append("the leader epoch changed")
        if not [a for a in during if a[0] > t_done + 500_000_000]:
            bad.append("no ACK during the fault: the pair stopped serving")
    for b in bad:
        fail(f"{sname}: {b}")
    print(f"[{name}] {sname}: " + ", ".join(f"{k} {v}" for k, v in r.items()
                                             if k not in ("scenario",)))

rep = {"sent": load.get("sent"), "acked": len(acks), "received": load.get("received"),
       "lost": load.get("lost"), "duplicates": load.get("duplicates"),
       "acked_missing": len(lost), "survivor_records": len(surv),
       "other_records": len(other), "common_seqs": len(surv.keys() & other.keys()),
       "divergent_seqs": len(diff), "events": load.get("events"),
       "scenarios": scenarios}
print(f"[{name}] {len(acks)} acknowledged, {len(lost)} of them missing on the survivor; "
      f"survivor {len(surv)} records, other node {len(other)}, "
      f"{rep['common_seqs']} seqs on both, {len(diff)} with two payloads")
print(f"[{name}] subscriber: sent {rep['sent']}, received {rep['received']}, "
      f"lost {rep['lost']}, duplicates {rep['duplicates']}")
with open(report_f, "w") as f:
    f.write(json.dumps(rep) + "\n")
sys.exit(0 if ok else 1)
