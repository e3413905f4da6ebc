#!/bin/bash
# Signals and vanished clients: SIGTERM, SIGHUP and SIGINT in a session end
# it without a commit, with one log line and no lock left behind; a client
# that goes away in the middle of a message (SIGPIPE ignored, a write
# error) does the same; a signal that arrives while a commit changes the
# maildrop waits until the commit is whole.
# shellcheck disable=SC2154 # session_start sets pid_ID
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions.sh"

mbox=$scratch/maildrop
HELO='HELO alice wonderland'

fresh_maildrop() {
	: >"$mbox"
	local s
	for s in "$@"; do message "$s" >>"$mbox"; done
}

# --- A signal in an idle session, after ACKD: nothing removed.
for sig in TERM HUP INT; do
	fresh_maildrop one two three
	cp "$mbox" "$scratch/before"
	session_start s "$mbox" -d
	session_send s "$HELO" "READ 1" RETR ACKD
	session_wait s '=[0-9]+ characters in message 2'
	kill -"$sig" "$pid_s"
	session_end s
	status=$?
	check "SIG$sig: exit 1" [ "$status" -eq 1 ]
	check "SIG$sig: no reply after the signal" \
		grep -q -x -E '=[0-9]+ characters in message 2' <(session_last s)
	check "SIG$sig: the maildrop is unchanged" cmp -s "$scratch/before" "$mbox"
	check "SIG$sig: no dot-lock left" [ ! -e "$mbox.lock" ]
	check "SIG$sig: one log line with the reason" \
		[ "$(grep -c 'session end user=alice reason=signal retrieved=1 deleted=0 ' "$scratch/s.err")" -eq 1 ]
done

# --- The client goes away in the middle of a large message.
fresh_maildrop one
{
	printf 'From sender@example.org Mon Nov 16 09:12:44 2026\nSubject: big\n\n'
	head -c 20000000 /dev/zero | tr '\0' 'x' | fold -w 76
	printf '\n\n'
} >>"$mbox"
cp "$mbox" "$scratch/before"
# head stops reading after 64 KiB of the reply stream, which closes the pipe.
printf '%s\r\n' "$HELO" "READ 1" RETR ACKD RETR ACKD QUIT |
	"$POP2D" -d -n t -p "$data/passwd" -S "$state" -m "$mbox" 2>"$scratch/gone.err" |
	head -c 65536 >/dev/null
status=${PIPESTATUS[1]}
check "client gone mid-message: exit 1" [ "$status" -eq 1 ]
check "client gone mid-message: a write error, not a crash" \
	grep -q 'session end user=alice reason=write error' "$scratch/gone.err"
check "client gone mid-message: the maildrop is unchanged" cmp -s "$scratch/before" "$mbox"
check "client gone mid-message: no dot-lock left" [ ! -e "$mbox.lock" ]

# --- SIGTERM while the commit rewrites the maildrop: it completes first.
if [ "${SEAMS:-no}" = yes ]; then
	for step in journal-synced mid-write phase-t; do
		fresh_maildrop one two three four
		# The test build suspends itself at STEP; the signal arrives there.
		POP2_STOP_AT=$step session_start c "$mbox" -d
		session_send c "$HELO" "READ 1" RETR ACKD "READ 3" RETR ACKD QUIT
		for ((i = 0; i < 500; i++)); do
			[ "$(cut -d' ' -f3 "/proc/$pid_c/stat" 2>/dev/null)" = T ] && break
			sleep 0.01
		done
		check "SIGTERM at $step: pop2d stopped inside the commit" \
			[ "$(cut -d' ' -f3 "/proc/$pid_c/stat" 2>/dev/null)" = T ]
		kill -TERM "$pid_c"
		kill -CONT "$pid_c"
		session_end c
		check "SIGTERM at $step: the commit is whole" \
			cmp -s "$mbox" <(message two; message four)
		check "SIGTERM at $step: and QUIT says so" [ "$(session_last c)" = "+ OK Sayonara" ]
		check "SIGTERM at $step: no journal left" [ ! -e "$state/alice/commit.jnl" ]
		check "SIGTERM at $step: no dot-lock left" [ ! -e "$mbox.lock" ]
	done
else
	skip "a signal during the commit needs ./configure --enable-test-seams"
fi

finish
