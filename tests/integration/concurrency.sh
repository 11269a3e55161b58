# /run/tcspan/lock serialises runs: five applies of one file started at
# once all succeed and leave exactly one copy of everything; --wait gives
# up with a clear message while another run holds the lock.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-conc"
topology "$T"
A=$(ns a) B=$(ns b)
cat >"$WORK/t.yaml" <<EOF2
version: 1
name: $T
namespaces: [$A, $B]
links:
  - a: { netns: $A, dev: eth0, addresses: [198.18.6.1/24] }
    b: { netns: $B, dev: eth0, addresses: [198.18.6.2/24] }
  - a: $B/mon0
    b: $B/mon1
rules:
  - { name: r1, action: mirror, from: $B/eth0, direction: both, to: $B/mon0 }
  - { name: r2, action: mirror, from: $B/eth0, direction: ingress, to: $B/mon1 }
EOF2

pids=()
for i in 1 2 3 4 5; do
	"$TCSPAN" -q apply "$WORK/t.yaml" >"$WORK/out.$i" 2>&1 &
	pids+=($!)
done
ok=0
for pid in "${pids[@]}"; do
	wait "$pid" && ok=$((ok + 1))
done
check "five applies at once all succeed" 5 "$ok"
check "one filter per rule on ingress" 2 "$(tc_filter_count "$B" eth0 ingress)"
check "one filter per rule on egress" 1 "$(tc_filter_count "$B" eth0 egress)"
check "one pair of veth ends each" "eth0 mon0 mon1" \
	"$(in_ns "$B" ip -j link show | jq -r '[.[].ifname | select(. != "lo")] | sort | join(" ")')"
"$TCSPAN" plan --detailed-exitcode "$WORK/t.yaml" >/dev/null
check "converged" 0 $?

# A lock held elsewhere: --wait 1 gives up after about a second.
exec {lockfd}>/run/tcspan/lock
flock "$lockfd"
out=$("$TCSPAN" apply --wait 1 "$WORK/t.yaml" 2>&1)
rc=$?
flock -u "$lockfd"
exec {lockfd}>&-
check "--wait: gives up while the lock is held" 1 "$rc"
check "--wait: says why" "tcspan: error: another tcspan holds /run/tcspan/lock (waited 1 s)" "$out"
