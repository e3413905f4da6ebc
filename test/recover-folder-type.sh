#!/bin/bash
# A folder whose commit was interrupted and whose name has since become a
# directory (a Maildir made in its place) or a FIFO: the next login saves
# the interrupted round from the journal in recovered.mbox, keeps the
# journal aside, and lets the user in, as for a removed folder, instead of
# refusing every login.
set -u
. "$(dirname "$0")/lib.sh"
[ "${SEAMS:-no}" = yes ] || skip_all "the crash points need ./configure --enable-test-seams"

home=$scratch/home
mbox=$scratch/maildrop
mkdir -p "$home" "$state"
: >"$mbox"
pop2() {
	printf '%s\r\n' "$@" | timeout 30 "$POP2D" -d -n t -p "$data/passwd" -S "$state" \
		-m "$mbox" -F "$home" >"$scratch/out" 2>"$scratch/err"
}

for kind in removed directory fifo; do
	rm -rf "$home/archive" "$state/alice"
	for s in a b c d; do
		printf 'From a@example.org Mon Nov 16 09:12:44 2026\nSubject: %s\n\nbody %s\n\n' \
			"$s" "$(head -c 9000 /dev/zero | tr '\0' x)"
	done >"$home/archive"
	(POP2_JOURNAL_MAX=16384 POP2_CRASH_AT=mid-write pop2 'HELO alice wonderland' \
		'FOLD archive' 'READ 1' RETR ACKD QUIT) 2>/dev/null
	check "$kind: killed mid-write, the folder's journal is left" [ -e "$state/alice/commit.jnl" ]
	rm -f "$home/archive" "$home/archive.lock"
	if [ "$kind" = removed ]; then
		:
	elif [ "$kind" = directory ]; then
		mkdir -p "$home/archive/cur" "$home/archive/new" "$home/archive/tmp"
	else
		mkfifo "$home/archive"
	fi
	pop2 'HELO alice wonderland' QUIT
	check "$kind: the user can log in" grep -q '^#0 messages in INBOX' "$scratch/out"
	if [ "$kind" = removed ]; then
		cp "$state/alice/recovered.mbox" "$scratch/reference"
	else
		check "$kind: recovered.mbox holds what it holds for a removed folder" \
			cmp -s "$scratch/reference" "$state/alice/recovered.mbox"
	fi
	check "$kind: the journal is kept aside" \
		[ -e "$state/alice/commit.jnl.orphan" -a ! -e "$state/alice/commit.jnl" ]
	check "$kind: logged" grep -q 'recovered.mbox' "$scratch/err"
done

finish
