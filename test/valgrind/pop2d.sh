#!/bin/sh
# pop2d under valgrind memcheck, for test/session.sh run by
# test/valgrind/check.sh (make check-valgrind): POP2D points here.
# VALGRIND_POP2D is the real binary; each process logs to
# VALGRIND_LOGDIR/pop2d.PID, which check.sh reads afterwards. A memcheck
# error exits 125, which no pop2d exit status can be mistaken for.
exec valgrind --quiet --leak-check=full --error-exitcode=125 \
	--log-file="${VALGRIND_LOGDIR:?}/pop2d.%p" \
	"${VALGRIND_POP2D:?}" "$@"
