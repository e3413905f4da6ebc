#!/bin/bash
# Full disks, on tmpfs mounts private to the test's namespaces (test/ns.sh):
# a full state directory means no journal, no commit, nothing touched; a
# nearly full spool still commits, since the commit never grows the file.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"

. "$(dirname "$0")/tenmsgs.sh"

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
