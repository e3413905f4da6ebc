#!/bin/bash
# Debian's openbsd-inetd, run for real in the foreground with the
# /etc/services line and the /etc/inetd.conf line that pop2d(8) gives in
# EXAMPLES, taken from the man page itself: a whole session over TCP
# compared byte for byte with a transcript. The line says user root, so
# this runs as root inside the private namespaces of test/ns.sh, where
# /etc (so /etc/services) is a private copy and inetd dies with the test
# however it ends.
#
# What differs from the documented lines, and why:
# - the /etc/services port: a free one instead of 109 (the private
#   /etc/services gets the documented line with that port);
# - the inetd.conf service field: "127.0.0.1:" before the service name,
#   so that nothing listens beyond loopback;
# - the server program: the built pop2d instead of /usr/sbin/pop2d, with
#   -n, -p, -S, -m and -F after its name pointing into the scratch folder.
# inetd writes /run/inetd.pid whatever its options, so /run is a private
# tmpfs here.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
# Debian's openbsd-inetd conflicts with its xinetd, which other tests
# need: INETD may name an openbsd-inetd binary unpacked from its package
# (dpkg-deb -x) instead of an installed one.
if [ -n "${INETD:-}" ]; then
	inetd=$INETD
	[ -x "$inetd" ] || skip_all "INETD=$INETD is not an executable"
else
	inetd=$(PATH=$PATH:/usr/sbin:/sbin command -v inetd) &&
		dpkg -S "$(readlink -f "$inetd")" 2>/dev/null | grep -q '^openbsd-inetd:' ||
		skip_all "openbsd-inetd is not installed (Debian: openbsd-inetd, or INETD=its binary)"
fi
# test/hostsafe.sh asks whether this can run here before it starts it.
[ "${1:-}" = --can-run ] && exit 0
ns_enter "$@"
. "$(dirname "$0")/launch.sh"

# A scratch folder in /run (a checkout beneath /tmp puts it there) is
# carried over onto the private /run, which goes again before ns.sh's
# clean-up so that it removes the real folder.
case $scratch/ in
/run/*)
	mount --rbind "$scratch" /mnt &&
		mount -t tmpfs -o mode=0755 pop2d-test /run &&
		mkdir -p "$scratch" && mount --move /mnt "$scratch" ||
		{ echo "FAIL: cannot carry the scratch folder over a private /run"; exit 1; }
	trap 'umount -l /run; ns_unmount_scratch; umount -l "$scratch"; rm -rf "$scratch"' EXIT
	;;
*)
	mount -t tmpfs -o mode=0755 pop2d-test /run ||
		{ echo "FAIL: cannot mount a private /run"; exit 1; }
	;;
esac

# The documented lines, from the man page's literal displays (tabs kept).
services_line=$(grep -P '^pop2\t+109/tcp' "$top_srcdir/doc/pop2d.8")
inetd_line=$(grep -P '^pop2\tstream\t' "$top_srcdir/doc/pop2d.8")
if [ -z "$services_line" ] || [ -z "$inetd_line" ]; then
	fail "pop2d(8) gives an /etc/services line and an /etc/inetd.conf line for pop2"
	finish
	exit 1
fi
pass "pop2d(8) gives an /etc/services line and an /etc/inetd.conf line for pop2"

cp /etc/services "$scratch/services.orig"
# Without -d: under inetd standard error is the connection.
args="-n pop2.test -p $data/passwd -S $state -m $scratch/maildrop -F $scratch/home"
export scratch services_line inetd_line POP2D args inetd
# launch fills in the port: the files are written by a shell that inetd
# then replaces.
# shellcheck disable=SC2016 # expanded by the inner shell
if launch inetd bash -c '
	port=$1
	{ cat "$scratch/services.orig"; printf "%s\n" "$services_line" |
		sed -E "s|([[:space:]])109/tcp|\\1$port/tcp|"; } >/etc/services
	printf "%s\n" "$inetd_line" | awk -v pop2d="$POP2D" -v args="$args" \
		"BEGIN { FS = OFS = \"\\t\" } { \$1 = \"127.0.0.1:\" \$1; \$6 = pop2d; \$7 = \$7 \" \" args; print }" \
		>"$scratch/inetd.conf"
	exec "$inetd" -i "$scratch/inetd.conf"
' inetd @PORT@; then
	pass "inetd: listening on 127.0.0.1 port $port, named pop2 through /etc/services"
	if client 127.0.0.1 "$port"; then
		if cmp -s "$scratch/expected" "$scratch/out"; then
			pass "inetd: HELO, READ, RETR, ACKS, QUIT answered as in the transcript"
		else
			fail "inetd: HELO, READ, RETR, ACKS, QUIT answered as in the transcript"
			show_difference "$scratch/expected" "$scratch/out"
		fi
	else
		fail "inetd: a session over TCP"
	fi
	check "inetd: the maildrop is unchanged" cmp -s "$data/mbox/basic.mbox" "$scratch/maildrop"
	stop_launcher
	check "inetd: stopped" wait_for 10 bash -c '! kill -0 "$1" 2>/dev/null' _ "$launcher"
else
	fail "inetd: listening on 127.0.0.1 for the documented pop2 line"
	echo "inetd.conf:"
	cat "$scratch/inetd.conf" 2>/dev/null
fi

finish
