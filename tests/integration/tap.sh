# tcspan tap: a capture around a command.  The file holds what the command
# sent and tcpdump reads it; pcapng keeps two sources in two namespaces
# apart; --match keeps only what matches; CMD's exit status is the tap's;
# SIGTERM ends it promptly with a readable file and nothing left; what a
# SIGKILLed tap left is removed by the next tap and by destroy --taps; a
# tap beside a topology's rule on the same device disturbs neither.
. "$(dirname "$0")/../lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
T="$RUN_ID-tap"
topology "$T"
C=$(ns client) S=$(ns server) M=$(ns monitor)
{
	lab_header
	span_rule
} >"$WORK/t.yaml"
"$TCSPAN" -q apply "$WORK/t.yaml" || fail "the lab applies" "see above"

# left: what taps have in the kernel and in /run/tcspan/taps: topologies,
# veth ends named ts*, filters on the server's eth0 beyond the lab's one.
left() {
	local tops links filters
	tops=$("$TCSPAN" -j show | jq '[.topologies[].name | select(startswith("tap-"))] | length')
	links=$(for n in "" "$C" "$S" "$M"; do
		if [ -n "$n" ]; then in_ns "$n" ip -j link show; else ip -j link show; fi
	done | jq -s '[.[][] | select(.ifname | test("^ts[0-9a-f]{8}[sc][0-9]+$"))] | length')
	filters=$(( $(tc_filter_count "$S" eth0 ingress) + $(tc_filter_count "$S" eth0 egress) ))
	echo "$tops $links $filters $(ls /run/tcspan/taps 2>/dev/null | wc -l)"
}
NOTHING="0 0 1 0"	# the lab's own filter stays
check "before any tap: nothing of a tap" "$NOTHING" "$(left)"

udp() { # NETNS ADDR PORT N: N datagrams
	in_ns "$1" bash -c 'for i in $(seq '"$4"'); do echo tcspan >/dev/udp/'"$2/$3"'; done'
}

# --- a capture around a command --------------------------------------------------
out=$("$TCSPAN" tap --dev "$S/eth0" -w "$WORK/a.pcap" -- \
	ip netns exec "$C" ping -q -n -c 10 -i 0.02 198.18.0.2 2>&1)
status=$?
check "tap -w: CMD's exit status" 0 "$status"
grep -q "10 received" <<<"$out" && pass "tap -w: CMD's output passes through" ||
	fail "tap -w: CMD's output passes through" "$out"
check "tap -w: the summary goes to stderr" \
	"tcspan: tap: 2" "$(grep -o '^tcspan: tap: [0-9]' <<<"$out")"
req=$(tcpdump -n -r "$WORK/a.pcap" 'icmp[icmptype] = icmp-echo' 2>/dev/null | wc -l)
rep=$(tcpdump -n -r "$WORK/a.pcap" 'icmp[icmptype] = icmp-echoreply' 2>/dev/null | wc -l)
check "tap -w: tcpdump reads the 10 requests and 10 replies" "10 10" "$req $rep"
check "tap -w: nothing is left" "$NOTHING" "$(left)"

# --- pcapng: two sources, two namespaces, one file --------------------------------
"$TCSPAN" -q tap --dev "$S/eth0" --dev "$C/eth0" --direction egress -w "$WORK/b.pcapng" -- \
	ip netns exec "$C" ping -q -n -c 5 -i 0.02 198.18.0.2 >/dev/null 2>&1
# Each source sent 5 echo packets out (and maybe an ARP packet).
check "pcapng: one interface per source, named, each with its own packets" \
	"$S/eth0 yes,$C/eth0 yes" \
	"$(python3 "$TOP/tests/tools/pcapng_ifaces.py" "$WORK/b.pcapng" 2>&1 |
		awk '{ print $1, ($2 >= 5 && $2 <= 6) ? "yes" : $2 }' | paste -sd,)"
check "pcapng: tcpdump reads it" 10 "$(tcpdump -n -r "$WORK/b.pcapng" icmp 2>/dev/null | wc -l)"

# --- --match -------------------------------------------------------------------
"$TCSPAN" -q tap --dev "$S/eth0" --direction ingress --match protocol=udp,dst_port=5001 \
	-w "$WORK/c.pcap" -- bash -c "
		ip netns exec $C ping -q -c 3 -i 0.02 198.18.0.2 >/dev/null
		$(declare -f in_ns udp); udp $C 198.18.0.2 5001 7; udp $C 198.18.0.2 5002 4" 2>/dev/null
check "--match: only the UDP datagrams to port 5001" "7 7" \
	"$(tcpdump -n -r "$WORK/c.pcap" 2>/dev/null | wc -l) $(tcpdump -n -r "$WORK/c.pcap" 'udp dst port 5001' 2>/dev/null | wc -l)"

# --- exit status, and bad input that changes nothing ---------------------------------
"$TCSPAN" -q tap --dev "$S/eth0" -w "$WORK/d.pcap" -- sh -c 'exit 3'
check "CMD exits 3: tap exits 3" 3 $?
out=$("$TCSPAN" tap --dev "$S/eth0" --match dst_prot=80 -w "$WORK/e.pcap" -- true 2>&1)
check "a bad --match key: named, with the nearest key" \
	"1 tcspan: error: tap: --match dst_prot=80: unknown key \"dst_prot\" (did you mean \"dst_port\"?)" \
	"$? $out"
check "a bad --match key: no file, nothing in the kernel" "no $NOTHING" \
	"$([ -e "$WORK/e.pcap" ] && echo yes || echo no) $(left)"
out=$("$TCSPAN" tap --dev "$S/eth9" -w "$WORK/e.pcap" 2>&1)
check "a missing device: named by its option" \
	"1 tcspan: error: tap: --dev $S/eth9: device \"$S/eth9\" not found" "$? $out"

# --- SIGTERM: prompt, readable, nothing left --------------------------------------
"$TCSPAN" -q tap --dev "$S/eth0" -w "$WORK/f.pcap" -- sleep 60 &
TAP=$!
PIDS+=("$TAP")
for i in $(seq 50); do [ "$(left)" != "$NOTHING" ] && break; sleep 0.1; done
ping_count "$C" 198.18.0.2 3 >/dev/null
t0=$(date +%s%N)
kill -TERM "$TAP"
wait "$TAP"
status=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "SIGTERM: the tap ends with CMD's status (143)" 143 "$status"
[ "$ms" -lt 3000 ] && pass "SIGTERM: the tap ends promptly (${ms} ms)" ||
	fail "SIGTERM: the tap ends promptly" "${ms} ms"
check "SIGTERM: the file is readable and holds the pings" 6 \
	"$(tcpdump -n -r "$WORK/f.pcap" icmp 2>/dev/null | wc -l)"
check "SIGTERM: nothing is left" "$NOTHING" "$(left)"

# --- SIGKILL: the next tap, or destroy --taps, removes the leftovers -----------------
killed_tap() { # leaves a SIGKILLed tap behind; prints its topology's name
	local pid child name i
	"$TCSPAN" -q tap --dev "$S/eth0" -w "$WORK/g.pcap" -- sleep 60 &
	pid=$!
	for i in $(seq 50); do
		name=$("$TCSPAN" -j show | jq -r '.topologies[].name | select(startswith("tap-"))')
		[ -n "$name" ] && break
		sleep 0.1
	done
	child=$(pgrep -P "$pid" sleep)
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	[ -n "$child" ] && kill "$child"
	echo "$name"
}
name=$(killed_tap)
check "SIGKILL: the tap's topology is left (a pair, two filters, the lock file)" \
	"1 2 3 1" "$(left)"
out=$("$TCSPAN" tap --dev "$S/eth0" -w "$WORK/h.pcap" -- true 2>&1)
check "SIGKILL: the next tap removes it, and says so" \
	"tcspan: removed what tap $name left (its process is gone)" "$(head -1 <<<"$out")"
check "SIGKILL: then nothing is left" "$NOTHING" "$(left)"
name=$(killed_tap)
out=$("$TCSPAN" destroy --taps 2>&1)
check "destroy --taps removes a killed tap's leftovers" \
	"Removed what 1 killed tap left." "$(tail -1 <<<"$out")"
check "destroy --taps: nothing is left" "$NOTHING" "$(left)"

# --- beside a topology's rule on the same device --------------------------------------
"$TCSPAN" -q tap --dev "$S/eth0" --direction ingress -w "$WORK/i.pcap" -- bash -c "
	rx0=\$(ip netns exec $M cat /sys/class/net/eth0/statistics/rx_packets)
	ip netns exec $C ping -q -c 5 -i 0.02 198.18.0.2 >/dev/null
	rx=\$(ip netns exec $M cat /sys/class/net/eth0/statistics/rx_packets)
	echo \$((rx - rx0)) >$WORK/rx
	$TCSPAN -q plan --detailed-exitcode $WORK/t.yaml >/dev/null 2>&1; echo \$? >$WORK/plan" 2>/dev/null
# The 5 requests, and maybe the client's ARP probe of the server (the rule
# mirrors all that eth0 receives); a tap that took them would leave 0, a
# doubled mirror 10.
rx=$(cat "$WORK/rx")
check "beside a rule: the topology's monitor still gets its copies" yes \
	"$([ "$rx" -ge 5 ] && [ "$rx" -le 6 ] && echo yes || echo "$rx")"
check "beside a rule: the topology stays converged during the tap" 0 "$(cat "$WORK/plan")"
check "beside a rule: the tap gets its copies" 5 \
	"$(tcpdump -n -r "$WORK/i.pcap" 'icmp[icmptype] = icmp-echo' 2>/dev/null | wc -l)"
"$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "beside a rule: converged after the tap" 0 $?

# --- --snaplen, --duration, SIGINT and SIGHUP without CMD --------------------------------
"$TCSPAN" -q tap --dev "$S/eth0" --snaplen 60 -w "$WORK/k.pcap" -- \
	ip netns exec "$C" ping -q -c 2 -i 0.02 -s 500 198.18.0.2 >/dev/null 2>&1
check "--snaplen 60: 4 packets of 542 bytes kept as 60" "4 60 542" \
	"$(tcpdump -n -r "$WORK/k.pcap" icmp 2>/dev/null | wc -l) $(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
print(struct.unpack_from("<I", d, 16)[0], struct.unpack_from("<I", d, 24 + 12)[0])' "$WORK/k.pcap")"
t0=$(date +%s%N)
"$TCSPAN" -q tap --dev "$S/eth0" --duration 1 -w "$WORK/l.pcap"
status=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$status" = 0 ] && [ "$ms" -ge 1000 ] && [ "$ms" -lt 3000 ] &&
	pass "--duration 1 ends the tap after a second (${ms} ms)" ||
	fail "--duration 1 ends the tap after a second" "status $status after $ms ms"
for sig in INT HUP; do
	"$TCSPAN" -q tap --dev "$S/eth0" -w "$WORK/m.pcap" &
	TAP=$!
	PIDS+=("$TAP")
	for i in $(seq 50); do [ "$(left)" != "$NOTHING" ] && break; sleep 0.1; done
	ping_count "$C" 198.18.0.2 2 >/dev/null
	kill -"$sig" "$TAP"
	wait "$TAP"
	check "SIG$sig without CMD: status 0, the pings captured, nothing left" "0 4 $NOTHING" \
		"$? $(tcpdump -n -r "$WORK/m.pcap" icmp 2>/dev/null | wc -l) $(left)"
done

# --- --to: a mirror, no capture; --count without CMD --------------------------------------
capture_start to "$M" eth0 "icmp[icmptype] = icmp-echoreply" ||
	fail "capture at the monitor" "tcpdump did not start"
"$TCSPAN" -q tap --dev "$S/eth0" --direction egress --to mon0 -- \
	ip netns exec "$C" ping -q -c 4 -i 0.02 198.18.0.2 >/dev/null 2>&1
check "--to: the monitor gets the replies the tap mirrors" 4 "$(capture_stop to)"
"$TCSPAN" -q tap --dev "$S/eth0" --count 3 -w "$WORK/j.pcap" &
TAP=$!
PIDS+=("$TAP")
for i in $(seq 50); do [ "$(left)" != "$NOTHING" ] && break; sleep 0.1; done
ping_count "$C" 198.18.0.2 5 >/dev/null
for i in $(seq 30); do kill -0 "$TAP" 2>/dev/null || break; sleep 0.1; done
kill -0 "$TAP" 2>/dev/null && fail "--count 3 ends the tap" "still running" ||
	check "--count 3 ends the tap with 3 packets" 3 "$(tcpdump -n -r "$WORK/j.pcap" 2>/dev/null | wc -l)"
wait "$TAP" 2>/dev/null
check "--count: nothing is left" "$NOTHING" "$(left)"

"$TCSPAN" -q destroy "$T"
