#!/bin/bash
# The lock helper is checked at startup whenever a dot-lock will need it:
# -m names one spool folder for every user, of mbox files, where the
# sessions may not create files. Then -L, named or the default, must be a
# regular executable file of root's, set-group-ID to the spool's group,
# and that group must be able to create files there; anything else is an
# unusable configuration (pop2d(8), SPEC 6): logged at mail.err with the
# path and the fix, "- POP2 server unavailable" to the client, exit 2.
# Where the helper cannot be needed (a world-writable sticky spool, one
# folder per user, Maildir, sessions that may create files there) only a
# helper named with -L is looked at, as before. Real accounts, real
# set-group-ID files; needs root, changes nothing outside its namespaces.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"

chmod 755 "$scratch"
printf -- '- POP2 server unavailable\r\n' >"$scratch/unavailable"
default=$(strings -a "$POP2D" | grep -m1 '/pop2-lock$')
[ -n "$default" ] || { echo "FAIL: the default -L is not found in $POP2D"; exit 1; }
# The default helper is missing in this namespace, whatever the host has.
if [ -d "$(dirname "$default")" ]; then
	ns_tmpfs "$(dirname "$default")"
fi
mkdir -p "$scratch/bin" "$scratch/home/u" "$scratch/md/u/new" "$scratch/md/u/cur" \
	"$scratch/md/u/tmp"

# helper NAME OWNER:GROUP MODE: a copy of the built pop2-lock.
helper() {
	cp "$top_builddir/pop2d/pop2-lock" "$scratch/bin/$1"
	chown "$2" "$scratch/bin/$1"
	chmod "$3" "$scratch/bin/$1"
}
helper good root:mail 2755
helper plain root:mail 0755
helper rootgrp root:root 2755
helper notroot bin:mail 2755

# spool DIR OWNER:GROUP MODE
spool() {
	mkdir -p "$1"
	chown "$2" "$1"
	chmod "$3" "$1"
}
spool "$scratch/mail" root:mail 2775
spool "$scratch/nogroupw" root:mail 0755
spool "$scratch/sticky" root:root 1777

# run [RUNAS] -- ARGS...: pop2d with ARGS, "QUIT" on its input; the reply
# in out, standard error in err, the exit status in $status.
run() {
	local as=()
	[ "$1" != -- ] && as=(setpriv --reuid="$1" --regid="$1" --init-groups) && shift
	shift
	printf 'QUIT\r\n' | "${as[@]}" "$POP2D" -n t -S "$state" "$@" \
		>"$scratch/out" 2>"$scratch/err"
	status=$?
}

# unusable NAME WHAT [RUNAS] -- ARGS...: refused at startup; stderr names WHAT.
unusable() {
	local name=$1 what=$2
	shift 2
	run "$@"
	if [ "$status" -eq 2 ] && cmp -s "$scratch/unavailable" "$scratch/out" &&
		grep -q -F -- "$what" "$scratch/err"; then
		pass "$name"
	else
		fail "$name (exit $status, stdout $(head -c 100 "$scratch/out" | tr -d '\r'), stderr: $(head -c 300 "$scratch/err"))"
	fi
}

# served NAME [RUNAS] -- ARGS...: greeted, and QUIT answered.
served() {
	local name=$1
	shift
	run "$@"
	if [ "$status" -eq 0 ] && head -1 "$scratch/out" | grep -q '^+ POP2 t pop2d ' &&
		[ "$(sed -n 2p "$scratch/out" | tr -d '\r')" = "+ OK Sayonara" ]; then
		pass "$name"
	else
		fail "$name (exit $status, stdout $(head -c 100 "$scratch/out" | tr -d '\r'), stderr: $(head -c 300 "$scratch/err"))"
	fi
}

# As root for the system's accounts: a root:mail 2775 spool needs the helper.
m=(-m "$scratch/mail/%u")
unusable "a missing default -L, with the path and the fix" \
	"-L $default: No such file or directory: the sessions may not create files in the spool $scratch/mail" -- "${m[@]}"
check "... the fix names the spool's group" grep -q 'chown root:mail, chmod 2755' "$scratch/err"
unusable "a missing -L" "-L $scratch/bin/none: No such file" -- "${m[@]}" -L "$scratch/bin/none"
unusable "a helper that is not set-group-ID" \
	"-L $scratch/bin/plain: not a set-group-ID program of root's in the group mail" \
	-- "${m[@]}" -L "$scratch/bin/plain"
check "... the fix" grep -q -F "chown root:mail $scratch/bin/plain && chmod 2755 $scratch/bin/plain" "$scratch/err"
unusable "a helper set-group-ID to another group" "-L $scratch/bin/rootgrp: not a set-group-ID" \
	-- "${m[@]}" -L "$scratch/bin/rootgrp"
unusable "a helper that is not root's" "-L $scratch/bin/notroot: not a set-group-ID" \
	-- "${m[@]}" -L "$scratch/bin/notroot"
unusable "a helper that is a directory" "-L $scratch/bin: not a set-group-ID" \
	-- "${m[@]}" -L "$scratch/bin"
unusable "a spool its group may not write" \
	"-m $scratch/nogroupw/%u: neither the sessions nor the lock helper (group mail)" \
	-- -m "$scratch/nogroupw/%u" -L "$scratch/bin/good"
served "a root:mail set-group-ID helper" -- "${m[@]}" -L "$scratch/bin/good"
run -- -d "${m[@]}"
check "the log line has the path and the fix" \
	grep -q -F "configuration error: -L $default: No such file or directory: the sessions may not create files in the spool $scratch/mail, so a dot-lock there needs the lock helper: install pop2-lock there (as root: chown root:mail, chmod 2755) or correct -L" "$scratch/err"
run -- --recover-all "${m[@]}"
check "--recover-all checks it too" [ "$status" -eq 2 ] && grep -q -F -- "-L $default: No such file" "$scratch/err"
# A %% in the folder part is a literal %.
spool "$scratch/per%cent" root:mail 2775
unusable "a %% in the spool's path" "the spool $scratch/per%cent" -- -m "$scratch/per%%cent/%u"

# Where the helper cannot be needed, a missing default is no error.
served "a world-writable sticky spool" -- -m "$scratch/sticky/%u"
served "a folder per user (%u)" -- -m "$scratch/mail/%u/mbox"
served "a folder per user (%h)" -- -m "%h/mbox"
served "a Maildir" -- -m "maildir:$scratch/md/%u"
served "a spool that does not exist (the login says so)" -- -m "$scratch/none/%u"
unusable "... but a named -L must still be there" "-L $scratch/bin/none: No such file" \
	-- -m "$scratch/sticky/%u" -L "$scratch/bin/none"

# As root with -p: the entries' identities decide.
hash=$(ns_hash '$y$' 'pw')
printf 'nouid:%s\n' "$hash" >"$scratch/passwd-root"
served "-p, entries without a uid: root's sessions may create files" \
	-- -p "$scratch/passwd-root" "${m[@]}"
id=$(getent group mail | cut -d: -f3)
printf 'nouid:%s\nmailgrp:%s:62100:%s\n' "$hash" "$hash" "$id" >"$scratch/passwd-grp"
served "-p, an entry in the spool's group" -- -p "$scratch/passwd-grp" "${m[@]}"
printf 'nouid:%s\nother:%s:62101:62101\n' "$hash" "$hash" >"$scratch/passwd-uid"
unusable "-p, an entry that may not create files there" "-L $default: No such file" \
	-- -p "$scratch/passwd-uid" "${m[@]}"
served "... with the set-group-ID helper" -- -p "$scratch/passwd-uid" "${m[@]}" -L "$scratch/bin/good"

# Not as root: pop2d's own identity decides.
svc=62200
ns_add_group p2hsvc "$svc"
ns_add_user p2hsvc "$svc" "$svc" /nonexistent '!'
chown p2hsvc: "$state"
chmod 644 "$scratch/passwd-root"
spool "$scratch/own" p2hsvc:p2hsvc 0755
served "a service account's own spool" "$svc" -- -p "$scratch/passwd-root" -m "$scratch/own/%u"
unusable "a service account outside the spool's group" "-L $default: No such file" \
	"$svc" -- -p "$scratch/passwd-root" "${m[@]}"
ns_add_member p2hsvc mail
served "a service account in the spool's group" "$svc" -- -p "$scratch/passwd-root" "${m[@]}"

finish
