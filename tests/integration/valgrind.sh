# The CLI under valgrind against the real kernel: apply, re-apply, show,
# stats, plan, tap, destroy, and a refused file.  Any memory error or leak fails.
. "$(dirname "$0")/../lib.sh"

if [ "${TCSPAN_SANITIZE:-}" = 1 ]; then
	skip "valgrind" "tcspan is built with ASan here, which checks memory itself (valgrind cannot run it); the plain make check runs this"
	exit 0
fi

T="$RUN_ID-vg"
topology "$T"
C=$(ns client) S=$(ns server)
cat >"$WORK/t.yaml" <<EOF
version: 1
name: $T
namespaces: [$C, $S]
links:
  - a: { netns: $C, dev: eth0, addresses: [198.18.2.1/24, "2001:db8:2::1/64"] }
    b: { netns: $S, dev: eth0, addresses: [198.18.2.2/24] }
  - a: $S/mon0
    b: $S/mon1
rules:
  - name: in
    action: mirror
    from: $S/eth0
    direction: both
    to: $S/mon0
  - name: out
    action: redirect
    from: $S/mon1
    direction: ingress
    to: $S/mon0
    to_direction: ingress
EOF
printf 'version: 1\nname: x\nrules:\n  - name: a\n    acton: mirror\n' >"$WORK/bad.yaml"

vg() { # NAME EXPECTED-STATUS ARGS...
	local name=$1 want=$2 rc
	shift 2
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--suppressions="$(dirname "$0")/../valgrind.supp" \
		--error-exitcode=99 "$TCSPAN" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		pass "valgrind: $name"
	else
		fail "valgrind: $name" "exit $rc (want $want): $(head -c 2000 "$WORK/err")"
	fi
}

vg "apply" 0 apply "$WORK/t.yaml"
vg "apply again" 0 apply "$WORK/t.yaml"
vg "plan -j" 0 -j plan "$WORK/t.yaml"
vg "show" 0 show
vg "show -j" 0 -j show "$T"
vg "stats -j" 0 -j stats "$T"
vg "validate a bad file" 1 validate "$WORK/bad.yaml"
vg "tap -w pcapng around a command" 0 tap --dev "$S/eth0" --dev "$C/eth0" \
	--match protocol=icmp -w "$WORK/t.pcapng" -- ip netns exec "$C" ping -c 2 -i 0.05 198.18.2.2
vg "tap with a bad --match" 1 tap --dev "$S/eth0" --match vlan=5000 -w "$WORK/x.pcap"
vg "destroy --taps" 0 destroy --taps
vg "destroy" 0 destroy "$T"
