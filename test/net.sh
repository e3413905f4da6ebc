# shellcheck shell=bash disable=SC2154
# Sourced after lib.sh by the tests that run pop2d behind a real launcher
# and talk to it over loopback TCP: free ports, background programs, and a
# client that can choose its source address and speak TLS. test/launch.sh
# takes listening and free_port from here.

# listening PORT: whether a TCP socket listens on PORT, IPv4 or IPv6.
listening() {
	grep -q -E "^ *[0-9]+: [0-9A-F]+:$(printf %04X "$1") [0-9A-F]+:[0-9A-F]+ 0A " \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# free_port: prints a port that nothing listens on now.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		listening "$p" || break
	done
	echo "$p"
}

# start NAME PORT... -- COMMAND...: starts COMMAND in the background
# (output in $scratch/NAME.out) and waits until every PORT listens. Sets
# $started to its pid. Fails, showing the output, if it exits first or
# the ports do not all listen within 10 s.
start() {
	local name=$1 ports=() p i up
	shift
	while [ "$1" != -- ]; do
		ports+=("$1")
		shift
	done
	shift
	"$@" >"$scratch/$name.out" 2>&1 &
	started=$!
	for ((i = 0; i < 1000; i++)); do
		kill -0 "$started" 2>/dev/null || break
		up=yes
		for p in "${ports[@]}"; do
			listening "$p" || up=no
		done
		[ "$up" = yes ] && return 0
		sleep 0.01
	done
	echo "$name did not start:"
	cat "$scratch/$name.out"
	kill "$started" 2>/dev/null
	wait "$started" 2>/dev/null
	return 1
}

# retry COMMAND...: runs COMMAND up to 5 times until it succeeds: a port
# that free_port found free may be taken by another test before it is
# bound.
retry() {
	local i
	for ((i = 0; i < 5; i++)); do
		"$@" && return 0
	done
	return 1
}

# stop PID: ends a program that start() started, and waits for it.
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# pop2_client [-tls CAFILE] [-half] SOURCE HOST PORT INPUT OUTPUT: connects
# from the local address SOURCE (TLS checked against CAFILE, name
# localhost), sends the octets of INPUT at once, half-closes the
# connection with -half, and writes what it receives until the end to
# OUTPUT; the client's own port goes to OUTPUT.port. Gives up after
# 60 s (pop2d's own timeouts are all shorter in these tests).
pop2_client() {
	local ca=
	local half=0
	while :; do
		case $1 in
		-tls) ca=$2; shift 2 ;;
		-half) half=1; shift ;;
		*) break ;;
		esac
	done
	perl -MIO::Socket::IP -e '
		my ($ca, $half, $src, $host, $port, $in, $out) = @ARGV;
		$SIG{ALRM} = sub { die "no end of session in 60 s\n" };
		alarm 60;
		my $s = IO::Socket::IP->new(LocalHost => $src, PeerHost => $host,
			PeerPort => $port) or die "connect to $host port $port: $@\n";
		open(my $pf, ">", "$out.port") or die "$out.port: $!\n";
		print $pf $s->sockport, "\n";
		close($pf);
		if ($ca ne "") {
			require IO::Socket::SSL;
			IO::Socket::SSL->start_SSL($s, SSL_ca_file => $ca,
				SSL_verifycn_name => "localhost", SSL_verifycn_scheme => "default",
				SSL_hostname => "localhost")
				or die "TLS: $IO::Socket::SSL::SSL_ERROR\n";
		}
		open(my $fh, "<:raw", $in) or die "$in: $!\n";
		my $data = do { local $/; <$fh> };
		binmode($s);
		my $off = 0;
		while ($off < length($data)) {
			my $n = syswrite($s, $data, length($data) - $off, $off);
			die "write: $!\n" unless defined $n;
			$off += $n;
		}
		shutdown($s, 1) if $half;
		open(my $o, ">:raw", $out) or die "$out: $!\n";
		my $buf;
		print $o $buf while sysread($s, $buf, 65536);
		close($o) or die "$out: $!\n";
	' "$ca" "$half" "$@"
}

# wait_log FILE PATTERN: waits up to 30 s for a line matching the
# extended regular expression PATTERN in FILE (a log being written).
wait_log() {
	local i
	for ((i = 0; i < 3000; i++)); do
		grep -q -E -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.01
	done
	return 1
}
