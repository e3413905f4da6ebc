#!/bin/bash
# RETR against a slow client: no maildrop lock is held while the client
# reads, so a delivery completes in the middle of a transfer; and a whole
# transfer is bounded by the idle limit, however the client paces its reads.
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v procmail >/dev/null; then
	echo "SKIP: procmail is not installed (Debian: procmail)"
	exit 77
fi

# Each case runs on its own maildrop beneath its own scratch folder, side
# by side with the others (spawn, in lib.sh): procmail's one-second pause
# after each delivery and the trickling reader's idle limit overlap.

# One message of SIZE octets of body (more than a pipe holds, and more
# than the 1 MiB that is read whole, or less).
big_maildrop() {
	mbox=$scratch/maildrop
	{
		printf 'From sender@example.org Mon Nov 16 09:12:44 2026\nSubject: big\n\n'
		head -c "$1" /dev/zero | tr '\0' 'x' | fold -w 76
		printf '\n\n'
	} >"$mbox"
}

# start [OPTIONS...]: pop2d on two FIFOs; the test holds their other ends
# (fd $w to write commands, fd $r to read replies) and reads nothing yet.
start() {
	rm -f "$scratch/in" "$scratch/out"
	mkfifo "$scratch/in" "$scratch/out"
	"$POP2D" -d -n t -p "$data/passwd" -S "$state" -m "$mbox" "$@" \
		<"$scratch/in" >"$scratch/out" 2>"$scratch/err" &
	pid=$!
	exec {w}>"$scratch/in"
	exec {r}<"$scratch/out"
}

# written_at_least N: waits until pop2d has written N octets (it is then
# blocked in the middle of the message, the pipe being full).
written_at_least() {
	local n left=6000
	while :; do
		n=$(sed -n 's/^wchar: //p' "/proc/$pid/io" 2>/dev/null) || return 1
		[ -n "$n" ] && [ "$n" -ge "$1" ] && return 0
		left=$((left - 1))
		[ "$left" -gt 0 ] || return 1
		sleep 0.01
	done
}

# A RETR of SIZE octets with a client that does not read; procmail
# delivers meanwhile.
case_retr() {
	local size=$1 n lines reader
	big_maildrop "$size"
	printf ':0:\n%s\n' "$mbox" >"$scratch/procmailrc"
	start
	printf 'HELO alice wonderland\r\nREAD 1\r\nRETR\r\n' >&"$w"
	check "RETR of $size: pop2d is stuck on a client that does not read" written_at_least 60000
	# The delivery needs procmail's dot-lock and fcntl lock on the maildrop.
	printf 'From late@example.org Mon Nov 16 10:00:00 2026\nSubject: late\n\nlate\n' |
		timeout 60 procmail -m "$scratch/procmailrc"
	check "RETR of $size: procmail delivers while the client is not reading" [ $? -eq 0 ]
	check "RETR of $size: ... and the transfer is still under way" kill -0 "$pid"
	cat <&"$r" >"$scratch/got" &
	reader=$!
	exec {r}<&-
	printf 'ACKS\r\nQUIT\r\n' >&"$w"
	exec {w}>&-
	wait "$pid"
	check "RETR of $size: the session ends normally" [ $? -eq 0 ]
	wait "$reader"
	n=$(tr -d '\r' <"$scratch/got" | sed -n 's/^=\([0-9]*\) .*/\1/p' | head -n 1)
	# Greeting, #1, =N, N octets, =0 after ACKS, + OK.
	lines=$(head -n 3 "$scratch/got" | wc -c)
	check "RETR of $size: exactly =N octets sent" \
		[ "$(tail -c +$((lines + 1)) "$scratch/got" | head -c "$n" | grep -c -x $'x\\{76\\}\r')" -eq $((size / 76)) ]
	check "RETR of $size: the session ends with + OK" \
		[ "$(tail -n 1 "$scratch/got" | tr -d '\r' | cut -c1-4)" = "+ OK" ]
	check "RETR of $size: the delivered message is there once" \
		[ "$(grep -c -x 'Subject: late' "$mbox")" -eq 1 ]
}

# --- A client that takes its message a few octets at a time is cut off
# after the idle limit (1 s here, the least there is) for the whole
# transfer, although each write makes progress.
case_trickle() {
	local trickle watchdog status
	big_maildrop 8000000
	start -t 1
	printf 'HELO alice wonderland\r\nREAD 1\r\nRETR\r\n' >&"$w"
	(
		while kill -0 "$pid" 2>/dev/null; do
			head -c 4096 >/dev/null || break
			sleep 0.2
		done
	) <&"$r" &
	trickle=$!
	exec {r}<&-
	# Watchdog: without a bound on the whole transfer this would take minutes.
	(
		for _ in $(seq 120); do
			kill -0 "$pid" 2>/dev/null || exit 0
			sleep 1
		done
		kill -KILL "$pid"
	) >/dev/null 2>&1 &
	watchdog=$!
	wait "$pid"
	status=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	wait "$trickle" 2>/dev/null
	exec {w}>&-
	check "a trickling reader: pop2d ends the session itself" [ "$status" -ne 137 ]
	check "a trickling reader: logged as not taken within the idle limit" \
		grep -q 'reason=message not taken within the idle limit' "$scratch/err"
}

spawn trickle case_trickle
spawn retr-4000000 case_retr 4000000
spawn retr-400000 case_retr 400000
for c in retr-4000000 retr-400000 trickle; do
	collect "$c"
done
finish
