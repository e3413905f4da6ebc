#!/bin/bash
# Replays every test/session/NAME.in against the built pop2d and compares
# what it writes, byte for byte, with NAME.out (@VERSION@ stands for the
# version). The maildrop is a copy of NAME.mbox, or of test/data/mbox/basic.mbox
# when there is none, or absent when NAME.nomaildrop exists; NAME.args adds
# options. Afterwards the maildrop must equal NAME.after when that exists
# (the session deleted messages), and be unchanged otherwise; the folder
# "saved" must equal NAME.saved-after when that exists.
#
# Each case then runs again with a Maildir INBOX (-m maildir:...): the
# mbox fixture split into message files by maildir-conv.pl, the folders
# made Maildir++ folders inside it, and the same folder directory beneath
# -F for the names the Maildir does not hold. The same output is expected,
# and the Maildir's remaining messages must be those of the mbox expected
# after.
#
# The folder directory holds folders of both formats: "archive" is an mbox
# file and "letters" a Maildir, neither of them in the Maildir INBOX, so
# that a FOLD crosses formats in both directions.
set -u
. "$(dirname "$0")/lib.sh"
conv="perl $top_srcdir/test/maildir-conv.pl"

# Cases that cannot apply to a Maildir, and why.
maildir_skip() {
	case $1 in
	delete-keeps-pseudo | octets-pseudo-message)
		echo "the UW pseudo-message exists only in mbox files" ;;
	octets-text-before-first)
		echo "text before the first From line exists only in mbox files" ;;
	separators)
		echo "it tests the mbox From-line separator rule" ;;
	*) return 1 ;;
	esac
}

# The folder directory every session sees, rebuilt for each case: made
# once, then copied.
make_home() {
	local home=$1
	rm -rf "$home" "$scratch/outside" "$scratch/elsewhere"
	if [ -d "$scratch/home.tmpl" ]; then
		cp -a "$scratch/home.tmpl" "$home"
		cp -a "$scratch/outside.tmpl" "$scratch/outside"
		cp -a "$scratch/elsewhere.tmpl" "$scratch/elsewhere"
		return
	fi
	mkdir -p "$home/mail" "$home/dir" "$scratch/outside" "$scratch/elsewhere"
	cp "$data/folders/saved" "$home/saved"
	cp "$data/folders/mail/sent" "$home/mail/sent"
	printf 'just some text\nno separator here\n' >"$home/notmbox"
	cp "$data/folders/saved" "$scratch/outside/secret"
	ln -s ../outside/secret "$home/escape"
	ln -s saved "$home/alias"
	ln -s ../outside "$home/outdir"
	mkfifo "$home/fifo"
	# Folders of the other format, and Maildirs that must be refused:
	# one whose cur/ is a link, and a link to one outside.
	cp "$data/folders/saved" "$home/archive"
	$conv split "$data/folders/mail/sent" "$home/letters"
	$conv split "$data/folders/saved" "$home/linked-cur"
	rm -r "$home/linked-cur/cur"
	ln -s ../letters/cur "$home/linked-cur/cur"
	$conv split "$data/folders/saved" "$scratch/elsewhere/md"
	ln -s ../../elsewhere/md "$home/outmd"
	cp -a "$home" "$scratch/home.tmpl"
	cp -a "$scratch/outside" "$scratch/outside.tmpl"
	cp -a "$scratch/elsewhere" "$scratch/elsewhere.tmpl"
}

# The same folders as Maildir++ folders inside the Maildir MD.
make_maildir_home() {
	local md=$1
	rm -rf "$scratch/outside"
	mkdir -p "$md" "$scratch/outside"
	$conv split "$data/folders/saved" "$md/.saved"
	$conv split "$data/folders/mail/sent" "$md/.mail.sent"
	printf 'just some text\nno separator here\n' >"$md/.notmbox"
	mkdir "$md/.dir"
	$conv split "$data/folders/saved" "$scratch/outside/secret"
	ln -s ../../outside/secret "$md/.escape"
	ln -s .saved "$md/.alias"
	ln -s ../../outside/secret "$md/.outdir.secret"
	mkfifo "$md/.fifo"
}

# key_of FILE: a number for FILE in $REPLY, the same for the same name
# (no process per call).
declare -A file_keys=()
key_of() {
	[ -n "${file_keys[$1]:-}" ] || file_keys[$1]=${#file_keys[@]}
	REPLY=${file_keys[$1]}
}

# maildir_from MBOX MD: MD made from MBOX with the Maildir++ folders, as
# make_maildir_home leaves them; each distinct MBOX is converted once (the
# converter is a perl process per folder) and copied afterwards.
maildir_from() {
	local tmpl
	key_of "$1"
	tmpl=$scratch/maildir-templates/$REPLY
	if [ ! -d "$tmpl" ]; then
		mkdir -p "$tmpl"
		$conv split "$1" "$tmpl/Maildir"
		make_maildir_home "$tmpl/Maildir"
		mv "$scratch/outside" "$tmpl/outside"
	fi
	rm -rf "$scratch/outside"
	cp -a "$tmpl/Maildir" "$2"
	cp -a "$tmpl/outside" "$scratch/outside"
}

# Compares the messages of mbox WANT with those of the Maildir GOT.
same_messages() {
	local key
	key_of "$1"
	key=$scratch/dumps/$REPLY
	# Each expected mbox is dumped once.
	[ -f "$key" ] || { mkdir -p "$scratch/dumps" && $conv dump-mbox "$1" >"$key"; }
	cmp -s "$key" <($conv dump-maildir "$2")
}

run_maildir_case() {
	local in=$1 name
	name=$(basename "$in" .in)
	local dir=$top_srcdir/test/session
	local spool=$scratch/spool md=$scratch/spool/Maildir
	local home=$scratch/home/alice
	local args=() expected actual=$scratch/$name.actual why

	if why=$(maildir_skip "$name"); then
		echo "not applicable: $name (Maildir): $why"
		return
	fi
	rm -rf "$spool" "$scratch/state"
	mkdir -p "$spool" "$scratch/state"
	make_home "$home"
	local source=$dir/$name.mbox
	[ -f "$source" ] || source=$data/mbox/basic.mbox
	[ -f "$dir/$name.nomaildrop" ] && source=
	if [ -n "$source" ]; then
		maildir_from "$source" "$md"
	fi
	[ -f "$dir/$name.args" ] && read -r -a args <"$dir/$name.args"
	expected=$scratch/expected/$name

	timeout 30 "$POP2D" -n pop2.test -p "$data/passwd" \
		-m "maildir:$md" -F "$scratch/home/%u" -S "$scratch/state" \
		${args[@]+"${args[@]}"} <"$in" >"$actual" 2>"$scratch/$name.err"
	local status=$?
	if ! cmp -s "$expected" "$actual"; then
		fail "$name (Maildir): output differs (exit $status)"
		show_difference "$expected" "$actual"
		return
	fi
	local after=$source
	[ -f "$dir/$name.after" ] && after=$dir/$name.after
	if [ -n "$after" ] && ! same_messages "$after" "$md"; then
		fail "$name (Maildir): messages are not as expected afterwards"
		diff <($conv dump-mbox "$after" | cat -A) <($conv dump-maildir "$md" | cat -A) | head -40
		return
	fi
	if [ -f "$dir/$name.saved-after" ] &&
		! same_messages "$dir/$name.saved-after" "$md/.saved"; then
		fail "$name (Maildir): folder 'saved' is not as expected afterwards"
		return
	fi
	if [ -z "$source" ] && [ -e "$md" ]; then
		fail "$name (Maildir): a maildrop was created"
		return
	fi
	local want=1
	[ -n "${ends_ok[$name]:-}" ] && want=0
	if [ "$status" -ne "$want" ]; then
		fail "$name (Maildir): exit status $status, expected $want"
		return
	fi
	pass "$name (Maildir)"
}

run_case() {
	local in=$1 name
	name=$(basename "$in" .in)
	local dir=$top_srcdir/test/session
	local spool=$scratch/spool home=$scratch/home/alice
	local args=() expected actual=$scratch/$name.actual

	rm -rf "$spool" "$scratch/state"
	mkdir -p "$spool" "$scratch/state"
	make_home "$home"
	local source=$dir/$name.mbox
	[ -f "$source" ] || source=$data/mbox/basic.mbox
	[ -f "$dir/$name.nomaildrop" ] && source=
	[ -n "$source" ] && cp "$source" "$spool/maildrop"
	[ -f "$dir/$name.args" ] && read -r -a args <"$dir/$name.args"
	expected=$scratch/expected/$name

	timeout 30 "$POP2D" -n pop2.test -p "$data/passwd" \
		-m "$spool/maildrop" -F "$scratch/home/%u" -S "$scratch/state" \
		${args[@]+"${args[@]}"} <"$in" >"$actual" 2>"$scratch/$name.err"
	local status=$?
	if ! cmp -s "$expected" "$actual"; then
		fail "$name: output differs (exit $status)"
		show_difference "$expected" "$actual"
		return
	fi
	local after=$source
	[ -f "$dir/$name.after" ] && after=$dir/$name.after
	if [ -n "$after" ] && ! cmp -s "$after" "$spool/maildrop"; then
		fail "$name: maildrop is not as expected afterwards"
		show_difference "$after" "$spool/maildrop"
		return
	fi
	if [ -f "$dir/$name.saved-after" ] && ! cmp -s "$dir/$name.saved-after" "$home/saved"; then
		fail "$name: folder 'saved' is not as expected afterwards"
		show_difference "$dir/$name.saved-after" "$home/saved"
		return
	fi
	if [ -e "$scratch/state/alice/commit.jnl" ]; then
		fail "$name: a commit journal was left behind"
		return
	fi
	if [ -z "$source" ] && [ -e "$spool/maildrop" ]; then
		fail "$name: a maildrop was created"
		return
	fi
	# Only a session closed by QUIT's positive reply exits 0.
	local want=1
	[ -n "${ends_ok[$name]:-}" ] && want=0
	if [ "$status" -ne "$want" ]; then
		fail "$name: exit status $status, expected $want"
		return
	fi
	pass "$name"
}

# The expected outputs with @VERSION@ filled in, made in one pass, and the
# cases whose last reply is QUIT's "+ OK" (only those exit 0).
mkdir "$scratch/expected"
awk -v v="$VERSION" -v dir="$scratch/expected" '
	FNR == 1 {
		if (f != "") close(f)
		n = FILENAME; sub(/.*\//, "", n); sub(/\.out$/, "", n); f = dir "/" n
	}
	{ line = $0; gsub(/@VERSION@/, v, line); print line >f; last[n] = line }
	END { for (k in last) if (substr(last[k], 1, 4) == "+ OK") print k >(dir "/.ends-ok") }
' "$top_srcdir"/test/session/*.out
declare -A ends_ok=()
while read -r name; do ends_ok[$name]=1; done <"$scratch/expected/.ends-ok"

# test/session.sh replays the mbox cases, test/session-maildir.sh the
# Maildir ones, so that make -j runs them side by side; SESSION_KINDS="mbox
# maildir" runs both in one go (make check-valgrind).
: "${SESSION_KINDS:=mbox}"
for in in "$top_srcdir"/test/session/*.in; do
	case " $SESSION_KINDS " in *" mbox "*) run_case "$in" ;; esac
	case " $SESSION_KINDS " in *" maildir "*) run_maildir_case "$in" ;; esac
done
finish
