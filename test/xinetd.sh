#!/bin/bash
# Debian's xinetd, run for real on loopback with a configuration made from
# the shipped xinetd.d/pop2 (its limits included): a whole session over TCP
# compared byte for byte with a transcript, the client's address and port
# in the log, and the per_source limit turning a client away. The service
# says user = root, so this runs as root inside the private namespaces of
# test/ns.sh, where xinetd dies with the test however it ends.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
command -v xinetd >/dev/null || skip_all "xinetd is not installed (Debian: xinetd)"
ns_enter "$@"
. "$(dirname "$0")/launch.sh"

instances=$(setting "$XINETD_SERVICE" instances)
per_source=$(setting "$XINETD_SERVICE" per_source)

# xinetd in the foreground with the shipped service, but on a free port
# of 127.0.0.1, logging to a file, and its server a wrapper that sends
# pop2d's standard error (the -d log copy) to a file instead of to the
# connection. Every other line, the limits included, is the shipped one.
{
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
			-e "/^[[:space:]]*log_type[[:space:]]*=/d" \
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
}

finish
