# make install / uninstall into a DESTDIR: every file where it belongs, a
# shared library that exports exactly the functions of tcspan.h under a
# versioned soname, a pkg-config file that a program of one's own builds
# with (shared and static) and that applies a topology from a string, a
# systemd unit that systemd-analyze accepts, and nothing left by uninstall.
. "$(dirname "$0")/../lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST="$WORK/root"
P="$RUN_ID-ex"
topology "$P"

# The plain build is what installs (a sanitized `make check SANITIZE=1`
# passes its variables down through MAKEFLAGS and, set on its command
# line, in the environment: not to these).
unset MAKEFLAGS MAKELEVEL MFLAGS SANITIZE
# Leave build/ as a plain `make` has it (tcspan.pc holds the paths).
trap 'make -C "$ROOT" -s all >/dev/null 2>&1; cleanup' EXIT

if ! out=$(make -C "$ROOT" -s install DESTDIR="$DEST" PREFIX=/usr 2>&1); then
	fail "make install" "$out"
	exit 1
fi
pass "make install DESTDIR= PREFIX=/usr"
missing=
for f in sbin/tcspan lib/libtcspan.a lib/libtcspan.so.0.1.0 lib/libtcspan.so.0 \
	lib/libtcspan.so include/tcspan.h lib/pkgconfig/tcspan.pc \
	share/man/man8/tcspan.8 share/man/man5/tcspan.yaml.5 \
	share/bash-completion/completions/tcspan lib/systemd/system/tcspan@.service; do
	[ -e "$DEST/usr/$f" ] || missing="$missing $f"
done
check "every file is installed" "" "$missing"
check "libtcspan.so.0 links to the versioned library" "libtcspan.so.0.1.0" \
	"$(readlink "$DEST/usr/lib/libtcspan.so.0")"
soname=$(readelf -d "$DEST/usr/lib/libtcspan.so.0.1.0" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
check "the soname is versioned" "libtcspan.so.0" "$soname"

exported=$(nm -D --defined-only "$DEST/usr/lib/libtcspan.so.0" | awk '$2 == "T" { print $3 }' |
	sed 's/@.*//' | sort | tr '\n' ' ')
declared=$(grep -oE '\btcspan_[a-z_]+\(' "$DEST/usr/include/tcspan.h" | tr -d '(' | sort -u |
	tr '\n' ' ')
check "the library exports exactly the functions of tcspan.h" "$declared" "$exported"
others=$(nm -D --defined-only "$DEST/usr/lib/libtcspan.so.0" | awk '$2 != "A" && $3 !~ /^tcspan_/' |
	wc -l)
check "and no other symbol" 0 "$others"
version=$(nm -D --defined-only "$DEST/usr/lib/libtcspan.so.0" | grep -c '@@LIBTCSPAN_0.1.0')
check "every export carries the version node LIBTCSPAN_0.1.0" \
	"$(wc -w <<<"$declared")" "$version"

# --- a program of one's own, through pkg-config ---------------------------------
export PKG_CONFIG_SYSROOT_DIR="$DEST"
export PKG_CONFIG_PATH="$DEST/usr/lib/pkgconfig"
check "pkg-config knows tcspan's version" "0.1.0" "$(pkg-config --modversion tcspan)"
# shellcheck disable=SC2046
if ! out=$(cc -Wall -Werror "$ROOT/tests/example/apply_string.c" \
	$(pkg-config --cflags --libs tcspan) -o "$WORK/apply_string" 2>&1); then
	fail "the example builds against the installed library" "$out"
else
	pass "the example builds against the installed library"
fi
lib=$(LD_LIBRARY_PATH="$DEST/usr/lib" ldd "$WORK/apply_string" | awk '/libtcspan/ { print $3 }')
check "it runs on the installed shared library" "$DEST/usr/lib/libtcspan.so.0" "$lib"
out=$(LD_LIBRARY_PATH="$DEST/usr/lib" "$WORK/apply_string" "$P" 2>&1)
check "it applies a topology from a string" "0 5 added" "$? $(tail -1 <<<"$out")"
rules=$(in_ns "$P-b" tc -j filter show dev eth0 ingress |
	jq -r '[.[] | .options.actions[]? | .cookie[0:8]] | join(",")')
check "the kernel holds its rule, with tcspan's cookie" "74637301" "$rules"
check "tcspan shows it" "span" "$("$TCSPAN" -j show "$P" | jq -r '.topologies[0].rules[0].name')"
"$TCSPAN" -q destroy "$P" >/dev/null 2>&1
# shellcheck disable=SC2046
if out=$(cc -Wall -Werror "$ROOT/tests/example/apply_string.c" \
	$(pkg-config --static --cflags tcspan) "$DEST/usr/lib/libtcspan.a" \
	$(pkg-config --static --libs-only-l tcspan | sed 's/-ltcspan//') \
	-o "$WORK/apply_static" 2>&1) && ! ldd "$WORK/apply_static" | grep -q libtcspan; then
	pass "it links statically with pkg-config --static"
else
	fail "it links statically with pkg-config --static" "$out"
fi
out=$("$WORK/apply_static" "$P" 2>&1)
check "the static build applies it too" "0 5 added" "$? $(tail -1 <<<"$out")"
"$TCSPAN" -q destroy "$P" >/dev/null 2>&1

# --- the systemd unit ---------------------------------------------------------------
unit="$DEST/usr/lib/systemd/system/tcspan@.service"
grep -q "^ExecStart=/usr/sbin/tcspan apply --watch /etc/tcspan/%i.yaml$" "$unit" &&
	pass "the unit runs apply --watch on /etc/tcspan/NAME.yaml" ||
	fail "the unit runs apply --watch on /etc/tcspan/NAME.yaml" "$(grep ^Exec "$unit")"
grep -q "^ExecStopPost=/usr/sbin/tcspan destroy /etc/tcspan/%i.yaml$" "$unit" &&
	pass "the unit destroys the topology on stop" ||
	fail "the unit destroys the topology on stop" "$(grep ^Exec "$unit")"
# systemd-analyze checks that commands exist: point them into DESTDIR.
mkdir -p "$WORK/units"
sed "s|/usr/sbin/|$DEST/usr/sbin/|g" "$unit" >"$WORK/units/tcspan@lab.service"
out=$(systemd-analyze verify --man=no "$WORK/units/tcspan@lab.service" 2>&1)
check "systemd-analyze verify accepts the unit" "0 " "$? $out"
sed 's/^ExecStart=/ExecStrat=/' "$WORK/units/tcspan@lab.service" >"$WORK/units/tcspan-bad@lab.service"
systemd-analyze verify --man=no "$WORK/units/tcspan-bad@lab.service" >/dev/null 2>&1
check "and refuses a broken one (the check can fail)" 1 $?

# --- uninstall ------------------------------------------------------------------------
make -C "$ROOT" -s uninstall DESTDIR="$DEST" PREFIX=/usr
left=$(find "$DEST" -type f -o -type l | sed "s|^$DEST||" | tr '\n' ' ')
check "make uninstall removes every file" "" "$left"
