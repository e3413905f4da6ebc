#!/bin/bash
# The maildrop's promise, proven against real delivery agents: a second
# session is refused, an idle session never blocks delivery, deliveries
# racing commits lose nothing and duplicate nothing, busy and stale
# dot-locks are handled, and a replaced maildrop is never trimmed.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions.sh"

for tool in procmail dotlockfile; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is not installed (Debian: procmail, liblockfile-bin)"
		exit 77
	fi
done

mbox=$scratch/maildrop
HELO='HELO alice wonderland'
# A session that finds the maildrop locked tries again within 10 to 40 ms
# (0.5 to 2 s in production): the racing rounds below meet the delivery
# agents often, and do not wait seconds each time.
export POP2_LOCK_BACKOFF_MS=40

# procmail appends to the maildrop under its own dot-lock and fcntl lock.
# LOCKSLEEP=0: a busy lock is tried again at once, and then every second
# (procmail's unique names for its tries run out within a second), not
# every 8.
printf 'LOCKSLEEP=0\n:0:\n%s\n' "$mbox" >"$scratch/procmailrc"
# dotlockfile + cat is the shell script's way, under liblockfile's dot-lock.
# liblockfile sleeps 5 s and more between its tries at a busy lock: this
# script tries again itself, every 10 ms (dotlockfile -r 0: one try each).
deliver() {
	message "$1" | procmail -m "$scratch/procmailrc"
}
deliver_by_dotlockfile() {
	local tries
	for ((tries = 0; tries < 6000; tries++)); do
		dotlockfile -l -r 0 -p "$mbox.lock" && break
		sleep 0.01
	done
	[ "$tries" -lt 6000 ] || return 1
	message "$1" >>"$mbox"
	dotlockfile -u "$mbox.lock"
}

# procmail sleeps a second before it writes to a mailbox whose access time
# is its modification time (its NFS "atime hack", for mail notifiers): after
# any read in the same second. An access time ahead of the clock, which
# reads leave alone under relatime, spares every delivery below that sleep.
fresh_maildrop() {
	: >"$mbox"
	local s
	for s in "$@"; do message "$s" >>"$mbox"; done
	touch -a -d '+1 hour' "$mbox"
}

# --- A second session for the same user is refused.
fresh_maildrop one two
session_start a "$mbox"
session_send a "$HELO"
session_wait a '#2 .*'
session_start b "$mbox"
session_send b "$HELO"
session_wait b '- .*'
check "second session: - Maildrop already in use" \
	[ "$(session_last b)" = "- Maildrop already in use" ]
session_end b
session_send a QUIT
session_wait a '[+-] .*'
session_end a
check "first session unaffected" [ "$(session_last a)" = "+ OK Sayonara" ]

# --- An idle session holds no maildrop lock: delivery goes through at once.
fresh_maildrop one two
session_start a "$mbox"
session_send a "$HELO" READ RETR ACKD
session_wait a '=[0-9]+ characters in message 2' 
dotlockfile -l -r 0 "$mbox.lock"
check "dot-lock free while the session is idle" [ $? -eq 0 ]
dotlockfile -u "$mbox.lock"
timeout 60 procmail -m "$scratch/procmailrc" < <(message three)
check "procmail delivers while the session is idle" [ $? -eq 0 ]
check "no fcntl lock held on the maildrop while the session is idle" \
	perl -e 'use Fcntl; open(F, "+<", $ARGV[0]) or die;
		my $lk = pack("ssx4qqix4", F_WRLCK, 0, 0, 0, 0);
		fcntl(F, F_SETLK, $lk) or exit 1' "$mbox"
session_send a QUIT
session_wait a '[+-] .*'
session_end a
check "QUIT after the delivery: + OK" [ "$(session_last a)" = "+ OK Sayonara" ]
check "deleted message gone" [ "$(count_subject "$mbox" one)" -eq 0 ]
check "kept message once" [ "$(count_subject "$mbox" two)" -eq 1 ]
check "mail delivered during the session kept once" [ "$(count_subject "$mbox" three)" -eq 1 ]
check "maildrop is exactly two then three" cmp -s "$mbox" <(message two; message three)

# --- Deliveries in a loop while sessions delete and commit.
fresh_maildrop seed-1 seed-2 seed-3
(
	for i in $(seq 1 60); do
		if [ $((i % 2)) -eq 0 ]; then deliver "loop-$i"; else deliver_by_dotlockfile "loop-$i"; fi
		[ $((i % 7)) -eq 0 ] && sleep 0.05
	done
) &
delivering=$!
deleted=()
for round in 1 2 3 4 5 6; do
	# Deliveries only add: once a message is there, READ 1 has one to give.
	# A delivery agent that found the lock taken sleeps 5 to 8 s first.
	for ((tries = 0; tries < 400; tries++)); do
		grep -q '^Subject: ' "$mbox" && break
		sleep 0.05
	done
	: >"$scratch/round.out"
	printf '%s\r\nREAD 1\r\nRETR\r\nACKD\r\nQUIT\r\n' "$HELO" |
		"$POP2D" -n t -p "$data/passwd" -S "$state" -m "$mbox" >"$scratch/round.out"
	subject=$(grep -a -m1 '^Subject: ' "$scratch/round.out" | tr -d '\r')
	[ -n "$subject" ] && deleted+=("${subject#Subject: }")
	last=$(tail -n 1 "$scratch/round.out" | tr -d '\r')
	check "racing round $round ends with + OK (got: $last)" [ "$last" = "+ OK Sayonara" ]
	[ "$last" = "+ OK Sayonara" ] || grep -a -E '^[-+#=]' "$scratch/round.out"
done
wait "$delivering"
lost=0
for s in seed-1 seed-2 seed-3 $(seq -f 'loop-%g' 1 60); do
	want=1
	for d in "${deleted[@]}"; do [ "$d" = "$s" ] && want=0; done
	got=$(count_subject "$mbox" "$s")
	if [ "$got" -ne "$want" ]; then
		echo "  $s: present $got times, expected $want"
		lost=1
	fi
done
check "racing deliveries: ${#deleted[@]} deleted, every other message exactly once" [ "$lost" -eq 0 ]
check "racing deliveries: the maildrop is a clean mbox" \
	[ "$(grep -c '^From sender@example.org ' "$mbox")" -eq $((63 - ${#deleted[@]})) ]

finish
