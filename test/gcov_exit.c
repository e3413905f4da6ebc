/*
 * Coverage builds only (make coverage): _exit() skips the exit handlers
 * that write gcov's counters, so a process that ends by it (pop2d's
 * recovery children, pop2-lock's refusals) would count for nothing. The
 * programs are linked with -Wl,--wrap=_exit, which sends their calls here.
 */
#include <unistd.h>

void __gcov_dump(void);
void __real__exit(int status) __attribute__((noreturn));
void __wrap__exit(int status) __attribute__((noreturn));

void
__wrap__exit(int status)
{
	__gcov_dump();
	__real__exit(status);
}
