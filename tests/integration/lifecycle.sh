# A topology's life: apply, re-apply (no change, no message), plan exit
# codes, prune, show/stats from the kernel alone, destroy; foreign filters
# and qdiscs survive all of it; a step the kernel refuses undoes the apply.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-life"
topology "$T"
C=$(ns client) S=$(ns server) M=$(ns monitor) H=$(ns host)

write() { # RULES...: the topology with the given rule blocks
	{
		lab_header
		for r in "$@"; do
			cat <<EOF
  - name: $r
    action: mirror
    from: $S/eth0
    direction: ingress
    to: $S/mon0
EOF
		done
	} >"$WORK/t.yaml"
}

write first second
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "apply succeeds" 0 $?
grep -q "^+ rule first" <<<"$out" && grep -q "^+ netns $C" <<<"$out" &&
	pass "apply lists what it added" || fail "apply lists what it added" "$out"

# Re-apply: nothing to do, and not one message reaches tc.
in_ns "$S" tc monitor >"$WORK/monitor" 2>&1 &
mon=$!
PIDS+=("$mon")
sleep 0.3
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
sleep 0.3
kill "$mon"
check "second apply says No changes." "No changes." "$out"
check "second apply sends no tc message" "" "$(cat "$WORK/monitor")"

"$TCSPAN" plan --detailed-exitcode "$WORK/t.yaml" >/dev/null
check "plan --detailed-exitcode: 0 when nothing is pending" 0 $?
write first
"$TCSPAN" plan --detailed-exitcode "$WORK/t.yaml" >/dev/null
check "plan --detailed-exitcode: 2 when changes are pending" 2 $?
json=$("$TCSPAN" -j plan "$WORK/t.yaml")
check "plan -j: the pending removal" '1 {"op":"remove","kind":"rule","name":"second"}' \
	"$(jq -c '.remove, (.changes[0] | {op, kind, name})' <<<"$json" | paste -sd' ')"

# Prune: the rule gone from the file goes from the kernel, the other stays
# in place (same handle).
before=$(in_ns "$S" tc -j filter show dev eth0 ingress | jq -r '[.[] | select(.options.actions)][0].options.fh')
"$TCSPAN" -q apply "$WORK/t.yaml"
check "prune: one filter left" 1 "$(tc_filter_count "$S" eth0 ingress)"
after=$(in_ns "$S" tc -j filter show dev eth0 ingress | jq -r '[.[] | select(.options.actions)][0].options.fh')
check "prune: the kept rule keeps its filter" "$before" "$after"

# show and stats need no file: names come from the kernel.
show=$("$TCSPAN" -j show "$T")
check "show -j: the rule from the kernel alone" \
	"first mirror $S/eth0 ingress $S/mon0 egress tc XDP cannot copy a packet and also pass it on; a mirror rides on XDP only with the next redirect of its hook, same match" \
	"$(jq -r '.topologies[0].rules[0] | [.name, .action, .from, .direction, .to, .to_direction, .datapath, (.fallback|tostring)] | join(" ")' <<<"$show")"
check "show -j: owned namespaces and links" "3 2" \
	"$(jq -r '.topologies[0] | [(.namespaces|length), (.links|length)] | join(" ")' <<<"$show")"
# Exact counts: no ARP, no IPv6 housekeeping on the wire, only the pings.
for n in "$C" "$S"; do
	in_ns "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
in_ns "$C" ip neigh replace 198.18.0.2 lladdr \
	"$(in_ns "$S" cat /sys/class/net/eth0/address)" dev eth0 nud permanent
in_ns "$S" ip neigh replace 198.18.0.1 lladdr \
	"$(in_ns "$C" cat /sys/class/net/eth0/address)" dev eth0 nud permanent
p0=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[0].packets')
ping_count "$C" 198.18.0.2 10 >/dev/null
p1=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[0].packets')
check "stats: the rule counted the 10 echo requests" 10 "$((p1 - p0))"
"$TCSPAN" show | grep -q "^$T  *first  *mirror" &&
	pass "show: aligned table" || fail "show: aligned table" "$("$TCSPAN" show)"

# Foreign objects on a device tcspan also uses: a hand-made clsact and
# filter in a namespace tcspan did not create.
foreign_veth "$H" veth0 veth1 ingress 100
cat >"$WORK/h.yaml" <<EOF
version: 1
name: $T-h
rules:
  - name: host-tap
    action: mirror
    from: $H/veth0
    direction: ingress
    to: $H/veth1
EOF
topology "$T-h"
"$TCSPAN" -q apply "$WORK/h.yaml"
check "foreign: apply next to a foreign filter" "2" "$(tc_filter_count "$H" veth0 ingress)"
"$TCSPAN" -q destroy "$T-h"
check "foreign: the foreign filter survives destroy" "1" "$(tc_filter_count "$H" veth0 ingress)"
check "foreign: the foreign clsact survives destroy" "clsact" \
	"$(in_ns "$H" tc -j qdisc show dev veth0 | jq -r '[.[] | select(.kind == "clsact")][0].kind')"

# A foreign device where the file wants a link: an error naming it.
cat >"$WORK/f.yaml" <<EOF
version: 1
name: $T-f
links:
  - a: $H/veth0
    b: $H/other0
EOF
topology "$T-f"
out=$("$TCSPAN" apply "$WORK/f.yaml" 2>&1)
rc=$?
check "foreign: a colliding device is refused" "1" "$rc"
check "foreign: the error names the device and line" \
	"$WORK/f.yaml:4:8: error: device \"$H/veth0\" exists and was not created by tcspan" \
	"$(head -1 <<<"$out")"

# All or nothing: the kernel refuses the last step (an IPv6 address in a
# namespace with IPv6 disabled), after a namespace and a link were made.
in_ns "$H" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
state() {
	ip netns list | grep "^$RUN_ID" | sort
	for n in $(ip netns list | awk '{print $1}' | grep "^$RUN_ID"); do
		in_ns "$n" ip -br link | awk '{print $1}'
		in_ns "$n" tc filter show dev eth0 ingress 2>/dev/null
	done
}
before=$(state)
cat >"$WORK/bad.yaml" <<EOF
version: 1
name: $T
namespaces: [$C, $S, $M, $(ns extra)]
links:
  - a: { netns: $C, dev: eth0, addresses: [198.18.0.1/24] }
    b: { netns: $S, dev: eth0, addresses: [198.18.0.2/24] }
  - a: $S/mon0
    b: $M/eth0
  - a: $(ns extra)/eth0
    b: { netns: $H, dev: v6only, addresses: [2001:db8::1/64] }
rules:
  - name: first
    action: redirect
    from: $S/eth0
    direction: ingress
    to: $S/mon0
EOF
out=$("$TCSPAN" apply "$WORK/bad.yaml" 2>&1)
rc=$?
check "rollback: apply fails" 1 "$rc"
grep -q "cannot add address 2001:db8::1/64" <<<"$out" &&
	pass "rollback: the error names the step and the kernel's reason" ||
	fail "rollback: the error names the step and the kernel's reason" "$out"
check "rollback: namespaces, links and filters are as before" "$before" "$(state)"
"$TCSPAN" plan --detailed-exitcode "$WORK/t.yaml" >/dev/null
check "rollback: the old topology still needs nothing" 0 $?

# Destroy from the kernel alone leaves nothing of the topology.
"$TCSPAN" -q destroy "$T"
check "destroy: exit status" 0 $?
check "destroy: no namespace left" "" "$(ip netns list | grep -E "^($C|$S|$M) ")"
check "destroy: no pinned metadata left" "no" "$([ -e "/sys/fs/bpf/tcspan/$T" ] && echo yes || echo no)"
check "destroy: show knows nothing of it" 0 \
	"$("$TCSPAN" -j show "$T" | jq '.topologies | length')"
out=$("$TCSPAN" destroy "$T")
check "destroy: a second destroy has nothing to do" "No changes." "$out"
