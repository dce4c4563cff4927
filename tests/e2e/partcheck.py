#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check what subscribers of a 4-partition topic printed (tests/e2e/partitions.sh).

  partcheck.py live FILE N      sluice-sub -v --headers of the name: "NAME#P SEQ
                                [key=kK] PUB I" lines; each (PUB, I) of 2 x N once,
                                key kK with K = I mod 40, P the key's partition,
                                I increasing per (PUB, key), every partition used
  partcheck.py journal DIR N    sluice-sub --headers replays DIR/replay.P of each
                                partition P: only keys of P, 2 x N in all
"""
import sys

M = (1 << 64) - 1
PARTS = 4


def khash(b):
    """sl_key_hash, as docs/PROTOCOL.md 7.4 defines it."""
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & M
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M
    return h ^ (h >> 33)


def key_of(tok, line):
    assert tok.startswith("[key=") and tok.endswith("]"), line
    return tok[5:-1]


def live(path, n):
    seen, last, parts = set(), {}, {}
    for line in open(path):
        topic, _seq, tok, pub, i = line.split()
        key, i = key_of(tok, line), int(i)
        assert (pub, i) not in seen, "duplicate: " + line
        seen.add((pub, i))
        assert key == "k%d" % (i % 40), line
        p = int(topic.split("#")[1])
        assert p == khash(key.encode()) % PARTS, "on the wrong partition: " + line
        parts[p] = parts.get(p, 0) + 1
        assert last.get((pub, key), -1) < i, "out of order within its key: " + line
        last[(pub, key)] = i
    assert len(seen) == 2 * n, len(seen)
    assert len(parts) == PARTS, parts
    print("per partition:", sorted(parts.items()))


def journal(d, n):
    total = 0
    for p in range(PARTS):
        for line in open("%s/replay.%d" % (d, p)):
            key = key_of(line.split()[0], line)
            assert khash(key.encode()) % PARTS == p, "partition %d holds key %s" % (p, key)
            total += 1
    assert total == 2 * n, total


if __name__ == "__main__":
    {"live": live, "journal": journal}[sys.argv[1]](sys.argv[2], int(sys.argv[3]))
