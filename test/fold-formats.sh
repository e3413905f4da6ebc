#!/bin/bash
# FOLD across folder formats, with the real binary: an mbox INBOX selects a
# Maildir beneath the folder directory and goes back; a Maildir INBOX
# prefers its own Maildir++ folder and otherwise selects an mbox file
# beneath the folder directory. Deletions made in each folder are committed
# at the next FOLD or at QUIT, and only those; a commit of an mbox folder
# killed midway under a Maildir INBOX is finished at the next login and by
# --recover-all; a FIFO beneath the folder directory is refused without a
# wait.
set -u
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

HELO='HELO alice wonderland'
home=$scratch/home
md=$scratch/Maildir
mbox=$scratch/maildrop
seq_no=0

# mbox_of FILE SUBJECT...: an mbox file with one message per subject.
mbox_of() {
	local file=$1 s
	shift
	for s in "$@"; do
		printf 'From a@example.org Mon Nov 16 09:12:44 2026\nSubject: %s\n\nbody of %s\n\n' "$s" "$s"
	done >"$file"
}

# maildir_of DIR SUBJECT...: a Maildir with one file per subject, in order.
maildir_of() {
	local dir=$1 s
	shift
	rm -rf "$dir"
	mkdir -p "$dir/new" "$dir/cur" "$dir/tmp"
	for s in "$@"; do
		seq_no=$((seq_no + 1))
		printf 'Subject: %s\n\nbody of %s\n' "$s" "$s" >"$dir/new/$((1700000000 + seq_no)).M${seq_no}P1.test"
	done
}

# subjects FOLDER: the subjects in an mbox file or a Maildir, one line, in order.
subjects() {
	local f
	if [ -d "$1" ]; then
		# pop2d moves no file: all are in new/, named by delivery order.
		for f in "$1"/new/* "$1"/cur/*; do
			[ -f "$f" ] && sed -n 's/^Subject: //p' "$f"
		done | tr '\n' ' '
	else
		sed -n 's/^Subject: //p' "$1" | tr '\n' ' '
	fi
}

# pop2 INBOX LINE...: one session over a pipe, -F the folder directory.
pop2() {
	local inbox=$1
	shift
	printf '%s\r\n' "$@" | timeout 30 "$POP2D" -d -n t -p "$data/passwd" -S "$state" \
		-m "$inbox" -F "$home" >"$scratch/out" 2>"$scratch/err"
}

last_reply() {
	tail -n 1 "$scratch/out" | tr -d '\r'
}

# sent SUBJECT N: READ announced message N's octets and RETR sent exactly
# those, SUBJECT's message with CRLF line ends.
sent() {
	local want out
	want=$(printf '=%d characters in message %s\r\nSubject: %s\r\n\r\nbody of %s\r\n' \
		$((23 + 2 * ${#1})) "$2" "$1" "$1")
	out=$(<"$scratch/out")
	[[ $out == *"$want"* ]]
}

fresh() {
	rm -rf "$home" "$md" "$mbox" "$state"
	mkdir -p "$home" "$state"
}

# --- mbox INBOX -> a Maildir beneath the folder directory -> back.
fresh
mbox_of "$mbox" a b c
maildir_of "$home/letters" x y z
pop2 "$mbox" "$HELO" "READ 1" RETR ACKD "FOLD letters" "READ 2" RETR ACKD \
	"FOLD INBOX" READ RETR ACKS QUIT
check "mbox -> Maildir -> mbox: QUIT + OK" [ "$(last_reply)" = "+ OK Sayonara" ]
check "mbox -> Maildir: the Maildir is selected" grep -q -x -F $'#3 messages in letters\r' "$scratch/out"
check "mbox -> Maildir: its message is sent byte for byte" sent y 2
check "mbox -> Maildir: INBOX's deletion committed at FOLD" [ "$(subjects "$mbox")" = "b c " ]
check "mbox -> Maildir: the Maildir's deletion committed at FOLD INBOX" \
	[ "$(subjects "$home/letters")" = "x z " ]
check "mbox -> Maildir: no journal left" [ ! -e "$state/alice/commit.jnl" ]
check "mbox -> Maildir: the deletions are logged" \
	grep -q 'session end user=alice reason=QUIT retrieved=3 deleted=2 ' "$scratch/err"

# --- Maildir INBOX: its Maildir++ folder first, else an mbox file beneath.
fresh
maildir_of "$md" p q r
maildir_of "$md/.box" inside
mbox_of "$home/box" beneath-1 beneath-2
mbox_of "$home/archive" u1 u2 u3
pop2 "maildir:$md" "$HELO" "READ 1" RETR ACKD "FOLD box" "FOLD archive" "READ 2" RETR ACKD QUIT
check "Maildir -> mbox: QUIT + OK" [ "$(last_reply)" = "+ OK Sayonara" ]
check "Maildir -> mbox: the Maildir++ folder comes first" \
	grep -q -x -F $'#1 messages in box\r' "$scratch/out"
check "Maildir -> mbox: the mbox file beneath -F is selected" \
	grep -q -x -F $'#3 messages in archive\r' "$scratch/out"
check "Maildir -> mbox: its message is sent byte for byte" sent u2 2
check "Maildir -> mbox: INBOX's deletion committed at FOLD" [ "$(subjects "$md")" = "q r " ]
check "Maildir -> mbox: the mbox folder's deletion committed at QUIT" \
	[ "$(subjects "$home/archive")" = "u1 u3 " ]
check "Maildir -> mbox: the folders not deleted from are untouched" \
	[ "$(subjects "$md/.box")$(subjects "$home/box")" = "inside beneath-1 beneath-2 " ]
check "Maildir -> mbox: no journal left, no dot-lock left" \
	[ ! -e "$state/alice/commit.jnl" -a ! -e "$home/archive.lock" ]

# --- A FIFO beneath the folder directory: refused at once, with either INBOX.
for inbox in "$mbox" "maildir:$md"; do
	fresh
	mbox_of "$mbox" a
	maildir_of "$md" p
	mkfifo "$home/fifo"
	pop2 "$inbox" "$HELO" "FOLD fifo" READ QUIT
	check "FIFO as folder (INBOX $inbox): #0, no wait" \
		grep -q -x -F $'#0 messages in fifo\r' "$scratch/out"
	check "FIFO as folder (INBOX $inbox): session goes on" [ "$(last_reply)" = "+ OK Sayonara" ]
done

# --- An mbox folder's commit killed midway under a Maildir INBOX: the
# journal names a file beneath the folder directory, and the next login
# finishes it.
if [ "${SEAMS:-no}" = yes ]; then
	fresh
	maildir_of "$md" p
	mbox_of "$home/archive" u1 u2 u3
	# (in a subshell: the shell's own report of the kill is not the test's output)
	(POP2_CRASH_AT=mid-write pop2 "maildir:$md" "$HELO" "FOLD archive" "READ 1" RETR ACKD QUIT) 2>/dev/null
	check "killed mid-write in an mbox folder under a Maildir INBOX" [ $? -eq 137 ]
	check "killed mid-write: the journal is left" [ -e "$state/alice/commit.jnl" ]
	pop2 "maildir:$md" "$HELO" QUIT
	check "next login: + OK" [ "$(last_reply)" = "+ OK Sayonara" ]
	check "next login: the folder's commit is finished" [ "$(subjects "$home/archive")" = "u2 u3 " ]
	check "next login: logged as finished" \
		grep -q "recover user=alice maildrop=$home/archive outcome=finished" "$scratch/err"
	check "next login: no journal left" [ ! -e "$state/alice/commit.jnl" ]
	check "next login: INBOX untouched" [ "$(subjects "$md")" = "p " ]

	# The same, finished by --recover-all at boot.
	fresh
	maildir_of "$md" p
	mbox_of "$home/archive" u1 u2 u3
	(POP2_CRASH_AT=mid-write pop2 "maildir:$md" "$HELO" "FOLD archive" "READ 2" RETR ACKD QUIT) 2>/dev/null
	check "killed mid-write again: the journal is left" [ -e "$state/alice/commit.jnl" ]
	"$POP2D" --recover-all -p "$data/passwd" -m "maildir:$md" -F "$home" -S "$state" \
		>"$scratch/recover.out" 2>"$scratch/recover.err"
	check "--recover-all: one commit finished" grep -q ' 1 commits finished, ' "$scratch/recover.out"
	check "--recover-all: the folder's commit is finished" [ "$(subjects "$home/archive")" = "u1 u3 " ]
	check "--recover-all: no journal left" [ ! -e "$state/alice/commit.jnl" ]
else
	skip "the crash point needs ./configure --enable-test-seams"
fi

finish
