# Human output: colour only on a terminal (script(1) gives one) unless
# --color says otherwise, NO_COLOR honoured; show and stats columns
# aligned, numbers right-aligned; stats --watch redraws in place on a
# terminal and appends on a pipe.
. "$(dirname "$0")/../lib.sh"

T="$RUN_ID-out"
topology "$T"
C=$(ns client) S=$(ns server) M=$(ns monitor)
{
	lab_header
	span_rule a-long-rule-name
} >"$WORK/t.yaml"

ESC=$'\033'
# tty CMD...: run CMD with a terminal as stdout, print what it wrote.
tty() { script -qec "$*" /dev/null </dev/null | tr -d '\r'; }
has_escape() { grep -q "$ESC" <<<"$1"; }

out=$("$TCSPAN" plan "$WORK/t.yaml")
has_escape "$out" && fail "no colour on a pipe" "$out" || pass "no colour on a pipe"
out=$(tty "$TCSPAN" plan "$WORK/t.yaml")
grep -q "^${ESC}\[32m+ rule a-long-rule-name" <<<"$out" &&
	pass "colour on a terminal: + lines green" || fail "colour on a terminal" "$(cat -v <<<"$out")"
out=$(NO_COLOR=1 tty "$TCSPAN" plan "$WORK/t.yaml")
has_escape "$out" && fail "NO_COLOR turns auto off" "$(cat -v <<<"$out")" ||
	pass "NO_COLOR turns auto off"
out=$(tty "$TCSPAN" --color=never plan "$WORK/t.yaml")
has_escape "$out" && fail "--color=never on a terminal" "$(cat -v <<<"$out")" ||
	pass "--color=never on a terminal: no colour"
out=$("$TCSPAN" --color=always plan "$WORK/t.yaml")
has_escape "$out" && pass "--color=always on a pipe: colour" ||
	fail "--color=always on a pipe: colour" "$out"
out=$("$TCSPAN" --color=always validate "$WORK/nope.yaml" 2>&1)
grep -q "${ESC}\[1;31merror:${ESC}\[0m" <<<"$out" && pass "--color=always: errors in red" ||
	fail "--color=always: errors in red" "$(cat -v <<<"$out")"
out=$("$TCSPAN" --color=sometimes show 2>&1)
check "--color=WHEN: a bad WHEN is refused" \
	"1 tcspan: error: --color: \"sometimes\" is not auto, always or never" "$? $out"

"$TCSPAN" -q apply "$WORK/t.yaml" >/dev/null || fail "apply" "failed"

# Each column starts where its header starts (text) or ends where it ends
# (numbers).
aligned() { # TEXT LEFT-HEADERS RIGHT-HEADERS
	awk -v left="$2" -v right="$3" '
	NR == 1 {
		n = split(left, l, " "); for (i = 1; i <= n; i++) start[l[i]] = index($0, l[i])
		n = split(right, r, " ")
		for (i = 1; i <= n; i++) end[r[i]] = index($0, r[i]) + length(r[i])
		next
	}
	{
		for (h in start) if (substr($0, start[h] - 1, 1) != " " && start[h] > 1) bad = 1
		for (h in end) if (substr($0, end[h] - 1, 1) == " " || substr($0, end[h], 1) ~ /[0-9]/) bad = 1
	}
	END { exit bad }' <<<"$1"
}
show=$("$TCSPAN" show "$T" | head -2)
aligned "$show" "RULE ACTION FROM DIRECTION TO TO_DIR DATAPATH" "" &&
	pass "show: columns aligned" || fail "show: columns aligned" "$show"
stats=$("$TCSPAN" stats "$T")
aligned "$stats" "RULE" "PACKETS BYTES" &&
	pass "stats: numbers right-aligned under their headers" ||
	fail "stats: numbers right-aligned under their headers" "$stats"
check "stats: one line per rule" 2 "$(wc -l <<<"$stats")"

# --watch: on a terminal every frame clears the screen and starts at the top.
tty timeout -s INT 2.5 "$TCSPAN" stats --watch 1 "$T" >"$WORK/tty.out"
frames=$(grep -o "${ESC}\[H${ESC}\[J" "$WORK/tty.out" | wc -l)
[ "$frames" -ge 2 ] && pass "stats --watch on a terminal redraws in place ($frames frames)" ||
	fail "stats --watch on a terminal redraws in place" "$frames clears: $(cat -v "$WORK/tty.out")"
timeout -s INT 2.5 "$TCSPAN" stats --watch 1 "$T" >"$WORK/pipe.out"
has_escape "$(cat "$WORK/pipe.out")" && fail "stats --watch on a pipe appends" "escapes written" ||
	pass "stats --watch on a pipe writes no escape"
check "stats --watch on a pipe appends a table a second" 3 "$(grep -c "^TOPOLOGY" "$WORK/pipe.out")"
