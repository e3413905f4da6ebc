#!/bin/bash
# System accounts through PAM, with service files of the test's own under
# pam_wrapper (never the host's /etc/pam.d) and accounts in test/ns.sh's
# private passwd and shadow files: a user that only PAM knows (its shadow
# entry locked, or none at all) logs in and reads mail; PAM_USER as a
# module leaves it picks the account; the conversation answers password
# prompts only; every refusal (wrong password, account stack, uid 0, no
# passwd entry, pam_setcred, and through the real pam_unix an expired
# account and a password that must be changed) is the same "- Bad login"
# after the same delay, whatever delay the modules ask for, with PAM's
# reason in the log and never the password; PAM_RHOST is the client's
# address; the groups pam_setcred adds (pam_group) are the session's;
# session modules are not run; -P picks the service.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
. "$(dirname "$0")/pamwrap.sh"

ns_enter "$@"
pam_wrap_init

matrix=$PAM_WRAPPER_MODULES/pam_matrix.so
mods=$PAM_MODULES_DIR

chmod 755 "$scratch"
spool=$scratch/spool
mkdir "$spool" "$scratch/home" "$scratch/bin"
chown root:mail "$spool"
chmod 2775 "$spool"
cp "$top_builddir/pop2d/pop2-lock" "$scratch/bin/pop2-lock"
chown root:mail "$scratch/bin/pop2-lock"
chmod 2755 "$scratch/bin/pop2-lock"

# maildrop USER: two messages in USER's spool file, USER:mail 0660.
maildrop() {
	{
		printf 'From a@example.org Mon Nov 16 09:12:44 2026\nSubject: one for %s\n\nfirst\n\n' "$1"
		printf 'From b@example.org Mon Nov 16 09:13:44 2026\nSubject: two\n\nsecond\n\n'
	} >"$spool/$1"
	chown "$1:mail" "$spool/$1"
	chmod 0660 "$spool/$1"
}

# user NAME UID HASH [EXPIRE]: an account with a home, a group of its own
# and a maildrop; HASH "none" leaves it out of the shadow file.
user() {
	local name=$1 id=$2 hash=$3
	ns_add_group "$name" "$id"
	if [ "$hash" = none ]; then
		printf '%s:x:%s:%s::%s:/bin/sh\n' "$name" "$id" "$id" "$scratch/home/$name" >>/etc/passwd
	else
		ns_add_user "$name" "$id" "$id" "$scratch/home/$name" "$hash" "${4:-}"
	fi
	mkdir "$scratch/home/$name"
	chown "$name:" "$scratch/home/$name"
	maildrop "$name"
}

# yescrypt at its lowest cost: pam_unix checks it as any other, in a few
# milliseconds rather than tens for each login below.
unix_hash=$(ns_hash '$y$' 'unix pass' 1)
user pdirl 47101 '!'                 # locked in the shadow file
user pdirn 47102 none                # no shadow entry at all
user punix 47103 "$unix_hash"
user pexp 47104 "$unix_hash" 1       # expired on 1970-01-02
user pnew 47105 "$unix_hash"
user pempty 47106 ''                # no password at all
user pbig 47107 '!'
# A passwd entry larger than getpwnam_r's first buffer (a long GECOS field).
gecos=$(head -c 6000 /dev/zero | tr '\0' g)
awk -F: -v OFS=: -v g="$gecos" '$1 == "pbig" { $5 = g } { print }' /etc/passwd >"$scratch/passwd"
cat "$scratch/passwd" >/etc/passwd
# Its password was last changed on day 0: it must be changed first.
awk -F: -v OFS=: '$1 == "pnew" { $3 = 0 } { print }' /etc/shadow >"$scratch/shadow"
cat "$scratch/shadow" >/etc/shadow

# matrix_db SERVICE: pam_matrix's users for SERVICE (one entry per user:
# its account stack admits a user to the service its entry names).
matrix_db() {
	passdb=$scratch/passdb.$1
	printf '%s\n' "pdirl:matrix pass:$1" "pdirn:other pass:$1" "root:root pass:$1" \
		"pghost:ghost pass:$1" "palias:alias pass:$1" "pbig:big pass:$1" >"$passdb"
}

# pop2: the shipped file's shape, pam_matrix in place of the site's
# modules, and a session stack that would refuse anyone were it run.
matrix_db pop2
pam_service pop2 "auth required $matrix passdb=$passdb" \
	"account required $matrix passdb=$passdb" \
	"session required $mods/pam_deny.so"
matrix_db pop
pam_service pop "auth required $matrix passdb=$passdb" \
	"account required $matrix passdb=$passdb"
matrix_db denyacct
pam_service denyacct "auth required $matrix passdb=$passdb" \
	"account required $mods/pam_deny.so"
matrix_db echo
pam_service echo "auth required $matrix passdb=$passdb echo" \
	"account required $matrix passdb=$passdb"
matrix_db chatty
# pam_chatty has no pam_setcred: [default=ignore] keeps it out of that.
pam_service chatty "auth [default=ignore] $PAM_WRAPPER_MODULES/pam_chatty.so num_lines=3 info error" \
	"auth required $matrix passdb=$passdb verbose" \
	"account required $matrix passdb=$passdb"
# pam_faildelay asks for 60 s (libpam would wait 30 to 90 s).
matrix_db slow
pam_service slow "auth optional $mods/pam_faildelay.so delay=60000000" \
	"auth required $matrix passdb=$passdb" \
	"account required $matrix passdb=$passdb"
# pam_chatty has no pam_setcred: as a required auth module, it accepts in
# pam_authenticate and fails pam_setcred.
matrix_db nocred
pam_service nocred "auth required $PAM_WRAPPER_MODULES/pam_chatty.so num_lines=1 info" \
	"auth required $matrix passdb=$passdb" \
	"account required $matrix passdb=$passdb"
matrix_db rhost
pam_service rhost "auth required $matrix passdb=$passdb" \
	"auth optional $mods/pam_exec.so $scratch/bin/show-rhost" \
	"account required $matrix passdb=$passdb"
# The user as PAM_USER then says, set by pam_set_items from the environment.
matrix_db mapped
pam_service mapped "auth required $matrix passdb=$passdb" \
	"auth required $PAM_WRAPPER_MODULES/pam_set_items.so" \
	"account required $mods/pam_permit.so"
# pam_group gives pdirl the group pextra in pam_setcred (the private
# /etc/security/group.conf says so for the service "groups").
ns_add_group pextra 47200
printf 'groups;*;pdirl;Al0000-2400;pextra\n' >/etc/security/group.conf
matrix_db groups
pam_service groups "auth required $matrix passdb=$passdb" \
	"auth optional $mods/pam_group.so" \
	"account required $matrix passdb=$passdb"
# The real pam_unix, which reads the private /etc/shadow as root.
pam_service unix "auth required $mods/pam_unix.so" "account required $mods/pam_unix.so"
# As Debian's common-auth has it: nullok lets an empty hash in, unless the
# application says PAM_DISALLOW_NULL_AUTHTOK.
pam_service unixnullok "auth required $mods/pam_unix.so nullok" \
	"account required $mods/pam_unix.so"
printf '#!/bin/sh\nprintf "%%s\\n" "rhost=${PAM_RHOST:-}" >>%s\n' "$scratch/rhost" \
	>"$scratch/bin/show-rhost"
chmod 755 "$scratch/bin/show-rhost"

# pop2 [ENV=VALUE...] -- [OPTION...] -- LINE...: one session under
# pam_wrapper, replies in $out/out, the -d log in $out/err, the time it
# took in $took (ms). $out is $scratch unless a case has a folder of its own.
out=$scratch
pop2() {
	local envs=() opts=() start
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	start=$(date +%s%N)
	printf '%s\r\n' "$@" |
		env "${envs[@]}" "$pop2d_pam" -d -n t -S "$state" -m "$spool/%u" \
			-L "$scratch/bin/pop2-lock" "${opts[@]}" >"$out/out" 2>"$out/err"
	took=$((($(date +%s%N) - start) / 1000000))
}
reply() {
	sed -n "$1p" "$out/out" | tr -d '\r'
}
logged() {
	grep -qF -- "$1" "$out/err"
}

# Users only PAM knows: their shadow entry says nothing about them.
pop2 -- -- "HELO pdirl matrix pass" "READ 1" RETR ACKS QUIT
check "directory user, shadow entry locked: logs in" [ "$(reply 2)" = "#2 messages in INBOX" ]
check "directory user: reads its mail" grep -q "^Subject: one for pdirl" "$scratch/out"
check "directory user: QUIT" [ "$(reply "$(wc -l <"$scratch/out")")" = "+ OK Sayonara" ]
check "directory user: logged in as itself" logged "login user=pdirl peer=local messages=2"
check "session modules are not run (a session stack of pam_deny)" [ "$(reply 2)" = "#2 messages in INBOX" ]
check "the state directory is the user's" [ "$(stat -c '%U %a' "$state/pdirl")" = "pdirl 700" ]
pop2 -- -- "HELO pdirn other pass" QUIT
check "directory user without a shadow entry: logs in" [ "$(reply 2)" = "#2 messages in INBOX" ]
pop2 -- -- "HELO pbig big pass" QUIT
check "a passwd entry of 6000 octets (getpwnam_r's buffer grows): logs in" \
	[ "$(reply 2)" = "#2 messages in INBOX" ]

# -P: another service; the default is pop2.
pop2 -- -P pop -- "HELO pdirl matrix pass" QUIT
check "-P pop: its own service" [ "$(reply 2)" = "#2 messages in INBOX" ]
sed -i 's/:pop$/:pop-no/' "$scratch/passdb.pop"
pop2 -- -P pop -- "HELO pdirl matrix pass" QUIT
check "-P pop: refused when that service refuses" [ "$(reply 2)" = "- Bad login" ]

# PAM_USER as the stack leaves it names the account.
pop2 PAM_USER=pdirn -- -P mapped -- "HELO palias alias pass" "READ 1" RETR ACKS QUIT
check "PAM_USER changed by a module: that account logs in" [ "$(reply 2)" = "#2 messages in INBOX" ]
check "PAM_USER changed by a module: its maildrop" grep -q "^Subject: one for pdirn" "$scratch/out"
check "PAM_USER changed by a module: logged as that account" \
	logged "login user=pdirn peer=local messages=2"

# pam_setcred runs as root between initgroups and setgid, so the groups a
# module adds are the session's: a folder directory only pextra may enter
# (and write its dot-lock in).
mkdir "$scratch/shared"
cp "$spool/pdirn" "$scratch/shared/extra"
chown root:pextra "$scratch/shared" "$scratch/shared/extra"
chmod 0770 "$scratch/shared"
chmod 0660 "$scratch/shared/extra"
pop2 -- -P groups -F "$scratch/shared" -- "HELO pdirl matrix pass" "FOLD extra" QUIT
check "pam_setcred's groups (pam_group): a folder only that group reads" \
	[ "$(reply 3)" = "#2 messages in extra" ]
pop2 -- -F "$scratch/shared" -- "HELO pdirl matrix pass" "FOLD extra" QUIT
check "... and without pam_group, not" [ "$(reply 3)" = "#0 messages in extra" ]

# The conversation: texts ignored, an echo-on prompt refused.
pop2 -- -P chatty -- "HELO pdirl matrix pass" QUIT
check "informational and error texts ignored: logs in" [ "$(reply 2)" = "#2 messages in INBOX" ]

# The failed-login delay (POP2_LOGIN_DELAY_MS in a test build, else 2 s).
delay_ms=${POP2_LOGIN_DELAY_MS:-2000}
pop2 -- -- "HELO pdirl wrong pass"
check "wrong password: - Bad login" [ "$(reply 2)" = "- Bad login" ]
check "wrong password: PAM's reason in the log" \
	logged "login failed user=pdirl peer=local reason=pam_authenticate: Authentication failure"
wrong_ms=$took
check "wrong password: not before the delay of $delay_ms ms (took $took ms)" [ "$took" -ge "$delay_ms" ]

# refused WHAT USER PASSWORD REASON [ENV...] -- [OPTION...]: the same reply,
# not before the failed-login delay and with none of the modules' own delays
# (pam_unix 2 s, pam_faildelay's 60 s, which libpam would stretch or shrink
# by up to half: a refusal 25 s late would be one), the reason logged,
# never the password. Each login has a folder of its own; refusals_checked
# checks each, in the order they ran. They run one at a time: pam_wrapper
# gives each process a configuration folder /tmp/pam.X, and a process
# starting beside another can take the other's for a stale one (its pid
# file not written yet) and remove it.
refusals=()
refusal_number=0
refused() {
	local dir=$scratch/refused.$((refusal_number++))
	mkdir "$dir"
	printf '%s\n' "$1" "$2" "$3" "$4" >"$dir/case"
	(
		out=$dir
		pop2 "${@:5}" -- "HELO $2 $3"
		echo "$took" >"$dir/took"
	)
	refusals+=("$dir")
}
refusals_checked() {
	local r what user password why
	for r in "${refusals[@]}"; do
		out=$r
		{ read -r what; read -r user; read -r password; read -r why; } <"$out/case"
		took=$(cat "$out/took")
		check "$what: - Bad login" [ "$(reply 2)" = "- Bad login" ]
		if logged "login failed user=$user peer=local reason=$why"; then
			pass "$what: the log says why"
		else
			fail "$what: the log says why"
			grep -e 'login' -e 'session end' "$out/err"
		fi
		check "$what: no password in the log" [ "$(grep -cF -- "$password" "$out/err")" -eq 0 ]
		check "$what: the delay of a wrong password (took $took ms, wrong password $wrong_ms)" \
			[ "$took" -ge "$delay_ms" -a "$took" -lt $((delay_ms + 25000)) ]
	done
	refusals=()
	out=$scratch
}
refused "account stack refuses (pam_deny)" pdirl 'matrix pass' \
	"pam_acct_mgmt: Authentication failure" -- -P denyacct
refused "echo-on prompt" pdirl 'matrix pass' "pam_authenticate: " -- -P echo
refused "uid 0" root 'root pass' "uid 0" --
refused "known to PAM, no passwd entry" pghost 'ghost pass' "PAM user has no passwd entry" --
refused "pam_setcred fails" pdirl 'matrix pass' "pam_setcred: " -- -P nocred
refused "a module asks for 60 s (pam_faildelay)" pdirl 'slow wrong' \
	"pam_authenticate: Authentication failure" -- -P slow
refused "unknown service: the other file's pam_deny" pdirl 'matrix pass' \
	"pam_authenticate: " -- -P nosuchservice
refusals_checked

# The real pam_unix and the private shadow file.
pop2 -- -P unix -- "HELO punix unix pass" "READ 1" RETR ACKD QUIT
check "pam_unix: a yescrypt password logs in" [ "$(reply 2)" = "#2 messages in INBOX" ]
check "pam_unix: ACKD committed at QUIT" \
	[ "$(grep -c '^Subject: ' "$spool/punix")" -eq 1 ]
refused "pam_unix: wrong password" punix 'unix wrong' \
	"pam_authenticate: Authentication failure" -- -P unix
refused "pam_unix: account expired" pexp 'unix pass' \
	"pam_acct_mgmt: User account has expired" -- -P unix
refused "pam_unix: password must be changed (PAM_NEW_AUTHTOK_REQD)" pnew 'unix pass' \
	"pam_acct_mgmt: Authentication token is no longer valid; new one required" -- -P unix
refused "pam_unix: locked shadow entry" pdirl 'matrix pass' \
	"pam_authenticate: Authentication failure" -- -P unix
refused "pam_unix nullok: an account without a password (PAM_DISALLOW_NULL_AUTHTOK)" \
	pempty 'any pass' "pam_authenticate: " -- -P unixnullok
refused "pam_unix: unknown user" pnobody 'unix pass' \
	"pam_authenticate: User not known to the underlying authentication module" -- -P unix
refusals_checked

# PAM_RHOST: unset on a pipe, the client's address on a socket.
: >"$scratch/rhost"
pop2 -- -P rhost -- "HELO pdirl matrix pass" QUIT
check "PAM_RHOST on a pipe: unset" [ "$(cat "$scratch/rhost")" = "rhost=" ]
: >"$scratch/rhost"
cat >"$scratch/bin/tcp.pl" <<'EOF'
# Runs ARGV on the server end of a loopback TCP connection; copies
# standard input to the client end, then the replies to standard output.
use strict;
use IO::Socket::INET;
my $l = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0,
    Proto => 'tcp') or die "listen: $!";
my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $l->sockport,
    Proto => 'tcp') or die "connect: $!";
my $s = $l->accept or die "accept: $!";
my $pid = fork // die "fork: $!";
if ($pid == 0) {
	close $c;
	open STDIN, '<&', $s or die;
	open STDOUT, '>&', $s or die;
	close $s;
	exec @ARGV or die "exec: $!";
}
close $s;
close $l;
local $/;
my $in = <STDIN>;
print $c $in;
shutdown $c, 1;
print while <$c>;
waitpid $pid, 0;
EOF
if command -v perl >/dev/null && perl -MIO::Socket::INET -e 1 2>/dev/null; then
	printf '%s\r\n' "HELO pdirl matrix pass" QUIT |
		perl "$scratch/bin/tcp.pl" "$pop2d_pam" -d -n t -S "$state" -m "$spool/%u" \
			-L "$scratch/bin/pop2-lock" -P rhost >"$scratch/out" 2>"$scratch/err"
	check "over TCP: logs in" [ "$(reply 2)" = "#2 messages in INBOX" ]
	check "PAM_RHOST on a socket: the client's address" [ "$(cat "$scratch/rhost")" = "rhost=127.0.0.1" ]
else
	echo "SKIP: PAM_RHOST over TCP needs perl's IO::Socket::INET"
fi

finish
