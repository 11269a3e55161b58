#!/usr/bin/env bash
# make bench: the control plane, side by side in one run.  tcspan applying
# N match-all redirect rules (u32 + mirred egress redirect), and 10,000
# with a five-key match (against tc's `bpf obj` lines of a classifier
# written for the same keys), against `tc -batch` of the lines a user would
# write for the same rules (a clsact per device, then `filter add ...
# u32 match u32 0 0 action mirred egress redirect dev T` with kernel-chosen
# handles), at N = 100, 1,000 and 10,000 spread over 100 devices, and
# 10,000 on one device; then tcspan's no-op re-apply, plan on an unchanged
# system and destroy, against two ways of taking the rules down with
# `tc -batch`: a `filter del` line per filter (by the handle the kernel
# chose), and a `qdisc del` per device; and tcspan's peak RSS.  Beside
# the no-op, the least that reading its two inputs takes: READ_FLOOR's
# bare dump of the hooks' filters, and its bare libyaml parse of the file.
# Each figure is the median of RUNS runs.  Root; in a namespace of its
# own, removed on every way out.
#
#   control_plane.sh TCSPAN READ_FLOOR [--quick] [--json FILE]
set -u
USAGE="usage: $0 TCSPAN READ_FLOOR [--quick] [--json FILE]"
TCSPAN=$(realpath "${1:?$USAGE}")
READ_FLOOR=$(realpath "${2:?$USAGE}")
shift 2
QUICK=0 JSON=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--json) JSON=$2; shift ;;
	*) echo "$USAGE" >&2; exit 2 ;;
	esac
	shift
done
RUNS=5
[ "$QUICK" = 1 ] && RUNS=1
ID="b$$"
NS="$ID-cp"
WORK=$(mktemp -d "/tmp/tcspan-$ID.XXXXXX")
TOPO="$ID-cp"
cleanup() {
	"$TCSPAN" -q destroy "$TOPO" >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DEVS=100
ip netns add "$NS" || exit 1
{
	echo "link add t0 type veth peer name t0p"
	echo "link set t0 up"
	echo "link set t0p up"
	for i in $(seq 0 $((DEVS - 1))); do
		echo "link add d$i type veth peer name d${i}p"
		echo "link set d$i up"
		echo "link set d${i}p up"
	done
} | ip -n "$NS" -batch - || exit 1

now_ns() { date +%s%N; }

# median V...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The classifier a user would write for five keys (IPv4 UDP from
# 198.18.0.0/24 port 1000-2000 to 198.18.1.0/24 port 5000), for tc's
# `bpf obj` lines.
cat >"$WORK/cls.c" <<'EOF'
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int five_keys(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_UDP)
		return 0;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > end)
		return 0;
	if ((bpf_ntohl(ip->saddr) & 0xffffff00) != 0xc6120000 ||
	    (bpf_ntohl(ip->daddr) & 0xffffff00) != 0xc6120100 ||
	    bpf_ntohs(udp->source) < 1000 || bpf_ntohs(udp->source) > 2000 ||
	    bpf_ntohs(udp->dest) != 5000)
		return 0;
	return -1;
}

char LICENSE[] SEC("license") = "GPL";
EOF
clang -O2 -g -target bpf -I"/usr/include/$(gcc -dumpmachine)" -c "$WORK/cls.c" -o "$WORK/cls.o" ||
	exit 1

# files N SPREAD [bpf]: $WORK/t.yaml (tcspan) and $WORK/add.tc, $WORK/del.tc
# (tc -batch) for N rules over SPREAD devices.
files() {
	local n=$1 spread=$2 bpf=${3:-} i d match='' cls="u32 match u32 0 0"
	[ -n "$bpf" ] && cls="bpf obj $WORK/cls.o sec classifier"
	{
		printf 'version: 1\nname: %s\nrules:\n' "$TOPO"
		for ((i = 0; i < n; i++)); do
			[ -n "$bpf" ] && match=", match: { protocol: udp, src: 198.18.0.0/24, dst: 198.18.1.0/24, src_port: 1000-2000, dst_port: $((5000 + i % 1000)) }"
			printf '  - { name: r%d, action: redirect, from: %s/d%d, direction: ingress, to: %s/t0%s }\n' \
				"$i" "$NS" $((i % spread)) "$NS" "$match"
		done
	} >"$WORK/t.yaml"
	{
		for ((d = 0; d < spread; d++)); do echo "qdisc add dev d$d clsact"; done
		for ((i = 0; i < n; i++)); do
			echo "filter add dev d$((i % spread)) ingress prio 1 $cls action mirred egress redirect dev t0"
		done
	} >"$WORK/add.tc"
	# tc keeps descriptors open for each `bpf obj` line of a batch: past
	# about 9,000 lines it runs out of them here, so those lines are split
	# over several `tc -batch` runs, as a user would have to.
	rm -f "$WORK"/add.tc.*
	if [ -n "$bpf" ]; then
		split -l 4000 -d "$WORK/add.tc" "$WORK/add.tc."
	else
		cp "$WORK/add.tc" "$WORK/add.tc.00"
	fi
	for ((d = 0; d < spread; d++)); do echo "qdisc del dev d$d clsact"; done >"$WORK/del.tc"
}

# ms CMD...: run CMD, print its wall time in ms (fails the bench on error).
ms() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null 2>"$WORK/err" || { echo "bench: $* failed: $(head -3 "$WORK/err")" >&2; exit 1; }
	t1=$(now_ns)
	awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1e6 }'
}

# tc_batch FILE...: one `tc -batch` per file, in turn.
tc_batch() {
	local f
	for f in "$@"; do
		tc -n "$NS" -batch "$f" || return 1
	done
}

# filter_dels SPREAD: $WORK/fdel.tc, a `filter del` line for each filter
# with an action on the sources, by the handle the kernel gave it.
filter_dels() {
	local d
	for ((d = 0; d < $1; d++)); do
		tc -n "$NS" -j filter show dev "d$d" ingress | jq -r --arg d "d$d" \
			'.[] | select(.options.actions != null) |
			"filter del dev \($d) ingress prio \(.pref) handle \(.options.fh // .options.handle) \(.kind)"'
	done >"$WORK/fdel.tc"
}

# filters: the filters with an action on the sources (a check that both
# sides made all of them).
filters() {
	local d n=0 c
	for ((d = 0; d < $1; d++)); do
		c=$(tc -n "$NS" -j filter show dev "d$d" ingress | jq '[.[] | select(.options.actions != null)] | length')
		n=$((n + c))
	done
	echo "$n"
}

ROWS=()
FLOOR_ROWS=()
JSON_ROWS=()
# case LABEL N SPREAD [bpf]
bench_case() {
	local label=$1 n=$2 spread=$3 r
	local tc_add=() tc_del=() tc_fdel=() ap=() noop=() pl=() de=() rss=() kread=() yread=()
	local read
	files "$n" "$spread" "${4:-}"
	for ((r = 0; r < RUNS; r++)); do
		tc_add+=("$(ms tc_batch "$WORK"/add.tc.*)")
		[ "$r" = 0 ] && [ "$(filters "$spread")" != "$n" ] &&
			{ echo "bench: tc -batch made $(filters "$spread") filters, not $n" >&2; exit 1; }
		tc_del+=("$(ms tc -n "$NS" -batch "$WORK/del.tc")")
		ms tc_batch "$WORK"/add.tc.* >/dev/null
		[ "$r" = 0 ] && filter_dels "$spread"
		tc_fdel+=("$(ms tc -n "$NS" -batch "$WORK/fdel.tc")")
		[ "$r" = 0 ] && [ "$(filters "$spread")" != 0 ] &&
			{ echo "bench: tc -batch left $(filters "$spread") filters" >&2; exit 1; }
		ms tc -n "$NS" -batch "$WORK/del.tc" >/dev/null
		ap+=("$(ms "$TCSPAN" -q apply "$WORK/t.yaml")")
		[ "$r" = 0 ] && [ "$(filters "$spread")" != "$n" ] &&
			{ echo "bench: tcspan made $(filters "$spread") filters, not $n" >&2; exit 1; }
		noop+=("$(ms "$TCSPAN" -q apply "$WORK/t.yaml")")
		pl+=("$(ms "$TCSPAN" -q plan "$WORK/t.yaml")")
		if [ "$r" = 0 ]; then
			read=$("$READ_FLOOR" kernel "$NS" | awk '{ print $2 }')
			[ "${read:-0}" -ge "$n" ] ||
				{ echo "bench: read_floor read ${read:-no} messages, fewer than $n filters" >&2; exit 1; }
		fi
		kread+=("$(ms "$READ_FLOOR" kernel "$NS")")
		yread+=("$(ms "$READ_FLOOR" yaml "$WORK/t.yaml")")
		de+=("$(ms "$TCSPAN" -q destroy "$TOPO")")
	done
	# Peak RSS of an apply, by GNU time (kB).
	rss=$( { /usr/bin/time -f '%M' "$TCSPAN" -q apply "$WORK/t.yaml" >/dev/null; } 2>&1 | tail -1)
	"$TCSPAN" -q destroy "$TOPO" >/dev/null
	local m_tc m_del m_fdel m_ap m_noop m_pl m_de m_kread m_yread
	m_tc=$(median "${tc_add[@]}") m_del=$(median "${tc_del[@]}") m_ap=$(median "${ap[@]}")
	m_fdel=$(median "${tc_fdel[@]}")
	m_kread=$(median "${kread[@]}") m_yread=$(median "${yread[@]}")
	m_noop=$(median "${noop[@]}") m_pl=$(median "${pl[@]}") m_de=$(median "${de[@]}")
	ROWS+=("$(awk -v l="$label" -v tc="$m_tc" -v ap="$m_ap" -v no="$m_noop" -v pl="$m_pl" \
		-v del="$m_del" -v fdel="$m_fdel" -v de="$m_de" -v rss="$rss" -v n="$n" 'BEGIN {
		printf "  %-22s %9.1f %9.1f %6.2fx %8.0f/s %8.1f %5.1f%% %8.1f %5.1f%% %8.1f %8.1f %8.1f %6.2fx %6.2fx %7.1f\n",
			l, tc, ap, ap / tc, n / ap * 1000, no, no / ap * 100, pl, pl / ap * 100,
			fdel, del, de, de / fdel, de / del, rss / 1024 }')")
	FLOOR_ROWS+=("$(awk -v l="$label" -v ap="$m_ap" -v no="$m_noop" -v pl="$m_pl" \
		-v k="$m_kread" -v y="$m_yread" 'BEGIN {
		printf "  %-26s %9.1f %8.1f %5.1f%% %8.1f %5.1f%% %8.1f %5.1f%% %8.1f %5.1f%%\n",
			l, ap, no, no / ap * 100, pl, pl / ap * 100, k, k / ap * 100, y, y / ap * 100 }')")
	JSON_ROWS+=("$(printf '{"case": "%s", "rules": %d, "devices": %d, "tc_batch_add_ms": %s, "apply_ms": %s, "noop_apply_ms": %s, "plan_ms": %s, "kernel_read_floor_ms": %s, "yaml_parse_floor_ms": %s, "tc_batch_filter_del_ms": %s, "tc_batch_qdisc_del_ms": %s, "destroy_ms": %s, "apply_peak_rss_kb": %s}' \
		"$label" "$n" "$spread" "$m_tc" "$m_ap" "$m_noop" "$m_pl" "$m_kread" "$m_yread" "$m_fdel" "$m_del" "$m_de" "$rss")")
}

if [ "$QUICK" = 1 ]; then
	bench_case "100 on 100 devices" 100 100
	bench_case "bpf: 10 on 10 devices" 10 10 bpf
else
	bench_case "100 on 100 devices" 100 100
	bench_case "1,000 on 100 devices" 1000 100
	bench_case "10,000 on 100 devices" 10000 100
	bench_case "10,000 on one device" 10000 1
	bench_case "bpf: 10,000 on 100 devices" 10000 100 bpf
fi

echo "Control plane: redirect rules, tcspan against tc -batch (median of $RUNS, ms);"
echo "match-all (u32), and \"bpf:\" five keys (tcspan's match, tc's bpf obj of a classifier written for them)"
echo "destroy against tc -batch deleting each filter (f-del) and deleting each device's clsact (q-del)"
printf "  %-22s %9s %9s %7s %10s %8s %6s %8s %6s %8s %8s %8s %7s %7s %7s\n" "rules" "tc-batch" \
	"apply" "ratio" "rate" "no-op" "/apply" "plan" "/apply" "f-del" "q-del" "destroy" "/f-del" \
	"/q-del" "RSS MiB"
printf '%s\n' "${ROWS[@]}"
echo "What a no-op reads, at the least (median of $RUNS, ms): the kernel's dump of the hooks' filters"
echo "(k-read, nothing parsed) and libyaml's parse of the file (yaml, nothing built), beside the no-op and plan"
printf "  %-26s %9s %8s %6s %8s %6s %8s %6s %8s %6s\n" "rules" "apply" "no-op" "/apply" "plan" \
	"/apply" "k-read" "/apply" "yaml" "/apply"
printf '%s\n' "${FLOOR_ROWS[@]}"
if [ -n "$JSON" ]; then
	{
		printf '{"runs": %d, "control_plane": [' "$RUNS"
		(IFS=,; printf '%s' "${JSON_ROWS[*]}")
		printf ']}\n'
	} >"$JSON"
fi
