#!/bin/bash
# pop2d --recover-all at boot, beyond test/state.sh's hostile journals:
# what else a state directory may hold (files, dotfiles, a former user's
# folder, a folder nobody owns), a user whose session is running, a
# recovery process that dies, a state folder that became unusable, a
# maildrop template that cannot be expanded or expands past PATH_MAX,
# and a summary that cannot be written. Each outcome must be logged,
# summed up and reflected in the exit status. Real users with real
# identity changes, in private namespaces (test/ns.sh); the crashed
# commits need --enable-test-seams.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
. "$(dirname "$0")/sessions.sh"
[ "${SEAMS:-no}" = yes ] || skip_all "the crashed commits need ./configure --enable-test-seams"
ns_enter "$@"

chmod 755 "$scratch"
S=$scratch/S
mkdir -m 755 "$S" "$scratch/home"
ns_add_group rina 2101
ns_add_group sam 2102
ns_add_user rina 2101 2101 "$scratch/home/rina" "$(ns_hash '$y$' rina-pw 1)"
ns_add_user sam 2102 2102 "$scratch/home/sam" "$(ns_hash '$y$' sam-pw 1)"
passwd=$scratch/passwd
{
	printf 'rina:%s:2101:2101::%s\n' "$(ns_hash '$y$' rina-pw 1)" "$scratch/home/rina"
	printf 'sam:%s:2102:2102::%s\n' "$(ns_hash '$y$' sam-pw 1)" "$scratch/home/sam"
} >"$passwd"
chmod 600 "$passwd"

# fresh_user NAME: a home with an INBOX of three messages at ~/mbox.
fresh_user() {
	local h=$scratch/home/$1 i
	rm -rf "$h"
	mkdir -p "$h"
	for i in 1 2 3; do
		printf 'From x@example.org Mon Nov 16 09:12:44 2026\nSubject: m%s\n\nbody %s\n\n' \
			"$i" "$i"
	done >"$h/mbox"
	chown -R "$1:$1" "$h"
	chmod 700 "$h"
}

# crashed NAME: NAME's session deletes the first message and is killed
# once its journal is durable: a commit for --recover-all to finish.
crashed() {
	fresh_user "$1"
	(printf '%s\r\n' "HELO $1 $1-pw" "READ 1" RETR ACKD QUIT |
		POP2_CRASH_AT=journal-synced "$POP2D" -n t -p "$passwd" -S "$S" -m '%h/mbox') \
		>/dev/null 2>&1
	rm -f "$scratch/home/$1/mbox.lock"
	[ -f "$S/$1/commit.jnl" ]
}

# recover [OPTIONS...]: pop2d --recover-all on $S; the summary in
# $scratch/out, the log (-d) in $scratch/err, the exit status in $status.
recover() {
	timeout 60 "$POP2D" -d --recover-all -m '%h/mbox' -S "$S" "$@" \
		>"$scratch/out" 2>"$scratch/err"
	status=$?
}

count() {
	grep -c '^Subject: ' "$1"
}

# --- Things in the state directory that are no user's folder.
check "rina's commit was cut short" crashed rina
echo 'not a folder' >"$S/stray-file"
mkdir -m 700 "$S/.hidden"
# A former user's folder without a journal, and one with a journal.
mkdir -m 700 "$S/gone" "$S/gone-jnl"
cp "$S/rina/commit.jnl" "$S/gone-jnl/commit.jnl"
recover -p "$passwd"
check "a stray file, a dotfile and a former user's folder: exit 1 for the journal alone ($status)" \
	[ "$status" -eq 1 ]
check "rina's commit finished" [ "$(count "$scratch/home/rina/mbox")" -eq 2 -a ! -e "$S/rina/commit.jnl" ]
check "a former user's journal is left alone, and logged" \
	grep -q "recover user=gone-jnl: journal left alone: no such user in the passwd-file" "$scratch/err"
check "... and kept" [ -f "$S/gone-jnl/commit.jnl" ]
check "a former user's folder without a journal is no failure" bash -c "! grep -q 'user=gone[: ]' '$scratch/err'"
check "the summary counts every entry but the dotfile" \
	grep -q '^pop2d: recovery: 4 users, 1 commits finished, 0 set aside, 0 refused, 1 failed, 0 skipped' "$scratch/out"
check "the failure is named on standard error" grep -q "pop2d: $S/gone-jnl: recovery failed" "$scratch/err"
rm -rf "$S/stray-file" "$S/.hidden" "$S/gone"

# The system's accounts (no -p): the same journal of no account.
recover
check "system accounts: a folder of no account with a journal is left alone" \
	grep -q "recover user=gone-jnl: journal left alone: no such account" "$scratch/err"
check "system accounts: exit 1 ($status)" [ "$status" -eq 1 ]
rm -rf "$S/gone-jnl"

# A folder that its user does not own: someone else may have made it.
check "sam's commit was cut short" crashed sam
chown rina "$S/sam"
recover -p "$passwd"
check "a state folder not owned by its user: left alone, exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged" grep -q "recover user=sam: journal left alone: the directory's owner is not the account's uid" "$scratch/err"
check "... and nothing of sam's deleted" [ "$(count "$scratch/home/sam/mbox")" -eq 3 ]
chown sam "$S/sam"

# The same folder made unusable (writable by its group): the recovery
# cannot trust it.
chmod 770 "$S/sam"
recover -p "$passwd"
check "a group-writable state folder: the recovery fails, exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged as unusable" grep -q "recover user=sam outcome=failed: state directory $S/sam unusable" "$scratch/err"
check "... the journal stays" [ -f "$S/sam/commit.jnl" ]
chmod 700 "$S/sam"

# A maildrop template that cannot be expanded for this user: %h, and an
# entry without a home.
sed 's|^\(sam:[^:]*:[^:]*:[^:]*:[^:]*:\).*$|\1|' "$passwd" >"$scratch/passwd-nohome"
chmod 600 "$scratch/passwd-nohome"
recover -p "$scratch/passwd-nohome"
check "a maildrop template that cannot be expanded: exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged" grep -q "recover user=sam: journal left alone: the maildrop template cannot be expanded" "$scratch/err"
check "... the journal stays" [ -f "$S/sam/commit.jnl" ]

# A maildrop template longer than any path the kernel takes has no bound
# of its own: it expands, and sam's journal, which names a folder beneath
# -F (%h), is finished.
long=$(printf '%0300d' 0)
recover -p "$passwd" -m "/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/$long/%h/%u"
check "a maildrop template longer than PATH_MAX: exit 0 ($status)" [ "$status" -eq 0 ]
check "... sam's folder finished" grep -q "recover user=sam maildrop=$scratch/home/sam/mbox outcome=finished" "$scratch/err"
check "... and its message deleted" [ "$(count "$scratch/home/sam/mbox")" -eq 2 -a ! -e "$S/sam/commit.jnl" ]

# --- A session that is running: it recovered at its login, and holds
# the session lock; --recover-all skips its user.
session_start live "%h/mbox" -p "$passwd" -S "$S"
session_send live "HELO sam sam-pw"
check "sam's session recovers at its login and runs" session_wait live '#2 messages in INBOX' 30
check "rina's commit was cut short again" crashed rina
recover -p "$passwd"
check "a running session's user is skipped, exit 0 ($status)" [ "$status" -eq 0 ]
check "... logged" grep -q "recover user=sam outcome=skipped: a session is running" "$scratch/err"
check "... and summed up" \
	grep -q '^pop2d: recovery: 2 users, 1 commits finished, 0 set aside, 0 refused, 0 failed, 1 skipped' "$scratch/out"
session_send live QUIT
session_end live
check "the running session ends normally" [ $? -eq 0 ]

# --- A recovery process that dies: the journal stays for the next login.
check "rina's commit was cut short once more" crashed rina
POP2_CRASH_AT=truncated recover -p "$passwd"
check "a recovery killed midway: exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged as ended abnormally" \
	grep -q "recover user=rina outcome=failed: the recovery process ended abnormally" "$scratch/err"
check "... the journal stays" [ -f "$S/rina/commit.jnl" ]
recover -p "$passwd"
check "the next --recover-all finishes it (exit $status)" \
	[ "$status" -eq 0 -a "$(count "$scratch/home/rina/mbox")" -eq 2 -a ! -e "$S/rina/commit.jnl" ]

# --- A folder's commit cut short, then the folder replaced by a symbolic
# link: the journal's path is no longer followed, so nothing is written
# through the link; the journal's data is set aside. With the folder
# directory itself out of reach (a file in its place, as an unmounted
# home would be), the journal is kept for a later recovery instead.
folder_crash() {
	fresh_user rina
	mkdir -p "$scratch/home/rina/mail"
	cp "$scratch/home/rina/mbox" "$scratch/home/rina/mail/saved"
	chown -R rina: "$scratch/home/rina/mail"
	(printf '%s\r\n' "HELO rina rina-pw" "FOLD saved" "READ 1" RETR ACKD "FOLD INBOX" QUIT |
		POP2_CRASH_AT=journal-synced "$POP2D" -n t -p "$passwd" -S "$S" -m '%h/mbox' \
			-F '%h/mail') >/dev/null 2>&1
	rm -f "$scratch/home/rina/mail/saved.lock"
	[ -f "$S/rina/commit.jnl" ]
}
check "a folder's commit was cut short" folder_crash
mv "$scratch/home/rina/mail/saved" "$scratch/home/rina/elsewhere"
ln -s ../elsewhere "$scratch/home/rina/mail/saved"
recover -p "$passwd" -F '%h/mail'
check "the folder now a symbolic link: its data set aside (exit $status)" \
	grep -q "recover user=rina maildrop=$scratch/home/rina/mail/saved outcome=set-aside" "$scratch/err"
check "... summed up" grep -q ', 1 set aside, ' "$scratch/out"
check "... the journal is gone" [ ! -e "$S/rina/commit.jnl" ]
check "... and the file behind the link is untouched" [ "$(count "$scratch/home/rina/elsewhere")" -eq 3 ]
rm -f "$S/rina/recovered.mbox"

check "a folder's commit was cut short again" folder_crash
mv "$scratch/home/rina/mail" "$scratch/home/rina/mail.away"
echo 'not a folder' >"$scratch/home/rina/mail"
recover -p "$passwd" -F '%h/mail'
check "the folder directory out of reach: the recovery fails (exit $status)" \
	grep -q "recover user=rina maildrop=$scratch/home/rina/mail/saved outcome=failed: Not a directory" "$scratch/err"
check "... and keeps the journal" [ -f "$S/rina/commit.jnl" ]
rm "$scratch/home/rina/mail"
mv "$scratch/home/rina/mail.away" "$scratch/home/rina/mail"
recover -p "$passwd" -F '%h/mail'
check "back in reach: the folder's commit is finished (exit $status)" \
	[ "$status" -eq 0 -a "$(count "$scratch/home/rina/mail/saved")" -eq 2 -a ! -e "$S/rina/commit.jnl" ]

# A folder made read-only for its user after the crash: opened read-only,
# the commit cannot be finished; the journal stays until the folder is
# writable again.
check "a folder's commit was cut short before it was made read-only" folder_crash
chown root: "$scratch/home/rina/mail/saved"
chmod 644 "$scratch/home/rina/mail/saved"
recover -p "$passwd" -F '%h/mail'
check "a read-only folder: the recovery fails (exit $status)" \
	grep -q "recover user=rina maildrop=$scratch/home/rina/mail/saved outcome=failed" "$scratch/err"
check "... the folder unchanged and the journal kept" \
	[ "$(count "$scratch/home/rina/mail/saved")" -eq 3 -a -f "$S/rina/commit.jnl" ]
chown rina: "$scratch/home/rina/mail/saved"
recover -p "$passwd" -F '%h/mail'
check "writable again: the folder's commit is finished (exit $status)" \
	[ "$status" -eq 0 -a "$(count "$scratch/home/rina/mail/saved")" -eq 2 -a ! -e "$S/rina/commit.jnl" ]

# --- At login, a cut-short commit whose maildrop another program holds
# locked (a live dot-lock): the login gives up after the lock wait (none
# here: POP2_LOCK_WAIT=0) with - Maildrop busy, and the journal stays for
# later.
check "rina's commit was cut short for a busy login" crashed rina
sleep 300 &
holder=$!
echo "$holder" >"$scratch/home/rina/mbox.lock"
printf '%s\r\n' "HELO rina rina-pw" QUIT |
	POP2_LOCK_WAIT=0 timeout 60 "$POP2D" -d -n t -p "$passwd" -S "$S" -m '%h/mbox' \
		>"$scratch/out" 2>"$scratch/err"
kill "$holder"
wait "$holder" 2>/dev/null
rm -f "$scratch/home/rina/mbox.lock"
check "a login whose recovery finds the maildrop locked: - Maildrop busy" \
	[ "$(sed -n 2p "$scratch/out" | tr -d '\r')" = "- Maildrop busy" ]
check "... logged" grep -q "user=rina reason=cannot finish an interrupted commit" "$scratch/err"
check "... the journal stays, nothing deleted yet" \
	[ -f "$S/rina/commit.jnl" -a "$(count "$scratch/home/rina/mbox")" -eq 3 ]
printf '%s\r\n' "HELO rina rina-pw" QUIT |
	"$POP2D" -n t -p "$passwd" -S "$S" -m '%h/mbox' >"$scratch/out" 2>/dev/null
check "the next login, with the lock gone, finishes the commit" \
	[ "$(sed -n 2p "$scratch/out" | tr -d '\r')" = "#2 messages in INBOX" -a ! -e "$S/rina/commit.jnl" ]

# --- A passwd-file user without a uid: its sessions keep root's identity,
# so its state folder is root's, and so is its recovery.
printf 'keeper:%s::::%s\n' "$(ns_hash '$y$' keeper-pw 1)" "$scratch/home/keeper" >>"$passwd"
mkdir -p "$scratch/home/keeper"
for i in 1 2 3; do
	printf 'From x@example.org Mon Nov 16 09:12:44 2026\nSubject: k%s\n\nbody\n\n' "$i"
done >"$scratch/home/keeper/mbox"
(printf '%s\r\n' "HELO keeper keeper-pw" "READ 1" RETR ACKD QUIT |
	POP2_CRASH_AT=journal-synced "$POP2D" -n t -p "$passwd" -S "$S" -m '%h/mbox') \
	>/dev/null 2>&1
rm -f "$scratch/home/keeper/mbox.lock"
check "keeper's commit was cut short, its state folder root's" \
	[ -f "$S/keeper/commit.jnl" -a "$(stat -c %u "$S/keeper")" -eq 0 ]
recover -p "$passwd"
check "--recover-all finishes a root-owned user's commit (exit $status)" \
	[ "$status" -eq 0 -a "$(count "$scratch/home/keeper/mbox")" -eq 2 -a ! -e "$S/keeper/commit.jnl" ]

# --- The same user's folder, but its sessions ran as a uid of no account
# (pop2d started by a service uid without a passwd entry): the recovery
# takes that uid, and the folder's group.
(printf '%s\r\n' "HELO keeper keeper-pw" "READ 1" RETR ACKD QUIT |
	POP2_CRASH_AT=journal-synced "$POP2D" -n t -p "$passwd" -S "$S" -m '%h/mbox') \
	>/dev/null 2>&1
rm -f "$scratch/home/keeper/mbox.lock"
chown -R 4242:4243 "$S/keeper" "$scratch/home/keeper"
recover -p "$passwd"
check "a uid of no account: --recover-all finishes the commit as that uid (exit $status)" \
	[ "$status" -eq 0 -a "$(count "$scratch/home/keeper/mbox")" -eq 1 -a ! -e "$S/keeper/commit.jnl" ]
check "... and the maildrop is still that uid's" [ "$(stat -c %u:%g "$scratch/home/keeper/mbox")" = 4242:4243 ]
rm -rf "$S/keeper"

# --- A state folder whose session lock is not a file: the recovery
# cannot tell whether a session runs, so it fails and keeps the journal.
check "rina's commit was cut short before a broken session lock" crashed rina
rm -f "$S/rina/session"
mkdir "$S/rina/session"
chown rina: "$S/rina/session"
recover -p "$passwd"
check "a session lock that is a folder: the recovery fails (exit $status)" \
	grep -q "recover user=rina outcome=failed: session lock: " "$scratch/err"
check "... and the journal stays" [ -f "$S/rina/commit.jnl" ]
rmdir "$S/rina/session"
recover -p "$passwd"
check "with the lock mended, --recover-all finishes it (exit $status)" \
	[ "$status" -eq 0 -a ! -e "$S/rina/commit.jnl" ]

# --- A damaged journal, written before the maildrop changed: discarded,
# also when it turns out to be gone already as it is removed.
for how in removed vanished; do
	fresh_user rina
	mkdir -p "$S/rina"
	echo garbage >"$S/rina/commit.jnl"
	chown rina: "$S/rina/commit.jnl"
	if [ "$how" = removed ]; then
		recover -p "$passwd"
	else
		POP2_FAIL_AT=store.unlink-journal:ENOENT recover -p "$passwd"
	fi
	check "a torn journal, $how: --recover-all discards it (exit $status)" \
		grep -q "recover user=rina outcome=discarded: a torn journal" "$scratch/err"
	check "... the maildrop untouched" [ "$(count "$scratch/home/rina/mbox")" -eq 3 ]
	[ "$how" = removed ] && check "... and the journal gone" [ ! -e "$S/rina/commit.jnl" ]
done
rm -f "$S/rina/commit.jnl"

# A journal its user cannot read, a torn one that cannot be removed, and
# another's that cannot be set aside (the state folder made read-only):
# the recovery fails, nothing changes, and the journal stays for the
# administrator.
for how in unreadable unremovable "set aside"; do
	mkdir -p "$S/rina"
	if [ "$how" = unreadable ]; then
		check "rina's commit was cut short ($how journal)" crashed rina
		chmod 000 "$S/rina/commit.jnl"
	else
		fresh_user rina
		echo garbage >"$S/rina/commit.jnl"
		chown rina: "$S/rina/commit.jnl"
		[ "$how" = unremovable ] || chown root: "$S/rina/commit.jnl"
		chmod 500 "$S/rina"
	fi
	recover -p "$passwd"
	case $how in
	unreadable) what="a journal its user cannot read" ;;
	unremovable) what="a torn journal its user cannot remove" ;;
	*) what="another's journal its user cannot set aside" ;;
	esac
	check "$what: the recovery fails (exit $status)" \
		grep -q "recover user=rina maildrop=- outcome=failed: Permission denied" "$scratch/err"
	check "... nothing deleted, the journal kept" \
		[ "$(count "$scratch/home/rina/mbox")" -eq 3 -a -e "$S/rina/commit.jnl" ]
	chmod 700 "$S/rina"
	chmod 600 "$S/rina/commit.jnl"
	rm -f "$S/rina/commit.jnl"
done

# --- No recovery process (fork fails), a recovery process that cannot
# take its user's identity, and a state directory that cannot be listed:
# each is logged, makes --recover-all fail, and leaves the journal for the
# next login; a run without the failure then finishes the commit.
check "rina's commit was cut short (for the failed starts)" crashed rina
POP2_FAIL_AT="recover.fork:EAGAIN:*" recover -p "$passwd"
check "no recovery process: --recover-all fails (exit $status)" [ "$status" -ne 0 ]
check "... it logs why" grep -q \
	"recover user=rina outcome=failed: cannot start the recovery process: Resource temporarily unavailable" "$scratch/err"
check "... and the journal stays" [ -f "$S/rina/commit.jnl" ]
POP2_FAIL_AT=recover.setgroups:EPERM recover -p "$passwd"
check "a recovery that cannot take rina's identity fails (exit $status)" [ "$status" -ne 0 ]
check "... it logs why" grep -q \
	"recover user=rina outcome=failed: cannot take the identity of uid 2101" "$scratch/err"
check "... nothing deleted, the journal kept" \
	[ "$(count "$scratch/home/rina/mbox")" -eq 3 -a -f "$S/rina/commit.jnl" ]
POP2_FAIL_AT=recover.opendir:EMFILE recover -p "$passwd"
check "a state directory that cannot be listed: exit 1 ($status)" [ "$status" -eq 1 ]
check "... named with the reason" grep -q "pop2d: $S: Too many open files" "$scratch/err"
check "... the journal kept" [ -f "$S/rina/commit.jnl" ]
recover -p "$passwd"
check "then --recover-all finishes the commit (exit $status)" \
	[ "$status" -eq 0 -a ! -e "$S/rina/commit.jnl" ]
check "... the message deleted, the others kept" [ "$(count "$scratch/home/rina/mbox")" -eq 2 ]

# --- A summary that cannot be written (a full disk): exit 1.
"$POP2D" --recover-all -p "$passwd" -m '%h/mbox' -S "$S" >/dev/full 2>"$scratch/err"
status=$?
check "a summary that cannot be written: exit 1 ($status)" [ "$status" -eq 1 ]

# --- A configuration error: exit 2, and nothing for a client to read.
"$POP2D" --recover-all -S "$S" -t 0 >"$scratch/out" 2>"$scratch/err"
status=$?
check "--recover-all with a bad -t: exit 2 ($status)" [ "$status" -eq 2 ]
check "... the error on standard error" grep -q -- '-t 0: not a number of seconds' "$scratch/err"
check "... and no reply on standard output" [ ! -s "$scratch/out" ]
"$POP2D" --recover-all -S "$passwd/state" >"$scratch/out" 2>"$scratch/err"
status=$?
check "--recover-all with a state directory beneath a file: exit 2 ($status)" [ "$status" -eq 2 ]

finish
