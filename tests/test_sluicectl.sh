#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# sluicectl against a fake sluice-control (fake_control.py): argument parsing, the
# request JSON it sends, text and --json output, exit codes and --help.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CTL=${SL_BUILD:-$HERE/../build}/ctl/sluicectl
FAKE=$HERE/fake_control.py

command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
[ -x "$CTL" ] || { echo "FAIL: $CTL not built"; exit 1; }

T=$(mktemp -d /tmp/sluicectl-test.XXXXXX)
SOCK=$T/control.sock
SOCK2=$T/norates.sock
LOG=$T/requests.log
LOG2=$T/norates.log
SOCK3=$T/nested.sock
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

start_fake() { # SOCKET LOG [ARGS]
	python3 "$FAKE" "$@" 2>"$T/fake.$$.err" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	echo "FAIL: fake_control.py did not create $1"; cat "$T/fake.$$.err"; exit 1
}
start_fake "$SOCK" "$LOG"
start_fake "$SOCK2" "$LOG2" --rates none
start_fake "$SOCK3" "$T/nested.log" --rates nested --status-counts

FAILS=0
CASE=""
fail() { echo "FAIL [$CASE]: $*"; echo "  stdout: $(head -c 2000 "$T/out")"; \
	echo "  stderr: $(head -c 2000 "$T/err")"; FAILS=$((FAILS + 1)); }

# ctl ARGS...: run sluicectl on the fake; stdout in $T/out, stderr in $T/err, status in $RC.
ctl() { CASE="sluicectl $*"; "$CTL" -s "$SOCK" "$@" >"$T/out" 2>"$T/err"; RC=$?; }
# raw ARGS...: the same without -s.
raw() { CASE="sluicectl $*"; "$CTL" "$@" >"$T/out" 2>"$T/err"; RC=$?; }

rc_is() { [ "$RC" -eq "$1" ] || fail "exit status $RC, expected $1"; }
out_has() { grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1'"; }
out_lacks() { ! grep -qF -- "$1" "$T/out" || fail "stdout has '$1'"; }
err_has() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1'"; }
err_empty() { [ ! -s "$T/err" ] || fail "stderr not empty"; }
nreq() { wc -l <"$LOG"; }

# req_is JSON: the last request logged equals JSON (as parsed values: order-free).
req_is() {
	python3 -I -S - "$LOG" "$1" <<'EOF' || fail "request: got $(tail -n1 "$LOG"), expected $1"
import json, sys
got = json.loads(open(sys.argv[1]).read().splitlines()[-1])
sys.exit(0 if got == json.loads(sys.argv[2]) else 1)
EOF
}
# last_reply_field KEY: a member of the result of the last answer logged.
last_reply_field() {
	python3 -I -S -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["result"][sys.argv[2]])' "$LOG.replies" "$1"
}
# out_json PYEXPR: stdout is exactly one line of JSON and PYEXPR (over v) holds.
out_json() {
	python3 -I -S - "$T/out" "$1" <<'EOF' || fail "--json output: $1"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "%d lines" % len(lines)
v = json.loads(lines[0])
assert eval(sys.argv[2]), sys.argv[2]
EOF
}
# col_aligned HEADER VALUE ROWKEY: VALUE in the row starting ROWKEY ends (right-
# aligned) or starts (left-aligned) in the same column as HEADER.
col_aligned() {
	python3 -I -S - "$T/out" "$@" <<'EOF' || fail "column $1 not aligned with '$2'"
import sys
lines = open(sys.argv[1]).read().splitlines()
hdr = next(l for l in lines if sys.argv[2] in l.split())
row = next(l for l in lines if l.startswith(sys.argv[4]))
h, v = hdr.index(sys.argv[2]), row.index(sys.argv[3], len(sys.argv[4]))
sys.exit(0 if h == v or h + len(sys.argv[2]) == v + len(sys.argv[3]) else 1)
EOF
}

# --- help at every level: stdout, status 0, no request ---
n0=$(nreq)
raw --help; rc_is 0; out_has "Exit status"; out_has "topic create NAME"; out_has "-n, --name NAME"
out_has "SLUICE_CONTROL_SOCKET"; out_has "4  not found"; out_has "3  cannot reach"; err_empty
raw help; rc_is 0; out_has "Usage: sluicectl"
raw topic --help; rc_is 0; out_has "topic delete NAME"; out_lacks "user add"
raw acl help; rc_is 0; out_has "acl grant USER PATTERN PERMS"
raw topic create --help; rc_is 0; out_has "--durability"; out_has "--capacity-mb"
raw topic update --help; rc_is 0; out_has "topic update NAME [--retain-mb N]"
out_has "cannot change while the topic exists"
raw --help; rc_is 0; out_has "topic update NAME"
raw user add -h; rc_is 0; out_has "--credentials FILE"; out_has "0600"
raw stats --help; rc_is 0; out_has "--watch"
raw --help; rc_is 0; out_has "policy set [auth open|required] [idle busy|backoff] [rate N]"
raw -s /nonexistent topic list --help; rc_is 0
[ "$(nreq)" -eq "$n0" ] || { CASE=help; fail "--help sent a request"; }

# --- usage errors: status 2, message on stderr, nothing sent ---
n0=$(nreq)
raw; rc_is 2; err_has "missing command"
ctl frobnicate; rc_is 2; err_has "unknown command 'frobnicate'"
ctl topic; rc_is 2; err_has "topic needs a verb"; err_has "topic list"
ctl topic frob; rc_is 2; err_has "unknown command 'topic frob'"
ctl topic create; rc_is 2; err_has "too few arguments"; err_has "Usage: sluicectl topic create"
ctl topic create a b; rc_is 2; err_has "unexpected argument 'b'"
ctl topic create a --durability bogus; rc_is 2; err_has "none, async or sync"
ctl topic create a --retain-mb -1; rc_is 2; err_has "--retain-mb takes a non-negative integer"
ctl topic create a --retain-s 12x; rc_is 2; err_has "--retain-s"
ctl topic create a --capacity-mb; rc_is 2; err_has "needs an argument"
ctl topic list --frob; rc_is 2; err_has "unknown option '--frob'"
ctl topic update a; rc_is 2; err_has "nothing to update"; err_has "Usage: sluicectl topic update"
ctl topic update; rc_is 2; err_has "too few arguments"
ctl topic update a --retain-mb -1; rc_is 2; err_has "--retain-mb takes a non-negative integer"
ctl topic update a --durability bogus; rc_is 2; err_has "none, async or sync"
ctl topic update a --backpressure wait; rc_is 2
ctl topic update a --colour red; rc_is 2; err_has "unknown option '--colour'"
ctl topic list extra; rc_is 2
ctl acl grant u 'a.>' pub,bogus; rc_is 2; err_has "comma list of pub, sub, admin and consume"
ctl acl set u 'a.>' sub --group g1; rc_is 2; err_has "give consume in PERMS too"
ctl acl set u 'a.>'; rc_is 2; err_has "too few arguments"
ctl acl revoke u 'a.>' consume --group g1; rc_is 2; err_has "unknown option '--group'"
ctl group; rc_is 2; err_has "group needs a verb"; err_has "group reset TOPIC NAME"
ctl group create t1; rc_is 2; err_has "too few arguments"; err_has "Usage: sluicectl group create"
ctl group create t1 g1 extra; rc_is 2; err_has "unexpected argument 'extra'"
ctl group create t1 g1 --policy fifo; rc_is 2; err_has "--policy is rr (round-robin), least"
ctl group create t1 g1 --ack-wait-ms -1; rc_is 2; err_has "--ack-wait-ms takes an integer 0 to"
ctl group create t1 g1 --max-deliveries 4294967296; rc_is 2; err_has "--max-deliveries"
ctl group create t1 g1 --grace-ms; rc_is 2; err_has "needs an argument"
ctl group create t1 g1 --retain; rc_is 2; err_has "--retain needs --durable"
ctl group show t1; rc_is 2; err_has "too few arguments"
ctl group delete t1; rc_is 2
ctl group list a b; rc_is 2; err_has "unexpected argument 'b'"
ctl group reset t1 g1; rc_is 2; err_has "--to is required"
ctl group reset t1 g1 --to soon; rc_is 2; err_has "--to is earliest, latest, a sequence number"
ctl group reset t1 g1 --to 0; rc_is 2; err_has "a sequence number is 1 to"
ctl group reset t1 g1 --to 1796464800000000000; rc_is 2; err_has "(1796464800000000000ns)"
ctl group reset t1 g1 --to 2026-13-05T10:00:00Z; rc_is 2
ctl group reset t1 g1 --to 2026-12-05T10:00:00; rc_is 2
ctl group reset t1 g1 --to 12xns; rc_is 2
ctl acl grant u 'a.>' ''; rc_is 2
ctl acl grant u 'a.>' pub,,sub; rc_is 2
ctl acl grant u 'a.>'; rc_is 2
ctl policy set auth maybe; rc_is 2; err_has "open or required"
ctl policy set idle fast; rc_is 2; err_has "busy or backoff"
ctl policy set speed fast; rc_is 2
ctl policy set auth; rc_is 2
ctl policy set auth open auth required; rc_is 2
ctl policy set rate fast; rc_is 2; err_has "rate is 0 (unlimited) to 100000000"
ctl policy set rate -5; rc_is 2
ctl policy set rate -- -5; rc_is 2; err_has "not '-5'"
ctl policy set rate 100000001; rc_is 2; err_has "rate is 0 (unlimited)"
ctl policy set rate 1e3; rc_is 2
ctl policy set rate; rc_is 2
ctl policy set auth open rate; rc_is 2; err_has "rate needs a value"
ctl policy set rate 5 rate 6; rc_is 2; err_has "auth, idle or rate (each once)"
ctl policy set auth open idle busy rate 5 extra; rc_is 2
ctl stats 2; rc_is 2; err_has "SECONDS follows --watch"
ctl stats --watch 0; rc_is 2
ctl stats --count 0; rc_is 2
ctl -t 0 topic list; rc_is 2; err_has "--timeout"
ctl -t abc topic list; rc_is 2
ctl -n inst topic list; rc_is 2; err_has "exclude each other"
raw -n a/b topic list; rc_is 2
raw --bogus topic list; rc_is 2; err_has "unknown option '--bogus'"
[ "$(nreq)" -eq "$n0" ] || { CASE=usage; fail "a usage error sent a request"; }

# --- requests as documented, text output ---
ctl topic create orders.us --durability async --retain-mb 100 --retain-s 3600 --capacity-mb 64
rc_is 0; out_has "created topic orders.us"; err_empty
req_is '{"cmd":"topic.create","args":{"name":"orders.us","durability":"async","retain_mb":100,"retain_s":3600,"capacity_mb":64}}'
ctl topic create --durability=sync t2; rc_is 0
req_is '{"cmd":"topic.create","args":{"name":"t2","durability":"sync"}}'
ctl topic create t3; rc_is 0; req_is '{"cmd":"topic.create","args":{"name":"t3"}}'
ctl -q topic create t4; rc_is 0; [ ! -s "$T/out" ] || fail "-q printed something"
ctl topic create -- '-odd"na\me'; rc_is 0
req_is '{"cmd":"topic.create","args":{"name":"-odd\"na\\me"}}'
ctl topic delete t3; rc_is 0; out_has "deleted topic t3"
req_is '{"cmd":"topic.delete","args":{"name":"t3"}}'
ctl topic show orders.eu; rc_is 0; req_is '{"cmd":"topic.show","args":{"name":"orders.eu"}}'
out_has "durability:"; out_has "sync"; out_has "journal_bytes:"; out_has "67108864"
ctl topic list; rc_is 0; req_is '{"cmd":"topic.list"}'
out_has "NAME"; out_has "DURABILITY"; out_has "MANAGED"; out_has "orders.us"
col_aligned DURABILITY async orders.us; col_aligned PUBLISHED 1234567 orders.eu
grep -q "^sensors.*no$" "$T/out" || fail "unmanaged topic not shown as MANAGED no"
! grep -q $'\x1b' "$T/out" || fail "a terminal escape from a topic name reached stdout"
ctl topic list --json; rc_is 0
out_json 'isinstance(v, list) and {"orders.eu", "orders.us", "t2"} <= {t["name"] for t in v}'
out_json 'next(t for t in v if t["name"] == "orders.eu")["journal_bytes"] == 67108864'
ctl --json topic show orders.eu; rc_is 0; out_json 'v["name"] == "orders.eu" and v["seq"] == 1234567'

# --- refusals: the daemon's message, exit 1; not_found: exit 4 ---
ctl topic create orders.eu; rc_is 1; err_has "sluicectl: topic 'orders.eu' exists"
ctl topic create 'a b'; rc_is 1
err_has "sluicectl: topic name 'a b' is invalid: 1-200 printable characters, no spaces"
ctl topic show nosuch; rc_is 4; err_has "sluicectl: topic 'nosuch' not found"
ctl topic update nosuch --retain-s 1; rc_is 4
ctl topic update orders.eu --durability none; rc_is 1; err_has "cannot change while the topic exists"

# --- topic update: only the options given are sent ---
ctl topic update orders.eu --retain-mb 5 --backpressure drop; rc_is 0
out_has "updated topic orders.eu"; err_empty
req_is '{"cmd":"topic.update","args":{"name":"orders.eu","retain_mb":5,"backpressure":"drop"}}'
ctl --json topic update orders.eu --capacity-mb=9 --retain-s 0; rc_is 0
req_is '{"cmd":"topic.update","args":{"name":"orders.eu","capacity_mb":9,"retain_s":0}}'
out_json 'v["capacity_mb"] == 9 and v["retain_mb"] == 5 and v["retain_s"] == 0'
ctl --json topic update orders.eu --encryption required; rc_is 0
req_is '{"cmd":"topic.update","args":{"name":"orders.eu","encryption":"required"}}'
out_json 'v["encryption"] == "required" and v["capacity_mb"] == 9'
ctl topic update orders.eu --encryption sometimes; rc_is 1; err_has "use off, optional or required"
ctl --json topic update orders.eu --max-message 65536; rc_is 0
req_is '{"cmd":"topic.update","args":{"name":"orders.eu","max_message":65536}}'
out_json 'v["max_message"] == 65536'
ctl topic update orders.eu --max-message big; rc_is 2; err_has "--max-message takes a non-negative integer"
ctl topic create t7 --encryption off; rc_is 0
req_is '{"cmd":"topic.create","args":{"name":"t7","encryption":"off"}}'
raw topic update --help; rc_is 0; out_has "--encryption off|optional|required"
ctl topic update orders.eu --retransmit-window 0; rc_is 0
req_is '{"cmd":"topic.update","args":{"name":"orders.eu","retransmit_window":0}}'
ctl topic create t5 --retransmit-window 512; rc_is 0
req_is '{"cmd":"topic.create","args":{"name":"t5","retransmit_window":512}}'
ctl topic create t6 --retransmit-window many; rc_is 2; err_has "--retransmit-window"
ctl -q topic update orders.eu --durability sync; rc_is 0; [ ! -s "$T/out" ] || fail "-q printed"
ctl topic delete nosuch; rc_is 4
ctl --json topic show nosuch; rc_is 4; [ ! -s "$T/out" ] || fail "--json printed on error"

# --- users ---
ctl user add bob --admin; rc_is 0; req_is '{"cmd":"user.add","args":{"name":"bob","admin":true}}'
key=$(last_reply_field key)
out_has "added user bob (uid 1)"; out_has "key: $key"; out_has "shown only this once"
ctl -q user add carol; rc_is 0; req_is '{"cmd":"user.add","args":{"name":"carol","admin":false}}'
[ "$(cat "$T/out")" = "$(last_reply_field key)" ] || fail "-q user add: not just the key"
ctl user add dave --credentials "$T/dave.cred"; rc_is 0; out_has "credentials written to"
out_lacks "$(last_reply_field key)"
[ "$(stat -c %a "$T/dave.cred")" = 600 ] || fail "credentials mode $(stat -c %a "$T/dave.cred")"
[ "$(cat "$T/dave.cred")" = "$(printf 'user = dave\nkey = %s' "$(last_reply_field key)")" ] ||
	fail "credentials file: $(cat "$T/dave.cred")"
n0=$(nreq); echo keep >"$T/exists.cred"
ctl user add erin --credentials "$T/exists.cred"; rc_is 1; err_has "not overwriting"
[ "$(cat "$T/exists.cred")" = keep ] || fail "existing credentials file changed"
[ "$(nreq)" -eq "$n0" ] || fail "user.add sent although the file exists"
ctl user add bob --credentials "$T/bob2.cred"; rc_is 1; err_has "user 'bob' exists"
[ ! -e "$T/bob2.cred" ] || fail "credentials file left behind after a refusal"
ctl --json user add frank; rc_is 0; out_json 'v["name"] == "frank" and len(v["key"]) == 64'
ctl user list; rc_is 0; req_is '{"cmd":"user.list"}'; out_has "ADMIN"
grep -Eq "^bob +1 +yes( |$)" "$T/out" || fail "user list row for bob"
out_lacks "$key"
ctl user list --json; rc_is 0; out_json '[u["name"] for u in v] == ["bob", "carol", "dave", "frank"]'
ctl user remove carol; rc_is 0; out_has "removed user carol"
req_is '{"cmd":"user.remove","args":{"name":"carol"}}'
ctl user remove carol; rc_is 4; err_has "user 'carol' not found"
# Encryption policies and key rollover.
ctl user add gina --encryption required; rc_is 0
req_is '{"cmd":"user.add","args":{"name":"gina","admin":false,"encryption":"required"}}'
ctl user add hank --encryption sometimes; rc_is 2; err_has "--encryption must be off, optional or required"
ctl user update gina --encryption off; rc_is 0; out_has "updated user gina"
req_is '{"cmd":"user.update","args":{"name":"gina","encryption":"off"}}'
ctl user update gina --no-admin; rc_is 0
req_is '{"cmd":"user.update","args":{"name":"gina","admin":false}}'
ctl user update gina; rc_is 2; err_has "nothing to update"
ctl user update gina --admin --no-admin; rc_is 2
ctl user update nobody --encryption off; rc_is 4
ctl user list; rc_is 0; out_has "ENCRYPTION"
grep -Eq "^gina +[0-9]+ +no +off +1$" "$T/out" || fail "user list row for gina"
ctl user key-add gina; rc_is 0; req_is '{"cmd":"user.key_add","args":{"name":"gina"}}'
out_has "new key for user gina"; out_has "$(last_reply_field key)"; out_has "user key-retire gina"
ctl -q user key-add gina; rc_is 1; err_has "two keys"
ctl user key-add gina --credentials "$T/gina.cred"; rc_is 1
[ ! -e "$T/gina.cred" ] || fail "credentials file left behind after a refused key-add"
ctl user list --json; rc_is 0; out_json '[u["keys"] for u in v if u["name"] == "gina"] == [2]'
ctl user key-retire gina; rc_is 0; out_has "retired the older key of user gina"
req_is '{"cmd":"user.key_retire","args":{"name":"gina"}}'
ctl user key-retire gina; rc_is 4; err_has "one key only"
ctl user key-add gina --credentials "$T/gina.cred"; rc_is 0
grep -qx "key = $(last_reply_field key)" "$T/gina.cred" || fail "key-add credentials file"
[ "$(stat -c %a "$T/gina.cred")" = 600 ] || fail "key-add credentials file mode"
ctl user remove gina; rc_is 0

# --- ACLs ---
ctl acl grant bob 'orders.>' pub,sub; rc_is 0; out_has "granted pub,sub on orders.> to bob"
req_is '{"cmd":"acl.grant","args":{"user":"bob","pattern":"orders.>","perms":["pub","sub"]}}'
ctl acl grant dave 'x.*.y' admin; rc_is 0
ctl acl grant nobody 'x' pub; rc_is 4
ctl acl list; rc_is 0; req_is '{"cmd":"acl.list"}'; out_has "PATTERN"
grep -Eq "^bob +orders\.> +pub,sub +-$" "$T/out" || fail "acl list row"
ctl acl list dave --json; rc_is 0; req_is '{"cmd":"acl.list","args":{"user":"dave"}}'
out_json 'v == [{"user": "dave", "pattern": "x.*.y", "perms": ["admin"]}]'
ctl acl revoke bob 'orders.>' sub; rc_is 0
req_is '{"cmd":"acl.revoke","args":{"user":"bob","pattern":"orders.>","perms":["sub"]}}'
ctl acl revoke dave 'x.*.y'; rc_is 0; out_has "revoked all permissions"
req_is '{"cmd":"acl.revoke","args":{"user":"dave","pattern":"x.*.y"}}'
ctl acl revoke dave 'x.*.y'; rc_is 4
# The consume right, for one group or every group.
ctl acl grant bob 'orders.>' consume --group billing; rc_is 0
out_has "granted consume on orders.> to bob, group billing"
req_is '{"cmd":"acl.grant","args":{"user":"bob","pattern":"orders.>","perms":["consume"],"group":"billing"}}'
ctl acl set bob 'jobs.*' sub,consume --group=workers; rc_is 0
out_has "set sub,consume on jobs.* for bob, group workers"
req_is '{"cmd":"acl.set","args":{"user":"bob","pattern":"jobs.*","perms":["sub","consume"],"group":"workers"}}'
ctl acl list bob; rc_is 0; out_has "GROUP"
grep -Eq "^bob +jobs\.\* +sub,consume +workers$" "$T/out" || fail "acl list row with a group"
ctl --json acl set bob 'jobs.*' consume; rc_is 0
req_is '{"cmd":"acl.set","args":{"user":"bob","pattern":"jobs.*","perms":["consume"]}}'
out_json '{"user": "bob", "pattern": "jobs.*", "perms": ["consume"]} in v'
ctl acl set bob 'jobs.*' consume --group 'b@d'; rc_is 1; err_has "group name 'b@d' is invalid"
ctl acl set nobody 'jobs.*' consume; rc_is 4
raw acl set --help; rc_is 0; out_has "acl set USER PATTERN PERMS [--group NAME]"; out_has "every group"

# --- consumer groups ---
raw group --help; rc_is 0; out_has "group create TOPIC NAME"; out_has "group reset TOPIC NAME --to"
raw group create --help; rc_is 0; out_has "round-robin (default)"; out_has "30000; 0: never"
out_has "default 5;"; out_has "(default 5000)"; out_has "journaled topics only"
raw group reset --help; rc_is 0; out_has "RFC 3339"; out_has "reset_dropped"
ctl group create orders.eu workers; rc_is 0; out_has "created group workers on topic orders.eu"
err_empty; req_is '{"cmd":"group.create","args":{"topic":"orders.eu","name":"workers"}}'
ctl group create orders.eu slow --policy least --ack-wait-ms 500 --max-deliveries 3 \
	--dead-letter orders.dead --grace-ms 0 --durable --retain --max-inflight 100; rc_is 0
req_is '{"cmd":"group.create","args":{"topic":"orders.eu","name":"slow","policy":"least","ack_wait_ms":500,"max_deliveries":3,"dead_letter":"orders.dead","grace_ms":0,"durable":true,"retain":true,"max_inflight":100}}'
ctl --json group create orders.us keyed --policy key; rc_is 0
out_json 'v["policy"] == "key" and v["ack_wait_ms"] == 30000 and v["durable"] is False'
ctl group create orders.eu workers; rc_is 1; err_has "has a group 'workers' already"
ctl group create nosuch g; rc_is 4; err_has "topic 'nosuch' not found"
ctl group create orders.eu 'a b'; rc_is 1; err_has "group name 'a b' is invalid"
ctl group create t7 d --durable; rc_is 1; err_has "durability none"
ctl group create orders.eu refused --durable; rc_is 1
err_has "stored, but the dataplane refused"; err_has "Operation not permitted"
ctl group update orders.eu workers --ack-wait-ms 900 --no-retain --dead-letter ''; rc_is 0
out_has "updated group workers on topic orders.eu"
req_is '{"cmd":"group.update","args":{"topic":"orders.eu","name":"workers","ack_wait_ms":900,"dead_letter":"","retain":false}}'
ctl --json group update orders.eu workers --policy least --retain; rc_is 0
req_is '{"cmd":"group.update","args":{"topic":"orders.eu","name":"workers","policy":"least","retain":true}}'
out_json 'v["policy"] == "least" and v["ack_wait_ms"] == 900'
ctl group update orders.eu workers; rc_is 2; err_has "nothing to update"
ctl group update orders.eu workers --durable; rc_is 2; err_has "unknown option '--durable'"
ctl group update orders.eu workers --retain --no-retain; rc_is 2; err_has "exclude each other"
ctl group update orders.eu nosuch --grace-ms 1; rc_is 4
ctl group list; rc_is 0; req_is '{"cmd":"group.list"}'; out_has "DEAD_LETTERED"
grep -Eq "^orders\.eu +billing +key +yes +2 +5 +12 +900 +3 +890 +1 +yes$" "$T/out" ||
	fail "group list row with counters"
grep -Eq "^orders\.eu +workers +least +no +- +- " "$T/out" || fail "group list row, not live"
ctl group list orders.us --json; rc_is 0; req_is '{"cmd":"group.list","args":{"topic":"orders.us"}}'
out_json '[g["name"] for g in v] == ["keyed"]'
ctl group list nosuch; rc_is 4
ctl group show orders.eu billing; rc_is 0
req_is '{"cmd":"group.show","args":{"topic":"orders.eu","name":"billing"}}'
out_has "policy:"; out_has "redelivered:"; out_has "MEMBER"; out_has "OUTSTANDING"
grep -Eq "^00000000000000a1 +active +4 +60 +500 +496 +1$" "$T/out" || fail "member row"
grep -Eq "^00000000000000b2 +disconnected +1 " "$T/out" || fail "disconnected member row"
out_has "members:"; out_lacks "member_list"
ctl --json group show orders.eu billing; rc_is 0
out_json 'v["delivered"] == 900 and v["members"] == 2 and [m["state"] for m in v["member_list"]] == [1, 4]'
ctl group show orders.eu workers; rc_is 0; out_has "no members"
ctl group show orders.eu nosuch; rc_is 4; err_has "has no group 'nosuch'"
ctl group reset orders.eu billing --to earliest; rc_is 0
out_has "reset group billing of topic orders.eu to earliest"
req_is '{"cmd":"group.reset","args":{"topic":"orders.eu","name":"billing","to":"earliest"}}'
ctl group reset orders.eu billing --to=latest; rc_is 0
req_is '{"cmd":"group.reset","args":{"topic":"orders.eu","name":"billing","to":"latest"}}'
ctl group reset orders.eu billing --to 42; rc_is 0
req_is '{"cmd":"group.reset","args":{"topic":"orders.eu","name":"billing","to":"seq","seq":42}}'
ctl group reset orders.eu billing --to 2026-12-05T10:00:00.5Z; rc_is 0
req_is '{"cmd":"group.reset","args":{"topic":"orders.eu","name":"billing","to":"time","time_ns":1796464800500000000}}'
ctl group reset orders.eu billing --to 2026-12-05T11:00:00+01:00; rc_is 0
req_is '{"cmd":"group.reset","args":{"topic":"orders.eu","name":"billing","to":"time","time_ns":1796464800000000000}}'
ctl group reset orders.eu billing --to 1796464800000000000ns; rc_is 0
req_is '{"cmd":"group.reset","args":{"topic":"orders.eu","name":"billing","to":"time","time_ns":1796464800000000000}}'
ctl --json group reset orders.eu billing --to latest; rc_is 0; out_json 'v == {}'
ctl group reset orders.eu nosuch --to latest; rc_is 4
ctl group delete orders.eu workers; rc_is 0; out_has "deleted group workers of topic orders.eu"
req_is '{"cmd":"group.delete","args":{"topic":"orders.eu","name":"workers"}}'
ctl group delete orders.eu workers; rc_is 4; err_has "has no group 'workers'"
ctl -q group delete orders.eu slow; rc_is 0; [ ! -s "$T/out" ] || fail "-q printed"

# --- policy ---
ctl policy show; rc_is 0; req_is '{"cmd":"policy.show"}'; out_has "auth: open"
ctl policy set auth required; rc_is 0; req_is '{"cmd":"policy.set","args":{"auth":"required"}}'
out_has "auth: required"
ctl policy set idle backoff auth open; rc_is 0
req_is '{"cmd":"policy.set","args":{"idle":"backoff","auth":"open"}}'
ctl policy show --json; rc_is 0
out_json 'v == {"auth": "open", "idle": "backoff", "rate_limit": 0}'
ctl policy show; rc_is 0; out_has "rate_limit: unlimited"
ctl policy set rate 1000; rc_is 0; req_is '{"cmd":"policy.set","args":{"rate_limit":1000}}'
out_has "rate_limit: 1000 msgs/s per session"; out_has "auth: open"
ctl policy set auth required rate 250; rc_is 0
req_is '{"cmd":"policy.set","args":{"auth":"required","rate_limit":250}}'
out_has "auth: required"; out_has "rate_limit: 250 msgs/s per session"
ctl policy set rate 100000000 idle busy auth open; rc_is 0
req_is '{"cmd":"policy.set","args":{"auth":"open","idle":"busy","rate_limit":100000000}}'
ctl policy show; rc_is 0; out_has "rate_limit: 100000000 msgs/s per session"; out_has "idle: busy"
ctl --json policy set rate 0; rc_is 0; req_is '{"cmd":"policy.set","args":{"rate_limit":0}}'
out_json 'v == {"auth": "open", "idle": "busy", "rate_limit": 0}'
ctl policy show; rc_is 0; out_has "rate_limit: unlimited"
ctl policy set --help; rc_is 0; out_has "[rate N]"; out_has "per second per session"

# --- dataplane status ---
ctl dataplane status; rc_is 0; req_is '{"cmd":"dataplane.status"}'
out_has "attached:      yes"; out_has "heartbeat age: 12 ms"; out_has "uptime:        1h02m03s"
out_has "LCORE"; out_has "IPACKETS"; col_aligned TX_PKTS 21 "     1"
ctl dataplane status --json; rc_is 0; out_json 'v["attached"] is True and len(v["workers"]) == 2'
CASE="dataplane status with counts only: tables from stats"
"$CTL" -s "$SOCK3" dataplane status >"$T/out" 2>"$T/err"; RC=$?; rc_is 0; err_empty
out_has "workers:       1"; out_has "synced:        yes"; out_has "LCORE"; out_has "IPACKETS"
[ "$(tail -n2 "$T/nested.log" | tr -d '\n')" = '{"cmd":"dataplane.status"}{"cmd":"stats"}' ] ||
	fail "expected dataplane.status then stats"

# --- stats, one-shot: human numbers, non-zero drops, the daemon's rates ---
# Flat rates (counters only): no rate for drops and topics in a single snapshot.
ctl stats; rc_is 0; req_is '{"cmd":"stats"}'
out_has "dataplane pid 1234"; out_has "messages/s in 777, out 1.6k"
grep -Eq "^rx_pkts +5\.0M +777$" "$T/out" || fail "counter row"
out_has "DROP_REASON"; grep -Eq "^truncated +[0-9]+ +-$" "$T/out" || fail "drop row"
out_lacks "no_mbuf"; out_has "bad_mac"; out_has "1.2M"; out_lacks "1234567"; out_has "64.0MiB"
grep -Eq "^orders\.eu +sync +2 +1\.2M +- " "$T/out" || fail "stats topic row"
grep -Eq "^orders\.eu +billing +2 +5 +12 +900 +3 +890 +1$" "$T/out" || fail "stats group row"
CASE="stats with nested rates"
"$CTL" -s "$SOCK3" stats >"$T/out" 2>"$T/err"; RC=$?; rc_is 0
out_has "messages/s in 777, out 1.6k"; grep -Eq "^truncated +[0-9]+ +1$" "$T/out" || fail "drop rate"
grep -Eq "^orders\.eu +sync +2 +1\.2M +777 +2\.5M +1\.6k " "$T/out" || fail "topic rates"
ctl stats --json; rc_is 0
out_json 'v["counters"]["publishes"] >= 1234567 and "rates" in v'
grep -Eq '"ts_ns":17640990[0-9]{10}1,' "$T/out" || fail "--json did not keep ts_ns exact"
CASE="stats without daemon rates"
"$CTL" -s "$SOCK2" stats >"$T/out" 2>"$T/err"; RC=$?; rc_is 0; out_has "messages/s in -, out -"

# --- stats --watch: frames, the daemon's rates only, --count, --json, Ctrl-C, TTY ---
CASE="stats --watch (no rates from the daemon)"
"$CTL" -s "$SOCK2" stats --watch 0.1 --count 3 >"$T/out" 2>"$T/err"; RC=$?; rc_is 0
[ "$(grep -c '^sluicectl stats --watch' "$T/out")" -eq 3 ] || fail "not 3 frames"
! grep -q $'\x1b' "$T/out" || fail "ANSI escapes on a non-TTY"
# The counters move +1000 a snapshot, but rates are sluice-control's to
# compute: without them, none is shown, in any frame.
[ "$(grep -c 'messages/s in -, out -' "$T/out")" -eq 3 ] || fail "client-side rates"
grep -Eq "^orders\.eu +sync +2 +1\.2M +- +2\.5M +- " "$T/out" || fail "topic row without rates"
out_lacks "COUNTER"
CASE="stats --watch (the daemon's nested rates)"
"$CTL" -s "$SOCK3" stats --watch 0.1 --count 2 >"$T/out" 2>"$T/err"; RC=$?; rc_is 0
[ "$(grep -c 'messages/s in 777, out 1.6k' "$T/out")" -eq 2 ] || fail "daemon rates per frame"
grep -Eq "^orders\.eu +sync +2 +1\.2M +777 +2\.5M +1\.6k " "$T/out" || fail "topic rates"
CASE="stats --watch --json"
"$CTL" -s "$SOCK2" --json stats --watch 0.05 --count 2 >"$T/out" 2>"$T/err"; RC=$?; rc_is 0
python3 -I -S -c 'import json,sys; l=open(sys.argv[1]).read().splitlines(); assert len(l)==2; [json.loads(x)["ts_ns"] for x in l]' "$T/out" || fail "two JSON lines"
CASE="stats --watch, Ctrl-C"
"$CTL" -s "$SOCK" stats --watch 0.1 >"$T/out" 2>"$T/err" &
wp=$!
for _ in $(seq 100); do
	[ "$(grep -c '^sluicectl stats --watch' "$T/out")" -ge 2 ] && break; sleep 0.05
done
kill -INT $wp
for _ in $(seq 100); do kill -0 $wp 2>/dev/null || break; sleep 0.05; done
if kill -0 $wp 2>/dev/null; then fail "still running 5 s after SIGINT"; kill -KILL $wp; fi
wait $wp; RC=$?; rc_is 0
[ "$(grep -c '^sluicectl stats --watch' "$T/out")" -ge 2 ] || fail "no frames before Ctrl-C"
CASE="stats --watch on a TTY"
python3 -I -S - "$CTL" "$SOCK" "$T/out" <<'EOF' || fail "no clear-screen on a TTY"
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.run([sys.argv[1], "-s", sys.argv[2], "stats", "--watch", "0.05", "--count", "2"],
                   stdout=s, stderr=subprocess.DEVNULL, timeout=10)
os.close(s)
data = b""
while True:
    try:
        chunk = os.read(m, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
open(sys.argv[3], "wb").write(data)
sys.exit(0 if p.returncode == 0 and data.count(b"\x1b[H\x1b[2J") == 2 else 1)
EOF

# --- cannot reach sluice-control, bad replies: exit 3 or 1, the socket named ---
raw -s "$T/none.sock" topic list; rc_is 3; err_has "cannot reach sluice-control at $T/none.sock"
err_has "is sluice-control running"
raw -n no-such-instance topic list; rc_is 3; err_has "/run/sluice/no-such-instance/control.sock"
python3 -I -S -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale.sock"
raw -s "$T/stale.sock" user list; rc_is 3; err_has "nobody is listening"
CASE="SLUICE_CONTROL_SOCKET"
SLUICE_CONTROL_SOCKET=$SOCK "$CTL" policy show >"$T/out" 2>"$T/err"; RC=$?; rc_is 0
out_has "auth:"
CASE="-n wins over SLUICE_CONTROL_SOCKET"
SLUICE_CONTROL_SOCKET=$SOCK "$CTL" -n other policy show >"$T/out" 2>"$T/err"; RC=$?
rc_is 3; err_has "/run/sluice/other/control.sock"
start=$(date +%s%N)
ctl -t 300 topic show slow; rc_is 3; err_has "did not answer within 300 ms"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2500 ] || fail "-t 300 was not honoured"
ctl topic show huge; rc_is 1; err_has "longer than 4194304 bytes"
ctl topic show garbage; rc_is 1; err_has "malformed reply"
ctl topic show close; rc_is 3; err_has "closed the connection without answering"

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all sluicectl checks passed"
