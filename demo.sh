#!/bin/bash
# Runs one scripted POP2 session against the sample maildrop in demo/ and
# shows both sides of it: HELO, READ, RETR, ACKS, QUIT.
# Usage: demo.sh PATH-TO-POP2D SOURCE-FOLDER
set -eu
pop2d=$1
src=$2
# Not beneath /tmp: pop2d refuses a state directory that others could swap.
. "$src/test/safedir.sh"
work=$(mktemp -d "$(safe_base "$PWD")/pop2d-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$src/demo/maildrop" "$work/maildrop"
mkdir -m 755 "$work/state"

coproc POP2 { exec "$pop2d" -n demo.example -p "$src/demo/passwd" \
	-S "$work/state" -m "$work/maildrop" -F "$work"; }
# Subshells do not inherit coproc descriptors: keep copies on 3 and 4.
exec 3<&"${POP2[0]}" 4>&"${POP2[1]}"

send() {
	echo "C: $1"
	printf '%s\r\n' "$1" >&4
}

reply() {
	local line
	IFS= read -r line <&3
	line=${line%$'\r'}
	echo "S: $line"
	last=$line
}

reply
send "HELO demo demo-password"
reply
send "READ 1"
reply
size=${last#=}
size=${size%% *}
send "RETR"
echo "S: ($size octets follow, CRLF line ends)"
head -c "$size" <&3 | tr -d '\r' | sed 's/^/S: | /'
send "ACKS"
reply
send "QUIT"
reply
exec 3<&- 4>&-
wait 2>/dev/null || true
if cmp -s "$src/demo/maildrop" "$work/maildrop"; then
	echo "(the maildrop is unchanged: nothing was deleted)"
fi
[ "$last" = "+ OK Sayonara" ]
