# `match: { bpf: { object, program } }`: a classifier of the user's own,
# compiled here, with the rule's mirred action.  Real datagrams counted at
# the monitor: only what the program matches is taken; a recompiled object
# replaces the program in place; an object tcspan must not trust (not a
# regular file, writable by others, not root's), a missing or wrong-type
# program and a program the verifier refuses are each refused, naming the
# rule, its line and the file, and change nothing.
. "$(dirname "$0")/../lib.sh"

N=20	# datagrams the rule must take
M=15	# datagrams it must leave
T="$RUN_ID-own"
topology "$T"
C=$(ns client) S=$(ns server) M_NS=$(ns monitor)
RULE_LINE=10	# "- name: web" in write_topology's file
RULE_COL=5	# (the rule's mapping)

if ! command -v clang >/dev/null; then
	skip "custom classifier" "no clang"
	exit 0
fi

write_topology() { # OBJECT [PROGRAM]
	local program=
	[ -n "${2:-}" ] && program=", program: $2"
	cat >"$WORK/t.yaml" <<EOF
version: 1
name: $T
namespaces: [$C, $S, $M_NS]
links:
  - a: { netns: $C, dev: eth0, addresses: [198.18.0.1/24] }
    b: { netns: $S, dev: eth0, addresses: [198.18.0.2/24] }
  - a: $S/mon0
    b: $M_NS/eth0
rules:
  - name: web
    action: mirror
    from: $S/eth0
    direction: ingress
    to: $S/mon0
    match: { bpf: { object: "$1"$program } }
EOF
}

# compile NAME OUTPUT: $WORK/NAME.c (written by the caller) into OUTPUT.
compile() {
	clang -O2 -g -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
		-c "$WORK/$1.c" -o "$2" 2>"$WORK/$1.err" ||
		{ fail "compile $1" "$(cat "$WORK/$1.err")"; exit 1; }
}

# udp_cls PORT: a tc classifier that matches IPv4 UDP to PORT.
udp_cls() {
	cat >"$WORK/cls.c" <<EOF
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int my_cls(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP)
		return 0;
	return udp->dest == bpf_htons($1) ? -1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
EOF
	compile cls "$WORK/build.o"
}

# install_obj SRC DEST [MODE [OWNER]]
install_obj() {
	install -o "${4:-root}" -g root -m "${3:-0644}" "$1" "$2"
}

# udp_send ADDR PORT COUNT: datagrams from the client, one socket each.
udp_send() {
	in_ns "$C" bash -c 'for i in $(seq '"$3"'); do echo x >"/dev/udp/$0/$1"; done' \
		"$1" "$2" 2>/dev/null
}

prepare_hosts() {
	local cmac smac
	cmac=$(in_ns "$C" cat /sys/class/net/eth0/address)
	smac=$(in_ns "$S" cat /sys/class/net/eth0/address)
	in_ns "$C" ip neigh replace 198.18.0.2 lladdr "$smac" dev eth0 nud permanent
	in_ns "$S" ip neigh replace 198.18.0.1 lladdr "$cmac" dev eth0 nud permanent
}

# The bpf filter of the rule on server/eth0 ingress: "PRIO HANDLE NAME PROG_ID".
bpf_filter() {
	in_ns "$S" tc -j filter show dev eth0 ingress 2>/dev/null |
		jq -r '.[] | select(.kind == "bpf" and .options.actions != null) |
			"\(.pref) \(.options.handle) \(.options.bpf_name) \(.options.prog.id)"'
}

# Every filter of ours on server/eth0, both hooks.
all_filters() {
	local h
	for h in ingress egress; do
		in_ns "$S" tc -j filter show dev eth0 "$h" 2>/dev/null |
			jq -c '[.[] | select(.options.actions != null) |
				[.kind, .pref, .options.handle, .options.prog.id]]'
	done
}

# count_udp SENDS...: UDP at the monitor while running "ADDR PORT COUNT"s.
count_udp() {
	local s
	capture_start udp "$M_NS" eth0 "udp and dst net 198.18.0.2" ||
		{ echo "tcpdump did not start"; return; }
	for s in "$@"; do
		# shellcheck disable=SC2086
		udp_send $s
	done
	capture_stop udp
}

# refused NAME EXPECTED_FIRST_LINE: apply fails with that error and changes nothing.
refused() {
	local before after out first
	before=$(all_filters)
	out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
	status=$?
	first=$(printf '%s\n' "$out" | grep -m1 'error' || true)
	if [ "$status" -ne 0 ] && [ "$first" = "$2" ]; then
		pass "$1: refused with the rule, its line and the file"
	else
		fail "$1: refused" "exit $status, expected '$2', got: $out"
	fi
	after=$(all_filters)
	check "$1: nothing changed" "$before" "$after"
}

OBJ="$WORK/cls.o"
HERE="$WORK/t.yaml:$RULE_LINE:$RULE_COL: error: rule \"web\": "

# --- a classifier of your own: UDP to 7000 ------------------------------------
udp_cls 7000
install_obj "$WORK/build.o" "$OBJ"
write_topology "$OBJ" my_cls
if ! out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1); then
	fail "apply a match.bpf rule" "$out"
	exit 1
fi
prepare_hosts
before=$(bpf_filter)
first_filter=$before
name=$(echo "$before" | awk '{ print $3 }')
check "the rule is one named bpf filter" "tcspan:$T:web" "$name"
prog=$(bpftool -j prog show id "${before##* }" 2>/dev/null | jq -r '"\(.type) \(.name)"')
check "it runs the user's program" "sched_cls my_cls" "$prog"
cookie=$(in_ns "$S" tc -j filter show dev eth0 ingress |
	jq -r '[.[] | select(.kind == "bpf") | .options.actions[]? | .cookie] | first')
check "its action carries tcspan's cookie" "74637301" "${cookie:0:8}"
got=$(count_udp "198.18.0.2 7000 $N" "198.18.0.2 7001 $M")
check "udp 7000: the monitor gets exactly those datagrams" "$N" "$got"
"$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "an unchanged object plans nothing" 0 "$?"

# Without "program": the object's only tc program.
write_topology "$OBJ"
"$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "no program named: the only one, the same (no change)" 0 "$?"
write_topology "$OBJ" my_cls

# --- refusals -----------------------------------------------------------------------
mkdir "$WORK/dir"
write_topology "$WORK/dir" my_cls
refused "a directory" "${HERE}match.bpf object \"$WORK/dir\" is not a regular file"

install_obj "$WORK/build.o" "$WORK/gw.o" 0664
write_topology "$WORK/gw.o" my_cls
refused "a group-writable object" \
	"${HERE}match.bpf object \"$WORK/gw.o\" is writable by its group (mode 0664)"

install_obj "$WORK/build.o" "$WORK/ow.o" 0646
write_topology "$WORK/ow.o" my_cls
refused "an object writable by others" \
	"${HERE}match.bpf object \"$WORK/ow.o\" is writable by others (mode 0646)"

install_obj "$WORK/build.o" "$WORK/nobody.o" 0644 65534
write_topology "$WORK/nobody.o" my_cls
refused "an object owned by nobody" \
	"${HERE}match.bpf object \"$WORK/nobody.o\" is owned by uid 65534, not by root"

ln -s "$OBJ" "$WORK/link.o"
write_topology "$WORK/link.o" my_cls
refused "a symbolic link" "${HERE}match.bpf object \"$WORK/link.o\": is a symbolic link"

write_topology "$WORK/none.o" my_cls
refused "a missing file" "${HERE}match.bpf object \"$WORK/none.o\": No such file or directory"

write_topology "$OBJ" nope
refused "a missing program" "${HERE}match.bpf object \"$OBJ\" has no program \"nope\""

cat >"$WORK/xdp.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int my_cls(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
EOF
compile xdp "$WORK/xdp.build.o"
install_obj "$WORK/xdp.build.o" "$WORK/xdp.o"
write_topology "$WORK/xdp.o" my_cls
refused "an XDP program" "${HERE}match.bpf program \"my_cls\" in \"$WORK/xdp.o\" is of type xdp, not a tc classifier (SEC \"tc\" or \"classifier\")"
write_topology "$WORK/xdp.o"
refused "no tc program in the object" "${HERE}match.bpf object \"$WORK/xdp.o\" holds 0 tc classifier programs (SEC \"tc\" or \"classifier\"); it needs one"

cat >"$WORK/oob.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int my_cls(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;

	return *(unsigned char *)(data + 100);	/* no bounds check */
}

char LICENSE[] SEC("license") = "GPL";
EOF
compile oob "$WORK/oob.build.o"
install_obj "$WORK/oob.build.o" "$WORK/oob.o"
write_topology "$WORK/oob.o" my_cls
before=$(all_filters)
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
status=$?
first=$(printf '%s\n' "$out" | grep -m1 'cannot load' || true)
case "$first" in
"tcspan: error: rule \"web\" ($WORK/t.yaml:$RULE_LINE:$RULE_COL): cannot load program \"my_cls\" of \"$WORK/oob.o\": Permission denied: "*"invalid access to packet"*)
	[ "$status" -ne 0 ] && pass "a program the verifier refuses: refused with the verifier's reason" ||
		fail "a program the verifier refuses" "exit 0: $out" ;;
*)
	fail "a program the verifier refuses: refused with the verifier's reason" "exit $status: $out" ;;
esac
check "a program the verifier refuses: nothing changed" "$before" "$(all_filters)"

# --- a recompiled object: a replace in place ---------------------------------------
write_topology "$OBJ" my_cls
udp_cls 7001
install_obj "$WORK/build.o" "$OBJ"
"$TCSPAN" -j plan "$WORK/t.yaml" >"$WORK/plan.json"
check "a recompiled object plans one change" "0/1/0" \
	"$(jq -r '"\(.add)/\(.change)/\(.remove)"' "$WORK/plan.json")"
out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1) || fail "apply the recompiled object" "$out"
after=$(bpf_filter)
check "the changed rule keeps its prio, handle and name" "${first_filter% *}" "${after% *}"
if [ -n "${after##* }" ] && [ "${first_filter##* }" != "${after##* }" ]; then
	pass "the changed rule runs a new program"
else
	fail "the changed rule runs a new program" "before '$first_filter', after '$after'"
fi
"$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "a plan after the change is a no-op" 0 "$?"
got=$(count_udp "198.18.0.2 7000 $M" "198.18.0.2 7001 $N")
check "udp 7001: the monitor gets exactly those datagrams" "$N" "$got"
old_prog=${after##* }

# --- destroy ---------------------------------------------------------------------------
out=$("$TCSPAN" destroy "$T" 2>&1) || fail "destroy" "$out"
for _ in $(seq 40); do
	bpftool prog show id "$old_prog" >/dev/null 2>&1 || break
	sleep 0.05
done
if bpftool prog show id "$old_prog" >/dev/null 2>&1; then
	fail "destroy leaves no program" "program $old_prog is still loaded"
else
	pass "destroy leaves no program"
fi
