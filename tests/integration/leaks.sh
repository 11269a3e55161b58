# 200 apply/destroy cycles in one process through libtcspan leave its
# descriptors and resident memory, and the kernel's counts of BPF programs
# and maps, where they started (a leaked descriptor of a program or map
# would also keep that object alive in the kernel).
. "$(dirname "$0")/../lib.sh"

CYCLES=${LEAK_CYCLES:-200}
CYCLES_BIN="$(dirname "$TCSPAN")/tests/tools/cycles"
T="$RUN_ID-leak"
topology "$T"
A=$(ns a) B=$(ns b)
cat >"$WORK/t.yaml" <<EOF2
version: 1
name: $T
namespaces: [$A, $B]
links:
  - a: { netns: $A, dev: eth0, addresses: [198.18.8.1/24, "2001:db8:8::1/64"] }
    b: { netns: $B, dev: eth0, addresses: [198.18.8.2/24] }
  - a: $B/mon0
    b: $B/mon1
rules:
  - { name: all, action: mirror, from: $B/eth0, direction: both, to: $B/mon0 }
  - { name: udp, action: mirror, from: $B/eth0, direction: ingress, to: $B/mon1,
      match: { protocol: udp, dst_port: 53 } }
  - { name: sampled, action: mirror, from: $B/eth0, direction: egress, to: $B/mon1,
      match: { protocol: tcp, sample: 10, sample_flows: 4096 } }
EOF2

kernel_objects() {
	echo "$(bpftool -j prog show | jq length) programs, $(bpftool -j map show | jq length) maps"
}

before=$(kernel_objects)
if ! out=$("$CYCLES_BIN" "$WORK/t.yaml" "$CYCLES" 2>&1); then
	fail "$CYCLES apply/destroy cycles" "$out"
	exit 1
fi
pass "$CYCLES apply/destroy cycles in one process"
read -r _ fds0 fds1 <<<"$(grep '^fds' <<<"$out")"
read -r _ rss0 rss1 <<<"$(grep '^rss_kb' <<<"$out")"
echo "# descriptors $fds0 -> $fds1, resident memory $rss0 -> $rss1 kB"
check "open descriptors after the first cycle and after the last" "$fds0" "$fds1"
if [ "${TCSPAN_SANITIZE:-}" = 1 ]; then
	skip "resident memory stays put" "ASan keeps freed memory in quarantine; the plain make check measures it"
else
	# Measured from cycle $CYCLES/10 on; valgrind (below) sees every block
	# freed, so what is left is the allocator's keeping pages.
	[ $((rss1 - rss0)) -le 512 ] &&
		pass "resident memory grows by at most 512 kB over the last 90% of the cycles ($((rss1 - rss0)) kB)" ||
		fail "resident memory stays put" "$rss0 kB -> $rss1 kB"
fi
# The kernel frees a deleted filter's program after an RCU grace period.
for i in $(seq 30); do
	[ "$(kernel_objects)" = "$before" ] && break
	sleep 0.1
done
check "the kernel's BPF programs and maps are as before" "$before" "$(kernel_objects)"
check "no namespace of the test is left" 0 "$(ip netns list | grep -c "^$RUN_ID-")"

# Three cycles under valgrind: every block the library allocated is freed.
if [ "${TCSPAN_SANITIZE:-}" = 1 ]; then
	skip "valgrind: three cycles" "built with ASan here, whose leak check ran above at exit"
	exit 0
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
out=$(valgrind --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
	--error-exitcode=3 --suppressions="$ROOT/tests/valgrind.supp" \
	"$CYCLES_BIN" "$WORK/t.yaml" 3 2>&1)
status=$?
grep -q "All heap blocks were freed" <<<"$out" && [ $status = 0 ] &&
	pass "valgrind: three cycles free every block, no error" ||
	fail "valgrind: three cycles free every block" \
		"status $status: $(grep -v 'eBPF command' <<<"$out" | grep -A3 'SUMMARY' | head -8)"
