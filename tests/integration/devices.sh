# Remote mirroring: `devices:` of kind vxlan and ifb.  A rule mirrors the
# server's traffic into a VXLAN device whose underlay is a link to a
# collector namespace; the collector has a VXLAN device of its own (the
# same topology makes it) and the copies arrive there decapsulated.
# Another rule mirrors into an IFB device, which receives the copies.
# Then: converged, settings changed (re-created), a kernel refusal undone,
# foreign devices untouched, destroy leaves nothing.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-dev"
topology "$T"
C=$(ns client) S=$(ns server) K=$(ns collector)
lab() { # VNI [EXTRA-DEVICE-LINES]
	cat <<EOF
version: 1
name: $T
namespaces: [$C, $S, $K]
links:
  - a: { netns: $C, dev: eth0, addresses: [198.18.0.1/24] }
    b: { netns: $S, dev: eth0, addresses: [198.18.0.2/24] }
  - a: { netns: $S, dev: up0, addresses: [198.18.1.1/24] }
    b: { netns: $K, dev: eth0, addresses: [198.18.1.9/24] }
devices:
  - name: vx0
    netns: $S
    kind: vxlan
    vxlan: { id: $1, remote: 198.18.1.9, local: 198.18.1.1, underlay: up0 }
  - name: vx0
    netns: $K
    kind: vxlan
    vxlan: { id: $1, remote: 198.18.1.1, underlay: eth0 }
  - { name: ifb0, netns: $S, kind: ifb }
${2:-}
rules:
  - name: remote
    action: mirror
    from: $S/eth0
    direction: ingress
    to: $S/vx0
  - name: local
    action: mirror
    from: $S/eth0
    direction: egress
    to: $S/ifb0
EOF
}
lab 42 >"$WORK/t.yaml"

out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "apply: namespaces, links, three devices, two rules" \
	"0 Apply complete: 10 added, 0 changed, 0 removed." "$? $(tail -1 <<<"$out")"
"$TCSPAN" -q plan --detailed-exitcode "$WORK/t.yaml" >/dev/null 2>&1
check "a second plan is a no-op" 0 $?

# What the kernel holds, read back with ip -j.
vx=$(in_ns "$S" ip -j -d link show vx0 | jq -c '.[0] | [.linkinfo.info_kind,
	.linkinfo.info_data.id, .linkinfo.info_data.remote, .linkinfo.info_data.local,
	.linkinfo.info_data.port, .linkinfo.info_data.link, .operstate != "DOWN"]')
check "the vxlan device is made as the file says" '["vxlan",42,"198.18.1.9","198.18.1.1",4789,"up0",true]' "$vx"
check "the ifb device is made" "ifb" "$(in_ns "$S" ip -j -d link show ifb0 | jq -r '.[0].linkinfo.info_kind')"
check "show -j lists the devices" \
	"$K/vx0 vxlan|$S/ifb0 ifb|$S/vx0 vxlan id=42 remote=198.18.1.9 port=4789 local=198.18.1.1 underlay=up0" \
	"$("$TCSPAN" -j show "$T" | jq -r '[.topologies[0].devices[] | "\(.name) \(.kind)" +
		(if .name == "'"$S"'/vx0" then " " + .settings else "" end)] | sort | join("|")')"

# Copies of the client's echo requests arrive at the collector's vxlan
# decapsulated; copies of the server's replies at the ifb.
capture_start remote "$K" vx0 "icmp[icmptype] = icmp-echo and src 198.18.0.1" ||
	fail "capture at the collector" "tcpdump did not start"
CAP_REMOTE=$CAPTURE_PID
capture_start local "$S" ifb0 "icmp[icmptype] = icmp-echoreply and src 198.18.0.2" ||
	fail "capture at the ifb" "tcpdump did not start"
CAP_LOCAL=$CAPTURE_PID
replies=$(ping_count "$C" 198.18.0.2 20)
check "the client's pings are answered" 20 "$replies"
CAPTURE_PID=$CAP_LOCAL
check "the ifb receives the mirrored replies" 20 "$(capture_stop local)"
CAPTURE_PID=$CAP_REMOTE
check "the collector receives the mirrored requests, decapsulated" 20 "$(capture_stop remote)"
pkts=$("$TCSPAN" -j stats "$T" | jq -c '[.topologies[0].rules[] | .packets >= 20] | all')
check "stats count both rules" true "$pkts"

# A changed VNI re-creates both vxlan devices and the rule that uses one.
lab 43 >"$WORK/t43.yaml"
out=$("$TCSPAN" apply "$WORK/t43.yaml" 2>&1)
check "a changed vni: the two vxlan devices and their rule change" \
	"0 Apply complete: 0 added, 3 changed, 0 removed." "$? $(tail -1 <<<"$out")"
check "the new vni is in the kernel" 43 "$(in_ns "$S" ip -j -d link show vx0 | jq '.[0].linkinfo.info_data.id')"
capture_start remote "$K" vx0 "icmp[icmptype] = icmp-echo and src 198.18.0.1" ||
	fail "capture at the collector" "tcpdump did not start"
ping_count "$C" 198.18.0.2 10 >/dev/null
check "copies arrive after the change" 10 "$(capture_stop remote)"

# All or nothing: a second vxlan with the same VNI and port and no underlay
# is refused by the kernel; the device made before it is undone.
lab 43 "  - { name: vx1, netns: $S, kind: vxlan, vxlan: { id: 7, remote: 198.18.1.9 } }
  - { name: vx2, netns: $S, kind: vxlan, vxlan: { id: 7, remote: 198.18.1.8 } }" >"$WORK/dup.yaml"
before=$(in_ns "$S" ip -j link show | jq -c '[.[] | .ifname] | sort')
out=$("$TCSPAN" apply "$WORK/dup.yaml" 2>&1)
status=$?
check "a device the kernel refuses: apply fails naming it" \
	"1 tcspan: error: cannot create vxlan device $S/vx2: " "$status $(head -1 <<<"$out" | grep -o "^tcspan: error: cannot create vxlan device $S/vx2: ")"
check "a device the kernel refuses: the one made before it is undone" "$before" \
	"$(in_ns "$S" ip -j link show | jq -c '[.[] | .ifname] | sort')"

# A device by a file's name made by hand is named and never touched.
in_ns "$S" ip link add ifb9 type ifb
lab 43 "  - { name: ifb9, netns: $S, kind: ifb }" >"$WORK/foreign.yaml"
out=$("$TCSPAN" apply "$WORK/foreign.yaml" 2>&1)
check "a foreign device by that name: refused, named" \
	"1 $WORK/foreign.yaml:19:13: error: device \"$S/ifb9\" exists and was not created by tcspan" \
	"$? $(head -1 <<<"$out")"
in_ns "$S" ip link del ifb9

# Dropped from the file: removed with the rule that used it.
sed '/name: ifb0/d; /name: local/,$d' "$WORK/t43.yaml" >"$WORK/noifb.yaml"
out=$("$TCSPAN" apply "$WORK/noifb.yaml" 2>&1)
check "a device dropped from the file is removed with its rule" \
	"0 Apply complete: 0 added, 0 changed, 2 removed." "$? $(tail -1 <<<"$out")"
in_ns "$S" ip link show ifb0 >/dev/null 2>&1
check "the ifb is gone" 1 $?

out=$("$TCSPAN" destroy "$T" 2>&1)
check "destroy removes everything" "0 Destroy complete: 8 removed." "$? $(tail -1 <<<"$out")"
check "no namespace is left" 0 "$(ip netns list | grep -c "^$RUN_ID-")"
