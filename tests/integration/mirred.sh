# The four mirred actions (mirror/redirect x target egress/ingress) on each
# hook (ingress, egress, both), with real packets: the target must see what
# the rule takes, and the original path must deliver (mirror) or not
# (redirect).  Each case re-applies the same topology with one rule changed,
# so the change path (filter replace) is exercised on the way.
. "$(dirname "$0")/../lib.sh"

N=20
T="$RUN_ID-mirred"
topology "$T"
C=$(ns client) S=$(ns server) M=$(ns monitor)

write_topology() { # ACTION DIRECTION TO_DIRECTION
	{
		lab_header
		cat <<EOF
  - name: tap
    action: $1
    from: $S/eth0
    direction: $2
    to: $S/mon0
    to_direction: $3
EOF
	} >"$WORK/t.yaml"
}

# Once the links exist: rules also take ARP, so client and server know each
# other's address statically and no case depends on what an earlier one
# left in a neighbour cache.  Copies sent to mon0's ingress arrive in the
# server's own stack; strict reverse-path filtering drops them there, as on
# a real monitor port, so only the original path can reach the server.
prepare_hosts() {
	local cmac smac
	cmac=$(in_ns "$C" cat /sys/class/net/eth0/address)
	smac=$(in_ns "$S" cat /sys/class/net/eth0/address)
	in_ns "$C" ip neigh replace 198.18.0.2 lladdr "$smac" dev eth0 nud permanent
	in_ns "$S" ip neigh replace 198.18.0.1 lladdr "$cmac" dev eth0 nud permanent
	in_ns "$S" sysctl -qw net.ipv4.conf.mon0.rp_filter=1
}

# What the target sees, per case: requests come in on server/eth0 (its
# ingress hook), replies go out (egress).  A redirect at ingress stops the
# requests, so no reply is ever made.
expect_target() { # ACTION DIRECTION
	case "$1/$2" in
	mirror/both) echo $((2 * N)) ;;
	*) echo "$N" ;;
	esac
}

for action in mirror redirect; do
	for to_dir in egress ingress; do
		for dir in ingress egress both; do
			name="$action $dir -> $to_dir"
			write_topology "$action" "$dir" "$to_dir"
			if ! out=$("$TCSPAN" apply "$WORK/t.yaml" 2>&1); then
				fail "$name: apply" "$out"
				continue
			fi
			[ -n "${prepared:-}" ] || prepare_hosts
			prepared=1
			# Egress: copies leave mon0 and arrive at the monitor's end.
			# Ingress: they appear as received by mon0 itself.
			if [ "$to_dir" = egress ]; then
				capture_start tgt "$M" eth0 "icmp" || fail "$name" "tcpdump did not start"
			else
				capture_start tgt "$S" mon0 "icmp" || fail "$name" "tcpdump did not start"
			fi
			echos0=$(icmp_in "$S")
			replies=$(ping_count "$C" 198.18.0.2 "$N")
			echos=$(( $(icmp_in "$S") - echos0 ))
			got=$(capture_stop tgt)
			check "$name: target receives the rule's packets" \
				"$(expect_target "$action" "$dir")" "$got"
			case "$action/$dir" in
			mirror/*)
				check "$name: original path still delivers" "$N" "$replies" ;;
			redirect/ingress|redirect/both)
				check "$name: server never sees the redirected requests" 0 "$echos" ;;
			redirect/egress)
				check "$name: server answers but the replies are taken" "$N/0" \
					"$echos/$replies" ;;
			esac
		done
	done
done

# The kernel holds exactly one filter per rule and hook, with tcspan's cookie.
n=$(in_ns "$S" tc -j filter show dev eth0 ingress | jq '[.[] | select(.options.actions)] | length')
n2=$(in_ns "$S" tc -j filter show dev eth0 egress | jq '[.[] | select(.options.actions)] | length')
check "direction both: one filter on each hook" "1/1" "$n/$n2"
cookie=$(in_ns "$S" tc -j filter show dev eth0 ingress |
	jq -r '[.[] | .options.actions[]? | .cookie] | first')
check "the action carries tcspan's cookie" "74637301" "${cookie:0:8}"
