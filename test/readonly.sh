#!/bin/bash
# Maildrops and folders a user may read but not change: a file the user
# cannot write, a Maildir whose messages the user cannot remove, and a
# file system mounted read-only. Messages are listed and retrieved as
# usual; deletions are refused at QUIT or FOLD with a reply that says so,
# nothing changes, and no journal is left behind. A real user with a real
# identity change, in private namespaces (test/ns.sh). On a read-only
# mount no dot-lock can be taken, so the login is refused there; nor can
# the missing default state directory be made on one. And pop2d started
# as the user itself serves only entries of that user's uid.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"

chmod 755 "$scratch"
home=$scratch/home
mkdir -m 755 "$home"
ns_add_group reader 2201
ns_add_user reader 2201 2201 "$home" "$(ns_hash '$y$' reader-pw 1)"
passwd=$scratch/passwd
printf 'reader:%s:2201:2201::%s\n' "$(ns_hash '$y$' reader-pw 1)" "$home" >"$passwd"
chmod 600 "$passwd"

# three FILE: an mbox of three messages, m1 m2 m3.
three() {
	local i
	for i in 1 2 3; do
		printf 'From x@example.org Mon Nov 16 09:12:44 2026\nSubject: m%s\n\nbody %s\n\n' \
			"$i" "$i"
	done >"$1"
}

# pop2 MAILDROP LINES...: one session of reader's; replies in
# $scratch/out without CRs, the log (-d) in $scratch/err.
pop2() {
	local md=$1
	shift
	printf '%s\r\n' "$@" |
		timeout 60 "$POP2D" -d -n t -p "$passwd" -S "$state" -m "$md" -F "$home" \
			-L "$top_builddir/pop2d/pop2-lock" 2>"$scratch/err" | tr -d '\r' >"$scratch/out"
}
last() {
	tail -n 1 "$scratch/out"
}

# --- An mbox INBOX the user may read, in a folder where the user may
# create its dot-lock: not its file, mode 644.
mkdir -m 777 "$scratch/spool"
three "$scratch/spool/inbox"
chmod 644 "$scratch/spool/inbox"
cp "$scratch/spool/inbox" "$scratch/before"
pop2 "$scratch/spool/inbox" "HELO reader reader-pw" "READ 1" RETR ACKD QUIT
check "a read-only mbox INBOX: logged in with its 3 messages" grep -qx '#3 messages in INBOX' "$scratch/out"
check "a read-only mbox INBOX: a message retrieved" grep -qx 'Subject: m1' "$scratch/out"
check "a read-only mbox INBOX: QUIT after ACKD says nothing was deleted" \
	[ "$(last)" = "- Maildrop is read-only; nothing deleted" ]
check "a read-only mbox INBOX: unchanged" cmp -s "$scratch/before" "$scratch/spool/inbox"
check "a read-only mbox INBOX: no journal left" [ ! -e "$state/reader/commit.jnl" ]
pop2 "$scratch/spool/inbox" "HELO reader reader-pw" "READ 2" RETR ACKS QUIT
check "a read-only mbox INBOX: a session that deletes nothing ends well" [ "$(last)" = "+ OK Sayonara" ]

# A folder the user may read but not write, in the user's own folder
# directory (where its dot-lock can be made): FOLD, then ACKD, then FOLD
# back commits nothing there.
chown reader: "$home"
three "$home/ro-folder"
chmod 644 "$home/ro-folder"
cp "$home/ro-folder" "$scratch/before"
pop2 "$scratch/spool/inbox" "HELO reader reader-pw" "FOLD ro-folder" "READ 1" RETR ACKD "FOLD INBOX" QUIT
check "a read-only folder: selected with its 3 messages" grep -qx '#3 messages in ro-folder' "$scratch/out"
check "a read-only folder: FOLD away after ACKD says nothing was deleted" \
	grep -qx -- '- Maildrop is read-only; nothing deleted' "$scratch/out"
check "a read-only folder: unchanged" cmp -s "$scratch/before" "$home/ro-folder"

# --- A Maildir INBOX whose messages the user may read but not remove.
md=$scratch/Maildir
mkdir -p "$md/new" "$md/cur" "$md/tmp"
for i in 1 2; do
	printf 'Subject: d%s\n\nbody %s\n' "$i" "$i" >"$md/new/100000000$i.M1P1.host"
done
chmod 644 "$md"/new/*
find "$md" >"$scratch/before"
pop2 "maildir:$md" "HELO reader reader-pw" "READ 1" RETR ACKD QUIT
check "a read-only Maildir: logged in with its 2 messages" grep -qx '#2 messages in INBOX' "$scratch/out"
check "a read-only Maildir: QUIT after ACKD says nothing was deleted" \
	[ "$(last)" = "- Maildrop is read-only; nothing deleted" ]
check "a read-only Maildir: every message kept" cmp -s "$scratch/before" <(find "$md")

# A Maildir++ folder the user may not list: FOLD selects nothing, logged.
mkdir -p "$md/.private/new" "$md/.private/cur" "$md/.private/tmp"
chmod 700 "$md/.private/cur"
pop2 "maildir:$md" "HELO reader reader-pw" "FOLD private" QUIT
check "a Maildir++ folder the user may not list: #0" grep -qx '#0 messages in private' "$scratch/out"
check "... logged" grep -q "user=reader folder=private refused or unreadable: Permission denied" "$scratch/err"
rm -rf "$md/.private"

# A Maildir whose cur/ the user may not even read: it cannot be listed.
chmod 700 "$md/cur"
pop2 "maildir:$md" "HELO reader reader-pw" QUIT
check "a Maildir the user may not list: - Cannot open maildrop" \
	[ "$(last)" = "- Cannot open maildrop" ]
check "... logged" grep -q "user=reader reason=cannot read maildrop maildir:$md: Permission denied" "$scratch/err"
chmod 755 "$md/cur"

# --- A file system mounted read-only: no dot-lock can be made there, so
# the maildrop cannot be read safely; the login is refused and says why.
mkdir "$scratch/ro"
ns_tmpfs "$scratch/ro" mode=0777
three "$scratch/ro/inbox"
chmod 666 "$scratch/ro/inbox"
cp "$scratch/ro/inbox" "$scratch/before"
mount -o remount,ro "$scratch/ro"
pop2 "$scratch/ro/inbox" "HELO reader reader-pw" "READ 1" RETR ACKD QUIT
check "a read-only mount: - Cannot open maildrop" [ "$(last)" = "- Cannot open maildrop" ]
check "a read-only mount: the log says why" \
	grep -q "user=reader reason=cannot read maildrop $scratch/ro/inbox: Read-only file system" "$scratch/err"
check "a read-only mount: unchanged" cmp -s "$scratch/before" "$scratch/ro/inbox"

# --- pop2d started as the user itself, not as root (a user's own
# launcher): an entry with the user's own uid and gid logs in; one with
# another's, or with the user's uid and another gid, is refused like a
# wrong password, and says why in the log.
mkdir -m 700 "$scratch/own-state"
chown reader: "$scratch/own-state"
{
	printf 'reader:%s:2201:2201::%s\n' "$(ns_hash '$y$' reader-pw 1)" "$home"
	printf 'other:%s:2202:2202::%s\n' "$(ns_hash '$y$' other-pw 1)" "$home"
	printf 'regroup:%s:2201:2202::%s\n' "$(ns_hash '$y$' regroup-pw 1)" "$home"
} >"$scratch/own-passwd"
chown reader "$scratch/own-passwd"
three "$home/own-inbox"
chown reader: "$home/own-inbox"
# as_reader USER PASSWORD: a session of pop2d run as reader.
as_reader() {
	printf 'HELO %s %s\r\nQUIT\r\n' "$1" "$2" |
		setpriv --reuid=reader --regid=reader --clear-groups \
			timeout 60 "$POP2D" -d -n t -p "$scratch/own-passwd" -S "$scratch/own-state" \
			-m "$home/own-inbox" 2>"$scratch/err" | tr -d '\r' >"$scratch/out"
}
if command -v setpriv >/dev/null; then
	as_reader reader reader-pw
	check "pop2d as the user: its own entry logs in" grep -qx '#3 messages in INBOX' "$scratch/out"
	as_reader other other-pw
	check "pop2d as the user: another uid's entry gets - Bad login" grep -qx -- '- Bad login' "$scratch/out"
	check "... logged" grep -q "login failed user=other peer=local reason=cannot take the entry's uid and gid" "$scratch/err"
	as_reader regroup regroup-pw
	check "pop2d as the user: its own uid with another gid gets - Bad login" grep -qx -- '- Bad login' "$scratch/out"
	check "... logged" grep -q "login failed user=regroup peer=local reason=cannot take the entry's uid and gid" "$scratch/err"
else
	skip "setpriv is not installed (Debian: util-linux)"
fi

# A Maildir needs no lock: on a read-only mount it is served, and a
# deletion is refused at QUIT as read-only, with every message kept.
mkdir "$scratch/romd"
ns_tmpfs "$scratch/romd" mode=0755
mkdir -p "$scratch/romd/Maildir/new" "$scratch/romd/Maildir/cur" "$scratch/romd/Maildir/tmp"
printf 'Subject: r1\n\nbody\n' >"$scratch/romd/Maildir/new/1000000001.M1P1.host"
printf 'Subject: r2\n\nbody\n' >"$scratch/romd/Maildir/new/1000000002.M1P1.host"
chown -R reader: "$scratch/romd/Maildir"
find "$scratch/romd" >"$scratch/before"
mount -o remount,ro "$scratch/romd"
pop2 "maildir:$scratch/romd/Maildir" "HELO reader reader-pw" "READ 1" RETR ACKD QUIT
check "a Maildir on a read-only mount: logged in with its 2 messages" \
	grep -qx '#2 messages in INBOX' "$scratch/out"
check "... QUIT after ACKD says nothing was deleted" \
	[ "$(last)" = "- Maildrop is read-only; nothing deleted" ]
check "... every message kept" cmp -s "$scratch/before" <(find "$scratch/romd")

# --- The default state directory, missing where it cannot be made (a
# read-only /var/lib): a configuration error that says how to fix it.
if mount -t tmpfs -o ro,mode=755 pop2d-test /var/lib 2>/dev/null; then
	"$POP2D" -d -n t -p "$passwd" </dev/null >"$scratch/out" 2>"$scratch/err"
	status=$?
	check "a default state directory that cannot be made: exit 2 ($status)" [ "$status" -eq 2 ]
	check "... the client gets only - POP2 server unavailable" \
		[ "$(tr -d '\r' <"$scratch/out")" = "- POP2 server unavailable" ]
	check "... logged with the path and the fix" \
		grep -q "configuration error: -S /var/lib/pop2d: cannot make it: Read-only file system: make its parent directory" "$scratch/err"
	umount /var/lib
else
	skip "cannot mount a private tmpfs on /var/lib"
fi

finish
