#!/bin/bash
# A lock helper that fails otherwise than by refusing (test/logs.sh has
# the refusals): one that exits without an answer, one killed by a
# signal, one that answers busy. The session, run as a user who may not
# make the dot-lock itself, is refused with nothing changed, and the log
# says what the helper did. Needs root (setpriv to nobody); the busy
# helper's case needs --enable-test-seams for a short lock wait.
set -u
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "a session as nobody needs root (setpriv)"
command -v setpriv >/dev/null || skip_all "setpriv is not installed (Debian: util-linux)"

HELO='HELO alice wonderland'
chmod 755 "$scratch"
# A spool named by the user (%u), so that the helper is met at login, not
# checked at startup (pop2d(8) -L).
spool=$scratch/alice.spool
mkdir -m 755 "$spool"
cp "$data/mbox/basic.mbox" "$spool/nobody"
mkdir -m 700 "$scratch/nstate"
chown nobody "$spool/nobody" "$scratch/nstate"
mkdir -m 755 "$scratch/bin"

# helper NAME BODY: an executable shell script $scratch/bin/NAME.
helper() {
	printf '#!/bin/sh\n%s\n' "$2" >"$scratch/bin/$1"
	chmod 755 "$scratch/bin/$1"
}

# as_nobody HELPER: alice's session as nobody, whose dot-lock only
# HELPER could make; replies in $scratch/out, the log in $scratch/err.
as_nobody() {
	printf '%s\r\n' "$HELO" QUIT |
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
			timeout 60 "$POP2D" -d -n t -p "$data/passwd" -S "$scratch/nstate" \
			-m "$scratch/%u.spool/nobody" -L "$scratch/bin/$1" >"$scratch/out" 2>"$scratch/err"
}

logged() {
	grep -q -F -- "$1" "$scratch/err"
}

helper silent 'exit 3'
as_nobody silent
check "a helper that exits without an answer: - Cannot open maildrop" \
	grep -q '^- Cannot open maildrop' "$scratch/out"
check "... logged with its exit status" \
	logged "lock helper $scratch/bin/silent exited with status 3 without an answer"
check "... and it is not set-group-ID" logged "it is not set-group-ID"

helper killed 'kill -KILL $$'
as_nobody killed
check "a helper killed by a signal: - Cannot open maildrop" \
	grep -q '^- Cannot open maildrop' "$scratch/out"
check "... logged with the signal" \
	logged "lock helper $scratch/bin/killed killed by signal 9 without an answer"

# A busy lock is waited for: a test build gives up at the first busy answer
# (POP2_LOCK_WAIT=0); test/busy.sh waits one out.
[ "${SEAMS:-no}" = yes ] || { skip "a busy helper: POP2_LOCK_WAIT needs --enable-test-seams"; finish; exit; }
export POP2_LOCK_WAIT=0
# shellcheck disable=SC2016 # $2 is the helper's own argument
helper busy 'echo "0 $2.lock is held by another process"; exit 75'
as_nobody busy
check "a helper that answers busy: - Maildrop busy" grep -q '^- Maildrop busy' "$scratch/out"
check "... logged with its reason" \
	logged "lock helper $scratch/bin/busy refused, exit status 75: $spool/nobody.lock is held by another process"
check "... and a busy lock is no fault of the helper's" bash -c "! grep -q 'set-group-ID' '$scratch/err'"
check "the maildrop is unchanged throughout" cmp -s "$data/mbox/basic.mbox" "$spool/nobody"

finish
