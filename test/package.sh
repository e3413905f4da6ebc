#!/bin/bash
# The Debian package, end to end, on this machine (CI only: it installs
# and purges a package, so it is not part of make check):
#   build it (dpkg-buildpackage -us -uc -b) from a copy of the tree, lint
#   it (lintian: no error, no warning), boot it under systemd in a
#   scratch tree (test/boot.sh), install it with apt-get, check
#   what it installed, serve a real POP2 session through the installed
#   xinetd service, pop2d, PAM service and set-group-ID pop2-lock as a
#   system user over /var/mail, keep an edited conffile and an
#   administrator's dpkg-statoverride across a reinstall and an upgrade,
#   and purge it
#   leaving nothing, except a pending journal, which a purge keeps aside.
# The system user, /var/mail and the network exist only in a private
# mount and network namespace (unshare): the host's account files and
# spool are never changed. Leaves the machine as it found it.
#
# usage: POP2_HOST_TESTS=1 test/package.sh [--check]   (--check also runs make check in
# the package build; by default DEB_BUILD_OPTIONS=nocheck)
set -u
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
die() { echo "FAIL: $*"; exit 1; }
# status: the package's dpkg status, "not-installed" once purged.
status() {
	local s
	s=$(dpkg-query -W -f '${db:Status-Status}' pop2d 2>/dev/null)
	echo "${s:-not-installed}"
}
not_in_host_accounts() { ! grep -q "^$1:" /etc/passwd /etc/shadow /etc/group; }

# It changes the host, which no test does unless asked (test/lib.sh's
# host_test): CI sets POP2_HOST_TESTS=1.
if [ "${POP2_HOST_TESTS:-0}" != 1 ]; then
	echo "SKIP: $(basename "$0"): it installs and purges a package here; run with POP2_HOST_TESTS=1"
	exit 77
fi
[ "$(id -u)" -eq 0 ] || die "needs root (it installs the package)"
for tool in dpkg-buildpackage lintian apt-get unshare xinetd ip perl; do
	command -v "$tool" >/dev/null || die "$tool is missing (Debian: dpkg-dev, lintian, apt, util-linux, xinetd, iproute2, perl)"
done
if [ "$(status)" != not-installed ]; then
	die "pop2d is already installed here; this test installs and purges it"
fi

helper=/usr/libexec/pop2-lock
state=/var/lib/pop2d
work=$(mktemp -d "${TMPDIR:-/tmp}/pop2d-package.XXXXXX")
chmod 755 "$work"
cleanup() {
	if [ "$(status)" != not-installed ]; then
		dpkg --purge pop2d >/dev/null 2>&1
	fi
	dpkg-statoverride --remove "$helper" >/dev/null 2>&1
	rm -rf "$work" "$state".kept-*
}
trap cleanup EXIT

# ------------------------------------------------------------------ build
mkdir "$work/src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$top_srcdir" ls-files -co --exclude-standard -z |
		(cd "$top_srcdir" && tar --null -T - -cf -) | tar -xf - -C "$work/src"
else
	cp -a "$top_srcdir/." "$work/src"
fi
opts=nocheck
[ "${1:-}" = --check ] && opts=
if (cd "$work/src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b"
else
	tail -n 40 "$work/build.log"
	die "dpkg-buildpackage -us -uc -b"
fi
version=$(dpkg-parsechangelog -l "$top_srcdir/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb=$work/pop2d_${version}_$arch.deb
check "built pop2d_${version}_$arch.deb" [ -f "$deb" ]
# ------------------------------------------------------------------- lint
# lintian would rather not run as root; nobody can read the results.
if runuser -u nobody -- lintian --fail-on error,warning \
	"$work/pop2d_${version}_$arch.changes" >"$work/lintian.out" 2>&1; then
	pass "lintian: no error and no warning (.deb, .changes, .buildinfo)"
else
	fail "lintian: no error and no warning"
fi
cat "$work/lintian.out"

# ------------------------------------------------- under a booted systemd
# The same package in a scratch Debian tree booted with systemd-nspawn
# (test/boot.sh): the units the package enabled start at boot and serve
# a session. Its own checks are counted here.
bash "$top_srcdir/test/boot.sh" "$deb" >"$work/boot.out" 2>&1
boot=$?
grep -E '^(PASS|FAIL|SKIP)' "$work/boot.out"
case $boot in
0) pass "the package under a booted systemd (test/boot.sh)" ;;
77) echo "SKIP: the package under a booted systemd (test/boot.sh)" ;;
*) tail -n 30 "$work/boot.out"; fail "the package under a booted systemd (test/boot.sh)" ;;
esac

# ---------------------------------------------------------------- install
install_deb() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" "$deb" >"$work/apt.log" 2>&1 ||
		{ tail -n 20 "$work/apt.log"; return 1; }
}
check "apt-get install ./pop2d_*.deb" install_deb
check "pop2d in /usr/sbin" [ -x /usr/sbin/pop2d ]
check "pop2d -V" [ "$(/usr/sbin/pop2d -V)" = "pop2d $version" ]
check "pop2-lock is root:mail 2755 (dpkg-statoverride)" \
	[ "$(stat -c '%U:%G %a' "$helper")" = "root:mail 2755" ]
check "the statoverride is registered" \
	[ "$(dpkg-statoverride --list "$helper")" = "root mail 2755 $helper" ]
check "pop2d's default -L is $helper" grep -a -q -F "$helper" /usr/sbin/pop2d
check "$state is root:root 755" [ "$(stat -c '%U:%G %a' "$state")" = "root:root 755" ]
conffiles=$(dpkg-query -W -f '${Conffiles}\n' pop2d | awk 'NF { print $1 }' | sort | paste -sd' ')
check "conffiles: /etc/pam.d/pop2 /etc/xinetd.d/pop2 (got: $conffiles)" \
	[ "$conffiles" = "/etc/pam.d/pop2 /etc/xinetd.d/pop2" ]
check "PAM service includes common-auth and common-account" \
	[ "$(grep -v '^#' /etc/pam.d/pop2 | paste -sd' ')" = "@include common-auth @include common-account" ]
for m in man8/pop2d.8.gz man8/pop2-lock.8.gz man5/pop2d-passwd.5.gz; do
	check "man page $m" [ -f "/usr/share/man/$m" ]
done
# The installed pages, style notes included; mandoc finds the cross
# references among the installed pages.
if command -v mandoc >/dev/null; then
	for m in man8/pop2d.8.gz man8/pop2-lock.8.gz man5/pop2d-passwd.5.gz; do
		lint=$(mandoc -Tlint -W style "/usr/share/man/$m" 2>&1 | grep -v 'outdated mandoc.db')
		check "mandoc -Tlint -W style $m${lint:+: $lint}" [ -z "$lint" ]
	done
fi
for u in pop2d.socket pop2d@.service pop2d-recover.service; do
	check "unit $u" [ -f "/lib/systemd/system/$u" ]
done
check "systemd-analyze verify accepts the installed units" \
	systemd-analyze verify --man=no /lib/systemd/system/pop2d.socket \
	/lib/systemd/system/pop2d@.service /lib/systemd/system/pop2d-recover.service
check "pop2d.socket has no trigger limit" \
	grep -q -x 'TriggerLimitIntervalSec=0' /lib/systemd/system/pop2d.socket
check "pop2d.socket enabled" [ -L /etc/systemd/system/sockets.target.wants/pop2d.socket ]
check "pop2d-recover.service enabled" \
	[ -L /etc/systemd/system/multi-user.target.wants/pop2d-recover.service ]
check "the template pop2d@.service is not enabled" \
	[ -z "$(find /etc/systemd/system -name 'pop2d@*')" ]
# One launcher on port 109: the socket, so the xinetd service is off.
check "xinetd service ships disabled (never two launchers on port 109)" \
	grep -q -E '^[[:space:]]*disable[[:space:]]*=[[:space:]]*yes[[:space:]]*$' /etc/xinetd.d/pop2
# Whether the enabled socket starts at boot is checked under a booted
# systemd by test/boot.sh above.

# ------------------------------------------------------ a real session
# In private mount and network namespaces: a system user in private
# copies of the account files, /var/mail a private tmpfs (root:mail
# 2775, as Debian makes it), and xinetd on 127.0.0.1:109 with the
# installed service, only switched on. The session runs the installed
# pop2d with no arguments: PAM service pop2, /var/mail/USER, and the
# installed pop2-lock to make the dot-lock, since the user may not
# create files in the spool.
cat >"$work/session.sh" <<'EOF'
set -eu
work=$1
ip link set lo up
for f in passwd shadow group gshadow; do
	[ -e "/etc/$f" ] || continue
	cp -p "/etc/$f" "$work/$f"
	mount --bind "$work/$f" "/etc/$f"
done
user=pop2pkg
uid=64990
echo "$user:x:$uid:$uid::/home/$user:/bin/sh" >>/etc/passwd
echo "$user:x:$uid:" >>/etc/group
[ -e /etc/gshadow ] && echo "$user:!::" >>/etc/gshadow
hash=$(perl -e 'print crypt($ARGV[0], q($6$) . $ARGV[1])' 'pop2 pass word' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 16)")
echo "$user:$hash:$(($(date +%s) / 86400)):0:99999:7:::" >>/etc/shadow
mount -t tmpfs -o mode=2775 tmpfs /var/mail
chgrp mail /var/mail
mount -t tmpfs -o mode=755 tmpfs /home
mkdir -m 700 "/home/$user" && chown "$user:$user" "/home/$user"
printf 'From a@example.org Thu Dec  3 07:00:00 2026\nSubject: one\n\nfirst\n\nFrom b@example.org Thu Dec  3 07:01:00 2026\nSubject: two\n\nsecond\n' >"/var/mail/$user"
chown "$user:mail" "/var/mail/$user"
chmod 660 "/var/mail/$user"
# The installed service, switched on; everything else as shipped.
sed -E 's/^([[:space:]]*disable[[:space:]]*=[[:space:]]*)yes/\1no/' /etc/xinetd.d/pop2 >"$work/xinetd.pop2"
mount --bind "$work/xinetd.pop2" /etc/xinetd.d/pop2
printf 'defaults\n{\n}\ninclude /etc/xinetd.d/pop2\n' >"$work/xinetd.conf"
xinetd -dontfork -f "$work/xinetd.conf" -pidfile "$work/xinetd.pid" 2>"$work/xinetd.err" &
xpid=$!
for _ in $(seq 100); do
	grep -q -E '^ *[0-9]+: 0+:006D ' /proc/net/tcp /proc/net/tcp6 2>/dev/null && break
	sleep 0.1
done
perl -MIO::Socket::IP -e '
	my ($user, $pass, $out) = @ARGV;
	$SIG{ALRM} = sub { die "no end of session in 60 s\n" };
	alarm 60;
	my $s = IO::Socket::IP->new(PeerHost => "127.0.0.1", PeerPort => 109)
		or die "connect: $@\n";
	binmode($s);
	open(my $o, ">:raw", $out) or die "$out: $!\n";
	sub line { my $l = <$s>; defined $l or die "connection closed\n"; print $o $l; return $l; }
	sub cmd { print $s "$_[0]\r\n"; return line(); }
	line();
	cmd("HELO $user $pass") =~ /^#2 / or die "HELO\n";
	my $r = cmd("READ 1");
	$r =~ /^=(\d+) / or die "READ 1\n";
	print $s "RETR\r\n";
	my ($got, $buf) = (0, "");
	while ($got < $1) { my $n = read($s, $buf, $1 - $got, $got) or die "RETR\n"; $got += $n; }
	print $o $buf;
	cmd("ACKD") =~ /^=\d+ / or die "ACKD\n";
	cmd("QUIT") =~ /^\+ / or die "QUIT\n";
' "$user" 'pop2 pass word' "$work/session.out"
kill "$xpid"
wait "$xpid" 2>/dev/null || true
# What is left in the maildrop: the second message only, and no lock.
cp "/var/mail/$user" "$work/maildrop.after"
ls -A /var/mail >"$work/spool.after"
EOF
if unshare --mount --net --propagation private bash "$work/session.sh" "$work" >"$work/session.log" 2>&1; then
	pass "a POP2 session through xinetd, PAM, pop2d and pop2-lock as installed"
else
	fail "a POP2 session through the installed files"
	cat "$work/session.log" "$work/xinetd.err" "$work/session.out" 2>/dev/null
fi
check "the session retrieved message 1 and deleted it (QUIT committed)" \
	grep -q '^+ OK' "$work/session.out"
check "the maildrop keeps exactly message 2" \
	[ "$(grep -c '^From ' "$work/maildrop.after" 2>/dev/null)" = 1 ] &&
	grep -q '^Subject: two' "$work/maildrop.after"
check "no dot-lock left in /var/mail" [ "$(cat "$work/spool.after" 2>/dev/null)" = pop2pkg ]
check "the host's account files are unchanged" not_in_host_accounts pop2pkg
check "the session made its state folder in $state" [ -d "$state/pop2pkg" ]

# ---------------------------------------- conffiles and statoverride kept
echo '# site note: kept across reinstalls' >>/etc/pam.d/pop2
sed -i -E 's/^([[:space:]]*disable[[:space:]]*=[[:space:]]*)yes/\1no/' /etc/xinetd.d/pop2
cp /etc/pam.d/pop2 "$work/pam.edited"
cp /etc/xinetd.d/pop2 "$work/xinetd.edited"
dpkg-statoverride --remove "$helper"
dpkg-statoverride --update --add root root 0750 "$helper"
check "apt-get install --reinstall" install_deb --reinstall -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
check "edited /etc/pam.d/pop2 survives the reinstall" cmp -s "$work/pam.edited" /etc/pam.d/pop2
check "edited /etc/xinetd.d/pop2 survives the reinstall" cmp -s "$work/xinetd.edited" /etc/xinetd.d/pop2
check "an administrator's statoverride wins over the package's" \
	[ "$(stat -c '%U:%G %a' "$helper")" = "root:root 750" ]
# An upgrade: the same package as a later version (repacked with a higher
# Version). The edits and the administrator's override survive it too.
mkdir "$work/up"
dpkg-deb -R "$deb" "$work/up/tree"
sed -i "s/^Version: .*/Version: $version+up1/" "$work/up/tree/DEBIAN/control"
dpkg-deb -b --root-owner-group "$work/up/tree" "$work/up/pop2d_up.deb" >/dev/null
upgrade() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$work/up/pop2d_up.deb" >"$work/apt.log" 2>&1 ||
		{ tail -n 20 "$work/apt.log"; return 1; }
}
check "upgrade to $version+up1" upgrade
check "upgraded: dpkg says $version+up1" [ "$(dpkg-query -W -f '${Version}' pop2d)" = "$version+up1" ]
check "edited /etc/pam.d/pop2 survives the upgrade" cmp -s "$work/pam.edited" /etc/pam.d/pop2
check "edited /etc/xinetd.d/pop2 survives the upgrade" cmp -s "$work/xinetd.edited" /etc/xinetd.d/pop2
check "the administrator's statoverride survives the upgrade" \
	[ "$(stat -c '%U:%G %a' "$helper")" = "root:root 750" ]
# Back to the package's own, which a purge removes.
dpkg-statoverride --remove "$helper"
install_deb --reinstall --allow-downgrades >/dev/null
check "reinstalled without an override: set-group-ID mail again" \
	[ "$(stat -c '%U:%G %a' "$helper")" = "root:mail 2755" ]

# ------------------------------------------------------------------ purge
files=$(dpkg-query -L pop2d | while read -r f; do [ -d "$f" ] || echo "$f"; done)
dpkg --purge pop2d >"$work/purge.log" 2>&1
check "dpkg --purge pop2d" [ "$(status)" = not-installed ] ||
	cat "$work/purge.log"
left=
for f in $files /etc/pam.d/pop2 /etc/xinetd.d/pop2 "$state" \
	/etc/systemd/system/sockets.target.wants/pop2d.socket \
	/etc/systemd/system/multi-user.target.wants/pop2d-recover.service; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
check "purge leaves no file, conffile, unit link or $state${left:+ (left:$left)}" [ -z "$left" ]
check "purge removes the statoverride" [ -z "$(dpkg-statoverride --list "$helper")" ]
check "purge leaves no $state.kept-*" [ -z "$(find /var/lib -maxdepth 1 -name 'pop2d.kept-*')" ]

# --------------------------------------- a pending journal is never lost
# Removing the package finishes interrupted commits; a journal that
# remains afterwards (here: planted after the removal) and mail a commit
# set aside survive the purge, moved aside, and dpkg says where.
install_deb >/dev/null
mkdir -m 700 "$state/someone"
printf 'set-aside mail\n' >"$state/someone/recovered.mbox"
dpkg --remove pop2d >"$work/remove.log" 2>&1
check "dpkg --remove runs with a set-aside mailbox present" \
	[ "$(status)" = config-files ]
printf 'journal\n' >"$state/someone/commit.jnl"
: >"$state/someone/session"
dpkg --purge pop2d >"$work/purge2.log" 2>&1
kept=$(find /var/lib -maxdepth 1 -name 'pop2d.kept-*' -print | head -n 1)
check "purge moved the state directory aside" [ -n "$kept" ] && [ ! -e "$state" ]
check "the journal is kept" [ "$(cat "$kept/someone/commit.jnl" 2>/dev/null)" = journal ]
check "the set-aside mail is kept" [ "$(cat "$kept/someone/recovered.mbox" 2>/dev/null)" = "set-aside mail" ]
check "dpkg --purge says so and where" grep -q -F "kept as $kept" "$work/purge2.log"
check "... and names the journal" grep -q -F "$kept/someone/commit.jnl" "$work/purge2.log"
cat "$work/purge2.log"
rm -rf "$kept"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
