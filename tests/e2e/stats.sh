#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Stats at scale: 1,500 topics (the old JSON snapshot went stale past about
# 1,000) reach sluicectl stats, /metrics and a reader of the CnC counters
# area; a publish to the last topic shows within a second; rates come from
# sluice-control; /sluice/topics counts the topics its answer cannot hold.
. "$(dirname "$0")/lib.sh"
N=1500
t_start --set max_topics=2048
ctl_dir=$T_DIR/control
mport=$((20000 + $$ % 20000))
"$SL_BUILD/control/sluice-control" -n "$T_DP" --state-dir "$ctl_dir" \
	--metrics "127.0.0.1:$mport" >>"$T_DIR/control.log" 2>&1 &
T_BG+=("$!")
ctl() { "$SL_BUILD/ctl/sluicectl" -n "$T_DP" "$@"; }
t_wait 10 test -S "/run/sluice/$T_DP/control.sock" || t_fail "sluice-control did not start"
t_wait 10 ctl dataplane status --json | grep -q '"attached":true' || t_fail "not attached"

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
t_eq "/sluice/topics: listed and counted add up" "$((shown + ${omitted:-0}))" "$N"
t_done
