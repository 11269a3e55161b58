# The fuzzer over parse + validate + plan (build/fuzz/fuzz_topology, built
# by `make check`, not here): each input of tests/fuzz/regressions/ run
# once, then FUZZ_SECONDS (default 60) of fuzzing from configs/, the unit
# tests' files and those inputs.  Then the limits of the YAML reader,
# through `tcspan validate`: nesting 10,000 deep, 50 MB files, the node
# limit, a billion laughs and a flood of aliases each end within 20 s, exit
# 1 with the exact message of the limit they meet, in bounded memory.
# Nothing here needs the kernel or privileges.
. "$(dirname "$0")/../lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(dirname "$TCSPAN")
FUZZER=$BUILD_DIR/fuzz/fuzz_topology
SECONDS_TO_FUZZ=${FUZZ_SECONDS:-60}
# Where a crash's reproducer is kept: $WORK goes at exit.
ARTIFACTS=$BUILD_DIR/fuzz/artifacts
LIMIT_AS=$((512 << 20))		# address space of one `tcspan validate`
LIMIT_RSS_KB=$((256 << 10))	# its peak resident size, when GNU time can tell

# The first line a sanitizer or the target's own checks printed (with the
# library's message that a check quotes).
first_error() {
	awk '
		found && /^  message [0-9]+: / { found = found " (" substr($0, 3) ")" }
		found { exit }
		/^fuzz_topology: / { found = $0; next }
		/runtime error: |ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|^SUMMARY: / {
			found = $0; exit
		}
		{ last = $0 }
		END { print found ? found : last }
	' "$1"
}

# ---- the fuzzer ------------------------------------------------------------

fuzz_options=(-rss_limit_mb=2048 -max_len=65536 -timeout=10)

if [ ! -x "$FUZZER" ]; then
	skip "fuzz" "no ${FUZZER#"$TOP"/} (make ${FUZZER#"$TOP"/})"
else
	# Inputs that once broke the library; those that run clean seed the
	# fuzzer below (one still broken is reported here, not again below).
	clean=()
	for r in "$TOP"/tests/fuzz/regressions/*; do
		[ -f "$r" ] || continue
		name="fuzz: regression $(basename "$r") runs clean"
		if "$FUZZER" "${fuzz_options[@]}" "$r" >"$WORK/regression.log" 2>&1; then
			pass "$name"
			clean+=("$r")
		else
			fail "$name" "$(first_error "$WORK/regression.log")"
		fi
	done

	# The seed corpus: every example and unit-test file, valid or not.
	mkdir -p "$WORK/corpus" "$WORK/artifacts"
	for f in "$TOP"/configs/*.yaml "$TOP"/tests/unit/good/*.yaml "$TOP"/tests/unit/bad/*.yaml \
		 "${clean[@]}"; do
		[ -f "$f" ] || continue
		rel=${f#"$TOP"/}
		cp "$f" "$WORK/corpus/${rel//\//_}"
	done
	name="fuzz: parse + validate + plan for $SECONDS_TO_FUZZ s without a crash, leak or UB"
	"$FUZZER" "${fuzz_options[@]}" -max_total_time="$SECONDS_TO_FUZZ" \
		-dict="$TOP/tests/fuzz/yaml.dict" -print_final_stats=1 \
		-artifact_prefix="$WORK/artifacts/" "$WORK/corpus" >"$WORK/fuzz.log" 2>&1
	rc=$?
	stats=$(awk '/^#[0-9]+\t(DONE|pulse|NEW|REDUCE|INITED)/ { last = $0 } END { print last }' \
		"$WORK/fuzz.log")
	execs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$WORK/fuzz.log")
	echo "fuzz: ${execs:-?} executions; last status: ${stats:-none}"
	artifact=$(find "$WORK/artifacts" -type f -printf '%f\n' | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
		pass "$name"
	elif [ -n "$artifact" ]; then
		mkdir -p "$ARTIFACTS"
		cp "$WORK/artifacts/$artifact" "$ARTIFACTS/"
		cp "$WORK/fuzz.log" "$ARTIFACTS/$artifact.log"
		fail "$name" "reproducer $ARTIFACTS/$artifact (log beside it): $(first_error "$WORK/fuzz.log")"
	else
		cp "$WORK/fuzz.log" "$BUILD_DIR/fuzz/fuzz.log" 2>/dev/null
		fail "$name" "exited $rc without a reproducer: $(first_error "$WORK/fuzz.log")"
	fi
fi

# ---- limits, through the CLI -------------------------------------------------

# An ASan build (make check SANITIZE=1) reserves terabytes of address
# space and keeps freed memory in quarantine: its memory is not tcspan's.
# The plain make check bounds it.
bounded=1
if [ "${TCSPAN_SANITIZE:-}" = 1 ]; then
	bounded=
	skip "limits: memory bounds" "tcspan is built with ASan here; the plain make check measures them"
fi

# limit NAME FILE FIRST-LINE [LAST-LINE]: `tcspan validate FILE` ends
# within 20 s, exits 1, prints FIRST-LINE first (and LAST-LINE last),
# within LIMIT_AS of address space and, where GNU time is installed,
# LIMIT_RSS_KB resident.
limit() {
	local name=$1 file=$2 want=$3 want_last=${4:-} rc got last rss="" start ms
	local -a measure=() cap=()

	if [ -n "$bounded" ]; then
		cap=(prlimit --as="$LIMIT_AS")
		[ -x /usr/bin/time ] && measure=(/usr/bin/time -f %M -o "$WORK/rss")
	fi
	start=$(date +%s%N)
	timeout 20 "${measure[@]}" "${cap[@]}" "$TCSPAN" validate "$file" >/dev/null 2>"$WORK/err"
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	got=$(head -n 1 "$WORK/err" | cut -c 1-300)
	last=$(tail -n 1 "$WORK/err" | cut -c 1-300)
	[ -n "${measure[*]}" ] && rss=$(tail -n 1 "$WORK/rss" 2>/dev/null)
	if [ "$rc" -eq 124 ]; then
		fail "$name" "did not end within 20 s"
	elif [ "$rc" -ne 1 ]; then
		fail "$name" "exit $rc (expected 1) after $ms ms; first line: $got"
	elif [ "$got" != "$want" ]; then
		fail "$name" "first line '$got', expected '$want'"
	elif [ -n "$want_last" ] && [ "$last" != "$want_last" ]; then
		fail "$name" "last line '$last', expected '$want_last'"
	elif [ -n "$rss" ] && [ "$rss" -ge "$LIMIT_RSS_KB" ]; then
		fail "$name" "peak RSS $((rss >> 10)) MB (limit $((LIMIT_RSS_KB >> 10)) MB), $ms ms, $(wc -l <"$WORK/err") lines of errors"
	else
		pass "$name"
		echo "  $ms ms${rss:+, peak RSS $((rss >> 10)) MB}"
	fi
	rm -f "$file"
}

# Nesting 10,000 deep: flow sequences, flow mappings, block sequences.
F=$WORK/deep-seq.yaml
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "["; for (i = 0; i < 10000; i++) printf "]"; print "" }' >"$F"
limit "limits: [[[...]]] 10,000 deep is refused at the 33rd level" "$F" \
	"$F:1:33: error: nesting deeper than 32 levels"

F=$WORK/deep-map.yaml
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "{a: "; printf "1"; for (i = 0; i < 10000; i++) printf "}"; print "" }' >"$F"
limit "limits: {a: {a: ...}} 10,000 deep is refused at the 33rd level" "$F" \
	"$F:1:129: error: nesting deeper than 32 levels"

F=$WORK/deep-block.yaml
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "- "; print "x" }' >"$F"
limit "limits: - - - ... 10,000 deep is refused at the 33rd level" "$F" \
	"$F:1:65: error: nesting deeper than 32 levels"

# 50 MB: a list of rules, and one scalar.  Larger than CONFIG_MAX_FILE_SIZE
# (16 MiB): refused before parsing, as a whole (no line).
F=$WORK/big-rules.yaml
awk 'BEGIN {
	print "version: 1\nname: big\nrules:"
	for (i = 0; size < 50 * 1024 * 1024; i++) {
		r = sprintf("  - name: r%d\n    action: mirror\n    from: eth0\n    direction: ingress\n    to: mon0\n", i)
		printf "%s", r
		size += length(r)
	}
}' >"$F"
limit "limits: 50 MB of rules is refused as larger than 16 MiB" "$F" \
	"$F: error: larger than 16 MiB"

F=$WORK/big-scalar.yaml
{ printf 'version: 1\nname: '; head -c $((50 << 20)) /dev/zero | tr '\0' x; echo; } >"$F"
limit "limits: a 50 MB scalar is refused as larger than 16 MiB" "$F" \
	"$F: error: larger than 16 MiB"

# Just under 16 MiB of rules: 11 nodes a rule, 7 before the first, so the
# 1,000,001st node is rule 90,908's "from" key (file line 4 + 5 * 90908 + 2).
F=$WORK/many-rules.yaml
awk 'BEGIN {
	print "version: 1\nname: many\nrules:"
	for (i = 0; size < 15 * 1024 * 1024; i++) {
		r = sprintf("  - name: r%d\n    action: mirror\n    from: eth0\n    direction: ingress\n    to: mon0\n", i)
		printf "%s", r
		size += length(r)
	}
}' >"$F"
limit "limits: 15 MiB of rules stops at the millionth node" "$F" \
	"$F:454546:5: error: more than 1000000 nodes"

# A billion laughs: nine levels of nine aliases, never expanded.
F=$WORK/laughs.yaml
{
	printf 'version: 1\nname: laughs\nrules:\n  - &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n'
	prev=a
	for a in b c d e f g h i; do
		printf '  - &%s [' "$a"
		for _ in 1 2 3 4 5 6 7 8; do printf '*%s, ' "$prev"; done
		printf '*%s]\n' "$prev"
		prev=$a
	done
} >"$F"
limit "limits: a billion laughs is refused at its first anchor" "$F" \
	"$F:4:5: error: anchor \"a\": anchors and aliases are not supported"

# A flood: one anchor and 5,000,000 aliases of it (15 MB), each a problem
# of its own: reading stops at CONFIG_MAX_PROBLEMS (100).
F=$WORK/aliases.yaml
{
	printf 'version: 1\nname: aliases\nrules:\n  - &a x\n  - ['
	awk 'BEGIN { for (i = 0; i < 5000000; i++) printf "*a,"; print "*a]" }'
} >"$F"
limit "limits: 5,000,000 aliases stop at 100 problems" "$F" \
	"$F:4:5: error: anchor \"a\": anchors and aliases are not supported" \
	"$F: error: more than 100 problems; the file was read no further"
