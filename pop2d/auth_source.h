/*
 * auth_source: where logins are checked. One source is chosen when pop2d
 * starts (a passwd-file with -p; else the system's accounts, through PAM
 * when built with it, or the shadow file read by pop2d itself) and every
 * HELO goes through it; the login code never names a source.
 *
 * A login runs verify(), then, as root and only when the identity is about
 * to change, establish() between initgroups() and setgid(), and end() once
 * the identity has changed or the login was refused. None of them replies
 * to the client or changes the process's identity.
 */
#ifndef POP2_AUTH_SOURCE_H
#define POP2_AUTH_SOURCE_H

#include "auth.h"

struct auth_source_config {
	int passwd_fd; /* -p's file, open; -1: the system's accounts */
	const char *pam_service; /* -P: the PAM service of system accounts */
	/*
	 * The client's address for PAM_RHOST ("" or NULL: none), read when
	 * a login runs, not when the source is chosen.
	 */
	const char *rhost;
	/*
	 * What a login without a real hash to check hashes instead, set by
	 * auth_source_prepare() ("": the built-in dummy of auth.c); wiped
	 * once a login has succeeded.
	 */
	char dummy[AUTH_DUMMY_SIZE];
};

/* One login's progress: what verify() leaves for establish() and end(). */
struct auth_login {
	const struct auth_source_config *cfg;
	const char *password; /* answers prompts in pam_authenticate() */
	void *pamh;	      /* PAM's handle from verify() to end() */
	int pam_status;	      /* the last PAM call's result, for pam_end() */
	char why[160];	      /* a reason composed at run time (PAM's text) */
};

struct auth_source {
	const char *name; /* "passwd-file", "pam" or "shadow", for the log */
	/*
	 * Once, as root: sets CFG->dummy to the setting of one of the
	 * source's own hashes. NULL: the source hashes nothing itself.
	 */
	void (*prepare_dummy)(struct auth_source_config *cfg);
	/*
	 * Checks USER's PASSWORD as auth_passwd_file() does, *OUT and *WHY
	 * alike. A source may wipe PASSWORD as soon as it is done with it,
	 * before it returns; the caller wipes it afterwards in any case. On
	 * anything but AUTH_OK nothing is left for establish() or end().
	 */
	enum auth_result (*verify)(struct auth_login *l, const char *user,
	    char *password, struct auth_user *out, const char **why);
	/*
	 * As root, after initgroups() and before setgid(): the source's own
	 * credentials (PAM's pam_setcred). Returns 0, or -1 with *WHY set:
	 * the login is refused. NULL: nothing to do.
	 */
	int (*establish)(struct auth_login *l, const char **why);
	/* Releases what verify() kept. NULL: nothing to release. */
	void (*end)(struct auth_login *l);
};

/*
 * The source for CFG, which must outlive every login: "passwd-file" when
 * CFG->passwd_fd is open, else "pam" in a build with PAM, else "shadow".
 */
const struct auth_source *auth_source_choose(
    const struct auth_source_config *cfg);

/*
 * Once, before any login and as root: sets CFG->dummy to the setting of a
 * hash of the accounts of CFG's source (auth_dummy_passwd_file(), auth_dummy_shadow()
 * of /etc/shadow), so that a refusal without a real hash costs what a
 * wrong password costs there. For PAM it stays empty: pop2d hashes
 * nothing itself, the modules do.
 */
void auth_source_prepare(struct auth_source_config *cfg);

/* True when pop2d was built with PAM (configure --with-pam). */
bool auth_source_have_pam(void);

#endif
