#!/bin/bash
# Failures that must never cost a message: pop2d killed at every step of a
# commit (then recovered at the next login or by --recover-all), a full
# state directory, a full spool, busy and stale dot-locks, fcntl holders,
# and a maildrop replaced or rewritten behind the session's back.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions.sh"

mbox=$scratch/maildrop
HELO='HELO alice wonderland'
# Late mail comes from procmail under its fcntl lock only: the dot-lock the
# killed pop2d left behind names a dead process, and procmail would wait
# LOCKTIMEOUT (17 minutes) before it broke it. The next login breaks it.
printf ':0\n%s\n' "$mbox" >"$scratch/procmailrc"

# ten messages of different sizes: m1 .. m10
fresh_maildrop() {
	: >"$mbox"
	local i
	for i in $(seq 1 10); do
		{
			printf 'From sender@example.org Mon Nov 16 09:12:44 2026\nSubject: m%s\n\n' "$i"
			head -c $((i * 700)) /dev/zero | tr '\0' 'a' | fold -w 70
			printf '\n\n'
		} >>"$mbox"
	done
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

# --- kill -9 at every step of the commit, then recovery.
if [ "${SEAMS:-no}" = yes ] && command -v procmail >/dev/null; then
	# The default rounds (one round here), then rounds of 8 KiB: several.
	for seam in journal-written journal-synced mid-write written phase-t truncated unlinked \
		16384:round-saved@1 16384:mid-write@2 16384:written@1; do
		jmax=
		case $seam in
		*:*) jmax=${seam%%:*} seam=${seam#*:} ;;
		esac
		for pattern in one half all; do
			[ -n "$jmax" ] && [ "$pattern" = all ] && continue
			for extra in small large; do
				fresh_maildrop
				case $pattern in
				one) del=(1) ;;
				half) del=(2 4 6 8 10) ;;
				all) del=(1 2 3 4 5 6 7 8 9 10) ;;
				esac
				cmds=("$HELO")
				for n in "${del[@]}"; do cmds+=("READ $n" RETR ACKD); done
				cmds+=(QUIT)
				POP2_CRASH_AT=$seam POP2_JOURNAL_MAX=$jmax pop2 "${cmds[@]}"
				status=$?
				label="kill -9 at $seam${jmax:+ (rounds of $((jmax / 2)))}, delete $pattern, then $extra mail"
				if [ "$pattern" = all ] && { [ "$seam" = mid-write ] || [ "$seam" = written ]; }; then
					# Deleting everything moves nothing: the commit has no rounds.
					check "$label: pop2d had nothing to write" [ "$status" -eq 0 ]
					continue
				fi
				check "$label: pop2d was killed" [ "$status" -eq 137 ]
				check "$label: its dot-lock is left behind" [ -e "$mbox.lock" ]
				# Mail delivered after the crash: less or more than what was deleted.
				if [ "$extra" = small ]; then size=10; else size=60000; fi
				{
					printf 'From late@example.org Mon Nov 16 10:00:00 2026\nSubject: late\n\n'
					head -c "$size" /dev/zero | tr '\0' 'b' | fold -w 70
					printf '\n'
				} | procmail -m "$scratch/procmailrc"
				if [ "$((RANDOM % 2))" -eq 0 ]; then
					pop2 "$HELO" QUIT
					how="next login"
				else
					"$POP2D" --recover-all -p "$data/passwd" -m "$mbox" -S "$state" 2>"$scratch/recover.err"
					how="--recover-all"
				fi
				kept=() gone=()
				for i in $(seq 1 10); do
					d=0
					for n in "${del[@]}"; do [ "$n" -eq "$i" ] && d=1; done
					# Before the journal is durable the commit never happened.
					if [ "$d" -eq 1 ] && [ "$seam" != journal-written ]; then
						gone+=("m$i")
					else
						kept+=("m$i")
					fi
				done
				expect_messages "$label, recovered by $how" late "${kept[@]}" -- "${gone[@]}"
				check "$label: no journal left" [ ! -e "$state/alice/commit.jnl" ]
				# The dead PID inside it lets the next login break it at once.
				pop2 "$HELO" QUIT
				check "$label: the next login breaks the dead process's dot-lock" \
					[ "$(last_reply)" = "+ OK Sayonara" -a ! -e "$mbox.lock" ]
			done
		done
	done
else
	echo "SKIP: crash tests need ./configure --enable-test-seams and procmail"
fi

# --- Killed mid-commit, then the maildrop rewritten by another program
# before the recovery: the recovery touches nothing and keeps the journal's data.
if [ "${SEAMS:-no}" = yes ]; then
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
	rm -f "$state/alice/recovered.mbox" "$state/alice/commit.jnl.orphan"
fi

# --- Killed mid-commit, then the maildrop removed: its kept mail is set
# aside at the next login, which is not refused.
if [ "${SEAMS:-no}" = yes ]; then
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
	rm -f "$state/alice/recovered.mbox" "$state/alice/commit.jnl.orphan"
fi

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

# --- Dot-locks: busy, stale by a dead PID, stale by age, fresh.
if [ "${SEAMS:-no}" = yes ]; then
	export POP2_LOCK_WAIT=2
	fresh_maildrop
	sh -c 'echo $$' >"$mbox.lock"
	pop2 "$HELO" QUIT
	check "a dot-lock of a dead process is broken at once" [ "$(last_reply)" = "+ OK Sayonara" ]
	check "the broken lock is gone" [ ! -e "$mbox.lock" ]
	: >"$mbox.lock"
	touch -d '-301 seconds' "$mbox.lock"
	pop2 "$HELO" QUIT
	check "a PID-less dot-lock older than 300 s is broken" [ "$(last_reply)" = "+ OK Sayonara" ]
	: >"$mbox.lock"
	start=$(date +%s)
	pop2 "$HELO" QUIT
	check "a fresh PID-less dot-lock: - Maildrop busy" [ "$(last_reply)" = "- Maildrop busy" ]
	check "a fresh PID-less dot-lock: gave up after the wait" [ $(( $(date +%s) - start )) -lt 10 ]
	check "a fresh foreign dot-lock is left alone" [ -e "$mbox.lock" ]
	rm -f "$mbox.lock"

	# A live holder: dotlockfile writes the PID of a shell that stays alive.
	if command -v dotlockfile >/dev/null; then
		fresh_maildrop
		cp "$mbox" "$scratch/before"
		session_start h "$mbox"
		session_send h "$HELO" "READ 1" RETR ACKD
		session_wait h '=[0-9]+ characters in message 2' 
		sh -c 'dotlockfile -l -p "$1" && exec sleep 30' sh "$mbox.lock" &
		holder=$!
		sleep 0.5
		session_send h QUIT
		session_wait h '[+-] .*' 20
		session_end h
		check "live dot-lock holder at QUIT: - Maildrop busy; nothing deleted" \
			[ "$(session_last h)" = "- Maildrop busy; nothing deleted" ]
		check "live dot-lock holder: maildrop unchanged" cmp -s "$scratch/before" "$mbox"
		kill "$holder"
		wait "$holder" 2>/dev/null
		rm -f "$mbox.lock"
	fi

	# A classic fcntl lock held by another process (as procmail takes it).
	fresh_maildrop
	cp "$mbox" "$scratch/before"
	perl -e 'use Fcntl; open(F, "+<", $ARGV[0]) or die;
		my $lock = pack("ssx4qqix4", F_WRLCK, 0, 0, 0, 0);
		fcntl(F, F_SETLK, $lock) or die;
		$| = 1; print "held\n"; sleep 30' "$mbox" >"$scratch/fcntl.out" &
	holder=$!
	while [ ! -s "$scratch/fcntl.out" ]; do sleep 0.1; done
	pop2 "$HELO" QUIT
	check "fcntl holder at login: - Maildrop busy" [ "$(last_reply)" = "- Maildrop busy" ]
	kill "$holder"
	wait "$holder" 2>/dev/null
	check "fcntl holder: maildrop unchanged" cmp -s "$scratch/before" "$mbox"
	unset POP2_LOCK_WAIT
fi

# --- A full state directory: no journal, no commit, nothing touched.
if [ "$(id -u)" -eq 0 ]; then
	fresh_maildrop
	cp "$mbox" "$scratch/before"
	small=$scratch/small-state
	mkdir -p "$small"
	if mount -t tmpfs -o size=16k,mode=755 tmpfs "$small" 2>/dev/null; then
		printf '%s\r\n' "$HELO" "READ 1" RETR ACKD QUIT |
			"$POP2D" -n t -p "$data/passwd" -S "$small" -m "$mbox" >"$scratch/pop2.out"
		check "state directory full: QUIT fails with a - reply (got: $(last_reply))" \
			[ "$(last_reply)" = "- No space for the commit journal; nothing deleted" ]
		check "state directory full: maildrop identical" cmp -s "$scratch/before" "$mbox"
		check "state directory full: no journal left" [ ! -e "$small/alice/commit.jnl.tmp" ]
		umount "$small"
	else
		echo "SKIP: cannot mount a tmpfs here"
	fi

	# A full spool: the commit never grows the file, so it still works.
	spool=$scratch/full-spool
	mkdir -p "$spool"
	if mount -t tmpfs -o size=256k tmpfs "$spool" 2>/dev/null; then
		mbox=$spool/maildrop
		fresh_maildrop
		# Nearly full: room for the dot-lock's two small files, no more.
		avail=$(df --output=avail -k "$spool" | tail -n 1)
		head -c $(( (avail - 12) * 1024 )) /dev/zero >"$spool/filler"
		pop2 "$HELO" "READ 1" RETR ACKD "READ 5" RETR ACKD QUIT
		check "full spool: the commit still works" [ "$(last_reply)" = "+ OK Sayonara" ]
		expect_messages "full spool: kept messages intact" m2 m3 m4 m6 m7 m8 m9 m10 -- m1 m5
		umount "$spool"
		mbox=$scratch/maildrop
	fi
else
	echo "SKIP: ENOSPC tests need root (tmpfs mounts)"
fi

finish
