#!/bin/bash
# pop2-lock installed set-group-ID mail, as root in the private namespaces
# of test/ns.sh: user nobody locks its own file in a root:mail 2775 spool,
# the command runs without group mail, service mode against dotlockfile,
# the refusals (no set-group-ID bit, root's file, a symbolic link, a folder
# group mail may not write), and the default target /var/mail/$USER.
# Many commands below are shell scripts for the locked command to expand.
# shellcheck disable=SC2016
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"

: "${POP2_LOCK:=$top_builddir/pop2d/pop2-lock}"
command -v dotlockfile >/dev/null || skip_all "dotlockfile is not installed (Debian: liblockfile-bin)"

dotlock_try() {
	dotlockfile -l -r 0 "$1"
	local status=$?
	[ "$status" -eq 0 ] && dotlockfile -u "$1"
	return "$status"
}

release() {
	exec 3>&-
	wait "$holder"
}

# ------------------------------------------------- set-group-ID, as root

# nobody must reach the copies and write its results; it runs where it may.
chmod 755 "$scratch"
cd "$scratch" || exit 1
spool=$scratch/spool
mkdir "$spool" "$scratch/bin" "$scratch/results"
chmod 777 "$scratch/results"
chown root:mail "$spool"
chmod 2775 "$spool"
cp "$POP2_LOCK" "$scratch/bin/pop2-lock"
chown root:mail "$scratch/bin/pop2-lock"
chmod 2755 "$scratch/bin/pop2-lock"
cp "$POP2_LOCK" "$scratch/bin/plain"
: >"$spool/nobody"
chown 65534:65534 "$spool/nobody"
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

as_nobody "$scratch/bin/pop2-lock" -m "$spool/nobody" -- sh -c '
	echo "$(stat -c "%U %G" "$MAIL.lock") $(id -G) $(grep ^Gid: /proc/self/status | tr -s "\t " " ")" >"$0"' \
	"$scratch/results/nobody"
status=$?
check "setgid: nobody locks its file in a root:mail spool" [ "$status" -eq 0 ]
check "setgid: the lock is nobody's, group mail" [ "$(cut -d' ' -f1-2 "$scratch/results/nobody" 2>/dev/null)" = "nobody mail" ]
check "setgid: the command runs without group mail, for good" \
	[ "$(cut -d' ' -f3- "$scratch/results/nobody" 2>/dev/null)" = "65534 Gid: 65534 65534 65534 65534" ]
check "setgid: the lock is removed afterwards" [ ! -e "$spool/nobody.lock" ]

rm -f "$scratch/in" "$scratch/answer"
mkfifo "$scratch/in"
as_nobody "$scratch/bin/pop2-lock" -m "$spool/nobody" <"$scratch/in" >"$scratch/answer" &
holder=$!
exec 3>"$scratch/in"
wait_for 30 [ -s "$scratch/answer" ]
check "setgid: service mode answers 1" [ "$(cat "$scratch/answer")" = 1 ]
dotlock_try "$spool/nobody.lock"
check "setgid: dotlockfile sees it busy" [ $? -ne 0 ]
as_nobody "$scratch/bin/pop2-lock" -m "$spool/nobody" </dev/null >/dev/null
check "setgid: a second pop2-lock is told busy (75)" [ $? -eq 75 ]
release
check "setgid: service mode exits 0 at EOF" [ $? -eq 0 ]
check "setgid: released at EOF" [ ! -e "$spool/nobody.lock" ]

as_nobody "$scratch/bin/plain" -m "$spool/nobody" </dev/null >/dev/null
check "without the setgid bit: 77 (folder not writable)" [ $? -eq 77 ]
: >"$spool/roots"
as_nobody "$scratch/bin/pop2-lock" -m "$spool/roots" </dev/null >/dev/null
check "setgid: root's file in the spool: 77" [ $? -eq 77 ]
ln -s nobody "$spool/link"
chown -h 65534:65534 "$spool/link"
as_nobody "$scratch/bin/pop2-lock" -m "$spool/link" </dev/null >/dev/null
check "setgid: a symbolic link, even one's own: 77" [ $? -eq 77 ]
check "setgid: no lock made for refused targets" \
	[ -z "$(find "$spool" -name '*.lock')" ]
mkdir "$scratch/rootdir"
cp "$spool/nobody" "$scratch/rootdir/nobody"
chown 65534 "$scratch/rootdir/nobody"
as_nobody "$scratch/bin/pop2-lock" -m "$scratch/rootdir/nobody" </dev/null >/dev/null
check "setgid: a folder group mail may not write: 77" [ $? -eq 77 ]

# The default target, the caller's own spool file, as root: /var/mail is
# a private tmpfs of the namespace, so the host's spool is never touched.
mkdir -p /var/mail
ns_tmpfs /var/mail mode=2775
chown root:mail /var/mail
: >/var/mail/root
"$POP2_LOCK" -- sh -c '[ "$MAIL" = "/var/mail/$USER" ] && [ -f "$MAIL.lock" ]'
check "no -m: the caller's /var/mail/\$USER is locked" [ $? -eq 0 ]
check "no -m: and unlocked" [ ! -e /var/mail/root.lock ]

finish
