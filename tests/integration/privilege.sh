# Least privilege: with CAP_NET_ADMIN, CAP_BPF and CAP_SYS_ADMIN and no
# other capability, tcspan applies, shows, counts and destroys a topology
# with namespaces, links and a BPF-matched rule, and mirrored packets
# arrive.  Without one it needs, it names that capability and changes
# nothing.  (uid 0 stays: the capability sets are cut with setpriv.)
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-priv"
topology "$T"
C=$(ns client) S=$(ns server) M=$(ns monitor)
{
	lab_header
	cat <<EOF
  - name: all
    action: mirror
    from: $S/eth0
    direction: ingress
    to: $S/mon0
  - name: icmp
    action: mirror
    from: $S/eth0
    direction: egress
    to: $S/mon0
    match: { protocol: icmp }
EOF
} >"$WORK/t.yaml"

# with CAPS CMD...: run CMD with exactly the capabilities CAPS (e.g.
# "net_admin,bpf"), none inheritable, no new privileges.
with() {
	local caps=$1 set=-all c
	shift
	for c in ${caps//,/ }; do set="$set,+$c"; done
	setpriv --bounding-set="$set" --inh-caps=-all --no-new-privs "$@"
}
THREE=net_admin,bpf,sys_admin

# --- the three are enough -----------------------------------------------------
out=$(with "$THREE" "$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "apply with only CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN" "0 Apply complete: 7 added, 0 changed, 0 removed." \
	"$? $(tail -1 <<<"$out")"
caps=$(with "$THREE" grep CapEff /proc/self/status | awk '{ print $2 }')
check "the process really has only those three (CapEff)" "0000008000201000" "$caps"
with "$THREE" "$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "plan with the three: converged" 0 $?
rx0=$(in_ns "$M" cat /sys/class/net/eth0/statistics/rx_packets)
replies=$(ping_count "$C" 198.18.0.2 5)
rx=$(($(in_ns "$M" cat /sys/class/net/eth0/statistics/rx_packets) - rx0))
[ "${replies:-0}" = 5 ] && [ "$rx" -ge 10 ] &&
	pass "mirrored packets arrive (requests and replies: $rx)" ||
	fail "mirrored packets arrive" "$replies replies, $rx at the monitor"
pkts=$(with "$THREE" "$TCSPAN" -j stats "$T" | jq '[.topologies[0].rules[].packets] | add')
[ "${pkts:-0}" -ge 10 ] && pass "stats with the three count them" ||
	fail "stats with the three count them" "$pkts"
shown=$(with "$THREE" "$TCSPAN" -j show "$T" | jq -r '[.topologies[0].rules[].name] | join(",")')
check "show with the three" "all,icmp" "$shown"
out=$(with "$THREE" "$TCSPAN" destroy "$T" 2>&1)
check "destroy with the three" "0 Destroy complete: 7 removed." "$? $(tail -1 <<<"$out")"
check "destroy left no namespace" 0 "$(ip netns list | grep -c "^$RUN_ID-")"

# --- one missing: named, nothing changed ----------------------------------------
# alone CMD...: run CMD in a mount namespace of its own whose /run/netns is
# empty, so that what it meets does not depend on the namespaces others
# have on this machine (tcspan looks into every one, which needs
# CAP_SYS_ADMIN); prints CMD's output, then "left N": the namespaces CMD
# left there.
alone() {
	unshare -m --propagation private bash -c '
		mount -t tmpfs tcspan-test /run/netns || exit 2
		"$@" 2>&1
		echo "status $?"
		echo "left $(ls -A /run/netns | wc -l)"' alone "$@"
}
refused() { # NAME CAPS FILE EXPECTED-FIRST-LINE
	local out
	out=$(alone with "$2" "$TCSPAN" apply "$3")
	check "$1: apply fails naming the capability" "$4" "$(head -1 <<<"$out")"
	check "$1: nothing is left" "status 1 left 0 0 0" \
		"$(tail -2 <<<"$out" | tr '\n' ' ')$(ip netns list | grep -c "^$RUN_ID-") $("$TCSPAN" -j show "$T" | jq '.topologies | length')"
}
export -f with
refused "without CAP_NET_ADMIN" bpf,sys_admin "$WORK/t.yaml" \
	"tcspan: error: cannot set up device lo: Operation not permitted (needs CAP_NET_ADMIN)"
refused "without CAP_SYS_ADMIN" net_admin,bpf "$WORK/t.yaml" \
	"tcspan: error: cannot make /run/netns shared: Operation not permitted (needs CAP_SYS_ADMIN)"

# Without CAP_BPF (and CAP_SYS_ADMIN, which would stand in for it): a
# topology on devices of a namespace of the test's own, entered by
# unshare so that tcspan needs no namespace of its own, with an empty
# /run/netns as above.
cat >"$WORK/host.yaml" <<EOF
version: 1
name: $T
rules:
  - { name: r, action: mirror, from: h0, direction: ingress, to: h1 }
EOF
out=$(unshare -n -m --propagation private bash -c '
	mount -t tmpfs tcspan-test /run/netns &&
	ip link add h0 type veth peer name h0p && ip link add h1 type veth peer name h1p &&
	for d in h0 h0p h1 h1p; do ip link set "$d" up; done &&
	setpriv --bounding-set=-all,+net_admin --inh-caps=-all --no-new-privs "$0" apply "$1"
	echo "status $?"
	tc -j filter show dev h0 ingress | jq length' "$TCSPAN" "$WORK/host.yaml" 2>&1)
check "without CAP_BPF: apply fails naming it" \
	"tcspan: error: cannot create the metadata map: Operation not permitted (needs CAP_BPF, or CAP_SYS_ADMIN)" \
	"$(head -1 <<<"$out")"
check "without CAP_BPF: status 1, no filter left" "status 1 0" "$(tail -2 <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
check "without CAP_BPF: no folder of the topology left in bpffs" "no" \
	"$([ -e "/sys/fs/bpf/tcspan/$T" ] && echo yes || echo no)"
grep -q "^libbpf" <<<"$out" && fail "libbpf prints nothing of its own" "$out" ||
	pass "libbpf prints nothing of its own"
