#!/bin/bash
# pop2d killed at every step of a commit, recovered by the user's next
# login (test/crash.sh); and a crash after which the maildrop was removed:
# its kept mail is set aside at the next login, which is not refused.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/crash.sh"

crash_matrix "next login"

fresh_maildrop
POP2_CRASH_AT=mid-write pop2 "$HELO" "READ 2" RETR ACKD QUIT
check "maildrop removed after a crash: pop2d was killed mid-write" [ $? -eq 137 ]
rm -f "$mbox" "$mbox.lock"
pop2 "$HELO" QUIT
check "maildrop removed after a crash: the next login works" \
	[ "$(tr -d '\r' <"$scratch/pop2.out" | sed -n 2p)" = "#0 messages in INBOX" ]
check "maildrop removed after a crash: the kept mail is saved" \
	grep -q -x 'Subject: m10' "$state/alice/recovered.mbox"
check "maildrop removed after a crash: the journal is set aside" \
	[ -e "$state/alice/commit.jnl.orphan" -a ! -e "$state/alice/commit.jnl" ]

finish
