# Rules with `match:` under real traffic from tests/tools/pktsend, counted
# at the monitor: a VLAN tag (frames injected tagged, since this kernel has
# no 802.1Q devices), `sample:` (whole flows kept, about one in N), and a
# match rule applied under a tiny RLIMIT_MEMLOCK.
. "$(dirname "$0")/../lib.sh"

PKTSEND=$(dirname "$TCSPAN")/tests/tools/pktsend
if [ ! -x "$PKTSEND" ]; then
	skip "match-traffic" "no $PKTSEND (make tools)"
	exit 0
fi

T="$RUN_ID-mtraffic"
topology "$T"
C=$(ns mt-client) S=$(ns mt-server) M=$(ns mt-monitor)

write_topology() { # RULE-NAME MATCH
	{
		lab_header
		cat <<EOF
  - name: $1
    action: mirror
    from: $S/eth0
    direction: ingress
    to: $S/mon0
    match: $2
EOF
	} >"$WORK/t.yaml"
}

# No traffic but the test's: IPv6 off (no ND, MLD or router solicitations)
# and static neighbours (no ARP).
prepare_hosts() {
	local n cmac smac
	for n in "$C" "$S" "$M"; do
		in_ns "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	cmac=$(in_ns "$C" cat /sys/class/net/eth0/address)
	smac=$(in_ns "$S" cat /sys/class/net/eth0/address)
	in_ns "$C" ip neigh replace 198.18.0.2 lladdr "$smac" dev eth0 nud permanent
	in_ns "$S" ip neigh replace 198.18.0.1 lladdr "$cmac" dev eth0 nud permanent
}

# rx_packets NETNS: packets received by NETNS's eth0 so far.
rx_packets() { in_ns "$1" cat /sys/class/net/eth0/statistics/rx_packets; }

# capture_big NAME NETNS DEV FILTER: capture_start with a 32 MiB buffer, so
# that a burst of thousands of datagrams is not dropped by the capture
# itself; capture_stop ends it.
capture_big() {
	local name=$1 n=$2 dev=$3 filter=$4 i
	rm -f "$WORK/$name.pcap" "$WORK/$name.err"
	ip netns exec "$n" tcpdump -n -U --immediate-mode -B 32768 -i "$dev" \
		-w "$WORK/$name.pcap" "$filter" 2>"$WORK/$name.err" &
	CAPTURE_PID=$!
	PIDS+=("$CAPTURE_PID")
	for i in $(seq 100); do
		grep -q "listening on" "$WORK/$name.err" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

rule_packets() { # RULE
	"$TCSPAN" -j stats "$T" | jq ".topologies[0].rules[] | select(.name == \"$1\") | .packets"
}

# capture_port NAME PORT: UDP datagrams to PORT in capture NAME, one line
# each as "SRC_PORT VLAN" (VLAN "-" when the copy came untagged).  tcpdump
# prints the tag whether it is inline or in the packet's metadata.
capture_port() {
	tcpdump -n -e -r "$WORK/$1.pcap" 2>/dev/null | awk -v port="$2" '
		/ UDP/ {
			vlan = "-"
			if (match($0, /vlan [0-9]+/)) vlan = substr($0, RSTART + 5, RLENGTH - 5)
			for (u = NF; u > 3; u--) if ($u == "UDP,") break
			if (u <= 3 || $(u - 2) != ">") next
			src = $(u - 3); dst = $(u - 1); sub(/:$/, "", dst)
			n = split(dst, d, "."); if (d[n] != port) next
			n = split(src, s, "."); print s[n], vlan
		}'
}

# --- vlan ------------------------------------------------------------------
N=25	# frames tagged VID 100: the rule takes them
K=17	# frames tagged VID 200: it leaves them
PORT=7100
write_topology tagged "{ vlan: 100 }"
if ! out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1); then
	fail "apply a vlan rule" "$out"
	exit 1
fi
prepare_hosts
smac=$(in_ns "$S" cat /sys/class/net/eth0/address)
# "udp or vlan": the mirrored copy may carry its tag inline or in metadata.
capture_start vlan "$M" eth0 "udp or vlan" || fail "vlan capture" "tcpdump did not start"
rx0=$(rx_packets "$S")
for vid_count in "100 $N" "200 $K"; do
	set -- $vid_count
	out=$(in_ns "$C" "$PKTSEND" raw --dev eth0 --dst-mac "$smac" --vlan "$1" --count "$2" \
		--dst 198.18.0.2 --dport "$PORT" 2>&1) || fail "pktsend raw --vlan $1" "$out"
done
capture_stop vlan >/dev/null
check "vlan: the server's eth0 receives every injected frame" $((N + K)) $(($(rx_packets "$S") - rx0))
capture_port vlan "$PORT" >"$WORK/vlan.txt"
check "vlan 100: the monitor gets exactly the frames tagged 100" "$N" "$(wc -l <"$WORK/vlan.txt")"
tags=$(awk '{ print $2 }' "$WORK/vlan.txt" | sort -u | tr '\n' ' ')
echo "   (mirrored copies seen with vlan: $tags)"
if grep -q ' 200$' "$WORK/vlan.txt"; then
	fail "vlan 100: no frame tagged 200 reaches the monitor" "$(grep -c ' 200$' "$WORK/vlan.txt") did"
else
	pass "vlan 100: no frame tagged 200 reaches the monitor"
fi
check "vlan 100: stats count the frames tagged 100" "$N" "$(rule_packets tagged)"

# --- sample ----------------------------------------------------------------
# sample: 10 decides each flow once, keeping it with probability 1/10
# (bpf_get_prandom_u32() % 10 == 0).  Flows kept out of F=2000 are
# Binomial(2000, 0.1): mean 200, standard deviation sqrt(2000*0.1*0.9) =
# 13.4.  120..280 is the mean +- 6 standard deviations: a correct
# sampler falls outside it about once in 10^9 runs, while keeping every
# flow (2000), none (0) or a wrong ratio (1 in 5: 400; 1 in 20: 100) does not
# fit.  Every datagram of a kept flow must be there: D == K*S exactly.
F=2000 PER=3 SPORT=20000 DPORT=6000
write_topology sampled "{ protocol: udp, dst_port: $DPORT, sample: 10 }"
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1) || fail "apply a sample rule" "$out"
capture_big sample "$M" eth0 "udp" || fail "sample capture" "tcpdump did not start"
rx0=$(rx_packets "$S") mrx0=$(rx_packets "$M")
out=$(in_ns "$C" "$PKTSEND" udp --dst 198.18.0.2 --dport "$DPORT" --flows "$F" --per-flow "$PER" \
	--sport-base "$SPORT" 2>&1) || fail "pktsend udp $F flows" "$out"
capture_stop sample >/dev/null
check "sample: the server's eth0 receives all $F x $PER datagrams" $((F * PER)) $(($(rx_packets "$S") - rx0))
mrx=$(($(rx_packets "$M") - mrx0))
dropped=$(grep -o '[0-9]* packets dropped by kernel' "$WORK/sample.err" | awk '{ print $1 }')
# Flows are counted from the capture: it must hold every mirrored datagram.
check "sample: the capture at the monitor drops nothing" 0 "${dropped:-unknown}"
capture_port sample "$DPORT" >"$WORK/sample.txt"
D=$(wc -l <"$WORK/sample.txt")
S_FLOWS=$(awk '{ print $1 }' "$WORK/sample.txt" | sort -u | wc -l)
outside=$(awk -v lo="$SPORT" -v hi=$((SPORT + F - 1)) '$1 < lo || $1 > hi' "$WORK/sample.txt" | wc -l)
echo "   (sample 10: $S_FLOWS of $F flows kept, $D datagrams, tcpdump dropped ${dropped:-?})"
if [ "$S_FLOWS" -ge 120 ] && [ "$S_FLOWS" -le 280 ]; then
	pass "sample 10: $S_FLOWS of $F flows kept, within 120..280"
else
	fail "sample 10: flows kept within 120..280 of $F" "$S_FLOWS"
fi
check "sample 10: every datagram of a kept flow is kept ($PER x $S_FLOWS)" \
	"$((PER * S_FLOWS))" "$D"
check "sample 10: only the test's source ports" 0 "$outside"
check "sample 10: the monitor's eth0 receives what the capture holds" "$D" "$mrx"
check "sample 10: stats count what the rule took" "$D" "$(rule_packets sampled)"

out=$("$TCSPAN" destroy "$T" 2>&1) || fail "destroy" "$out"

# --- RLIMIT_MEMLOCK ----------------------------------------------------------
# This kernel charges BPF maps and programs to the memory cgroup, not to
# RLIMIT_MEMLOCK: a match rule (program and sample map) loads under 64 KiB.
T="$RUN_ID-mlock"
topology "$T"
C=$(ns ml-client) S=$(ns ml-server) M=$(ns ml-monitor)
write_topology limited "{ protocol: udp, dst_port: $DPORT, sample: 10 }"
out=$(ulimit -l 64 && "$TCSPAN" apply "$WORK/t.yaml" 2>&1)
rc=$?
check "apply a match rule under ulimit -l 64" 0 "$rc"
[ "$rc" = 0 ] || echo "$out" | sed 's/^/   /'
filters=$(tc_filter_count "$S" eth0 ingress)
check "the rule applied under ulimit -l 64 is in the kernel" 1 "$filters"
out=$("$TCSPAN" destroy "$T" 2>&1)
rc=$?
check "destroy after the ulimit -l 64 apply" 0 "$rc"
[ "$rc" = 0 ] || echo "$out" | sed 's/^/   /'
