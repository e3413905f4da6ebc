#!/bin/bash
# format.sh SRCDIR [--fix]: checks that the C sources (lib/, pop2d/, the
# unit suites, the fuzzing harnesses, the benchmark) are as clang-format
# lays them out with SRCDIR/.clang-format; lists each file that differs
# and exits 1 if one does. With --fix, rewrites them in place instead.
set -u
srcdir=$1
fix=${2:-}
cd "$srcdir" || exit 2
command -v clang-format >/dev/null || { echo "format: clang-format is not installed" >&2; exit 2; }
files=(lib/*.[ch] pop2d/*.[ch] test/*.c test/fuzz/*.[ch] bench/*.c)
if [ "$fix" = --fix ]; then
	exec clang-format -i --style=file "${files[@]}"
fi
differ=0
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror --style=file "$f" >/dev/null 2>&1; then
		echo "format: $f differs from .clang-format ($(clang-format --style=file "$f" |
			diff "$f" - | grep -c '^[<>]') lines)"
		differ=$((differ + 1))
	fi
done
echo "format: $differ of ${#files[@]} source files differ from .clang-format"
[ "$differ" -eq 0 ]
