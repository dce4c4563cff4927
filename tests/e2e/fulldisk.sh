#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A sync topic whose journal lives on a small tmpfs is filled until the file
# system is full: every publish is either acknowledged or refused with
# SL_E_JOURNAL_FULL (their sum is what was sent), refusals are counted per
# topic, another topic on the same worker keeps its latency while the full
# one is refused (p99 within 2x of the same load to a topic with room,
# measured before the fill and in turns with the refused load), and once a
# file is deleted from the tmpfs the full topic accepts and acknowledges
# again by itself.
. "$(dirname "$0")/lib.sh"
OUT="$SL_ROOT/tests/e2e/outcomes.py"
FS_MB=${FULLDISK_FS_MB:-32}
SEG_MB=${FULLDISK_SEG_MB:-8}
RATE=${FULLDISK_RATE:-1000}   # publishes/s offered to the full topic
PHASE_S=${FULLDISK_PHASE_S:-10} # seconds of baseline before the fill
ROUNDS=${FULLDISK_ROUNDS:-3}    # then this many turns of full topic / baseline,
BLOCK_S=${FULLDISK_BLOCK_S:-5}  # each this many seconds
# A shared two-core machine delays a waiting process by a few milliseconds
# now and then, load or no load: a baseline p99 below this is taken as this.
FLOOR_US=${FULLDISK_FLOOR_US:-2500}

# The dataplane runs in a mount namespace of its own (ip netns exec): the
# tmpfs is mounted before it starts, and unmounted after it stopped.
mnt="$T_DIR/fs"
mkdir -p "$mnt"
t_require
mount -t tmpfs -o "size=${FS_MB}m,mode=0700" sluice-fulldisk "$mnt" ||
	{ echo "[$T_NAME] FAIL: cannot mount a tmpfs on $mnt"; rmdir "$mnt" "$T_DIR"; exit 1; }
eval "$(declare -f t_cleanup | sed '1s/t_cleanup/lib_cleanup/')"
t_cleanup() {
	local p
	for p in "${T_BG[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	sl_dp_stop # it maps the journal: stopped before the unmount
	umount "$mnt" 2>/dev/null || umount -l "$mnt"
	lib_cleanup
}
t_start --set "journal_dir=$mnt/journal" --set durability=none \
	--set "durability_rules=full.*=sync" --set segment_mb="$SEG_MB" --set capacity_mb=0
# Ballast, deleted later to give space back. What is left holds two
# segments and most of a third: a journal that cannot grow, with megabytes
# free, as on a real disk.
dd if=/dev/zero of="$mnt/ballast" bs=1M count="$SEG_MB" status=none

# js FILE KEY: one value of an outcomes.py summary
js() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# every_answered NAME FILE: acknowledged + refused == sent, nothing unanswered
every_answered() {
	local f=$2
	t_log "$1: $(cat "$f")"
	t_eq "$1: acknowledged + refused == sent" \
		$(($(js "$f" acked) + $(js "$f" refused_total))) "$(js "$f" sent)"
	t_eq "$1: no publish left unanswered" "$(js "$f" unanswered_total)" 0
	t_eq "$1: no answer twice" "$(js "$f" duplicate_answers)" 0
}
pub() { sl_cl "$T_TAG" python3 "$OUT" "$1" "$T_NET.1" 9500 "${@:2}"; }

# Create both topics before measuring anything.
pub fill full.t "$T_DIR/warm.json" --max 10 --size 32 || t_fail "first publishes to full.t"
pub fill steady.t "$T_DIR/warm2.json" --max 10 --size 32 || t_fail "first publishes to steady.t"
t_eq "full.t is sync" "$(t_topic full.t durability)" sync
t_eq "steady.t has no journal" "$(t_topic steady.t durability)" none

# The steady publisher runs through every phase; its samples are cut by time
# ($T_DIR/phases.txt: "KIND START END" for each block of offered load).
# Real-time priority where allowed: the client's own wake-ups are then not
# what the measure shows.
rt=()
chrt -f 1 true 2>/dev/null && rt=(chrt -f 1)
sl_cl "$T_TAG" "${rt[@]}" python3 "$OUT" probe "$T_NET.1" 9500 steady.t "$T_DIR/probe.txt" --rate 400 \
	--secs $((PHASE_S + ROUNDS * BLOCK_S * 2 + 120)) &
probe=$!
T_BG+=("$probe")
sleep 1

# load KIND TOPIC OUTFILE SECONDS: the offered load of every phase, timed
load() {
	local t0 t1
	t0=$(date +%s.%N)
	pub rate "$2" "$3" --rate "$RATE" --secs "$4" --size 1392 || t_fail "load on $2"
	t1=$(date +%s.%N)
	echo "$1 $t0 $t1" >>"$T_DIR/phases.txt"
}

# Baseline before the fill: the load offered later to the full topic, here
# to a topic with room (no journal).
load base bg.t "$T_DIR/base.json" "$PHASE_S"
every_answered "baseline load" "$T_DIR/base.json"

# Fill until the file system is full: acknowledged, then refused.
pub fill full.t "$T_DIR/fill.json" --size 1392 --secs 60 --refusals 256 --max $((FS_MB * 1024)) ||
	t_fail "fill publisher"
every_answered "fill" "$T_DIR/fill.json"
t_ge "fill: publishes acknowledged before the disk filled" "$(js "$T_DIR/fill.json" acked)" 1000
t_eq "fill: refused with SL_E_JOURNAL_FULL only" \
	"$(js "$T_DIR/fill.json" refused)" "{'10': $(js "$T_DIR/fill.json" refused_total)}"
stored=$(t_topic full.t seq)
t_eq "stored == acknowledged (refused ones took no sequence)" "$stored" \
	$((10 + $(js "$T_DIR/fill.json" acked)))
df -k "$mnt" | sed "s/^/[$T_NAME] /"

# Full: the same load, to the full topic, refused at once. Blocks of it take
# turns with more baseline blocks, so that a shared machine's changing load
# meets both measures alike.
refused=$(js "$T_DIR/fill.json" refused_total)
for r in $(seq 1 "$ROUNDS"); do
	load full full.t "$T_DIR/full$r.json" "$BLOCK_S"
	every_answered "load on the full topic ($r)" "$T_DIR/full$r.json"
	t_eq "full topic: every publish refused ($r)" "$(js "$T_DIR/full$r.json" refused_total)" \
		"$(js "$T_DIR/full$r.json" sent)"
	refused=$((refused + $(js "$T_DIR/full$r.json" refused_total)))
	load base bg.t "$T_DIR/base$r.json" "$BLOCK_S"
	every_answered "baseline load ($r)" "$T_DIR/base$r.json"
done
t_eq "full topic: nothing stored meanwhile" "$(t_topic full.t seq)" "$stored"
t_eq "refusals counted on the topic" "$(t_topic full.t journal_full)" "$refused"
t_eq "refusals counted as drops, no others" "$(t_stat drop_journal_full)" "$refused"
kill "$probe" 2>/dev/null
wait "$probe" 2>/dev/null

# p99 of the steady topic's round trips: the median of the per-second p99s
# of all blocks of a kind (robust to a stray pause of a shared machine),
# within 2x of the baseline's (at least FLOOR_US). A publish not acknowledged
# within 0.5 s counts as 0.5 s, and fails the check by itself.
python3 - "$T_DIR/probe.txt" "$T_DIR/phases.txt" "$FLOOR_US" <<'PY' >"$T_DIR/lat.txt" ||
import sys
rows = [(float(t), v) for t, v in (l.split() for l in open(sys.argv[1]))]
blocks = [(k, float(a), float(b)) for k, a, b in (l.split() for l in open(sys.argv[2]))]
def phase(kind, first_only=False):
    p99s, n, lost = [], 0, 0
    for k, lo, hi in blocks:
        if k != kind:
            continue
        per = {}
        for t, v in rows:
            if lo + 0.5 <= t < hi:
                if v == "lost":
                    lost += 1
                    v = 500000
                per.setdefault(int(t - lo), []).append(float(v))
        for s in per.values():
            s.sort()
            n += len(s)
            if len(s) >= 10:
                p99s.append(s[min(len(s) - 1, int(len(s) * 0.99))])
        if first_only:
            break
    p99s.sort()
    return (p99s[len(p99s) // 2] if p99s else None), n, lost
first, n1, _ = phase("base", True)
base, nb, lb = phase("base")
full, nf, lf = phase("full")
floor = float(sys.argv[3])
print(f"baseline p99 {base} us ({nb} samples, {lb} lost; before the fill alone {first} us); "
      f"while refusing p99 {full} us ({nf} samples, {lf} lost); limit 2 x max(baseline, {floor:.0f})")
ok = base is not None and full is not None and nb >= 2000 and nf >= 2000 and lf == 0 and \
    full <= 2 * max(base, floor)
sys.exit(0 if ok else 1)
PY
	t_fail "steady topic latency while the other topic is full: $(cat "$T_DIR/lat.txt")"
t_log "$(cat "$T_DIR/lat.txt")"

# Space returns: the full topic accepts and acknowledges again by itself.
rm -f "$mnt/ballast"
back=0 acked=0 bad=0
for i in $(seq 1 40); do
	pub fill full.t "$T_DIR/back.json" --max 100 --size 1392 --refusals 1 --drain 2 ||
		t_fail "publisher after space returned"
	acked=$((acked + $(js "$T_DIR/back.json" acked)))
	[ $(($(js "$T_DIR/back.json" acked) + $(js "$T_DIR/back.json" refused_total))) == \
		"$(js "$T_DIR/back.json" sent)" ] || bad=$((bad + 1))
	if [ "$(js "$T_DIR/back.json" acked)" == 100 ]; then back=$i; break; fi
	sleep 0.25
done
t_ge "full topic acknowledges again once space is free (attempt)" "$back" 1
t_eq "after space returned: every publish acknowledged or refused" "$bad" 0
t_eq "the sequence goes on where it stopped" "$(t_topic full.t seq)" $((stored + acked))
t_done
