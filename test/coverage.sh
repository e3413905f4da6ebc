#!/bin/bash
# coverage.sh TABLE FILE:PERCENT...: checks gcovr's branch table (gcovr -b
# output in TABLE) against a target per file, TOTAL for the whole; prints
# each figure beside its target and exits 1 when one is below.
set -u
table=$1
shift
status=0
for target in "$@"; do
	file=${target%:*} want=${target##*:}
	got=$(awk -v f="$file" '$1 == f && $4 ~ /%$/ { sub(/%/, "", $4); print $4 }' "$table")
	if [ -z "$got" ]; then
		echo "coverage: $file: not in the table"
		status=1
	elif awk -v g="$got" -v w="$want" 'BEGIN { exit !(g + 0 >= w + 0) }'; then
		echo "coverage: $file: $got% of branches (target $want%): met"
	else
		echo "coverage: $file: $got% of branches (target $want%): BELOW"
		status=1
	fi
done
exit "$status"
