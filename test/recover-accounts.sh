#!/bin/bash
# pop2d --recover-all finishes a commit with the identity a session of that
# user had: a passwd-file user whose uid is also a system account gets the
# entry's gid alone, as at a login, not the account's groups; a passwd-file
# entry without a uid, served by pop2d running as a service account, is
# recovered as that account; and a user whose name begins with "." is
# recovered like any other, while the .passwd-seen records and anything else
# that cannot be a user's state folder are left alone; a folder of root's
# is looked at without an identity to take; and a user whose gid cannot be
# given (outside the map of a user namespace) is a failure that keeps the
# journal. Each journal comes
# from a real session killed in the middle of its commit. Needs root and a
# build with --enable-test-seams; changes nothing outside its namespaces.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
[ "${SEAMS:-no}" = yes ] || skip_all "the crash points need ./configure --enable-test-seams"
ns_enter "$@"

chmod 755 "$scratch"
# A world-writable sticky spool: a dot-lock needs no helper.
spool=$scratch/spool
mkdir -m 1777 "$spool"
passwd=$scratch/passwd
hash=$(ns_hash '$y$' 'recover pass')

# A uid (and gid) that no account or group of the private copies uses.
next_id=62000
free_id() {
	while getent passwd "$next_id" >/dev/null || getent group "$next_id" >/dev/null; do
		next_id=$((next_id + 1))
	done
	echo "$next_id"
	next_id=$((next_id + 1))
}

# maildrop USER OWNER:GROUP MODE: three messages.
maildrop() {
	local i
	for i in 1 2 3; do
		printf 'From a@example.org Mon Nov 16 09:1%s:44 2026\nSubject: m%s\n\nbody %s\n\n' \
			"$i" "$i" "$i"
	done >"$spool/$1"
	chown "$2" "$spool/$1"
	chmod "$3" "$spool/$1"
}

# crash USER [RUNAS]: a session that deletes message 2 and is killed in the
# middle of its commit, run as root or, with RUNAS, as that account.
crash() {
	local run=()
	[ -n "${2:-}" ] && run=(setpriv --reuid="$2" --regid="$2" --init-groups)
	# The braces keep the shell's "Killed" notice out of the output.
	{
		printf '%s\r\n' "HELO $1 recover pass" "READ 2" RETR ACKD QUIT |
			POP2_CRASH_AT=mid-write "${run[@]}" "$POP2D" -n t -p "$passwd" \
				-S "$state" -m "$spool/%u" >"$scratch/out"
	} 2>/dev/null
	status=$?
	rm -f "$spool/$1.lock"
}

recover_all() {
	"$POP2D" --recover-all -p "$passwd" -S "$state" -m "$spool/%u" \
		>"$scratch/summary" 2>"$scratch/recover.err"
}

# kept USER: messages 1 and 3 are there, message 2 is not.
kept() {
	[ "$(grep -c '^Subject: ' "$spool/$1")" = 2 ] &&
		grep -q -x 'Subject: m1' "$spool/$1" && grep -q -x 'Subject: m3' "$spool/$1"
}

# 1. A passwd-file user whose uid is also a system account's. The session
# had the entry's gid alone; the maildrop is readable and writable through
# that group only, which the system account is not a member of.
sysid=$(free_id)
ns_add_group p2rsys "$sysid"
ns_add_user p2rsys "$sysid" "$sysid" /nonexistent '!'
fgid=$(free_id)
ns_add_group p2rfile "$fgid"
printf 'p2rfile:%s:%s:%s::/nonexistent\n' "$hash" "$sysid" "$fgid" >"$passwd"
maildrop p2rfile "root:$fgid" 0660
crash p2rfile
check "groups: the session was killed in its commit" [ "$status" -eq 137 ]
check "groups: it left a journal" [ -f "$state/p2rfile/commit.jnl" ]
recover_all
check "groups: --recover-all exits 0" [ $? -eq 0 ]
check "groups: the commit is finished with the session's group" kept p2rfile
check "groups: the journal is gone" [ ! -e "$state/p2rfile/commit.jnl" ]
check "groups: the summary counts it" \
	grep -q '^pop2d: recovery: 1 users, 1 commits finished, .* 0 failed' "$scratch/summary"

# 2. Entries without a uid, served by pop2d running as a service account
# that root gave its folders in the state directory: the folders, the
# journals and the maildrop are that account's; root owns nothing of them.
# --recover-all runs as root, as the shipped pop2d-recover.service does.
svc=$(free_id)
ns_add_group p2rsvc "$svc"
ns_add_user p2rsvc "$svc" "$svc" /nonexistent '!'
printf 'p2rnouid:%s\n' "$hash" >"$passwd"
chmod 644 "$passwd"
mkdir -m 700 "$state/p2rnouid"
chown p2rsvc: "$state/p2rnouid"
maildrop p2rnouid p2rsvc: 0600
crash p2rnouid "$svc"
check "service account: the session was killed in its commit" [ "$status" -eq 137 ]
check "service account: its journal is the account's" \
	[ "$(stat -c %U "$state/p2rnouid/commit.jnl" 2>/dev/null)" = p2rsvc ]
recover_all
check "service account: --recover-all exits 0" [ $? -eq 0 ]
check "service account: the commit is finished" kept p2rnouid
check "service account: nothing reported as failed" [ ! -s "$scratch/recover.err" ]
check "service account: the maildrop is still the account's" \
	[ "$(stat -c %U "$spool/p2rnouid")" = p2rsvc ]

# The service account may run --recover-all itself: it keeps its own
# identity, and finishes the commit as root would. (The folder of the
# first part's user, who is no longer in the passwd-file, goes first.)
rm -rf "$state/p2rfile"
recover_as_svc() {
	setpriv --reuid="$svc" --regid="$svc" --init-groups "$POP2D" --recover-all \
		-p "$passwd" -S "$state" -m "$spool/%u" >"$scratch/summary" 2>"$scratch/recover.err"
}
maildrop p2rnouid p2rsvc: 0600
crash p2rnouid "$svc"
check "service account recovering: the session was killed in its commit" [ "$status" -eq 137 ]
recover_as_svc
check "service account recovering: --recover-all as the account exits 0" [ $? -eq 0 ]
check "service account recovering: the commit is finished" kept p2rnouid
check "service account recovering: the summary counts it" \
	grep -q '^pop2d: recovery: 1 users, 1 commits finished, .* 0 failed' "$scratch/summary"
# A folder it cannot look into, of a name no longer in the passwd-file:
# it cannot tell whether a journal waits there, so that is a failure, told.
mkdir -m 700 "$state/p2rgone"
recover_as_svc
check "service account, a folder it cannot read: --recover-all exits 1 ($?)" [ $? -eq 1 ]
check "... the folder named on standard error" \
	grep -q -F "pop2d: $state/p2rgone: recovery failed" "$scratch/recover.err"
check "... the other folders still looked at" \
	grep -q '^pop2d: recovery: 2 users, 0 commits finished, .* 1 failed' "$scratch/summary"
rmdir "$state/p2rgone"
# A state directory it cannot list (root's, 0711): exit 1, and why.
chmod 711 "$state"
recover_as_svc
check "service account, a state directory it cannot list: exit 1 ($?)" [ $? -eq 1 ]
check "... named with the reason" grep -q -F "pop2d: $state: Permission denied" "$scratch/recover.err"
chmod 755 "$state"

# 3. A user whose name begins with ".": the state directory can hold it.
rm -rf "${state:?}"/*
uid=$(free_id)
ns_add_group p2rdot "$uid"
printf '.p2rdot:%s:%s:%s::/nonexistent\n' "$hash" "$uid" "$uid" >"$passwd"
maildrop .p2rdot "$uid:$uid" 0600
crash .p2rdot
check "dot name: the session was killed in its commit" [ "$status" -eq 137 ]
check "dot name: it left a journal" [ -f "$state/.p2rdot/commit.jnl" ]
check "dot name: the state directory holds a .passwd-seen record" \
	compgen -G "$state/.passwd-seen:*" >/dev/null
# Not a user's folder: a name with ':' (no passwd format allows one), or
# anything that is not a directory.
mkdir -m 700 "$state/not:a user"
touch "$state/stray-file"
recover_all
check "dot name: --recover-all exits 0" [ $? -eq 0 ]
check "dot name: the commit is finished" kept .p2rdot
check "dot name: one user, the records and leftovers are not users" \
	grep -q '^pop2d: recovery: 1 users, 1 commits finished, ' "$scratch/summary"
check "dot name: the records are left alone" compgen -G "$state/.passwd-seen:*" >/dev/null

# 4. Without -p, the system's accounts: a folder of root's own (no session
# makes one, as root cannot log in, but one may be left) is looked at as
# root, with no identity to take; the other folders, of names that are
# no system account's and hold no journal, are nothing to do.
mkdir -m 700 "$state/root"
"$POP2D" --recover-all -S "$state" -m "$spool/%u" >"$scratch/summary" 2>"$scratch/recover.err"
check "root's folder: --recover-all exits 0 ($?)" [ $? -eq 0 ]
check "root's folder: counted, nothing failed" \
	grep -q '^pop2d: recovery: 2 users, 0 commits finished, .* 0 failed' "$scratch/summary"

# 5. An entry whose gid cannot be given where --recover-all runs (outside
# the identity map of its user namespace, as in a container that maps
# only some ids): the recovery cannot take the user's identity; it fails,
# logged, and the journal stays for a run that can take it.
rm -rf "${state:?}"/*
uid=$(free_id)
gid=$(free_id)
ns_add_group p2rmap "$gid"
printf 'p2rmap:%s:%s:%s::/nonexistent\n' "$hash" "$uid" "$gid" >"$passwd"
maildrop p2rmap "$uid:$gid" 0600
crash p2rmap
check "unmapped gid: the session was killed in its commit" [ "$status" -eq 137 ]
mkfifo "$scratch/mapped"
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --user sh -c 'read -r _ <"$0" && exec "$@"' "$scratch/mapped" \
	"$POP2D" -d --recover-all -p "$passwd" -S "$state" -m "$spool/%u" \
	>"$scratch/summary" 2>"$scratch/recover.err" &
pid=$!
in_own_userns() { [ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ]; }
# A map is written in one write(2), as cat does it.
if wait_for 30 in_own_userns &&
	printf '0 0 1\n%s %s 1\n' "$uid" "$uid" >"$scratch/uid_map" &&
	cat "$scratch/uid_map" >"/proc/$pid/uid_map" &&
	echo '0 0 1' >"/proc/$pid/gid_map"; then
	echo go >"$scratch/mapped"
	wait "$pid"
	check "unmapped gid: --recover-all exits 1 ($?)" [ $? -eq 1 ]
	check "... logged: the identity cannot be taken" grep -q \
		"recover user=p2rmap outcome=failed: cannot take the identity of uid $uid" "$scratch/recover.err"
	check "... the journal kept" [ -f "$state/p2rmap/commit.jnl" ]
	recover_all
	check "unmapped gid: a run that can take it finishes the commit" kept p2rmap
else
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	skip "no user namespace with an identity map of our own here"
fi

finish
