#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sluice-loadgen against the real dataplane: several publishers and
# subscribers over several topics, nothing lost or duplicated, a sane
# latency report in JSON.
. "$(dirname "$0")/lib.sh"
t_start --set "journal_dir=$T_DIR/journal" --set "durability_rules=lgsync.*=sync"

sl_cl "$T_TAG" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" -P 2 -S 3 --topics 2 \
	-r 4000 -d 2 -s 128 --json >"$T_DIR/lg.json" 2>"$T_DIR/lg.err"
t_eq "loadgen exit status" "$?" 0
python3 - "$T_DIR/lg.json" <<'PY' || t_fail "loadgen report"
import json, sys
r = json.load(open(sys.argv[1]))
keys = ["sent", "received", "lost", "duplicates", "msgs_per_s", "p50_ns", "p90_ns",
        "p99_ns", "p999_ns", "p9999_ns", "max_ns"]
assert list(r)[:len(keys)] == keys, f"keys {list(r)[:len(keys)]}"
# 2 publishers on 2 topics, 3 subscribers on both: every message 3 times.
assert r["sent"] == 8000, r
assert r["received"] == 3 * r["sent"], r
assert r["lost"] == 0 and r["duplicates"] == 0, r
assert 0 < r["p50_ns"] <= r["p90_ns"] <= r["p99_ns"] <= r["p999_ns"] <= r["max_ns"], r
print(f"[loadgen] ok: sent {r['sent']} received {r['received']} p50 {r['p50_ns']} ns "
      f"p99 {r['p99_ns']} ns")
PY
t_eq "dataplane published counter" "$(t_stat publishes)" 8000
t_eq "dataplane delivered counter" "$(t_stat delivers)" 24000

# The same load on topics with the sync policy: every message journaled and
# persisted before delivery, nothing lost.
sl_cl "$T_TAG" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$T_NET.1" -P 2 -S 2 --topics 2 \
	-r 4000 -d 2 --drain-ms 3000 --topic-prefix lgsync --json >"$T_DIR/lgs.json" 2>"$T_DIR/lgs.err"
t_eq "loadgen on sync topics: exit status" "$?" 0
t_eq "sync topics: journaled" "$(( $(t_topic lgsync.0 journal_durable) + $(t_topic lgsync.1 journal_durable) ))" 8000
t_eq "sync topics: journal appends counted" "$(t_stat journal_appends)" 8000
t_done
