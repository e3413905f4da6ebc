#!/bin/bash
# Failures that must never cost a message, without crash points: a running
# session's user left alone by --recover-all, a maildrop replaced or
# rewritten behind the session's back, a message rewritten before its
# RETR. The crashes are test/crash-login.sh and test/crash-recover.sh,
# busy locks test/busy.sh, full disks test/enospc.sh.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions.sh"

. "$(dirname "$0")/tenmsgs.sh"

# --- --recover-all leaves a user alone whose session is running.
fresh_maildrop
session_start busy "$mbox"
session_send busy "$HELO"
session_wait busy '#[0-9]+ .*'
"$POP2D" --recover-all -p "$data/passwd" -m "$mbox" -S "$state" 2>"$scratch/recover.err"
check "--recover-all skips a running session's user, exit 0" [ $? -eq 0 ]
session_send busy QUIT
session_wait busy '[+-] .*'
session_end busy
check "and that session is undisturbed" [ "$(session_last busy)" = "+ OK Sayonara" ]

# --- A maildrop replaced or rewritten between login and QUIT: nothing removed.
for how in replaced rewritten; do
	fresh_maildrop
	cp "$mbox" "$scratch/before"
	session_start r "$mbox"
	session_send r "$HELO" "READ 1" RETR ACKD
	session_wait r '=[0-9]+ characters in message 2' 
	if [ "$how" = replaced ]; then
		cp "$mbox" "$scratch/copy" && mv "$scratch/copy" "$mbox"
	else
		printf 'X' | dd of="$mbox" bs=1 seek=120 conv=notrunc status=none
		cp "$mbox" "$scratch/before"
	fi
	session_send r QUIT
	session_wait r '[+-] .*'
	session_end r
	reply=$(session_last r)
	check "maildrop $how: QUIT says nothing was deleted (got: $reply)" \
		[ "$reply" = "- Maildrop changed by another program; nothing deleted" ]
	check "maildrop $how: left exactly as it was" cmp -s "$scratch/before" "$mbox"
done

# --- A message rewritten before its RETR: the session ends, nothing is removed.
fresh_maildrop
session_start v "$mbox"
session_send v "$HELO" "READ 1" RETR ACKD
session_wait v '=[0-9]+ characters in message 2'
printf 'X' | dd of="$mbox" bs=1 seek="$(( $(stat -c %s "$mbox") - 100 ))" conv=notrunc status=none
cp "$mbox" "$scratch/before"
session_send v "READ 10" RETR
session_wait v '- .*'
session_end v
check "message rewritten before RETR: - Maildrop changed by another program" \
	[ "$(session_last v)" = "- Maildrop changed by another program" ]
check "message rewritten before RETR: not one octet of it sent" \
	[ "$(grep -c -a '^a' "$scratch/v.out")" -eq "$(sed -n '/^Subject: m1$/,/^Subject: m2$/p' "$mbox" | grep -c '^a')" ]
check "message rewritten before RETR: no commit, message 1 kept" cmp -s "$scratch/before" "$mbox"

finish
