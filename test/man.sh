#!/bin/bash
# mandoc -Tlint on the man pages, style notes included: no warning, and
# every cross reference found (the project's own pages from the tree, the
# others from the system's manual pages).
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v mandoc >/dev/null; then
	echo "SKIP: mandoc is not installed (Debian: mandoc)"
	exit 77
fi
mkdir -p "$scratch/man/man5" "$scratch/man/man8"
cp "$top_srcdir"/doc/*.5 "$scratch/man/man5/"
cp "$top_srcdir"/doc/*.8 "$scratch/man/man8/"
system=$(manpath 2>/dev/null || echo /usr/share/man)
for page in "$top_srcdir"/doc/*.[58]; do
	# mandoc's notes about its own stale database are no lint.
	MANPATH="$scratch/man:$system" mandoc -Tlint -W style "$page" 2>&1 |
		grep -v 'outdated mandoc.db' >"$scratch/lint"
	if [ -s "$scratch/lint" ]; then
		fail "mandoc -Tlint -W style $(basename "$page")"
		cat "$scratch/lint"
	else
		pass "mandoc -Tlint -W style $(basename "$page")"
	fi
done
finish
