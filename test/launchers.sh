#!/bin/bash
# The shipped launchers: the values they and pop2d depend on, the man
# page's examples being the shipped files, systemd-analyze verify on the
# units, and systemd-socket-activate with systemd/pop2d.socket's Accept=yes
# run for real on loopback over IPv4, IPv6 and a dual-stack [::] socket,
# each serving a whole session over TCP that is compared byte for byte
# with a transcript and logging the client's address and port. xinetd is
# test/xinetd.sh.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/launch.sh"

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
check "socket: no trigger limit (a flood cannot leave it failed)" \
	[ "$(setting "$socket_unit" TriggerLimitIntervalSec)" = 0 ]
check "xinetd: cps pauses and resumes the service instead" \
	[ "$(setting "$XINETD_SERVICE" cps | wc -w)" = 2 ]
check "xinetd: refusals are logged (log_type, log_on_failure HOST)" \
	[ -n "$(setting "$XINETD_SERVICE" log_type)" ] &&
	setting "$XINETD_SERVICE" log_on_failure | grep -q -w HOST
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
	skip "systemd-analyze is not installed (Debian: systemd): units not verified"
fi

ipv6=yes
if ! grep -q -E '^0+1 ' /proc/net/if_inet6 2>/dev/null; then
	ipv6=no
	skip "the loopback interface has no ::1: IPv6 sessions not tried"
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
	skip "systemd-socket-activate is not installed (Debian: systemd)"
fi

finish
