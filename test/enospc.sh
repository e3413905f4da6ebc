#!/bin/bash
# Full disks, on tmpfs mounts private to the test's namespaces (test/ns.sh):
# a full state directory means no journal, no commit, nothing touched; a
# nearly full spool still commits, since the commit never grows the file.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"

mbox=$scratch/maildrop
HELO='HELO alice wonderland'

# ten messages of different sizes: m1 .. m10
fresh_maildrop() {
	local i body
	body=$(head -c 7000 /dev/zero | tr '\0' 'a' | fold -w 70)
	for i in $(seq 1 10); do
		printf 'From sender@example.org Mon Nov 16 09:12:44 2026\nSubject: m%s\n\n%s\n\n' \
			"$i" "${body:0:$((i * 710 - 1))}"
	done >"$mbox"
}

# pop2 INPUT-LINES...: one session over a pipe; replies in $scratch/pop2.out.
pop2() {
	printf '%s\r\n' "$@" | "$POP2D" -n t -p "$data/passwd" -S "$state" -m "$mbox" \
		>"$scratch/pop2.out" 2>"$scratch/pop2.err"
}

last_reply() {
	tail -n 1 "$scratch/pop2.out" | tr -d '\r'
}

# expect_messages LABEL PRESENT... -- ABSENT...: each present once, each absent never.
expect_messages() {
	local label=$1 bad=0 s want=1
	shift
	for s in "$@"; do
		if [ "$s" = -- ]; then want=0; continue; fi
		if [ "$(grep -c -x -F "Subject: $s" "$mbox")" -ne "$want" ]; then
			echo "  $label: $s is there $(grep -c -x -F "Subject: $s" "$mbox") times, expected $want"
			bad=1
		fi
	done
	check "$label" [ "$bad" -eq 0 ]
}

# --- A full state directory: no journal, no commit, nothing touched.
fresh_maildrop
cp "$mbox" "$scratch/before"
small=$scratch/small-state
mkdir -p "$small"
ns_tmpfs "$small" size=16k,mode=755
# This session's state directory is the tiny one.
printf '%s\r\n' "$HELO" "READ 1" RETR ACKD QUIT |
	"$POP2D" -n t -p "$data/passwd" -S "$small" -m "$mbox" >"$scratch/pop2.out"
check "state directory full: QUIT fails with a - reply (got: $(last_reply))" \
	[ "$(last_reply)" = "- No space for the commit journal; nothing deleted" ]
check "state directory full: maildrop identical" cmp -s "$scratch/before" "$mbox"
check "state directory full: no journal left" \
	[ ! -e "$small/alice/commit.jnl.tmp" -a ! -e "$small/alice/commit.jnl" ]

# --- A full spool: the commit never grows the file, so it still works.
spool=$scratch/full-spool
mkdir -p "$spool"
ns_tmpfs "$spool" size=256k
mbox=$spool/maildrop
fresh_maildrop
# Nearly full: room for the dot-lock's two small files, no more.
avail=$(df --output=avail -k "$spool" | tail -n 1)
head -c $(((avail - 12) * 1024)) /dev/zero >"$spool/filler"
pop2 "$HELO" "READ 1" RETR ACKD "READ 5" RETR ACKD QUIT
check "full spool: the commit still works" [ "$(last_reply)" = "+ OK Sayonara" ]
expect_messages "full spool: kept messages intact" m2 m3 m4 m6 m7 m8 m9 m10 -- m1 m5

finish
