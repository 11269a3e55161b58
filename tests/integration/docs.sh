# The documentation says what the binary does: the commands, the options of
# each command and the global options are the same in `tcspan --help`, in
# tcspan(8) (its OPTIONS, its COMMANDS and its SYNOPSIS) and in the bash
# completion (what it offers, found by running it); every key that
# lib/model.c reads is in tcspan.yaml(5); both man pages format without a
# warning; the completion completes.  Needs no namespaces and no root.
. "$(dirname "$0")/../lib.sh"

export LC_ALL=C
TOP=$(cd "$(dirname "$0")/../.." && pwd)
MAN8=$TOP/cmd/tcspan.8
MAN5=$TOP/cmd/tcspan.yaml.5
COMP=$TOP/cmd/tcspan.bash
BASH_COMPLETION=/usr/share/bash-completion/bash_completion

# Each listing below is sorted lines: "global OPTION", "command COMMAND",
# "COMMAND OPTION".

# The listing of `tcspan --help`: its "Options:" and "Commands:" sections,
# up to the blank line after each.  A command's options are those in its
# synopsis (the part before the description's column), without arguments.
# $WORK/arity gets "COMMAND OPTION" for options that take an argument.
help_listing() {
	"$TCSPAN" --help | awk -v arity="$WORK/arity" '
		/^[A-Z][a-z]*:$/ { section = $0; next }
		/^$/ { section = ""; next }
		function synopsis(line) {
			sub(/^ +/, "", line)
			sub(/  .*/, "", line)
			return line
		}
		section == "Options:" {
			n = split(synopsis($0), t, /[ ,=]+/)
			for (i = 1; i <= n; i++)
				if (t[i] ~ /^--?[A-Za-z]/)
					print "global " t[i]
		}
		# A synopsis goes on in lines indented by six, "[" first.
		section == "Commands:" && (/^  [a-z]/ || (cmd != "" && /^      \[/)) {
			s = synopsis($0)
			n = split(s, t, /[][ ,|]+/)
			first = 1
			if (/^  [a-z]/) {
				cmd = t[1]
				print "command " cmd
				first = 2
			}
			for (i = first; i <= n; i++) {
				if (t[i] !~ /^--?[a-z]/ || t[i] == "--")
					continue
				print cmd " " t[i]
				if (t[i + 1] ~ /^[A-Z][A-Z\/]*$/)	# SEC, NETNS/
					print cmd " " t[i] > arity
			}
		}' | sort -u
}

# For reading the roff of tcspan.8: text() drops the macro and the font
# and escape sequences of a line, options() prints the options in a text.
# shellcheck disable=SC2016
ROFF_AWK='
	function text(s) {
		sub(/^\.[A-Za-z]+[ \t]*/, "", s)
		gsub(/\\f[BIRP]|\\f\(..|\\%|\\&|\\c|"/, "", s)
		gsub(/\\-/, "-", s)
		return s
	}
	function options(s, prefix,   n, t, i) {
		n = split(s, t, /[][ ,=|{}]+/)
		for (i = 1; i <= n; i++)
			if (t[i] ~ /^--?[A-Za-z]/)
				print prefix " " t[i]
	}
	/^\.SH/ { sh = text($0); ss = ""; tag = 0; cmd = ""; want = 0; next }
'

# tcspan(8) from OPTIONS (the tags of its .TP items) and COMMANDS (a .SS
# per command, whose .TP tags are the command's options).
man_listing() {
	awk "$ROFF_AWK"'
		/^\.SS/ && sh == "COMMANDS" {
			split(text($0), t, / +/)
			ss = t[1]
			print "command " ss
			next
		}
		/^\.TP/ { tag = 1; next }
		tag {
			tag = 0
			if (sh == "OPTIONS")
				options(text($0), "global")
			else if (sh == "COMMANDS" && ss != "")
				options(text($0), ss)
		}' "$MAN8" | sort -u
}

# tcspan(8)'s SYNOPSIS: each entry is ".B tcspan", ".RI [ OPTIONS ]",
# ".B COMMAND", then its options, up to .br or .PP.
man_synopsis_listing() {
	awk "$ROFF_AWK"'
		sh != "SYNOPSIS" { next }
		/^\.B tcspan$/ { want = 1; cmd = ""; next }
		want && /^\.B / { cmd = text($0); want = 0; print "command " cmd; next }
		want { next }
		/^\.(br|PP)/ { cmd = ""; next }
		cmd != "" { options(text($0), cmd) }' "$MAN8" | sort -u
}

# comp WORD...: what the completion offers, sorted, for a command line of
# these words, the last being the one under the cursor.  The words are
# those bash makes: "--color=al" is "--color" "=" "al".  With BC=1 the
# bash-completion package is loaded first; with NOEQ=1, "=" is no word
# break.  Runs in $WORK/files, with the fake tcspan of $WORK/bin first.
comp() {
	(
		cd "$WORK/files" &&
		PATH="$WORK/bin:$PATH" bash --norc --noprofile -c '
			f=$1 bc=$2 noeq=$3
			shift 3
			[ "$bc" = 1 ] && . '"$BASH_COMPLETION"'
			[ "$noeq" = 1 ] && COMP_WORDBREAKS=${COMP_WORDBREAKS//=}
			. "$f"
			COMP_WORDS=("$@")
			COMP_CWORD=$(( $# - 1 ))
			COMP_LINE="$*"
			COMP_POINT=${#COMP_LINE}
			_tcspan "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
			printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP" "${BC:-0}" "${NOEQ:-0}" "$@" \
			2>/dev/null
	) | sed '/^$/d' | sort
}

# What the completion offers, as a listing: the global options at "-", the
# commands at "", and for each command every option it offers at "-",
# again after each option it offered (with a value where --help shows one),
# until nothing new comes.
bash_listing() {
	local c o state seen queue
	{
		comp tcspan - | sed 's/=$//; s/^/global /'
		for c in $(comp tcspan ""); do
			echo "command $c"
			seen=" "
			queue=("")
			while [ ${#queue[@]} -gt 0 ]; do
				state=${queue[0]}
				queue=("${queue[@]:1}")
				# shellcheck disable=SC2086
				for o in $(comp tcspan "$c" $state -); do
					case $seen in *" $o "*) continue ;; esac
					seen="$seen$o "
					echo "$c $o"
					if grep -qx -- "$c $o" "$WORK/arity"; then
						queue+=("$state $o 1")
					else
						queue+=("$state $o")
					fi
				done
			done
		done
	} | sort -u
}

# same NAME LABEL_A FILE_A LABEL_B FILE_B: the listings agree.
same() {
	local only_a only_b
	only_a=$(comm -23 "$3" "$5" | paste -sd, - | sed 's/,/, /g')
	only_b=$(comm -13 "$3" "$5" | paste -sd, - | sed 's/,/, /g')
	if [ -z "$only_a$only_b" ]; then
		pass "$1"
	else
		fail "$1" "only in $2: ${only_a:-nothing}; only in $4: ${only_b:-nothing}"
	fi
}

# sane NAME FILE: a listing with commands and global options, so that two
# listings that a broken parser left empty do not agree by accident.
sane() {
	if grep -q '^command ' "$2" && grep -q '^global ' "$2"; then
		return 0
	fi
	fail "$1" "found no commands or no global options: $(paste -sd' ' "$2")"
	return 1
}

: >"$WORK/arity"
mkdir -p "$WORK/bin" "$WORK/files/sub"
touch "$WORK/files/a.yaml" "$WORK/files/b.yml" "$WORK/files/c.txt"
# A tcspan that owns two topologies, one of them with a rule (whose name
# must not be taken for a topology's).
cat >"$WORK/bin/tcspan" <<'EOF'
#!/bin/sh
[ "$1 $2" = "-j show" ] || exit 1
echo '{"topologies": [{"name": "lab-a", "rules": [{"name": "r1", "action": "mirror", "from": "x/eth0", "direction": "both", "to": "x/mon0", "to_direction": "egress", "datapath": "tc", "fallback": null, "problem": null}], "namespaces": ["x"], "links": [], "devices": []}, {"name": "b2", "rules": [], "namespaces": [], "links": [], "devices": []}]}'
EOF
chmod +x "$WORK/bin/tcspan"

# ---- the files themselves ---------------------------------------------------

for f in "$MAN8" "$MAN5" "$COMP"; do
	[ -f "$f" ] || fail "${f#"$TOP"/} exists" "missing"
done

if command -v groff >/dev/null; then
	for f in "$MAN8" "$MAN5"; do
		out=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
		check "${f#"$TOP"/}: groff -man -ww prints no warning" "" "$out"
	done
elif command -v man >/dev/null; then
	for f in "$MAN8" "$MAN5"; do
		out=$(man --warnings -l "$f" 2>&1 >/dev/null)
		check "${f#"$TOP"/}: man --warnings prints no warning" "" "$out"
	done
else
	skip "man pages format without a warning" "neither groff nor man is installed"
fi

version=$("$TCSPAN" --version)
for f in "$MAN8" "$MAN5"; do
	th=$(awk -F'"' '/^\.TH/ { print $4; exit }' "$f")	# .TH T S "DATE" "SOURCE"
	check "${f#"$TOP"/}: .TH names the version of the binary" "$version" "$th"
done

out=$(bash -n "$COMP" 2>&1)
check "bash -n cmd/tcspan.bash" "" "$out"

# ---- one set of commands and options --------------------------------------

help_listing >"$WORK/help"
man_listing >"$WORK/man"
man_synopsis_listing >"$WORK/synopsis"
bash_listing >"$WORK/bash"
grep -v '^global ' "$WORK/help" >"$WORK/help-commands"

if sane "tcspan --help lists commands and options" "$WORK/help"; then
	sane "tcspan.8 lists commands and options" "$WORK/man" &&
		same "commands and options: tcspan --help and tcspan.8 agree" \
			"tcspan --help" "$WORK/help" "tcspan.8" "$WORK/man"
	if grep -q '^command ' "$WORK/synopsis"; then
		same "commands and options: tcspan --help and the SYNOPSIS of tcspan.8 agree" \
			"tcspan --help" "$WORK/help-commands" "tcspan.8 SYNOPSIS" "$WORK/synopsis"
	else
		fail "tcspan.8 SYNOPSIS lists commands" "found none"
	fi
	sane "the completion offers commands and options" "$WORK/bash" &&
		same "commands and options: tcspan --help and the completion agree" \
			"tcspan --help" "$WORK/help" "tcspan.bash" "$WORK/bash"
fi

# Every key of the topology file that the validator reads has its item.
grep -o 'KEY("[a-z_]*")' "$TOP/lib/model.c" | sed 's/KEY("\(.*\)")/\1/' | sort -u >"$WORK/keys"
awk '/^\.TP/ { tag = 1; next } tag { tag = 0; if ($1 == ".B" && NF == 2) print $2 }' "$MAN5" |
	sort -u >"$WORK/man5-keys"
missing=$(comm -23 "$WORK/keys" "$WORK/man5-keys" | paste -sd' ' -)
if [ "$(wc -l <"$WORK/keys")" -lt 20 ]; then
	fail "tcspan.yaml.5 describes every key of lib/model.c" \
		"found only $(wc -l <"$WORK/keys") keys in lib/model.c"
else
	check "tcspan.yaml.5 describes every key of lib/model.c" "" "$missing"
fi

# ---- the completion completes ---------------------------------------------

# completes NAME EXPECTED WORD...: the offers, joined by spaces.
completes() {
	local name=$1 expected=$2
	shift 2
	check "$name" "$expected" "$(comp "$@" | paste -sd' ' -)"
}

modes=0
[ -f "$BASH_COMPLETION" ] && modes="0 1"
for BC in $modes; do
	how="bash alone"
	[ "$BC" = 1 ] && how="with bash-completion"
	completes "completion ($how): tcspan ap" "apply" tcspan ap
	completes "completion ($how): tcspan apply --" "--dry-run --wait --watch" \
		tcspan apply --
	completes "completion ($how): tcspan apply --watch --" "--destroy-on-exit --wait" \
		tcspan apply --watch --
	completes "completion ($how): tcspan --color=" "always auto never" tcspan --color =
	completes "completion ($how): tcspan --color=al" "always" tcspan --color = al
	NOEQ=1 completes "completion ($how): tcspan --color=al, \"=\" no word break" \
		"--color=always" tcspan --color=al
	completes "completion ($how): tcspan --color never pl" "plan" \
		tcspan --color never pl
	completes "completion ($how): tcspan --co" "--color=" tcspan --co
	completes "completion ($how): tcspan plan --wait (a number)" "" tcspan plan --wait ""
	completes "completion ($how): tcspan validate (YAML files)" "a.yaml b.yml sub" \
		tcspan validate ""
	completes "completion ($how): tcspan validate a.yaml (more files)" "a.yaml b.yml sub" \
		tcspan validate a.yaml ""
	completes "completion ($how): tcspan apply a.yaml (one file)" "" tcspan apply a.yaml ""
	completes "completion ($how): tcspan show (topology names)" "b2 lab-a" tcspan show ""
	completes "completion ($how): tcspan stats --watch 1 l" "lab-a" \
		tcspan stats --watch 1 l
	completes "completion ($how): tcspan show --dev (devices of rules)" \
		"x/eth0 x/mon0" tcspan show --dev ""
	completes "completion ($how): tcspan show --dev x/eth0 (a NAME)" "b2 lab-a" \
		tcspan show --dev x/eth0 ""
	completes "completion ($how): tcspan destroy (names and files)" \
		"a.yaml b.yml b2 lab-a sub" tcspan destroy ""
done
[ -f "$BASH_COMPLETION" ] ||
	skip "completion with bash-completion" "$BASH_COMPLETION is not installed"
