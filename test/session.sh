#!/bin/bash
# Replays every test/session/NAME.in against the built pop2d and compares
# what it writes, byte for byte, with NAME.out (@VERSION@ stands for the
# version). The maildrop is a copy of NAME.mbox, or of test/data/mbox/basic.mbox
# when there is none, or absent when NAME.nomaildrop exists; NAME.args adds
# options. Afterwards the maildrop must equal NAME.after when that exists
# (the session deleted messages), and be unchanged otherwise; the folder
# "saved" must equal NAME.saved-after when that exists.
set -u
. "$(dirname "$0")/lib.sh"

# The folder directory every session sees, rebuilt for each case.
make_home() {
	local home=$1
	rm -rf "$home" "$scratch/outside"
	mkdir -p "$home/mail" "$home/dir" "$scratch/outside"
	cp "$data/folders/saved" "$home/saved"
	cp "$data/folders/mail/sent" "$home/mail/sent"
	printf 'just some text\nno separator here\n' >"$home/notmbox"
	cp "$data/folders/saved" "$scratch/outside/secret"
	ln -s ../outside/secret "$home/escape"
	ln -s saved "$home/alias"
	ln -s ../outside "$home/outdir"
	mkfifo "$home/fifo"
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
	sed "s/@VERSION@/$VERSION/" "$dir/$name.out" >"$scratch/$name.expected"
	expected=$scratch/$name.expected

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
	[ "$(tail -c 200 "$expected" | tail -n 1 | cut -c1-4)" = "+ OK" ] && want=0
	if [ "$status" -ne "$want" ]; then
		fail "$name: exit status $status, expected $want"
		return
	fi
	pass "$name"
}

for in in "$top_srcdir"/test/session/*.in; do
	run_case "$in"
done
finish
