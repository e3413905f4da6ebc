# shellcheck shell=bash disable=SC2154
# Shared by test/launchers.sh and test/xinetd.sh, after lib.sh: the shipped
# service files, and one whole session through a running launcher over TCP.

: "${XINETD_SERVICE:=$top_builddir/xinetd.d/pop2}"
: "${SYSTEMD_UNITS:=$top_srcdir/systemd $top_builddir/systemd}"

# unit NAME: the path of a shipped systemd unit, template or built.
unit() {
	local dir
	for dir in $SYSTEMD_UNITS; do
		[ -f "$dir/$1" ] && { echo "$dir/$1"; return 0; }
	done
	return 1
}
socket_unit=$(unit pop2d.socket)
service_unit=$(unit pop2d@.service)
recover_unit=$(unit pop2d-recover.service)
if [ ! -f "$XINETD_SERVICE" ] || [ -z "$socket_unit" ] || [ -z "$service_unit" ] ||
	[ -z "$recover_unit" ]; then
	echo "FAIL: the built xinetd service or systemd units are missing (run make first)"
	exit 1
fi

# setting FILE NAME: the value of NAME in an xinetd service ("NAME = VALUE")
# or a systemd unit ("NAME=VALUE"); the last one wins, as in both.
setting() {
	sed -n -E "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*\$/\\1/p" "$1" |
		tail -n 1
}

# The session every launcher serves: test/session/retrieve-all on basic.mbox.
transcript=$top_srcdir/test/session/retrieve-all
sed "s/@VERSION@/$VERSION/" "$transcript.out" >"$scratch/expected"
cp "$data/mbox/basic.mbox" "$scratch/maildrop"
mkdir "$scratch/home"
# shellcheck disable=SC2034 # used by the scripts that source this
pop2d_args=(-n pop2.test -p "$data/passwd" -S "$state" -m "$scratch/maildrop" -F "$scratch/home" -d)

# listening PORT and free_port, shared with the tests behind proxies.
. "$top_srcdir/test/net.sh"

# launch NAME COMMAND...: starts COMMAND, in which @PORT@ stands for a
# free port, in the background; tries other ports while the chosen one
# turns out to be taken. Sets $port and $launcher (the pid).
launch() {
	local name=$1 attempt i
	shift
	for ((attempt = 0; attempt < 10; attempt++)); do
		port=$(free_port)
		"${@//@PORT@/$port}" >"$scratch/$name.launcher" 2>&1 &
		launcher=$!
		for ((i = 0; i < 50; i++)); do
			if listening "$port" && kill -0 "$launcher" 2>/dev/null; then
				return 0
			fi
			kill -0 "$launcher" 2>/dev/null || break
			sleep 0.1
		done
		kill "$launcher" 2>/dev/null
		wait "$launcher" 2>/dev/null
	done
	cat "$scratch/$name.launcher"
	return 1
}

stop_launcher() {
	kill "$launcher" 2>/dev/null
	wait "$launcher" 2>/dev/null
}

# client HOST PORT: sends the transcript's input at once, half-closes and
# reads to the end; the replies in $scratch/out, the client's own port in
# $scratch/client-port. perl-base has IO::Socket::IP, IPv6 included.
client() {
	perl -MIO::Socket::IP -e '
		my ($host, $port, $in, $out, $portfile) = @ARGV;
		$SIG{ALRM} = sub { die "no end of session in 30 s\n" };
		alarm 30;
		my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port)
			or die "connect to $host port $port: $@\n";
		open(my $pf, ">", $portfile) or die "$portfile: $!\n";
		print $pf $s->sockport, "\n";
		close($pf);
		open(my $fh, "<:raw", $in) or die "$in: $!\n";
		my $data = do { local $/; <$fh> };
		binmode($s);
		print $s $data;
		shutdown($s, 1);
		open(my $o, ">:raw", $out) or die "$out: $!\n";
		my $buf;
		print $o $buf while sysread($s, $buf, 65536);
		close($o) or die "$out: $!\n";
	' "$1" "$2" "$transcript.in" "$scratch/out" "$scratch/client-port"
}

# session NAME HOST LOGGED-ADDRESS LOG: one session through the running
# launcher; checks the replies, the log lines and the maildrop.
session() {
	local name=$1 host=$2 address=$3 log=$4 i
	if ! client "$host" "$port"; then
		fail "$name: the session over TCP"
		return
	fi
	if cmp -s "$scratch/expected" "$scratch/out"; then
		pass "$name: the session's bytes are the transcript's"
	else
		fail "$name: the session's bytes are the transcript's"
		show_difference "$scratch/expected" "$scratch/out"
	fi
	# pop2d may still be writing its last log line.
	for ((i = 0; i < 50; i++)); do
		grep -q 'session end user=alice' "$log" 2>/dev/null && break
		sleep 0.1
	done
	check "$name: logged peer=$address port $(cat "$scratch/client-port")" \
		grep -q -F "session start peer=$address port $(cat "$scratch/client-port")" "$log"
	check "$name: logged the end of the session" \
		grep -q 'session end user=alice reason=QUIT retrieved=2 deleted=0' "$log"
	check "$name: the maildrop is unchanged" cmp -s "$data/mbox/basic.mbox" "$scratch/maildrop"
	: >"$log"
}

