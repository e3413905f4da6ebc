# shellcheck shell=bash disable=SC2154 # lib.sh sets scratch, data and state
# Drives pop2d sessions that stay open while a test does other things.
# Sourced after lib.sh. A session reads commands from a FIFO that the test
# writes to, and writes its replies to a file that the test watches.

# session_start ID MAILDROP [OPTIONS...]: starts session ID as user alice.
session_start() {
	local id=$1 mbox=$2 fd
	shift 2
	rm -f "$scratch/$id.in" "$scratch/$id.out"
	mkfifo "$scratch/$id.in"
	: >"$scratch/$id.out"
	"$POP2D" -n t -p "$data/passwd" -S "$state" -m "$mbox" "$@" \
		<"$scratch/$id.in" >"$scratch/$id.out" 2>"$scratch/$id.err" &
	printf -v "pid_$id" %s $!
	exec {fd}>"$scratch/$id.in"
	printf -v "fd_$id" %s "$fd"
}

# session_send ID LINE...: sends each LINE with CRLF.
session_send() {
	local id=$1 fdvar=fd_$1
	shift
	printf '%s\r\n' "$@" >&"${!fdvar}"
}

# session_wait ID PATTERN [SECONDS]: waits (lib.sh's wait_for) until ID
# has written a whole line matching the extended regular expression
# PATTERN.
session_wait() {
	wait_for "${3:-20}" session_has_line "$1" "$2"
}
session_has_line() {
	tr -d '\r' <"$scratch/$1.out" | grep -q -x -E -- "$2"
}

# session_last ID: prints the last reply line of ID without its CR.
session_last() {
	tail -n 1 "$scratch/$1.out" | tr -d '\r'
}

# session_end ID: closes ID's input and waits for it; returns its exit status.
session_end() {
	local fdvar=fd_$1 pidvar=pid_$1
	eval "exec ${!fdvar}>&-"
	wait "${!pidvar}"
}

# message SUBJECT: prints one mbox message with a unique subject.
message() {
	printf 'From sender@example.org Mon Nov 16 09:12:44 2026\nSubject: %s\n\nbody of %s\n\n' "$1" "$1"
}

# count_subject FILE SUBJECT: how many times SUBJECT's message is in FILE.
count_subject() {
	grep -c -x -F "Subject: $2" "$1"
}
