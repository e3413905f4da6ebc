#!/bin/bash
# The log lines an administrator reads (-d copies them to standard error):
# the session end with its counts, a FOLD refusal naming the escaped
# folder, a commit failure with its errno text, the two reasons a login
# cannot get its state, the lock helper's failures (missing, not
# set-group-ID, refusing, no_new_privs), and the interrupted-commit
# recovery at login and by --recover-all, with its summary and exit status.
set -u
. "$(dirname "$0")/lib.sh"

mbox=$scratch/mbox
cp "$data/mbox/basic.mbox" "$mbox"
HELO='HELO alice wonderland'

# pop2 [ARGS --] COMMAND...: one session fed COMMANDs at once, then EOF.
pop2() {
	local args=()
	if [[ " $* " == *" -- "* ]]; then
		while [ "$1" != -- ]; do args+=("$1"); shift; done
		shift
	fi
	printf '%s\r\n' "$@" | "$POP2D" -d -n t -p "$data/passwd" -S "$state" -m "$mbox" \
		-F "$scratch" "${args[@]}" >"$scratch/out" 2>"$scratch/err"
}
# size N: the octets READ N announced in the last session.
size() {
	sed -n "s/^=\\([0-9]*\\) characters in message $1\\r\$/\\1/p" "$scratch/out" | head -n 1
}
logged() {
	grep -q -F -- "$1" "$scratch/err"
}
not_logged() {
	! grep -q -E -- "$1" "$scratch/err" "${2:-/dev/null}"
}

# --- The session end: peer, user, reason, messages and octets.
pop2 "$HELO" "READ 1" RETR ACKD "READ 2" RETR ACKS QUIT
s1=$(size 1) s2=$(size 2)
check "session end: retrieved 2, deleted 1, octets sent and deleted" \
	logged "session end user=alice reason=QUIT retrieved=2 deleted=1 octets=$((s1 + s2)) deleted_octets=$s1 peer=local"
cp "$data/mbox/basic.mbox" "$mbox"
pop2 "$HELO" "READ 1" RETR ACKD
check "session end without QUIT: nothing deleted, and the log says so" \
	logged "session end user=alice reason=EOF retrieved=1 deleted=0 octets=$(size 1) deleted_octets=0 peer=local"

# --- FOLD refusals name the folder, escaped: no forged field, no new line.
pop2 "$HELO" "FOLD ../x	peer=10.9.8.7"$'\033' QUIT
check "FOLD refused: #0" grep -q '^#0 ' "$scratch/out"
check "FOLD refused: the log names the folder, escaped" \
	logged 'user=alice folder=../x\x09peer=10.9.8.7\x1b refused or unreadable: '
check "FOLD refused: no raw TAB or ESC in the log" not_logged $'[\t\033]'

# --- A commit failure: the reply, and the errno text in the log.
mkdir -p "$state/alice/commit.jnl.tmp/x"
pop2 "$HELO" "READ 1" RETR ACKD QUIT
check "commit failure: the client is told" grep -q '^- .*nothing deleted' "$scratch/out"
check "commit failure: the log names the maildrop and the error" \
	grep -q -E "user=alice reason=commit failed on $mbox: [A-Z][a-z]" "$scratch/err"
check "commit failure: the maildrop is unchanged" cmp -s "$data/mbox/basic.mbox" "$mbox"
rm -rf "$state/alice/commit.jnl.tmp"

# --- Two reasons a login cannot get its state, told apart.
chmod 777 "$state/alice"
pop2 "$HELO" QUIT
check "state directory unusable: its own reason and path" \
	logged "reason=state directory $state/alice unusable: "
check "state directory unusable: the session end says so" \
	logged "session end user=alice reason=State directory unusable "
check "state directory unusable: not taken for a busy maildrop" \
	not_logged 'another session|already in use' "$scratch/out"
chmod 700 "$state/alice"
exec {held}<>"$state/alice/session"
flock -n "$held"
pop2 "$HELO" QUIT
check "another session open: its own reason" logged "user=alice reason=another session is open"
check "another session open: the client is told the maildrop is in use" \
	grep -q '^- Maildrop already in use' "$scratch/out"
check "another session open: not taken for an unusable state" not_logged unusable
check "another session open: the session end says so" \
	logged "session end user=alice reason=Maildrop already in use "
exec {held}>&-

# --- The lock helper's failures, as a user who may not make the dot-lock
# itself (the maildrop's folder is root's): its path, exit status, reason.
# The folder is named with %u, so that startup cannot tell that the
# helper will be needed (pop2d(8) -L) and the login meets each failure.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$scratch"
	spool=$scratch/alice.spool
	mkdir -m 755 "$spool"
	cp "$data/mbox/basic.mbox" "$spool/nobody"
	mkdir -m 700 "$scratch/nstate"
	chown nobody "$spool/nobody" "$scratch/nstate"
	mkdir -m 755 "$scratch/bin"
	# shellcheck disable=SC2016 # $2 is the helper's own argument
	printf '#!/bin/sh\necho "0 cannot create $2.lock: Permission denied"\nexit 73\n' >"$scratch/bin/refuse"
	chmod 755 "$scratch/bin/refuse"
	# as_nobody [SETPRIV-OPTIONS] -- POP2D-ARGS: alice's session as nobody.
	as_nobody() {
		local opts=()
		while [ "$1" != -- ]; do opts+=("$1"); shift; done
		shift
		printf '%s\r\n' "$HELO" QUIT |
			setpriv --reuid=nobody --regid=nogroup --clear-groups "${opts[@]}" \
				"$POP2D" -d -n t -p "$data/passwd" -S "$scratch/nstate" \
				-m "$scratch/%u.spool/nobody" "$@" >"$scratch/out" 2>"$scratch/err"
	}
	# A helper that cannot be run (startup finds a missing -L already):
	# executable, but its interpreter is gone.
	printf '#!/nonexistent/sh\n' >"$scratch/bin/broken"
	chmod 755 "$scratch/bin/broken"
	as_nobody -- -L "$scratch/bin/broken"
	check "helper that cannot run: the login fails" grep -q '^- Cannot open maildrop' "$scratch/out"
	check "helper that cannot run: its path and why" \
		logged "lock helper $scratch/bin/broken cannot be run: No such file or directory"
	as_nobody -- -L "$scratch/bin/refuse"
	check "refusing helper: its path, exit status and own reason" \
		logged "lock helper $scratch/bin/refuse refused, exit status 73: cannot create $spool/nobody.lock: Permission denied"
	check "refusing helper: it is not set-group-ID, and how to fix it" \
		logged "it is not set-group-ID (as root: chgrp mail $scratch/bin/refuse && chmod 2755 $scratch/bin/refuse)"
	check "without no_new_privs: not blamed" not_logged no_new_privs
	as_nobody --no-new-privs -- -L "$scratch/bin/refuse"
	check "no_new_privs: named as the cause" \
		logged "pop2d runs with no_new_privs (systemd NoNewPrivileges=yes?)"
	if [ "$(findmnt -n -o OPTIONS -T "$scratch/bin" | grep -c -w nosuid)" -eq 0 ]; then
		check "not nosuid: not blamed" not_logged nosuid
	fi
	# The helper on a nosuid file system: a tmpfs in a private mount
	# namespace, gone with it.
	mkdir -m 755 "$scratch/nosuid"
	export scratch spool HELO POP2D data
	# shellcheck disable=SC2016 # expanded by the inner shell
	if unshare --mount --propagation private bash -c '
		mount -t tmpfs -o nosuid,mode=755 tmpfs "$scratch/nosuid" || exit 99
		cp "$scratch/bin/refuse" "$scratch/nosuid/refuse"
		printf "%s\r\n" "$HELO" QUIT |
			setpriv --reuid=nobody --regid=nogroup --clear-groups \
				"$POP2D" -d -n t -p "$data/passwd" -S "$scratch/nstate" \
				-m "$scratch/%u.spool/nobody" -L "$scratch/nosuid/refuse" \
				>"$scratch/out" 2>"$scratch/err"
		exit 0
	'; then
		check "nosuid: the helper's refusal is logged" \
			logged "lock helper $scratch/nosuid/refuse refused, exit status 73"
		check "nosuid: named as the cause" logged "its file system is mounted nosuid"
	else
		skip "no private mount namespace for a nosuid tmpfs"
	fi
else
	skip "the lock helper's log lines need root (setpriv to nobody)"
fi

# --- Recovery, at login and by --recover-all (needs the crash seams).
if [ "${SEAMS:-no}" = yes ]; then
	cp "$data/mbox/basic.mbox" "$mbox"
	POP2_CRASH_AT=written pop2 "$HELO" "READ 1" RETR ACKD QUIT
	check "a commit killed midway" [ -e "$state/alice/commit.jnl" ]
	pop2 "$HELO" QUIT
	check "login: the recovery is logged with its outcome and size" \
		logged "recover user=alice maildrop=$mbox outcome=finished octets=$(stat -c %s "$mbox")"

	cp "$data/mbox/basic.mbox" "$mbox"
	POP2_CRASH_AT=written pop2 "$HELO" "READ 1" RETR ACKD QUIT
	"$POP2D" -d --recover-all -S "$state" -p "$data/passwd" -m "$mbox" -F "$scratch" \
		>"$scratch/out" 2>"$scratch/err"
	status=$?
	check "--recover-all: exit 0 when every commit finished" [ "$status" -eq 0 ]
	check "--recover-all: logs the user, size and outcome" \
		logged "recover user=alice maildrop=$mbox outcome=finished octets=$(stat -c %s "$mbox")"
	check "--recover-all: prints a summary" \
		grep -q -x 'pop2d: recovery: 1 users, 1 commits finished, 0 set aside, 0 refused, 0 failed, 0 skipped (session running)' "$scratch/out"
else
	skip "recovery log lines need --enable-test-seams"
fi

# A user whose recovery fails: the summary counts it and the exit is 1.
chmod 777 "$state/alice"
"$POP2D" -d --recover-all -S "$state" -p "$data/passwd" -m "$mbox" -F "$scratch" \
	>"$scratch/out" 2>"$scratch/err"
status=$?
chmod 700 "$state/alice"
check "--recover-all: exit 1 when a user's recovery failed" [ "$status" -eq 1 ]
check "--recover-all: the failure is logged with the user" \
	logged "recover user=alice outcome=failed: state directory $state/alice unusable: "
check "--recover-all: the summary counts it" grep -q ', 1 failed, ' "$scratch/out"

finish
