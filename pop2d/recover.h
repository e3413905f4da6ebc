/*
 * recover: pop2d --recover-all, run as root at boot before the MTA starts.
 * It finishes every user's interrupted commit, each in a child that has
 * taken that user's identity and is bounded in time, and says what it did.
 */
#ifndef POP2_RECOVER_H
#define POP2_RECOVER_H

#include <stdint.h>

struct recover_config {
	const char *state_dir;	 /* -S */
	const char *maildrop;	 /* -m template */
	const char *folder_dir;	 /* -F template */
	const char *lock_helper; /* -L */
	unsigned long seconds;	 /* -t: the bound on each user's recovery */
	int passwd_fd;	      /* -p's file, open; -1: the system's accounts */
	uint64_t journal_max; /* -J */
};

/*
 * Recovers every user whose folder is in O->state_dir. Logs each
 * outcome, prints a summary on standard output and each user's failure on
 * standard error. Returns the exit status: 0, or 1 when the state
 * directory cannot be read or a user's recovery failed, set data aside or
 * refused a journal.
 */
int recover_all(const struct recover_config *o);

#endif
