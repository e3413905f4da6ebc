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
#
# The cases are independent processes, each in a folder of its own copied
# from templates made once: they run SESSION_JOBS (default 4) at a time,
# and their verdicts are printed in the order of the cases.
set -u
. "$(dirname "$0")/lib.sh"
# The helpers here (cp, cmp, mkdir...) start hundreds of times: without
# the locale files to read each time. pop2d itself never sets a locale.
export LC_ALL=C
conv="perl $top_srcdir/test/maildir-conv.pl"
dir=$top_srcdir/test/session
tmpl=$scratch/templates
expected_dir=$scratch/expected
mkdir "$tmpl" "$expected_dir" "$scratch/cases" "$scratch/results"

# Cases that cannot apply to a Maildir, and why (in $REPLY).
maildir_skip() {
	case $1 in
	delete-keeps-pseudo | octets-pseudo-message)
		REPLY="the UW pseudo-message exists only in mbox files" ;;
	octets-text-before-first)
		REPLY="text before the first From line exists only in mbox files" ;;
	separators)
		REPLY="it tests the mbox From-line separator rule" ;;
	*) return 1 ;;
	esac
}

# The folders every session sees: ROOT/home/alice is the folder
# directory, beside ROOT/outside and ROOT/elsewhere, which its links point
# to. Made once. A case whose input has a FOLD gets a copy of its own
# beside its maildrop (ROOT/spool) and its state directory (ROOT/state);
# the others, which never open a folder, share this one, and the script
# ends by checking that none of them changed it.
make_home() {
	local root=$1 home=$1/home/alice
	mkdir -p "$home/mail" "$home/dir" "$root/outside" "$root/elsewhere"
	cp "$data/folders/saved" "$home/saved"
	cp "$data/folders/mail/sent" "$home/mail/sent"
	printf 'just some text\nno separator here\n' >"$home/notmbox"
	cp "$data/folders/saved" "$root/outside/secret"
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
	$conv split "$data/folders/saved" "$root/elsewhere/md"
	ln -s ../../elsewhere/md "$home/outmd"
}

# The same folders as Maildir++ folders inside the Maildir MD, and the
# secret outside it as a Maildir in OUTSIDE.
make_maildir_folders() {
	local md=$1 outside=$2
	mkdir -p "$md" "$outside"
	$conv split "$data/folders/saved" "$md/.saved"
	$conv split "$data/folders/mail/sent" "$md/.mail.sent"
	printf 'just some text\nno separator here\n' >"$md/.notmbox"
	mkdir "$md/.dir"
	$conv split "$data/folders/saved" "$outside/secret"
	ln -s ../../outside/secret "$md/.escape"
	ln -s .saved "$md/.alias"
	ln -s ../../outside/secret "$md/.outdir.secret"
	mkfifo "$md/.fifo"
}

# key_of FILE: a number for FILE in $REPLY, the same for the same name
# (no process per call). Every key is made before the cases run.
declare -A file_keys=()
key_of() {
	[ -n "$1" ] || { REPLY=none; return; }
	[ -n "${file_keys[$1]:-}" ] || file_keys[$1]=${#file_keys[@]}
	REPLY=${file_keys[$1]}
}

# source_of NAME: the maildrop case NAME starts from ("" for none), in
# $REPLY; after_of NAME: what it must hold afterwards.
source_of() {
	REPLY=$dir/$1.mbox
	[ -f "$REPLY" ] || REPLY=$data/mbox/basic.mbox
	[ -f "$dir/$1.nomaildrop" ] && REPLY=
	return 0
}
after_of() {
	if [ -f "$dir/$1.after" ]; then REPLY=$dir/$1.after; else source_of "$1"; fi
}

# dump_maildir MD FILE: the messages of the Maildir MD dumped into FILE,
# by one perl process for all the cases of a worker (started at its first
# use) rather than one per case.
dump_maildir() {
	local answer
	[ -n "${DUMPER_PID:-}" ] || coproc DUMPER { $conv dump-maildirs; }
	printf '%s\t%s\n' "$1" "$2" >&"${DUMPER[1]}" &&
		read -r -t 60 answer <&"${DUMPER[0]}" && [ "$answer" = "$2" ]
}

# same_messages WANT MD DUMP: whether the Maildir MD (dumped into DUMP)
# holds the messages of the mbox WANT, dumped beforehand.
same_messages() {
	key_of "$1"
	dump_maildir "$2" "$3" && cmp -s "$tmpl/dump-$REPLY" "$3"
}

run_maildir_case() {
	local name=$1 root=$scratch/cases/$1.maildir
	local md=$root/spool/Maildir folders=$tmpl/home
	local args=() expected=$expected_dir/$1 actual=$root/actual source after

	source_of "$name"
	source=$REPLY
	key_of "$source"
	cp -a "$tmpl/maildir-$REPLY" "$root"
	if [ -n "${folds[$name]:-}" ]; then
		cp -a "$tmpl/home/home" "$tmpl/home/elsewhere" "$root/"
		folders=$root
	fi
	[ -f "$dir/$name.args" ] && read -r -a args <"$dir/$name.args"

	timeout 30 "$POP2D" -n pop2.test -p "$data/passwd" \
		-m "maildir:$md" -F "$folders/home/%u" -S "$root/state" \
		${args[@]+"${args[@]}"} <"$dir/$name.in" >"$actual" 2>"$root/err"
	local status=$?
	if ! cmp -s "$expected" "$actual"; then
		fail "$name (Maildir): output differs (exit $status)"
		show_difference "$expected" "$actual"
		return
	fi
	after_of "$name"
	after=$REPLY
	if [ -n "$after" ] && ! same_messages "$after" "$md" "$root/messages"; then
		fail "$name (Maildir): messages are not as expected afterwards"
		diff <($conv dump-mbox "$after" | cat -A) <($conv dump-maildir "$md" | cat -A) | head -40
		return
	fi
	if [ -f "$dir/$name.saved-after" ] &&
		! same_messages "$dir/$name.saved-after" "$md/.saved" "$root/saved"; then
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
	local name=$1 root=$scratch/cases/$1.mbox
	local spool=$root/spool folders=$tmpl/home
	local args=() expected=$expected_dir/$1 actual=$root/actual source after

	source_of "$name"
	source=$REPLY
	key_of "$source"
	cp -a "$tmpl/mbox-$REPLY" "$root"
	if [ -n "${folds[$name]:-}" ]; then
		cp -a "$tmpl/home/home" "$tmpl/home/outside" "$tmpl/home/elsewhere" "$root/"
		folders=$root
	fi
	[ -f "$dir/$name.args" ] && read -r -a args <"$dir/$name.args"

	timeout 30 "$POP2D" -n pop2.test -p "$data/passwd" \
		-m "$spool/maildrop" -F "$folders/home/%u" -S "$root/state" \
		${args[@]+"${args[@]}"} <"$dir/$name.in" >"$actual" 2>"$root/err"
	local status=$?
	if ! cmp -s "$expected" "$actual"; then
		fail "$name: output differs (exit $status)"
		show_difference "$expected" "$actual"
		return
	fi
	after_of "$name"
	after=$REPLY
	if [ -n "$after" ] && ! cmp -s "$after" "$spool/maildrop"; then
		fail "$name: maildrop is not as expected afterwards"
		show_difference "$after" "$spool/maildrop"
		return
	fi
	if [ -f "$dir/$name.saved-after" ] && ! cmp -s "$dir/$name.saved-after" "$folders/home/alice/saved"; then
		fail "$name: folder 'saved' is not as expected afterwards"
		show_difference "$dir/$name.saved-after" "$folders/home/alice/saved"
		return
	fi
	if [ -e "$root/state/alice/commit.jnl" ]; then
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
awk -v v="$VERSION" -v dir="$expected_dir" '
	FNR == 1 {
		if (f != "") close(f)
		n = FILENAME; sub(/.*\//, "", n); sub(/\.out$/, "", n); f = dir "/" n
	}
	{ line = $0; gsub(/@VERSION@/, v, line); print line >f; last[n] = line }
	END { for (k in last) if (substr(last[k], 1, 4) == "+ OK") print k >(dir "/.ends-ok") }
' "$dir"/*.out
declare -A ends_ok=()
while read -r name; do ends_ok[$name]=1; done <"$expected_dir/.ends-ok"

# test/session.sh replays the mbox cases, test/session-maildir.sh the
# Maildir ones, so that make -j runs them side by side; SESSION_KINDS="mbox
# maildir" runs both in one go (make check-valgrind).
: "${SESSION_KINDS:=mbox}"
tasks=()
declare -A folds=()
while read -r in; do
	name=${in##*/}
	folds[${name%.in}]=1
done < <(grep -l -i fold "$dir"/*.in)
for in in "$dir"/*.in; do
	name=${in##*/}
	name=${name%.in}
	case " $SESSION_KINDS " in *" mbox "*) tasks+=("mbox $name") ;; esac
	case " $SESSION_KINDS " in *" maildir "*) tasks+=("maildir $name") ;; esac
done

# The templates, before any case runs (side by side where they can be):
# the folders; for the mbox cases each distinct maildrop with an empty
# state directory beside it; for the Maildir cases each distinct maildrop
# as a Maildir with its Maildir++ folders, and the messages of each mbox
# a Maildir must hold afterwards, dumped.
make_home "$tmpl/home"
declare -A made=()
for task in "${tasks[@]}"; do
	[ "${task%% *}" = mbox ] || continue
	source_of "${task#* }"
	source=$REPLY
	key_of "$source"
	[ -z "${made[mbox-$REPLY]:-}" ] || continue
	made[mbox-$REPLY]=1
	(
		mkdir -p "$tmpl/mbox-$REPLY/spool" "$tmpl/mbox-$REPLY/state"
		[ -z "$source" ] || cp "$source" "$tmpl/mbox-$REPLY/spool/maildrop"
	) &
done
if [[ " $SESSION_KINDS " == *" maildir "* ]]; then
	make_maildir_folders "$tmpl/maildir-folders" "$tmpl/maildir-outside"
	for task in "${tasks[@]}"; do
		[ "${task%% *}" = maildir ] || continue
		name=${task#* }
		maildir_skip "$name" && continue
		source_of "$name"
		source=$REPLY
		key_of "$source"
		if [ -z "${made[maildir-$REPLY]:-}" ]; then
			made[maildir-$REPLY]=1
			# Without a maildrop, there are no Maildir folders either.
			(
				t=$tmpl/maildir-$REPLY
				mkdir -p "$t/spool" "$t/state"
				if [ -n "$source" ]; then
					cp -a "$tmpl/maildir-outside" "$t/outside"
					$conv split "$source" "$t/spool/Maildir"
					cp -a "$tmpl/maildir-folders/." "$t/spool/Maildir/"
				else
					cp -a "$tmpl/home/outside" "$t/outside"
				fi
			) &
		fi
		after_of "$name"
		for f in "$REPLY" "$dir/$name.saved-after"; do
			[ -f "$f" ] || continue
			key_of "$f"
			if [ -z "${made[dump-$REPLY]:-}" ]; then
				made[dump-$REPLY]=1
				$conv dump-mbox "$f" >"$tmpl/dump-$REPLY" &
			fi
		done
	done
fi
wait

# listing DIR: every name beneath DIR with its type, size, time and target.
listing() {
	find "$1" -printf '%P %y %s %T@ %l\n' | sort
}
listing "$tmpl/home" >"$tmpl/home.before"

# The cases, SESSION_JOBS at a time; then their verdicts, in order.
jobs=${SESSION_JOBS:-4}
for ((w = 0; w < jobs; w++)); do
	(
		for ((i = w; i < ${#tasks[@]}; i += jobs)); do
			task=${tasks[i]}
			name=${task#* }
			case ${task%% *} in
			mbox) run_case "$name" ;;
			maildir)
				if maildir_skip "$name"; then
					echo "not applicable: $name (Maildir): $REPLY"
				else
					run_maildir_case "$name"
				fi ;;
			esac >"$scratch/results/$i" 2>&1
			: >"$scratch/results/$i.ended"
		done
	) &
done
wait
for ((i = 0; i < ${#tasks[@]}; i++)); do
	if [ -f "$scratch/results/$i" ]; then
		replay "$scratch/results/$i"
		if [ ! -e "$scratch/results/$i.ended" ]; then
			fail "${tasks[i]}: the case stopped before its end"
		elif [ "$REPLY" -eq 0 ] && ! grep -q '^not applicable: ' "$scratch/results/$i"; then
			fail "${tasks[i]}: the case ended without a verdict"
		fi
	else
		fail "${tasks[i]}: the case did not run"
	fi
done
check "the folders shared by the cases without FOLD are unchanged" \
	cmp -s "$tmpl/home.before" <(listing "$tmpl/home")
finish
