#!/bin/bash
# make install and make uninstall into scratch folders: the systemd units
# follow --prefix unless --with-systemdsystemunitdir says otherwise, the
# state directory is made, and an administrator's xinetd or PAM service is
# never overwritten (the new one goes beside it as .dist, and make install
# says so). The configure script runs in a copy of the tree, so the build
# being tested is never reconfigured; no compiler is needed (install-data).
# The three configure runs go side by side, each from the build tree's own
# answers.
set -u
. "$(dirname "$0")/lib.sh"

: "${MAKE:=make}"
if [ ! -x "$top_srcdir/configure" ] || [ ! -f "$top_srcdir/Makefile.in" ]; then
	echo "FAIL: run autoreconf and configure first"
	exit 1
fi

# tree DIR: a copy of what configure and make install-data read, with the
# timestamps kept so that make does not try to regenerate anything.
tree() {
	mkdir -p "$1"
	(cd "$top_srcdir" && cp -p --parents configure configure.ac Makefile.am \
		Makefile.in aclocal.m4 config.h.in build-aux/* xinetd.d/pop2.in \
		systemd/pop2d.socket systemd/pop2d@.service.in \
		systemd/pop2d-recover.service.in pam.d/pop2 doc/pop2d.8 \
		doc/pop2-lock.8 doc/pop2d-passwd.5 pop2d/session.c "$1") &&
		mkdir -p "$1/m4"
}

# The build tree's configure answers (the cache variables its config.log
# lists, one-line values only), less the environment it was run in, as the
# cache each copy starts from: the copies skip the compiler's checks.
sed -n '/^## Cache variables/,/^## Output variables/p' "$top_builddir/config.log" 2>/dev/null |
	grep -E "^[a-z_]+_cv_[A-Za-z0-9_]+=('[^']*'|[^' ]*)\$" | grep -v '^ac_cv_env_' \
	>"$scratch/seed.cache"

# configured DIR ARGS...: DIR's copy configured with ARGS; the Makefile's
# systemdsystemunitdir in DIR.unitdir. Each has a cache of its own, so that
# they can run side by side.
configured() {
	local dir=$1
	shift
	tree "$dir" || return 1
	cp "$scratch/seed.cache" "$dir.cache" || return 1
	# Nothing is compiled: no dependency files to make. /bin/sh runs the
	# script (autoconf would otherwise move to bash, at a third more cost)
	# and the install rules: they must not need bash.
	if ! (cd "$dir" && CONFIG_SHELL=/bin/sh /bin/sh ./configure -q --cache-file="$dir.cache" --disable-dependency-tracking "$@" \
		>"$dir/configure.out" 2>&1); then
		cat "$dir/configure.out" >&2
		return 1
	fi
	sed -n 's/^systemdsystemunitdir = //p' "$dir/Makefile" >"$dir.unitdir"
}

# The three copies, side by side; each one's status in
# $configured_a, $configured_b, $configured_c (0 when it was configured).
prefix=$scratch/opt
configured "$scratch/a" --prefix="$prefix" &
pid_a=$!
configured "$scratch/b" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
	--with-systemdsystemunitdir=/srv/units &
pid_b=$!
configured "$scratch/c" --prefix=/usr --sysconfdir=/etc --without-pam &
pid_c=$!
wait "$pid_a"
configured_a=$?
wait "$pid_b"
configured_b=$?
wait "$pid_c"
configured_c=$?

have_systemd=no
pkg-config --exists systemd 2>/dev/null && have_systemd=yes

# A staging prefix: everything beneath it, the units included.
[ "$configured_a" -eq 0 ] || { fail "configure --prefix"; finish; exit; }
unitdir=$(cat "$scratch/a.unitdir")
if [ "$have_systemd" = yes ]; then
	# shellcheck disable=SC2016 # the Makefile's own ${prefix}
	check "--prefix: the units go beneath the prefix" [ "$unitdir" = '${prefix}/lib/systemd/system' ]
else
	check "--prefix without systemd: no units" [ "$unitdir" = no ]
fi
(cd "$scratch/a" && $MAKE -s install-data) >"$scratch/out1" 2>&1
check "install-data --prefix succeeds" grep -q . "$prefix/etc/xinetd.d/pop2"
if [ "$have_systemd" = yes ]; then
	for u in pop2d.socket pop2d@.service pop2d-recover.service; do
		check "unit $u installed beneath --prefix" [ -f "$prefix/lib/systemd/system/$u" ]
	done
fi
check "state directory made, mode 755" \
	[ "$(stat -c %a "$prefix/var/lib/pop2d" 2>/dev/null)" = 755 ]
if ! grep -q '^have_pam = yes' "$scratch/a/Makefile"; then
	skip "the PAM service's cases need PAM's headers (Debian: libpam0g-dev)"
	finish
	exit
fi
check "pam.d/pop2 installed" cmp -s "$top_srcdir/pam.d/pop2" "$prefix/etc/pam.d/pop2"

# An edited service survives a second make install; the new one is .dist.
echo '# edited by the administrator' >>"$prefix/etc/xinetd.d/pop2"
cp "$prefix/etc/xinetd.d/pop2" "$scratch/edited"
rm "$prefix/etc/pam.d/pop2"
(cd "$scratch/a" && $MAKE -s install-data) >"$scratch/out2" 2>&1
check "edited xinetd service kept" cmp -s "$scratch/edited" "$prefix/etc/xinetd.d/pop2"
check "new xinetd service beside it as .dist" \
	cmp -s "$scratch/a/xinetd.d/pop2" "$prefix/etc/xinetd.d/pop2.dist"
check "make install says so" \
	grep -q "$prefix/etc/xinetd.d/pop2 exists and was kept; the new one is $prefix/etc/xinetd.d/pop2.dist" "$scratch/out2"
check "a removed pam.d/pop2 is installed again, no .dist" \
	[ -f "$prefix/etc/pam.d/pop2" -a ! -e "$prefix/etc/pam.d/pop2.dist" ]
# An unchanged one is simply replaced, without a .dist.
(cd "$scratch/a" && $MAKE -s install-data) >"$scratch/out3" 2>&1
check "unchanged pam.d/pop2: no .dist, no message" \
	[ ! -e "$prefix/etc/pam.d/pop2.dist" ] && ! grep -q 'pam.d/pop2 exists' "$scratch/out3"
# make uninstall also removes the programs, which install-data did not put.
mkdir -p "$prefix/sbin" "$prefix/libexec"
(cd "$scratch/a" && $MAKE -s uninstall) >"$scratch/out4" 2>&1
check "uninstall keeps the edited xinetd service" cmp -s "$scratch/edited" "$prefix/etc/xinetd.d/pop2"
check "uninstall removes the .dist and the unchanged files" \
	[ -z "$(find "$prefix" -type f ! -path "$prefix/etc/xinetd.d/pop2")" ]

# DESTDIR with an explicit unit folder: both honoured.
dest=$scratch/dest
[ "$configured_b" -eq 0 ] || { fail "configure --with-systemdsystemunitdir"; finish; exit; }
unitdir=$(cat "$scratch/b.unitdir")
check "--with-systemdsystemunitdir wins" [ "$unitdir" = /srv/units ]
(cd "$scratch/b" && $MAKE -s install-data DESTDIR="$dest") >"$scratch/out5" 2>&1
check "DESTDIR: units in DESTDIR/srv/units" [ -f "$dest/srv/units/pop2d.socket" ]
check "DESTDIR: /etc/xinetd.d/pop2 and /etc/pam.d/pop2" \
	[ -f "$dest/etc/xinetd.d/pop2" -a -f "$dest/etc/pam.d/pop2" ]
check "DESTDIR: /var/lib/pop2d" [ -d "$dest/var/lib/pop2d" ]

# A build without PAM has no PAM service to install.
[ "$configured_c" -eq 0 ] || { fail "configure --without-pam"; finish; exit; }
(cd "$scratch/c" && $MAKE -s install-data DESTDIR="$scratch/dest-c") >"$scratch/out6" 2>&1
check "--without-pam: xinetd.d/pop2 but no pam.d/pop2" \
	[ -f "$scratch/dest-c/etc/xinetd.d/pop2" -a ! -e "$scratch/dest-c/etc/pam.d" ]

finish
