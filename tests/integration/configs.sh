# Every example in configs/ validates, applies, is then converged (plan
# --detailed-exitcode 0), and destroys to nothing.  The demo carries
# traffic: its monitor receives a copy of each request and reply; so do
# the lab, the remote mirror's collector and the XDP example's tool,
# monitor and resolver.
. "$(dirname "$0")/../lib.sh"
PKTSEND=$(dirname "$TCSPAN")/tests/tools/pktsend

for f in configs/*.yaml; do
	name=$(awk '/^name:/ { print $2; exit }' "$f")
	topology "$name"
	out=$("$TCSPAN" validate "$f" 2>&1)
	check "$f: validates" 0 $?
	if ! out=$("$TCSPAN" apply "$f" 2>&1); then
		fail "$f: applies" "$out"
		continue
	fi
	pass "$f: applies"
	"$TCSPAN" plan --detailed-exitcode "$f" >/dev/null
	check "$f: converged after one apply" 0 $?
	if [ "$name" = demo ]; then
		capture_start demo demo-monitor eth0 icmp
		ping_count demo-client 198.18.0.2 5 >/dev/null
		check "$f: the monitor sees requests and replies" 10 "$(capture_stop demo)"
	fi
	if [ "$name" = lab ]; then
		# a-to-c is a wire: lab-a's frames come out at lab-c.  lab-c's ARP
		# replies are quarantined, so lab-a is told lab-c's address.
		mac=$(in_ns lab-c cat /sys/class/net/eth0/address)
		in_ns lab-a ip neigh replace 198.18.8.3 lladdr "$mac" dev eth0 nud permanent
		capture_start lab lab-c eth0 "icmp"
		in_ns lab-a ping -c 3 -i 0.05 -W 1 198.18.8.3 >/dev/null 2>&1
		check "$f: lab-b carries lab-a's requests to lab-c" 3 "$(capture_stop lab)"
	fi
	if [ "$name" = xdp-steer ]; then
		check "$f: every rule runs on XDP" "xdp xdp xdp xdp" \
			"$("$TCSPAN" -j show "$name" | jq -r '[.topologies[0].rules[].datapath] | join(" ")')"
		capture_start xs xs-monitor eth0 "icmp[icmptype] = icmp-echo"
		check "$f: the tool answers the client through the switch" 4 \
			"$(ping_count xs-client 198.18.9.2 4)"
		check "$f: the monitor gets a copy of each request" 4 "$(capture_stop xs)"
		mac=$(in_ns xs-dns cat /sys/class/net/eth0/address)
		in_ns xs-client ip neigh replace 198.18.9.53 lladdr "$mac" dev eth0 nud permanent
		capture_start xsdns xs-dns eth0 "udp dst port 53"
		in_ns xs-client "$PKTSEND" udp --dst 198.18.9.53 --dport 53 --flows 1 --per-flow 3
		check "$f: DNS goes to the resolver" 3 "$(capture_stop xsdns)"
	fi
	if [ "$name" = remote-mirror ]; then
		capture_start remote rm-collector vx0 "icmp[icmptype] = icmp-echo"
		ping_count rm-client 198.18.20.2 5 >/dev/null
		check "$f: the collector receives the requests decapsulated" 5 "$(capture_stop remote)"
	fi
	"$TCSPAN" -q destroy "$name"
	check "$f: destroy leaves no topology" 0 "$("$TCSPAN" -j show "$name" | jq '.topologies | length')"
done
