# A catalogue of bad inputs, each refused with exit status 1, its exact
# message on stderr, nothing on stdout, and no change in the kernel: a
# bystander topology applied first (a namespace pair with a mirror rule and
# a rule with `match:`) stays byte-for-byte as it was, and so do the
# namespaces, the devices of the caller's namespace, the tc filters on the
# bystander's clsact hooks, tcspan's BPF programs and pinned metadata.
#
# The inputs: every file of tests/unit/bad (read in place, with the error
# lines their "# expect:" headers name) given to `apply`; files written
# here that only the system can refuse (a namespace that is not there, a
# device of another topology, match.bpf objects tcspan must not trust, a
# step the kernel refuses, which is undone); files the parser refuses that
# tests/unit/bad does not hold; and command lines that are wrong.
#
# A few messages are checked only for naming what is wrong (mode
# "mentions"), where the rest of the line is libbpf's or the parser's and
# may vary with their versions.
. "$(dirname "$0")/../lib.sh"

UNIT_BAD=$(cd "$(dirname "$0")/../unit/bad" && pwd)

B="$RUN_ID-by"			# the bystander topology
A=$(ns a) Z=$(ns z)		# its namespace pair
H=$(ns h)			# a namespace made by hand, IPv6 off
N="$RUN_ID-bad"			# the topology of most bad files
topology "$B"
topology "$N"
topology "$RUN_ID-new"

# ---- the bystander ---------------------------------------------------------

# by_head [EXTRA_NAMESPACE]: the bystander's file up to its links (8 lines).
by_head() {
	cat <<EOF
version: 1
name: $B
namespaces: [$A, $Z${1:+, $1}]
links:
  - a: { netns: $A, dev: eth0, addresses: [198.18.0.1/24] }
    b: { netns: $Z, dev: eth0, addresses: [198.18.0.2/24] }
  - a: $A/mon0
    b: $Z/mon0
EOF
}

# by_rules: its rules (12 lines).
by_rules() {
	cat <<EOF
rules:
  - name: span
    action: mirror
    from: $A/eth0
    direction: both
    to: $A/mon0
  - name: dns
    action: mirror
    from: $Z/eth0
    direction: ingress
    to: $Z/mon0
    match: { protocol: udp, dst_port: 53 }
EOF
}

# yaml NAME: stdin into $WORK/NAME.yaml, whose path is then $F (also at
# the end of a pipeline: lastpipe runs it in this shell).
shopt -s lastpipe
yaml() {
	F="$WORK/$1.yaml"
	cat >"$F"
}

# line_of FILE TEXT: the number of the first line of FILE holding TEXT.
line_of() {
	grep -nF -m1 -- "$2" "$1" | cut -d: -f1
}

{ by_head; by_rules; } | yaml by
BY=$F
out=$("$TCSPAN" apply "$BY" 2>&1)
check "bystander: apply" "Apply complete: 6 added, 0 changed, 0 removed." "$(tail -1 <<<"$out")"
ip netns add "$H"
in_ns "$H" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

# A file that would change the kernel if it were applied: where a command
# line is wrong, nothing of it may reach the kernel.
yaml good <<EOF
version: 1
name: $RUN_ID-new
namespaces: [$RUN_ID-new]
EOF
GOOD=$F

# ---- the kernel's state ----------------------------------------------------

# Lines naming another run of these tests (t<PID>-...) are left out, so that
# runs side by side do not disturb each other; this run's are kept.
not_other_runs() {
	awk -v mine="$RUN_ID-" '!/^t[0-9]+-/ || index($0, mine) == 1'
}

# one_per_line: a JSON array, one element a line (so that a diff names the
# device or filter that changed).
one_per_line() {
	sed 's/},{"/},\n{"/g'
}

# kernel_state: what no bad input may change, as text.
kernel_state() {
	local n d h
	echo "== namespaces"
	ip netns list | awk '{ print $1 }' | not_other_runs | sort
	echo "== devices and qdiscs of the caller's namespace"
	ip -j link | one_per_line
	tc -j qdisc show | one_per_line
	for n in "$A" "$Z" "$H"; do
		echo "== $n"
		ip -n "$n" -j link | one_per_line
		ip -n "$n" -4 -j addr | one_per_line
		tc -n "$n" -j qdisc show | one_per_line
	done
	for n in "$A" "$Z"; do
		for d in eth0 mon0; do
			for h in ingress egress; do
				echo "== filters $n/$d $h"
				tc -n "$n" -j filter show dev "$d" "$h" | one_per_line
			done
		done
	done
	echo "== BPF: tc programs, pinned objects, the bystander's metadata"
	bpftool -j prog show | grep -o '"type":"sched_cls"' | wc -l
	ls /sys/fs/bpf/tcspan | not_other_runs
	ls "/sys/fs/bpf/tcspan/$B"
	bpftool -j map dump pinned "/sys/fs/bpf/tcspan/$B/meta" | one_per_line
	echo "== tcspan's view"
	"$TCSPAN" -j show "$B"
	# Counters may move (the kernel's own IPv6 traffic): their shape may not.
	"$TCSPAN" -j stats "$B" | sed -E 's/(": )[0-9]+/\1N/g'
	# Topologies: objects with a "rules" key.
	"$TCSPAN" -j show | grep -o '{"name": "[^"]*", "rules"' | cut -d'"' -f4 | not_other_runs
}

# The state settles before it becomes the baseline: the kernel reports the
# veth carriers up (operstate UP) only some time after the apply.
for i in $(seq 50); do
	[ "$( (ip -n "$A" -br link; ip -n "$Z" -br link) | awk '$1 ~ /^(eth0|mon0)@/ && $2 == "UP"' |
		wc -l)" = 4 ] && break
	sleep 0.1
done
kernel_state >"$WORK/base.state" 2>&1
for i in $(seq 20); do
	sleep 0.1
	kernel_state >"$WORK/now.state" 2>&1
	cmp -s "$WORK/base.state" "$WORK/now.state" && break
	mv "$WORK/now.state" "$WORK/base.state"
done
check "bystander: the kernel's state is steady" "" "$(diff "$WORK/base.state" "$WORK/now.state")"
grep -q '"name": "dns"' "$WORK/base.state" && grep -q '"name": "span"' "$WORK/base.state" &&
	pass "bystander: both rules are in the baseline" ||
	fail "bystander: both rules are in the baseline" "$(cat "$WORK/base.state")"

# ---- one bad input ---------------------------------------------------------

COUNT=0
declare -A SEEN=()

# bad NAME MODE EXPECTED ARGS...: `tcspan ARGS` (after $PREFIX, a command
# and its arguments, when set) exits 1, prints nothing on stdout, and on
# stderr, by MODE:
#   full      exactly EXPECTED (all lines)
#   first     EXPECTED as its first line
#   prefix    a first line that begins with EXPECTED
#   mentions  EXPECTED somewhere (the rest is libbpf's or the parser's)
# and the kernel's state is the baseline's.  Leaves $ERR.
bad() {
	local name=$1 mode=$2 want=$3 out rc why='' first
	shift 3
	COUNT=$((COUNT + 1))
	[ -n "${SEEN[$name]:-}" ] && fail "bad input: $name" "the name is used twice"
	SEEN[$name]=1
	out=$(${PREFIX:-} "$TCSPAN" "$@" 2>"$WORK/stderr")
	rc=$?
	ERR=$(cat "$WORK/stderr")
	first=$(head -1 <<<"$ERR")
	[ "$rc" = 1 ] || why="exit status $rc, not 1"
	[ -z "$why" ] && [ -n "$out" ] && why="stdout: $out"
	if [ -z "$why" ]; then
		case $mode in
		full) [ "$ERR" = "$want" ] || why="expected stderr '$want', got '$ERR'" ;;
		first) [ "$first" = "$want" ] || why="expected '$want', got '$ERR'" ;;
		prefix) [ "${first#"$want"}" != "$first" ] || why="expected '$want...', got '$ERR'" ;;
		mentions) grep -qF -- "$want" <<<"$ERR" || why="expected a mention of '$want', got '$ERR'" ;;
		*) why="unknown mode $mode" ;;
		esac
	fi
	kernel_state >"$WORK/now.state" 2>&1
	if ! cmp -s "$WORK/base.state" "$WORK/now.state"; then
		why="${why:+$why; }the kernel changed: $(diff "$WORK/base.state" "$WORK/now.state" |
			grep '^[<>]' | head -6 | cut -c1-300 | paste -sd' ')"
		# The next input is judged against what is there now.
		mv "$WORK/now.state" "$WORK/base.state"
	fi
	if [ -z "$why" ]; then pass "bad input: $name"; else fail "bad input: $name" "$why"; fi
}

# ---- (a) topology files: tests/unit/bad, each with its expected lines ------

# These files (topology "lab", namespaces ns1...) are refused by the parser
# and validator, before tcspan looks at the system.
for f in "$UNIT_BAD"/*.yaml; do
	want=$(sed -n 's/^# expect: //p' "$f" |
		awk -v f="$f" '{ print f (/^error: / ? ": " : ":") $0 }')
	bad "apply unit/bad/$(basename "$f")" full "$want" apply "$f"
done

# ---- (a) topology files only the system can refuse -------------------------

# The bystander's own topology, with one more rule that cannot be: nothing
# of the file is applied, the bystander's rules are neither pruned nor
# replaced.
extra_rule() { # NAME FROM TO [MORE YAML LINES]
	{ by_head; by_rules; cat <<EOF
  - name: $1
    action: mirror
    from: $2
    direction: ingress
    to: $3
EOF
	[ -n "${4:-}" ] && echo "$4"; } | yaml "$1"
	L=$(line_of "$F" "name: $1")
}

extra_rule nodev "$A/nodev0" "$A/mon0"
bad "a device that is not in its namespace" full \
	"$F:$((L + 2)):11: error: device \"$A/nodev0\" not found" apply "$F"

extra_rule nowhere "$RUN_ID-nowhere/eth0" "$RUN_ID-nowhere/mon0"
bad "a namespace neither listed nor present" full \
	"$F:$((L + 2)):11: error: namespace \"$RUN_ID-nowhere\" is not in \"namespaces\" and does not exist
$F:$((L + 4)):9: error: namespace \"$RUN_ID-nowhere\" is not in \"namespaces\" and does not exist" \
	apply "$F"

# A topology's folder whose map another tool made: plan and apply say so
# and change nothing; a file with errors names its own first (the file is
# read while the kernel and the map are).
ALIEN="$RUN_ID-alien"
PINS+=("/sys/fs/bpf/tcspan/$ALIEN")
mkdir -p "/sys/fs/bpf/tcspan/$ALIEN"
bpftool map create "/sys/fs/bpf/tcspan/$ALIEN/meta" type hash key 4 value 4 entries 1 name alien
kernel_state >"$WORK/base.state" 2>&1
printf 'version: 1\nname: %s\nrules: []\n' "$ALIEN" >"$WORK/alien.yaml"
printf 'version: 1\nname: %s\nrules: 3\n' "$ALIEN" >"$WORK/alien-bad.yaml"
bad "plan: a metadata map that is not tcspan's" full \
	"tcspan: error: /sys/fs/bpf/tcspan/$ALIEN/meta is not a tcspan metadata map" \
	plan "$WORK/alien.yaml"
bad "apply: a metadata map that is not tcspan's" full \
	"tcspan: error: /sys/fs/bpf/tcspan/$ALIEN/meta is not a tcspan metadata map" \
	apply "$WORK/alien.yaml"
bad "a file with errors, and a metadata map that is not tcspan's" full \
	"$WORK/alien-bad.yaml:3:8: error: \"rules\" must be a list" apply "$WORK/alien-bad.yaml"
rm -rf "/sys/fs/bpf/tcspan/$ALIEN"
kernel_state >"$WORK/base.state" 2>&1

extra_rule across "$A/eth0" "$Z/mon0"
bad "from and to in different namespaces, both present" full \
	"$F:$((L + 4)):9: error: \"from\" ($A/eth0) and \"to\" ($Z/mon0) are in different namespaces" \
	apply "$F"

extra_rule xdp "$A/eth0" "$A/mon0" "    datapath: xdp"
bad "datapath: xdp after a rule on tc" full \
	"$F:$L:5: error: rule \"xdp\": datapath: xdp, but rule \"span\" comes before it on $A/eth0 ingress and runs on tc" \
	apply "$F"

# A loop through the bystander's rule "span" (eth0 egress -> mon0 egress).
{ by_head; by_rules; cat <<EOF
  - name: back
    action: mirror
    from: $A/mon0
    direction: egress
    to: $A/eth0
EOF
} | yaml loop
bad "rules that loop through an existing rule" full \
	"$F:$(line_of "$F" "name: span"):5: error: rules loop: span -> back -> span" apply "$F"

{ by_head; by_rules; cat <<EOF
devices:
  - name: vx0
    netns: $A
    kind: vxlan
    vxlan: { id: 42, remote: 198.18.0.9, underlay: eth9 }
EOF
} | yaml vxlan-underlay
bad "a vxlan whose underlay does not exist" full \
	"$F:$(line_of "$F" "name: vx0"):5: error: vxlan device \"$A/vx0\": underlay device \"$A/eth9\" not found" \
	apply "$F"

{ by_head; by_rules; cat <<EOF
devices:
  - name: mon0
    netns: $A
    kind: ifb
EOF
} | yaml ifb-on-link
bad "a device named like a link end of the file" full \
	"$F:$(line_of "$F" "name: mon0"):11: error: duplicate device \"$A/mon0\" (first at $(line_of "$F" "a: $A/mon0"):8)" \
	apply "$F"

# Another topology reaching for what the bystander owns.
yaml steal-netns <<EOF
version: 1
name: $N
namespaces: [$A]
EOF
bad "a namespace another topology owns" full \
	"$F:3:14: error: namespace \"$A\" belongs to topology \"$B\"" apply "$F"

yaml steal-device <<EOF
version: 1
name: $N
links:
  - a: $A/eth0
    b: $A/eth9
EOF
bad "a device another topology owns" full \
	"$F:4:8: error: device \"$A/eth0\" belongs to topology \"$B\"" apply "$F"

yaml caller-device <<EOF
version: 1
name: $N
rules:
  - name: r
    action: mirror
    from: lo
    direction: ingress
    to: $RUN_ID-x0
EOF
bad "a device missing from the caller's namespace" full \
	"$F:8:9: error: device \"$RUN_ID-x0\" not found" apply "$F"

# All or nothing: the bystander grows a namespace and a link, whose address
# the kernel refuses (IPv6 is off in $H); the namespace and the link are
# undone.  The kernel's own words after the object vary with its version.
{ by_head "$RUN_ID-c"; cat <<EOF
  - a: $RUN_ID-c/eth0
    b: { netns: $H, dev: v6only, addresses: ["2001:db8::1/64"] }
EOF
by_rules; } | yaml rollback
bad "a step the kernel refuses, undone" prefix \
	"tcspan: error: cannot add address 2001:db8::1/64 to $H/v6only: " apply "$F"
check "a step the kernel refuses: the next line points at the file" \
	"$F:9:5: error: this cannot be applied (see above)" "$(sed -n 2p <<<"$ERR")"
check "a step the kernel refuses: the last line says all was undone" \
	"tcspan: apply failed; every change it made was undone" "$(tail -1 <<<"$ERR")"

# match.bpf objects: the rule goes into the bystander's topology.
OBJ="$WORK/obj"
mkdir -p "$OBJ/dir.o"
echo "not an object" >"$OBJ/text.o"
: >"$OBJ/empty.o"
cp "$OBJ/text.o" "$OBJ/nobody.o" && chown nobody "$OBJ/nobody.o"
cp "$OBJ/text.o" "$OBJ/group-w.o" && chmod 0664 "$OBJ/group-w.o"
cp "$OBJ/text.o" "$OBJ/other-w.o" && chmod 0646 "$OBJ/other-w.o"
ln -s "$OBJ/text.o" "$OBJ/link.o"
mkfifo "$OBJ/fifo.o"
truncate -s 65M "$OBJ/huge.o"

bpf_rule() { # NAME OBJECT [PROGRAM]
	extra_rule "$1" "$A/eth0" "$A/mon0" \
		"    match: { bpf: { object: \"$2\"${3:+, program: $3} } }"
	W="$F:$L:5: error: rule \"$1\": match.bpf"
}

bpf_rule bpf-missing "$OBJ/missing.o"
bad "match.bpf: the object does not exist" full \
	"$W object \"$OBJ/missing.o\": No such file or directory" apply "$F"
bpf_rule bpf-dir "$OBJ/dir.o"
bad "match.bpf: the object is a directory" full \
	"$W object \"$OBJ/dir.o\" is not a regular file" apply "$F"
bpf_rule bpf-fifo "$OBJ/fifo.o"
bad "match.bpf: the object is a FIFO (and is not waited on)" full \
	"$W object \"$OBJ/fifo.o\" is not a regular file" apply "$F"
bpf_rule bpf-chardev /dev/null
bad "match.bpf: the object is a character device" full \
	"$W object \"/dev/null\" is not a regular file" apply "$F"
bpf_rule bpf-symlink "$OBJ/link.o"
bad "match.bpf: the object is a symbolic link" full \
	"$W object \"$OBJ/link.o\": is a symbolic link" apply "$F"
bpf_rule bpf-nobody "$OBJ/nobody.o"
bad "match.bpf: the object is not root's" full \
	"$W object \"$OBJ/nobody.o\" is owned by uid $(id -u nobody), not by root" apply "$F"
bpf_rule bpf-group-writable "$OBJ/group-w.o"
bad "match.bpf: the object is writable by its group" full \
	"$W object \"$OBJ/group-w.o\" is writable by its group (mode 0664)" apply "$F"
bpf_rule bpf-other-writable "$OBJ/other-w.o"
bad "match.bpf: the object is writable by others" full \
	"$W object \"$OBJ/other-w.o\" is writable by others (mode 0646)" apply "$F"
bpf_rule bpf-huge "$OBJ/huge.o"
bad "match.bpf: the object is larger than 64 MiB" full \
	"$W object \"$OBJ/huge.o\" is larger than 64 MiB" apply "$F"
bpf_rule bpf-text "$OBJ/text.o"
bad "match.bpf: the object is text, not ELF" mentions \
	"$W object \"$OBJ/text.o\" is not a BPF object: BPF object format invalid" apply "$F"
bpf_rule bpf-empty "$OBJ/empty.o"
bad "match.bpf: the object is empty" full \
	"$W object \"$OBJ/empty.o\" is empty" apply "$F"

# Objects compiled here: two tc classifiers and an XDP program; XDP alone.
if command -v clang >/dev/null; then
	cat >"$OBJ/two.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("tc") int cls_a(struct __sk_buff *skb) { return -1; }
SEC("tc") int cls_b(struct __sk_buff *skb) { return 0; }
SEC("xdp") int xdp_p(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
EOF
	cat >"$OBJ/xdp.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int xdp_p(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
EOF
	for o in two xdp; do
		clang -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
			-c "$OBJ/$o.c" -o "$OBJ/$o.o" 2>"$OBJ/$o.err" ||
			fail "compile $o.c" "$(cat "$OBJ/$o.err")"
	done
	bpf_rule bpf-two "$OBJ/two.o"
	bad "match.bpf: two classifiers and no program named" full \
		"$W object \"$OBJ/two.o\" holds 2 tc classifier programs (SEC \"tc\" or \"classifier\"); name one with \"program\"" \
		apply "$F"
	bpf_rule bpf-no-such "$OBJ/two.o" nosuch
	bad "match.bpf: the program is not in the object" full \
		"$W object \"$OBJ/two.o\" has no program \"nosuch\"" apply "$F"
	bpf_rule bpf-xdp-program "$OBJ/two.o" xdp_p
	bad "match.bpf: the program is XDP, not tc" full \
		"$W program \"xdp_p\" in \"$OBJ/two.o\" is of type xdp, not a tc classifier (SEC \"tc\" or \"classifier\")" \
		apply "$F"
	bpf_rule bpf-no-classifier "$OBJ/xdp.o"
	bad "match.bpf: no classifier in the object" full \
		"$W object \"$OBJ/xdp.o\" holds 0 tc classifier programs (SEC \"tc\" or \"classifier\"); it needs one" \
		apply "$F"
else
	skip "match.bpf objects compiled here" "no clang"
fi

# ---- (a) files that cannot be read, and more the parser refuses ------------

bad "a file that does not exist" full \
	"$WORK/missing.yaml: error: cannot read: No such file or directory" apply "$WORK/missing.yaml"
bad "a directory" full "$OBJ/dir.o: error: cannot read: Is a directory" apply "$OBJ/dir.o"
bad "a character device (/dev/null)" full "/dev/null:1:1: error: empty file" apply /dev/null
cp "$GOOD" "$WORK/unreadable.yaml" && chmod 0000 "$WORK/unreadable.yaml"
# Root reads any file: the permission is taken away (CAP_DAC_*).
PREFIX="setpriv --bounding-set=-dac_override,-dac_read_search --" \
	bad "an unreadable file" full \
	"$WORK/unreadable.yaml: error: cannot read: Permission denied" apply "$WORK/unreadable.yaml"
bad "an empty file name" full "tcspan: error: an empty FILE name" apply ""

{ cat "$GOOD"; echo "#"; } >"$WORK/huge.yaml"
truncate -s $((16 * 1024 * 1024 + 1)) "$WORK/huge.yaml"
bad "a file over 16 MiB" full "$WORK/huge.yaml: error: larger than 16 MiB" apply "$WORK/huge.yaml"

{
	echo "version: 1"
	echo "name: $N"
	printf 'defaults: '
	printf '[%.0s' $(seq 40)
	printf ']%.0s' $(seq 40)
	echo
} | yaml deep
bad "nesting deeper than 32 levels" full "$F:3:42: error: nesting deeper than 32 levels" apply "$F"

rule_yaml() { # NAME LAST-LINES: a rule r from $A/eth0 to $A/mon0, and more
	yaml "$1" <<EOF
version: 1
name: $N
rules:
  - name: r
    action: mirror
    from: $A/eth0
    direction: ingress
    to: $A/mon0
$2
EOF
}

LONG=$(printf 'r%.0s' $(seq 49))
yaml rule-name-49 <<EOF
version: 1
name: $N
rules:
  - name: $LONG
    action: mirror
    from: $A/eth0
    direction: ingress
    to: $A/mon0
EOF
bad "a rule name of 49 characters" full \
	"$F:4:11: error: invalid rule name \"$LONG\" (must match [A-Za-z0-9_.-]{1,48})" apply "$F"

yaml defaults-typo <<EOF
version: 1
name: $N
defaults: { netns: $A, datapth: tc }
EOF
bad "an unknown key in defaults, with a suggestion" full \
	"$F:3:$((22 + ${#A})): error: unknown key \"datapth\" (did you mean \"datapath\"?)" apply "$F"

yaml namespaces-string <<EOF
version: 1
name: $N
namespaces: $A
EOF
bad "namespaces: a string, not a list" full "$F:3:13: error: \"namespaces\" must be a list" apply "$F"

yaml namespaces-nested <<EOF
version: 1
name: $N
namespaces: [$RUN_ID-n1, [$RUN_ID-n2]]
EOF
bad "namespaces: a list inside the list" full \
	"$F:3:$((19 + ${#RUN_ID})): error: each item of \"namespaces\" must be a string" apply "$F"

yaml rules-twice <<EOF
version: 1
name: $N
rules: []
rules: []
EOF
bad "rules: twice" full "$F:4:1: error: duplicate key \"rules\" (first at 3:1)" apply "$F"

rule_yaml port-open-range "    match: { protocol: tcp, dst_port: \"80-\" }"
bad "a port range without its end" full \
	"$F:9:39: error: \"dst_port\" must be a port or a range \"FIRST-LAST\", not \"80-\"" apply "$F"

rule_yaml port-65536 "    match: { protocol: tcp, dst_port: 65536 }"
bad "port 65536" full "$F:9:39: error: \"dst_port\" 65536 is out of range (0-65535)" apply "$F"

rule_yaml src-33 "    match: { src: 10.0.0.0/33 }"
bad "an IPv4 prefix of /33" full \
	"$F:9:19: error: \"src\": invalid prefix length in \"10.0.0.0/33\" (0-32)" apply "$F"

rule_yaml src-name "    match: { src: not-an-ip }"
bad "a source that is not an address" full \
	"$F:9:19: error: \"src\": invalid IPv4 or IPv6 address in \"not-an-ip\"" apply "$F"

rule_yaml sample-big "    match: { sample: 1000001 }"
bad "sample: 1000001" full "$F:9:22: error: \"sample\" 1000001 is out of range (1-1000000)" apply "$F"

rule_yaml vlan-list "    match: { vlan: [1, 2] }"
bad "vlan: a list" full "$F:9:20: error: \"vlan\" must be a whole number" apply "$F"

rule_yaml bpf-extra-key "    match: { bpf: { object: /x.o, program: p, extra: 1 } }"
bad "an unknown key in match.bpf" full "$F:9:47: error: unknown key \"extra\"" apply "$F"

rule_yaml match-typo "    match: { protocl: tcp }"
bad "an unknown match key, with a suggestion" full \
	"$F:9:14: error: unknown key \"protocl\" (did you mean \"protocol\"?)" apply "$F"

rule_yaml priority-null "    priority: null"
bad "priority: null" full "$F:9:15: error: \"priority\" must be a whole number" apply "$F"

rule_yaml priority-fraction "    priority: 1.5"
bad "priority: 1.5" full "$F:9:15: error: \"priority\" must be a whole number" apply "$F"

yaml version-1.0 <<EOF
version: 1.0
name: $N
EOF
bad "version: 1.0" mentions "$F:1:10: error: \"version\" must be a whole number" apply "$F"

yaml action-list <<EOF
version: 1
name: $N
rules:
  - name: r
    action: [mirror]
    from: $A/eth0
    direction: ingress
    to: $A/mon0
EOF
bad "action: a list" full "$F:5:13: error: \"action\" must be mirror or redirect" apply "$F"

yaml endpoint-no-dev <<EOF
version: 1
name: $N
rules:
  - name: r
    action: mirror
    from: { netns: $A }
    direction: ingress
    to: $A/mon0
EOF
bad "an endpoint mapping without dev" full "$F:6:11: error: missing required key \"dev\"" apply "$F"

yaml name-null <<EOF
version: 1
name:
namespaces: [$RUN_ID-n1]
EOF
bad "name: empty" full "$F:2:6: error: \"name\" must be a string" apply "$F"

yaml link-to-itself <<EOF
version: 1
name: $N
links:
  - a: $A/eth7
    b: $A/eth7
EOF
bad "a link from a device to itself" full \
	"$F:5:8: error: duplicate device \"$A/eth7\" (first at 4:8)" apply "$F"

yaml link-three-ends <<EOF
version: 1
name: $N
links:
  - a: $A/eth7
    b: $A/eth8
    c: $A/eth9
EOF
bad "a link with a third end" full "$F:6:5: error: unknown key \"c\"" apply "$F"

yaml defaults-netns <<EOF
version: 1
name: $N
defaults: { netns: "a/b" }
EOF
bad "defaults.netns with a slash" full \
	"$F:3:20: error: invalid namespace name \"a/b\" (must match [A-Za-z0-9_.-]{1,64}, not \".\" or \"..\")" \
	apply "$F"

yaml namespace-dotdot <<EOF
version: 1
name: $N
namespaces: [".."]
EOF
bad "a namespace named .." full \
	"$F:3:14: error: invalid namespace name \"..\" (must match [A-Za-z0-9_.-]{1,64}, not \".\" or \"..\")" \
	apply "$F"

printf '# nothing but a comment\n' | yaml comment-only
bad "a file of comments only" full "$F:1:1: error: empty file" apply "$F"

printf 'version: 1\nname: %s\n---\n' "$N" | yaml empty-second-document
bad "an empty second document" full "$F:3:1: error: more than one document" apply "$F"

printf '\xef\xbb\xbfversion: 1\nname: %s\nrules: {}\n' "$N" | yaml bom
bad "a byte-order mark, rules: a mapping" full "$F:3:8: error: \"rules\" must be a list" apply "$F"

printf 'version: 1\r\nname: %s\r\nrules: 5\r\n' "$N" | yaml crlf
bad "CRLF line ends, rules: a number" full "$F:3:8: error: \"rules\" must be a list" apply "$F"

# ---- (b) command lines -----------------------------------------------------

bad "an unknown command" full \
	'tcspan: error: unknown command "bogus"; see "tcspan help"' bogus
# tap: its options, and --match with the keys and checks of a rule's match,
# each message naming the option it is about.  Nothing is set up, and no
# capture file is made.
X="$WORK/tap.pcap"
tap_bad() { # NAME MESSAGE ARGS...
	local name=$1 msg=$2
	shift 2
	bad "tap: $name" full "tcspan: error: tap: $msg" tap "$@"
	[ -e "$X" ] && fail "tap: $name: no capture file" "$X was made" && rm -f "$X"
}
tap_bad "no --dev" "--dev is required: the device to tap" -w "$X"
tap_bad "neither -w nor --to" "give one of -w FILE (capture) and --to DEV (mirror)" --dev "$A/eth0"
tap_bad "both -w and --to" "give one of -w FILE (capture) and --to DEV (mirror)" \
	--dev "$A/eth0" -w "$X" --to mon0
tap_bad "--to with --count" "--count and --snaplen are for -w (a capture)" \
	--dev "$A/eth0" --to mon0 --count 5
tap_bad "an unknown option" 'unknown option "--bogus"; see "tcspan help"' --bogus
tap_bad "--dev without a value" 'option "--dev" needs a value' --dev
tap_bad "--dev with a name too long" "--dev $A/averyveryverylongname: not a device name or NETNS/DEV" \
	--dev "$A/averyveryverylongname" -w "$X"
tap_bad "--dev in a namespace that does not exist" \
	"--dev $RUN_ID-nons/eth0: namespace \"$RUN_ID-nons\" is not in \"namespaces\" and does not exist" \
	--dev "$RUN_ID-nons/eth0" -w "$X"
tap_bad "--dev on a device that does not exist" "--dev $A/eth9: device \"$A/eth9\" not found" \
	--dev "$A/eth9" -w "$X"
tap_bad "--direction sideways" \
	'--direction sideways: "direction" must be ingress, egress or both, not "sideways"' \
	--dev "$A/eth0" --direction sideways -w "$X"
tap_bad "--count 0" '--count: "0" is not a number from 1 to 4294967295' --dev "$A/eth0" --count 0 -w "$X"
tap_bad "--snaplen 300000" '--snaplen: "300000" is not a number from 1 to 262144' \
	--dev "$A/eth0" --snaplen 300000 -w "$X"
tap_bad "--duration abc" '--duration: "abc" is not a number from 1 to 86400' \
	--dev "$A/eth0" --duration abc -w "$X"
tap_bad "-w in a directory that does not exist" \
	"cannot write $WORK/none/x.pcap: No such file or directory" --dev "$A/eth0" -w "$WORK/none/x.pcap"
tap_bad "--match without =" "--match proto: not KEY=VALUE" --dev "$A/eth0" --match proto -w "$X"
tap_bad "--match with a quote" \
	'--match src=1.2.3.4": a value holds no quotes, backslashes or control characters' \
	--dev "$A/eth0" --match 'src=1.2.3.4"' -w "$X"
tap_bad "--match: an unknown key" \
	'--match proto=tcp: unknown key "proto" (did you mean "protocol"?)' \
	--dev "$A/eth0" --match proto=tcp -w "$X"
tap_bad "--match: an unknown protocol" \
	'--match protocol=tcpp: "protocol" must be tcp, udp, icmp, icmpv6, sctp or a number 0-255, not "tcpp"' \
	--dev "$A/eth0" --match protocol=tcpp -w "$X"
tap_bad "--match: a port out of range" \
	'--match dst_port=70000: "dst_port" 70000 is out of range (0-65535)' \
	--dev "$A/eth0" --match protocol=tcp,dst_port=70000 -w "$X"
tap_bad "--match: a prefix too long" \
	'--match src=10.0.0.0/33: "src": invalid prefix length in "10.0.0.0/33" (0-32)' \
	--dev "$A/eth0" --match src=10.0.0.0/33 -w "$X"
tap_bad "--match: a vlan out of range" '--match vlan=4096: "vlan" 4096 is out of range (0-4095)' \
	--dev "$A/eth0" --match vlan=4096 -w "$X"
tap_bad "--match: sample 0" '--match sample=0: "sample" 0 is out of range (1-1000000)' \
	--dev "$A/eth0" --match sample=0 -w "$X"
tap_bad "--match: bpf without a program" "--match bpf=/x: bpf takes OBJECT:PROGRAM" \
	--dev "$A/eth0" --match bpf=/x -w "$X"
bad "no command" first "Usage: tcspan [OPTIONS] COMMAND [ARGS]"
bad "options and no command" first "Usage: tcspan [OPTIONS] COMMAND [ARGS]" -j -v
bad "an unknown global option" full \
	'tcspan: error: unknown option "--bogus"; see "tcspan help"' --bogus show
bad "an unknown global short option" full \
	'tcspan: error: unknown option "-x"; see "tcspan help"' -x show
bad "--color without WHEN" full 'tcspan: error: option "--color" needs a value' --color
bad "--color=bogus" full 'tcspan: error: --color: "bogus" is not auto, always or never' \
	--color=bogus show
bad "--color= (empty)" full 'tcspan: error: --color: "" is not auto, always or never' --color= show

bad "show: an unknown option" full \
	'tcspan: error: show: unknown option "--bogus"; see "tcspan help"' show --bogus
bad "apply: an unknown option" full \
	'tcspan: error: apply: unknown option "--bogus"; see "tcspan help"' apply --bogus "$GOOD"
bad "apply --detailed-exitcode" full \
	"tcspan: error: apply: option \"--detailed-exitcode\" is not one of this command's" \
	apply --detailed-exitcode "$GOOD"
bad "validate: an unknown option" full \
	'tcspan: error: validate: unknown option "--bogus"; see "tcspan help"' validate --bogus
bad "show --dry-run" full \
	"tcspan: error: show: option \"--dry-run\" is not one of this command's" show --dry-run
bad "plan --dry-run" full \
	"tcspan: error: plan: option \"--dry-run\" is not one of this command's" plan --dry-run "$GOOD"
bad "destroy --dry-run" full \
	"tcspan: error: destroy: option \"--dry-run\" is not one of this command's" destroy --dry-run "$B"
bad "stats --wait 5" full \
	"tcspan: error: stats: option \"--wait\" is not one of this command's" stats --wait 5
bad "show --watch 1" full \
	"tcspan: error: show: option \"--watch\" is not one of this command's" show --watch 1
bad "plan --watch" full \
	"tcspan: error: plan: option \"--watch\" is not one of this command's" plan --watch "$GOOD"

bad "apply without FILE" full "tcspan: error: apply needs exactly one FILE" apply
bad "apply with two FILEs" full "tcspan: error: apply needs exactly one FILE" apply "$GOOD" "$BY"
bad "plan without FILE" full "tcspan: error: plan needs exactly one FILE" plan
bad "validate without FILE" full "tcspan: error: validate needs at least one FILE" validate
bad "apply --wait 0" full \
	'tcspan: error: --wait: "0" is not a number of seconds from 1 to 86400' apply --wait 0 "$GOOD"
bad "apply --wait abc" full \
	'tcspan: error: --wait: "abc" is not a number of seconds from 1 to 86400' apply --wait abc "$GOOD"
bad "apply --wait 86401" full \
	'tcspan: error: --wait: "86401" is not a number of seconds from 1 to 86400' apply --wait 86401 "$GOOD"
bad "apply --wait= (empty)" full \
	'tcspan: error: --wait: "" is not a number of seconds from 1 to 86400' apply --wait= "$GOOD"
bad "plan --wait -1" full \
	'tcspan: error: --wait: "-1" is not a number of seconds from 1 to 86400' plan --wait -1 "$GOOD"
bad "destroy --wait 0" full \
	'tcspan: error: --wait: "0" is not a number of seconds from 1 to 86400' destroy --wait 0 "$B"
bad "stats --watch without a number" full \
	'tcspan: error: stats: option "--watch" needs a value' stats --watch
bad "stats --watch 0" full \
	'tcspan: error: --watch: "0" is not a number of seconds from 1 to 86400' stats --watch 0
bad "stats --watch 1.5" full \
	'tcspan: error: --watch: "1.5" is not a number of seconds from 1 to 86400' stats --watch 1.5
bad "stats --watch 86401" full \
	'tcspan: error: --watch: "86401" is not a number of seconds from 1 to 86400' stats --watch 86401
bad "show --dev without a device" full \
	'tcspan: error: show: option "--dev" needs a value' show --dev
bad "apply --destroy-on-exit without --watch" full \
	"tcspan: error: --destroy-on-exit goes with --watch" apply --destroy-on-exit "$GOOD"
bad "apply --watch --dry-run" full \
	"tcspan: error: --watch and --dry-run exclude each other" apply --watch --dry-run "$GOOD"
bad "apply --watch=3" full \
	'tcspan: error: apply: unknown option "--watch=3"; see "tcspan help"' apply --watch=3 "$GOOD"
bad "stats with two names" full "tcspan: error: stats takes at most one NAME" stats "$B" "$N"
bad "show with two names" full "tcspan: error: show takes at most one NAME" show "$B" "$N"
bad "destroy without a name" full "tcspan: error: destroy takes one topology NAME or FILE" destroy
bad "destroy with two names" full "tcspan: error: destroy takes one topology NAME or FILE" \
	destroy "$B" "$N"
NAME_RULE='(1 to 32 of a-z, 0-9 and "-", not starting with "-")'
bad "destroy a name with capitals" full \
	"tcspan: error: \"Bad_Name\" is not a topology name $NAME_RULE" destroy Bad_Name
bad "destroy an empty name" full \
	"tcspan: error: \"\" is not a topology name $NAME_RULE" destroy ""
bad "destroy a name of 33 characters" full \
	"tcspan: error: \"a23456789012345678901234567890123\" is not a topology name $NAME_RULE" \
	destroy "a23456789012345678901234567890123"
bad "destroy a file that does not exist" full \
	"$WORK/missing.yaml: error: cannot read: No such file or directory" destroy "$WORK/missing.yaml"
# The bystander's file with a syntax error (found at the end of the file):
# destroy must not guess.
{ by_head; by_rules; echo "  - name: [unclosed"; } | yaml by-broken
L=$(line_of "$F" "[unclosed")
SYNTAX="did not find expected ',' or ']' (while parsing a flow sequence at $L:11)"
bad "destroy the bystander through a broken file" full \
	"$F:$((L + 1)):1: error: $SYNTAX" destroy "$F"
bad "apply -j with a bad file: the errors stay on stderr" full \
	"$F:$((L + 1)):1: error: $SYNTAX" -j apply "$F"
bad "plan --detailed-exitcode with a bad file: 1, not 2" full \
	"$F:$((L + 1)):1: error: $SYNTAX" plan --detailed-exitcode "$F"
bad "apply --color=always with a bad file: the error in red" full \
	"$F:$((L + 1)):1: "$'\033[1;31m'"error:"$'\033[0m'" $SYNTAX" --color=always apply "$F"

# The lock held (by flock(1), whose descriptor tcspan inherits): apply
# --wait gives up and applies nothing.
PREFIX="flock /run/tcspan/lock" bad "apply --wait 1 while the lock is held" full \
	"tcspan: error: another tcspan holds /run/tcspan/lock (waited 1 s)" apply --wait 1 "$GOOD"

# ---- the catalogue ---------------------------------------------------------

[ "$COUNT" -ge 60 ] && [ "${#SEEN[@]}" -eq "$COUNT" ] &&
	pass "at least 60 distinct bad inputs ($COUNT)" ||
	fail "at least 60 distinct bad inputs" "$COUNT inputs, ${#SEEN[@]} distinct names"
out=$("$TCSPAN" plan --detailed-exitcode "$BY" 2>&1)
check "the bystander still needs nothing" "0 No changes." "$? $out"
