/*
 * seam: the points where a test build (--enable-test-seams) may kill,
 * suspend or fail the process, so that the fault tests can stop a commit,
 * a recovery or a lock exactly at a named step. A production build compiles
 * every call here to nothing that reads the environment.
 *
 * POP2_CRASH_AT=STEP     SIGKILL at seam_point(STEP)
 * POP2_STOP_AT=STEP      SIGSTOP at seam_point(STEP)
 * POP2_FAIL_AT=STEP:ERR[:N]
 *                        seam_fail(STEP) fails with errno ERR (a name such
 *                        as ENOSPC, or a number) on its Nth call (default 1,
 *                        "*" for every call) in this process
 * POP2_LOGIN_DELAY_MS=MS the failed-login deadline, in place of the default
 * POP2_LOCK_WAIT=S, POP2_JOURNAL_MAX=N
 *                        the maildrop lock wait (0: one attempt, no wait)
 *                        and the journal bound, read by pop2d/maildrop.c
 *                        through seam_number()
 * POP2_LOCK_BACKOFF_MS=MS
 *                        the longest pause between two attempts at the
 *                        maildrop locks, in place of 2 s (the shortest is
 *                        a quarter of it), read by lib/lock.c
 * POP2_HELPER_ANSWER_MS=MS, POP2_HELPER_EXIT_MS=MS
 *                        shorter waits for pop2-lock's answer and exit,
 *                        read by lib/lock.c through seam_number()
 */
#ifndef POP2_SEAM_H
#define POP2_SEAM_H

#include <stdbool.h>

/* Kills or suspends the process at STEP when the test build is told to. */
void seam_point(const char *step);

/*
 * Returns true, with errno set, when the test build is told to fail the
 * call at STEP; false otherwise (always false in a production build). Used
 * as `if (seam_fail("commit.fsync") || fsync(fd) == -1)`.
 */
bool seam_fail(const char *step);

/*
 * How many calls seam_fail() has failed so far in this process (always 0
 * in a production build): whether a test's fault came at all.
 */
unsigned long seam_failures(void);

/*
 * DEFAULT, or the number in the environment variable NAME when a test build
 * sets it to a decimal within [MIN, MAX] (anything else is ignored).
 * Production builds never read the environment for it.
 */
unsigned long long seam_number(const char *name, unsigned long long dflt,
    unsigned long long min, unsigned long long max);

/* DEFAULT_MS, or POP2_LOGIN_DELAY_MS in a test build that sets it. */
long seam_login_delay_ms(long default_ms);

/* True in a build made with --enable-test-seams. */
bool seam_enabled(void);

#endif
