# Devices that come and go under a topology's rule, in a namespace made by
# hand: a target deleted marks the rule broken in show, plan names the
# missing device, and once it is back plan shows the repair and apply
# restores the mirror; a `from` device deleted (its filters go with it)
# leaves the rule reported missing, never forgotten, until it is back.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-cg"
topology "$T"
H=$(ns host)
ip netns add "$H"
# No IPv6 there: nothing but the test's datagrams crosses the pairs.
in_ns "$H" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
pair() { in_ns "$H" ip link add "$1" type veth peer name "$2" && in_ns "$H" ip link set "$1" up &&
	in_ns "$H" ip link set "$2" up; }
# eth0 with an address and a neighbour, so that datagrams leave at once.
source_pair() {
	pair eth0 peer0
	in_ns "$H" ip addr add 198.18.3.1/24 dev eth0
	in_ns "$H" ip neigh replace 198.18.3.9 lladdr 02:00:00:00:00:09 dev eth0 nud permanent
}
source_pair
pair mon0 peer1
cat >"$WORK/t.yaml" <<EOF
version: 1
name: $T
rules:
  - name: r
    action: mirror
    from: $H/eth0
    direction: egress
    to: $H/mon0
EOF
"$TCSPAN" -q apply "$WORK/t.yaml" || fail "apply" "see above"

problem() { "$TCSPAN" -j show "$T" | jq -r '.topologies[0].rules[0].problem'; }
# mirrored: of 5 datagrams sent out of eth0, how many arrive at peer1.
mirrored() {
	local rx0 rx
	rx0=$(in_ns "$H" cat /sys/class/net/peer1/statistics/rx_packets)
	in_ns "$H" bash -c 'for i in 1 2 3 4 5; do echo x >/dev/udp/198.18.3.9/9; done'
	rx=$(in_ns "$H" cat /sys/class/net/peer1/statistics/rx_packets)
	echo $((rx - rx0))
}
check "the rule mirrors" 5 "$(mirrored)"

# --- the target goes, and comes back -----------------------------------------------
in_ns "$H" ip link del mon0
check "target gone: show marks the rule broken" "target device is gone" "$(problem)"
out=$("$TCSPAN" plan "$WORK/t.yaml" 2>&1)
check "target gone: plan names the missing device" \
	"1 $WORK/t.yaml:8:9: error: device \"$H/mon0\" not found" "$? $(head -1 <<<"$out")"
pair mon0 peer1
out=$("$TCSPAN" plan "$WORK/t.yaml" 2>&1)
check "target back: plan shows the repair" \
	"~ rule r: mirror $H/eth0 egress -> $H/mon0 egress, on tc: XDP sees only the packets a device receives (direction: ingress)" \
	"$(head -1 <<<"$out" | sed 's/: target .*//')"
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "target back: apply restores the rule" "0 Apply complete: 0 added, 1 changed, 0 removed." \
	"$? $(tail -1 <<<"$out")"
check "target back: nothing broken" null "$(problem)"
check "target gone and back: the rule mirrors again" 5 "$(mirrored)"

# --- the source goes (and its filters with it), and comes back ----------------------
in_ns "$H" ip link del eth0
check "source gone: the rule is still shown, reported missing" \
	"r no filter in the kernel (its device is gone?)" \
	"$("$TCSPAN" -j show "$T" | jq -r '.topologies[0].rules[0] | "\(.name) \(.problem)"')"
out=$("$TCSPAN" plan "$WORK/t.yaml" 2>&1)
check "source gone: plan names the missing device" \
	"1 $WORK/t.yaml:6:11: error: device \"$H/eth0\" not found" "$? $(head -1 <<<"$out")"
source_pair
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "source back: apply restores the rule" "0 Apply complete: 1 added, 0 changed, 0 removed." \
	"$? $(tail -1 <<<"$out")"
check "source gone and back: the rule mirrors again" 5 "$(mirrored)"
"$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "source back: converged" 0 $?
"$TCSPAN" -q destroy "$T"
