/*
 * login: what a HELO leads to. The password is checked through the login
 * source chosen at startup; then, as root, the user's state directory is
 * made, the user's identity taken for good, the session lock taken, an
 * interrupted commit finished and INBOX read. Each step is logged here;
 * the result is a kind, never a reply text (session.c holds those).
 *
 * Also the pieces that --recover-all (recover.c) shares with a login: the
 * supplementary groups of an identity, and the log lines of a recovery and
 * of a lock helper's failure.
 */
#ifndef POP2_LOGIN_H
#define POP2_LOGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "auth_source.h"
#include "lock.h"
#include "log.h"
#include "store.h"

struct login_config {
	const char *state_dir;	 /* -S */
	const char *maildrop;	 /* -m template */
	const char *folder_dir;	 /* -F template */
	const char *lock_helper; /* -L */
	uint64_t journal_max;	 /* -J */
	const struct auth_source *auth;
	/* Its passwd_fd is closed (and set to -1) once the identity changed. */
	struct auth_source_config *auth_cfg;
	const char *peer; /* who the client is, for the log; read at login */
};

/* One session's login and what it leaves for the rest of the session. */
struct login {
	const struct login_config *cfg;
	struct auth_login auth;
	char user[LOG_FIELD_MAX]; /* for the log, escaped; "" before HELO */
	struct store store;	  /* valid when have_store */
	bool have_store;
	int statefd;   /* the user's state directory, or -1 */
	int sessionfd; /* holds the session lock for the whole session, or -1 */
};

enum login_result {
	LOGIN_OK,		/* INBOX selected */
	LOGIN_REFUSED,		/* any refusal: one reply, at one deadline */
	LOGIN_STATE_UNUSABLE,	/* the user's state directory */
	LOGIN_IN_USE,		/* another session holds the session lock */
	LOGIN_MAILDROP_BUSY,	/* its lock was not had in time */
	LOGIN_MAILDROP_UNUSABLE /* it cannot be opened or read */
};

/* Prepares L for one login with CFG, which must outlive it. */
void login_init(struct login *l, const struct login_config *cfg);

/*
 * Checks USER's PASSWORD, which is wiped, and on success becomes the user
 * and selects INBOX: *COUNT messages. Every outcome is logged. After
 * anything but LOGIN_REFUSED the identity may have changed for good.
 */
enum login_result login_run(
    struct login *l, const char *user, char *password, size_t *count);

/*
 * As root: sets the supplementary groups of identity U, the same way for
 * a session and a recovery: a system account's own groups (initgroups), a
 * passwd-file user's gid alone, since such a user need not be in the
 * system's group database. Returns 0, or -1 with errno.
 */
int login_set_groups(const struct auth_user *u);

/*
 * What the lock helper's failure in REPORT says, for a log line, in BUF
 * (SIZE octets; empty when the helper was not involved): HELPER's path,
 * its exit status, its own reason, and what kept it from gaining group
 * mail. Returns BUF.
 */
const char *login_describe_helper(const struct lock_helper_report *report,
    const char *helper, char *buf, size_t size);

/* Logs for USER that WHAT failed on PATH with errno ERR, and why ST's helper
 * failed. */
void login_log_store_failure(const char *user, const struct store *st,
    const char *what, const char *path, int err);

/*
 * Logs what store_recover() found for USER, whose state directory is in
 * STATE_DIR (TAG: "" at a login, "recover " for --recover-all); R is its
 * result, ERR its errno, ST the store it ran on. Each outcome is one
 * "recover user=" line, at a login as well.
 */
void login_log_recovery(const char *state_dir, const char *tag,
    const char *user, const struct store *st, const struct store_recovery *rec,
    int r, int err);

#endif
