#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Disaster recovery: a DR replica at a remote site, fed asynchronously by
# the pair's primary over an encrypted link that passes through the
# impairment relay (delay and loss both ways; this kernel has no netem):
#
#   bridge TAG-br (the pair's LAN: A, B, the clients) -- veth TAGrb/TAGr0 --
#   TAG-rl: sluice-impair (--both loss, delay) -- veth TAGr1/TAGd0 --
#   TAG-d: dataplane D (ha.dr = yes, peer A, peer2 B), NET.3
#
# Under a sync-acknowledged load through the service address (released once
# A and B persisted each message; D never holds one back) D lags by an
# amount it reports (the primary's LAG frames): sampled and asserted
# bounded. Then the pair fails over with D attached (the primary killed -9,
# the standby takes over at a newer epoch, D follows it and keeps getting
# lag reports, the killed node rejoins as standby). Then the primary site
# dies (kill -9 of both members: dataplanes
# and sluice-control), D is promoted by `sluicectl ha promote --dr`, which
# prints its lag at promotion; the test asserts that D is primary at a new
# epoch in etcd, that every acknowledged message D lacks is within what it
# reported (the reported lag, plus what the old primary acknowledged after
# its last report reached D), that D holds nothing twice, that D
# acknowledges a new publish, and that the old primary, restarted, does not
# lead again (etcd's epoch deposes it).
# DR_RATE msgs/s (default 500), DR_LOSS (default 0.01), DR_DELAY_US (10000).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_ha.sh"
rate=${DR_RATE:-500}
loss=${DR_LOSS:-0.01}
delay=${DR_DELAY_US:-10000}
topic=ha.0
lag_bound=${DR_LAG_BOUND:-5000} # records: what "bounded" means here (10 s of load)
ha_require_pair
[ -x "$SL_BUILD/tools/sluice-impair" ] || { echo "[$T_NAME] skip: sluice-impair not built"; exit 77; }
ha_up
HA_IP[d]="$T_NET.3"
NS_D="$T_TAG-d"
NS_RL="$T_TAG-rl"
relay=

dr_down() {
	ip netns del "$NS_D" 2>/dev/null
	ip netns del "$NS_RL" 2>/dev/null
	return 0
}
dr_cleanup() {
	[ -n "${HA_CTL_PID[d]:-}" ] && kill -KILL "${HA_CTL_PID[d]}" 2>/dev/null
	[ -n "${HA_DP_PID[d]:-}" ] && sl_stop_pid "${HA_DP_PID[d]}"
	rm -rf "/run/sluice/$(ha_name d)" "/var/run/dpdk/$(ha_name d)"
	[ -n "$relay" ] && sl_stop_pid "$relay"
	ha_cleanup
	dr_down
}
trap dr_cleanup EXIT

# The remote site: its namespace behind the relay's namespace, on the LAN.
dr_up() {
	local ns
	dr_down
	for ns in "$NS_D" "$NS_RL"; do
		sl_ns_add "$ns" || return 1
	done
	ip link add "${T_TAG}rb" netns "$T_TAG-br" type veth peer name "${T_TAG}r0" netns "$NS_RL" ||
		return 1
	ip link add "${T_TAG}r1" netns "$NS_RL" type veth peer name "${T_TAG}d0" netns "$NS_D" ||
		return 1
	ip netns exec "$T_TAG-br" ip link set "${T_TAG}rb" master "${T_TAG}br" || return 1
	ip netns exec "$T_TAG-br" ip link set "${T_TAG}rb" up
	ip netns exec "$NS_RL" ip link set "${T_TAG}r0" up
	ip netns exec "$NS_RL" ip link set "${T_TAG}r1" up
	ip netns exec "$NS_D" ip link set "${T_TAG}d0" up
}
dr_up || { t_fail "the remote site's namespaces"; exit 1; }
: >"$T_DIR/relay.log"
ip netns exec "$NS_RL" "$SL_BUILD/tools/sluice-impair" -a "${T_TAG}r0" -b "${T_TAG}r1" \
	--both "loss=$loss,delay-us=$delay" --seed $$ --time 300 >"$T_DIR/relay.log" 2>&1 &
relay=$!
t_wait 5 grep -q relaying "$T_DIR/relay.log" || { t_fail "sluice-impair did not start"; cat "$T_DIR/relay.log"; exit 1; }

# Three dataplanes, the relay and the load share 2 cores here: the pair
# runs the timings demo.sh used for a shared machine (detect 200 ms, lease
# 300 ms; DR_DETECT_MS, DR_LEASE_MS), so that a scheduling stall is not
# taken for a dead primary (a spurious failover fails the test below).
HA_DP_ARGS=(--set durability=sync --set "ha.dr_peer=${HA_IP[d]}"
	--set "ha.detect_ms=${DR_DETECT_MS:-200}" --set "ha.lease_ms=${DR_LEASE_MS:-300}")
acked=$T_DIR/acked
: >"$acked"
t_log "etcd at $HA_ETCD; A ${HA_IP[a]}, B ${HA_IP[b]}, DR ${HA_IP[d]} behind the relay" \
	"(loss $loss, delay $delay us, both ways)"
ha_dp_start a && ha_ctl_start a || { t_fail "node a start"; exit 1; }
ha_wait_role a primary 20 || { t_fail "node a did not become primary"; exit 1; }
ha_dp_start b && ha_ctl_start b || { t_fail "node b start"; exit 1; }
standby_ready() { ha_role_is "$1" standby && ha_in_sync; }
t_wait 30 standby_ready b ||
	{ t_fail "node b did not become the in-sync standby"; exit 1; }
_ha_dp d --set "ha.peer=${HA_IP[a]}" --set "ha.peer2=${HA_IP[b]}" --set ha.dr=yes \
	--set "ha.detect_ms=${DR_DETECT_MS:-200}" --set "ha.lease_ms=${DR_LEASE_MS:-300}" \
	--set "ha.key=$T_DIR/pair.key" --set ha.node=d || { t_fail "node d start"; exit 1; }
ha_ctl_start d || { t_fail "node d's sluice-control"; exit 1; }
ha_wait_role d standby 20 || { t_fail "node d did not follow the primary"; exit 1; }
t_check "d is a DR replica (CnC dp_flags)" test "$(ha_state d dr_replica)" == 1
t_check "a streams to a DR replica (CnC dp_flags)" test "$(ha_state a dr_peer)" == 1

# The load: through the service address, every publish acknowledged once
# A and B persisted it. -S 0: no subscriber (the primary site dies).
ip netns exec "$HA_NS_C" "$SL_BUILD/benchmarks/sluice-loadgen" --host "$HA_VIP" -P 1 -S 0 \
	-r "$rate" -s 64 -d 120 --topic-prefix ha --producer "dr-$T_TAG" --ack-log "$acked" \
	--drain-ms 1000 --warmup-ms 0 --json -q >"$T_DIR/load.json" 2>"$T_DIR/load.err" &
lg=$!
T_BG+=("$lg")
t_wait 20 bash -c "[ \$(wc -l <'$acked') -ge 200 ]" ||
	{ t_fail "the load got no acknowledgements"; cat "$T_DIR/load.err" >&2; exit 1; }

# A u64 of node $1's CnC HA block at offset $2 (dr_lag_records 152,
# dr_report_ms 168), with od: a python start per sample would take a good
# part of a core from three dataplanes on a 2-core machine.
ha_u64() {
	local cnc=/run/sluice/$(ha_name "$1")/cnc off
	off=$(od -An -tu8 -j 112 -N 8 "$cnc" 2>/dev/null | tr -d ' ') && [ -n "$off" ] || return 1
	od -An -tu8 -j $((off + $2)) -N 8 "$cnc" 2>/dev/null | tr -d ' '
}
# dp_epoch (u32 at 76) with od as well.
ha_epoch() {
	local cnc=/run/sluice/$(ha_name "$1")/cnc off
	off=$(od -An -tu8 -j 112 -N 8 "$cnc" 2>/dev/null | tr -d ' ') && [ -n "$off" ] || return 1
	od -An -tu4 -j $((off + 76)) -N 4 "$cnc" 2>/dev/null | tr -d ' '
}
e_start=$(ha_epoch a)
# D's lag while the load runs: its primary's reports, sampled 20 times.
max_lag=0 sum_lag=0 n_lag=0 reports=0
for ((i = 0; i < 20; i++)); do
	sleep 0.25
	l=$(ha_u64 d 152) && [ -n "$l" ] || continue
	[ "$(ha_u64 d 168)" -gt 0 ] 2>/dev/null && reports=$((reports + 1))
	n_lag=$((n_lag + 1)) sum_lag=$((sum_lag + l))
	[ "$l" -gt "$max_lag" ] && max_lag=$l
done
t_log "DR lag under load ($rate msg/s): max $max_lag records, mean $((sum_lag / (n_lag ? n_lag : 1)))" \
	"over $n_lag samples; a's view now $(ha_u64 a 152) records, $(ha_u64 a 160) B"
t_check "d received lag reports" test "$reports" -gt 0
t_check "the DR lag stays bounded (max $max_lag <= $lag_bound records)" test "$max_lag" -le "$lag_bound"
status_d=$("$SL_BUILD/ctl/sluicectl" -n "$(ha_name d)" ha status 2>&1)
t_log "sluicectl ha status on d: $(echo "$status_d" | grep '^dr:')"
t_check "sluicectl ha status shows the DR lag" grep -q '^dr: .*DR replica, [0-9]* records' <<<"$status_d"
t_check "the load is still running" kill -0 "$lg"

# The pair fails over with D attached: a (primary) killed -9, b takes over
# at a new epoch, and D follows b (switching only at the newer epoch; any
# tail a streamed to D alone is truncated by b's TRUNC, so nothing is held
# twice: checked at the end). a restarts as b's standby.
kill -KILL "${HA_DP_PID[a]}" "${HA_CTL_PID[a]}" 2>/dev/null
ha_kill a
ha_wait_role b primary 10 || { t_fail "pair failover: b did not take over"; exit 1; }
e_fo=$(ha_state b epoch)
t_check "pair failover: b primary at a newer epoch ($e_start -> $e_fo)" test "$e_fo" -gt "$e_start"
d_follows() { [ "$(ha_epoch d)" == "$e_fo" ] && [ "$(ha_role d)" == standby ]; }
t_check "pair failover: d follows b at epoch $e_fo" t_wait 10 d_follows
r0=$(ha_u64 d 168)
n0=$(wc -l <"$acked")
t_check "pair failover: b acknowledges the load" t_wait 10 bash -c "[ \$(wc -l <'$acked') -gt $((n0 + 100)) ]"
t_check "pair failover: b reports d's lag to d" t_wait 10 bash -c "[ \"\$(od -An -tu8 -j \$(( \$(od -An -tu8 -j 112 -N 8 /run/sluice/$(ha_name d)/cnc | tr -d ' ') + 168 )) -N 8 /run/sluice/$(ha_name d)/cnc | tr -d ' ')\" -gt '$r0' ]"
t_log "pair failover: d's lag as b reports it: $(ha_u64 d 152) records"
ha_dp_start a && ha_ctl_start a || { t_fail "pair failover: restart of a"; exit 1; }
t_wait 30 standby_ready a || { t_fail "pair failover: a did not rejoin as the in-sync standby"; exit 1; }
e_start=$e_fo
t_check "pair failover: b streams to d (CnC dp_flags)" test "$(ha_state b dr_peer)" == 1

# The primary site dies: both members, kill -9, at once. The pair must
# not have failed over meanwhile (a spurious failover is a failure of its
# own, reported as one: the bound below is D's against its primary).
e0=$(ha_epoch b)
t_check "the pair held still under the load (b primary, a standby, epoch $e_start)" \
	bash -c "[ '$e0' == '$e_start' ] && [ '$(ha_role b)' == primary ] && [ '$(ha_role a)' == standby ]"
n_kill=$(wc -l <"$acked")
kill -KILL "${HA_DP_PID[a]}" "${HA_CTL_PID[a]}" "${HA_DP_PID[b]}" "${HA_CTL_PID[b]}" 2>/dev/null
t_kill=$(date +%s%N)
ha_kill a # reaps them, forgets their PIDs
ha_kill b
t_log "killed b and a (epoch $e0) at $n_kill acknowledged"
kill -KILL "$lg" 2>/dev/null
wait "$lg" 2>/dev/null
# What was in flight through the relay (its delay) arrives; then D is
# promoted by the operator's command.
sleep 0.5
lag_rec=$(ha_u64 d 152)
report_ms=$(ha_u64 d 168)
"$SL_BUILD/ctl/sluicectl" -n "$(ha_name d)" -t 10000 ha promote --dr >"$T_DIR/promote.out" 2>&1
prc=$?
sed "s/^/[$T_NAME] promote: /" "$T_DIR/promote.out"
t_eq "sluicectl ha promote --dr" "$prc" 0
t_check "the promotion states the lag it may lose" \
	grep -q "^DR lag at promotion: $lag_rec records" "$T_DIR/promote.out"
ha_wait_role d primary 10 || t_fail "d is not primary after its promotion"
e1=$(ha_state d epoch)
t_check "etcd names d at a new epoch ($e0 -> $e1)" \
	bash -c "ETCDCTL_API=3 etcdctl --endpoints '$HA_ETCD' get --print-value-only /sluice/pairs/$HA_PAIR/leader | grep -Eq '\"node\" *: *\"d\".*\"epoch\" *: *$e1\\b' && [ $e1 -gt $e0 ]"

# D serves: a new publish acknowledged (its clients would use its address).
ok=0
for ((i = 0; i < 10 && ok == 0; i++)); do
	ha_cl timeout 5 "$SL_BUILD/client/sluice-pub" -h "${HA_IP[d]}" -t "$topic" -m after-dr -a \
		>/dev/null 2>"$T_DIR/pub.err" && ok=1 || sleep 0.3
done
t_eq "d acknowledges a publish after its promotion" "$ok" 1

# The old primary comes back: etcd's epoch deposes it.
ha_dp_start a && ha_ctl_start a || t_fail "restart of a"
t_wait 10 ha_role_is a standby ||
	t_fail "a restarted did not follow the new epoch"
sleep 1
t_check "a restarted is not primary" t_not ha_role_is a primary
t_check "d is still primary" ha_role_is d primary
t_log "a restarted: $(ha_state a role) of epoch $(ha_state a epoch)"
ha_stop a

# D's journal against every acknowledgement.
"$SL_BUILD/ctl/sluicectl" -n "$(ha_name d)" ha status --json >"$T_DIR/d.status" 2>&1
ha_stop d
HA_DP_PID[d]= HA_CTL_PID[d]=
J="$SL_BUILD/persist/sluice-journal"
"$J" dump --hex "$T_DIR/d/journal/$topic" >"$T_DIR/d.dump" 2>"$T_DIR/d.dump.err" ||
	t_fail "sluice-journal dump of d: $(head -n 3 "$T_DIR/d.dump.err")"
PYTHONPATH="$SL_ROOT/tests/e2e" python3 - "$acked" "$T_DIR/d.dump" "$lag_rec" "$report_ms" "$t_kill" "$T_DIR/relay.log" <<'PY' ||
import json, struct, sys

import journal_dump

acked_f, dump_f, lag, report_ms, t_kill, relay_f = sys.argv[1:7]
lag, report_ns, t_kill = int(lag), int(report_ms) * 1000000, int(t_kill)
ok = True


def fail(msg):
    global ok
    ok = False
    print(f"[ha_dr] FAIL: {msg}", file=sys.stderr)


recs = journal_dump.read(dump_f, lambda line: fail(f"d's journal: {line}"))
held = {}
for s, p in recs.items():
    if len(p) < 16:
        continue  # the publish after the promotion
    pub, run, idx = struct.unpack_from("<IIQ", p)
    if (pub, idx) in held:
        fail(f"message {(pub, idx)} stored twice on d (seqs {held[(pub, idx)]} and {s})")
    held[(pub, idx)] = s
acked, lost, after = 0, [], 0
# 5 ms of margin on the report's time: the dataplane's clock is its TSC
# anchored on CLOCK_REALTIME every 100 ms; counting more acks as "after the
# report" only loosens the check by those.
for line in open(acked_f):
    f = line.split()
    if len(f) < 4:
        continue
    acked += 1
    t = int(f[2])
    if t >= report_ns - 5000000:
        after += 1
    if (int(f[0]), int(f[1])) not in held:
        lost.append((int(f[0]), int(f[1]), t))
bound = lag + after
print(f"[ha_dr] acknowledged {acked}, on d {len(held)}, lost {len(lost)}; lag reported at "
      f"promotion {lag} records (report {(t_kill - report_ns) / 1e6:.1f} ms before the kill), "
      f"acknowledged after that report {after}: bound {bound}")
if lost:
    print(f"[ha_dr] lost, first: {lost[:3]}")
if len(lost) > bound:
    fail(f"d lost {len(lost)} acknowledged messages, more than it reported ({lag} + {after})")
try:
    rl = [json.loads(l) for l in open(relay_f) if l.startswith("{")]
    if rl:
        print(f"[ha_dr] relay: {json.dumps(rl[-1])[:400]}")
except (OSError, ValueError):
    pass
sys.exit(0 if ok else 1)
PY
	t_fail "d's journal against the acknowledgements"
t_done
