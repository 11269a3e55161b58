# Shared by the integration tests: names unique to this run, cleanup on
# every way out, packet counting at a target.  Helpers may run ip, tc and
# tcpdump to look; tcspan itself never does.
#
# A test sources this file with the tcspan binary as $1, writes its YAML
# with the names below, and reports through pass/fail/skip.

set -u
TCSPAN=$(realpath "${1:?usage: $0 PATH/TO/tcspan}")
# Short and unique: namespaces, topology names and files of this run.
RUN_ID="t$$"
WORK=$(mktemp -d "/tmp/tcspan-$RUN_ID.XXXXXX")
PIDS=()
TOPOLOGIES=()
PINS=()		# bpffs paths a test made by hand, removed on the way out

cleanup() {
	local pid t ns
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for t in "${TOPOLOGIES[@]}"; do
		"$TCSPAN" -q destroy "$t" >/dev/null 2>&1
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$RUN_ID-"); do
		ip netns del "$ns" 2>/dev/null
	done
	for t in "${PINS[@]}"; do
		rm -rf "$t"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
skip() { echo "SKIP: $1: $2"; }

# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

# A topology of this run: remember it so that cleanup destroys it.
topology() { TOPOLOGIES+=("$1"); }

ns() { echo "$RUN_ID-$1"; }

in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }

# icmp_in NETNS: echo requests the namespace's stack has received.
icmp_in() {
	in_ns "$1" awk '/^Icmp: [0-9]/ { print $10; exit }' /proc/net/snmp
}

# icmp_replies_in NETNS: echo replies received.
icmp_replies_in() {
	in_ns "$1" awk '/^Icmp: [0-9]/ { print $11; exit }' /proc/net/snmp
}

# capture_start NAME NETNS DEV FILTER: tcpdump into $WORK/NAME.pcap.
capture_start() {
	local name=$1 n=$2 dev=$3 filter=$4 i
	rm -f "$WORK/$name.pcap" "$WORK/$name.err"
	ip netns exec "$n" tcpdump -n -U --immediate-mode -i "$dev" -w "$WORK/$name.pcap" "$filter" \
		2>"$WORK/$name.err" &
	CAPTURE_PID=$!
	PIDS+=("$CAPTURE_PID")
	for i in $(seq 100); do
		grep -q "listening on" "$WORK/$name.err" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# capture_stop NAME: stop the capture and print how many packets it holds.
capture_stop() {
	local name=$1
	sleep 0.3
	kill "$CAPTURE_PID" 2>/dev/null
	wait "$CAPTURE_PID" 2>/dev/null
	tcpdump -n -r "$WORK/$name.pcap" 2>/dev/null | wc -l
}

# ping_count NETNS ADDR N: send N echo requests, print replies received.
ping_count() {
	in_ns "$1" ping -q -n -c "$3" -i 0.01 -W 1 "$2" 2>/dev/null |
		awk '/packets transmitted/ { print $4 }'
}

# tc_filters NETNS DEV HOOK: filters that carry an action, as JSON lines.
tc_filter_count() {
	in_ns "$1" tc -j filter show dev "$2" "$3" 2>/dev/null |
		jq '[.[] | select(.options.actions != null)] | length'
}

# The client/server/monitor lab most tests start from, up to "rules:":
# client eth0 198.18.0.1 -- server eth0 198.18.0.2, server mon0 -- monitor
# eth0.  Uses $T, $C, $S and $M.
lab_header() {
	cat <<END
version: 1
name: $T
namespaces: [$C, $S, $M]
links:
  - a: { netns: $C, dev: eth0, addresses: [198.18.0.1/24] }
    b: { netns: $S, dev: eth0, addresses: [198.18.0.2/24] }
  - a: $S/mon0
    b: $M/eth0
rules:
END
}

# span_rule [NAME]: the lab's usual rule (default name "span"), a mirror of
# what the server's eth0 receives to mon0.  Uses $S.
span_rule() {
	cat <<END
  - name: ${1:-span}
    action: mirror
    from: $S/eth0
    direction: ingress
    to: $S/mon0
END
}

# foreign_veth NETNS DEV PEER HOOK PRIO: what another tool leaves behind,
# made by hand: a namespace with a veth pair, a clsact on DEV and a u32
# mirror filter at PRIO on its HOOK.
foreign_veth() {
	ip netns add "$1"
	in_ns "$1" ip link add "$2" type veth peer name "$3"
	in_ns "$1" ip link set "$2" up
	in_ns "$1" ip link set "$3" up
	in_ns "$1" tc qdisc add dev "$2" clsact
	in_ns "$1" tc filter add dev "$2" "$4" prio "$5" u32 match u32 0 0 \
		action mirred egress mirror dev "$3"
}
