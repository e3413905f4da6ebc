#!/bin/bash
# System accounts (no -p), proven with real accounts and real crypt(3)
# hashes in private copies of /etc/passwd, /etc/shadow and /etc/group
# (test/ns.sh): logins with yescrypt and SHA-512 hashes; locked, expired,
# uid-0, unknown and wrong-password logins all refused alike; the session
# running as the user (real, effective and saved ids); FOLD unable to read
# another user's file; the dot-lock taken through a set-group-ID pop2-lock
# in a root:mail 2775 spool; a signal leaving the maildrop as it was; the
# log lines. Needs root; changes nothing outside its namespaces. Built
# with PAM, the same logins go through the real pam_unix, named in a pop2
# service file of the test's own (test/pamwrap.sh); built without, through
# the shadow file.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
. "$(dirname "$0")/pamwrap.sh"
ns_enter "$@"

# why SHADOW PAM: the log's reason for a refusal in this build.
if [ "${PAM:-}" = yes ]; then
	pam_wrap_init
	pam_service pop2 "auth required $PAM_MODULES_DIR/pam_unix.so" \
		"account required $PAM_MODULES_DIR/pam_unix.so"
	POP2D=$pop2d_pam
	why() { echo "$2"; }
else
	why() { echo "$1"; }
fi
auth_failure="pam_authenticate: Authentication failure"
not_known="pam_authenticate: User not known to the underlying authentication module"

prefix=p2t
chmod 755 "$scratch"
spool=$scratch/spool
mkdir "$spool" "$scratch/home" "$scratch/bin"
chown root:mail "$spool"
chmod 2775 "$spool"
# The helper as make install leaves it: set-group-ID mail.
cp "$top_builddir/pop2d/pop2-lock" "$scratch/bin/pop2-lock"
chown root:mail "$scratch/bin/pop2-lock"
chmod 2755 "$scratch/bin/pop2-lock"

# A uid (and gid) that no account or group of the private copies uses.
next_id=61000
free_id() {
	while getent passwd "$next_id" >/dev/null || getent group "$next_id" >/dev/null; do
		next_id=$((next_id + 1))
	done
	echo "$next_id"
	next_id=$((next_id + 1))
}

# make_user SUFFIX HASH [EXPIRE]: a user with its own group and home, and a
# maildrop USER:mail 0660 in the spool holding two messages.
make_user() {
	local name=$prefix$1 id
	id=$(free_id)
	ns_add_group "$name" "$id"
	ns_add_user "$name" "$id" "$id" "$scratch/home/$name" "$2" "${3:-}" /usr/sbin/nologin
	mkdir "$scratch/home/$name"
	chown "$name:" "$scratch/home/$name"
	{
		printf 'From a@example.org Mon Nov 16 09:12:44 2026\nSubject: one\n\nfirst\n\n'
		printf 'From b@example.org Mon Nov 16 09:13:44 2026\nSubject: two\n\nsecond\n\n'
	} >"$spool/$name"
	chown "$name:mail" "$spool/$name"
	chmod 0660 "$spool/$name"
}

make_user y "$(ns_hash '$y$' 'yes-crypt pass')"
make_user s "$(ns_hash '$6$' 'sha pass')"
make_user l "!$(ns_hash '$y$' 'locked pass')"
# Expired on 2 January 1970 (day 1).
make_user e "$(ns_hash '$y$' 'expired pass')" 1
# uid 0 is refused even with the right password: root's own entry, given a
# known password only in this namespace's private /etc/shadow. No second
# uid-0 name is ever made.
root_hash=$(ns_hash '$y$' 'root pass')
ns_set_hash root "$root_hash"

shadow_hash() {
	getent shadow "$1" | cut -d: -f2
}
check "the private shadow gives root the test hash" [ "$(shadow_hash root)" = "$root_hash" ]
check "the account files are in the namespace's private /etc" ns_private_etc
check "yescrypt and SHA-512 hashes" \
	[ "$(shadow_hash "${prefix}y" | cut -c1-3)$(shadow_hash "${prefix}s" | cut -c1-3)" = '$y$$6$' ]

# pop2 LINES...: one session for the system's accounts, replies in
# $out/out, the -d log copy in $out/err ($out is $scratch unless a case has
# a folder of its own).
out=$scratch
pop2() {
	printf '%s\r\n' "$@" |
		"$POP2D" -d -n t -S "$state" -m "$spool/%u" -L "$scratch/bin/pop2-lock" \
			>"$out/out" 2>"$out/err"
}
reply() {
	sed -n "$1p" "$out/out" | tr -d '\r'
}

for who in y:'yes-crypt pass':yescrypt s:'sha pass':SHA-512; do
	IFS=: read -r suffix password method <<<"$who"
	user=$prefix$suffix
	pop2 "HELO $user $password" QUIT
	check "$method: login gives the maildrop" [ "$(reply 2)" = "#2 messages in INBOX" ]
	check "$method: QUIT" [ "$(reply 3)" = "+ OK Sayonara" ]
	check "$method: the state directory is the user's, 0700" \
		[ "$(stat -c '%U %a' "$state/$user")" = "$user 700" ]
done

# Every refusal looks the same: the same reply, not before the delay
# (POP2_LOGIN_DELAY_MS in a test build, else the default 2 s). Each login
# has a folder of its own. They run one at a time: under pam_wrapper
# (test/pamwrap.sh) a process starting beside another can take the
# other's configuration folder for a stale one and remove it.
delay_ms=${POP2_LOGIN_DELAY_MS:-2000}
refusals=(
	"${prefix}l:locked pass:locked:$(why 'locked entry' "$auth_failure")"
	"${prefix}e:expired pass:expired:$(why expired 'pam_acct_mgmt: User account has expired')"
	"root:root pass:uid 0:uid 0"
	"${prefix}y:wrong pass:wrong password:$(why 'wrong password' "$auth_failure")"
	"${prefix}x:any pass:unknown user:$(why 'unknown user' "$not_known")"
	"${prefix^^}Y:yes-crypt pass:name in another case:$(why 'unknown user' "$not_known")"
)
for i in "${!refusals[@]}"; do
	IFS=: read -r user password what why <<<"${refusals[$i]}"
	mkdir "$scratch/refused.$i"
	(
		out=$scratch/refused.$i
		start=$(date +%s%N)
		pop2 "HELO $user $password"
		echo $(( ($(date +%s%N) - start) / 1000000 )) >"$out/took"
	)
done
for i in "${!refusals[@]}"; do
	IFS=: read -r user password what why <<<"${refusals[$i]}"
	out=$scratch/refused.$i
	took=$(cat "$out/took")
	check "$what: - Bad login" [ "$(reply 2)" = "- Bad login" ]
	check "$what: not before the delay of $delay_ms ms (took $took ms)" [ "$took" -ge "$delay_ms" ]
	check "$what: the log says why" grep -q "login failed user=$user peer=local reason=$why" "$out/err"
done
out=$scratch

# Not started as root: no identity change, nobody else's login.
printf '%s\r\n' "HELO ${prefix}s sha pass" |
	setpriv --reuid="${prefix}y" --regid="${prefix}y" --init-groups \
		"$POP2D" -d -n t -S "$state" -m "$spool/%u" -L "$scratch/bin/pop2-lock" \
		>"$scratch/out" 2>"$scratch/err"
check "not root: another user's good password: - Bad login" [ "$(reply 2)" = "- Bad login" ]

# The identity while a session is open: /proc/PID/status of pop2d itself.
user=${prefix}y
mkfifo "$scratch/in"
"$POP2D" -d -n t -S "$state" -m "$spool/%u" -L "$scratch/bin/pop2-lock" \
	<"$scratch/in" >"$scratch/live.out" 2>"$scratch/live.err" &
pid=$!
exec 3>"$scratch/in"
wait_for 5 [ -s "$scratch/live.out" ]
check "before HELO: no core file can be written (RLIMIT_CORE 0)" \
	[ "$(awk '/^Max core file size/ { print $5 " " $6 }' "/proc/$pid/limits")" = "0 0" ]
printf 'HELO %s yes-crypt pass\r\n' "$user" >&3
wait_for 5 grep -q '^#' "$scratch/live.out"
uid=$(id -u "$user")
gid=$(id -g "$user")
check "after HELO: real, effective, saved and fs uid are the user's" \
	[ "$(grep '^Uid:' "/proc/$pid/status" | tr -s '\t ' ' ')" = "Uid: $uid $uid $uid $uid" ]
check "after HELO: real, effective, saved and fs gid are the user's" \
	[ "$(grep '^Gid:' "/proc/$pid/status" | tr -s '\t ' ' ')" = "Gid: $gid $gid $gid $gid" ]
check "after HELO: the supplementary groups are the user's" \
	[ "$(grep '^Groups:' "/proc/$pid/status" | tr -s '\t ' ' ' | sed 's/ $//')" = "Groups: $(id -G "$user" | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')" ]

# A signal mid-session: no commit, the maildrop as it was.
cp "$spool/$user" "$scratch/before"
printf 'READ 1\r\nRETR\r\nACKD\r\n' >&3
wait_for 5 grep -q 'characters in message 2' "$scratch/live.out"
kill -TERM "$pid"
wait "$pid"
status=$?
exec 3>&-
check "SIGTERM mid-session: exit 1" [ "$status" -eq 1 ]
check "SIGTERM mid-session: the maildrop is unchanged" cmp -s "$scratch/before" "$spool/$user"
check "SIGTERM mid-session: no dot-lock left" [ ! -e "$spool/$user.lock" ]
check "SIGTERM mid-session: logged" grep -q "session end user=$user reason=signal" "$scratch/live.err"

# Log lines, from -d's copy on standard error.
pop2 "HELO $user yes-crypt pass" "READ 1" RETR ACKD QUIT
check "log: session start" grep -q 'session start peer=local' "$scratch/err"
check "log: login" grep -q "login user=$user peer=local messages=2" "$scratch/err"
check "log: session end with the counts" \
	grep -q "session end user=$user reason=QUIT retrieved=1 deleted=1 octets=" "$scratch/err"

# The commit needs the dot-lock, which only group mail may make in the spool.
check "pop2-lock made the dot-lock: message 1 removed at QUIT" \
	[ "$(grep -c '^Subject: ' "$spool/$user")" -eq 1 -a "$(grep -c '^Subject: two' "$spool/$user")" -eq 1 ]
check "the maildrop keeps its owner, group and mode" \
	[ "$(stat -c '%U %G %a' "$spool/$user")" = "$user mail 660" ]
check "no dot-lock left" [ ! -e "$spool/$user.lock" ]

# FOLD reads as the user: another user's file in the folder directory is closed to it.
shared=$scratch/shared
mkdir "$shared"
chown root:mail "$shared"
chmod 2775 "$shared"
cp "$spool/${prefix}s" "$shared/theirs"
chown "${prefix}s:" "$shared/theirs"
chmod 600 "$shared/theirs"
printf '%s\r\n' "HELO $user yes-crypt pass" "FOLD theirs" QUIT |
	"$POP2D" -n t -S "$state" -m "$spool/%u" -L "$scratch/bin/pop2-lock" -F "$shared" >"$scratch/out" 2>/dev/null
check "FOLD to another user's 0600 file: #0" [ "$(reply 3)" = "#0 messages in theirs" ]
cp "$spool/$user" "$shared/mine"
chown "$user:" "$shared/mine"
chmod 600 "$shared/mine"
printf '%s\r\n' "HELO $user yes-crypt pass" "FOLD mine" QUIT |
	"$POP2D" -n t -S "$state" -m "$spool/%u" -L "$scratch/bin/pop2-lock" -F "$shared" >"$scratch/out" 2>/dev/null
check "the user's own 0600 file beside it: #1 (so the #0 was the permission)" \
	[ "$(reply 3)" = "#1 messages in mine" ]

finish
