#!/bin/bash
# -J bounds the commit journal, for a session's commit and for
# --recover-all: a commit stopped after its first journaled round leaves a
# journal no larger than -J (where the default bound gives a larger one),
# and the next login finishes it; a recovery that must move mail delivered
# after the crash writes a journal within -J too. Bad sizes exit 2.
set -u
. "$(dirname "$0")/lib.sh"
[ "${SEAMS:-no}" = yes ] || skip_all "POP2_CRASH_AT needs ./configure --enable-test-seams"

mbox=$scratch/maildrop
HELO='HELO alice wonderland'
mib=1048576

# A small first message and a 3 MiB second one: deleting the first moves
# the second back by a few octets, so nearly all of it is at risk.
fresh() {
	rm -rf "$state" "$mbox" "$mbox.lock"
	mkdir "$state"
	{
		printf 'From a@example.org Mon Nov 16 09:12:44 2026\nSubject: small\n\nx\n\n'
		printf 'From b@example.org Mon Nov 16 09:12:45 2026\nSubject: large\n\n'
		head -c 3000000 /dev/zero | tr '\0' b | fold -w 70
		printf '\n'
	} >"$mbox"
	sed -n '/^From b@/,$p' "$mbox" >"$scratch/want"
}

# pop2 [ENV=VALUE...] -- ARGS... -- LINES...: one session.
pop2() {
	local env=() args=()
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	printf '%s\r\n' "$@" | env ${env[@]+"${env[@]}"} "$POP2D" -n t -p "$data/passwd" \
		-S "$state" -m "$mbox" ${args[@]+"${args[@]}"} >"$scratch/out" 2>"$scratch/err"
}
jsize() { stat -c %s "$state/alice/commit.jnl" 2>/dev/null || echo 0; }

fresh
pop2 POP2_CRASH_AT=round-saved -- -J 1M -- "$HELO" "READ 1" RETR ACKD QUIT
check "-J 1M: the commit was stopped after its first round" [ $? -eq 137 ]
size=$(jsize)
check "-J 1M: the journal ($size octets) is within 1 MiB" [ "$size" -gt 0 -a "$size" -le $mib ]
rm -f "$mbox.lock"
pop2 -- -- "$HELO" QUIT
check "-J 1M: the next login finishes the commit" cmp -s "$scratch/want" "$mbox"

fresh
pop2 POP2_CRASH_AT=round-saved -- -- "$HELO" "READ 1" RETR ACKD QUIT
size=$(jsize)
check "the default bound: the same commit's journal ($size octets) is larger" [ "$size" -gt $mib ]
rm -f "$mbox.lock"
pop2 -- -J 1024K -- "$HELO" QUIT
check "the default bound: the next login finishes the commit" cmp -s "$scratch/want" "$mbox"

# A crash before the cut, then 3 MiB of mail: --recover-all moves it.
fresh
pop2 POP2_CRASH_AT=phase-t -- -J 1M -- "$HELO" "READ 1" RETR ACKD QUIT
check "--recover-all -J: the commit was stopped before its cut" [ $? -eq 137 ]
rm -f "$mbox.lock"
{
	printf 'From c@example.org Mon Nov 16 09:13:00 2026\nSubject: late\n\n'
	head -c 3000000 /dev/zero | tr '\0' c | fold -w 70
	printf '\n'
} >"$scratch/late"
cat "$scratch/late" >>"$mbox"
cat "$scratch/late" >>"$scratch/want"
POP2_CRASH_AT=round-saved "$POP2D" --recover-all -J 1M -p "$data/passwd" -m "$mbox" \
	-S "$state" >/dev/null 2>"$scratch/recover.err"
check "--recover-all -J 1M: the recovery was stopped in its own commit" [ $? -eq 1 ]
size=$(jsize)
check "--recover-all -J 1M: its journal ($size octets) is within 1 MiB" [ "$size" -gt 0 -a "$size" -le $mib ]
rm -f "$mbox.lock"
"$POP2D" --recover-all -J 1M -p "$data/passwd" -m "$mbox" -S "$state" >/dev/null 2>"$scratch/recover.err"
check "--recover-all -J 1M: the next run finishes" [ $? -eq 0 ]
check "--recover-all -J 1M: the kept and the late mail, exactly" cmp -s "$scratch/want" "$mbox"

# Bad sizes are bad options: exit 2.
for bad in 0 512K 1025G 1099511627777 12X '' M -1M 1.5M; do
	"$POP2D" -S "$state" -p "$data/passwd" -J "$bad" </dev/null >/dev/null 2>"$scratch/err"
	check "-J '$bad': exit 2" [ $? -eq 2 ]
	"$POP2D" --recover-all -S "$state" -p "$data/passwd" -J "$bad" >/dev/null 2>"$scratch/err"
	check "--recover-all -J '$bad': exit 2" [ $? -eq 2 ]
done
check "-J: the message says what a size is" grep -q 'not a size from 1M to 1024G' "$scratch/err"
greeting=$("$POP2D" -S "$state" -p "$data/passwd" -J 1g </dev/null | head -n 1)
check "-J 1g is accepted" [ "${greeting%% *}" = + ]
# The largest bound, past 32 bits, in each unit.
for good in 1024G 1048576M 1073741824K 1099511627776; do
	greeting=$("$POP2D" -S "$state" -p "$data/passwd" -J "$good" </dev/null | head -n 1)
	check "-J $good is accepted" [ "${greeting%% *}" = + ]
done

finish
