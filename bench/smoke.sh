#!/bin/bash
# The benchmark on a few MiB, so that it cannot rot: every row of its table
# must be there. The targets are not checked: at this scale the fixed costs
# (fsync, process start) swamp the ratios.
set -u
# shellcheck source=test/lib.sh
. "$(dirname "$0")/../test/lib.sh"

bench=$top_srcdir/bench/bench.sh
table=$scratch/table
# A sanitized binary runs under neither valgrind nor strace (LeakSanitizer
# refuses ptrace): leave those measurements out then.
if [ "${SANITIZERS:-no}" = yes ]; then
	export BENCH_NO_CALLGRIND=1 BENCH_NO_STRACE=1
fi
BENCH_SCALE=256 BENCH_REPS=1 TMPDIR=$scratch \
	"$bench" "$POP2D" "$top_builddir/bench/gen" "$top_builddir/bench/drive" \
	>"$table" 2>"$scratch/bench.err"
status=$?
check "bench.sh exits 0" [ "$status" -eq 0 ]
[ "$status" -eq 0 ] || cat "$scratch/bench.err"
check "the table has its header" grep -q '^| what | workload |' "$table"
for name in index login stream 'retr syscalls' many commit journal \
	'commit memory' 'commit, tail' 'nothing deleted' memory instructions; do
	check "row: $name" grep -q "^| $name | " "$table"
done
check "two commit, tail rows" [ "$(grep -c '^| commit, tail | ' "$table")" -eq 2 ]
check "no empty cell" [ "$(grep -c '|  |' "$table")" -eq 0 ]
check "the scratch folder is gone" \
	[ "$(find "$scratch" -maxdepth 1 -name 'pop2d-bench.*' | wc -l)" -eq 0 ]
cat "$table"
finish
