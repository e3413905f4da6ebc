#!/bin/bash
# The command line of SPEC §6 and the timeouts, driven against the built pop2d.
set -u
. "$(dirname "$0")/lib.sh"

passwd=$data/passwd
maildrop=$scratch/maildrop
cp "$data/mbox/bookkeeping.mbox" "$maildrop"

# usage_error NAME ARGS...: exit status 2, a message on stderr (not a
# socket here), and for the client only "- POP2 server unavailable".
printf -- '- POP2 server unavailable\r\n' >"$scratch/unavailable"
usage_error() {
	local name=$1
	shift
	"$POP2D" -S "$state" "$@" </dev/null >"$scratch/out" 2>"$scratch/err"
	local status=$?
	if [ "$status" -eq 2 ] && cmp -s "$scratch/unavailable" "$scratch/out" &&
		[ -s "$scratch/err" ]; then
		pass "$name"
	else
		fail "$name (exit $status, stdout $(wc -c <"$scratch/out") octets, stderr: $(head -c 200 "$scratch/err"))"
	fi
}

# The timeouts are proven by events, not by the clock: the client holds
# its side open and never finishes, so pop2d can only end the session by
# its own timeout (`timeout 60` merely turns a hang into a failure). The
# cases wait on their own timers, so they run side by side, each with its
# own state directory (one user's sessions exclude each other), and are
# judged at the end: they start first, and the other cases run meanwhile.

# Without the test variable, the delay is the documented 2 s.
case_default_delay() {
	local start
	start=$(date +%s%N)
	printf 'HELO alice wrong\r\nQUIT\r\n' | env -u POP2_LOGIN_DELAY_MS \
		"$POP2D" -S "$1" -p "$passwd" -n t -m "$maildrop" >"$scratch/default-delay.out"
	echo $((($(date +%s%N) - start) / 1000000)) >"$scratch/default-delay.ms"
}

# A session that stays silent is logged out after -T seconds before HELO:
# its input is a FIFO that the case keeps open and never writes.
case_login_timeout() {
	mkfifo "$scratch/login.in"
	timeout 60 "$POP2D" -S "$1" -p "$passwd" -n t -T 1 <"$scratch/login.in" >"$scratch/login.out" &
	exec 8>"$scratch/login.in"
	wait $!
	echo $? >"$scratch/login.status"
}

# -T bounds the whole login: a client that never stops trickling octets of
# a HELO (each one would restart an idle timer) is cut off.
case_trickle() {
	local trickler
	mkfifo "$scratch/trickle.in"
	(while :; do printf H; sleep 0.2; done) >"$scratch/trickle.in" &
	trickler=$!
	timeout 60 "$POP2D" -S "$1" -p "$passwd" -n t -T 1 <"$scratch/trickle.in" >"$scratch/trickle.out"
	echo $? >"$scratch/trickle.status"
	kill "$trickler"
	wait "$trickler" 2>/dev/null
}

# After HELO the idle limit (-t) applies instead: with -T 1 and -t 2, the
# session stays idle longer than the login deadline allows. The clock
# starts before HELO is sent, so the -T deadline lies less than 1 s after
# it and the -t one at least 2 s after it: a lower bound on the clock,
# which a slow machine cannot break.
case_idle() {
	local pid sent ended fd
	cp "$maildrop" "$scratch/idle.mbox"
	mkfifo "$scratch/idle.in"
	timeout 60 "$POP2D" -S "$1" -p "$passwd" -n t -m "$scratch/idle.mbox" -T 1 -t 2 \
		<"$scratch/idle.in" >"$scratch/idle.out" &
	pid=$!
	exec {fd}>"$scratch/idle.in"
	sent=$(date +%s%N)
	printf 'HELO alice wonderland\r\n' >&"$fd"
	wait "$pid"
	ended=$(date +%s%N)
	exec {fd}>&-
	echo $(((ended - sent) / 1000000)) >"$scratch/idle.ms"
}

# -t bounds a whole command line from the previous reply on, not each
# octet: a command trickled one octet every 0.3 s for 10 s is cut off
# about 1 s after the login reply (with a wait restarted by every octet
# it would last the 10 s).
case_trickled_command() {
	local start status
	cp "$maildrop" "$scratch/trickled.mbox"
	start=$(date +%s%N)
	"$POP2D" -S "$1" -p "$passwd" -n t -m "$scratch/trickled.mbox" -t 1 \
		>"$scratch/trickled.out" < <(printf 'HELO alice wonderland\r\n'
			for ((i = 0; i < 33; i++)); do printf R; sleep 0.3; done)
	status=$?
	echo $((($(date +%s%N) - start) / 1000000)) >"$scratch/trickled.ms"
	echo "$status" >"$scratch/trickled.status"
}

# A client that stops reading: the blocked write gives up within -t.
case_stalled() {
	local pid writer
	{
		printf 'From a@b Mon Nov 16 09:12:44 2026\nSubject: big\n\n'
		head -c 8000000 /dev/zero | tr '\0' 'x' | fold -w 70
		printf '\n'
	} >"$scratch/big.mbox"
	mkfifo "$scratch/stalled.in" "$scratch/stalled.fifo"
	{ printf 'HELO alice wonderland\r\nREAD 1\r\nRETR\r\n'; exec sleep 120; } >"$scratch/stalled.in" &
	writer=$!
	timeout 60 "$POP2D" -S "$1" -p "$passwd" -n t -m "$scratch/big.mbox" -t 1 \
		<"$scratch/stalled.in" >"$scratch/stalled.fifo" &
	pid=$!
	exec 9<"$scratch/stalled.fifo"
	head -c 1000 <&9 >/dev/null
	wait "$pid"
	echo $? >"$scratch/stalled.status"
	kill "$writer"
}

cases=()
for c in default_delay login_timeout trickle idle trickled_command stalled; do
	mkdir -m 755 "$scratch/state-$c"
	case_$c "$scratch/state-$c" &
	cases+=($!)
done

usage_error "unknown option" -p "$passwd" -z
usage_error "unknown long option" -p "$passwd" --frobnicate
usage_error "missing option argument" -p
usage_error "stray operand" -p "$passwd" extra
usage_error "unreadable passwd-file" -p "$scratch/no-such-file"
usage_error "passwd-file is a directory" -p "$scratch/"
usage_error "idle timeout zero" -p "$passwd" -t 0
usage_error "idle timeout not a number" -p "$passwd" -t 10s
usage_error "idle timeout negative" -p "$passwd" -t -5
usage_error "login timeout too large" -p "$passwd" -T 86401
usage_error "relative state directory" -p "$passwd" -S var/lib/pop2d
usage_error "relative lock helper" -p "$passwd" -L pop2-lock
usage_error "bad template escape" -p "$passwd" -m '/var/mail/%x'
usage_error "template ends in %" -p "$passwd" -F '/home/%'
usage_error "empty host name" -p "$passwd" -n ''
usage_error "host name with a space" -p "$passwd" -n 'a b'
usage_error "relative maildir maildrop" -p "$passwd" -m 'maildir:Maildir'
usage_error "maildir folder directory" -p "$passwd" -F 'maildir:%h/Maildir'
usage_error "empty PAM service" -P ''
usage_error "PAM service with a slash" -P '../pop'
usage_error "hidden PAM service" -P '.pop'
if [ "${PAM:-}" = yes ]; then
	# A maildrop in each home: /var/mail would need the lock helper installed.
	greeting=$("$POP2D" -S "$state" -m '%h/mbox' -P pop-3.x_y </dev/null | head -n 1)
	check "-P takes letters, digits, '.', '_' and '-'" [ "${greeting%% *}" = + ]
else
	usage_error "-P in a build without PAM" -P pop
	check "... and says why" grep -q 'built without PAM' "$scratch/err"
fi

# The state directory and the lock helper are checked at startup, before
# any greeting: like sshd's StrictModes, -S and every directory above it
# must be root's (or pop2d's own user's) and writable by nobody else.
usage_error "state directory missing" -p "$passwd" -S "$scratch/no-such-state"
usage_error "state directory is a file" -p "$passwd" -S "$passwd"
ln -s "$state" "$scratch/state-link"
usage_error "state directory is a symbolic link" -p "$passwd" -S "$scratch/state-link"
mkdir -m 775 "$scratch/group-writable"
usage_error "state directory writable by its group" -p "$passwd" -S "$scratch/group-writable"
mkdir -m 1777 "$scratch/sticky" "$scratch/sticky/state"
chmod 755 "$scratch/sticky/state"
usage_error "state directory beneath a sticky world-writable one" -p "$passwd" \
	-S "$scratch/sticky/state"
state_tmp=$(mktemp -d /tmp/pop2d-state.XXXXXX)
chmod 755 "$state_tmp"
usage_error "state directory in /tmp" -p "$passwd" -S "$state_tmp"
rmdir "$state_tmp"
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 755 "$scratch/foreign"
	chown 12345:12345 "$scratch/foreign"
	usage_error "state directory owned by another uid than root" -p "$passwd" \
		-S "$scratch/foreign"
fi
usage_error "missing lock helper" -p "$passwd" -L "$scratch/no-such-helper"
usage_error "lock helper not executable" -p "$passwd" -L "$passwd"
"$POP2D" -d -S "$scratch/sticky/state" -p "$passwd" </dev/null >/dev/null 2>"$scratch/err"
check "-d: the log names the unsafe directory and the fix" \
	grep -q "configuration error: -S $scratch/sticky/state is unsafe: $scratch/sticky is writable by group or others: .*chmod go-w" "$scratch/err"

# Under inetd and xinetd the connection is standard input, output and
# error at once: the client gets the generic reply and no path at all.
on_socket() {
	perl -MSocket -e '
		socketpair(my $ours, my $theirs, AF_UNIX, SOCK_STREAM, PF_UNSPEC)
			or die "socketpair: $!\n";
		my $pid = fork() // die "fork: $!\n";
		if ($pid == 0) {
			close($ours);
			open(STDIN, "<&", $theirs) && open(STDOUT, ">&", $theirs) &&
				open(STDERR, ">&", $theirs) or die "dup: $!\n";
			exec(@ARGV) or die "exec $ARGV[0]: $!\n";
		}
		close($theirs);
		binmode(STDOUT);
		my $buf;
		print $buf while sysread($ours, $buf, 4096);
		waitpid($pid, 0);
		exit($? & 127 ? 128 + ($? & 127) : $? >> 8);
	' "$@"
}
for args in "-S $state -p $scratch/no-such-file" "-S $scratch/sticky/state -p $passwd" "-z"; do
	# shellcheck disable=SC2086
	on_socket "$POP2D" $args >"$scratch/out"
	status=$?
	check "on a socket ($args): exit 2" [ "$status" -eq 2 ]
	check "on a socket ($args): only '- POP2 server unavailable'" \
		cmp -s "$scratch/unavailable" "$scratch/out"
done

out=$("$POP2D" -S "$state" -V)
check "-V prints the version" [ "$out" = "pop2d $VERSION" ]
"$POP2D" -S "$state" -h >"$scratch/help"
check "-h prints usage and exits 0" grep -q '^usage: pop2d' "$scratch/help"
"$POP2D" -S "$state" --recover-all -S "$state" -m '%h/mbox' 2>"$scratch/err"
check "--recover-all with nothing to recover exits 0" [ $? -eq 0 ]
"$POP2D" --recover-all -S "$scratch/never-made" 2>"$scratch/err"
check "--recover-all without a state directory exits 0, silently" [ $? -eq 0 -a ! -s "$scratch/err" ]

# The greeting names the host given with -n, with nothing between "+ " and "POP2".
greeting=$("$POP2D" -S "$state" -p "$passwd" -n mail.example.org </dev/null | head -n 1)
check "greeting with -n" [ "$greeting" = $'+ POP2 mail.example.org pop2d '"$VERSION"$' server ready\r' ]
greeting=$("$POP2D" -S "$state" -p "$passwd" </dev/null | head -n 1)
check "greeting names the machine by default" \
	[ "$greeting" = $'+ POP2 '"$(hostname)"' pop2d '"$VERSION"$' server ready\r' ]

# Failed logins wait the delay (POP2_LOGIN_DELAY_MS in a test build), and
# look alike. Not before it is the property: a lower bound on the clock.
delay_ms=${POP2_LOGIN_DELAY_MS:-2000}
for who in "alice wrong" "nosuchuser wonderland" "locked locked-secret"; do
	start=$(date +%s%N)
	printf 'HELO %s\r\nQUIT\r\n' "$who" | "$POP2D" -S "$state" -p "$passwd" -n t -m "$maildrop" >"$scratch/out"
	ms=$((($(date +%s%N) - start) / 1000000))
	check "bad login ($who) replies '- Bad login'" [ "$(tail -n 1 "$scratch/out")" = $'- Bad login\r' ]
	check "bad login ($who) not answered before $delay_ms ms (took $ms)" [ "$ms" -ge "$delay_ms" ]
done

# -d copies log lines to standard error.
printf 'HELO alice wonderland\r\nQUIT\r\n' |
	"$POP2D" -S "$state" -d -p "$passwd" -n t -m "$maildrop" >/dev/null 2>"$scratch/err"
check "-d logs the login" grep -q 'login user=alice' "$scratch/err"
check "-d logs the session end" grep -q 'session end user=alice reason=QUIT' "$scratch/err"
check "the log never holds the password" bash -c "! grep -q wonderland '$scratch/err'"

# The timed cases started at the top.
for c in "${cases[@]}"; do wait "$c"; done

elapsed=$(cat "$scratch/trickled.ms")
check "a trickled command is cut off by -t (after $elapsed ms)" [ "$elapsed" -lt 9000 ]
check "a trickled command gets Autologout" \
	[ "$(tail -n 1 "$scratch/trickled.out")" = $'- Autologout; idle for too long\r' ]
check "a trickled command: exit 1" [ "$(cat "$scratch/trickled.status")" -eq 1 ]
printf '+ POP2 t pop2d %s server ready\r\n- Autologout; idle for too long\r\n' "$VERSION" >"$scratch/want"
check "login timeout (-T) sends Autologout" cmp -s "$scratch/want" "$scratch/login.out"
check "login timeout exits 1 without waiting for the client (status $(cat "$scratch/login.status"))" \
	[ "$(cat "$scratch/login.status")" = 1 ]
check "a trickling login is cut off at -T (status $(cat "$scratch/trickle.status"))" \
	[ "$(cat "$scratch/trickle.status")" = 1 ]
check "a trickling login gets Autologout" \
	[ "$(tail -n 1 "$scratch/trickle.out")" = $'- Autologout; idle for too long\r' ]
check "idle timeout (-t) after HELO: greeting, #, Autologout" [ "$(grep -c '' "$scratch/idle.out")" -eq 3 ]
check "idle timeout reply" [ "$(tail -n 1 "$scratch/idle.out")" = $'- Autologout; idle for too long\r' ]
idle_ms=$(cat "$scratch/idle.ms")
check "idle timeout: -t, not -T, after HELO (idle $idle_ms ms >= 1500)" [ "$idle_ms" -ge 1500 ]
check "a stalled reader cannot hold the session past -t: exit 1" [ "$(cat "$scratch/stalled.status")" = 1 ]
ms=$(cat "$scratch/default-delay.ms")
check "bad login: the default delay is 2 s (took $ms ms)" [ "$ms" -ge 2000 ]
check "bad login with the default delay: '- Bad login'" \
	[ "$(tail -n 1 "$scratch/default-delay.out")" = $'- Bad login\r' ]

finish
