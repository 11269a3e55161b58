# tcspan sends its requests in batches (up to 256 messages in one send)
# and reads their answers afterwards: the answers of a whole batch wait in
# the socket's receive buffer.  With net.core.rmem_max far below what they
# need, an apply of 2,000 rules still succeeds (the buffer is forced, as
# CAP_NET_ADMIN allows, and a batch never holds more requests than the
# buffer holds answers), and so do its no-op and destroy; a refused step in
# the middle of a batch is still reported and undone, and a delete of a
# filter already gone is no failure, in a full batch too.  The sysctl is
# restored on every way out.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-nlb"
topology "$T"
N=$(ns n)
DEVS=20 RULES=2000

RMEM_MAX=$(sysctl -n net.core.rmem_max)
restore() {
	sysctl -qw net.core.rmem_max="$RMEM_MAX"
	cleanup
}
trap restore EXIT

ip netns add "$N" || exit 1
{
	echo "link add t0 type veth peer name t0p"
	for i in $(seq 0 $((DEVS - 1))); do
		echo "link add d$i type veth peer name d${i}p"
		echo "link set d$i up"
	done
	echo "link set t0 up"
} | ip -n "$N" -batch - || exit 1
{
	printf 'version: 1\nname: %s\nrules:\n' "$T"
	for i in $(seq 0 $((RULES - 1))); do
		printf '  - { name: r%d, action: redirect, from: %s/d%d, direction: ingress, to: %s/t0 }\n' \
			"$i" "$N" $((i % DEVS)) "$N"
	done
} >"$WORK/t.yaml"

filters() {
	local d n=0 c
	for ((d = 0; d < DEVS; d++)); do
		# (A device deleted below counts none.)
		c=$(tc -n "$N" -j filter show dev "d$d" ingress 2>/dev/null |
			jq '[.[] | select(.options.actions != null)] | length')
		n=$((n + ${c:-0}))
	done
	echo "$n"
}

# low CMD...: CMD with net.core.rmem_max at 8192 bytes, far below what the
# answers of a batch take.  (tc, which the checks run, needs more.)
low() {
	local rc
	sysctl -qw net.core.rmem_max=8192
	"$@"
	rc=$?
	sysctl -qw net.core.rmem_max="$RMEM_MAX"
	return $rc
}

out=$(low timeout 60 "$TCSPAN" -q apply "$WORK/t.yaml" 2>&1)
check "rmem_max 8192: an apply of $RULES rules succeeds" "0" "$?${out:+: $out}"
check "rmem_max 8192: every rule has its filter" "$RULES" "$(filters)"
out=$(low timeout 60 "$TCSPAN" apply "$WORK/t.yaml" 2>&1)
check "rmem_max 8192: the second apply changes nothing" "No changes." "$out"
out=$(low timeout 60 "$TCSPAN" -q destroy "$T" 2>&1)
check "rmem_max 8192: destroy succeeds" "0" "$?${out:+: $out}"
check "rmem_max 8192: destroy leaves no filter" 0 "$(filters)"

# A device gone between the plan and the apply (apply_paused plans, waits
# for a line, then applies): its steps fail in the middle of a batch, the
# kernel's answer names the device, and every step of the apply is undone.
# Its sockets get their buffers when the plan opens them.
mkfifo "$WORK/go"
sysctl -qw net.core.rmem_max=8192
timeout 60 "$(dirname "$TCSPAN")/tests/tools/apply_paused" "$WORK/t.yaml" <"$WORK/go" \
	>"$WORK/paused.out" 2>&1 &
PAUSED=$!
PIDS+=("$PAUSED")
exec 7<>"$WORK/go"	# read-write: opening it never blocks
for _ in $(seq 100); do grep -q '^planned' "$WORK/paused.out" && break; sleep 0.1; done
sysctl -qw net.core.rmem_max="$RMEM_MAX"
ip -n "$N" link del d14
echo go >&7
exec 7>&-
wait "$PAUSED"
check "rmem_max 8192: a device gone after the plan fails the apply" 1 "$?"
check "rmem_max 8192: the kernel's refusal names the device" yes \
	"$(grep -q "$N/d14" "$WORK/paused.out" && echo yes || echo "no: $(tail -3 "$WORK/paused.out")")"
check "rmem_max 8192: every step of the apply is undone" 0 "$(filters)"
check "rmem_max 8192: no clsact is left" 0 \
	"$(tc -n "$N" -j qdisc show | jq '[.[] | select(.kind == "clsact")] | length')"

# Filters deleted by hand between the plan and the apply: the apply's
# deletes of them are answered "not found", which is what a delete wants,
# also inside a full batch in the middle of the apply.
ip -n "$N" link add d14 type veth peer name d14p
ip -n "$N" link set d14 up
out=$("$TCSPAN" -q apply "$WORK/t.yaml" 2>&1)
check "all $RULES rules again" "0 $RULES" "$? $(filters)"
head -n $((3 + 100)) "$WORK/t.yaml" >"$WORK/small.yaml"
timeout 60 "$(dirname "$TCSPAN")/tests/tools/apply_paused" "$WORK/small.yaml" \
	<"$WORK/go" >"$WORK/paused.out" 2>&1 &
PAUSED=$!
PIDS+=("$PAUSED")
exec 7<>"$WORK/go"
for _ in $(seq 100); do grep -q '^planned' "$WORK/paused.out" && break; sleep 0.1; done
tc -n "$N" filter del dev d5 ingress
echo go >&7
exec 7>&-
wait "$PAUSED"
check "deletes of filters already gone do not stop the apply" 0 "$?"
check "the other devices keep their 5 rules each" 95 "$(filters)"
out=$("$TCSPAN" -q apply "$WORK/small.yaml" 2>&1)
check "the next apply puts back the rules of d5" "0 100" "$? $(filters)"
