#!/bin/bash
# The shipped launchers, run for real on loopback: Debian's xinetd with a
# configuration made from xinetd.d/pop2 (its limits included), and
# systemd-socket-activate with systemd/pop2d.socket's Accept=yes, over
# IPv4, IPv6 and a dual-stack [::] socket. Each serves a whole session
# over TCP that is compared byte for byte with a transcript, and logs the
# client's address and port. Also: the values the launchers depend on,
# xinetd's per_source limit turning a client away, systemd-analyze verify
# on the units, and the man page's examples being the shipped files.
# xinetd needs root (the service says user = root).
set -u
. "$(dirname "$0")/lib.sh"

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

# The values the launchers and pop2d depend on.
check "xinetd: type = UNLISTED" [ "$(setting "$XINETD_SERVICE" type)" = UNLISTED ]
check "xinetd: port = 109" [ "$(setting "$XINETD_SERVICE" port)" = 109 ]
check "xinetd: socket_type = stream" [ "$(setting "$XINETD_SERVICE" socket_type)" = stream ]
check "xinetd: wait = no" [ "$(setting "$XINETD_SERVICE" wait)" = no ]
check "xinetd: user = root" [ "$(setting "$XINETD_SERVICE" user)" = root ]
check "xinetd: server is an installed pop2d" \
	[ "$(setting "$XINETD_SERVICE" server | sed 's|.*/||')" = pop2d ]
instances=$(setting "$XINETD_SERVICE" instances)
per_source=$(setting "$XINETD_SERVICE" per_source)
check "xinetd: instances, per_source and cps are set" \
	[ -n "$instances" -a -n "$per_source" -a -n "$(setting "$XINETD_SERVICE" cps)" ]
check "socket: ListenStream=109" [ "$(setting "$socket_unit" ListenStream)" = 109 ]
check "socket: Accept=yes" [ "$(setting "$socket_unit" Accept)" = yes ]
check "socket: MaxConnections is xinetd's instances" \
	[ "$(setting "$socket_unit" MaxConnections)" = "$instances" ]
check "socket: MaxConnectionsPerSource is xinetd's per_source" \
	[ "$(setting "$socket_unit" MaxConnectionsPerSource)" = "$per_source" ]
check "service: StandardInput=socket" [ "$(setting "$service_unit" StandardInput)" = socket ]
check "service: StandardOutput=socket" [ "$(setting "$service_unit" StandardOutput)" = socket ]
# no_new_privs would keep pop2-lock from being set-group-ID mail.
check "service: NoNewPrivileges is off" [ "$(setting "$service_unit" NoNewPrivileges)" = no ]
check "recover: NoNewPrivileges is off" [ "$(setting "$recover_unit" NoNewPrivileges)" = no ]
check "recover: runs pop2d --recover-all once" \
	[ "$(setting "$recover_unit" Type)" = oneshot -a \
	"$(setting "$recover_unit" ExecStart | sed 's|.*/||')" = "pop2d --recover-all" ]
check "recover: ordered before pop2d.socket" \
	grep -q -E '^Before=(.* )?pop2d\.socket( |$)' "$recover_unit"

# The man page shows the shipped files as a --prefix=/usr build installs
# them: the literal blocks of EXAMPLES, in order.
man_example() {
	awk -v n="$1" '
		/^\.Sh EXAMPLES/ { on = 1; next }
		/^\.Sh / { on = 0 }
		on && /^\.Bd -literal/ { block++; inside = 1; next }
		inside && /^\.Ed/ { inside = 0; next }
		inside && block == n { print }
	' "$top_srcdir/doc/pop2d.8" | sed 's/\\e/\\/g'
}
as_installed() {
	sed '/^[[:space:]]*#/!s|[^ =]*/sbin/pop2d|/usr/sbin/pop2d|' "$1"
}
n=0
for file in "$XINETD_SERVICE" "$socket_unit" "$service_unit" "$recover_unit"; do
	n=$((n + 1))
	check "pop2d(8) EXAMPLES shows $(basename "$file") as shipped" \
		cmp -s <(man_example "$n") <(as_installed "$file")
done

# systemd's own reading of the units, with ExecStart= at the built pop2d.
if command -v systemd-analyze >/dev/null; then
	mkdir "$scratch/units"
	for file in "$socket_unit" "$service_unit" "$recover_unit"; do
		sed "s|^ExecStart=[^ ]*/pop2d|ExecStart=$POP2D|" "$file" \
			>"$scratch/units/$(basename "$file")"
	done
	check "systemd-analyze verify accepts the units" \
		systemd-analyze verify --man=no "$scratch"/units/* 2>"$scratch/verify.err"
	[ -s "$scratch/verify.err" ] && cat "$scratch/verify.err"
else
	echo "SKIP: systemd-analyze is not installed (Debian: systemd): units not verified"
fi

# The session every launcher serves: test/session/retrieve-all on basic.mbox.
transcript=$top_srcdir/test/session/retrieve-all
sed "s/@VERSION@/$VERSION/" "$transcript.out" >"$scratch/expected"
cp "$data/mbox/basic.mbox" "$scratch/maildrop"
mkdir "$scratch/home"
pop2d_args=(-n pop2.test -p "$data/passwd" -S "$state" -m "$scratch/maildrop" -F "$scratch/home" -d)

# listening PORT: whether a TCP socket listens on PORT, IPv4 or IPv6.
listening() {
	grep -q -E "^ *[0-9]+: [0-9A-F]+:$(printf %04X "$1") [0-9A-F]+:[0-9A-F]+ 0A " \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# launch NAME COMMAND...: starts COMMAND, in which @PORT@ stands for a
# free port, in the background; tries other ports while the chosen one
# turns out to be taken. Sets $port and $launcher (the pid).
launch() {
	local name=$1 attempt i
	shift
	for ((attempt = 0; attempt < 10; attempt++)); do
		port=$((20000 + RANDOM % 40000))
		listening "$port" && continue
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

ipv6=yes
if ! grep -q -E '^0+1 ' /proc/net/if_inet6 2>/dev/null; then
	ipv6=no
	echo "SKIP: the loopback interface has no ::1: IPv6 sessions not tried"
fi

# systemd-socket-activate with the socket unit's Accept=yes: --accept
# --inetd runs one pop2d per connection on the connection's socket, as
# StandardInput=socket and StandardOutput=socket do; the -d log copy goes
# to its standard error, as StandardError=journal sends it to the journal.
if command -v systemd-socket-activate >/dev/null; then
	sa_log=$scratch/socket-activate.log
	for kind in v4 v6 dual; do
		case $kind in
		v4) bind=127.0.0.1 host=127.0.0.1 address=127.0.0.1 what=IPv4 ;;
		v6) bind='[::1]' host=::1 address=::1 what=IPv6 ;;
		dual) bind='[::]' host=127.0.0.1 address=127.0.0.1 what="IPv4 client of a dual-stack socket" ;;
		esac
		[ "$ipv6" = no ] && [ "$bind" != 127.0.0.1 ] && continue
		# shellcheck disable=SC2016 # expanded by the inner shell
		if ! launch socket-activate sh -c 'exec "$@" 2>>"$0"' "$sa_log" \
			systemd-socket-activate --accept --inetd -l "$bind:@PORT@" -- "$POP2D" "${pop2d_args[@]}"; then
			fail "systemd-socket-activate ($what): listening on $bind"
			continue
		fi
		session "systemd-socket-activate ($what)" "$host" "$address" "$sa_log"
		stop_launcher
	done
else
	echo "SKIP: systemd-socket-activate is not installed (Debian: systemd)"
fi

# xinetd in the foreground with the shipped service, but on a free port
# of 127.0.0.1, logging to a file, and its server a wrapper that sends
# pop2d's standard error (the -d log copy) to a file instead of to the
# connection. Every other line, the limits included, is the shipped one.
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: xinetd: the service's user = root needs root"
elif ! command -v xinetd >/dev/null; then
	echo "SKIP: xinetd is not installed (Debian: xinetd)"
else
	x_log=$scratch/xinetd-pop2d.log
	printf '#!/bin/sh\nexec "%s" "$@" 2>>"%s"\n' "$POP2D" "$x_log" >"$scratch/pop2d-wrapper"
	chmod 755 "$scratch/pop2d-wrapper"
	# launch fills in the port: the configuration is written by a shell
	# that xinetd then replaces.
	export XINETD_SERVICE scratch
	pop2d_args_text="${pop2d_args[*]}"
	export pop2d_args_text
	# shellcheck disable=SC2016 # expanded by the inner shell
	if launch xinetd bash -c '
		port=$1
		printf "defaults\n{\n\tlog_type\t= FILE %s\n}\n" "$scratch/xinetd.log" >"$scratch/xinetd.conf"
		sed -E \
			-e "s|^([[:space:]]*port[[:space:]]*=).*|\\1 $port\\n\\tbind\\t\\t= 127.0.0.1|" \
			-e "s|^([[:space:]]*server[[:space:]]*=).*|\\1 $scratch/pop2d-wrapper\\n\\tserver_args\\t= $pop2d_args_text|" \
			-e "/^[[:space:]]*server_args[[:space:]]*=/d" \
			"$XINETD_SERVICE" >>"$scratch/xinetd.conf"
		exec xinetd -dontfork -f "$scratch/xinetd.conf" -pidfile "$scratch/xinetd.pid"
	' xinetd @PORT@; then
		session "xinetd (IPv4)" 127.0.0.1 127.0.0.1 "$x_log"
		check "xinetd: the configuration kept the shipped limits" \
			[ "$(setting "$scratch/xinetd.conf" per_source)" = "$per_source" -a \
			"$(setting "$scratch/xinetd.conf" instances)" = "$instances" -a \
			"$(setting "$scratch/xinetd.conf" cps)" = "$(setting "$XINETD_SERVICE" cps)" ]
		check "xinetd: logged the session's exit status 0" \
			grep -q -E 'EXIT: pop2 status=0 ' "$scratch/xinetd.log"

		# per_source sessions at once are served; one more is turned away.
		fds=()
		greeted=0
		for ((i = 0; i < per_source; i++)); do
			exec {fd}<>"/dev/tcp/127.0.0.1/$port"
			fds+=("$fd")
			IFS= read -r -t 10 line <&"$fd" && [ "${line%$'\r'}" = "+ POP2 pop2.test pop2d $VERSION server ready" ] &&
				greeted=$((greeted + 1))
		done
		check "xinetd: $per_source sessions at once from one address are served" \
			[ "$greeted" -eq "$per_source" ]
		exec {fd}<>"/dev/tcp/127.0.0.1/$port"
		IFS= read -r -t 10 line <&"$fd"
		status=$?
		exec {fd}<&-
		check "xinetd: session $((per_source + 1)) from the same address is closed unanswered" \
			[ "$status" -eq 1 -a -z "$line" ]
		for fd in "${fds[@]}"; do exec {fd}<&-; done
		for ((i = 0; i < 50; i++)); do
			grep -q 'per_source_limit' "$scratch/xinetd.log" && break
			sleep 0.1
		done
		check "xinetd: logged the refusal" grep -q 'FAIL: pop2 per_source_limit from=127.0.0.1' \
			"$scratch/xinetd.log"
		# The sessions that were held open end at their EOF.
		for ((i = 0; i < 50; i++)); do
			[ "$(grep -c 'reason=EOF' "$x_log")" -ge "$per_source" ] && break
			sleep 0.1
		done
		stop_launcher
	else
		fail "xinetd: listening on 127.0.0.1"
	fi
fi

finish
