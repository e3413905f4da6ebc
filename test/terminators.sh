#!/bin/bash
# The proxies and TLS terminators of doc/MANY-HOSTS, run for real in
# front of pop2d -H 127.0.0.1 (started per connection by
# systemd-socket-activate, as systemd/pop2d.socket does): HAProxy in TCP
# mode with send-proxy-v2, HAProxy terminating TLS with send-proxy, and
# stunnel terminating TLS with protocol = proxy, the certificate a
# throwaway self-signed one made here. In each a client on its own
# loopback address runs a whole session (HELO, READ, RETR, ACKD, QUIT)
# and the log names that address and port. A client that sends a PROXY
# header of its own through HAProxy is not believed. The configurations
# are the ones doc/MANY-HOSTS shows, with the ports and paths of this run;
# HAProxy's health check, a LOCAL header and QUIT, keeps pop2d up.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net.sh"

for program in haproxy stunnel4 openssl systemd-socket-activate; do
	if ! command -v "$program" >/dev/null; then
		skip_all "$program is not installed (Debian: haproxy, stunnel4, openssl, systemd)"
	fi
done
if ! perl -MIO::Socket::SSL -e 1 2>/dev/null; then
	skip_all "perl's IO::Socket::SSL is missing (Debian: libio-socket-ssl-perl)"
fi

transcript=$top_srcdir/test/session/ackd-quit
sed "s/@VERSION@/$VERSION/" "$transcript.out" >"$scratch/expected"
mkdir "$scratch/home"
log=$scratch/pop2d.log

# A throwaway certificate for localhost; HAProxy wants it with its key.
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$scratch/key.pem" -out "$scratch/cert.pem" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost >"$scratch/openssl.out" 2>&1; then
	cat "$scratch/openssl.out"
	echo "FAIL: openssl could not make a self-signed certificate"
	exit 1
fi
cat "$scratch/cert.pem" "$scratch/key.pem" >"$scratch/haproxy.pem"

start_pop2d() {
	backend_port=$(free_port)
	# shellcheck disable=SC2016 # expanded by the inner shell
	start pop2d "$backend_port" -- sh -c 'exec "$@" 2>>"$0"' "$log" \
		systemd-socket-activate --accept --inetd -l "127.0.0.1:$backend_port" -- \
		"$POP2D" -n pop2.test -p "$data/passwd" -S "$state" -m "$scratch/maildrop" \
		-F "$scratch/home" -d -H 127.0.0.1
}
retry start_pop2d || exit 1
pids=("$started")
trap 'for p in "${pids[@]}"; do stop "$p"; done; rm -rf "$scratch"' EXIT

# doc_block INTRO: the configuration that doc/MANY-HOSTS shows after the
# line that ends its text with INTRO: the tab-indented lines (and blank ones) that follow it,
# less one tab.
doc_block() {
	awk -v intro="$1" '
		!on && index($0, intro) > 0 { on = 1; next }
		on && /^\t/ { sub(/^\t/, ""); print; next }
		on && /^$/ { print; next }
		on { exit }
	' "$top_srcdir/doc/MANY-HOSTS"
}

# HAProxy as doc/MANY-HOSTS shows it: TCP with send-proxy-v2 and health
# checks, and TLS with send-proxy; one pop2d host, here, on the backend
# port; checks every second.
start_haproxy() {
	haproxy_tcp=$(free_port)
	haproxy_tls=$(free_port)
	while [ "$haproxy_tls" = "$haproxy_tcp" ]; do haproxy_tls=$(free_port); done
	doc_block 'HAProxy, as balancer and terminator:' | sed \
		-e "s/bind :109\$/bind 127.0.0.1:$haproxy_tcp/" \
		-e "s|bind :1109 ssl crt .*|bind 127.0.0.1:$haproxy_tls ssl crt $scratch/haproxy.pem|" \
		-e "s/10\\.0\\.0\\.11:109/127.0.0.1:$backend_port/" \
		-e "/10\\.0\\.0\\.12/d" \
		-e "s/inter 10s/inter 1s/" >"$scratch/haproxy.cfg"
	start haproxy "$haproxy_tcp" "$haproxy_tls" -- haproxy -db -f "$scratch/haproxy.cfg"
}
retry start_haproxy || exit 1
pids+=("$started")
check "doc/MANY-HOSTS: the HAProxy configuration is there, both frontends, both backends" \
	[ "$(grep -c -E "^[[:space:]]*bind 127\.0\.0\.1:($haproxy_tcp|$haproxy_tls)( |\$)" "$scratch/haproxy.cfg")" -eq 2 -a \
	"$(grep -c "server mail1 127.0.0.1:$backend_port send-proxy" "$scratch/haproxy.cfg")" -eq 2 ]
check "haproxy -c accepts the configuration" haproxy -q -c -f "$scratch/haproxy.cfg"

# stunnel as doc/MANY-HOSTS shows it, in the foreground.
start_stunnel() {
	stunnel_port=$(free_port)
	{
		printf 'foreground = yes\npid =\n\n'
		doc_block 'stunnel, as a terminator only' | sed \
			-e "s/^accept = 1109\$/accept = 127.0.0.1:$stunnel_port/" \
			-e "s/^connect = 10\\.0\\.0\\.11:109\$/connect = 127.0.0.1:$backend_port/" \
			-e "s|^cert = .*|cert = $scratch/cert.pem|" \
			-e "s|^key = .*|key = $scratch/key.pem|"
	} >"$scratch/stunnel.conf"
	start stunnel "$stunnel_port" -- stunnel4 "$scratch/stunnel.conf"
}
retry start_stunnel || exit 1
pids+=("$started")
check "doc/MANY-HOSTS: the stunnel configuration is there, with protocol = proxy" \
	[ "$(grep -c -E "^(accept = 127\.0\.0\.1:$stunnel_port|connect = 127\.0\.0\.1:$backend_port|protocol = proxy)\$" \
	"$scratch/stunnel.conf")" -eq 3 ]

# session NAME SOURCE PORT VERSION [-tls]: the whole session from SOURCE
# through the terminator on PORT, which sends a PROXY header of VERSION;
# the replies, the maildrop and the log.
session() {
	local name=$1 source=$2 port=$3 version=$4 tls=() cport
	[ "${5:-}" = -tls ] && tls=(-tls "$scratch/cert.pem")
	: >"$log"
	cp "$data/mbox/basic.mbox" "$scratch/maildrop"
	if ! pop2_client "${tls[@]}" "$source" 127.0.0.1 "$port" "$transcript.in" "$scratch/out"; then
		fail "$name: the session from $source"
		return
	fi
	cport=$(cat "$scratch/out.port")
	if cmp -s "$scratch/expected" "$scratch/out"; then
		pass "$name: HELO, READ, RETR, ACKD, QUIT"
	else
		fail "$name: HELO, READ, RETR, ACKD, QUIT"
		show_difference "$scratch/expected" "$scratch/out"
	fi
	wait_log "$log" 'session end user=alice' || fail "$name: pop2d logged no end of the session"
	check "$name: logged session start peer=$source port $cport, through 127.0.0.1, $version" \
		grep -q -E "session start peer=$source port $cport proxy=127\\.0\\.0\\.1 port [0-9]+ header=$version\$" "$log"
	check "$name: logged the login with peer=$source port $cport" \
		grep -q -F "login user=alice peer=$source port $cport messages=2" "$log"
	check "$name: logged the end: one retrieved, one deleted" \
		grep -q 'session end user=alice reason=QUIT retrieved=1 deleted=1' "$log"
	check "$name: the message is gone from the maildrop" \
		cmp -s "$transcript.after" "$scratch/maildrop"
}

session "HAProxy TCP, send-proxy-v2" 127.0.0.21 "$haproxy_tcp" v2
session "HAProxy TLS, send-proxy" 127.0.0.22 "$haproxy_tls" v1 -tls
session "stunnel TLS, protocol = proxy" 127.0.0.23 "$stunnel_port" v1 -tls

# A client's own header behind HAProxy's is its first command.
: >"$log"
cp "$data/mbox/basic.mbox" "$scratch/maildrop"
{
	printf 'PROXY TCP4 192.0.2.66 127.0.0.1 4444 109\r\n'
	cat "$transcript.in"
} >"$scratch/forged.in"
printf '+ POP2 pop2.test pop2d %s server ready\r\n- Bogus or out of sequence command\r\n' \
	"$VERSION" >"$scratch/bogus"
if pop2_client 127.0.0.24 127.0.0.1 "$haproxy_tcp" "$scratch/forged.in" "$scratch/out"; then
	check "forged header behind HAProxy: greeted, then a bogus command" \
		cmp -s "$scratch/bogus" "$scratch/out"
	wait_log "$log" 'session end user=- reason=protocol error' ||
		fail "forged header: pop2d logged no end of the session"
	check "forged header behind HAProxy: logged the real client" \
		grep -q -F "session start peer=127.0.0.24 port $(cat "$scratch/out.port") proxy=" "$log"
	# shellcheck disable=SC2016 # expanded by the inner shell
	check "forged header behind HAProxy: the forged address is nowhere in the log" \
		bash -c '! grep -q 192.0.2.66 "$0"' "$log"
	check "forged header behind HAProxy: the maildrop is unchanged" \
		cmp -s "$data/mbox/basic.mbox" "$scratch/maildrop"
else
	fail "forged header behind HAProxy: the connection"
fi

# HAProxy's health check: a LOCAL header, the greeting, QUIT.
: >"$log"
check "HAProxy health check: a LOCAL header, logged with HAProxy's own address" \
	wait_log "$log" 'session start peer=127\.0\.0\.1 port ([0-9]+) proxy=127\.0\.0\.1 port \1 header=v2-local$'
check "HAProxy health check: greeted, then QUIT" wait_log "$log" 'session end user=- reason=QUIT '
# shellcheck disable=SC2016 # expanded by the inner shell
check "HAProxy sees pop2d up" bash -c '! grep -q -i "pop2d/mail1 is DOWN" "$0"' "$scratch/haproxy.out"

finish
