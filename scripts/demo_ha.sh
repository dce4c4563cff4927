# SPDX-License-Identifier: BSD-3-Clause
# scripts/demo.sh --ha (sourced by demo.sh once the build is there): a
# replicated broker pair surviving kill -9 of its primary. The work is the
# failover test's (tests/e2e/ha_failover.sh, which builds the topology of
# docs/HA.md "Trying it" and removes it at the end); this prints what it
# does and its report, or with --json its results as one line.

demo_ha() {
	local rep rc
	[[ $cycles =~ ^[0-9]+$ && $cycles -ge 1 && $cycles -le 100 ]] ||
		{ echo "demo: --cycles is 1..100, not '$cycles'" >&2; return 2; }
	rep=$(mktemp /tmp/sluice-demo-ha.XXXXXX) || return 1
	local ha_detect=${HA_DETECT_MS:-60} ha_lease=${HA_LEASE_MS:-100}
	say "a replicated broker pair, on one bridge (namespaces <tag>-br, -a, -b, -c):"
	say "  node a and node b: sluice-dataplane (af_packet) + sluice-control each;"
	say "  etcd on 127.0.0.1 holds the pair's leader and epoch; the primary answers"
	say "  for the service IP and acknowledges a sync publish once both nodes hold it"
	say "sluice-loadgen from <tag>-c through the service IP: $rate msg/s, every publish"
	say "  acknowledged (idempotent producer), one subscriber; the primary killed with"
	say "  -9 $cycles times, the other node taking over, the killed one restarted as standby"
	# The product's defaults (docs/HA.md "Timings"); override to try others.
	say "pair timings: ha.detect_ms=$ha_detect, ha.lease_ms=$ha_lease (HA_DETECT_MS, HA_LEASE_MS)"
	if [ $json -eq 1 ]; then
		HA_CYCLES=$cycles HA_RATE=$rate HA_REPORT=$rep SL_BUILD=$root/build \
			HA_DETECT_MS=$ha_detect HA_LEASE_MS=$ha_lease \
			"$root/tests/e2e/ha_failover.sh" >&2
		rc=$?
	else
		HA_CYCLES=$cycles HA_RATE=$rate HA_REPORT=$rep SL_BUILD=$root/build \
			HA_DETECT_MS=$ha_detect HA_LEASE_MS=$ha_lease \
			"$root/tests/e2e/ha_failover.sh" 2>&1 | sed 's/^\[ha_failover\] /  /'
		rc=${PIPESTATUS[0]}
	fi
	case $rc in
	0) say "every acknowledged message is on the surviving node once and was delivered once" ;;
	77) echo "demo: this build has no broker pair (dataplane ha.* keys, sluice-control --etcd)" >&2 ;;
	*) echo "demo: the failover run failed (exit $rc); see its lines above" >&2 ;;
	esac
	[ $json -eq 0 ] || [ ! -s "$rep" ] || tail -n 1 "$rep"
	rm -f "$rep"
	return $rc
}
