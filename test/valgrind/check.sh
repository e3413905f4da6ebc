#!/bin/bash
# make check-valgrind: each unit suite given as an argument (CK_FORK=no),
# and beside them the session transcripts (test/session.sh), under valgrind memcheck
# with --leak-check=full. Fails on any memcheck error or leak, and on any
# other message from valgrind except one: valgrind 3.19 does not know the
# openat2 system call (437) and says so; pop2d then gets ENOSYS and
# lib/folder.c walks the name component by component instead, which is a
# path the tests want covered anyway. Leaks in check_commit's and
# check_store's children that a crash seam kills mid-commit are
# suppressed (crash.supp).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

logdir=$(mktemp -d "${TMPDIR:-/tmp}/pop2d-valgrind.XXXXXX")
trap 'rm -rf "$logdir"' EXIT
# Children that have dropped to an unprivileged user (check_lock's, and
# pop2d's helper) still have to create their log files here.
chmod 1777 "$logdir"
supp=$top_srcdir/test/valgrind/crash.supp
status=0

# What is left of a valgrind log once the openat2 warning is taken out.
unexpected() {
	grep -v -E \
		-e 'WARNING: unhandled [a-z0-9]+-linux syscall: 437$' \
		-e 'You may be able to write your own handler\.$' \
		-e 'Read the file README_MISSING_SYSCALL_OR_IOCTL\.$' \
		-e 'Nevertheless we consider this a bug\.  Please report$' \
		-e 'it at http://valgrind\.org/support/bug_reports\.html\.$' \
		"$1"
}

# The transcripts, each pop2d under valgrind (test/valgrind/pop2d.sh),
# from a mirror of the source tree without the cases in VALGRIND_SKIP:
# those that need openat2 to follow a symbolic link inside the folder
# directory (under valgrind the walk refuses every link, as documented).
: "${VALGRIND_SKIP:=fold-symlink-inside}"
src=$logdir/src
mkdir -p "$src/test/session"
for f in "$top_srcdir"/* "$top_srcdir"/.[!.]*; do
	[ -e "$f" ] && [ "$(basename "$f")" != test ] && ln -s "$f" "$src/"
done
for f in "$top_srcdir"/test/*; do
	[ "$(basename "$f")" != session ] && ln -s "$f" "$src/test/"
done
for f in "$top_srcdir"/test/session/*; do
	case " $VALGRIND_SKIP " in
	*" $(basename "${f%.*}") "*) ;;
	*) ln -s "$f" "$src/test/session/" ;;
	esac
done
real_srcdir=$top_srcdir
# In the background, while the unit suites run: two cores, half the time.
top_srcdir=$src VALGRIND_LOGDIR=$logdir \
	VALGRIND_POP2D=$top_builddir/pop2d/pop2d \
	POP2D=$real_srcdir/test/valgrind/pop2d.sh \
	VERSION=$("$top_builddir/pop2d/pop2d" -V | sed 's/^pop2d //') \
	SESSION_KINDS='mbox maildir' \
	bash "$real_srcdir/test/session.sh" >"$logdir/session.out" 2>&1 &
transcripts=$!

for t in "$@"; do
	name=$(basename "$t")
	if CK_FORK=no valgrind --quiet --leak-check=full --error-exitcode=1 \
		--suppressions="$supp" --log-file="$logdir/$name.%p" \
		"$top_builddir/$t" >"$logdir/$name.out" 2>&1; then
		echo "PASS: valgrind $t"
	else
		status=1
		echo "FAIL: valgrind $t"
		tail -n 30 "$logdir/$name.out"
	fi
done

wait "$transcripts"
session=$?
echo "valgrind test/session.sh: $(grep -c '^PASS' "$logdir/session.out")" \
	"cases passed, skipped: $VALGRIND_SKIP"
if [ "$session" -ne 0 ]; then
	status=1
	echo "FAIL: valgrind test/session.sh"
	grep -v '^PASS' "$logdir/session.out" | head -n 60
fi

for log in "$logdir"/*.[0-9]*; do
	[ -e "$log" ] || continue
	if [ -n "$(unexpected "$log")" ]; then
		status=1
		echo "FAIL: valgrind reported, $(basename "$log"):"
		unexpected "$log" | head -n 60
	fi
done
exit $status
