#!/bin/bash
# README's first command ends in `make demo`: the scripted session must
# run to its end against the sample maildrop and passwd-file in demo/.
set -u
. "$(dirname "$0")/lib.sh"

bash "$top_srcdir/demo.sh" "$POP2D" "$top_srcdir" >"$scratch/demo.out" 2>&1
status=$?
cat "$scratch/demo.out"
check "demo.sh exits 0" [ "$status" -eq 0 ]
check "the demo logs in" grep -q -x 'S: #3 messages in INBOX' "$scratch/demo.out"
check "the demo retrieves message 1 whole" grep -q '^S: | ' "$scratch/demo.out"
check "the demo ends with + OK Sayonara" grep -q -x 'S: + OK Sayonara' "$scratch/demo.out"
check "the demo leaves the maildrop as it was" \
	grep -q -x '(the maildrop is unchanged: nothing was deleted)' "$scratch/demo.out"

finish
