# Every example in configs/ validates, applies, is then converged (plan
# --detailed-exitcode 0), and destroys to nothing.  The demo carries
# traffic: its monitor receives a copy of each request and reply; so do
# the lab and the remote mirror's collector.
. "$(dirname "$0")/../lib.sh"

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
	if [ "$name" = remote-mirror ]; then
		capture_start remote rm-collector vx0 "icmp[icmptype] = icmp-echo"
		ping_count rm-client 198.18.20.2 5 >/dev/null
		check "$f: the collector receives the requests decapsulated" 5 "$(capture_stop remote)"
	fi
	"$TCSPAN" -q destroy "$name"
	check "$f: destroy leaves no topology" 0 "$("$TCSPAN" -j show "$name" | jq '.topologies | length')"
done
