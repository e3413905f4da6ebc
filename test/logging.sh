#!/bin/bash
# What reaches the log (-d's copy on standard error): a client's strings
# only escaped, so that no control character reaches a terminal and no
# field can be forged for a log filter; and the passwd-file's malformed
# lines once per change of the file, not at every login.
set -u
. "$(dirname "$0")/lib.sh"

maildrop=$scratch/maildrop
cp "$data/mbox/bookkeeping.mbox" "$maildrop"

# session PASSWD-FILE LINES...: one session with -d; the log in $scratch/err.
session() {
	local passwd=$1
	shift
	printf '%s\r\n' "$@" |
		POP2_LOGIN_DELAY_MS=0 "$POP2D" -d -S "$state" -p "$passwd" -n t -m "$maildrop" \
			>"$scratch/out" 2>"$scratch/err"
}

# no_control FILE: no octet below 0x20 but the line ends, no DEL, nothing
# above 0x7e.
no_control() {
	! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f\x80-\xff]' "$1"
}

# ------------------------------------------------------- client strings

# A user name that forges " peer=10.9.8.7" with a TAB, then clears the
# terminal line (ESC [2K), rings (BEL), returns (CR), and carries a
# backslash, a DEL and UTF-8.
session "$data/passwd" $'HELO x\tpeer=10.9.8.7\e[2K\a\r\x7f\xc3\xa9\\ secret'
check "forged user name: - Bad login" [ "$(sed -n 2p "$scratch/out" | tr -d '\r')" = "- Bad login" ]
check "forged user name: no control octet in the log" no_control "$scratch/err"
check "forged user name: no forged peer field" \
	bash -c "! grep -Eq '[[:space:]]peer=10\\.9\\.8\\.7' '$scratch/err'"
check "forged user name: logged escaped, the real peer after it" \
	grep -qF 'login failed user=x\x09peer=10.9.8.7\x1b[2K\x07\x0d\x7f\xc3\xa9\x5c peer=local reason=unknown user' \
	"$scratch/err"

# A folder name, refused for its control character, logged escaped.
session "$data/passwd" "HELO alice wonderland" $'FOLD a\tpeer=10.9.8.7 b' QUIT
check "forged folder name: #0" [ "$(sed -n 3p "$scratch/out" | tr -d '\r')" = "#0 messages in a?peer=10.9.8.7 b" ]
check "forged folder name: no control octet in the log" no_control "$scratch/err"
check "forged folder name: logged escaped" \
	grep -qF 'user=alice folder=a\x09peer=10.9.8.7\x20b refused or unreadable' "$scratch/err"

# A very long name is cut, and says so.
long=$(printf 'y%.0s' {1..600})
session "$data/passwd" "HELO $long secret"
check "a long user name is logged cut short" grep -qE 'login failed user=y{200,}\.\.\. peer=local' "$scratch/err"

# ------------------------------------- malformed passwd-file lines, once

# A state directory of their own, where only this file's versions are
# remembered.
state=$scratch/state2
mkdir "$state"
passwd=$scratch/passwd
{
	printf 'broken line one\n'
	cat "$data/passwd"
} >"$passwd"
reported() {
	grep -c "passwd-file .*line [0-9]*: " "$scratch/err"
}
session "$passwd" "HELO alice wonderland" QUIT
first=$(reported)
check "the first session after a change logs every malformed line ($first)" \
	[ "$first" -gt 0 -a "$first" -eq "$(mkdir -m 755 "$scratch/fresh" &&
		POP2_LOGIN_DELAY_MS=0 "$POP2D" -d -S "$scratch/fresh" -p "$passwd" -n t </dev/null 2>&1 >/dev/null |
		grep -c 'passwd-file .* line')" ]
check "the malformed line at the top is among them" grep -q "passwd-file $passwd line 1: missing hash field" "$scratch/err"
session "$passwd" "HELO alice wonderland" QUIT
check "the next session does not log them again" [ "$(reported)" -eq 0 ]
session "$passwd" "HELO nosuchuser secret"
check "nor does a lookup that reads the whole file" [ "$(reported)" -eq 0 ]
check "the version seen is remembered in the state directory" \
	[ "$(find "$state" -maxdepth 1 -name '.passwd-seen:*' | wc -l)" -eq 1 ]
printf 'broken line two\n' >>"$passwd"
session "$passwd" "HELO alice wonderland" QUIT
check "a change of the file logs them again ($(reported))" [ "$(reported)" -eq $((first + 1)) ]
check "the change's new line is logged" grep -q "passwd-file $passwd line .*: missing hash field" "$scratch/err"
session "$passwd" "HELO alice wonderland" QUIT
check "and then not again" [ "$(reported)" -eq 0 ]
check "only the current version is remembered" \
	[ "$(find "$state" -maxdepth 1 -name '.passwd-seen:*' | wc -l)" -eq 1 ]
# Where nothing can be remembered (a state directory pop2d may not
# write), every session logs them.
if [ "$(id -u)" -ne 0 ]; then
	mkdir -m 555 "$scratch/state-ro"
	for i in 1 2; do
		printf 'HELO alice wonderland\r\nQUIT\r\n' |
			POP2_LOGIN_DELAY_MS=0 "$POP2D" -d -S "$scratch/state-ro" -p "$passwd" -n t -m "$maildrop" \
				>/dev/null 2>"$scratch/err"
		check "a state directory it may not write: session $i logs them" [ "$(reported)" -eq $((first + 1)) ]
	done
else
	echo "SKIP: a state directory pop2d may not write (root writes any)"
fi

finish
