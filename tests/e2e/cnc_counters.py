#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Read a dataplane's counters area from its CnC region (docs/COUNTERS.md).

    cnc_counters.py CNC_FILE            every live slot, as JSON lines
    cnc_counters.py CNC_FILE topic      the topics, as one JSON array
    cnc_counters.py CNC_FILE latency    the latency histograms: per topic with a
                                        slot, each metric's count and sum (ns)

A reader of its own, with no knowledge of the counter lists: the labels and
how each value reads come from the area's type table, as sluice-control
takes them. It copies the area under the sample seqlock and drops slots
whose seq was odd or moved, as docs/COUNTERS.md says a reader must.
"""
import json
import struct
import sys
import time

CNC_MAGIC = 0x31434E4345434C53
CNC_VERSION = 7  # 5: partitioned topics (commands only); 6: the latency histograms
# (counters area version 2); 7: the high-availability block (header only)
CTRS_MAGIC = 0x3153525443434C53
CTRS_VERSION = 2
DUR = ["none", "async", "sync"]
BP = ["drop", "block", "disconnect"]
KIND_BOOL, KIND_DUR, KIND_BP, KIND_IDLE = 4, 5, 6, 7


def snapshot(path):
    for _ in range(100):
        with open(path, "rb") as f:
            data = f.read()
        magic, version = struct.unpack_from("<QI", data, 0)
        if magic != CNC_MAGIC or version != CNC_VERSION:
            sys.exit("%s: CnC version %d, this reader reads %d" % (path, version, CNC_VERSION))
        off = struct.unpack_from("<Q", data, 56)[0]
        seq = struct.unpack_from("<Q", data, off + 72)[0]
        with open(path, "rb") as f:
            f.seek(off + 72)
            again = struct.unpack("<Q", f.read(8))[0]
        if seq % 2 == 0 and seq == again:
            return data, off
        time.sleep(0.01)
    sys.exit("%s: the dataplane kept the counters busy" % path)


def cstr(b):
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def slots(path):
    data, off = snapshot(path)
    (magic, version, _hs, type_size, meta_size, n_types, n_slots, per_slot, _used,
     types_off, meta_off, values_off) = struct.unpack_from("<QIIIIIIIIQQQ", data, off)
    if magic != CTRS_MAGIC or version != CTRS_VERSION:
        sys.exit("%s: counters area version %d, this reader reads %d" %
                 (path, version, CTRS_VERSION))
    types = []
    for i in range(n_types):
        base = off + types_off + i * type_size
        name = cstr(data[base:base + 32])
        n = struct.unpack_from("<I", data, base + 32)[0]
        kinds = data[base + 40:base + 40 + 64]
        labels = [cstr(data[base + 104 + 32 * k:base + 136 + 32 * k]) for k in range(n)]
        types.append((name, labels, kinds))
    for i in range(n_slots):
        base = off + meta_off + i * meta_size
        seq, state, typ, owner = struct.unpack_from("<QIII", data, base)
        if state != 1 or seq % 2 or typ >= n_types:
            continue
        name, labels, kinds = types[typ]
        vals = struct.unpack_from("<%dQ" % len(labels), data,
                                  off + values_off + i * per_slot * 8)
        out = {}
        for k, label in enumerate(labels):
            v = vals[k]
            kind = kinds[k]
            out[label] = (bool(v) if kind == KIND_BOOL else
                          DUR[v] if kind == KIND_DUR and v < 3 else
                          BP[v] if kind == KIND_BP and v < 3 else
                          ("backoff" if v else "busy") if kind == KIND_IDLE else v)
        yield name, owner, cstr(data[base + 32:base + 240]), out


def latency(path):
    """Per topic with a histogram slot: {metric: [count, sum_ns]}, the
    workers' blocks added up (docs/COUNTERS.md, Latency histograms)."""
    data, off = snapshot(path)
    hist_off = struct.unpack_from("<Q", data, off + 96)[0]
    if hist_off == 0:
        return []
    h = off + hist_off
    (sub_bits, range_bits, n_buckets, n_metrics, n_slots, n_workers, block_size, _r,
     meta_off, blocks_off) = struct.unpack_from("<8IQQ", data, h)
    if (sub_bits, range_bits, n_buckets, block_size) != (5, 36, 1024, 64 + 1024 * 8):
        sys.exit("%s: a histogram layout this reader does not know" % path)
    names = [cstr(data[h + 64 + 16 * m:h + 80 + 16 * m]) for m in range(n_metrics)]
    out = []
    for i in range(n_slots):
        base = off + meta_off + i * 256
        seq, state, _typ, owner = struct.unpack_from("<QIII", data, base)
        if state != 1 or seq % 2:
            continue
        e = {"name": cstr(data[base + 32:base + 240]), "id": owner}
        for m in range(n_metrics):
            count = total = 0
            for w in range(n_workers):
                b = off + blocks_off + ((i * n_workers + w) * n_metrics + m) * block_size
                total += struct.unpack_from("<Q", data, b)[0]
                count += sum(struct.unpack_from("<1024Q", data, b + 64))
            e[names[m]] = [count, total]
        out.append(e)
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "latency":
        print(json.dumps(latency(sys.argv[1])))
        return
    if len(sys.argv) == 3 and sys.argv[2] == "topic":
        topics = [dict(name=key, id=owner, **vals)
                  for name, owner, key, vals in slots(sys.argv[1]) if name == "topic"]
        print(json.dumps(sorted(topics, key=lambda t: t["id"])))
        return
    for name, owner, key, vals in slots(sys.argv[1]):
        print(json.dumps({"type": name, "owner": owner, "key": key, "values": vals}))


if __name__ == "__main__":
    main()
