#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sluice-control --etcd and sluicectl ha, end to end: a real etcd on free 127.0.0.1 ports,
# two fake pair-member dataplanes (fake_dataplane.c, SLUICE_FAKE_HA=1), two sluice-controls:
# the first node leads epoch 1, the second follows; ha status (text, --json), ha promote's
# refusals, the flags' errors, and the answer of a sluice-control without --etcd.
set -u

B=${SL_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
CTL=$B/ctl/sluicectl
CONTROL=$B/control/sluice-control
FAKE=$B/tests/fake_dataplane
for f in "$CTL" "$CONTROL" "$FAKE"; do [ -x "$f" ] || { echo "FAIL: $f not built"; exit 1; }; done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the CnC region lives under /run/sluice (root)"; exit 77; }
command -v etcd >/dev/null || { echo "SKIP: etcd not installed (scripts/setup.sh)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }

T=$(mktemp -d /tmp/sl-ctlha.XXXXXX)
NA=ctlhaa$$
NB=ctlhab$$
PIDS=()
cleanup() {
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[$i]}" 2>/dev/null && wait "${PIDS[$i]}" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
	rm -rf "/run/sluice/$NA" "/run/sluice/$NB"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(free_port); P2=$(free_port)
URL=http://127.0.0.1:$P1
etcd --data-dir "$T/etcd" --listen-client-urls "$URL" --advertise-client-urls "$URL" \
	--listen-peer-urls "http://127.0.0.1:$P2" --initial-advertise-peer-urls "http://127.0.0.1:$P2" \
	--initial-cluster "default=http://127.0.0.1:$P2" >"$T/etcd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
	curl -s -m 1 -X POST "$URL/v3/kv/range" -d '{"key":"eA=="}' >/dev/null 2>&1 && break
	sleep 0.05
done

FAILS=0
CASE=""
fail() { echo "FAIL [$CASE]: $*"; echo "  stdout: $(head -c 1500 "$T/out")"; \
	echo "  stderr: $(head -c 1500 "$T/err")"; FAILS=$((FAILS + 1)); }
ctl() { CASE="sluicectl $*"; "$CTL" "$@" >"$T/out" 2>"$T/err"; RC=$?; }
rc_is() { [ "$RC" -eq "$1" ] || fail "exit status $RC, expected $1"; }
out_has() { grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1'"; }
err_has() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1'"; }
out_json() {
	python3 -I -S - "$T/out" "$1" <<'PY' || fail "--json output: $1"
import json, sys
v = json.loads(open(sys.argv[1]).read())
assert eval(sys.argv[2]), sys.argv[2]
PY
}
# Until ha status --json of socket $1 satisfies python expression $2 (10 s at most).
wait_ha() {
	local end=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$end" ]; do
		"$CTL" -s "$1" --json ha status >"$T/out" 2>/dev/null &&
			python3 -I -S -c "import json,sys; v=json.load(open('$T/out')); sys.exit(0 if ($2) else 1)" &&
			return 0
		sleep 0.05
	done
	CASE="wait_ha $1 $2"; fail "not within 10 s"
}

# The flags.
CASE="--pair without --etcd"
"$CONTROL" -n "$NA" --pair p --state-dir "$T/x" >"$T/out" 2>"$T/err"; RC=$?
rc_is 2; err_has "--pair and --node need --etcd"
CASE="--advertise without --etcd"
"$CONTROL" -n "$NA" --advertise 10.0.0.1:9500 --state-dir "$T/x" >"$T/out" 2>"$T/err"; RC=$?
rc_is 2; err_has "--advertise needs --etcd and --pair"
CASE="--etcd without --pair"
"$CONTROL" -n "$NA" --etcd "$URL" --state-dir "$T/x" >"$T/out" 2>"$T/err"; RC=$?
rc_is 2; err_has "--etcd needs --pair"
CASE="--etcd not a URL"
"$CONTROL" -n "$NA" --etcd 127.0.0.1:1 --pair p --state-dir "$T/x" --socket "$T/x.sock" \
	--metrics off >"$T/out" 2>"$T/err"; RC=$?
rc_is 1; err_has "http:// or https://"
CASE="--help"
"$CONTROL" --help >"$T/out" 2>&1; RC=$?
rc_is 0; out_has "--etcd URL[,URL]"; out_has "--pair NAME"; out_has "--node NAME"

# Node A first, then node B.
SLUICE_FAKE_HA=1 "$FAKE" "$NA" "$T/dpa.log" 2>"$T/dpa.err" & PIDS+=($!)
SLUICE_FAKE_HA=1 "$FAKE" "$NB" "$T/dpb.log" 2>"$T/dpb.err" & PIDS+=($!)
"$CONTROL" -n "$NA" --etcd "$URL" --pair pq --node a --state-dir "$T/sa" --socket "$T/a.sock" \
	--metrics off 2>"$T/ca.err" & PIDS+=($!)
wait_ha "$T/a.sock" "v['role'] == 'primary' and v['epoch'] == 1"
"$CONTROL" -n "$NB" --etcd "http://127.0.0.1:$(free_port),$URL" --pair pq --node b \
	--state-dir "$T/sb" --socket "$T/b.sock" --metrics off 2>"$T/cb.err" & PIDS+=($!)
wait_ha "$T/b.sock" "v['role'] == 'standby' and v['epoch'] == 1"

ctl -s "$T/a.sock" ha status
rc_is 0
out_has "node:        a (pair pq)"
out_has "role:        primary, epoch 1 (acknowledging sync publishes alone)"
out_has "dataplane:   primary, epoch 1"
out_has "leader:      a, epoch 1, standby in sync: no"
out_has "etcd:        reachable $URL ("
ctl -s "$T/b.sock" --json ha status
rc_is 0
out_json "v['node'] == 'b' and v['pair'] == 'pq' and v['role'] == 'standby'"
out_json "v['leader'] == {'node': 'a', 'epoch': 1, 'insync': False} and v['insync'] is False"
out_json "v['dataplane']['role'] == 'standby' and v['dataplane']['lease_ms'] == 100"
out_json "v['etcd']['reachable'] and v['etcd']['endpoint'] == '$URL'"
out_json "v['failovers'] == 0 and v['spurious_failovers'] == 0 and v['solo'] is False"
out_json "v['catchup'] == {'done': 0, 'total': 0} and v['lag_records'] == 0"

# What etcd holds.
CASE="etcd keys"
curl -s -X POST "$URL/v3/kv/range" \
	-d "{\"key\":\"$(printf /sluice/pairs/pq/ | base64)\",\"range_end\":\"$(printf /sluice/pairs/pq0 | base64)\"}" \
	>"$T/out"
python3 -I -S - "$T/out" <<'PY' || fail "the keys under /sluice/pairs/pq/"
import base64, json, sys
kv = {base64.b64decode(k["key"]).decode(): json.loads(base64.b64decode(k["value"]))
      for k in json.load(open(sys.argv[1]))["kvs"]}
assert kv["/sluice/pairs/pq/leader"] == {"node": "a", "epoch": 1, "insync": False}, kv
assert kv["/sluice/pairs/pq/nodes/a"]["role"] == "primary", kv
assert kv["/sluice/pairs/pq/nodes/b"]["role"] == "standby", kv
assert kv["/sluice/pairs/pq/nodes/b"]["epoch"] == 1, kv
PY

# ha promote: --force required; a primary is refused.
ctl -s "$T/a.sock" ha promote
rc_is 2; err_has "needs --force"
ctl -s "$T/a.sock" ha promote --force
rc_is 1; err_has "primary already"
grep -q "unknown -> primary, epoch 0 -> 1" "$T/ca.err" || { CASE="log"; fail "no transition line"; }

# A forced promotion of B: it leads epoch 2, A follows it.
ctl -s "$T/b.sock" ha promote --force
rc_is 0; out_has "promoted: b is the primary of epoch 2"; err_has "is lost"
wait_ha "$T/a.sock" "v['role'] == 'standby' and v['epoch'] == 2"

# B's sluice-control restarts (its dataplane runs on): etcd names it, so it
# takes the next epoch; A follows.
CB=${PIDS[4]}
kill "$CB"; wait "$CB" 2>/dev/null
"$CONTROL" -n "$NB" --etcd "$URL" --pair pq --node b --state-dir "$T/sb" --socket "$T/b.sock" \
	--metrics off 2>>"$T/cb.err" & PIDS+=($!)
wait_ha "$T/b.sock" "v['role'] == 'primary' and v['epoch'] == 3"
wait_ha "$T/a.sock" "v['role'] == 'standby' and v['epoch'] == 3"
grep -q "etcd named this node: next epoch" "$T/cb.err" || { CASE="restart log"; fail "no restart line"; }

# Without --etcd: the pair commands say so.
"$CONTROL" -n "${NA}x" --state-dir "$T/sc" --socket "$T/c.sock" --metrics off 2>"$T/cc.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$T/c.sock" ] && break; sleep 0.05; done
ctl -s "$T/c.sock" ha status
rc_is 1; err_has "high availability is off"

if [ "$FAILS" -ne 0 ]; then echo "control_ha: $FAILS failure(s)"; exit 1; fi
echo "control_ha: ok"
