# shellcheck shell=bash disable=SC2154,SC2034
# A maildrop of ten messages of different sizes and one-shot sessions
# against it, for the crash, full-disk and changed-maildrop tests. Sourced
# after lib.sh.

mbox=$scratch/maildrop
HELO='HELO alice wonderland'

# ten messages of different sizes: m1 .. m10, made once and copied.
fresh_maildrop() {
	local i body
	if [ ! -f "$scratch/tenmsgs" ]; then
		body=$(head -c 7000 /dev/zero | tr '\0' 'a' | fold -w 70)
		for ((i = 1; i <= 10; i++)); do
			printf 'From sender@example.org Mon Nov 16 09:12:44 2026\nSubject: m%s\n\n%s\n\n' \
				"$i" "${body:0:$((i * 710 - 1))}"
		done >"$scratch/tenmsgs"
	fi
	cp "$scratch/tenmsgs" "$mbox"
}

# pop2 INPUT-LINES...: one session over a pipe; replies in $scratch/pop2.out.
pop2() {
	printf '%s\r\n' "$@" | "$POP2D" -n t -p "$data/passwd" -S "$state" -m "$mbox" \
		>"$scratch/pop2.out" 2>"$scratch/pop2.err"
}

last_reply() {
	tail -n 1 "$scratch/pop2.out" | tr -d '\r'
}
