# Rules with `match:`: a cls_bpf classifier with the rule's mirred action.
# Real datagrams counted at the monitor: only what the keys say is taken
# (a UDP port, an IPv6 source prefix); a changed match replaces the
# program in place (same prio and handle, never absent); destroy leaves no
# tcspan program behind.
. "$(dirname "$0")/../lib.sh"

N=20	# datagrams the rule must take
M=15	# datagrams it must leave
T="$RUN_ID-match"
topology "$T"
C=$(ns client) S=$(ns server) M_NS=$(ns monitor)

write_topology() { # MATCH
	cat >"$WORK/t.yaml" <<EOF
version: 1
name: $T
namespaces: [$C, $S, $M_NS]
links:
  - a: { netns: $C, dev: eth0, addresses: [198.18.0.1/24, "2001:db8:1::1/64"] }
    b: { netns: $S, dev: eth0, addresses: [198.18.0.2/24, "2001:db8:1::2/64"] }
  - a: $S/mon0
    b: $M_NS/eth0
rules:
  - name: web
    action: mirror
    from: $S/eth0
    direction: ingress
    to: $S/mon0
    match: $1
EOF
}

# udp_send ADDR PORT COUNT: datagrams from the client, one socket each.
udp_send() {
	in_ns "$C" bash -c 'for i in $(seq '"$3"'); do echo x >"/dev/udp/$0/$1"; done' \
		"$1" "$2" 2>/dev/null
}

# Neighbours set statically: no datagram waits on (or races with) ARP/ND.
prepare_hosts() {
	local cmac smac
	cmac=$(in_ns "$C" cat /sys/class/net/eth0/address)
	smac=$(in_ns "$S" cat /sys/class/net/eth0/address)
	in_ns "$C" ip neigh replace 198.18.0.2 lladdr "$smac" dev eth0 nud permanent
	in_ns "$S" ip neigh replace 198.18.0.1 lladdr "$cmac" dev eth0 nud permanent
	in_ns "$C" ip -6 neigh replace 2001:db8:1::2 lladdr "$smac" dev eth0 nud permanent
	in_ns "$S" ip -6 neigh replace 2001:db8:1::1 lladdr "$cmac" dev eth0 nud permanent
}

# The bpf filter of the rule on server/eth0 ingress: "PRIO HANDLE PROG_ID".
bpf_filter() {
	in_ns "$S" tc -j filter show dev eth0 ingress 2>/dev/null |
		jq -r '.[] | select(.kind == "bpf" and .options.actions != null) |
			"\(.pref) \(.options.handle) \(.options.prog.id)"'
}

# count_udp SENDS...: capture UDP at the monitor while running "ADDR PORT COUNT"s.
count_udp() {
	local s
	capture_start udp "$M_NS" eth0 udp || { echo "tcpdump did not start"; return; }
	for s in "$@"; do
		# shellcheck disable=SC2086
		udp_send $s
	done
	capture_stop udp
}

# --- a UDP port --------------------------------------------------------------
write_topology "{ protocol: udp, dst_port: 5001 }"
if ! out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1); then
	fail "apply a match rule" "$out"
	exit 1
fi
prepare_hosts
kind=$(in_ns "$S" tc -j filter show dev eth0 ingress |
	jq -r '[.[] | select(.options.actions != null)] |
		map("\(.kind) \(.options.bpf_name) \(.options.actions | length)") | join(",")')
check "the rule is one named bpf filter with one action" "bpf tcspan:$T:web 1" "$kind"
cookie=$(in_ns "$S" tc -j filter show dev eth0 ingress |
	jq -r '[.[] | .options.actions[]? | .cookie] | first')
check "its action carries tcspan's cookie" "74637301" "${cookie:0:8}"
got=$(count_udp "198.18.0.2 5001 $N" "198.18.0.2 5002 $M")
check "udp dst_port 5001: the monitor gets exactly those datagrams" "$N" "$got"
pkts=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[] | select(.name == "web") | .packets')
check "stats count what the rule took" "$N" "$pkts"
shown=$("$TCSPAN" -j show "$T" | jq -r '.topologies[0].rules[] | "\(.name) \(.direction)"')
check "show lists the rule" "web ingress" "$shown"

# --- a changed match: a replace in place, never absent --------------------------
before=$(bpf_filter)
write_topology "{ protocol: udp, dst_port: 5002 }"
"$TCSPAN" -j plan "$WORK/t.yaml" >"$WORK/plan.json"
check "a changed match plans one change" "0/1/0" \
	"$(jq -r '"\(.add)/\(.change)/\(.remove)"' "$WORK/plan.json")"
: >"$WORK/watch"
(
	while [ ! -e "$WORK/stop" ]; do
		bpf_filter | awk '{ print $1, $2 }' | tr '\n' ';' >>"$WORK/watch"
		echo >>"$WORK/watch"
	done
) &
watcher=$!
PIDS+=("$watcher")
sleep 0.2
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1) || fail "apply the changed match" "$out"
sleep 0.2
touch "$WORK/stop"
wait "$watcher"
after=$(bpf_filter)
check "the changed rule keeps its prio and handle" "${before% *}" "${after% *}"
if [ "${before##* }" != "${after##* }" ] && [ -n "${after##* }" ]; then
	pass "the changed rule runs a new program"
else
	fail "the changed rule runs a new program" "before '$before', after '$after'"
fi
polls=$(wc -l <"$WORK/watch")
bad=$(grep -vcx "${before% *};" "$WORK/watch")
if [ "$polls" -gt 2 ] && [ "$bad" -eq 0 ]; then
	pass "the filter is there at every one of $polls looks during the change"
else
	fail "the filter is there during the change" "$bad of $polls looks differ: $(sort -u "$WORK/watch" | tr '\n' ' ')"
fi
"$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "a plan after the change is a no-op" 0 "$?"
got=$(count_udp "198.18.0.2 5001 $M" "198.18.0.2 5002 $N")
check "udp dst_port 5002: the monitor gets exactly those datagrams" "$N" "$got"

# A match changed while its traffic flows: datagrams to 5002 match before
# and after, so every one sent from before the change to after it reaches
# the monitor across the replace.
# mon0 quiet (no IPv6 solicitations of its own): the monitor's receive
# counter then counts mirrored datagrams only.
in_ns "$S" sysctl -qw net.ipv6.conf.mon0.disable_ipv6=1
sleep 0.1
rx0=$(in_ns "$M_NS" cat /sys/class/net/eth0/statistics/rx_packets)
in_ns "$C" bash -c 'n=0
	while [ ! -e "$0/flow.stop" ]; do echo x >/dev/udp/198.18.0.2/5002; n=$((n + 1)); done
	echo "$n" >"$0/flow.sent"' "$WORK" 2>/dev/null &
sender=$!
PIDS+=("$sender")
sleep 0.3
write_topology "{ protocol: udp, dst_port: 5002-5003 }"
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1) || fail "apply a match change under traffic" "$out"
sleep 0.3
touch "$WORK/flow.stop"
wait "$sender"
sleep 0.2
got=$(($(in_ns "$M_NS" cat /sys/class/net/eth0/statistics/rx_packets) - rx0))
K=$(cat "$WORK/flow.sent")
check "a match changed under traffic loses none of the $K datagrams sent" "$K" "$got"

# --- an IPv6 source prefix --------------------------------------------------------
write_topology "{ src: \"2001:db8:1::/64\" }"
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1) || fail "apply an IPv6 src rule" "$out"
got=$(count_udp "2001:db8:1::2 5001 $N" "198.18.0.2 5001 $M")
check "src 2001:db8:1::/64: the monitor gets exactly the IPv6 datagrams" "$N" "$got"

# --- several rules, one program ---------------------------------------------------
# One apply loads the classifier once: each rule's keys are a slot of its
# table, chosen by the filter's classid.  A later apply that changes one
# rule gives it a new copy; the others keep theirs.
several() { # PORT3
	write_topology "{ protocol: udp, dst_port: 5001 }"
	for r in "p2 5002" "p3 $1"; do
		cat >>"$WORK/t.yaml" <<EOF
  - name: ${r% *}
    action: mirror
    from: $S/eth0
    direction: ingress
    to: $S/mon0
    match: { protocol: udp, dst_port: ${r#* } }
EOF
	done
}
# stats_of: "WEB P2 P3", the packets each rule took so far.
stats_of() {
	"$TCSPAN" -j stats "$T" | jq -r '[.topologies[0].rules[] | {(.name): .packets}] | add |
		"\(.web) \(.p2) \(.p3)"'
}
# Each rule's delta between two stats_of lines.
delta() { paste -d' ' <(tr ' ' '\n' <<<"$1") <(tr ' ' '\n' <<<"$2") | awk '{ printf "%s%d", (NR > 1 ? " " : ""), $2 - $1 }'; }
# "PROGRAM_ID CLASSID" of every bpf filter, by prio.
filters_of() {
	in_ns "$S" tc -j filter show dev eth0 ingress |
		jq -r '[.[] | select(.kind == "bpf" and .options.actions != null)] | sort_by(.pref) |
			map("\(.options.prog.id) \(.options.flowid)") | join(",")'
}
"$TCSPAN" destroy "$T" >/dev/null 2>&1
several 5003
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1) || fail "apply three match rules" "$out"
prepare_hosts
fl=$(filters_of)
ids=$(tr ',' '\n' <<<"$fl" | cut -d' ' -f1 | sort -u | wc -l)
classids=$(tr ',' '\n' <<<"$fl" | cut -d' ' -f2 | sort -u | wc -l)
check "three rules of one apply run one program, each with its own classid" "1 3" \
	"$ids $classids"
a=$(stats_of)
count_udp "198.18.0.2 5001 3" "198.18.0.2 5002 5" "198.18.0.2 5003 7" "198.18.0.2 5004 2" >/dev/null
b=$(stats_of)
check "each rule takes its own port's datagrams (3, 5, 7)" "3 5 7" "$(delta "$a" "$b")"
several 5004
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1) || fail "apply a changed third rule" "$out"
fl2=$(filters_of)
check "the changed rule runs a new copy, the others keep theirs" \
	"$(cut -d, -f1-2 <<<"$fl") new" \
	"$(cut -d, -f1-2 <<<"$fl2") $([ "$(cut -d' ' -f1 <<<"${fl2##*,}")" != "$(cut -d' ' -f1 <<<"${fl%%,*}")" ] && echo new)"
a=$(stats_of)
count_udp "198.18.0.2 5001 3" "198.18.0.2 5002 5" "198.18.0.2 5003 7" "198.18.0.2 5004 2" >/dev/null
b=$(stats_of)
check "after the change: 3, 5, and the new port's 2" "3 5 2" "$(delta "$a" "$b")"

# --- destroy -----------------------------------------------------------------------
out=$("$TCSPAN" destroy "$T" 2>&1) || fail "destroy" "$out"
# A program goes once the last filter lets go of it (freed after an RCU grace period).
for _ in $(seq 40); do
	left=$(bpftool -j prog show | jq '[.[] | select((.name // "") | startswith("tcspan"))] | length')
	[ "$left" = 0 ] && break
	sleep 0.05
done
check "destroy leaves no tcspan program" 0 "$left"
