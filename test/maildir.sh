#!/bin/bash
# The Maildir promise, proven against other programs working on the same
# Maildir: deletions are committed exactly, mail delivered during a session
# is kept, a message another program renamed is still deleted, one it
# removed is no error at the commit, and deliveries (tmp/ then rename into
# new/) racing sessions and another mail program that renames and deletes
# lose nothing, and no session is served a message twice.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sessions.sh"
export LC_ALL=C

md=$scratch/Maildir
HELO='HELO alice wonderland'
seq_no=0

fresh_maildir() {
	rm -rf "$md"
	mkdir -p "$md/new" "$md/cur" "$md/tmp"
	local s
	for s in "$@"; do deliver "$s"; done
}

# text SUBJECT: the stored message; wire SUBJECT: what RETR must send.
text() {
	printf 'Status: RO\nSubject: %s\n\nbody of %s\n' "$1" "$1"
}
# wire_into VAR SUBJECT: the same into VAR, without a process of its own.
wire_into() {
	printf -v "$1" 'Subject: %s\r\n\r\nbody of %s\r\n' "$2" "$2"
}
wire() {
	local w
	wire_into w "$1"
	printf '%s' "$w"
}

# deliver SUBJECT: as a delivery agent does, written in tmp/, renamed into new/.
deliver() {
	seq_no=$((seq_no + 1))
	local name
	name=$(printf '%d.M%06dP%d.pop2.test' "$(date +%s)" "$seq_no" "$$")
	text "$1" >"$md/tmp/$name"
	mv "$md/tmp/$name" "$md/new/$name"
}

# file_of SUBJECT: the files holding SUBJECT's message, one a line.
file_of() {
	grep -l -x -F "Subject: $1" "$md"/new/* "$md"/cur/* 2>/dev/null
}

# exactly_once SUBJECT: the message is there once, byte for byte.
exactly_once() {
	local f
	f=$(file_of "$1")
	[ -n "$f" ] && [ "$(printf '%s\n' "$f" | wc -l)" -eq 1 ] && cmp -s "$f" <(text "$1")
}

# drain LOG: one session that retrieves and deletes every message it is
# shown. LOG gets one subject a line for each message sent whole (and
# checked octet for octet), then the session's last reply.
drain() {
	local log=$1 line size msg rest subject want to from pid
	: >"$log"
	coproc POP { "$POP2D" -n t -p "$data/passwd" -S "$state" -m "maildir:$md" 2>/dev/null; }
	# Bash unsets POP and POP_PID as soon as the coprocess ends.
	pid=$POP_PID
	exec {to}>&"${POP[1]}" {from}<&"${POP[0]}"
	IFS= read -r line <&"$from"
	printf '%s\r\nREAD 1\r\n' "$HELO" >&"$to"
	IFS= read -r line <&"$from"
	IFS= read -r line <&"$from"
	line=${line%$'\r'}
	while [[ $line =~ ^=([0-9]+)\  ]]; do
		size=${BASH_REMATCH[1]}
		[ "$size" -eq 0 ] && break
		printf 'RETR\r\n' >&"$to"
		IFS= read -r -N "$size" msg <&"$from"
		# A message that was gone is answered with a reply line instead,
		# which may be shorter or longer than SIZE (our messages start
		# "Subject:", so a leading "- " is the reply).
		if [ "${#msg}" -ne "$size" ] || [[ $msg == "- "* ]]; then
			if [[ $msg != *$'\n' ]]; then
				IFS= read -r rest <&"$from"
				msg+=$rest
			fi
			line=${msg%%$'\r'*}
			break
		fi
		# The first line without its CR, and what wire would print (both
		# without a process of their own: a round serves dozens).
		subject=${msg%%$'\n'*}
		subject=${subject//$'\r'/}
		subject=${subject#Subject: }
		wire_into want "$subject"
		if [ "$msg" != "$want" ]; then
			echo "BAD OCTETS $subject" >>"$log"
		fi
		echo "$subject" >>"$log"
		printf 'ACKD\r\n' >&"$to"
		IFS= read -r line <&"$from"
		line=${line%$'\r'}
	done
	if [[ $line =~ ^= ]]; then
		printf 'QUIT\r\n' >&"$to"
		IFS= read -r line <&"$from"
		line=${line%$'\r'}
	fi
	echo "END $line" >>"$log"
	exec {to}>&- {from}<&-
	wait "$pid" 2>/dev/null
}

# --- Deletions committed exactly; ACKS keeps; QUIT answers + OK.
fresh_maildir one two three
printf '%s\r\nREAD 1\r\nRETR\r\nACKD\r\nRETR\r\nACKS\r\nRETR\r\nACKD\r\nQUIT\r\n' "$HELO" |
	"$POP2D" -n t -p "$data/passwd" -S "$state" -m "maildir:$md" >"$scratch/basic.out"
check "basic: QUIT + OK" [ "$(tail -n 1 "$scratch/basic.out" | tr -d '\r')" = "+ OK Sayonara" ]
check "basic: sent octets are exact" cmp -s <(sed -n 4,6p "$scratch/basic.out") <(wire one)
check "basic: one and three deleted" [ -z "$(file_of one)$(file_of three)" ]
check "basic: two kept byte for byte" exactly_once two
check "basic: nothing left in tmp/" [ -z "$(ls -A "$md/tmp")" ]

# --- Delivered during the session: kept. Renamed by another program: deleted.
# Removed by another program: no error.
fresh_maildir a b c d
session_start s "maildir:$md"
session_send s "$HELO" READ RETR ACKD RETR ACKD RETR ACKD
session_wait s '=[0-9]+ characters in message 4'
mv "$(file_of a)" "$md/cur/$(basename "$(file_of a)"):2,S"
f=$(file_of b)
mv "$f" "$md/cur/$(basename "$f"):2,S"
mv "$md/cur/$(basename "$f"):2,S" "$md/cur/$(basename "$f"):2,RS"
rm "$(file_of c)"
deliver e
session_send s QUIT
session_wait s '[+-] .*'
session_end s
check "others at work: QUIT + OK" [ "$(session_last s)" = "+ OK Sayonara" ]
check "renamed new/ -> cur/ still deleted" [ -z "$(file_of a)" ]
check "renamed twice still deleted" [ -z "$(file_of b)" ]
check "removed by another program: gone, no error" [ -z "$(file_of c)" ]
check "not deleted: kept" exactly_once d
check "delivered during the session: kept" exactly_once e

# --- RETR of a message another program removed after READ.
fresh_maildir x y
session_start s "maildir:$md"
session_send s "$HELO" READ
session_wait s '=[0-9]+ characters in message 1'
rm "$(file_of x)"
session_send s RETR
session_wait s '- .*'
session_end s
check "vanished before RETR: - Maildrop changed by another program" \
	[ "$(session_last s)" = "- Maildrop changed by another program" ]
check "vanished before RETR: the rest untouched" exactly_once y

# --- The session lock still applies to a Maildir.
fresh_maildir p
session_start a "maildir:$md"
session_send a "$HELO"
session_wait a '#1 .*'
session_start b "maildir:$md"
session_send b "$HELO"
session_wait b '- .*'
check "second session: - Maildrop already in use" \
	[ "$(session_last b)" = "- Maildrop already in use" ]
session_end b
session_send a QUIT
session_wait a '[+-] .*'
session_end a

# --- Deliveries and another mail program racing sessions that delete.
fresh_maildir seed-1 seed-2 seed-3
total=60
(
	for i in $(seq 1 "$total"); do
		seq_no=$((1000 + i))
		deliver "loop-$i"
		[ $((i % 5)) -eq 0 ] && sleep 0.05
	done
	: >"$scratch/delivered"
) &
delivering=$!
# The other mail program: reads mail (new/ -> cur/ with flags), flags it
# again, and deletes some; it logs what it deleted.
: >"$scratch/mua-deleted"
(
	n=0
	# Bounded, and over when the test is, whatever happened to it.
	while [ -d "$md" ] && [ "$n" -lt 3000 ] &&
		{ [ ! -e "$scratch/delivered" ] || [ "$n" -lt 40 ]; }; do
		n=$((n + 1))
		for f in "$md"/new/*; do
			[ -e "$f" ] || continue
			mv "$f" "$md/cur/$(basename "$f"):2,S" 2>/dev/null
			break
		done
		for f in "$md"/cur/*:2,S; do
			[ -e "$f" ] || continue
			mv "$f" "${f%:2,S}:2,RS" 2>/dev/null
			break
		done
		if [ $((n % 6)) -eq 0 ]; then
			for f in "$md"/cur/* "$md"/new/*; do
				[ -e "$f" ] || continue
				s=$(sed -n 's/^Subject: //p' "$f" 2>/dev/null)
				[ -n "$s" ] && rm "$f" 2>/dev/null && echo "$s" >>"$scratch/mua-deleted"
				break
			done
		fi
		sleep 0.02
	done
) &
mua=$!
committed=()
sessions_ok=0
twice=0
bad=0
for round in $(seq 1 10); do
	drain "$scratch/round-$round"
	last=$(tail -n 1 "$scratch/round-$round")
	subjects=$(grep -v '^END \|^BAD ' "$scratch/round-$round")
	if [ -n "$subjects" ] && [ -n "$(printf '%s\n' "$subjects" | sort | uniq -d)" ]; then
		twice=1
	fi
	grep -q '^BAD ' "$scratch/round-$round" && bad=1
	case $last in
	"END + OK Sayonara")
		sessions_ok=$((sessions_ok + 1))
		[ -n "$subjects" ] && mapfile -t -O "${#committed[@]}" committed <<<"$subjects"
		;;
	"END - Maildrop changed by another program") ;;
	*)
		fail "racing round $round: unexpected end: $last"
		;;
	esac
	sleep 0.05
done
wait "$delivering"
wait "$mua"
# One more session once all is quiet takes the rest.
drain "$scratch/round-last"
check "racing: the last session commits" [ "$(tail -n 1 "$scratch/round-last")" = "END + OK Sayonara" ]
mapfile -t -O "${#committed[@]}" committed < <(grep -v '^END \|^BAD ' "$scratch/round-last")
check "racing: no session was served a message twice" [ "$twice" -eq 0 ]
check "racing: every message sent byte for byte" [ "$bad" -eq 0 ]
check "racing: $sessions_ok of 10 sessions committed" [ "$sessions_ok" -gt 0 ]
# How often each message was committed, deleted by the other program, and
# is still there (one pass over each list and over the Maildir).
declare -A n_committed n_mua n_left
for d in "${committed[@]}"; do n_committed[$d]=$((${n_committed[$d]:-0} + 1)); done
while IFS= read -r d; do n_mua[$d]=$((${n_mua[$d]:-0} + 1)); done <"$scratch/mua-deleted"
while IFS= read -r d; do
	d=${d#Subject: }
	n_left[$d]=$((${n_left[$d]:-0} + 1))
done < <(cat "$md"/new/* "$md"/cur/* 2>/dev/null | grep -x 'Subject: .*')
lost=0
for s in seed-1 seed-2 seed-3 $(seq -f 'loop-%g' 1 "$total"); do
	c=${n_committed[$s]:-0} m=${n_mua[$s]:-0}
	# Both count when the other program removed what a session deleted.
	if [ "$c" -gt 1 ] || [ "$m" -gt 1 ] || [ $((c + m)) -lt 1 ] || [ -n "${n_left[$s]:-}" ]; then
		echo "  $s: committed $c, deleted by the other program $m, files: $(file_of "$s")"
		lost=1
	fi
done
check "racing: every message served and deleted (${#committed[@]}), or deleted by the other program ($(wc -l <"$scratch/mua-deleted"))" [ "$lost" -eq 0 ]
check "racing: the Maildir is empty at the end" [ -z "$(find "$md/new" "$md/cur" "$md/tmp" -mindepth 1)" ]

finish
