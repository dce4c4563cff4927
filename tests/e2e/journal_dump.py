# SPDX-License-Identifier: BSD-3-Clause
"""A topic's records from `sluice-journal dump --hex`, for the pair's checks
(ha_check.py, ha_failover.sh, ha_dr.sh import it)."""


def read(path, on_gap):
    """seq -> payload bytes; on_gap(LINE) for each GAP line (a hole in the
    journal), its record left out."""
    recs, seq, hexs = {}, None, []
    for line in open(path):
        if line[:1].isdigit():
            if seq is not None:
                recs[seq] = bytes.fromhex("".join(hexs))
            head = line.split()
            if "GAP" in head:
                on_gap(line.strip())
                seq = None
                continue
            seq, hexs = int(head[0]), []
        elif line.startswith("    ") and seq is not None:
            hexs.append(line.strip())
    if seq is not None:
        recs[seq] = bytes.fromhex("".join(hexs))
    return recs
