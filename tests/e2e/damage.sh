#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Damage at rest in a sync topic's journal, one class at a time, on a copy
# of the same acknowledged journal: a flipped byte mid first segment, mid
# last segment and in the last record; the last three records zeroed; the
# last segment cut to half and to 0 bytes; journal.meta with two flipped
# bytes. After each restart the dataplane runs, the topic is there with its
# policy and sequence, every undamaged record replays and the damaged range
# comes as a gap notice, the damage is reported as corrupt (log line with
# file, offset and seqs; per-topic counter; sluice-journal verify exit 5),
# and the next publish gets a sequence no record on disk ever had.
. "$(dirname "$0")/lib.sh"
jdir="$T_DIR/journal"
topic=dmg.t
J="$SL_BUILD/persist/sluice-journal"
dp_args=(--set "journal_dir=$jdir" --set durability=none --set "durability_rules=dmg.*=sync"
	--set segment_mb=1 --set capacity_mb=0)
t_start "${dp_args[@]}"

# 64-byte payloads: 128-byte records (64-byte header, format 2) without padding, so every byte of a
# record is covered by its checks and a record's offset follows from its seq.
msg=$(printf 'm%063d' 0)
for i in 1 2 3 4 5 6 7; do
	t_pub -t "$topic" -m "$msg" -n 2000 -a -q --timeout 5000 || t_fail "publish batch $i"
done
n=$(t_topic "$topic" seq)
t_ge "acknowledged records" "$n" 13500
sl_dp_stop
t_eq "clean stop" "$SL_DP_RC" 0
cp -a "$jdir/$topic" "$T_DIR/pristine"
segs=("$T_DIR"/pristine/*.seg)
t_eq "two segments" "${#segs[@]}" 2
seg1=$(basename "${segs[0]}")
seg2=$(basename "${segs[1]}")
f=$((10#${seg2%.seg})) # first seq of the last segment
rec_off() { echo $((64 + ($1 - $2) * 128)); } # seq, first seq of its segment

# check CASE LO HI: records LO..HI damaged (none when LO is 0)
check() {
	local c=$1 lo=$2 hi=$3 log="$T_DIR/dp-$1.log" want ndmg=0 out vrc
	sl_dp_start "$T_TAG" "$log" --name "$T_DP" --idle backoff --set "port0.ip=$T_NET.1" \
		"${dp_args[@]}" || { t_fail "$c: dataplane did not start"; return; }
	t_eq "$c: topic loaded with its sequence" "$(t_topic "$topic" seq)" "$n"
	t_eq "$c: and its policy" "$(t_topic "$topic" durability)" sync
	[ "$lo" -gt 0 ] && ndmg=$((hi - lo + 1))
	want=$((n - ndmg + 1))
	# The next publish never reuses a sequence a record on disk had.
	t_pub -t "$topic" -m after -a -q || t_fail "$c: publish after the damage"
	t_eq "$c: the next publish gets seq $((n + 1))" "$(t_topic "$topic" seq)" $((n + 1))
	# Replay it all: the new record comes after the gap notice, also for
	# damage at the end of the journal.
	t_sub_bg "$T_DIR/$c.out" -t "$topic" --from earliest -C "$want" -W 20 -v --stats
	wait "$T_LAST"
	t_check "$c: every undamaged record replays, in order, the damaged ones not, then the new one" \
		python3 - "$T_DIR/$c.out" "$n" "$lo" "$hi" "$msg" <<'PY'
import sys
path, n, lo, hi, msg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rows = [l.split() for l in open(path)]
want = [s for s in range(1, n + 1) if not lo <= s <= hi] + [n + 1]
got = [int(r[1]) for r in rows]
if got != want or any(r[2] != msg for r in rows[:-1]) or rows[-1][2] != "after":
    print(f"got {len(got)} records, want {len(want)}; first difference at",
          next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want))))
    sys.exit(1)
PY
	if [ "$lo" -gt 0 ]; then
		t_check "$c: the subscriber was told of the gap $lo..$hi" \
			grep -q "gap: topic $topic seq $lo..$hi" "$T_DIR/$c.out.err"
		t_check "$c: log names file, offset and seqs, and says corrupt" \
			grep -Eq "JOURNAL CORRUPT: .*$topic/(missing|corrupt): [0-9]+\\.seg offset [0-9]+: seq $lo\\.\\.$hi " "$log"
		t_eq "$c: counted per topic" "$(t_topic "$topic" journal_corrupt)" "$ndmg"
		out=$("$J" verify "$jdir/$topic" 2>&1)
		vrc=$?
		t_eq "$c: sluice-journal verify exit (corrupt)" "$vrc" 5
		t_check "$c: verify says corrupt, not torn" \
			bash -c '[[ "$1" == *"verdict:       CORRUPT"* && "$1" != *torn* && "$1" == *"seq '"$lo..$hi"' "* ]]' _ "$out"
	fi
	sl_dp_stop
	t_eq "$c: clean stop" "$SL_DP_RC" 0
}

# damage CASE: a fresh copy of the acknowledged journal, damaged
fresh() { rm -rf "${jdir:?}/$topic"; cp -a "$T_DIR/pristine" "$jdir/$topic"; }

k=4000
fresh
t_flip "$jdir/$topic/$seg1" $(($(rec_off $k 1) + 64 + 17))
check mid-first $k $k

k=$((f + (n - f) / 2))
fresh
t_flip "$jdir/$topic/$seg2" $(($(rec_off $k "$f") + 64 + 40))
check mid-last $k $k

fresh
t_flip "$jdir/$topic/$seg2" $(($(rec_off "$n" "$f") + 60))
check last-record "$n" "$n"

fresh
dd if=/dev/zero of="$jdir/$topic/$seg2" bs=1 seek="$(rec_off $((n - 2)) "$f")" count=360 \
	conv=notrunc status=none
check last-three-zeroed $((n - 2)) "$n"

fresh
half=$(($(stat -c %s "$jdir/$topic/$seg2") / 2))
truncate -s "$half" "$jdir/$topic/$seg2"
k=$(((half - 64) / 128 + f)) # the first record that no longer fits
check last-seg-half $k "$n"
t_check "last-seg-half: the cut file is named" grep -q "$seg2 offset $half: the segment file is shorter" \
	"$T_DIR/dp-last-seg-half.log"

fresh
truncate -s 0 "$jdir/$topic/$seg2"
check last-seg-empty "$f" "$n"

fresh
t_flip "$jdir/$topic/journal.meta" 20
t_flip "$jdir/$topic/journal.meta" $((64 + 30))
"$J" verify "$jdir/$topic" >"$T_DIR/meta.verify" 2>&1
t_check "journal.meta: verify names it and what is wrong" \
	grep -q "journal.meta: both copies fail their checksum" "$T_DIR/meta.verify"
check meta 0 0
t_check "journal.meta: the log names it and says it was rebuilt" \
	grep -q "$topic/journal.meta: both copies fail their checksum; rebuilt" "$T_DIR/dp-meta.log"
"$J" verify "$jdir/$topic" >"$T_DIR/meta.verify2" 2>&1
t_eq "journal.meta: whole again after the restart (verify clean)" "$?" 0
t_done
