#!/bin/bash
# -H and the PROXY protocol, over loopback TCP with pop2d started per
# connection by systemd-socket-activate (as systemd/pop2d.socket's
# Accept=yes does) with -H 127.0.0.1. A client on 127.0.0.1 plays the
# proxy: its v1 and v2 headers name the client in every log line and the
# session behind them runs to the end; LOCAL and UNKNOWN keep its own
# address. A missing, malformed, oversized, truncated, slow or silent
# header ends the connection without a greeting (the slow ones at -T) and
# is logged. A client on 127.0.0.5, not listed, is never believed: its
# header is a bad command. A bad -H is a configuration error.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net.sh"

if ! command -v systemd-socket-activate >/dev/null; then
	skip_all "systemd-socket-activate is not installed (Debian: systemd)"
fi

transcript=$top_srcdir/test/session/retrieve-all
expected=$scratch/expected
sed "s/@VERSION@/$VERSION/" "$transcript.out" >"$expected"
# What the clients send, made here for the groups of cases below.
inputs=$scratch/inputs
mkdir "$inputs"

# setup: a maildrop, a folder directory, a state directory ($state) and
# pop2d's options for them, in $scratch; pop2d's log is $log.
setup() {
	cp "$data/mbox/basic.mbox" "$scratch/maildrop"
	mkdir -p "$scratch/home"
	pop2d_args=(-n pop2.test -p "$data/passwd" -S "$state" -m "$scratch/maildrop"
		-F "$scratch/home" -d -H 127.0.0.1)
	log=$scratch/pop2d.log
}
setup

# backend NAME BIND POP2D-ARGS...: pop2d behind systemd-socket-activate
# on BIND:a free port, its -d log appended to $log. Sets $port and
# $started (the launcher's pid).
backend_once() {
	local name=$1 bind=$2
	shift 2
	port=$(free_port)
	# shellcheck disable=SC2016 # expanded by the inner shell
	start "$name" "$port" -- sh -c 'exec "$@" 2>>"$0"' "$log" \
		systemd-socket-activate --accept --inetd -l "$bind:$port" -- \
		"$POP2D" "${pop2d_args[@]}" "$@"
}
backend() {
	retry backend_once "$@" || exit 1
}
# Backends with -T 1, for the headers that never end: two, each with a
# log of its own, so that both cases wait out their -T side by side.
log=$scratch/slow.log backend slow 127.0.0.1 -T 1
slow_port=$port slow_pid=$started
log=$scratch/silent.log backend silent 127.0.0.1 -T 1
silent_port=$port silent_pid=$started
trap 'stop "$slow_pid"; stop "$silent_pid"; rm -rf "$scratch"' EXIT

# group FUNCTION [BIND POP2D-ARGS...]: in a case spawned (lib.sh) with a
# scratch folder of its own, FUNCTION's cases against a backend of their
# own on BIND (127.0.0.1 unless given), which sets $main_port. The groups
# run side by side, each session of a group after the other, since they
# judge the one log of their backend.
group() {
	local run=$1 bind=${2:-127.0.0.1}
	shift
	[ "$#" -gt 0 ] && shift
	setup
	backend main "$bind" "$@"
	main_port=$port main_pid=$started
	trap 'stop "$main_pid"' EXIT
	"$run"
}

v2sig='\r\n\r\n\0\r\nQUIT\n'

# header NAME FORMAT...: writes printf FORMAT to $inputs/NAME.hdr and the
# header followed by the transcript's input to $inputs/NAME.in.
header() {
	local name=$1
	shift
	# shellcheck disable=SC2059 # the format is the argument
	printf "$@" >"$inputs/$name.hdr"
	cat "$inputs/$name.hdr" "$transcript.in" >"$inputs/$name.in"
}

# ended: waits for the session's last log line; a failure if it never comes.
ended() {
	wait_log "$log" 'session end ' || fail "$1: pop2d logged no end of the session"
}

# believed NAME PEER HEADER: a session through the header of NAME, from
# $via (127.0.0.1 unless set), runs to the end, and the log names PEER
# ("ADDR port N", or "proxy" for the proxy's own address and port) and
# the HEADER kind.
believed() {
	local name=$1 peer=$2 kind=$3 via=${via:-127.0.0.1} cport
	: >"$log"
	cp "$data/mbox/basic.mbox" "$scratch/maildrop"
	if ! pop2_client -half "$via" "$via" "$main_port" "$inputs/$name.in" "$scratch/out"; then
		fail "$name: the session over TCP"
		return
	fi
	ended "$name"
	cport=$(cat "$scratch/out.port")
	[ "$peer" = proxy ] && peer="$via port $cport"
	if cmp -s "$expected" "$scratch/out"; then
		pass "$name: the whole session follows the header"
	else
		fail "$name: the whole session follows the header"
		show_difference "$expected" "$scratch/out"
	fi
	check "$name: logged session start peer=$peer proxy=$via port $cport header=$kind" \
		grep -q -x -F "$(grep -o '^pop2d\[[0-9]*\]: ' "$log" | head -n 1)session start peer=$peer proxy=$via port $cport header=$kind" "$log"
	check "$name: logged the login with peer=$peer" \
		grep -q -F "login user=alice peer=$peer messages=" "$log"
	check "$name: logged the end of the session" \
		grep -q 'session end user=alice reason=QUIT retrieved=2 deleted=0' "$log"
}

# refused NAME REASON [CLIENT-OPTION] [PORT]: the octets of $scratch/NAME.in
# from 127.0.0.1 get no octet back; the log says why.
refused() {
	local name=$1 reason=$2 opt=${3:-} port=${4:-$main_port} cport
	: >"$log"
	if ! pop2_client ${opt:+"$opt"} 127.0.0.1 127.0.0.1 "$port" "$inputs/$name.in" "$scratch/out"; then
		fail "$name: the connection ends"
		return
	fi
	ended "$name"
	cport=$(cat "$scratch/out.port")
	check "$name: no greeting, not one octet" [ ! -s "$scratch/out" ]
	check "$name: logged PROXY header refused ... reason=$reason" \
		grep -q -F "PROXY header refused peer=127.0.0.1 port $cport reason=$reason" "$log"
	check "$name: logged the end of the session" grep -q -E 'session end user=- reason=' "$log"
}

# never_ends NAME REASON PORT LOG OCTETS: the connection held open after
# OCTETS, the start of a header or nothing, to the backend on PORT, which
# logs to LOG: closed at -T, and refused for REASON. Started first, so
# that the others run while these wait.
never_ends() {
	log=$4
	printf '%s' "$5" >"$inputs/$1.in"
	refused "$1" "$2" "" "$3"
}
spawn slow never_ends slow "timeout inside the PROXY header" "$slow_port" \
	"$scratch/slow.log" 'PROXY TCP4 192.0.2.7 198.51'
spawn silent never_ends silent "timeout before the PROXY header" "$silent_port" \
	"$scratch/silent.log" ''

# The headers.
header v1-tcp4 'PROXY TCP4 192.0.2.7 198.51.100.1 4321 109\r\n'
header v1-tcp6 'PROXY TCP6 2001:db8::7 ::1 65535 109\r\n'
header v1-unknown 'PROXY UNKNOWN\r\n'
header v1-unknown-long 'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n'
header v2-tcp4 "$v2sig"'\x21\x11\x00\x0c\xc0\x00\x02\x07\xc6\x33\x64\x01\x10\xe1\x00\x6d'
header v2-tcp6 "$v2sig"'\x21\x21\x00\x24\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x00\x00\x6d'
# An IPv4-mapped source is named as the IPv4 address it is.
header v2-tcp6-mapped "$v2sig"'\x21\x21\x00\x24\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x08\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x30\x39\x00\x6d'
# TLVs (NOOP, SSL, and a custom one of 2000 octets) are skipped.
tlvs='\x04\x00\x00\x20\x00\x05\x01\x00\x00\x00\x00\xe0\x07\xd0'
header v2-tlvs "$v2sig"'\x21\x11\x07\xea\xcb\x00\x71\x09\x7f\x00\x00\x01\x00\x01\x00\x6d'"$tlvs"'%2000s' ''
header v2-local "$v2sig"'\x20\x00\x00\x00'
header v2-unix "$v2sig"'\x21\x31\x00\xd8%216s' ''
cp "$transcript.in" "$inputs/missing.in"
header v1-leading-zero 'PROXY TCP4 192.0.2.07 198.51.100.1 4321 109\r\n'
header v1-lf 'PROXY TCP4 192.0.2.7 198.51.100.1 4321 109\n'
header v1-oversized 'PROXY UNKNOWN %100s\r\n' ''
header v2-short "$v2sig"'\x21\x11\x00\x0b\xc0\x00\x02\x07\xc6\x33\x64\x01\x10\xe1\x00'
header v2-tlv-past "$v2sig"'\x21\x11\x00\x10\xc0\x00\x02\x07\xc6\x33\x64\x01\x10\xe1\x00\x6d\x04\x00\x02\x00'
header v2-command "$v2sig"'\x22\x11\x00\x0c'
printf 'PROXY TCP4 192.0.2.7 198.51' >"$inputs/v1-truncated.in"
# shellcheck disable=SC2059 # the signature is a format
printf "$v2sig"'\x21\x11\x00\x0c\xc0\x00' >"$inputs/v2-truncated.in"
: >"$inputs/empty.in"
cp "$inputs/v1-tcp4.in" "$inputs/dual-stack-v1-tcp4.in"
cp "$inputs/v2-tcp4.in" "$inputs/ipv6-proxy-v2-tcp4.in"
cp "$inputs/v2-local.in" "$inputs/ipv6-proxy-v2-local.in"

# From a peer that is not listed, a header is the client's first command.
untrusted() {
	local name=$1 cport
	: >"$log"
	cp "$data/mbox/basic.mbox" "$scratch/maildrop"
	if ! pop2_client -half 127.0.0.5 127.0.0.1 "$main_port" "$inputs/$name.in" "$scratch/out"; then
		fail "untrusted $name: the connection"
		return
	fi
	ended "untrusted $name"
	cport=$(cat "$scratch/out.port")
	printf '+ POP2 pop2.test pop2d %s server ready\r\n- Bogus or out of sequence command\r\n' \
		"$VERSION" >"$scratch/bogus"
	if cmp -s "$scratch/bogus" "$scratch/out"; then
		pass "untrusted $name: greeted, then the header is a bogus command"
	else
		fail "untrusted $name: greeted, then the header is a bogus command"
		show_difference "$scratch/bogus" "$scratch/out"
	fi
	check "untrusted $name: logged its own address" \
		grep -q -F "session start peer=127.0.0.5 port $cport" "$log"
	# shellcheck disable=SC2016 # expanded by the inner shell
	check "untrusted $name: the forged address is nowhere in the log" \
		bash -c '! grep -q -E "192\.0\.2\.7|c000:207|proxy=" "$0"' "$log"
	# shellcheck disable=SC2016 # expanded by the inner shell
	check "untrusted $name: no login" bash -c '! grep -q "login " "$0"' "$log"
}
# Headers that are believed, and from a peer that is not listed.
believed_cases() {
	believed v1-tcp4 "192.0.2.7 port 4321" v1
	believed v1-tcp6 "2001:db8::7 port 65535" v1
	believed v1-unknown proxy v1-local
	believed v1-unknown-long proxy v1-local
	believed v2-tcp4 "192.0.2.7 port 4321" v2
	believed v2-tcp6 "2001:db8::7 port 0" v2
	believed v2-tcp6-mapped "192.0.2.8 port 12345" v2
	believed v2-tlvs "203.0.113.9 port 1" v2
	believed v2-local proxy v2-local
	believed v2-unix proxy v2-local
	untrusted v1-tcp4
	untrusted v2-tcp4
}

# Headers that are refused.
refused_cases() {
	refused missing "not a PROXY header"
	refused v1-leading-zero "v1 TCP4 address is not a canonical IPv4 address"
	refused v1-lf "v1 line ends in LF without CR"
	refused v1-oversized "v1 line longer than 107 octets"
	refused v2-short "v2 length shorter than its address block"
	refused v2-tlv-past "v2 TLV runs past the header's length"
	refused v2-command "v2 command is neither LOCAL nor PROXY"
	refused v1-truncated "EOF inside the PROXY header" -half
	refused v2-truncated "EOF inside the PROXY header" -half
	refused empty "EOF before the PROXY header" -half
}

# A dual-stack socket sees 127.0.0.1 as ::ffff:127.0.0.1: still listed.
dual_stack_cases() {
	believed dual-stack-v1-tcp4 "192.0.2.7 port 4321" v1
}
# An IPv6 proxy, listed among other networks.
ipv6_proxy_cases() {
	via=::1 believed ipv6-proxy-v2-tcp4 "192.0.2.7 port 4321" v2
	via=::1 believed ipv6-proxy-v2-local proxy v2-local
}

spawn believed group believed_cases
spawn refused group refused_cases
ipv6=no
if grep -q -E '^0+1 ' /proc/net/if_inet6 2>/dev/null; then
	ipv6=yes
	spawn dual-stack group dual_stack_cases '[::]'
	spawn ipv6-proxy group ipv6_proxy_cases '[::1]' -H 10.0.0.0/8,::1,2001:db8::/32
fi
collect believed
collect refused
# Headers that never end (started above).
collect slow
collect silent
if [ "$ipv6" = yes ]; then
	collect dual-stack
	collect ipv6-proxy
else
	skip "the loopback interface has no ::1: the IPv6 and dual-stack cases not tried"
fi

# A bad -H is a configuration error: logged, the client told, exit 2.
for list in 10.0.0.1/8 '127.0.0.1, ::1' 127.0.0.1/33 '' localhost 01.2.3.4; do
	"$POP2D" -p "$data/passwd" -S "$state" -H "$list" </dev/null >"$scratch/out" 2>"$scratch/err"
	status=$?
	check "-H '$list': exit 2, \"- POP2 server unavailable\", the reason on stderr" \
		[ "$status" -eq 2 -a "$(cat -v "$scratch/out")" = '- POP2 server unavailable^M' ] &&
		grep -q -F -- "-H $list: " "$scratch/err"
done

finish
