# Changes that once went wrong: a link re-made with a reused device name,
# swapped peers, a rollback after a link change, a foreign u32 filter at
# tcspan's prio on the other hook, and odd names under /run/netns.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-chg"
topology "$T"
A=$(ns a) B=$(ns b) C=$(ns c)

write() { # LINKS (YAML lines) ...
	{
		printf 'version: 1\nname: %s\nnamespaces: [%s, %s, %s]\nlinks:\n' "$T" "$A" "$B" "$C"
		printf '%s\n' "$@"
		printf 'rules:\n  - { name: r1, action: mirror, from: %s/v0, direction: ingress, to: %s/v1 }\n' "$A" "$A"
	} >"$WORK/t.yaml"
}
converged() { # NAME
	"$TCSPAN" plan --detailed-exitcode "$WORK/t.yaml" >/dev/null
	check "$1: converged after one apply" 0 $?
}

write "  - { a: $A/v0, b: $B/v0 }" "  - { a: $A/v1, b: $C/v1 }"
"$TCSPAN" -q apply "$WORK/t.yaml" || fail "first apply" "exit $?"

# The same device name, a new peer: the old pair goes before the new is made.
write "  - { a: $A/v0, b: $C/v0 }" "  - { a: $A/v1, b: $C/v1 }"
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "new peer for a reused name: apply" 0 $?
check "new peer for a reused name: v0 is there, peered in $C" "v0" \
	"$(in_ns "$C" ip -j link show v0 2>/dev/null | jq -r '.[0].ifname')"
check "new peer for a reused name: the rule on it is back" 1 "$(tc_filter_count "$A" v0 ingress)"
converged "new peer for a reused name"

# Swapped peers.
write "  - { a: $A/v0, b: $C/v1 }" "  - { a: $A/v1, b: $C/v0 }"
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "swapped peers: apply" 0 $?
converged "swapped peers"

# A link changes and a later step fails: the old link, its address and
# the rule's filter on it are all back.  (A link made anew has a new MAC
# address, and so a new IPv6 link-local address: compared are the
# topology's own addresses.)
write "  - { a: $A/v0, b: $C/v1 }" "  - { a: $A/v1, b: $C/v0 }" \
	"  - a: { netns: $A, dev: w0, addresses: [198.18.7.1/24] }" \
	"    b: { netns: $B, dev: w0 }"
"$TCSPAN" -q apply "$WORK/t.yaml"
cp "$WORK/t.yaml" "$WORK/good.yaml"
in_ns "$C" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
before=$(in_ns "$A" ip -br -4 addr show w0; in_ns "$A" tc filter show dev v0 ingress)
write "  - { a: $A/v0, b: $C/v1 }" "  - { a: $A/v1, b: $C/v0 }" \
	"  - a: { netns: $A, dev: w0, addresses: [198.18.7.9/24] }" \
	"    b: { netns: $B, dev: w0 }" \
	"  - a: { netns: $A, dev: x0 }" \
	"    b: { netns: $C, dev: x0, addresses: [\"2001:db8:7::1/64\"] }"
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "rollback of a link change: apply fails" 1 $?
grep -q "every change it made was undone" <<<"$out" &&
	pass "rollback of a link change: says all was undone" ||
	fail "rollback of a link change: says all was undone" "$out"
after=$(in_ns "$A" ip -br -4 addr show w0; in_ns "$A" tc filter show dev v0 ingress)
check "rollback of a link change: old address and filters back" \
	"$(sed 's/@if[0-9]*//; s/fh 8[0-9a-f]*:/fh/' <<<"$before")" \
	"$(sed 's/@if[0-9]*//; s/fh 8[0-9a-f]*:/fh/' <<<"$after")"
cp "$WORK/good.yaml" "$WORK/t.yaml"
converged "rollback of a link change"

# A foreign u32 filter on the egress hook at the prio tcspan would take on
# ingress: tcspan takes another prio, re-applies cleanly, and destroy
# leaves the foreign filter.
H=$(ns host)
foreign_veth "$H" p0 p1 egress 16384
cat >"$WORK/h.yaml" <<EOF
version: 1
name: $T-h
rules:
  - { name: tap, action: mirror, from: $H/p0, direction: ingress, to: $H/p1 }
EOF
topology "$T-h"
"$TCSPAN" -q apply "$WORK/h.yaml"
check "foreign u32 on the other hook: apply" 0 $?
out=$("$TCSPAN" apply "$WORK/h.yaml" 2>&1)
check "foreign u32 on the other hook: re-apply has nothing to do" "No changes." "$out"
"$TCSPAN" -q destroy "$T-h"
check "foreign u32 on the other hook: it survives destroy" 16384 \
	"$(in_ns "$H" tc -j filter show dev p0 egress | jq '[.[] | select(.options.actions)] | .[0].pref')"

# A name under /run/netns longer than any topology may use is not tcspan's.
long="$RUN_ID-$(printf 'x%.0s' $(seq 70))"
ip netns add "$long"
"$TCSPAN" show >/dev/null 2>&1
check "an over-long name under /run/netns does not break show" 0 $?
ip netns del "$long"

"$TCSPAN" -q destroy "$T"
check "destroy after all that" 0 $?
