# Crash safety: an apply of 1,000 rules killed with SIGKILL at 50 random
# moments.  After each kill, one apply converges: plan --detailed-exitcode
# is then 0 and there is exactly one filter (one action, one cookie) per
# rule and hook, no duplicate and no orphan; or, every other time, destroy
# of the half-applied topology removes all of it: no namespace, filter,
# program or pin is left.  Kills land on applies from nothing, and on
# applies that change half the rules of an applied topology.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-crash"
topology "$T"
A=$(ns a) B=$(ns b)
DEVS=8			# veth pairs p-q in B whose p ends the rules take from
TARGETS=4		# veth pairs m-n in B whose m ends they send to
RULES=1000		# 1,000 rules: 960 match-all, 40 with match
KILLS=${CRASH_KILLS:-50}

# write VARIANT: the topology; variant 1 sends the odd rules to another target.
write() {
	local i d t hook
	{
		cat <<EOF
version: 1
name: $T
namespaces: [$A, $B]
links:
  - a: { netns: $A, dev: eth0, addresses: [198.18.7.1/24] }
    b: { netns: $B, dev: eth0, addresses: [198.18.7.2/24] }
EOF
		for d in $(seq 0 $((DEVS - 1))); do
			echo "  - { a: $B/p$d, b: $B/q$d }"
		done
		for t in $(seq 0 $((TARGETS - 1))); do
			echo "  - { a: $B/m$t, b: $B/n$t }"
		done
		echo "rules:"
		for i in $(seq 0 $((RULES - 1))); do
			d=$((i % DEVS))
			t=$(((i + (i % 2) * $1) % TARGETS))
			hook=ingress
			[ $((i % 3)) = 0 ] && hook=egress
			if [ $((i % 25)) = 0 ]; then
				echo "  - { name: r$i, action: mirror, from: $B/p$d, direction: $hook, to: $B/m$t, match: { protocol: udp, dst_port: $((1000 + i)) } }"
			else
				echo "  - { name: r$i, action: mirror, from: $B/p$d, direction: $hook, to: $B/m$t }"
			fi
		done
	} >"$WORK/t$1.yaml"
}
write 0
write 1

# Filters of tcspan (cookie "tcs\x01...") on every p device and hook, as
# "DEV HOOK COOKIE" lines.
our_filters() {
	local d hook
	for d in $(seq 0 $((DEVS - 1))); do
		for hook in ingress egress; do
			in_ns "$B" tc -j filter show dev "p$d" "$hook" 2>/dev/null |
				jq -r --arg d "p$d" --arg h "$hook" \
					'.[] | .options.actions[]? | .cookie // "" |
					 select(startswith("74637301")) | "\($d) \($h) \(.)"'
		done
	done
}

tcspan_programs() {
	bpftool -j prog show | jq '[.[] | select((.name // "") | startswith("tcspan"))] | length'
}

# programs_settle N: the count of tcspan programs, once it is N or after 3 s
# (the kernel frees a deleted filter's program after an RCU grace period).
programs_settle() {
	local i n
	for i in $(seq 30); do
		n=$(tcspan_programs)
		[ "$n" = "$1" ] && break
		sleep 0.1
	done
	echo "$n"
}

sleep 1	# programs of earlier tests freed (RCU)
programs0=$(tcspan_programs)
"$TCSPAN" -q apply "$WORK/t0.yaml" >/dev/null 2>&1 || fail "a first full apply" "failed"
"$TCSPAN" -q destroy "$T" >/dev/null 2>&1
start=$(date +%s%N)
"$TCSPAN" -q apply "$WORK/t0.yaml" >/dev/null 2>&1
full_ms=$((($(date +%s%N) - start) / 1000000))
"$TCSPAN" -q destroy "$T" >/dev/null 2>&1
echo "# a full apply of $RULES rules (after a destroy) takes about $full_ms ms"

converged=0 destroyed=0 bad=0 killed_mid=0
for k in $(seq 1 "$KILLS"); do
	# Odd kills: an apply from nothing.  Even kills: a change of half the
	# rules on a fully applied topology.
	if [ $((k % 2)) = 1 ]; then
		file=t0
	else
		"$TCSPAN" -q apply "$WORK/t0.yaml" >/dev/null 2>&1
		file=t1
	fi
	"$TCSPAN" -q apply "$WORK/$file.yaml" >/dev/null 2>&1 &
	pid=$!
	sleep "$(awk -v r="$RANDOM" -v ms="$full_ms" 'BEGIN { printf "%.3f", r / 32768 * ms / 1000 }')"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ $? = 137 ] && killed_mid=$((killed_mid + 1))

	if [ $((k % 4)) = 3 ]; then
		# Destroy what the killed apply left.
		if ! out=$("$TCSPAN" -q destroy "$T" 2>&1); then
			bad=$((bad + 1))
			fail "kill $k: destroy of a half-applied topology" "$out"
			continue
		fi
		left="$(ip netns list 2>/dev/null | grep -c "^$RUN_ID-") $(programs_settle "$programs0") $(ls /sys/fs/bpf/tcspan 2>/dev/null | grep -c "^$T$")"
		if [ "$left" != "0 $programs0 0" ]; then
			bad=$((bad + 1))
			fail "kill $k: destroy leaves nothing" "namespaces, programs, pins: $left"
			continue
		fi
		destroyed=$((destroyed + 1))
		continue
	fi
	if ! out=$("$TCSPAN" -q apply "$WORK/$file.yaml" 2>&1); then
		bad=$((bad + 1))
		fail "kill $k: one apply converges" "$out"
		continue
	fi
	"$TCSPAN" -q plan --detailed-exitcode "$WORK/$file.yaml" >/dev/null 2>&1
	status=$?
	our_filters >"$WORK/filters"
	total=$(wc -l <"$WORK/filters")
	distinct=$(awk '{ print $3 }' "$WORK/filters" | sort -u | wc -l)
	# Every rule has one hook here: RULES filters, RULES distinct cookies.
	if [ "$status" != 0 ] || [ "$total" != "$RULES" ] || [ "$distinct" != "$RULES" ]; then
		bad=$((bad + 1))
		fail "kill $k: converged in one apply" \
			"plan status $status, $total filters, $distinct distinct cookies (want $RULES)"
		continue
	fi
	converged=$((converged + 1))
	# Start the next apply from nothing.
	"$TCSPAN" -q destroy "$T" >/dev/null 2>&1
done
echo "# $killed_mid of $KILLS applies were killed before they ended"
check "after each of $KILLS kills: one apply converged or destroy removed everything" \
	"0 $KILLS" "$bad $((converged + destroyed))"
[ "$killed_mid" -ge $((KILLS / 2)) ] &&
	pass "most kills landed during the apply ($killed_mid of $KILLS)" ||
	fail "most kills landed during the apply" "only $killed_mid of $KILLS"
"$TCSPAN" -q destroy "$T" >/dev/null 2>&1
check "at the end no tcspan program is left" "$programs0" "$(programs_settle "$programs0")"
