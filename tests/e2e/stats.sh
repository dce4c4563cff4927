#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Stats at scale: 1,500 topics (the old JSON snapshot went stale past about
# 1,000) reach sluicectl stats, /metrics and a reader of the CnC counters
# area; a publish to the last topic shows within a second; rates come from
# sluice-control; /sluice/topics counts the topics its answer cannot hold.
# Latency histograms: a sync topic with a UDP and a shared-memory subscriber
# shows persisted and delivered in sluicectl stats, /metrics (Prometheus
# histograms) and /sluice/latency; topics past hist_topics are counted.
. "$(dirname "$0")/lib.sh"
N=1500
t_start --set max_topics=2048 --set "journal_dir=$T_DIR/journal" --set durability=none \
	--set "durability_rules=lat.*=sync" --set hist_topics=64
ctl_dir=$T_DIR/control
mport=$((20000 + $$ % 20000))
"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$ctl_dir" \
	--metrics "127.0.0.1:$mport" >>"$T_DIR/control.log" 2>&1 &
T_BG+=("$!")
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
t_wait 10 ctl dataplane status --json | grep -q '"attached":true' || t_fail "not attached"

# The latency topic first: it takes a histogram slot before the many below.
t_sub_bg "$T_DIR/lat.udp" -t lat.sync -C 20 -W 30
lat_udp=$T_LAST
t_ssub_bg "$T_DIR/lat.shm" -t lat.sync -C 20 -W 30
lat_shm=$T_LAST
t_wait 10 t_nsubs_is lat.sync 2 || t_fail "lat.sync has $(t_nsubs lat.sync) subscribers, not 2"
has_slot() { "$SL_ROOT/scripts/sluice-stats" -n "$T_DP" /sluice/latency 2>/dev/null |
	grep -q '"lat.sync"'; }
t_wait 5 has_slot || t_fail "/sluice/latency does not list lat.sync"
t_pub -t lat.sync -m x -n 20 -a -q || t_fail "publish to lat.sync"
wait "$lat_shm" || t_fail "the shared-memory subscriber did not get 20"
wait "$lat_udp" || t_fail "the UDP subscriber did not get 20"
# lat FIELD: lat.sync's latency entry in the stats answer, as "m:count:ordered ...".
lat() { ctl --json stats | python3 -c '
import json, sys
e = next(e for e in json.load(sys.stdin)["latency"] if e["name"] == "lat.sync")
print(" ".join("%s:%d:%d" % (m, e[m]["count"],
      0 < e[m]["p50"] <= e[m]["p90"] <= e[m]["p99"] <= e[m]["p99_9"] <= e[m]["max"] < 10**10)
      for m in ("persisted", "delivered_udp", "delivered_shm", "lag")))'; }
lat_want="persisted:20:1 delivered_udp:20:1 delivered_shm:20:1 lag:0:0"
lat_ok() { [ "$(lat)" = "$lat_want" ]; }
t_wait 3 lat_ok || t_fail "stats latency of lat.sync: $(lat), not $lat_want"
ctl stats >"$T_DIR/stats.txt" || t_fail "sluicectl stats"
for m in persisted delivered_udp delivered_shm; do
	t_check "sluicectl stats: a $m row" grep -Eq "^lat\.sync +$m +20 " "$T_DIR/stats.txt"
done
t_eq "/sluice/latency lat.sync: persisted" "$("$SL_ROOT/scripts/sluice-stats" -n "$T_DP" \
	/sluice/latency lat.sync --get persisted.count)" 20
t_eq "the area reader (no sluice-control) adds up the workers' histograms" "$(python3 \
	"$SL_ROOT/tests/e2e/cnc_counters.py" "/run/sluice/$T_DP/cnc" latency | python3 -c '
import json, sys
e = next(e for e in json.load(sys.stdin) if e["name"] == "lat.sync")
print(e["persisted"][0], e["delivered_udp"][0], e["delivered_shm"][0], e["lag"][0],
      e["persisted"][1] > 0)')" "20 20 20 0 True"

t_eq "the broker created $N topics" \
	"$(sl_cl "$T_TAG" python3 "$SL_ROOT/tests/e2e/resolve_many.py" "$T_NET.1" 9500 many "$N")" "$N"
# ntopics: live topics named many.* in sluicectl --json stats.
ntopics() { ctl --json stats | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin)["topics"] if t["name"].startswith("many.")))'; }
has_all() { [ "$(ntopics)" = "$N" ]; }
t_wait 5 has_all || t_fail "sluicectl stats lists $(ntopics) of $N topics"
t_eq "the area reader (no sluice-control) finds them all" "$(python3 \
	"$SL_ROOT/tests/e2e/cnc_counters.py" "/run/sluice/$T_DP/cnc" topic | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin) if t["name"].startswith("many.")))')" "$N"

# The last topic's counters are fresh: a publish shows within a second.
last=many.$((N - 1))
t_pub -t "$last" -m x -n 7 -q --timeout 1000 || t_fail "publish to $last"
pubs() { ctl --json stats | python3 -c '
import json, sys
print(next(t["published"] for t in json.load(sys.stdin)["topics"] if t["name"] == sys.argv[1]))' "$1"; }
fresh() { [ "$(pubs "$last")" = 7 ]; }
t_wait 2 fresh || t_fail "$last shows $(pubs "$last") publishes, not 7"

# Rates: sluice-control's, over its one-second samples.
t_pub -t many.0 -m y -n 6000 -r 3000 -q --timeout 1000 >/dev/null 2>&1 &
T_BG+=("$!")
rate_seen() { ctl --json stats | python3 -c '
import json, sys
r = json.load(sys.stdin)["rates"]
t = [t for t in r.get("topics", []) if t["name"] == "many.0"]
sys.exit(0 if r.get("counters", {}).get("publishes", 0) > 0 and t and t[0]["published"] > 0
         else 1)'; }
t_wait 5 rate_seen || t_fail "no publishes rate (counters and topic) in the stats answer: $(
	ctl --json stats | python3 -c 'import json, sys; r = json.load(sys.stdin)["rates"]
print(r.get("counters", {}).get("publishes"), [t for t in r.get("topics", []) if t["name"] == "many.0"])')"

# /metrics: every topic, the authz counters, the same names as before.
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$mport/metrics', timeout=5).read().decode())" \
	>"$T_DIR/metrics.txt" || t_fail "metrics endpoint"
t_eq "one published series per topic" \
	"$(grep -c '^sluice_topic_published_total{topic="many\.' "$T_DIR/metrics.txt")" "$N"
t_check "metrics: $last published 7" grep -q "^sluice_topic_published_total{topic=\"$last\"} 7$" \
	"$T_DIR/metrics.txt"
t_check "metrics: authz counters" grep -q '^sluice_authz_tables_published_total [1-9]' \
	"$T_DIR/metrics.txt"
t_check "metrics: drops by reason" grep -q '^sluice_drops_total{reason="bad_mac"} 0$' \
	"$T_DIR/metrics.txt"
t_check "metrics: the latency histogram family" \
	grep -q '^# TYPE sluice_topic_latency_seconds histogram$' "$T_DIR/metrics.txt"
for m in persisted delivered_udp delivered_shm; do
	t_check "metrics: $m count" grep -q \
		"^sluice_topic_latency_seconds_count{topic=\"lat.sync\",stage=\"$m\"} 20$" \
		"$T_DIR/metrics.txt"
	t_check "metrics: $m +Inf bucket" grep -q \
		"^sluice_topic_latency_seconds_bucket{topic=\"lat.sync\",stage=\"$m\",le=\"+Inf\"} 20$" \
		"$T_DIR/metrics.txt"
	t_eq "metrics: $m buckets cumulative, 62 of them" "$(grep \
		"^sluice_topic_latency_seconds_bucket{topic=\"lat.sync\",stage=\"$m\"" \
		"$T_DIR/metrics.txt" | awk '{ if ($2 < prev) bad = 1; prev = $2; n++ }
		END { print (bad ? "not cumulative" : n) }')" 62
	t_check "metrics: $m sum" grep -Eq \
		"^sluice_topic_latency_seconds_sum\{topic=\"lat.sync\",stage=\"$m\"\} [0-9.e-]+$" \
		"$T_DIR/metrics.txt"
done
# 1 + N topics, 64 histogram slots: the rest are counted.
t_check "metrics: topics without a histogram slot" \
	grep -q "^sluice_hist_no_slot_total $((N + 1 - 64))$" "$T_DIR/metrics.txt"
python3 -c "import urllib.request,urllib.error
try:
    urllib.request.urlopen('http://127.0.0.1:$mport/other', timeout=5)
except urllib.error.HTTPError as e:
    raise SystemExit(0 if e.code == 404 else 1)
raise SystemExit(1)" || t_fail "another path is not a 404"

# A telemetry answer holds 16 KiB: what /sluice/topics leaves out is counted.
shown=$("$SL_ROOT/scripts/sluice-stats" -n "$T_DP" /sluice/topics 2>"$T_DIR/tel.err" |
	python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
omitted=$(sed -n 's/.* \([0-9][0-9]*\) topics left out.*/\1/p' "$T_DIR/tel.err")
t_ge "/sluice/topics lists some" "$shown" 10
t_eq "/sluice/topics: listed and counted add up" "$((shown + ${omitted:-0}))" "$((N + 1))"
t_done
