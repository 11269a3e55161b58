# /run/tcspan/lock serialises runs: five applies of one file started at
# once all succeed and leave exactly one copy of everything; --wait gives
# up with a clear message while another run holds the lock; a file with
# errors says so while another run holds the lock, without waiting for it
# (plan and apply read the file before the lock and check it while they
# read the kernel, see tcspan_plan__new_from_file()); a run that waits for
# its file on a pipe holds no lock meanwhile.
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
printf 'version: 1\nname: %s\nrules: 3\n' "$T" >"$WORK/bad.yaml"
# No --wait: without the file read first, this would wait for ever.
bad_out=$(timeout 20 "$TCSPAN" apply "$WORK/bad.yaml" 2>&1)
bad_rc=$?
plan_out=$(timeout 20 "$TCSPAN" plan "$WORK/bad.yaml" 2>&1)
plan_rc=$?
missing_out=$(timeout 20 "$TCSPAN" plan "$WORK/missing.yaml" 2>&1)
missing_rc=$?
flock -u "$lockfd"
exec {lockfd}>&-
check "--wait: gives up while the lock is held" 1 "$rc"
check "--wait: says why" "tcspan: error: another tcspan holds /run/tcspan/lock (waited 1 s)" "$out"
check "lock held: a file with errors fails at once" 1 "$bad_rc"
check "lock held: the file's error, not the lock's" \
	"$WORK/bad.yaml:3:8: error: \"rules\" must be a list" "$bad_out"
check "lock held: plan of a file with errors fails at once" 1 "$plan_rc"
check "lock held: plan says the file's error" "$bad_out" "$plan_out"
check "lock held: a missing file fails at once" 1 "$missing_rc"
check "lock held: a missing file says so" \
	"$WORK/missing.yaml: error: cannot read: No such file or directory" "$missing_out"

# A file on a pipe whose writer is slow (it could be another tcspan): the
# reader takes the lock only once the file is whole, so a plan meanwhile
# gets it at once.
{ sleep 3; cat "$WORK/t.yaml"; } | "$TCSPAN" -q apply /dev/stdin >"$WORK/pipe.out" 2>&1 &
piped=$!
PIDS+=("$piped")
sleep 0.5
out=$("$TCSPAN" plan --wait 1 "$WORK/t.yaml" 2>&1)
check "a run waiting for its file on a pipe holds no lock" "0 No changes." "$? $out"
wait "$piped"
check "the run on a pipe applies its file" "0 " "$? $(cat "$WORK/pipe.out")"
