#!/bin/bash
# The set-group-ID pop2-lock against a hostile or unlucky user, with real
# accounts and a real root:mail 2775 spool in private namespaces
# (test/ns.sh): COMMAND gets the caller's umask back. Needs root.
# shellcheck disable=SC2016
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"

# A private copy of all of /etc: a program on the host that replaces
# /etc/passwd by a rename (useradd) would detach a bind mount on the file
# alone, and these accounts would vanish in mid-test.
mkdir "$scratch/etc.all"
cp -a /etc/. "$scratch/etc.all/"
mount --bind "$scratch/etc.all" /etc || { echo "FAIL: cannot bind a private /etc"; exit 1; }

chmod 755 "$scratch"
mkdir "$scratch/bin" "$scratch/results" "$scratch/home"
chmod 777 "$scratch/results"
# The helper as make install leaves it: set-group-ID mail.
cp "$top_builddir/pop2d/pop2-lock" "$scratch/bin/pop2-lock"
chown root:mail "$scratch/bin/pop2-lock"
chmod 2755 "$scratch/bin/pop2-lock"
helper=$scratch/bin/pop2-lock

pw='spool pass'
hash=$(ns_hash '$y$' "$pw")
ns_add_user u1 2101 2101 "$scratch/home" "$hash"
ns_add_user u2 2102 2102 "$scratch/home" "$hash"
ns_add_group u1 2101
ns_add_group u2 2102

spool=$scratch/spool
mkdir "$spool"
chown root:mail "$spool"
chmod 2775 "$spool"
for u in u1 u2; do
	: >"$spool/$u"
	chown "$u:mail" "$spool/$u"
	chmod 660 "$spool/$u"
done

as() {
	local who=$1
	shift
	setpriv --reuid="$who" --regid="$who" --init-groups "$@"
}

# wait_until COMMAND...: runs COMMAND every 0.1 s for at most 5 s.
wait_until() {
	local i
	for ((i = 0; i < 50; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

posts() {
	find "$1" -maxdepth 1 -name ".$2.lock.*" | wc -l
}

# ------------------------------------------------------------- umask

(umask 077 && as u1 "$helper" -m "$spool/u1" -- sh -c \
	'umask >"$0/umask"; cp "$MAIL" "$0/backup"' "$scratch/results")
check "-- COMMAND runs with the caller's umask (077)" [ "$(cat "$scratch/results/umask")" = 0077 ]
check "-- COMMAND: a umask 077 backup is not world-readable" \
	[ "$(stat -c %a "$scratch/results/backup")" = 600 ]
(umask 002 && as u1 "$helper" -m "$spool/u1" -- sh -c 'umask >"$0/umask"' "$scratch/results")
check "-- COMMAND runs with the caller's umask (002)" [ "$(cat "$scratch/results/umask")" = 0002 ]

finish
