#!/bin/bash
# pop2d killed at every step of a commit, recovered by pop2d --recover-all
# (test/crash.sh); and a crash after which another program rewrote the
# maildrop: the recovery touches nothing and keeps the journal's data.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crash.sh"

crash_matrix --recover-all

fresh_maildrop
POP2_CRASH_AT=mid-write pop2 "$HELO" "READ 2" RETR ACKD QUIT
check "orphan: pop2d was killed mid-write" [ $? -eq 137 ]
rm -f "$mbox.lock"
printf 'From other@example.org Mon Nov 16 11:00:00 2026\nSubject: rewritten\n\nnew\n' >"$scratch/other"
cat "$scratch/other" >"$mbox"
"$POP2D" --recover-all -p "$data/passwd" -m "$mbox" -S "$state" 2>"$scratch/recover.err"
check "orphan: --recover-all exits 1" [ $? -eq 1 ]
check "orphan: --recover-all says where the data is" grep -q 'recovered.mbox' "$scratch/recover.err"
check "orphan: the rewritten maildrop is left alone" cmp -s "$scratch/other" "$mbox"
check "orphan: the journal's data is saved" grep -q -x 'Subject: m10' "$state/alice/recovered.mbox"
check "orphan: the journal is kept aside" [ -e "$state/alice/commit.jnl.orphan" -a ! -e "$state/alice/commit.jnl" ]
pop2 "$HELO" QUIT
check "orphan: the user can log in afterwards" [ "$(last_reply)" = "+ OK Sayonara" ]

finish
