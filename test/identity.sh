#!/bin/bash
# Identity changes around the state directory and the recovery, as root in
# the private namespaces of test/ns.sh, with a real account: pop2d --recover-all
# finishes a user's crashed commit as that user (the child's
# real, effective and saved uid are the user's while it writes) and the
# recovered maildrop keeps its owner, group and mode; a state directory
# that is group-writable or not the user's is refused by --recover-all,
# which then touches neither the journal nor the maildrop. Neither the
# recovering child nor a login carries root's descriptor of the
# passwd-file (or the child the state directory's) into the user's identity.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"
. "$(dirname "$0")/sessions.sh"
[ "${SEAMS:-no}" = yes ] || skip_all "the crash and stop points need ./configure --enable-test-seams"

chmod 755 "$scratch"
uid=61100
ns_add_group p2tu "$uid"
ns_add_user p2tu "$uid" "$uid" "$scratch/home" "$(ns_hash '$y$' 'user pass')"
ns_add_group p2tv $((uid + 1))
ns_add_user p2tv $((uid + 1)) $((uid + 1)) "$scratch/home" '!'
mkdir -p "$scratch/home"
chown p2tu:p2tu "$scratch/home"
# A passwd-file entry with the account's uid and gid: pop2d drops to them.
printf 'p2tu:%s:%s:%s::%s::\n' "$(ns_hash '$6$' 'user pass')" "$uid" "$uid" "$scratch/home" \
	>"$scratch/passwd"
mbox=$scratch/home/mbox
HELO='HELO p2tu user pass'
chmod 755 "$state"

# crashed_commit: the user deletes messages 1 and 3 and pop2d is killed
# after the journal is durable, in the middle of writing the maildrop.
crashed_commit() {
	{ message one; message two; message three; message four; } >"$mbox"
	chown p2tu:mail "$mbox"
	chmod 0660 "$mbox"
	printf '%s\r\n' "$HELO" "READ 1" RETR ACKD "READ 3" RETR ACKD QUIT |
		POP2_CRASH_AT=mid-write "$POP2D" -n t -p "$scratch/passwd" -S "$state" -m "$mbox" \
			>"$scratch/out" 2>"$scratch/err"
	check "$1: pop2d was killed mid-write" [ $? -eq 137 ]
	check "$1: the journal is the user's" [ "$(stat -c %U "$state/p2tu/commit.jnl")" = p2tu ]
}

crashed_commit "--recover-all as the user"
# Stopped once the recovery has written the maildrop again: its identity.
POP2_STOP_AT=written "$POP2D" --recover-all -p "$scratch/passwd" -S "$state" -m "%h/mbox" \
	2>"$scratch/recover.err" &
recovering=$!
stopped_child() {
	local p
	for p in $(cat "/proc/$recovering/task/$recovering/children" 2>/dev/null); do
		[ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" = T ] && { echo "$p"; return 0; }
	done
	return 1
}
wait_for 30 stopped_child >/dev/null
child=$(stopped_child)
check "--recover-all: the recovering child's real, effective, saved and fs uid are the user's" \
	[ "$(grep '^Uid:' "/proc/$child/status" | tr -s '\t ' ' ')" = "Uid: $uid $uid $uid $uid" ]
check "--recover-all: and its gid the user's" \
	[ "$(grep '^Gid:' "/proc/$child/status" | tr -s '\t ' ' ')" = "Gid: $uid $uid $uid $uid" ]
# root_fds PID: the descriptors of PID that name the passwd-file or the
# state directory itself, which root opened.
root_fds() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		case $(readlink "$fd") in
		"$scratch/passwd" | "$state") echo "$fd" ;;
		esac
	done
}
check "--recover-all: the recovering child keeps no descriptor of the passwd-file or state directory" \
	[ -z "$(root_fds "$child")" ]
kill -CONT "$child"
wait "$recovering"
check "--recover-all: exit 0" [ $? -eq 0 ]
check "--recover-all: the commit is finished" cmp -s "$mbox" <(message two; message four)
check "--recover-all: the maildrop keeps its owner, group and mode" \
	[ "$(stat -c '%U %G %a' "$mbox")" = "p2tu mail 660" ]
check "--recover-all: no journal left" [ ! -e "$state/p2tu/commit.jnl" ]

# A state directory that is group-writable, or another user's, is refused.
for how in group-writable "another user's"; do
	crashed_commit "refused state directory ($how)"
	cp "$mbox" "$scratch/before"
	cp "$state/p2tu/commit.jnl" "$scratch/journal"
	rm -f "$mbox.lock"
	if [ "$how" = group-writable ]; then
		chmod 0770 "$state/p2tu"
	else
		chown p2tv "$state/p2tu"
	fi
	"$POP2D" -d --recover-all -S "$state" -m "%h/mbox" 2>"$scratch/recover.err"
	status=$?
	check "$how state directory: --recover-all fails (exit $status)" [ "$status" -eq 1 ]
	if [ "$how" = group-writable ]; then
		check "$how state directory: logged" grep -q \
			"recover user=p2tu outcome=failed: state directory $state/p2tu unusable: Operation not permitted" "$scratch/recover.err"
	else
		check "$how state directory: logged" grep -q \
			"recover user=p2tu: journal left alone: the directory's owner is not the account's uid" \
			"$scratch/recover.err"
	fi
	check "$how state directory: the failure named on standard error" \
		grep -q "$state/p2tu: recovery failed" "$scratch/recover.err"
	check "$how state directory: the maildrop is untouched" cmp -s "$scratch/before" "$mbox"
	check "$how state directory: the journal is untouched" \
		cmp -s "$scratch/journal" "$state/p2tu/commit.jnl"
	chmod 0700 "$state/p2tu"
	chown p2tu "$state/p2tu"
	# The owner's next login repairs it.
	printf '%s\r\n' "$HELO" QUIT | "$POP2D" -n t -p "$scratch/passwd" -S "$state" -m "$mbox" \
		>"$scratch/out" 2>"$scratch/err"
	check "$how state directory: the next login finishes the commit" \
		cmp -s "$mbox" <(message two; message four)
done

# A login closes the passwd-file before its identity begins to change:
# stopped there, while still root, it has no descriptor of it.
printf '%s\r\n' "$HELO" QUIT |
	POP2_STOP_AT=become-user "$POP2D" -n t -p "$scratch/passwd" -S "$state" -m "$mbox" \
		>"$scratch/out" 2>"$scratch/err" &
session=$!
stopped() { [ "$(cut -d' ' -f3 "/proc/$session/stat" 2>/dev/null)" = T ]; }
wait_for 30 stopped
check "login: stopped before the identity change, still root" \
	[ "$(grep '^Uid:' "/proc/$session/status" | tr -s '\t ' ' ')" = "Uid: 0 0 0 0" ]
check "login: no descriptor of the passwd-file is left to carry into the user's identity" \
	[ -z "$(root_fds "$session")" ]
kill -CONT "$session"
wait "$session"
check "login: the session went on" grep -q '^#' "$scratch/out"

# The new user's state directory cannot be given to them (an injected
# fchown failure as root): the login is refused before any maildrop is
# touched, the folder stays root's, and the next login gives it over.
rm -rf "$state/p2tu"
{ message one; message two; } >"$mbox"
chown p2tu:mail "$mbox"
cp "$mbox" "$scratch/before"
printf '%s\r\n' "$HELO" "READ 1" RETR ACKD QUIT |
	POP2_FAIL_AT=state.fchown:EIO "$POP2D" -d -n t -p "$scratch/passwd" -S "$state" -m "$mbox" \
		>"$scratch/out" 2>"$scratch/err"
check "state.fchown: - State directory unusable" \
	[ "$(tail -n 1 "$scratch/out" | tr -d '\r')" = "- State directory unusable" ]
check "state.fchown: logged with the reason" \
	grep -q "user=p2tu reason=cannot prepare $state/p2tu: Input/output error" "$scratch/err"
check "state.fchown: the maildrop is untouched" cmp -s "$scratch/before" "$mbox"
printf '%s\r\n' "$HELO" "READ 1" RETR ACKD QUIT |
	"$POP2D" -n t -p "$scratch/passwd" -S "$state" -m "$mbox" >"$scratch/out" 2>"$scratch/err"
check "state.fchown: the next login gives the folder to the user and commits" \
	[ "$(stat -c '%U %a' "$state/p2tu")" = "p2tu 700" -a "$(count_subject "$mbox" one)" -eq 0 ]

# The user's groups cannot be taken (an injected setgroups failure): the
# login fails as a refused one does, before anything of the user's is
# touched, and the log says why.
{ message one; message two; } >"$mbox"
chown p2tu:mail "$mbox"
cp "$mbox" "$scratch/before"
printf '%s\r\n' "$HELO" "READ 1" RETR ACKD QUIT |
	POP2_FAIL_AT=login.setgroups:EPERM "$POP2D" -d -n t -p "$scratch/passwd" -S "$state" -m "$mbox" \
		>"$scratch/out" 2>"$scratch/err"
check "login.setgroups: the login fails" [ "$(sed -n 2p "$scratch/out" | cut -c1)" = - ]
check "login.setgroups: logged with the reason" \
	grep -q "login failed user=p2tu .*reason=cannot take the entry's uid and gid" "$scratch/err"
check "login.setgroups: the maildrop is untouched" cmp -s "$scratch/before" "$mbox"

finish
