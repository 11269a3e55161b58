# apply --watch: an owned filter, link or namespace removed by hand comes
# back on its own, with packets mirrored again; the watcher sleeps in the
# kernel between changes (no polling); a foreign filter wakes it without
# being touched; SIGTERM ends it, with --destroy-on-exit removing the
# topology and without it leaving the topology in place.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-watch"
topology "$T"
C=$(ns client) S=$(ns server) M=$(ns monitor)

{
	lab_header
	span_rule
} >"$WORK/t.yaml"

# start_watch ARGS...: apply --watch in the background; $WATCHER is its PID.
start_watch() {
	"$TCSPAN" apply --watch "$@" "$WORK/t.yaml" >"$WORK/watch.out" 2>"$WORK/watch.err" &
	WATCHER=$!
	PIDS+=("$WATCHER")
	wait_for "the watcher has applied" grep -q "^tcspan: watching" "$WORK/watch.err"
}

# wait_for WHAT CMD...: up to 5 s for CMD to succeed; 1 if it never does.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 50); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "timed out waiting until $what" >&2
	return 1
}

filters() { tc_filter_count "$S" eth0 ingress; }
has_filter() { [ "$(filters)" = 1 ]; }
no_filter() { [ "$(filters)" = 0 ]; }
applies() { grep -c "^Apply complete" "$WORK/watch.out"; }
ctxt_switches() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$1/status"; }

# An echo request from the client: the monitor sees the mirrored copy.
mirrored() {
	local before
	before=$(in_ns "$M" cat /sys/class/net/eth0/statistics/rx_packets)
	ping_count "$C" 198.18.0.2 3 >/dev/null
	[ "$(($(in_ns "$M" cat /sys/class/net/eth0/statistics/rx_packets) - before))" -ge 3 ]
}

start_watch
check "apply --watch applies the topology" 1 "$(filters)"

# --- an owned filter deleted by hand ------------------------------------------
in_ns "$S" tc filter del dev eth0 ingress
if wait_for "the filter is back" has_filter; then
	pass "a deleted filter comes back"
else
	fail "a deleted filter comes back" "$(filters) filters after 5 s"
fi
mirrored && pass "packets are mirrored again" || fail "packets are mirrored again" "none at the monitor"
"$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "the repair converges: plan is a no-op" 0 $?

# --- an owned link and an owned namespace deleted by hand ------------------------
in_ns "$S" ip link del mon0
if wait_for "mon0 is back" in_ns "$S" ip link show mon0 && wait_for "the filter is back" has_filter; then
	pass "a deleted link comes back, with the rule on it"
else
	fail "a deleted link comes back" "$(in_ns "$S" ip -br link 2>&1 | tr '\n' ' ')"
fi
ip netns del "$M"
if wait_for "the monitor namespace is back" test -e "/run/netns/$M" &&
	wait_for "the monitor's eth0 is back" in_ns "$M" ip link show eth0; then
	pass "a deleted namespace comes back, with its link"
else
	fail "a deleted namespace comes back" "$(ip netns list | tr '\n' ' ')"
fi
wait_for "mirroring works again" mirrored &&
	pass "packets reach the re-created monitor" ||
	fail "packets reach the re-created monitor" "none at the monitor"

# --- asleep between changes -------------------------------------------------------
# Once IPv6 duplicate address detection is over (its address changes are
# notifications too), nothing changes: the watcher must stay asleep.
settled() {
	local n
	for n in "$C" "$S" "$M"; do
		[ -z "$(in_ns "$n" ip -6 addr show tentative)" ] || return 1
	done
}
wait_for "IPv6 addresses are settled" settled
sleep 1.2
n0=$(applies) s0=$(ctxt_switches "$WATCHER")
sleep 2
n1=$(applies) s1=$(ctxt_switches "$WATCHER")
check "idle for 2 s: the watcher does not wake (context switches)" "$s0" "$s1"
check "idle for 2 s: nothing applied" "$n0" "$n1"

# A foreign filter on the same hook wakes the watcher; it plans, finds
# nothing of its own changed, and leaves the foreign filter alone.
in_ns "$S" tc filter add dev eth0 ingress prio 7 u32 match u32 0 0 \
	action mirred egress mirror dev mon0
sleep 1.5
check "a foreign filter is left alone" 2 "$(filters)"
check "a foreign filter causes no apply" "$n1" "$(applies)"
in_ns "$S" tc filter del dev eth0 ingress prio 7

# --- SIGTERM ------------------------------------------------------------------------
# Even while notifications keep coming (a foreign filter added and deleted
# without pause), SIGTERM ends the watcher promptly.
(
	while [ ! -e "$WORK/churn.stop" ]; do
		in_ns "$S" tc filter add dev eth0 ingress prio 7 u32 match u32 0 0 \
			action mirred egress mirror dev mon0 2>/dev/null
		in_ns "$S" tc filter del dev eth0 ingress prio 7 2>/dev/null
	done
) &
churn=$!
PIDS+=("$churn")
sleep 1
kill -TERM "$WATCHER"
for i in $(seq 30); do
	kill -0 "$WATCHER" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$WATCHER" 2>/dev/null; then
	fail "SIGTERM ends the watcher within 3 s under a stream of notifications" "still running"
	kill -KILL "$WATCHER"
else
	pass "SIGTERM ends the watcher within 3 s under a stream of notifications"
fi
wait "$WATCHER"
check "SIGTERM ends the watcher with status 0" 0 $?
touch "$WORK/churn.stop"
wait "$churn"
in_ns "$S" tc filter del dev eth0 ingress prio 7 2>/dev/null
check "without --destroy-on-exit the topology stays" 1 "$(filters)"

start_watch --destroy-on-exit
kill -TERM "$WATCHER"
wait "$WATCHER"
check "SIGTERM with --destroy-on-exit: status 0" 0 $?
grep -q "^Destroy complete" "$WORK/watch.out" &&
	pass "--destroy-on-exit destroys the topology" ||
	fail "--destroy-on-exit destroys the topology" "$(cat "$WORK/watch.out")"
left=$("$TCSPAN" -j show "$T" | jq '.topologies | length')
check "nothing of the topology is left" 0 "$left"
check "its namespaces are gone" 0 "$(ip netns list | grep -c "^$RUN_ID-")"

# --- options that do not go together ----------------------------------------------
out=$("$TCSPAN" apply --destroy-on-exit "$WORK/t.yaml" 2>&1)
check "--destroy-on-exit without --watch is refused" \
	"1 tcspan: error: --destroy-on-exit goes with --watch" "$? $out"
out=$("$TCSPAN" apply --watch --dry-run "$WORK/t.yaml" 2>&1)
check "--watch with --dry-run is refused" \
	"1 tcspan: error: --watch and --dry-run exclude each other" "$? $out"
check "a refused option changes nothing" 0 "$(ip netns list | grep -c "^$RUN_ID-")"
