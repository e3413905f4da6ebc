#!/bin/bash
# Ways a session ends that the transcripts cannot show: a signal while a
# failed login waits for its deadline, a signal while a message is sent
# to a client that stopped reading, a client gone after the greeting, one
# that reads no reply, input that cannot be read, a maildrop template
# that expands past any path's length, a maildrop that is a folder, a
# Maildir moved away during the session; a client of a dual-stack
# socket named by its IPv4 address; and command lines whose first error
# is the one reported. Each ends through one log line with its reason,
# and nothing of the maildrop changes. The long login deadline needs
# --enable-test-seams (POP2_LOGIN_DELAY_MS).
set -u
. "$(dirname "$0")/lib.sh"
[ "${SEAMS:-no}" = yes ] || skip_all "POP2_LOGIN_DELAY_MS needs ./configure --enable-test-seams"

passwd=$data/passwd
maildrop=$scratch/maildrop
cp "$data/mbox/basic.mbox" "$maildrop"

# ended PID: waits (at most 60 s, a guard against a hang) until PID exits;
# its exit status in $status.
ended() {
	local i
	for ((i = 0; i < 3000; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.02
	done
	wait "$1"
	status=$?
}

# --- A client that sends command after command but reads no reply: once
# the connection holds no more, the reply cannot be written within -t.
# Started first, in the background, with a maildrop and a state directory
# of its own: the others run while it waits out -t; checked in its turn.
cp "$maildrop" "$scratch/maildrop4"
mkdir -m 755 "$scratch/state4"
mkfifo "$scratch/out4"
(
	exec {r}<>"$scratch/out4"
	{ printf 'HELO alice wonderland\r\n'; for ((i = 0; i < 6000; i++)); do printf 'READ 1\r\n'; done; } |
		"$POP2D" -d -n t -p "$passwd" -S "$scratch/state4" -m "$scratch/maildrop4" -t 1 \
			>"$scratch/out4" 2>"$scratch/err4"
) &
noreader=$!

# --- SIGTERM while a refused login waits for its deadline (an hour here):
# the wait ends at once, and so does the session, with its refusal.
mkfifo "$scratch/in1"
POP2_LOGIN_DELAY_MS=3600000 "$POP2D" -d -n t -p "$passwd" -S "$state" -m "$maildrop" \
	<"$scratch/in1" >"$scratch/out1" 2>"$scratch/err1" &
pid=$!
exec {w}>"$scratch/in1"
printf 'HELO alice wrong\r\n' >&"$w"
check "a refused login waits for its deadline" \
	wait_for 30 grep -q 'login failed user=alice' "$scratch/err1"
kill -TERM "$pid"
ended "$pid"
exec {w}>&-
check "SIGTERM during the deadline: the session ends, exit 1 ($status)" [ "$status" -eq 1 ]
check "... with the refusal, sent at once" [ "$(tail -n 1 "$scratch/out1" | tr -d '\r')" = "- Bad login" ]
check "... and logged as a refused login" grep -q 'session end user=- reason=bad login' "$scratch/err1"

# --- SIGTERM while RETR is blocked on a client that stopped reading.
{
	printf 'From a@b Mon Nov 16 09:12:44 2026\nSubject: big\n\n'
	head -c 4000000 /dev/zero | tr '\0' 'x' | fold -w 70
	printf '\n'
} >"$scratch/big"
cp "$scratch/big" "$scratch/big.before"
mkfifo "$scratch/in2" "$scratch/out2"
"$POP2D" -d -n t -p "$passwd" -S "$state" -m "$scratch/big" \
	<"$scratch/in2" >"$scratch/out2" 2>"$scratch/err2" &
pid=$!
exec {w}>"$scratch/in2"
exec {r}<"$scratch/out2"
printf 'HELO alice wonderland\r\nREAD 1\r\nRETR\r\nACKD\r\nQUIT\r\n' >&"$w"
# pop2d has written what the pipe holds and waits to write more.
written() {
	local n
	n=$(sed -n 's/^wchar: //p' "/proc/$pid/io" 2>/dev/null)
	[ -n "$n" ] && [ "$n" -ge 60000 ]
}
check "RETR to a client that does not read: pop2d waits to write" wait_for 30 written
kill -TERM "$pid"
ended "$pid"
exec {r}<&- {w}>&-
check "SIGTERM during RETR: the session ends, exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged as ended by a signal" grep -q 'session end user=alice reason=signal' "$scratch/err2"
check "... and the maildrop is unchanged" cmp -s "$scratch/big.before" "$scratch/big"

# --- A client that closed its side after the greeting: the next reply
# cannot be written, and the session ends on that.
mkfifo "$scratch/in3" "$scratch/out3"
"$POP2D" -d -n t -p "$passwd" -S "$state" -m "$maildrop" \
	<"$scratch/in3" >"$scratch/out3" 2>"$scratch/err3" &
pid=$!
exec {w}>"$scratch/in3"
exec {r}<"$scratch/out3"
IFS= read -r -u "$r" greeting
exec {r}<&-
printf 'HELO alice wonderland\r\n' >&"$w"
ended "$pid"
exec {w}>&-
check "the greeting reached the client" [ "${greeting%$'\r'}" = "+ POP2 t pop2d $VERSION server ready" ]
check "a client gone after the greeting: exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged as a write error" grep -q 'session end user=alice reason=write error' "$scratch/err3"
check "... and the maildrop is unchanged" cmp -s "$data/mbox/basic.mbox" "$maildrop"

# --- A greeting that cannot be written at all (a full device): the
# session ends before it reads a line, exit 1.
printf 'HELO alice wonderland\r\nQUIT\r\n' |
	"$POP2D" -d -n t -p "$passwd" -S "$state" -m "$maildrop" >/dev/full 2>"$scratch/err7"
status=$?
check "a greeting that cannot be written: exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged as a write error, before any login" \
	grep -q 'session end user=- reason=write error' "$scratch/err7"

# --- A client gone before the reply to its QUIT: the session ends as
# QUIT ends it, but the client never heard that it did: exit 1.
mkfifo "$scratch/in6" "$scratch/out6"
"$POP2D" -d -n t -p "$passwd" -S "$state" -m "$maildrop" \
	<"$scratch/in6" >"$scratch/out6" 2>"$scratch/err6" &
pid=$!
exec {w}>"$scratch/in6"
exec {r}<"$scratch/out6"
IFS= read -r -u "$r" greeting
exec {r}<&-
printf 'QUIT\r\n' >&"$w"
ended "$pid"
exec {w}>&-
check "a client gone before the reply to QUIT: exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged as ended by QUIT" grep -q 'session end user=- reason=QUIT' "$scratch/err6"

# --- The client that reads no reply, started above.
ended "$noreader"
check "a client that reads no reply: exit 1 ($status)" [ "$status" -eq 1 ]
check "... the session ends at -t, logged as a timeout" \
	grep -q 'session end user=alice reason=timeout' "$scratch/err4"

# --- Standard input that cannot be read at all (a folder, not a
# connection): the session ends on the read error.
"$POP2D" -d -n t -p "$passwd" -S "$state" -m "$maildrop" <"$scratch" >"$scratch/out" 2>"$scratch/err"
status=$?
check "unreadable standard input: exit 1 ($status)" [ "$status" -eq 1 ]
check "... logged as a read error" grep -q 'session end user=- reason=read error' "$scratch/err"

# --- A Maildir INBOX moved away during the session (an administrator
# tidying up): its folders can no longer be found, and FOLD says so with
# #0, logged; the session ends normally.
md=$scratch/Maildir
mkdir -p "$md/new" "$md/cur" "$md/tmp" "$md/.saved/new" "$md/.saved/cur" "$md/.saved/tmp"
printf 'Subject: a\n\nbody\n' >"$md/new/1.M1P1.host"
printf 'Subject: b\n\nbody\n' >"$md/.saved/new/2.M1P1.host"
mkfifo "$scratch/in5"
"$POP2D" -d -n t -p "$passwd" -S "$state" -m "maildir:$md" \
	<"$scratch/in5" >"$scratch/out5" 2>"$scratch/err5" &
pid=$!
exec {w}>"$scratch/in5"
printf 'HELO alice wonderland\r\n' >&"$w"
check "a Maildir INBOX: logged in" wait_for 30 grep -q '^#1 messages in INBOX' "$scratch/out5"
mv "$md" "$scratch/Maildir.away"
printf 'FOLD saved\r\nQUIT\r\n' >&"$w"
ended "$pid"
exec {w}>&-
check "the Maildir moved away: FOLD saved selects nothing" grep -q '^#0 messages in saved' "$scratch/out5"
check "... logged" grep -q 'user=alice folder=saved refused or unreadable: No such file or directory' "$scratch/err5"
check "... and the session ends normally (exit $status)" [ "$status" -eq 0 ]

# --- A maildrop template that expands beyond any path's length.
long=$(printf '%04000d' 0)
printf 'HELO alice wonderland\r\nQUIT\r\n' |
	"$POP2D" -d -n t -p "$passwd" -S "$state" -m "/$long/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u/%u" \
		>"$scratch/out" 2>"$scratch/err"
status=$?
check "a maildrop template expanded past any path's length: - Cannot open maildrop" \
	[ "$(sed -n 2p "$scratch/out" | tr -d '\r')" = "- Cannot open maildrop" ]
check "... exit 1 ($status)" [ "$status" -eq 1 ]
# It has no bound of pop2d's own: open(2) refuses it, and the log line
# is cut at its own bound, inside the path.
check "... logged with the path the kernel refused" \
	grep -q "user=alice reason=cannot read maildrop /${long:0:500}" "$scratch/err"
check "... and the session end says why" \
	grep -q 'session end user=alice reason=Cannot open maildrop ' "$scratch/err"

# --- A maildrop that is a folder.
mkdir "$scratch/folder"
printf 'HELO alice wonderland\r\nQUIT\r\n' |
	"$POP2D" -d -n t -p "$passwd" -S "$state" -m "$scratch/folder" >"$scratch/out" 2>"$scratch/err"
check "a maildrop that is a folder: - Cannot open maildrop" \
	[ "$(sed -n 2p "$scratch/out" | tr -d '\r')" = "- Cannot open maildrop" ]
check "... logged with the maildrop's path" grep -q "user=alice reason=cannot read maildrop $scratch/folder" "$scratch/err"

# --- A client of a dual-stack socket (as systemd's ListenStream=109
# gives): 127.0.0.1 is accepted as ::ffff:127.0.0.1 and named as the IPv4
# address it is.
if perl -MIO::Socket::IP -e 'IO::Socket::IP->new(LocalHost => "::", LocalPort => 0,
	Listen => 1, V6Only => 0) or exit 1' 2>/dev/null; then
	perl -MIO::Socket::IP -e '
		my ($portfile, $outfile, @cmd) = @ARGV;
		my $l = IO::Socket::IP->new(LocalHost => "::", LocalPort => 0, Listen => 1,
			V6Only => 0) or die "listen: $@\n";
		my $port = $l->sockport;
		defined(my $pid = fork) or die "fork: $!\n";
		if ($pid == 0) {
			my $c = IO::Socket::IP->new(PeerHost => "127.0.0.1", PeerPort => $port)
				or die "connect: $@\n";
			open(my $pf, ">", $portfile) or die; print $pf $c->sockport, "\n"; close($pf);
			print $c "HELO alice wonderland\r\nQUIT\r\n";
			open(my $o, ">", $outfile) or die;
			my $buf; print $o $buf while sysread($c, $buf, 4096);
			exit 0;
		}
		my $a = $l->accept or die "accept: $!\n";
		close($l);
		open(STDIN, "<&", $a) or die; open(STDOUT, ">&", $a) or die;
		close($a);
		exec @cmd or die "exec: $!\n";
	' "$scratch/v4port" "$scratch/v4out" "$POP2D" -d -n t -p "$passwd" -S "$state" \
		-m "$maildrop" 2>"$scratch/err"
	wait_for 30 grep -q Sayonara "$scratch/v4out"
	check "a dual-stack socket's IPv4 client is logged as peer=127.0.0.1 port N" \
		grep -q "session start peer=127.0.0.1 port $(cat "$scratch/v4port" 2>/dev/null)\$" "$scratch/err"
else
	skip "no dual-stack IPv6 socket here"
fi

# --- Command lines with more than one error: the first is reported.
"$POP2D" -S "$state" -p "$passwd" -t 0 -T 0 -n '' </dev/null >/dev/null 2>"$scratch/err"
status=$?
check "several errors: exit 2 ($status)" [ "$status" -eq 2 ]
check "... the first one (-t 0) is reported" grep -q -- '-t 0: not a number of seconds' "$scratch/err"
check "... and only that one" bash -c "! grep -q -- '-T 0' '$scratch/err'"
"$POP2D" -S "$state" -p "$passwd" -n "$(printf '%0256d' 0)" </dev/null >/dev/null 2>"$scratch/err"
check "a host name of 256 characters: exit 2" [ $? -eq 2 ]
check "... reported" grep -q 'a host name of 1 to 255 characters is needed' "$scratch/err"
if [ "${PAM:-}" = yes ]; then
	"$POP2D" -S "$state" -P "$(printf 'p%0255d' 0)" </dev/null >/dev/null 2>"$scratch/err"
	check "a PAM service name of 256 characters: exit 2" [ $? -eq 2 ]
	check "... reported" grep -q 'a PAM service name of 1 to 255 characters' "$scratch/err"
	"$POP2D" -S "$state" -P 'pop2/x' </dev/null >/dev/null 2>"$scratch/err"
	check "a PAM service name with a slash: exit 2" [ $? -eq 2 ]
	check "... reported" grep -q "a PAM service name has only letters, digits" "$scratch/err"
fi
"$POP2D" -S "$state" -p "$passwd" -L "$scratch/folder" </dev/null >/dev/null 2>"$scratch/err"
check "a lock helper that is a folder: exit 2" [ $? -eq 2 ]
check "... reported with its path" grep -q -- "$scratch/folder" "$scratch/err"

finish
