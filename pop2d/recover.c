/*
 * recover: pop2d --recover-all (see recover.h). Root reads the state
 * directory and the accounts; no user's journal is read but by a child
 * that has taken that user's identity.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "lock.h"
#include "log.h"
#include "login.h"
#include "passwd.h"
#include "recover.h"
#include "seam.h"
#include "state.h"
#include "store.h"
#include "util.h"

/*
 * Takes on identity U for good, with the supplementary groups a session
 * of that user has (login_set_groups()). Proven by a failing setuid(0).
 */
static int
become(const struct auth_user *u)
{
	if (seam_fail("recover.setgroups") || login_set_groups(u) == -1 ||
	    setgid(u->gid) == -1 || setuid(u->uid) == -1)
		return -1;
	return setuid(0) != -1 ? -1 : 0;
}

/* What recover_one() did for one user; also its child's exit status. */
enum recovery_outcome {
	RECOVERY_NOTHING = 0,	/* no journal */
	RECOVERY_SET_ASIDE = 1, /* the maildrop was rewritten: data set aside */
	RECOVERY_FAILED = 2,
	RECOVERY_FINISHED = 3, /* an interrupted commit was finished */
	RECOVERY_SKIPPED = 4,  /* a session runs, and recovered at its login */
	RECOVERY_REFUSED = 5,  /* the journal was refused and kept aside */
};

/*
 * The identity a session of the user NAME of the passwd-file ran with, and
 * the home directory, into *U. An entry with a uid is that uid with the
 * entry's gid alone, whether or not the uid is also a system account's. An
 * entry without one kept the identity pop2d ran as (root, or a service
 * account), which is the state folder's owner (status SB): a session can
 * use no other. Returns 0, or -1 with *WHY.
 */
static int
passwd_file_user(const struct recover_config *o, const char *name,
    const struct stat *sb, struct auth_user *u, const char **why)
{
	struct passwd_entry e;
	struct passwd *pw;

	if (passwd_lookup(o->passwd_fd, name, &e, NULL, NULL) != 1) {
		*why = "no such user in the passwd-file";
		return -1;
	}
	util_wipe(e.hash, sizeof(e.hash));
	util_strlcpy(u->home, e.home, sizeof(u->home));
	if (e.has_uid) {
		util_strlcpy(u->name, name, sizeof(u->name));
		u->change_id = true;
		u->system = false;
		u->uid = e.uid;
		u->gid = e.gid;
		return 0;
	}
	u->change_id = sb->st_uid != 0;
	u->uid = sb->st_uid;
	/* A service account's own groups, as it was started with. */
	/* cppcheck-suppress getpwuidCalled ; pop2d has one thread */
	pw = getpwuid(sb->st_uid);
	u->system = pw != NULL;
	util_strlcpy(u->name, pw != NULL ? pw->pw_name : name, sizeof(u->name));
	u->gid = pw != NULL ? pw->pw_gid : sb->st_gid;
	return 0;
}

/*
 * The identity, maildrop and folder directory of the user whose state
 * folder NAME has status SB, as a login of theirs would have them: from
 * the passwd-file when there is one, else from the system's accounts. The
 * folder must belong to the uid the session ran as. Returns 0 with the
 * expanded templates in *INBOX and *FOLDERS (NULL when the folder
 * directory's template cannot be expanded), which the caller frees, or -1 with
 * *WHY.
 */
static int
user_account(const struct recover_config *o, const char *name,
    const struct stat *sb, struct auth_user *u, char **inbox, char **folders,
    const char **why)
{
	memset(u, 0, sizeof(*u));
	if (o->passwd_fd != -1) {
		if (passwd_file_user(o, name, sb, u, why) == -1)
			return -1;
	} else {
		/* cppcheck-suppress getpwnamCalled ; pop2d has one thread */
		struct passwd *pw = getpwnam(name);

		if (pw == NULL) {
			*why = "no such account";
			return -1;
		}
		util_strlcpy(u->name, pw->pw_name, sizeof(u->name));
		util_strlcpy(u->home, pw->pw_dir != NULL ? pw->pw_dir : "",
		    sizeof(u->home));
		u->change_id = true;
		u->system = true;
		u->uid = pw->pw_uid;
		u->gid = pw->pw_gid;
	}
	if (u->uid != sb->st_uid) {
		*why = "the directory's owner is not the account's uid";
		return -1;
	}
	if (util_expand(inbox, o->maildrop, name, u->home) == -1) {
		*why = errno == ENOMEM
		    ? "out of memory"
		    : "the maildrop template cannot be expanded";
		return -1;
	}
	if (util_expand(folders, o->folder_dir, name, u->home) == -1 &&
	    errno == ENOMEM) {
		free(*inbox);
		*inbox = NULL;
		*why = "out of memory";
		return -1;
	}
	return 0;
}

/* Whether the state folder NAME in TOP holds a journal (only looked at). */
static bool
has_journal(int top, const char *name)
{
	int dfd;
	bool r;

	dfd =
	    openat(top, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1)
		return errno != ENOENT;
	r = commit_journal_present(dfd) != 0;
	close(dfd);
	return r;
}

/*
 * Finishes the interrupted commit of user NAME in a child that has taken
 * that user's identity, since the journal is the user's own file and must
 * not steer root's writes. Root's descriptors of the passwd-file and of
 * the state directory TOP are closed before: the user's process keeps none.
 */
static void __attribute__((noreturn))
recover_child(const struct recover_config *o, int top, const char *name,
    const char *inbox, const char *folders, const struct auth_user *u)
{
	struct store_recovery rec;
	struct store st;
	int statefd, sessionfd, r;

	if (o->passwd_fd != -1)
		(void)close(o->passwd_fd);
	(void)close(top);
	if (geteuid() == 0 && u->change_id && u->uid != 0 && become(u) == -1) {
		log_msg(LOG_ERR,
		    "recover user=%s outcome=failed: cannot take the "
		    "identity of uid %ld",
		    name, (long)u->uid);
		_exit(RECOVERY_FAILED);
	}
	statefd = state_open(o->state_dir, name);
	if (statefd == -1) {
		log_msg(LOG_ERR,
		    "recover user=%s outcome=failed: state directory "
		    "%s/%s unusable: %s",
		    name, o->state_dir, name, strerror(errno));
		_exit(RECOVERY_FAILED);
	}
	sessionfd = lock_session(statefd);
	if (sessionfd == -1 && errno == EWOULDBLOCK) {
		/* That session finished any interrupted commit at its login. */
		log_msg(LOG_INFO,
		    "recover user=%s outcome=skipped: a session is running",
		    name);
		_exit(RECOVERY_SKIPPED);
	}
	if (sessionfd == -1) {
		log_msg(LOG_ERR,
		    "recover user=%s outcome=failed: session lock: %s", name,
		    strerror(errno));
		_exit(RECOVERY_FAILED);
	}
	if (store_init(&st, inbox, folders, statefd, o->lock_helper) == -1) {
		log_msg(LOG_ERR, "recover user=%s outcome=failed: %s", name,
		    strerror(errno));
		_exit(RECOVERY_FAILED);
	}
	st.journal_max = o->journal_max;
	r = store_recover(&st, geteuid(), &rec);
	login_log_recovery(o->state_dir, "recover ", name, &st, &rec, r, errno);
	switch (r) {
	case 0:
		_exit(rec.size != -1 ? RECOVERY_FINISHED : RECOVERY_NOTHING);
	case 1:
		_exit(RECOVERY_SET_ASIDE);
	case 2:
		_exit(RECOVERY_REFUSED);
	default:
		_exit(RECOVERY_FAILED);
	}
}

/*
 * Waits for the recovery child PID for at most SECONDS, SIGCHLD being
 * blocked; then kills it. Returns its wait status, or -1.
 */
static int
wait_bounded(pid_t pid, unsigned long seconds, bool *killed)
{
	long long deadline = util_now_ms() + (long long)seconds * 1000;
	struct timespec ts;
	sigset_t chld;
	long long left;
	int status;
	pid_t r;

	*killed = false;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		/* WNOHANG: it never sleeps, so no signal interrupts it. */
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r == -1)
			return -1;
		if ((left = deadline - util_now_ms()) <= 0)
			break;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		(void)sigtimedwait(&chld, NULL, &ts);
	}
	*killed = true;
	(void)kill(pid, SIGKILL);
	while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	return r == pid ? status : -1;
}

/*
 * Finishes the interrupted commit of the user whose state directory is
 * NAME in TOP, in a child bounded by -t. Returns what it did; each outcome
 * is logged.
 */
static enum recovery_outcome
recover_one(const struct recover_config *o, int top, const char *name,
    const struct stat *sb)
{
	char *inbox = NULL, *folders = NULL;
	struct auth_user u;
	const char *why;
	sigset_t chld, old;
	bool killed;
	pid_t pid;
	int status;

	/* Before the fork: root reads the passwd-file. */
	if (user_account(o, name, sb, &u, &inbox, &folders, &why) == -1) {
		/* A former user's folder without a journal is no failure. */
		if (!has_journal(top, name))
			return RECOVERY_NOTHING;
		log_msg(LOG_ERR, "recover user=%s: journal left alone: %s",
		    name, why);
		return RECOVERY_FAILED;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid = seam_fail("recover.fork") ? -1 : fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		recover_child(o, top, name, inbox, folders, &u);
	}
	free(inbox);
	free(folders);
	status = pid == -1 ? -1 : wait_bounded(pid, o->seconds, &killed);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1 || status == -1) {
		log_msg(LOG_ERR,
		    "recover user=%s outcome=failed: cannot %s the recovery "
		    "process: %s; the journal stays for the next login",
		    name, pid == -1 ? "start" : "wait for", strerror(errno));
		return RECOVERY_FAILED;
	}
	if (killed) {
		log_msg(LOG_ERR,
		    "recover user=%s: killed after %lu seconds (-t); the "
		    "journal stays for the next login",
		    name, o->seconds);
		return RECOVERY_FAILED;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) > RECOVERY_REFUSED) {
		log_msg(LOG_ERR,
		    "recover user=%s outcome=failed: the recovery "
		    "process ended abnormally",
		    name);
		return RECOVERY_FAILED;
	}
	return (enum recovery_outcome)WEXITSTATUS(status);
}

/*
 * Whether NAME in TOP can be a user's state folder, with its status in *SB:
 * a directory (not a symbolic link) whose name is neither "." nor ".."
 * and has no ':', which separates every passwd format's fields (the
 * .passwd-seen records have one). A name beginning with "." is a user's
 * like any other.
 */
static bool
state_folder(int top, const char *name, struct stat *sb)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, ':') != NULL)
		return false;
	return fstatat(top, name, sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb->st_mode);
}

int
recover_all(const struct recover_config *o)
{
	unsigned long count[RECOVERY_REFUSED + 1] = { 0 };
	unsigned long users = 0, bad;
	struct dirent *de;
	DIR *dir;
	int top;

	top =
	    open(o->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top == -1 || seam_fail("recover.opendir") ||
	    (dir = fdopendir(top)) == NULL) {
		if (top != -1)
			util_close_keep_errno(top);
		log_msg(
		    LOG_ERR, "recover: %s: %s", o->state_dir, strerror(errno));
		fprintf(
		    stderr, "pop2d: %s: %s\n", o->state_dir, strerror(errno));
		return 1;
	}
	/* cppcheck-suppress readdirCalled ; pop2d has one thread */
	while ((de = readdir(dir)) != NULL) {
		enum recovery_outcome r;
		struct stat sb;

		if (!state_folder(dirfd(dir), de->d_name, &sb))
			continue;
		users++;
		r = recover_one(o, dirfd(dir), de->d_name, &sb);
		count[r]++;
		if (r == RECOVERY_FAILED)
			fprintf(stderr,
			    "pop2d: %s/%s: recovery failed (see the log)\n",
			    o->state_dir, de->d_name);
		else if (r == RECOVERY_SET_ASIDE)
			fprintf(stderr,
			    "pop2d: %s/%s: maildrop rewritten by another "
			    "program; "
			    "data saved in %s\n",
			    o->state_dir, de->d_name, COMMIT_RECOVERED);
		else if (r == RECOVERY_REFUSED)
			fprintf(stderr,
			    "pop2d: %s/%s: journal refused and kept aside, "
			    "nothing changed (see the log)\n",
			    o->state_dir, de->d_name);
	}
	closedir(dir);
	bad = count[RECOVERY_FAILED] + count[RECOVERY_SET_ASIDE] +
	    count[RECOVERY_REFUSED];
	printf(
	    "pop2d: recovery: %lu users, %lu commits finished, %lu set aside, "
	    "%lu refused, %lu failed, %lu skipped (session running)\n",
	    users, count[RECOVERY_FINISHED], count[RECOVERY_SET_ASIDE],
	    count[RECOVERY_REFUSED], count[RECOVERY_FAILED],
	    count[RECOVERY_SKIPPED]);
	log_msg(bad > 0 ? LOG_ERR : LOG_INFO,
	    "recover-all users=%lu finished=%lu "
	    "set_aside=%lu refused=%lu failed=%lu skipped=%lu",
	    users, count[RECOVERY_FINISHED], count[RECOVERY_SET_ASIDE],
	    count[RECOVERY_REFUSED], count[RECOVERY_FAILED],
	    count[RECOVERY_SKIPPED]);
	if (fflush(stdout) == EOF)
		return 1;
	return bad > 0 ? 1 : 0;
}
