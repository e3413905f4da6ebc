#!/bin/bash
# The state directory as hostile local users meet it: a FIFO, a symbolic
# link, a second link or another user's file in place of a journal;
# temporary files left by a killed commit; a recovery that hangs; a
# forged journal that names another user's file, planted through a state
# directory that users may write (the attack the StrictModes rules stop);
# a refused uid-0 login; the default state directory made at startup.
# Real users with real identity changes, in private namespaces (test/ns.sh).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"

seams=${SEAMS:-no}
chmod 755 "$scratch"
S=$scratch/S
mkdir -m 755 "$S" "$scratch/home"

# Two users of a passwd-file, with real hashes, uids and homes; "forger"
# has no uid, so its sessions keep root's identity (it only makes journals).
# Each password is hashed once, the four side by side, with SHA-512 crypt:
# some thirty logins check them, and a yescrypt hash (accounts.sh's) costs
# ten times the processor time.
declare -A hash=()
for who in victim mallory forger root; do
	ns_hash '$6$' "$who-pw" >"$scratch/$who.hash" &
done
wait
for who in victim mallory forger root; do
	hash[$who]=$(<"$scratch/$who.hash")
done
ns_add_group victim 2001
ns_add_group mallory 2002
ns_add_user victim 2001 2001 "$scratch/home/victim" "${hash[victim]}"
ns_add_user mallory 2002 2002 "$scratch/home/mallory" "${hash[mallory]}"
passwd=$scratch/passwd
{
	printf 'victim:%s:2001:2001::%s\n' "${hash[victim]}" "$scratch/home/victim"
	printf 'mallory:%s:2002:2002::%s\n' "${hash[mallory]}" "$scratch/home/mallory"
	printf 'forger:%s\n' "${hash[forger]}"
	printf 'root0:%s:0:0::/root\n' "${hash[root]}"
} >"$passwd"
chmod 600 "$passwd"

# three_messages FILE: an mbox of three messages, m1 m2 m3.
three_messages() {
	local i
	: >"$1"
	for i in 1 2 3; do
		printf 'From x@example.org Mon Nov 16 09:12:44 2026\nSubject: m%s\n\nbody %s\n\n' \
			"$i" "$i" >>"$1"
	done
}

# fresh_user NAME: home (the folder directory's parent) with INBOX at
# ~/mbox, a folder ~/mail/saved and a file ~/notes outside the folders.
fresh_user() {
	local h=$scratch/home/$1
	rm -rf "$h"
	mkdir -p "$h/mail"
	three_messages "$h/mbox"
	three_messages "$h/mail/saved"
	three_messages "$h/notes"
	chown -R "$1:$1" "$h"
	chmod 700 "$h"
}

# pop2 STATEDIR LINES...: one session as root would run it, replies in
# $scratch/out, the log (-d) in $scratch/err; extra options in $opts.
opts=()
pop2() {
	local dir=$1
	shift
	printf '%s\r\n' "$@" |
		timeout 60 "$POP2D" -d -n t -p "$passwd" -S "$dir" -m '%h/mbox' -F '%h/mail' \
			-T 10 "${opts[@]}" >"$scratch/out" 2>"$scratch/err"
}
reply() {
	sed -n "$1p" "$scratch/out" | tr -d '\r'
}
count() {
	grep -c '^Subject: ' "$1"
}

# forge_journal FILE: a real journal naming FILE (deleting its first
# message), as anybody could compute one: a root session whose INBOX is
# FILE, killed once its journal is durable. Left in $scratch/forged.
forge_journal() {
	rm -rf "$scratch/forge-state"
	mkdir -m 755 "$scratch/forge-state"
	# A passwd-file of forger alone: with the others' uids, a maildrop in
	# a home they may not write would need the lock helper (pop2d(8) -L).
	grep '^forger:' "$passwd" >"$scratch/passwd-forger"
	printf '%s\r\n' "HELO forger forger-pw" "READ 1" RETR ACKD QUIT |
		POP2_CRASH_AT=journal-synced "$POP2D" -n t -p "$scratch/passwd-forger" \
			-S "$scratch/forge-state" -m "$1" >/dev/null 2>&1
	rm -f "$1.lock"
	cp "$scratch/forge-state/forger/commit.jnl" "$scratch/forged"
	chmod 644 "$scratch/forged"
}

# --- Configuration errors reach syslog at mail.err, whatever the client
# sees: a private /dev with our own /dev/log in the mount namespace. First,
# so that test/hostsafe.sh, which kills this script once /dev is mounted,
# need not wait for the rest.
listen_log() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
out = open(sys.argv[1], "ab", buffering=0)
while True:
    out.write(s.recv(65536) + b"\n")
' "$1"
}
if command -v python3 >/dev/null && mkdir -p "$scratch/olddev" &&
	mount --rbind /dev "$scratch/olddev" && mount -t tmpfs -o mode=755 tmpfs /dev; then
	for f in null zero urandom; do
		touch "/dev/$f"
		mount --bind "$scratch/olddev/$f" "/dev/$f"
	done
	: >"$scratch/syslog"
	listen_log "$scratch/syslog" &
	listener=$!
	wait_for 10 [ -S /dev/log ]
	printf 'HELO victim victim-pw\r\n' |
		"$POP2D" -n t -p "$scratch/no-such-passwd" -S "$S" >"$scratch/out" 2>/dev/null
	status=$?
	mkdir -m 1777 "$scratch/unsafe"
	printf 'HELO victim victim-pw\r\n' |
		"$POP2D" -n t -p "$passwd" -S "$scratch/unsafe" >/dev/null 2>&1
	logged_twice() { [ "$(grep -c 'configuration error' "$scratch/syslog")" -ge 2 ]; }
	wait_for 10 logged_twice
	kill "$listener"
	wait "$listener" 2>/dev/null
	# <19>: facility mail (2) * 8 + severity err (3).
	check "an unreadable -p is logged at mail.err with the path and the fix" \
		grep -q "^<19>.*pop2d\[[0-9]*\]: configuration error: -p $scratch/no-such-passwd: No such file or directory: make it a file pop2d can read, or correct -p" "$scratch/syslog"
	check "an unsafe -S is logged at mail.err" \
		grep -q "^<19>.*configuration error: -S $scratch/unsafe is unsafe" "$scratch/syslog"
	check "the client gets only '- POP2 server unavailable', exit 2 (exit $status)" \
		[ "$status" -eq 2 -a "$(cat "$scratch/out")" = $'- POP2 server unavailable\r' ]
	for f in null zero urandom; do umount "/dev/$f"; done
	umount /dev
	umount -l "$scratch/olddev"
else
	skip "no private /dev/log here"
fi

# --- A recovery that hangs is killed after -t; the other users' still run.
# It waits out -t (1 s, the least there is), so it runs beside the cases
# that come first (spawn, in lib.sh), with homes, a passwd-file and a
# state directory of its own; its verdicts come in their place below.
case_hung_recovery() {
	local S=$scratch/S holder start status took
	mkdir -m 755 "$S" "$scratch/home"
	sed "s|:$1/home/|:$scratch/home/|" "$passwd" >"$scratch/passwd"
	chmod 600 "$scratch/passwd"
	passwd=$scratch/passwd
	fresh_user victim
	fresh_user mallory
	POP2_CRASH_AT=journal-synced pop2 "$S" "HELO victim victim-pw" "READ 1" RETR ACKD QUIT
	POP2_CRASH_AT=journal-synced pop2 "$S" "HELO mallory mallory-pw" "READ 1" RETR ACKD QUIT
	rm -f "$scratch/home/mallory/mbox.lock"
	# A live holder of victim's dot-lock: the recovery waits for it.
	sleep 300 &
	holder=$!
	rm -f "$scratch/home/victim/mbox.lock"
	echo "$holder" >"$scratch/home/victim/mbox.lock"
	start=$(date +%s)
	timeout 120 "$POP2D" -d --recover-all -t 1 -p "$passwd" -m '%h/mbox' -F '%h/mail' -S "$S" \
		>/dev/null 2>"$scratch/err"
	status=$?
	took=$(($(date +%s) - start))
	kill "$holder"
	# Killed by its own -t, not by the outer timeout (124): the log line
	# below says after how long; no bound on the clock here.
	check "a recovery stuck on a lock is killed by -t, not waited for ($took s)" [ "$status" -ne 124 ]
	check "--recover-all exits 1 for it (exit $status)" [ "$status" -eq 1 ]
	check "the killed recovery is logged" \
		grep -q "recover user=victim: killed after 1 seconds" "$scratch/err"
	check "the other user's recovery still ran" \
		[ "$(count "$scratch/home/mallory/mbox")" -eq 2 -a ! -e "$S/mallory/commit.jnl" ]
	check "the killed one's journal stays for the next login" [ -f "$S/victim/commit.jnl" ]
	rm -f "$scratch/home/victim/mbox.lock"
	pop2 "$S" "HELO victim victim-pw" QUIT
	check "the next login finishes it" \
		[ "$(reply 2)" = "#2 messages in INBOX" -a ! -e "$S/victim/commit.jnl" ]
}
if [ "$seams" = yes ]; then
	spawn hung-recovery case_hung_recovery "$scratch"
fi

# --- A journal that is not the user's lone regular file: refused, kept aside.
fresh_user victim
pop2 "$S" "HELO victim victim-pw" QUIT
check "a first login makes the user's state directory" \
	[ "$(stat -c '%u %a' "$S/victim")" = "2001 700" ]
mkfifo "$S/victim/commit.jnl"
chown victim: "$S/victim/commit.jnl"
start=$(date +%s)
pop2 "$S" "HELO victim victim-pw" QUIT
status=$?
took=$(($(date +%s) - start))
check "FIFO journal: the login does not hang (exit $status, $took s)" [ "$status" -ne 124 ]
check "FIFO journal: the login goes on" [ "$(reply 2)" = "#3 messages in INBOX" ]
check "FIFO journal: kept aside, not removed" [ -p "$S/victim/commit.jnl.refused" ]
check "FIFO journal: logged" \
	grep -q "user=victim journal $S/victim/commit.jnl refused (not a regular file): kept as commit.jnl.refused" "$scratch/err"

mkfifo "$S/victim/commit.jnl"
chown victim: "$S/victim/commit.jnl"
timeout 60 "$POP2D" -d --recover-all -p "$passwd" -m '%h/mbox' -F '%h/mail' -S "$S" \
	>/dev/null 2>"$scratch/err"
status=$?
check "FIFO journal: --recover-all does not hang, exits 1 (exit $status)" [ "$status" -eq 1 ]
check "FIFO journal: --recover-all keeps it aside as a second name" \
	[ -p "$S/victim/commit.jnl.refused.1" ]
check "FIFO journal: --recover-all names the user" \
	grep -q "pop2d: $S/victim: journal refused" "$scratch/err"

if [ "$seams" = yes ]; then
	for kind in symlink hardlink foreign; do
		fresh_user victim
		rm -rf "$S/victim"
		forge_journal "$scratch/home/victim/mbox"
		mkdir -m 700 "$S/victim"
		chown victim: "$S/victim"
		case $kind in
		symlink)
			cp "$scratch/forged" "$scratch/home/victim/jnl"
			chown victim: "$scratch/home/victim/jnl"
			ln -s "$scratch/home/victim/jnl" "$S/victim/commit.jnl"
			why="a symbolic link" ;;
		hardlink)
			cp "$scratch/forged" "$S/victim/elsewhere"
			chown victim: "$S/victim/elsewhere"
			ln "$S/victim/elsewhere" "$S/victim/commit.jnl"
			why="linked more than once" ;;
		foreign)
			cp "$scratch/forged" "$S/victim/commit.jnl"
			chown mallory: "$S/victim/commit.jnl"
			why="owned by another uid" ;;
		esac
		pop2 "$S" "HELO victim victim-pw" QUIT
		check "$kind journal: refused, INBOX untouched" \
			[ "$(reply 2)" = "#3 messages in INBOX" -a "$(count "$scratch/home/victim/mbox")" -eq 3 ]
		check "$kind journal: kept aside" [ -L "$S/victim/commit.jnl.refused" -o -f "$S/victim/commit.jnl.refused" ]
		check "$kind journal: logged why" grep -q "refused ($why)" "$scratch/err"
	done
else
	skip "journals are forged with crash points (--enable-test-seams)"
fi

# --- Leftovers of a killed commit: removed at the next login and by --recover-all.
if [ "$seams" = yes ]; then
	fresh_user victim
	rm -rf "$S/victim"
	opts=()
	POP2_CRASH_AT=journal-written pop2 "$S" "HELO victim victim-pw" "READ 1" RETR ACKD QUIT
	check "kill -9 before the rename leaves commit.jnl.tmp" [ -f "$S/victim/commit.jnl.tmp" ]
	pop2 "$S" "HELO victim victim-pw" QUIT
	check "the next login removes commit.jnl.tmp" [ ! -e "$S/victim/commit.jnl.tmp" ]
	check "the next login logs it" \
		grep -q "user=victim removed 1 temporary file(s) left in $S/victim by a killed commit" "$scratch/err"
	check "the maildrop is whole" [ "$(count "$scratch/home/victim/mbox")" -eq 3 ]
	POP2_CRASH_AT=journal-written pop2 "$S" "HELO victim victim-pw" "READ 1" RETR ACKD QUIT
	timeout 60 "$POP2D" -d --recover-all -p "$passwd" -m '%h/mbox' -F '%h/mail' -S "$S" \
		>/dev/null 2>"$scratch/err"
	check "--recover-all removes commit.jnl.tmp (exit $?)" [ ! -e "$S/victim/commit.jnl.tmp" ]
	check "--recover-all logs it" grep -q "recover user=victim removed 1 temporary file(s)" "$scratch/err"
	mkfifo "$S/victim/other.tmp"
	chown victim: "$S/victim/other.tmp"
	pop2 "$S" "HELO victim victim-pw" QUIT
	check "a leftover name that is not a regular file is left alone" [ -p "$S/victim/other.tmp" ]
	rm -f "$S/victim/other.tmp"
fi

# --- A recovery that hangs (started above).
if [ "$seams" = yes ]; then
	collect hung-recovery
fi

# --- The attack: with a state directory users may write, mallory plants a
# forged journal in victim's state directory that names victim's ~/notes;
# victim's next login would rewrite it.
if [ "$seams" = yes ]; then
	fresh_user victim
	fresh_user mallory
	forge_journal "$scratch/home/victim/notes"
	U=$scratch/U
	rm -rf "$U"
	mkdir -m 1777 "$U"
	setpriv --reuid=mallory --regid=mallory --clear-groups \
		sh -c "mkdir -m 755 '$U/victim' && cp '$scratch/forged' '$U/victim/commit.jnl' && chmod 666 '$U/victim/commit.jnl'"
	check "mallory planted a journal in a state directory users may write" \
		[ "$(stat -c %U "$U/victim/commit.jnl")" = mallory ]
	pop2 "$U" "HELO victim victim-pw" QUIT
	check "attack: a state directory users may write is refused at startup" \
		[ "$(reply 1)" = "- POP2 server unavailable" ]
	check "attack: victim's notes untouched" [ "$(count "$scratch/home/victim/notes")" -eq 3 ]
	check "attack: the log says why" grep -q "configuration error: -S $U is unsafe" "$scratch/err"

	# The state directory made safe afterwards: mallory's folder is not adopted.
	chmod 755 "$U"
	pop2 "$U" "HELO victim victim-pw" QUIT
	check "attack: STATE/victim made by mallory is not adopted" \
		[ "$(reply 2)" = "- State directory unusable" -a "$(stat -c %U "$U/victim")" = mallory ]
	check "attack: notes still untouched" [ "$(count "$scratch/home/victim/notes")" -eq 3 ]
	check "attack: logged" grep -q "state directory $U/victim belongs to another uid: not adopted" "$scratch/err"

	# The administrator gives the folder back: mallory's journal in it is refused.
	chown victim: "$U/victim"
	chmod 700 "$U/victim"
	pop2 "$U" "HELO victim victim-pw" QUIT
	check "attack: mallory's journal in victim's folder is refused" \
		[ "$(reply 2)" = "#3 messages in INBOX" -a -f "$U/victim/commit.jnl.refused" ]
	check "attack: notes still untouched after the login" [ "$(count "$scratch/home/victim/notes")" -eq 3 ]

	# Even victim's own journal may name only victim's maildrop or folders.
	cp "$scratch/forged" "$U/victim/commit.jnl"
	chown victim: "$U/victim/commit.jnl"
	pop2 "$U" "HELO victim victim-pw" QUIT
	check "a journal naming a file outside the maildrop and folders is refused" \
		[ "$(reply 2)" = "#3 messages in INBOX" -a -f "$U/victim/commit.jnl.refused.1" ]
	check "... and logged with the name" \
		grep -q "refused (names neither the maildrop nor a folder: $scratch/home/victim/notes)" "$scratch/err"
	check "... notes untouched" [ "$(count "$scratch/home/victim/notes")" -eq 3 ]
	cp "$scratch/forged" "$U/victim/commit.jnl"
	chown victim: "$U/victim/commit.jnl"
	timeout 60 "$POP2D" -d --recover-all -p "$passwd" -m '%h/mbox' -F '%h/mail' -S "$U" \
		>/dev/null 2>"$scratch/err"
	check "--recover-all refuses it too (exit $?)" \
		[ -f "$U/victim/commit.jnl.refused.2" -a "$(count "$scratch/home/victim/notes")" -eq 3 ]

	# A journal of a folder beneath the folder directory is finished.
	rm -rf "$U/victim"
	POP2_CRASH_AT=journal-synced pop2 "$U" "HELO victim victim-pw" "FOLD saved" "READ 1" RETR ACKD QUIT
	rm -f "$scratch/home/victim/mail/saved.lock"
	pop2 "$U" "HELO victim victim-pw" QUIT
	check "a folder's journal is finished at the next login" \
		[ "$(count "$scratch/home/victim/mail/saved")" -eq 2 -a ! -e "$U/victim/commit.jnl" ]

	# The folder directory out of reach (a home not mounted yet): the
	# folder's journal is kept, never refused, and finished once it is back.
	POP2_CRASH_AT=journal-synced pop2 "$U" "HELO victim victim-pw" "FOLD saved" "READ 1" RETR ACKD QUIT
	rm -f "$scratch/home/victim/mail/saved.lock"
	mode=$(stat -c %a "$scratch/home/victim/mail")
	chmod 000 "$scratch/home/victim/mail"
	pop2 "$U" "HELO victim victim-pw" QUIT
	check "folder directory out of reach: the login is refused" \
		[ "$(reply 2)" = "- Cannot open maildrop" ]
	check "... and the folder's journal is kept, not set aside" \
		[ -f "$U/victim/commit.jnl" -a ! -e "$U/victim/commit.jnl.refused.3" ]
	timeout 60 "$POP2D" -d --recover-all -p "$passwd" -m '%h/mbox' -F '%h/mail' -S "$U" \
		>/dev/null 2>"$scratch/err"
	status=$?
	check "... --recover-all keeps it too and exits 1 (exit $status)" \
		[ "$status" -eq 1 -a -f "$U/victim/commit.jnl" -a ! -e "$U/victim/commit.jnl.refused.3" ]
	chmod "$mode" "$scratch/home/victim/mail"
	pop2 "$U" "HELO victim victim-pw" QUIT
	check "... and the next login with it back finishes it" \
		[ "$(count "$scratch/home/victim/mail/saved")" -eq 1 -a ! -e "$U/victim/commit.jnl" ]
fi

# --- --recover-all and a folder whose account is gone.
G=$scratch/G
mkdir -m 755 "$G" "$G/ghost"
chown 3003:3003 "$G/ghost"
timeout 60 "$POP2D" -d --recover-all -p "$passwd" -m '%h/mbox' -S "$G" >/dev/null 2>"$scratch/err"
status=$?
check "a former user's folder without a journal: --recover-all exits 0 (exit $status)" \
	[ "$status" -eq 0 ]
: >"$G/ghost/commit.jnl"
chown 3003:3003 "$G/ghost/commit.jnl"
timeout 60 "$POP2D" -d --recover-all -p "$passwd" -m '%h/mbox' -S "$G" >/dev/null 2>"$scratch/err"
status=$?
check "with a journal: --recover-all exits 1 (exit $status)" [ "$status" -eq 1 ]
check "with a journal: it is left alone and logged" \
	grep -q "recover user=ghost: journal left alone: no such user in the passwd-file" "$scratch/err"
check "with a journal: the journal is untouched" [ -f "$G/ghost/commit.jnl" ]

# --- A refused uid-0 passwd-file login makes no state directory.
pop2 "$S" "HELO root0 root-pw"
check "uid 0 in the passwd-file: - Bad login" [ "$(reply 2)" = "- Bad login" ]
check "uid 0 in the passwd-file: no $S/root0 made" [ ! -e "$S/root0" ]

# --- Run as root, pop2d makes the missing default state directory.
if mount -t tmpfs -o mode=755 tmpfs /var/lib 2>/dev/null; then
	printf 'QUIT\r\n' | "$POP2D" -d -n t -p "$passwd" -m '%h/mbox' >"$scratch/out" 2>"$scratch/err"
	check "the missing default state directory is made, root 0755" \
		[ "$(stat -c '%U %a' /var/lib/pop2d 2>/dev/null)" = "root 755" ]
	check "and logged" grep -q "made the missing state directory /var/lib/pop2d" "$scratch/err"
	check "and the session is served" [ "$(reply 1)" = "+ POP2 t pop2d $VERSION server ready" ]
	"$POP2D" -d -n t -p "$passwd" -S /var/lib/other </dev/null >"$scratch/out" 2>"$scratch/err"
	check "a missing -S other than the default is a configuration error (exit $?)" \
		[ "$(reply 1)" = "- POP2 server unavailable" -a ! -e /var/lib/other ]
	umount /var/lib
else
	skip "cannot mount a private tmpfs on /var/lib"
fi

# --- The boot-time unit cannot wait for ever.
timeout_setting=$(sed -n 's/^TimeoutStartSec=//p' "$top_srcdir/systemd/pop2d-recover.service.in")
check "pop2d-recover.service has a finite TimeoutStartSec ($timeout_setting)" \
	[ -n "$timeout_setting" -a "$timeout_setting" != infinity -a "$timeout_setting" != 0 ]

finish
