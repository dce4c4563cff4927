#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Read a pair member's high-availability block from its CnC region.

    ha_state.py NAME            one JSON line: the block's fields (docs/HA.md)
    ha_state.py NAME FIELD      that field's value alone ("role" as a word)

NAME is the dataplane's instance name (/run/sluice/NAME/cnc). The block is
struct sl_cnc_ha (common/cnc.h, CnC version 7): its first half written by
sluice-control, its second by the dataplane; "role" and "epoch" are the
dataplane's (what it applies now), "ctl_role" and "ctl_epoch" what control
asked for. Times become ages in ms (-1: never). Exit status 1 when the
region is missing, of another version, or has no HA block.
"""
import json
import struct
import sys
import time

CNC_MAGIC = 0x31434E4345434C53
ROLES = ["single", "unknown", "primary", "standby", "candidate", "fenced"]
HA_OFF_AT = 112  # struct sl_cnc_hdr: ha_off


def role(n):
    return ROLES[n] if n < len(ROLES) else str(n)


def read(name):
    try:
        with open(f"/run/sluice/{name}/cnc", "rb") as f:
            data = f.read()
    except OSError as e:
        sys.exit(f"ha_state: {name}: {e.strerror}")
    magic, version = struct.unpack_from("<QI", data, 0)
    if magic != CNC_MAGIC or version < 7:
        sys.exit(f"ha_state: {name}: CnC version {version}: no HA block (needs 7)")
    off = struct.unpack_from("<Q", data, HA_OFF_AT)[0]
    if off == 0 or off + 192 > len(data):
        sys.exit(f"ha_state: {name}: no HA block")
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    (ctl_gen, ctl_role, ctl_epoch, ack_from, solo_epoch, _r, etcd_ok, ctl_hb) = \
        struct.unpack_from("<QIIQIIQQ", data, off)
    (dp_gen, dp_role, dp_epoch, lease_ms, detect_ms, peer_heard, peer_role, peer_epoch,
     behind_since, caught_up, fenced, lag_records, lag_bytes, cu_done, cu_total) = \
        struct.unpack_from("<QIIIIQIIQIIQQQQ", data, off + 64)
    (dr_lag_records, dr_lag_bytes, dr_report_ms, dp_flags) = \
        struct.unpack_from("<QQQI", data, off + 152)

    def age(t):
        return -1 if t == 0 else round((now - t) / 1e6, 3)

    return {
        "role": role(dp_role), "epoch": dp_epoch, "ctl_role": role(ctl_role),
        "ctl_epoch": ctl_epoch, "ctl_gen": ctl_gen, "dp_gen": dp_gen,
        "solo_epoch": solo_epoch, "ack_from_in_ms": round((ack_from - now) / 1e6, 3)
        if ack_from else 0, "etcd_ok_age_ms": age(etcd_ok), "ctl_heartbeat_age_ms": age(ctl_hb),
        "lease_ms": lease_ms, "detect_ms": detect_ms, "peer_heard_age_ms": age(peer_heard),
        "peer_role": role(peer_role), "peer_epoch": peer_epoch,
        "behind_ms": age(behind_since), "caught_up": caught_up, "fenced": fenced,
        "lag_records": lag_records, "lag_bytes": lag_bytes, "catchup_done": cu_done,
        "catchup_total": cu_total, "dr_lag_records": dr_lag_records,
        "dr_lag_bytes": dr_lag_bytes, "dr_report_ms": dr_report_ms,
        "dr_replica": dp_flags & 1, "dr_peer": (dp_flags >> 1) & 1,
    }


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    st = read(sys.argv[1])
    if len(sys.argv) == 3:
        if sys.argv[2] not in st:
            sys.exit(f"ha_state: no field {sys.argv[2]}")
        print(st[sys.argv[2]])
    else:
        print(json.dumps(st, separators=(",", ":")))


if __name__ == "__main__":
    main()
