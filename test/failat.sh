#!/bin/bash
# Injected failures (POP2_FAIL_AT=STEP:ERRNO[:N], lib/seam.h) at the system
# calls of the state directory, the session lock, the dot-lock and the
# store: for each, the client's reply, the log line, the maildrop left
# byte for byte as it was, no journal or lock left behind, and the next
# login, without the fault, working and repairing what was left.
#
# The commit's own steps (lib/commit.c): a failure before the maildrop is
# touched means "- ...; nothing deleted", no journal and the maildrop as
# it was; after it, the journal stays and the next login finishes the
# commit (check_commit drives the same points at every call).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions.sh"
[ "${SEAMS:-no}" = yes ] || skip_all "POP2_FAIL_AT needs ./configure --enable-test-seams"

mbox=$scratch/maildrop
HELO='HELO alice wonderland'
export POP2_LOCK_WAIT=1

fresh() {
	rm -rf "$state" "$mbox" "$mbox.lock"
	mkdir "$state"
	{ message one; message two; message three; } >"$mbox"
	cp "$mbox" "$scratch/before"
}

# pop2 [ENV=VALUE...] -- LINES...: one session with -d; replies (CR
# removed) in $scratch/out, log lines in $scratch/err.
pop2() {
	local env=()
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	printf '%s\r\n' "$@" | env ${env[@]+"${env[@]}"} "$POP2D" -d -n t -p "$data/passwd" \
		-S "$state" -m "$mbox" 2>"$scratch/err" | tr -d '\r' >"$scratch/out"
}
reply() { tail -n 1 "$scratch/out"; }

# untouched LABEL: the maildrop as it was, no journal, no lock, no post.
untouched() {
	check "$1: the maildrop is unchanged" cmp -s "$scratch/before" "$mbox"
	check "$1: no journal and no lock left" \
		[ ! -e "$state/alice/commit.jnl" -a ! -e "$state/alice/commit.jnl.tmp" -a \
		-z "$(find "$scratch" -maxdepth 1 -name '*.lock*')" ]
}

# then_works LABEL: the next login without the fault deletes message 1.
then_works() {
	pop2 -- "$HELO" "READ 1" RETR ACKD QUIT
	check "$1: the next login works and commits" \
		[ "$(reply)" = "+ OK Sayonara" -a "$(count_subject "$mbox" one)" -eq 0 -a \
		"$(count_subject "$mbox" two)" -eq 1 -a "$(count_subject "$mbox" three)" -eq 1 ]
}

# at_commit: the faults at the commit and after it, with a maildrop of its
# own; started first, beside the faults at login (lib.sh's spawn), and
# checked after them.
at_commit() {
	local mbox=$scratch/maildrop fault step outcome
	# --- At the commit (the second time the dot-lock is taken): nothing deleted.
	for fault in lock.post-open:EIO:2 lock.post-write:EIO:2 lock.link:EIO:2 lock.link:ENOSPC:2; do
		fresh
		pop2 POP2_FAIL_AT=$fault -- "$HELO" "READ 1" RETR ACKD QUIT
		check "$fault at QUIT: a - reply, nothing deleted (got: $(reply))" \
			grep -q -x -E -- '- .*; nothing deleted' <(reply)
		check "$fault at QUIT: logged as a failed commit" \
			grep -q 'session end user=alice reason=commit failed retrieved=1 deleted=0 ' "$scratch/err"
		untouched "$fault at QUIT"
		then_works "$fault at QUIT"
	done

	# --- A stale dot-lock that cannot be removed: busy, and left for later.
	fresh
	sh -c 'echo $$' >"$mbox.lock"
	pop2 POP2_FAIL_AT='lock.unlink-stale:EIO:*' POP2_LOCK_WAIT=0 -- "$HELO" QUIT
	check "lock.unlink-stale: - Maildrop busy" [ "$(reply)" = "- Maildrop busy" ]
	check "lock.unlink-stale: the stale lock is still there" [ -e "$mbox.lock" ]
	check "lock.unlink-stale: the maildrop is unchanged" cmp -s "$scratch/before" "$mbox"
	then_works "lock.unlink-stale"
	check "lock.unlink-stale: the next login broke the dead process's lock" [ ! -e "$mbox.lock" ]

	# --- Our own dot-lock not removed after the commit: it names a process
	# that is gone, so the next login breaks it at once.
	fresh
	pop2 POP2_FAIL_AT=lock.unlink:EIO:2 -- "$HELO" "READ 3" RETR ACKD QUIT
	check "lock.unlink after the commit: + OK, the commit is whole" \
		[ "$(reply)" = "+ OK Sayonara" -a "$(count_subject "$mbox" three)" -eq 0 ]
	check "lock.unlink after the commit: the lock is left, with pop2d's PID" \
		[ -s "$mbox.lock" ]
	cp "$mbox" "$scratch/before"
	pop2 -- "$HELO" "READ 1" RETR ACKD QUIT
	check "lock.unlink: the next login breaks it and commits" \
		[ "$(reply)" = "+ OK Sayonara" -a ! -e "$mbox.lock" -a "$(count_subject "$mbox" one)" -eq 0 ]

	# --- A damaged journal that cannot be removed: the login is refused, the
	# journal kept; the next login removes it (the maildrop was never touched).
	fresh
	mkdir -p "$state/alice"
	echo garbage >"$state/alice/commit.jnl"
	pop2 POP2_FAIL_AT=commit.unlink:EIO -- "$HELO" QUIT
	check "commit.unlink (a damaged journal): - Cannot open maildrop" [ "$(reply)" = "- Cannot open maildrop" ]
	check "commit.unlink (a damaged journal): logged" \
		grep -q 'user=alice reason=cannot finish an interrupted commit: Input/output error' "$scratch/err"
	check "commit.unlink (a damaged journal): the journal is kept" [ -e "$state/alice/commit.jnl" ]
	check "commit.unlink (a damaged journal): the maildrop is unchanged" cmp -s "$scratch/before" "$mbox"
	then_works "commit.unlink (a damaged journal)"
	check "commit.unlink (a damaged journal): the next login removed the damaged journal" \
		[ ! -e "$state/alice/commit.jnl" ]

	# --- The commit's own steps, each failed at its first call.
	for fault in commit.open:nothing commit.pwrite:nothing commit.fsync:nothing \
		commit.rename:nothing commit.fallocate:nothing commit.fdatasync:later \
		commit.ftruncate:later commit.unlink:later; do
		step=${fault%%:*} outcome=${fault#*:}
		fresh
		pop2 POP2_FAIL_AT=$step:EIO -- "$HELO" "READ 1" RETR ACKD "READ 3" RETR ACKD QUIT
		if [ "$outcome" = nothing ]; then
			check "$step: - Commit failed; nothing deleted" [ "$(reply)" = "- Commit failed; nothing deleted" ]
			untouched "$step"
		else
			check "$step: - Commit interrupted; it completes at the next login" \
				[ "$(reply)" = "- Commit interrupted; it completes at the next login" ]
			check "$step: the journal stays for the next login" [ -e "$state/alice/commit.jnl" ]
			pop2 -- "$HELO" QUIT
			check "$step: the next login finishes the commit" \
				[ "$(reply)" = "+ OK Sayonara" -a ! -e "$state/alice/commit.jnl" -a \
				"$(grep -c '^Subject: ' "$mbox")" -eq 1 -a "$(count_subject "$mbox" two)" -eq 1 ]
			continue
		fi
		check "$step: logged as a failed commit" \
			grep -q 'session end user=alice reason=commit failed retrieved=2 deleted=0 ' "$scratch/err"
		then_works "$step"
	done
}
spawn commit at_commit

# --- At login: the state directory and the session lock.
for fault in state.open:EIO state.mkdir:EIO state.open-user:EIO; do
	fresh
	pop2 POP2_FAIL_AT=$fault -- "$HELO" "READ 1" RETR ACKD QUIT
	check "$fault: - State directory unusable" [ "$(reply)" = "- State directory unusable" ]
	check "$fault: logged with the reason" \
		grep -q "user=alice reason=state directory $state/alice unusable: Input/output error" "$scratch/err"
	untouched "$fault"
	then_works "$fault"
done
fresh
pop2 POP2_FAIL_AT=lock.session-open:EIO -- "$HELO" QUIT
check "lock.session-open: - State directory unusable" [ "$(reply)" = "- State directory unusable" ]
check "lock.session-open: logged" grep -q 'user=alice reason=session lock: Input/output error' "$scratch/err"
untouched lock.session-open
then_works lock.session-open

# --- At login: the maildrop and its dot-lock.
for fault in store.open:EIO lock.post-open:ENOSPC lock.post-write:EIO lock.link:ENOSPC lock.link:EIO; do
	fresh
	pop2 POP2_FAIL_AT=$fault -- "$HELO" QUIT
	case ${fault#*:} in EIO) err='Input/output error' ;; ENOSPC) err='No space left on device' ;; esac
	check "$fault at login: - Cannot open maildrop" [ "$(reply)" = "- Cannot open maildrop" ]
	check "$fault at login: logged with the reason" \
		grep -q "user=alice reason=cannot read maildrop $mbox: $err" "$scratch/err"
	untouched "$fault at login"
	then_works "$fault at login"
done
fresh
mkdir -p "$scratch/md/new" "$scratch/md/cur" "$scratch/md/tmp"
printf '%s\r\n' "$HELO" QUIT | POP2_FAIL_AT=store.open-maildir:EIO "$POP2D" -d -n t \
	-p "$data/passwd" -S "$state" -m "maildir:$scratch/md" 2>"$scratch/err" | tr -d '\r' >"$scratch/out"
check "store.open-maildir: - Cannot open maildrop" [ "$(reply)" = "- Cannot open maildrop" ]
check "store.open-maildir: logged" \
	grep -q "reason=cannot read maildrop maildir:$scratch/md: Input/output error" "$scratch/err"

# --- A Maildir whose second removal is refused (EACCES) after the first
# was done: not "read-only; nothing deleted", but a partial commit.
rm -rf "$scratch/md" "$state/alice"
mkdir -p "$scratch/md/new" "$scratch/md/cur" "$scratch/md/tmp"
for i in 1 2 3; do
	printf 'Subject: m%s\n\nbody %s\n' "$i" "$i" >"$scratch/md/cur/100$i.x$i.host:2,"
done
printf '%s\r\n' "$HELO" "READ 1" RETR ACKD "READ 2" RETR ACKD QUIT |
	POP2_FAIL_AT=maildir.unlink:EACCES:2 "$POP2D" -d -n t -p "$data/passwd" -S "$state" \
		-m "maildir:$scratch/md" 2>"$scratch/err" | tr -d '\r' >"$scratch/out"
check "maildir.unlink:EACCES:2: the partial commit's reply (got: $(reply))" \
	[ "$(reply)" = "- Commit failed; some messages may not be deleted" ]
check "maildir.unlink:EACCES:2: one removal is done, the other not" \
	[ "$(ls "$scratch/md/cur" | wc -l)" -eq 2 -a -e "$scratch/md/cur/1003.x3.host:2," ]

collect commit

finish
