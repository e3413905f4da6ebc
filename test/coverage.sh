#!/bin/bash
# coverage.sh TABLE SRCDIR: checks gcovr's branch table (gcovr -b output in
# TABLE) against the targets below; prints each figure beside its target
# and exits 1 when one is below, or when a source file that exists in
# SRCDIR is missing from TABLE. A file named here that does not exist (yet)
# is reported as absent and not counted. The figure is Taken / Branches,
# exactly: gcovr's own percentage column is rounded.
set -u
table=$1
srcdir=$2

# FILE (relative to SRCDIR, or TOTAL for the whole)    BRANCH TARGET (%)
targets='
lib/commit.c		85
lib/dotlock.c		85
lib/lock.c		85
lib/state.c		85
pop2d/store.c		85
pop2d/main.c		85
pop2d/login.c		85
pop2d/recover.c		85
TOTAL			80
'

status=0
while read -r file want; do
	[ -n "$file" ] || continue
	if [ "$file" != TOTAL ] && [ ! -e "$srcdir/$file" ]; then
		echo "coverage: $file: absent (no such source file), not counted"
		continue
	fi
	# "FILE BRANCHES TAKEN PERCENT% MISSING..."
	got=$(awk -v f="$file" '$1 == f && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ {
		if ($2 == 0) print "100.0 0 0"
		else printf "%.1f %d %d\n", 100 * $3 / $2, $3, $2
		exit }' "$table")
	if [ -z "$got" ]; then
		echo "coverage: $file: not in the table"
		status=1
		continue
	fi
	read -r pct taken branches <<<"$got"
	if awk -v t="$taken" -v b="$branches" -v w="$want" 'BEGIN { exit !(t * 100 >= w * b) }'; then
		echo "coverage: $file: $pct% of branches ($taken of $branches; target $want%): met"
	else
		# The branches still to take to reach the target.
		need=$(awk -v t="$taken" -v b="$branches" -v w="$want" \
			'BEGIN { n = w * b / 100; n = (n == int(n)) ? n : int(n) + 1; print n - t }')
		echo "coverage: $file: $pct% of branches ($taken of $branches; target $want%): BELOW, $need branches short"
		status=1
	fi
done <<<"$targets"
exit "$status"
