#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end, protocol version 4 message headers: a header filter delivers
# exactly the matching messages (over UDP and shared memory, live and
# replayed from the journal), its skipped sequences are never taken for
# gaps; a version 4 subscriber gets key and headers unchanged, a version 3
# one (tests/e2e/v3sub.py) the payloads alone in version 3 frames; a bad
# header is refused.
. "$(dirname "$0")/lib.sh"
t_start --set "journal_dir=$T_DIR/journal" --set "durability_rules=hj.*=async"
trap 't_cleanup; rm -f "/run/sluice/$T_DP/shm.sock"; rmdir "/run/sluice/$T_DP" 2>/dev/null' EXIT

v3sub_bg() {
	local out=$1
	shift
	sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/v3sub.py" "$T_NET.1" 9500 "$@" >"$out" 2>"$out.err" &
	T_LAST=$!
	T_BG+=("$T_LAST")
}
jq() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

# Publishes, in order, on TOPIC: 10 eu (key k-eu), 10 us, 5 without
# headers, 10 eu with prio, 5 us with prio: 40 messages, 20 of them eu.
publish_mix() {
	local t=$1
	t_pub -t "$t" -m eu1 --header region=eu --key k-eu -n 10 -a -q || t_fail "publish eu1"
	t_pub -t "$t" -m us1 --header region=us -n 10 -a -q || t_fail "publish us1"
	t_pub -t "$t" -m none -n 5 -a -q || t_fail "publish none"
	t_pub -t "$t" -m eu2 --header region=eu --header prio=high -n 10 -a -q || t_fail "publish eu2"
	t_pub -t "$t" -m us2 --header region=us --header prio=high -n 5 -a -q || t_fail "publish us2"
}
want_eu="$(seq -s ' ' 1 10) $(seq -s ' ' 26 35) "

# --- live: filtered UDP, filtered shm, two-clause UDP, plain v4, v3 ----------
t_sub_bg "$T_DIR/eu.out" -t hj.live -v --filter region=eu -C 20 -W 30 --stats
eu=$T_LAST
t_ssub_bg "$T_DIR/eushm.out" -t hj.live -v --filter region=eu -C 20 -W 30 --stats
eushm=$T_LAST
t_sub_bg "$T_DIR/two.out" -t hj.live -v --filter region=us --filter prio -C 5 -W 30 --stats
two=$T_LAST
t_sub_bg "$T_DIR/all.out" -t hj.live -v --headers -C 40 -W 30 --stats
all=$T_LAST
t_wait 10 t_nsubs_is hj.live 4 || t_fail "4 subscribers on hj.live not registered ($(t_nsubs hj.live))"
v3sub_bg "$T_DIR/v3.json" hj.live 40 30
v3=$T_LAST
t_wait 10 t_nsubs_is hj.live 5 || t_fail "v3 subscriber not registered"
stripped0=$(t_stat hdrs_stripped)
publish_mix hj.live
for p in "$eu" "$eushm" "$two" "$all" "$v3"; do
	wait "$p"
	t_eq "live: subscriber $p exit status" "$?" 0
done
t_eq "filter region=eu (UDP): exactly the eu messages, in order" \
	"$(awk '{ print $2 }' "$T_DIR/eu.out" | tr '\n' ' ')" "$want_eu"
t_eq "filter region=eu (UDP): payloads" "$(awk '{ print $3 }' "$T_DIR/eu.out" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" " 10 eu1; 10 eu2;"
t_eq "filter region=eu (shm): exactly the eu messages, in order" \
	"$(awk '{ print $2 }' "$T_DIR/eushm.out" | tr '\n' ' ')" "$want_eu"
t_eq "filter region=us and prio: exactly us2" \
	"$(awk '{ print $2 "/" $3 }' "$T_DIR/two.out" | tr '\n' ' ')" "36/us2 37/us2 38/us2 39/us2 40/us2 "
for f in eu eushm two; do
	t_check "$f: no gap reported for filtered-out sequences" \
		grep -q "received [0-9]* gaps 0 " "$T_DIR/$f.out.err"
done
t_eq "plain v4 subscriber: all 40 in order" "$(awk '{ print $2 }' "$T_DIR/all.out" | tr '\n' ' ')" "$(seq -s ' ' 1 40) "
t_eq "plain v4 subscriber: key and header of message 1" "$(sed -n 1p "$T_DIR/all.out")" "hj.live 1 [key=k-eu region=eu] eu1"
t_eq "plain v4 subscriber: headers of message 40" "$(sed -n 40p "$T_DIR/all.out")" "hj.live 40 [region=us prio=high] us2"
t_eq "plain v4 subscriber: no headers on message 21" "$(sed -n 21p "$T_DIR/all.out")" "hj.live 21 [] none"
t_eq "v3 subscriber: 40 messages" "$(jq "$T_DIR/v3.json" 'v["n"]')" 40
t_eq "v3 subscriber: payloads without the header block" \
	"$(jq "$T_DIR/v3.json" '" ".join(sorted(set(v["payloads"])))')" "eu1 eu2 none us1 us2"
t_eq "v3 subscriber: only version 3 frames" "$(jq "$T_DIR/v3.json" 'v["versions"]')" "[3]"
t_eq "v3 subscriber: no header flag, offset 20 zero" \
	"$(jq "$T_DIR/v3.json" 'all(f & 4 == 0 for f in v["deliver_flags"]) and v["word20"] == [0]')" True
t_eq "v3 subscriber: no SKIP frame" "$(jq "$T_DIR/v3.json" '0x25 in v["types"]')" False
t_ge "hdrs_stripped counts the v3 deliveries" "$(t_stat hdrs_stripped)" $((stripped0 + 35))
t_ge "filter_skipped" "$(t_stat filter_skipped)" 55
t_ge "skips_sent" "$(t_stat skips_sent)" 3

# --- replay from the journal through a filter ---------------------------------
t_sub -t hj.live -v --from earliest --filter region=eu -C 20 -W 20 --stats \
	>"$T_DIR/replay.out" 2>"$T_DIR/replay.err"
t_eq "replay, filter region=eu: the eu messages again" \
	"$(awk '{ print $2 }' "$T_DIR/replay.out" | tr '\n' ' ')" "$want_eu"
t_check "replay: no gap" grep -q "received 20 gaps 0 " "$T_DIR/replay.err"

# --- refusals (the broker's own are tests/test_worker.c test_v4_headers) ----------
t_pub -t hj.live -m x --header sl-topic=x -a -q 2>"$T_DIR/rsv.err"
t_check "reserved header name: refused" test "$?" -ne 0
t_check "reserved header name: said why" grep -q "sl-" "$T_DIR/rsv.err"
t_pub -t hj.live -m x --filter 'a' 2>/dev/null
t_check "sluice-pub has no --filter" test "$?" -eq 2
t_sub -t 'hj.*' --filter region=eu -W 2 2>"$T_DIR/pfilter.err"
t_check "a pattern with --filter: refused" test "$?" -ne 0
t_eq "no drops of valid traffic (no_mbuf)" "$(t_stat drop_no_mbuf)" 0
t_done
