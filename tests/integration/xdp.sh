# The XDP fast path.  Redirects taken at ingress run in tcspan's XDP
# program on the device (native on a veth, generic on a VXLAN device), the
# other end of each target veth gets a program too (or the frames are
# dropped); mirrors ride along as a devmap broadcast; everything XDP
# cannot carry stays on tc with the reason shown; a foreign XDP program is
# never touched; rules come and go on a device without a packet lost.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-xdp"
topology "$T"
C=$(ns client) S=$(ns switch) M=$(ns mon) N=$(ns mon2)
D=$(ns client2) K=$(ns collector) O=$(ns out)

# lab [RULES]: the namespaces, links and devices, then the rules given.
lab() {
	cat <<EOF
version: 1
name: $T
namespaces: [$C, $S, $M, $N, $D, $K, $O]
links:
  - a: { netns: $C, dev: eth0, addresses: [198.18.0.1/24] }
    b: { netns: $S, dev: eth0, addresses: [198.18.0.2/24] }
  - a: $S/mon0
    b: $M/eth0
  - a: $S/mon1
    b: $N/eth0
  - a: { netns: $D, dev: eth0, addresses: [198.18.2.1/24] }
    b: { netns: $S, dev: eth1, addresses: [198.18.2.2/24] }
  - a: { netns: $S, dev: up0, addresses: [198.18.1.1/24] }
    b: { netns: $K, dev: eth0, addresses: [198.18.1.9/24] }
  - a: $K/out0
    b: $O/eth0
devices:
  - { name: vx0, netns: $S, kind: vxlan, vxlan: { id: 42, remote: 198.18.1.9, local: 198.18.1.1, underlay: up0 } }
  - { name: vx0, netns: $K, kind: vxlan, vxlan: { id: 42, remote: 198.18.1.1, underlay: eth0 } }
rules:
  - { name: steer, action: redirect, from: $S/eth0, direction: ingress, to: $S/mon0 }
  - { name: egress, action: mirror, from: $S/eth0, direction: egress, to: $S/mon1 }
  - { name: lone, action: mirror, from: $S/eth1, direction: ingress, to: $S/mon1, priority: -1 }
  - { name: tovx, action: mirror, from: $S/eth1, direction: ingress, to: $S/vx0 }
  - { name: decap, action: redirect, from: $K/vx0, direction: ingress, to: $K/out0 }
${1:-}
EOF
}

# xdp_prog NETNS DEV: "NAME ID MODE" of the device's XDP program, or "none".
xdp_prog() {
	in_ns "$1" ip -j -d link show "$2" | jq -r '.[0].xdp |
		if . == null then "none" else "\(.prog.name) \(.prog.id) \(.mode)" end'
}

lab >"$WORK/a.yaml"
out=$("$TCSPAN" apply "$WORK/a.yaml" 2>&1)
check "apply" 0 $?
check "plan says where each rule runs" \
	"+ rule decap: redirect $K/vx0 ingress -> $K/out0 egress, on xdp|+ rule egress: mirror $S/eth0 egress -> $S/mon1 egress, on tc: XDP sees only the packets a device receives (direction: ingress)" \
	"$(grep -E '^\+ rule (decap|egress):' <<<"$out" | sort | paste -sd'|')"
"$TCSPAN" -q plan --detailed-exitcode "$WORK/a.yaml" >/dev/null 2>&1
check "a second plan is a no-op" 0 $?

# What the kernel holds: tcspan's program on each source and on the other
# end of each veth the XDP rules send into.
check "steer's device runs tcspan's program, native" "tcspan_xdp 1" \
	"$(xdp_prog "$S" eth0 | awk '{ print $1, $3 }')"
check "the VXLAN device runs it in generic mode" "tcspan_xdp 2" \
	"$(xdp_prog "$K" vx0 | awk '{ print $1, $3 }')"
check "the monitor's end of mon0 is readied" "tcspan_xdp" "$(xdp_prog "$M" eth0 | cut -d' ' -f1)"
check "the out namespace's end of out0 is readied" "tcspan_xdp" "$(xdp_prog "$O" eth0 | cut -d' ' -f1)"
check "no tc filter for the XDP rule" 0 "$(tc_filter_count "$S" eth0 ingress)"
check "the tc rules have their filters" "1 2" \
	"$(tc_filter_count "$S" eth0 egress) $(tc_filter_count "$S" eth1 ingress)"
show=$("$TCSPAN" -j show "$T")
check "show -j: datapath, mode and reason of each rule" \
	"decap xdp generic null|egress tc null XDP sees only the packets a device receives (direction: ingress)|lone tc null XDP cannot copy a packet and also pass it on; a mirror rides on XDP only with the next redirect of its hook, same match|steer xdp native null|tovx tc null $S/vx0 is not an end of a link of this topology (XDP frames go only to veths tcspan readies)" \
	"$(jq -r '[.topologies[0].rules[] | "\(.name) \(.datapath) \(.xdp_mode) \(.fallback)"] | sort | join("|")' <<<"$show")"
# The metadata: each reason once, named by its rule's entry.
meta=$(bpftool -j map dump pinned "/sys/fs/bpf/tcspan/$T/meta" | jq -c '[.[].formatted]')
check "metadata: a REASON entry per reason, none of the per-rule kind" "3 0" \
	"$(jq -r '([.[] | select(.key.kind == 4)] | length), ([.[] | select(.key.kind == 3)] | length)' <<<"$meta" | paste -sd' ')"
check "metadata: the tc rules' entries name their reasons" \
	"egress XDP sees only the packets a device receives (direction: ingress)|steer none" \
	"$(jq -r '(map(select(.key.kind == 4) | {key: (.key.id | tostring), value: .value.text}) |
		from_entries) as $why | .[] | select(.key.kind == 1) |
		select(.value.text == "egress" or .value.text == "steer") |
		"\(.value.text) \(if .value.ref == 0 then "none" else $why[.value.ref | tostring] end)"' \
		<<<"$meta" | sort | paste -sd'|')"
check "show: the table says native, generic and why" \
	"xdp (native)|xdp (generic)|tc XDP sees only the packets a device receives (direction: ingress)" \
	"$("$TCSPAN" show "$T" | awk '$2 == "steer" || $2 == "decap" || $2 == "egress" {
		s = ""; for (i = 8; i <= NF; i++) s = s (i > 8 ? " " : "") $i; print s }' |
		sort -r | paste -sd'|')"

# Real packets, and only those counted: the clients know the switch by a
# permanent neighbour (the redirect takes ARP requests too) and send no
# IPv6 of their own.
mac=$(in_ns "$S" cat /sys/class/net/eth0/address)
in_ns "$C" ip neigh replace 198.18.0.2 lladdr "$mac" dev eth0 nud permanent
mac=$(in_ns "$S" cat /sys/class/net/eth1/address)
in_ns "$D" ip neigh replace 198.18.2.2 lladdr "$mac" dev eth0 nud permanent
mac=$(in_ns "$D" cat /sys/class/net/eth0/address)
in_ns "$S" ip neigh replace 198.18.2.1 lladdr "$mac" dev eth1 nud permanent
in_ns "$C" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
in_ns "$D" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
sleep 0.2
steer0=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[] | select(.name == "steer") | .packets')
capture_start native "$M" eth0 "icmp[icmptype] = icmp-echo and src 198.18.0.1" ||
	fail "capture at the monitor" "tcpdump did not start"
ping_count "$C" 198.18.0.2 50 >/dev/null
check "native: every echo request arrives at the target" 50 "$(capture_stop native)"
check "native: none reached the switch's stack" 0 "$(icmp_in "$S")"
steer1=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[] | select(.name == "steer") | .packets')
check "native: the rule's counter took the 50" 50 "$((steer1 - steer0))"

# Generic: client2's pings are mirrored (tc) into the VXLAN device, arrive
# decapsulated at the collector's vx0, whose XDP program sends them on.
decap0=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[] | select(.name == "decap") | .packets')
capture_start generic "$O" eth0 "icmp[icmptype] = icmp-echo and src 198.18.2.1" ||
	fail "capture at out" "tcpdump did not start"
check "client2's pings are answered" 30 "$(ping_count "$D" 198.18.2.2 30)"
check "generic: every copy arrives at the target" 30 "$(capture_stop generic)"
decap1=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[] | select(.name == "decap") | .packets')
check "generic: the rule's counter took the 30" 30 "$((decap1 - decap0))"

# Without the program on the far end, a veth drops what XDP sends it.
in_ns "$M" ip link set dev eth0 xdp off
capture_start dropped "$M" eth0 "icmp[icmptype] = icmp-echo and src 198.18.0.1" ||
	fail "capture at the monitor" "tcpdump did not start"
ping_count "$C" 198.18.0.2 10 >/dev/null
check "a peer without XDP gets nothing" 0 "$(capture_stop dropped)"
plan=$("$TCSPAN" plan "$WORK/a.yaml" 2>&1)
check "plan names the rule whose target end lost its program" \
	"~ rule steer: redirect $S/eth0 ingress -> $S/mon0 egress, on xdp" "$(grep '^~' <<<"$plan")"
"$TCSPAN" -q apply "$WORK/a.yaml" >/dev/null 2>&1
check "apply readies it again" "tcspan_xdp" "$(xdp_prog "$M" eth0 | cut -d' ' -f1)"

# Broadcast: a mirror with the same match right before the redirect rides
# along; each target gets one copy.
lab "  - { name: copy, action: mirror, from: $S/eth0, direction: ingress, to: $S/mon1, priority: -1 }" \
	>"$WORK/b.yaml"
id0=$(xdp_prog "$S" eth0 | cut -d' ' -f2)
out=$("$TCSPAN" apply "$WORK/b.yaml" 2>&1)
check "apply: the mirror rides with the redirect" \
	"+ rule copy: mirror $S/eth0 ingress -> $S/mon1 egress, on xdp" "$(grep '^+ rule' <<<"$out")"
check "the program stays (a map update)" "$id0" "$(xdp_prog "$S" eth0 | cut -d' ' -f2)"
capture_start b0 "$M" eth0 "icmp[icmptype] = icmp-echo and src 198.18.0.1" || fail "capture" "mon"
CAP_M=$CAPTURE_PID
capture_start b1 "$N" eth0 "icmp[icmptype] = icmp-echo and src 198.18.0.1" || fail "capture" "mon2"
copy0=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[] | select(.name == "copy") | .packets')
ping_count "$C" 198.18.0.2 40 >/dev/null
check "broadcast: the mirror's target gets one copy of each" 40 "$(capture_stop b1)"
CAPTURE_PID=$CAP_M
check "broadcast: the redirect's target gets one of each" 40 "$(capture_stop b0)"
copy1=$("$TCSPAN" -j stats "$T" | jq '.topologies[0].rules[] | select(.name == "copy") | .packets')
check "broadcast: the mirror's counter took them" 40 "$((copy1 - copy0))"

# Rules come and go on the device while packets flow: a UDP redirect
# before `steer` is added and removed again and again; not one echo
# request is lost, and the program is never replaced.
lab "  - { name: copy, action: mirror, from: $S/eth0, direction: ingress, to: $S/mon1, priority: -1 }
  - { name: udp7, action: redirect, from: $S/eth0, direction: ingress, to: $S/mon1, priority: -2, match: { protocol: udp, dst_port: 7 } }" \
	>"$WORK/c.yaml"
capture_start flow "$M" eth0 "icmp[icmptype] = icmp-echo and src 198.18.0.1" || fail "capture" "mon"
in_ns "$C" ping -q -n -c 1500 -i 0.002 198.18.0.2 >/dev/null 2>&1 &
PING=$!
PIDS+=("$PING")
toggles=0
while kill -0 "$PING" 2>/dev/null && [ "$toggles" -lt 20 ]; do
	"$TCSPAN" -q apply "$WORK/c.yaml" >/dev/null 2>&1 &&
		"$TCSPAN" -q apply "$WORK/b.yaml" >/dev/null 2>&1 && toggles=$((toggles + 1))
done
wait "$PING"
echo "# $toggles add/remove rounds while the pings flowed"
check "rules added and removed while packets flow: none lost" 1500 "$(capture_stop flow)"
check "and the program is the one from the start" "$id0" "$(xdp_prog "$S" eth0 | cut -d' ' -f2)"

# A device with a program of someone else's, in a namespace made by hand:
# the rule stays on tc with the program's id; `datapath: xdp` there is an
# error; the program stays, through apply and destroy.
F=$(ns foreign)
ip netns add "$F"
in_ns "$F" ip link add fa type veth peer name fb
in_ns "$F" ip link set fa up
in_ns "$F" ip link set fb up
cat >"$WORK/pass.c" <<'EOF'
#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int pass(struct xdp_md *ctx) { return XDP_PASS; }
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
clang -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" -c "$WORK/pass.c" -o "$WORK/pass.o" ||
	fail "compile a foreign XDP program" "clang failed"
in_ns "$F" ip link set dev fa xdpgeneric obj "$WORK/pass.o" sec xdp
fid=$(xdp_prog "$F" fa | cut -d' ' -f2)
lab "  - { name: fr, action: redirect, from: $F/fa, direction: ingress, to: $F/tom0 }" |
	sed "s|^devices:|  - a: $F/tom0\n    b: $M/eth1\ndevices:|" >"$WORK/d.yaml"
out=$("$TCSPAN" apply "$WORK/d.yaml" 2>&1)
check "a foreign XDP program: the rule goes on tc, saying why" \
	"+ rule fr: redirect $F/fa ingress -> $F/tom0 egress, on tc: $F/fa has an XDP program that tcspan did not create (id $fid)" \
	"$(grep '^+ rule' <<<"$out")"
check "show -j says it too" \
	"tc $F/fa has an XDP program that tcspan did not create (id $fid)" \
	"$("$TCSPAN" -j show "$T" | jq -r '.topologies[0].rules[] | select(.name == "fr") | "\(.datapath) \(.fallback)"')"
check "its filter is on tc" 1 "$(tc_filter_count "$F" fa ingress)"
check "the foreign program is untouched" "pass $fid" "$(xdp_prog "$F" fa | cut -d' ' -f1,2)"

before=$("$TCSPAN" -j show "$T")
sed 's|to: '"$F"'/tom0 }$|to: '"$F"'/tom0, datapath: xdp }|' "$WORK/d.yaml" >"$WORK/e.yaml"
line=$(grep -n 'name: fr' "$WORK/e.yaml" | cut -d: -f1)
err=$("$TCSPAN" apply "$WORK/e.yaml" 2>&1)
check "datapath: xdp on a device with a foreign program is an apply error" \
	"1 $WORK/e.yaml:$line:5: error: rule \"fr\": datapath: xdp, but $F/fa has an XDP program that tcspan did not create (id $fid)" \
	"$? $(head -1 <<<"$err")"
check "and changes nothing" "$before" "$("$TCSPAN" -j show "$T")"

# A program that appears between tcspan's look at the kernel and its
# apply: the attach is refused, everything is undone, the rule is planned
# again onto tc and the apply goes on; the program stays.
{ cat "$WORK/d.yaml"; echo "  - { name: race, action: redirect, from: $F/fb, direction: ingress, to: $F/tom0 }"; } \
	>"$WORK/race.yaml"
mkfifo "$WORK/go"
timeout 60 "$(dirname "$TCSPAN")/tests/tools/apply_paused" "$WORK/race.yaml" <"$WORK/go" \
	>"$WORK/race.out" 2>&1 &
RACE=$!
exec 7>"$WORK/go"
for _ in $(seq 50); do grep -q '^planned' "$WORK/race.out" && break; sleep 0.1; done
check "the plan puts the rule on XDP" "race: , on xdp" \
	"$(grep '^race:' "$WORK/race.out" | sed 's/: .*\(, on \)/: \1/')"
in_ns "$F" ip link set dev fb xdpgeneric obj "$WORK/pass.o" sec xdp
rid=$(xdp_prog "$F" fb | cut -d' ' -f2)
kill -0 "$RACE" 2>/dev/null && echo go >&7
exec 7>&-
wait "$RACE"
check "a program appearing after the plan: the apply succeeds" 0 $?
check "with the rule planned again onto tc, saying why" \
	"race: , on tc: $F/fb has an XDP program that tcspan did not create (id $rid)" \
	"$(sed -n '/^applied/,$p' "$WORK/race.out" | grep '^race:' | sed 's/: [^,]*\(, on \)/: \1/')"
check "show -j says it" "tc $F/fb has an XDP program that tcspan did not create (id $rid)" \
	"$("$TCSPAN" -j show "$T" | jq -r '.topologies[0].rules[] | select(.name == "race") | "\(.datapath) \(.fallback)"')"
check "its filter is on tc, the program untouched" "1 pass $rid" \
	"$(tc_filter_count "$F" fb ingress) $(xdp_prog "$F" fb | cut -d' ' -f1,2)"
"$TCSPAN" -q plan --detailed-exitcode "$WORK/race.yaml" >/dev/null 2>&1
check "and a plan after it is a no-op" 0 $?
sed 's|to: '"$S"'/mon1, priority: -1 }$|to: '"$S"'/mon1, priority: -1, datapath: xdp }|' \
	"$WORK/a.yaml" >"$WORK/f.yaml"
line=$(grep -n 'name: lone' "$WORK/f.yaml" | cut -d: -f1)
err=$("$TCSPAN" validate "$WORK/f.yaml" 2>&1)
check "datapath: xdp on a mirror that cannot ride is a validation error" \
	"1 $WORK/f.yaml:$line:5: error: rule \"lone\": datapath: xdp, but XDP cannot copy a packet and also pass it on; a mirror rides on XDP only with the next redirect of its hook, same match" \
	"$? $(head -1 <<<"$err")"

# datapath: tc moves a rule off XDP; auto moves it back; both in place.
sed 's|name: steer, \(.*\) }$|name: steer, \1, datapath: tc }|' "$WORK/a.yaml" >"$WORK/g.yaml"
"$TCSPAN" -q apply "$WORK/g.yaml" >/dev/null 2>&1
check "datapath: tc: the rule has a filter and the device no program" "1 none" \
	"$(tc_filter_count "$S" eth0 ingress) $(xdp_prog "$S" eth0)"
"$TCSPAN" -q apply "$WORK/a.yaml" >/dev/null 2>&1
check "auto again: back on XDP, the filter gone" "0 tcspan_xdp" \
	"$(tc_filter_count "$S" eth0 ingress) $(xdp_prog "$S" eth0 | cut -d' ' -f1)"

# Destroy detaches every program of the topology and leaves the foreign one.
"$TCSPAN" -q apply "$WORK/d.yaml" >/dev/null 2>&1
err=$("$TCSPAN" -q destroy "$T" 2>&1)
check "destroy" "0 " "$? $err"
check "destroy leaves the foreign program" "pass $fid" "$(xdp_prog "$F" fa | cut -d' ' -f1,2)"
check "destroy removes the topology's namespaces, not the foreign one" "$F" \
	"$(ip netns list | awk '{ print $1 }' | grep "^$RUN_ID-" | paste -sd' ')"
check "no tcspan XDP program is left" 0 \
	"$({ ip -j -d link show; in_ns "$F" ip -j -d link show; } |
		jq -s '[.[][] | select(.xdp.prog.name == "tcspan_xdp")] | length')"
