#!/bin/bash
# The set-group-ID pop2-lock and the spool against a hostile or unlucky
# user, with real accounts and a real root:mail 2775 spool in private
# namespaces (test/ns.sh): COMMAND gets the caller's umask back; no
# signal the caller can send, nor a file size limit, leaves a hitching
# post behind, and the caller's own dead posts are cleared; a spool with
# no free block still lets its users log in and delete mail, through the
# helper and directly. Needs root, liblockfile-bin.
# shellcheck disable=SC2016
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"

if ! command -v dotlockfile >/dev/null; then
	echo "FAIL: dotlockfile is not installed (apt-get install liblockfile-bin)"
	exit 1
fi

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

# wait_until COMMAND...: wait_for COMMAND, for at most 5 s.
wait_until() {
	wait_for 5 "$@"
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

# ------------------------------------------------------- hitching posts

# A file size limit of 0 made the write of the PID kill the helper with
# SIGXFSZ between making its post and removing it.
for ((i = 0; i < 20; i++)); do
	# Standard error through a pipe: the limit applies to files only.
	(ulimit -f 0 && exec setpriv --reuid=u1 --regid=u1 --init-groups "$helper" -m "$spool/u1") \
		</dev/null 2>&1 >/dev/null | cat >"$scratch/err"
	status=${PIPESTATUS[0]}
done
check "ulimit -f 0: the helper fails cleanly (73, not killed: $status)" [ "$status" -eq 73 ]
check "ulimit -f 0: the reason is said" grep -q 'File too large' "$scratch/err"
check "ulimit -f 0, 20 runs: no hitching post left" [ "$(posts "$spool" u1)" -eq 0 ]
check "ulimit -f 0: no lock left" [ ! -e "$spool/u1.lock" ]

# Signals other than TERM, HUP and INT end a holder cleanly too. (QUIT
# and INT are ignored in a background job of a script, and stay so.)
for sig in USR1 USR2 ALRM PWR; do
	rm -f "$scratch/in" "$scratch/answer"
	mkfifo "$scratch/in"
	setpriv --reuid=u1 --regid=u1 --init-groups "$helper" -m "$spool/u1" \
		<"$scratch/in" >"$scratch/answer" 2>/dev/null &
	holder=$!
	exec 3>"$scratch/in"
	wait_until [ -s "$scratch/answer" ]
	kill -"$sig" "$holder"
	wait "$holder"
	status=$?
	# Looked at before its standard input closes, which would unlock too.
	if [ -e "$spool/u1.lock" ]; then left=yes; else left=no; fi
	exec 3>&-
	check "SIG$sig to a holder: it exits $((128 + $(kill -l "$sig"))) ($status), lock removed (left: $left)" \
		[ "$status" -eq $((128 + $(kill -l "$sig"))) -a "$left" = no ]
	rm -f "$spool/u1.lock"
done

# Posts left by a SIGKILL (which nothing can block): the caller's own,
# of a process that is dead on this host, are cleared at the next run;
# another user's, a live process's and another host's are not.
host=$(hostname | tr -c 'a-zA-Z0-9.\n-' '_')
sh -c 'exit 0' &
dead=$!
wait "$dead"
plant() { # plant NAME OWNER: a post holding a PID
	printf '%s\n' "$dead" >"$spool/$1"
	chown "$2:mail" "$spool/$1"
	chmod 644 "$spool/$1"
}
plant ".u1.lock.$host.$dead.0123456789abcdef" u1
plant ".u1.lock.$host.$$.0123456789abcdef" u1
plant ".u1.lock.other-host.$dead.0123456789abcdef" u1
plant ".u2.lock.$host.$dead.0123456789abcdef" u2
plant ".u1.lock.$host.$dead.fedcba9876543210" u2
as u1 "$helper" -m "$spool/u1" -- true
check "the caller's dead post is cleared" [ ! -e "$spool/.u1.lock.$host.$dead.0123456789abcdef" ]
check "a live process's post is kept" [ -e "$spool/.u1.lock.$host.$$.0123456789abcdef" ]
check "another host's post is kept" [ -e "$spool/.u1.lock.other-host.$dead.0123456789abcdef" ]
check "another user's post is kept" [ -e "$spool/.u2.lock.$host.$dead.0123456789abcdef" ]
check "a post of the caller's name owned by another user is kept" \
	[ -e "$spool/.u1.lock.$host.$dead.fedcba9876543210" ]
rm -f "$spool"/.u?.lock.*

# ------------------------------------------------------------ full spool

# A tmpfs filled to its last block, with a maildrop of two messages for
# u1 in it, and a folder of u1's own for the direct case.
full=$scratch/full
mkdir "$full"
ns_tmpfs "$full" size=256k,mode=2775 || { echo "FAIL: cannot mount a tmpfs"; exit 1; }
chown root:mail "$full"
mkdir -m 700 "$full/own"
chown u1:u1 "$full/own"
mbox() {
	printf 'From a@example.org Mon Nov 16 09:12:44 2026\nSubject: one\n\nfirst\n\n'
	printf 'From b@example.org Mon Nov 16 09:13:44 2026\nSubject: two\n\nsecond\n\n'
}
mbox >"$full/u1"
chown u1:mail "$full/u1"
chmod 660 "$full/u1"
mbox >"$full/own/mbox"
chown u1:u1 "$full/own/mbox"
dd if=/dev/zero of="$full/filler" bs=4096 2>/dev/null
dd if=/dev/zero of="$full/filler2" bs=1 2>/dev/null
check "the spool has no free block" [ "$(df --output=avail -B1 "$full" | tail -1 | tr -d ' ')" -eq 0 ]

# The helper makes an empty lock where the PID cannot be written.
rm -f "$scratch/in" "$scratch/answer"
mkfifo "$scratch/in"
as u1 "$helper" -m "$full/u1" <"$scratch/in" >"$scratch/answer" 2>"$scratch/err" &
holder=$!
exec 3>"$scratch/in"
wait_until [ -s "$scratch/answer" ]
check "full spool: the helper takes the lock ($(cat "$scratch/answer"))" [ "$(cat "$scratch/answer")" = 1 ]
check "full spool: the lock is there" [ -f "$full/u1.lock" ]
check "full spool: the lock is empty" [ ! -s "$full/u1.lock" ]
dotlockfile -l -r 0 "$full/u1.lock" 2>/dev/null
check "full spool: dotlockfile sees the empty lock busy" [ $? -ne 0 ]
exec 3>&-
wait "$holder"
status=$?
check "full spool: the helper exits 0 ($status)" [ "$status" -eq 0 ]
check "full spool: the helper releases the lock" [ ! -e "$full/u1.lock" ]

# pop2d SESSION-OPTIONS...: log in as u1, delete message 1, QUIT.
delete_first() {
	printf 'HELO u1 %s\r\nREAD 1\r\nRETR\r\nACKD\r\nQUIT\r\n' "$pw" |
		"$POP2D" -d -n t -S "$state" -L "$helper" "$@" >"$scratch/out" 2>"$scratch/err"
}
for how in "helper:-m $full/%u:$full/u1" "direct:-m $full/own/mbox:$full/own/mbox"; do
	IFS=: read -r what opts file <<<"$how"
	# shellcheck disable=SC2086
	delete_first $opts
	check "full spool ($what): login" [ "$(sed -n 2p "$scratch/out" | tr -d '\r')" = "#2 messages in INBOX" ]
	check "full spool ($what): the deleting QUIT" [ "$(tail -n 1 "$scratch/out" | tr -d '\r')" = "+ OK Sayonara" ]
	check "full spool ($what): message 1 is gone, message 2 kept" \
		[ "$(grep -c '^Subject: ' "$file")" -eq 1 -a "$(grep -c '^Subject: two' "$file")" -eq 1 ]
	check "full spool ($what): no lock, no post left" \
		[ ! -e "$file.lock" -a "$(find "$(dirname "$file")" -maxdepth 1 -name '.*.lock.*' | wc -l)" -eq 0 ]
	[ "$(sed -n 2p "$scratch/out" | tr -d '\r')" = "#2 messages in INBOX" ] || grep -i 'reason' "$scratch/err"
done

# A set-group-ID helper on a nosuid mount runs without group mail: it
# refuses the spool, and pop2d's log says why, naming the mount.
mkdir "$scratch/nosuid"
mount -t tmpfs -o nosuid,mode=755 nosuid "$scratch/nosuid"
cp "$helper" "$scratch/nosuid/pop2-lock"
chown root:mail "$scratch/nosuid/pop2-lock"
chmod 2755 "$scratch/nosuid/pop2-lock"
mbox >"$spool/u2"
printf 'HELO u2 %s\r\nQUIT\r\n' "$pw" |
	"$POP2D" -d -n t -S "$state" -L "$scratch/nosuid/pop2-lock" -m "$spool/%u" >"$scratch/out" 2>"$scratch/err"
check "nosuid helper: the login is refused" [ "$(sed -n 2p "$scratch/out" | cut -c1)" = "-" ]
check "nosuid helper: the log names the nosuid mount" grep -q 'mounted nosuid, so it cannot gain group mail' "$scratch/err"
check "nosuid helper: the log has the helper's own reason" grep -q 'folder not writable by group mail' "$scratch/err"
check "nosuid helper: no lock, no post left" \
	[ ! -e "$spool/u2.lock" -a "$(find "$spool" -maxdepth 1 -name '.*.lock.*' | wc -l)" -eq 0 ]
umount "$scratch/nosuid"

finish
