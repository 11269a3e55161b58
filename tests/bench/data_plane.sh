#!/usr/bin/env bash
# make bench: the data plane, side by side in one run.  Packets per second
# delivered at a redirect's target, one core: 64-byte UDP frames injected
# as XDP frames by live_frames (BPF_PROG_TEST_RUN, live-frames mode) on the
# switch's receiving device, each counted by an XDP sink on the monitor
# behind the target.  The reference is the rule a user would write by hand
# (tc u32 match-all + mirred egress redirect); against it: an XDP devmap
# redirect written by hand, tcspan's tc rule, its BPF-matched rule with
# five keys, its XDP redirect (match-all and five keys), and mirror against
# redirect.  Each figure is the median of RUNS runs of SECONDS_PER_RUN
# each, the cases taking turns.  Root; namespaces of its own (made by
# tcspan from the topology), removed on every way out.
#
#   data_plane.sh TCSPAN LIVE_FRAMES [--quick] [--json FILE]
#
# The frames are received on the switch's eth0 as from its driver: through
# its XDP program when it has one (the XDP cases), else handed to the stack
# and to its tc ingress (the tc cases).  The monitor's veth has the sink, a
# foreign XDP program that tcspan leaves alone.  The generator, the switch
# and the sink share one core: every figure includes the generator's and
# the sink's work, which narrows the ratios.
set -u
usage="usage: $0 TCSPAN LIVE_FRAMES [--quick] [--json FILE]"
TCSPAN=$(realpath "${1:?$usage}")
GEN=$(realpath "${2:?$usage}")
shift 2
QUICK=0 JSON=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--json) JSON=$2; shift ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
	shift
done
RUNS=7 SECONDS_PER_RUN=0.5
[ "$QUICK" = 1 ] && RUNS=1 SECONDS_PER_RUN=0.2
ID="b$$"
TOPO="$ID-dp" C="$ID-c" S="$ID-s" M="$ID-m"
WORK=$(mktemp -d "/tmp/tcspan-$ID.XXXXXX")
cleanup() {
	"$TCSPAN" -q destroy "$TOPO" >/dev/null 2>&1
	ip netns del "$C" 2>/dev/null
	ip netns del "$S" 2>/dev/null
	ip netns del "$M" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { echo "bench: $*" >&2; exit 1; }

# topology [RULE-YAML]: the lab, with RULE as its one rule.
topology() {
	cat <<EOF
version: 1
name: $TOPO
namespaces: [$C, $S, $M]
links:
  - { a: $C/eth0, b: $S/eth0 }
  - { a: $S/eth1, b: $M/eth0 }
rules:
EOF
	[ -n "${1:-}" ] && printf '  - %s\n' "$1"
}

topology >"$WORK/lab.yaml"
"$TCSPAN" -q apply "$WORK/lab.yaml" >/dev/null 2>"$WORK/err" ||
	fail "apply of the lab failed: $(head -3 "$WORK/err")"
"$GEN" sink "$M" eth0 || exit 1
MAC=$(ip -n "$S" -j link show eth0 | jq -r '.[0].address')

# median V...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure: one run, in packets per second delivered at the target.
measure() {
	local out
	out=$("$GEN" send "$S" eth0 "$MAC" "$SECONDS_PER_RUN" "$M" eth0) || exit 1
	awk '{ printf "%.0f", $2 / $3 }' <<<"$out"
}

lab() {
	"$TCSPAN" -q apply "$WORK/lab.yaml" >/dev/null 2>"$WORK/err" ||
		fail "apply of the lab failed: $(head -3 "$WORK/err")"
}

FIVE="match: { protocol: udp, src: 198.18.0.0/24, dst: 198.18.1.0/24, src_port: 1000-2000, dst_port: 5000 }"

# The cases, each "LABEL|HOW|ARGS": by hand with tc (ARGS: the mirred
# action) or XDP, or tcspan's rule (ARGS: action, datapath, match).
CASES=(
	"tc u32 + mirred redirect (by hand)|tc|redirect"
	"XDP devmap redirect (by hand)|xdp|"
	"tcspan redirect, tc|tcspan|redirect tc"
	"tcspan redirect, tc, five keys|tcspan|redirect tc five"
	"tcspan redirect, xdp|tcspan|redirect xdp"
	"tcspan redirect, xdp, five keys|tcspan|redirect xdp five"
	"tc u32 + mirred mirror (by hand)|tc|mirror"
	"tcspan mirror, tc|tcspan|mirror tc"
)
# What each case is compared with (its index), and the target of the ratio.
AGAINST=(0 0 0 0 0 0 6 6)
TARGET=("" "" ">= 0.95" ">= 0.85" ">= 3" "" "" ">= 0.95")

# set_up HOW ARGS: the rule of a case in place.
set_up() {
	local how=$1 action datapath five got
	read -r action datapath five <<<"$2"
	case $how in
	tc)
		lab
		if ! tc -n "$S" qdisc add dev eth0 clsact ||
			! tc -n "$S" filter add dev eth0 ingress prio 1 u32 match u32 0 0 \
				action mirred egress "$action" dev eth1; then
			fail "tc refused the reference rule"
		fi
		;;
	xdp)
		lab
		"$GEN" redirect "$S" eth0 eth1 || exit 1
		;;
	tcspan)
		topology "{ name: r, action: $action, from: $S/eth0, direction: ingress, to: $S/eth1, datapath: $datapath${five:+, $FIVE} }" \
			>"$WORK/t.yaml"
		"$TCSPAN" -q apply "$WORK/t.yaml" >/dev/null 2>"$WORK/err" ||
			fail "apply ($action $datapath $five) failed: $(head -3 "$WORK/err")"
		got=$("$TCSPAN" -j show "$TOPO" | jq -r '.topologies[0].rules[0].datapath')
		[ "$got" = "$datapath" ] || fail "$action $datapath $five: the rule runs on $got"
		;;
	esac
	# The generator runs eth0's XDP program if it has one: only the XDP
	# cases may have one.
	got=$(ip -n "$S" -j link show eth0 | jq -r 'if .[0].xdp then "xdp" else "tc" end')
	[ "$got" = "${datapath:-$how}" ] || fail "$how $action: eth0 receives on $got"
}

# tear_down HOW: what set_up did by hand, gone (tcspan's next apply
# replaces its own).
tear_down() {
	case $1 in
	tc) tc -n "$S" qdisc del dev eth0 clsact ;;
	xdp) ip -n "$S" link set dev eth0 xdp off ;;
	esac
}

# Rounds: every case once per round, so that a drift of the machine's
# speed touches all cases alike.
declare -A RUN
for ((r = 0; r < RUNS; r++)); do
	for i in "${!CASES[@]}"; do
		IFS='|' read -r label how args <<<"${CASES[$i]}"
		set_up "$how" "$args"
		pps=$(measure) || exit 1
		RUN[$i]+=" $pps"
		tear_down "$how"
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
PPS=()
for i in "${!CASES[@]}"; do
	# shellcheck disable=SC2086 # the runs, one word each
	PPS[i]=$(median ${RUN[$i]})
done

echo "Data plane: 64-byte UDP frames, one core, delivered at the target (median of $RUNS x ${SECONDS_PER_RUN}s)"
printf "  %-34s %8s %7s %8s\n" "rule" "Mpps" "ratio" "target"
JSON_ROWS=()
for i in "${!CASES[@]}"; do
	label=${CASES[$i]%%|*}
	r=$(ratio "${PPS[$i]}" "${PPS[${AGAINST[$i]}]}")
	printf "  %-34s %8.3f %6sx %8s\n" "$label" "$(awk -v p="${PPS[$i]}" 'BEGIN { print p / 1e6 }')" \
		"$r" "${TARGET[$i]}"
	JSON_ROWS+=("$(printf '{"case": "%s", "pps": %s, "ratio": %s, "against": "%s"}' "$label" \
		"${PPS[$i]}" "$r" "${CASES[${AGAINST[$i]}]%%|*}")")
done
echo "  (ratios against the hand-written redirect; mirrors against the hand-written mirror)"
echo "  tcspan xdp / XDP by hand: $(ratio "${PPS[4]}" "${PPS[1]}")x;" \
	"mirror / redirect by hand: $(ratio "${PPS[6]}" "${PPS[0]}")x"
if [ -n "$JSON" ]; then
	{
		printf '{"runs": %d, "seconds": %s, "data_plane": [' "$RUNS" "$SECONDS_PER_RUN"
		(IFS=,; printf '%s' "${JSON_ROWS[*]}")
		printf ']}\n'
	} >"$JSON"
fi
