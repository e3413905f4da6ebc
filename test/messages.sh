#!/bin/bash
# Large messages through the built pop2d: a 5 MB message is sent with
# exactly the octets READ announced, converted to CRLF, and pop2d's memory
# does not grow with the message.
set -u
. "$(dirname "$0")/lib.sh"

passwd=$data/passwd
body=$scratch/body
mbox=$scratch/maildrop
# 5 MB of varied lines, with long lines and a "From " line mid-body.
awk 'BEGIN {
	for (i = 0; i < 90000; i++) {
		if (i % 1000 == 999) print "From the middle of line " i;
		else if (i % 777 == 0) { s = ""; for (j = 0; j < 300; j++) s = s "long" j; print s }
		else printf "line %06d the quick brown fox jumps over the lazy dog\n", i
	}
}' >"$body"
{
	printf 'From big@example.org Mon Nov 16 09:12:44 2026\nSubject: big\nStatus: RO\n\n'
	cat "$body"
	printf '\nFrom small@example.org Mon Nov 16 09:13:00 2026\nSubject: small\n\nsmall\n\n'
} >"$mbox"
octets=$(wc -c <"$body")
check "the message is larger than 5 MB" [ "$octets" -gt 5000000 ]

# What RETR must send, built with other tools than pop2d's.
{ printf 'Subject: big\r\n\r\n'; sed 's/$/\r/' "$body"; } >"$scratch/want"
size=$(wc -c <"$scratch/want")

printf 'HELO alice wonderland\r\nREAD 1\r\nRETR\r\nACKS\r\nQUIT\r\n' |
	/usr/bin/time -f '%M' -o "$scratch/rss" \
	"$POP2D" -S "$state" -n t -p "$passwd" -m "$mbox" >"$scratch/out"
{
	printf '+ POP2 t pop2d %s server ready\r\n#2 messages in INBOX\r\n=%s characters in message 1\r\n' "$VERSION" "$size"
	cat "$scratch/want"
	small=$'Subject: small\r\n\r\nsmall\r\n'
	printf '=%s characters in message 2\r\n+ OK Sayonara\r\n' "${#small}"
} >"$scratch/expected"
check "5 MB message: the exact announced octets, CRLF, nothing else" cmp -s "$scratch/expected" "$scratch/out"

# Sanitizer builds carry shadow memory: their RSS says nothing about pop2d.
if [ "${SANITIZERS:-no}" = no ]; then
	rss=$(cat "$scratch/rss")
	check "5 MB message streamed with bounded memory (max RSS ${rss} KiB < 8 MiB)" \
		test "$rss" -gt 0 -a "$rss" -lt 8192
fi

finish
