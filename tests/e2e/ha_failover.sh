#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Failover of a broker pair under a sync-acknowledged load: kill -9 of the
# primary (its dataplane and its sluice-control: the server dies), HA_CYCLES
# times (default 6; scripts/soak.sh --ha runs 20), the standby taking over
# each time and the killed node restarted to rejoin as the standby, so the
# primary alternates. sluice-loadgen publishes through the service IP as an
# idempotent producer, every publish asking for an ACK, and subscribes; it
# logs each acknowledged publish (--ack-log).
# Asserts: every acknowledged message is in the surviving primary's journal
# exactly once; the subscriber got every message once (loadgen: lost 0,
# duplicates 0); no sequence number holds two different payloads on the two
# nodes; never two primaries at once. Reports the failover time of each
# cycle (the kill to the first ACK after it, the clients' reconnect
# included) and its p50/p99/max: a measurement, not asserted.
# HA_REPORT=FILE: also write the results as one JSON line to FILE.
# HA_RATE msgs/s (default 1000); HA_DETECT_MS, HA_LEASE_MS: pair timings.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"
cycles=${HA_CYCLES:-6}
rate=${HA_RATE:-1000}
topic=ha.0
ha_require_pair
ha_up
HA_DP_ARGS=(--set durability=sync)
# HA_DETECT_MS, HA_LEASE_MS: other pair timings than the dataplane's defaults.
[ -z "${HA_DETECT_MS:-}" ] || HA_DP_ARGS+=(--set "ha.detect_ms=$HA_DETECT_MS")
[ -z "${HA_LEASE_MS:-}" ] || HA_DP_ARGS+=(--set "ha.lease_ms=$HA_LEASE_MS")
acked=$T_DIR/acked
: >"$acked"

n_acked() { wc -l <"$acked"; }
# Exactly one live node is primary (the other standby or starting).
one_primary() { [ "$(ha_role a)" != primary ] || [ "$(ha_role b)" != primary ]; }
# Node $1 is the in-sync standby: its role, and etcd says so.
standby_ready() { ha_role_is "$1" standby && ha_in_sync; }

t_log "etcd at $HA_ETCD; A ${HA_IP[a]}, B ${HA_IP[b]}, service IP $HA_VIP; $cycles cycles"
ha_dp_start a && ha_ctl_start a || { t_fail "node a start"; exit 1; }
ha_wait_role a primary 20 || { t_fail "node a did not become primary"; exit 1; }
ha_dp_start b && ha_ctl_start b || { t_fail "node b start"; exit 1; }
t_wait 30 standby_ready b || { t_fail "node b did not become the in-sync standby"; exit 1; }

# The load: longer than the cycles can take; ended by SIGUSR1 (send phase
# over, the drain still waits for every delivery and ACK).
# ip netns exec execs the tool: $! is sluice-loadgen itself.
ip netns exec "$HA_NS_C" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$HA_VIP" -P 1 -S 1 -r "$rate" -s 64 \
	-d $((cycles * 60 + 60)) --topic-prefix ha --producer "hafo-$T_TAG" --ack-log "$acked" \
	--drain-ms 30000 --warmup-ms 0 --events --json -q >"$T_DIR/load.json" 2>"$T_DIR/load.err" &
lg=$!
T_BG+=("$lg")
t_wait 20 bash -c "[ \$(wc -l <'$acked') -ge 200 ]" ||
	{ t_fail "the load got no acknowledgements"; cat "$T_DIR/load.err" >&2; exit 1; }

fo_ms=()
for ((c = 1; c <= cycles; c++)); do
	# A spurious failover (sluice-control counts them) may have moved the
	# primary since the last cycle, or moves it while this one is set up:
	# whichever node is primary is killed, once the roles held still.
	ready=0
	for ((try = 0; try < 5 && ready == 0; try++)); do
		t_wait 10 ha_primary >/dev/null || break
		p=$(ha_primary)
		s=$(ha_other "$p")
		t_wait 30 standby_ready "$s" || continue
		kill -0 "$lg" 2>/dev/null || break
		# Kill at a different point of the stream each cycle, under load.
		n0=$(n_acked)
		want=$((n0 + 100 + 50 * ((c * 7 + $$) % 10)))
		t_wait 20 bash -c "[ \$(wc -l <'$acked') -ge $want ]" || continue
		e0=$(ha_state "$p" epoch)
		if ha_role_is "$p" primary && ha_role_is "$s" standby &&
			[ "$(ha_state "$s" epoch)" == "$e0" ]; then
			ready=1
		else
			t_log "cycle $c: the roles moved while it was set up: again"
		fi
	done
	kill -0 "$lg" 2>/dev/null || { t_fail "cycle $c: the load generator ended early"; break; }
	[ $ready -eq 1 ] ||
		{ t_fail "cycle $c: no primary with an in-sync standby, under load, that held still"; break; }
	t_kill=$(date +%s%N)
	ha_kill "$p"
	ha_wait_role "$s" primary 10 || { t_fail "cycle $c: $s did not take over"; break; }
	t_prom=$(date +%s%N)
	# The first ACK from a newer primary than the one killed (its leader
	# epoch), after the kill: an ACK the killed one sent just before it
	# died may still arrive after it. The log is in arrival order.
	first=
	for ((i = 0; i < 200; i++)); do
		first=$(awk -v t="$t_kill" -v e="$e0" '$3 > t && $4 > e { print $3; exit }' "$acked")
		[ -n "$first" ] && break
		sleep 0.1
	done
	[ -n "$first" ] || { t_fail "cycle $c: no acknowledgement within 20 s of the kill"; break; }
	ms=$(((first - t_kill) / 1000))
	ms=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
	fo_ms+=("$ms")
	t_log "cycle $c: killed $p (epoch $e0) at $n0 acked; $s primary after" \
		"$(((t_prom - t_kill) / 1000000)) ms (role seen), first ACK of the new primary after $ms ms"
	ha_dp_start "$p" && ha_ctl_start "$p" || { t_fail "cycle $c: restart of $p"; break; }
	t_wait 30 standby_ready "$p" || { t_fail "cycle $c: $p did not rejoin as the in-sync standby"; break; }
	t_check "cycle $c: one primary" one_primary
	t_log "cycle $c: $p rejoined as standby ($(ha_state "$p" catchup_done) records caught up)"
done

kill -USR1 "$lg" 2>/dev/null
for ((i = 0; i < 600; i++)); do # the drain: 30 s at most, and the report
	kill -0 "$lg" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$lg" 2>/dev/null && { t_fail "the load generator did not end"; kill -KILL "$lg"; }
wait "$lg"
lg_rc=$?
t_eq "sluice-loadgen: everything acknowledged and delivered once (exit status)" "$lg_rc" 0
grep -E '^sluice-loadgen: event' "$T_DIR/load.err" | sort | uniq -c | sed 's/^/[ha_failover] /'

# The journals, read with the broker stopped (survivor: the last primary).
surv=$(ha_primary) || surv=
[ -n "$surv" ] || t_fail "no primary at the end"
for n in a b; do # what each node's sluice-control counted (failovers, spurious ones)
	timeout 10 "$SL_BUILD/ctl/sluicectl" -n "$(ha_name "$n")" ha status --json \
		>"$T_DIR/$n.status" 2>&1
	t_log "node $n: $(head -c 700 "$T_DIR/$n.status")"
done
for n in a b; do
	ha_stop "$n"
done
J="$SL_BUILD/persist/sluice-journal"
for n in a b; do
	"$J" dump --hex "$T_DIR/$n/journal/$topic" >"$T_DIR/$n.dump" 2>"$T_DIR/$n.dump.err" ||
		t_fail "sluice-journal dump of node $n: $(head -n 3 "$T_DIR/$n.dump.err")"
done
PYTHONPATH="$SL_ROOT/tests/e2e" python3 - "$acked" "$T_DIR/load.json" "$T_DIR/${surv:-a}.dump" \
	"$T_DIR/$(ha_other "${surv:-a}").dump" "${HA_REPORT:-/dev/null}" "$T_DIR" \
	${fo_ms[@]+"${fo_ms[@]}"} <<'PY' || t_fail "acknowledged messages lost or duplicated, or the journals disagree"
import json, struct, sys

import journal_dump

acked_f, load_f, surv_f, other_f, report_f, tdir = sys.argv[1:7]
fo = [float(x) for x in sys.argv[7:]]
ok = True


def fail(msg):
    global ok
    ok = False
    print(f"[ha_failover] FAIL: {msg}", file=sys.stderr)


def dump(path):
    """seq -> payload bytes, from sluice-journal dump --hex."""
    return journal_dump.read(path, lambda line: fail(f"{path}: {line}"))


surv, other = dump(surv_f), dump(other_f)
where = {}
for seq, p in surv.items():
    pub, run, idx = struct.unpack_from("<IIQ", p)
    k = (pub, idx)
    if k in where:
        fail(f"message {k} stored twice on the survivor (seqs {where[k]} and {seq})")
    where[k] = seq
n_acked = 0
for line in open(acked_f):
    pub, idx = line.split()[:2]
    n_acked += 1
    if (int(pub), int(idx)) not in where:
        fail(f"acknowledged message (publisher {pub}, index {idx}) not on the survivor")
diff = [s for s in surv.keys() & other.keys() if surv[s] != other[s]]
if diff:
    fail(f"{len(diff)} seqs hold different payloads on the two nodes, e.g. {sorted(diff)[:5]}")
try:
    load = json.loads([l for l in open(load_f) if l.startswith("{")][-1])
except (OSError, IndexError, ValueError):
    load = {}
    fail("no report from sluice-loadgen")
fo_s = sorted(fo)


def pct(q):
    return fo_s[min(len(fo_s) - 1, int(q * len(fo_s)))] if fo_s else None


rep = {"sent": load.get("sent"), "acked": n_acked, "received": load.get("received"),
       "lost": load.get("lost"), "duplicates": load.get("duplicates"),
       "failovers": len(fo), "failover_ms": fo, "failover_ms_p50": pct(0.5),
       "failover_ms_p99": pct(0.99), "failover_ms_max": fo_s[-1] if fo_s else None,
       "survivor_records": len(surv), "other_records": len(other),
       "common_seqs": len(surv.keys() & other.keys()), "divergent_seqs": len(diff),
       "loadgen_acked": load.get("acked"), "refused": load.get("refused"),
       "events": load.get("events")}
# Spurious failovers the last run of each node's sluice-control counted
# (a node restarted by the test counts from its restart).
spurious = 0
for n in "ab":
    try:
        spurious += json.load(open(f"{tdir}/{n}.status")).get("spurious_failovers", 0)
    except (OSError, ValueError):
        pass
rep["spurious_failovers"] = spurious
for k in ("lost", "duplicates"):
    if load.get(k) != 0:
        fail(f"subscriber: {k} {load.get(k)}")
print(f"[ha_failover] {n_acked} acknowledged, all on the survivor once"
      if ok else "[ha_failover] journal checks failed")
print(f"[ha_failover] survivor {len(surv)} records, other node {len(other)}, "
      f"{rep['common_seqs']} seqs on both, {len(diff)} with two payloads")
print(f"[ha_failover] spurious failovers (sluice-control's count since each node's last start): "
      f"{spurious}")
print(f"[ha_failover] subscriber: sent {rep['sent']}, received {rep['received']}, "
      f"lost {rep['lost']}, duplicates {rep['duplicates']}")
if fo:
    print(f"[ha_failover] failover ms per cycle: {' '.join(f'{x:.1f}' for x in fo)}")
    print(f"[ha_failover] failover ms p50 {rep['failover_ms_p50']:.1f}, "
          f"p99 {rep['failover_ms_p99']:.1f}, max {rep['failover_ms_max']:.1f} "
          f"over {len(fo)} cycles")
with open(report_f, "w") as f:
    f.write(json.dumps(rep) + "\n")
sys.exit(0 if ok else 1)
PY
t_eq "failover cycles completed" "${#fo_ms[@]}" "$cycles"
t_done
