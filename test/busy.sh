#!/bin/bash
# Busy and stale locks: a dot-lock of a dead process broken at once, a
# PID-less one broken after 300 s and respected while fresh, a live
# dotlockfile holder at QUIT and a classic fcntl holder at login turned
# away with nothing changed. The lock wait is shortened with the test
# build's POP2_LOCK_WAIT, so this needs --enable-test-seams.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions.sh"
# The ten-message maildrop $mbox, $HELO, and the one-shot session pop2.
. "$(dirname "$0")/tenmsgs.sh"

[ "${SEAMS:-no}" = yes ] || skip_all "POP2_LOCK_WAIT needs ./configure --enable-test-seams"
command -v dotlockfile >/dev/null || skip_all "dotlockfile is not installed (Debian: liblockfile-bin)"

export POP2_LOCK_WAIT=1

# The three cases that wait out POP2_LOCK_WAIT run side by side, each
# with a maildrop and a state directory of its own (spawn, in lib.sh).

# --- A fresh dot-lock is respected: the login gives up after POP2_LOCK_WAIT (the
# outer timeout only guards against a hang).
case_fresh_dot_lock() {
	mbox=$scratch/maildrop
	fresh_maildrop
	: >"$mbox.lock"
	printf '%s\r\n' "$HELO" QUIT | timeout 60 "$POP2D" -n t -p "$data/passwd" -S "$state" -m "$mbox" \
		>"$scratch/pop2.out" 2>"$scratch/pop2.err"
	check "a fresh PID-less dot-lock: - Maildrop busy" [ "$(last_reply)" = "- Maildrop busy" ]
	check "a fresh foreign dot-lock is left alone" [ -e "$mbox.lock" ]
}

# --- A live holder: dotlockfile writes the PID of a shell that stays alive.
case_live_holder() {
	local holder
	mbox=$scratch/maildrop
	fresh_maildrop
	cp "$mbox" "$scratch/before"
	session_start h "$mbox"
	session_send h "$HELO" "READ 1" RETR ACKD
	session_wait h '=[0-9]+ characters in message 2'
	# shellcheck disable=SC2016 # expanded by the inner shell
	sh -c 'dotlockfile -l -p "$1" && echo locked >"$2" && exec sleep 60' sh \
		"$mbox.lock" "$scratch/holding" &
	holder=$!
	wait_for 10 [ -s "$scratch/holding" ]
	session_send h QUIT
	session_wait h '[+-] .*' 30
	session_end h
	check "live dot-lock holder at QUIT: - Maildrop busy; nothing deleted" \
		[ "$(session_last h)" = "- Maildrop busy; nothing deleted" ]
	check "live dot-lock holder: maildrop unchanged" cmp -s "$scratch/before" "$mbox"
	kill "$holder"
	wait "$holder" 2>/dev/null
}

# --- A classic fcntl lock held by another process (as procmail takes it).
case_fcntl_holder() {
	local holder
	mbox=$scratch/maildrop
	fresh_maildrop
	cp "$mbox" "$scratch/before"
	mkfifo "$scratch/release"
	perl -e 'use Fcntl; open(F, "+<", $ARGV[0]) or die;
		my $lock = pack("ssx4qqix4", F_WRLCK, 0, 0, 0, 0);
		fcntl(F, F_SETLK, $lock) or die;
		$| = 1; print "held\n"; open(R, "<", $ARGV[1]); <R>' "$mbox" "$scratch/release" \
		>"$scratch/fcntl.out" &
	holder=$!
	wait_for 10 [ -s "$scratch/fcntl.out" ]
	pop2 "$HELO" QUIT
	check "fcntl holder at login: - Maildrop busy" [ "$(last_reply)" = "- Maildrop busy" ]
	echo >"$scratch/release"
	wait "$holder"
	check "fcntl holder: maildrop unchanged" cmp -s "$scratch/before" "$mbox"
}

for c in fresh_dot_lock live_holder fcntl_holder; do
	spawn "$c" "case_$c"
done

# --- Dot-locks: stale by a dead PID, stale by age (a fresh one above).
fresh_maildrop
sh -c 'echo $$' >"$mbox.lock"
pop2 "$HELO" QUIT
check "a dot-lock of a dead process is broken at once" [ "$(last_reply)" = "+ OK Sayonara" ]
check "the broken lock is gone" [ ! -e "$mbox.lock" ]
: >"$mbox.lock"
touch -d '-301 seconds' "$mbox.lock"
pop2 "$HELO" QUIT
check "a PID-less dot-lock older than 300 s is broken" [ "$(last_reply)" = "+ OK Sayonara" ]

for c in fresh_dot_lock live_holder fcntl_holder; do
	collect "$c"
done

finish
