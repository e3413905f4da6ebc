/*
 * login: from a HELO to a selected INBOX (see login.h). Run as root until
 * the identity changes; the only client data it sees is the user name and
 * the password, which go to the login source and nowhere else.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commit.h"
#include "lock.h"
#include "log.h"
#include "login.h"
#include "seam.h"
#include "state.h"
#include "util.h"

void
login_init(struct login *l, const struct login_config *cfg)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->statefd = -1;
	l->sessionfd = -1;
}

const char *
login_describe_helper(const struct lock_helper_report *report,
    const char *helper, char *buf, size_t size)
{
	size_t n = 0;
	int st = report->status;
	bool busy = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 75;

	buf[0] = '\0';
	switch (report->fault) {
	case LOCK_HELPER_OK:
		return buf;
	case LOCK_HELPER_NOT_STARTED:
		n = (size_t)snprintf(buf, size,
		    "; lock helper %s cannot be run: %s", helper,
		    strerror(report->err));
		break;
	case LOCK_HELPER_REFUSED:
		n = (size_t)snprintf(buf, size,
		    "; lock helper %s refused, exit status %d: %s", helper,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1, report->reason);
		break;
	case LOCK_HELPER_NO_ANSWER:
		if (st != -1 && WIFSIGNALED(st))
			n = (size_t)snprintf(buf, size,
			    "; lock helper %s killed by signal %d without an "
			    "answer",
			    helper, WTERMSIG(st));
		else if (st != -1 && WIFEXITED(st))
			n = (size_t)snprintf(buf, size,
			    "; lock helper %s exited with status %d without an "
			    "answer",
			    helper, WEXITSTATUS(st));
		else
			n = (size_t)snprintf(buf, size,
			    "; lock helper %s gave no answer: %s", helper,
			    strerror(report->err != 0 ? report->err : EIO));
		break;
	}
	if (busy)
		return buf;
	if (n < size && (report->causes & LOCK_HELPER_NOT_SETGID))
		n += (size_t)snprintf(buf + n, size - n,
		    "; it is not set-group-ID (as root: chgrp mail %s && chmod "
		    "2755 %s)",
		    helper, helper);
	if (n < size && (report->causes & LOCK_HELPER_NO_NEW_PRIVS))
		n += (size_t)snprintf(buf + n, size - n,
		    "; pop2d runs with no_new_privs (systemd "
		    "NoNewPrivileges=yes?), "
		    "so the helper cannot gain group mail");
	if (n < size && (report->causes & LOCK_HELPER_NOSUID))
		(void)snprintf(buf + n, size - n,
		    "; its file system is mounted nosuid, so it cannot gain "
		    "group mail");
	return buf;
}

void
login_log_store_failure(const char *user, const struct store *st,
    const char *what, const char *path, int err)
{
	char helper[1024];

	log_msg(LOG_ERR, "user=%s reason=%s %s: %s%s", user, what, path,
	    strerror(err),
	    login_describe_helper(
		&st->lock_report, st->helper, helper, sizeof(helper)));
}

void
login_log_recovery(const char *state_dir, const char *tag, const char *user,
    const struct store *st, const struct store_recovery *rec, int r, int err)
{
	/* The journal's path comes from a user's file: escaped like a client's.
	 */
	char path[1024], helper[1024];
	const char *folder =
	    rec->path != NULL ? log_escape(path, sizeof(path), rec->path) : "-";

	if (r != -1 && rec->leftovers > 0)
		log_msg(LOG_NOTICE,
		    "%suser=%s removed %d temporary file(s) left in "
		    "%s/%s by a killed commit",
		    tag, user, rec->leftovers, state_dir, user);
	if (r == 0 && rec->torn)
		log_msg(LOG_WARNING,
		    "recover user=%s outcome=discarded: a torn "
		    "journal, written before the maildrop changed, was removed",
		    user);
	else if (r == 0 && rec->size != -1)
		log_msg(LOG_NOTICE,
		    "recover user=%s maildrop=%s outcome=finished "
		    "octets=%lld",
		    user, folder, rec->size);
	else if (r == 1)
		log_msg(LOG_CRIT,
		    "recover user=%s maildrop=%s outcome=set-aside: an "
		    "interrupted commit met a maildrop rewritten by another "
		    "program: "
		    "its data is in %s/%s/%s, nothing was changed",
		    user, folder, state_dir, user, COMMIT_RECOVERED);
	else if (r == 2)
		log_msg(LOG_CRIT,
		    "%suser=%s journal %s/%s/%s refused (%s%s%s): kept "
		    "as %s, not followed, nothing was changed",
		    tag, user, state_dir, user, commit_journal_name(),
		    rec->refused, rec->path != NULL ? ": " : "",
		    rec->path != NULL ? folder : "", rec->aside);
	else if (r == -1)
		log_msg(LOG_ERR,
		    "recover user=%s maildrop=%s outcome=failed: %s%s", user,
		    folder, strerror(err),
		    login_describe_helper(
			&st->lock_report, st->helper, helper, sizeof(helper)));
}

int
login_set_groups(const struct auth_user *u)
{
	return u->system ? initgroups(u->name, u->gid) : setgroups(1, &u->gid);
}

/* As root, gives the user a state directory of their own before the switch. */
static int
prepare_state(const struct login *l, const struct auth_user *u)
{
	const char *dir = l->cfg->state_dir;

	if (geteuid() != 0 || !u->change_id)
		return 0;
	if (state_prepare(dir, u->name, u->uid, u->gid) == -1) {
		if (errno == EPERM)
			log_msg(LOG_ERR,
			    "user=%s reason=state directory %s/%s "
			    "belongs to another uid: not adopted; remove it, "
			    "or "
			    "give it to the user if it is theirs",
			    l->user, dir, l->user);
		else
			log_msg(LOG_ERR,
			    "user=%s reason=cannot prepare %s/%s: "
			    "%s",
			    l->user, dir, l->user, strerror(errno));
		return -1;
	}
	return 0;
}

/* Whether the session can take the entry's identity (become_user()). */
static bool
identity_usable(const struct auth_user *u)
{
	if (!u->change_id)
		return true;
	if (u->uid == 0)
		return false;
	return geteuid() == 0 || (u->uid == geteuid() && u->gid == getegid());
}

/* Closes -p's passwd-file, which no login after this one needs. */
static void
close_passwd_file(struct login *l)
{
	if (l->cfg->auth_cfg->passwd_fd != -1)
		(void)close(l->cfg->auth_cfg->passwd_fd);
	l->cfg->auth_cfg->passwd_fd = -1;
}

/*
 * Takes on the user's identity for good; proven by a failing setuid(0).
 * The login's source establishes its credentials (PAM's pam_setcred) once
 * the groups are the user's, while root may still change them.
 */
static int
become_user(struct login *l, const struct auth_user *u, const char **why)
{
	const struct auth_source *auth = l->cfg->auth;

	if (!u->change_id) {
		/* SPEC §5: an entry without uid/gid keeps pop2d's identity. */
		if (geteuid() == 0)
			log_msg(LOG_WARNING,
			    "user=%s has no uid in the passwd-file: "
			    "the maildrop is read as root",
			    u->name);
		return 0;
	}
	*why = "cannot take the entry's uid and gid";
	/* Checked at the login already; the same rule again, here too. */
	if (!identity_usable(u))
		return -1;
	/* Not root: the entry's uid and gid are already ours. */
	if (geteuid() != 0)
		return 0;
	/*
	 * Root's descriptor of the passwd-file is not carried into the
	 * user's identity; once the identity has begun to change, no other
	 * login is checked against it either.
	 */
	close_passwd_file(l);
	seam_point("become-user");
	if (seam_fail("login.setgroups") || login_set_groups(u) == -1)
		return -1;
	if (auth->establish != NULL && auth->establish(&l->auth, why) == -1)
		return -1;
	*why = "cannot take the entry's uid and gid";
	if (setgid(u->gid) == -1 || setuid(u->uid) == -1)
		return -1;
	if (setuid(0) != -1)
		return -1;
	return 0;
}

static enum login_result
login_failed(struct login *l, const char *reason)
{
	log_msg(LOG_NOTICE | LOG_AUTHPRIV,
	    "login failed user=%s peer=%s reason=%s", l->user, l->cfg->peer,
	    reason);
	log_msg(LOG_NOTICE, "login failed user=%s peer=%s reason=%s", l->user,
	    l->cfg->peer, reason);
	l->user[0] = '\0';
	return LOGIN_REFUSED;
}

/*
 * Opens the state directory of the account NAME and takes the session lock
 * in it. The directory was prepared by root when pop2d changed identity.
 */
static enum login_result
open_state(struct login *l, const char *name)
{
	const char *dir = l->cfg->state_dir;

	l->statefd = state_open(dir, name);
	if (l->statefd == -1) {
		log_msg(LOG_ERR,
		    "user=%s reason=state directory %s/%s unusable: %s",
		    l->user, dir, l->user, strerror(errno));
		return LOGIN_STATE_UNUSABLE;
	}
	l->sessionfd = lock_session(l->statefd);
	if (l->sessionfd == -1) {
		if (errno == EWOULDBLOCK) {
			log_msg(LOG_NOTICE,
			    "user=%s reason=another session is open", l->user);
			return LOGIN_IN_USE;
		}
		log_msg(LOG_ERR, "user=%s reason=session lock: %s", l->user,
		    strerror(errno));
		return LOGIN_STATE_UNUSABLE;
	}
	return LOGIN_OK;
}

/* Ends the login's business with its source (PAM's handle). */
static void
end_auth(struct login *l)
{
	if (l->cfg->auth->end != NULL)
		l->cfg->auth->end(&l->auth);
}

/*
 * Expands the maildrop and folder directory templates for U into *INBOX
 * and *FOLDERS (NULL without a usable folder directory: only INBOX can be
 * selected then), which the caller frees.
 */
static enum login_result
expand_paths(const struct login *l, const struct auth_user *u, char **inbox,
    char **folders)
{
	const struct login_config *cfg = l->cfg;

	*folders = NULL;
	if (util_expand(inbox, cfg->maildrop, u->name, u->home) == -1) {
		log_msg(LOG_ERR,
		    "user=%s reason=maildrop template cannot be expanded: %s",
		    l->user, strerror(errno));
		return LOGIN_MAILDROP_UNUSABLE;
	}
	if (util_expand(folders, cfg->folder_dir, u->name, u->home) == -1 &&
	    errno == ENOMEM) {
		log_msg(LOG_ERR,
		    "user=%s reason=folder directory template cannot be "
		    "expanded: %s",
		    l->user, strerror(errno));
		free(*inbox);
		*inbox = NULL;
		return LOGIN_MAILDROP_UNUSABLE;
	}
	return LOGIN_OK;
}

/* Opens the maildrop and folders of U, finishes a commit left, reads INBOX. */
static enum login_result
open_store(struct login *l, const struct auth_user *u, size_t *count)
{
	const struct login_config *cfg = l->cfg;
	struct store_recovery rec;
	char *inbox, *folders;
	enum login_result res;
	int r, e;

	if ((res = expand_paths(l, u, &inbox, &folders)) != LOGIN_OK)
		return res;
	r = store_init(&l->store, inbox, folders, l->statefd, cfg->lock_helper);
	e = errno;
	free(folders);
	if (r == -1) {
		log_msg(LOG_ERR, "user=%s reason=cannot read maildrop %s: %s",
		    l->user, inbox, strerror(e));
		free(inbox);
		return LOGIN_MAILDROP_UNUSABLE;
	}
	l->store.journal_max = cfg->journal_max;
	l->have_store = true;
	r = store_recover(&l->store, geteuid(), &rec);
	e = errno;
	login_log_recovery(cfg->state_dir, "", l->user, &l->store, &rec, r, e);
	store_recovery_free(&rec);
	if (r == -1) {
		log_msg(LOG_ERR,
		    "user=%s reason=cannot finish an interrupted commit: %s",
		    l->user, strerror(e));
		res = e == ETIMEDOUT ? LOGIN_MAILDROP_BUSY
				     : LOGIN_MAILDROP_UNUSABLE;
	} else if (store_select_inbox(&l->store, count) == -1) {
		e = errno;
		login_log_store_failure(
		    l->user, &l->store, "cannot read maildrop", inbox, e);
		res = e == ETIMEDOUT ? LOGIN_MAILDROP_BUSY
				     : LOGIN_MAILDROP_UNUSABLE;
	}
	free(inbox);
	return res;
}

enum login_result
login_run(struct login *l, const char *user, char *password, size_t *count)
{
	const struct login_config *cfg = l->cfg;
	const char *reason = NULL;
	enum login_result res;
	enum auth_result ar;
	struct auth_user u;

	/* The client's name reaches the log only escaped. */
	log_escape(l->user, sizeof(l->user), user);
	l->auth = (struct auth_login){ .cfg = cfg->auth_cfg };
	ar = cfg->auth->verify(&l->auth, user, password, &u, &reason);
	util_wipe(password, strlen(password));
	if (ar != AUTH_OK)
		return login_failed(l, reason != NULL ? reason : "denied");
	/* The account's own spelling names its state directory and the log. */
	log_escape(l->user, sizeof(l->user), u.name);
	/* No state is made for a login that cannot go on. */
	if (!identity_usable(&u)) {
		end_auth(l);
		return login_failed(l, "cannot take the entry's uid and gid");
	}
	if (prepare_state(l, &u) == -1) {
		end_auth(l);
		return LOGIN_STATE_UNUSABLE;
	}
	if (become_user(l, &u, &reason) == -1) {
		end_auth(l);
		return login_failed(l, reason);
	}
	end_auth(l);
	close_passwd_file(l);
	if ((res = open_state(l, u.name)) != LOGIN_OK)
		return res;
	if ((res = open_store(l, &u, count)) != LOGIN_OK)
		return res;
	log_msg(LOG_INFO, "login user=%s peer=%s messages=%zu", l->user,
	    cfg->peer, *count);
	return LOGIN_OK;
}
