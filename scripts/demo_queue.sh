# SPDX-License-Identifier: BSD-3-Clause
# scripts/demo.sh --queue (sourced by demo.sh, which has started the broker,
# sluice-control and the user "demo"): a work queue. A consumer group of
# three sluice-sub members shares topic demo.work; a publisher sends
# rate x duration jobs, acknowledged; halfway through, member 2 is killed
# with -9; its unacknowledged jobs move to the other two once its session
# ends and its grace runs out. Then it reports what each member processed,
# what was lost (never processed: must be 0) and what was processed twice
# (the killed member's jobs it had printed but not yet acknowledged).

# q_member I: start member I in the background (pid in qpids[I]).
q_member() {
	local i=$1 out=$work/member.$1
	local a=(-t demo.work --group workers --member-id "$i" -v --credentials "$work/demo.cred"
		--reconnect-max 0)
	if [ "$transport" == shm ]; then
		"$root/build/client/sluice-sub" --shm $name "${a[@]}" >"$out" 2>"$out.err" &
	else
		ip netns exec $tag-cl "$root/build/client/sluice-sub" -h 10.77.0.1 "${a[@]}" \
			>"$out" 2>"$out.err" &
	fi
	qpids[$i]=$!
}

q_count() { cat "$work"/member.? 2>/dev/null | wc -l; }
q_distinct() { awk '{ print $2 }' "$work"/member.? 2>/dev/null | sort -u | wc -l; }
q_gval() {
	ctl group show demo.work workers --json 2>/dev/null |
		python3 -c 'import json,sys; v=json.load(sys.stdin); c=v.get("counters", v); print(c[sys.argv[1]])' "$1"
}

demo_queue() {
	local sent=$((rate * duration)) i pub rc=0 dist killed=2 waited
	local -a qpids=()

	say "work queue: topic demo.work, group 'workers' (least-outstanding, ack-wait 5 s," \
		"grace 0.5 s, max 5 deliveries, dead letters to demo.dlq)"
	# Journaled: a dead member's jobs are redelivered from the journal however
	# long its session takes to expire (a `none` topic keeps only its
	# retransmit window).
	quiet ctl topic create demo.work --durability async || return 1
	quiet ctl topic create demo.dlq || return 1
	quiet ctl group create demo.work workers --policy least --ack-wait-ms 5000 \
		--grace-ms 500 --max-deliveries 5 --dead-letter demo.dlq || return 1
	for i in 1 2 3; do q_member "$i"; done
	for _ in $(seq 1 100); do
		[ "$(q_gval members)" == 3 ] && break
		sleep 0.1
	done
	say "three members joined ($transport); publishing $sent jobs at $rate/s, acknowledged"
	local pa=(-t demo.work -m job -n "$sent" -r "$rate" -a -q --timeout 30000
		--credentials "$work/demo.cred")
	if [ "$transport" == shm ]; then
		"$root/build/client/sluice-pub" --shm $name "${pa[@]}" &
	else
		ip netns exec $tag-cl "$root/build/client/sluice-pub" -h 10.77.0.1 "${pa[@]}" &
	fi
	pub=$!
	# Kill member 2 once a third of the jobs went out (bounded: 60 s).
	for _ in $(seq 1 600); do
		[ "$(q_count)" -ge $((sent / 3)) ] && break
		sleep 0.1
	done
	kill -KILL "${qpids[$killed]}" 2>/dev/null
	wait "${qpids[$killed]}" 2>/dev/null
	say "killed member $killed with -9 after $(wc -l <"$work/member.$killed") jobs"
	wait "$pub" || { say "the publisher failed (exit $?)"; rc=1; }
	# Wait (bounded: 30 s) for the last jobs and the dead member's, moved.
	for waited in $(seq 1 300); do
		[ "$(q_distinct)" -ge "$sent" ] && break
		sleep 0.1
	done
	sleep 0.2
	for i in 1 3; do kill -TERM "${qpids[$i]}" 2>/dev/null; wait "${qpids[$i]}" 2>/dev/null; done
	dist=$(q_distinct)
	local total lost dups redel dead
	total=$(q_count)
	lost=$((sent - dist))
	dups=$((total - dist))
	redel=$(q_gval redelivered)
	dead=$(q_gval dead_lettered)
	[ "$lost" -eq 0 ] || rc=1
	if [ $json -eq 1 ]; then
		printf '{"mode":"queue","transport":"%s","sent":%d,"processed":%d,"lost":%d,' \
			"$transport" "$sent" "$dist" "$lost"
		printf '"duplicates":%d,"redelivered":%s,"dead_lettered":%s,"killed_member":"%s",' \
			"$dups" "${redel:-null}" "${dead:-null}" "$killed"
		printf '"members":{"1":%d,"2":%d,"3":%d}}\n' "$(wc -l <"$work/member.1")" \
			"$(wc -l <"$work/member.2")" "$(wc -l <"$work/member.3")"
	else
		for i in 1 2 3; do
			say "  member $i processed $(wc -l <"$work/member.$i")$([ $i == $killed ] && echo ' (killed -9)')"
		done
		say "sent $sent, processed $dist distinct, lost $lost, processed twice $dups" \
			"(printed by member $killed, not yet acknowledged when it died), redelivered" \
			"${redel:-?}, dead-lettered ${dead:-?}"
		echo
		say "the group (sluicectl -n $name group show demo.work workers):"
		ctl group show demo.work workers | sed "s/^/  /"
	fi
	return $rc
}
