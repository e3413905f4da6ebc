/*
 * pop2d: one POP2 session on standard input and output.
 *
 * This file owns everything that touches the process: options, identity,
 * limits, signals, timeouts and the single way out. The protocol lives in
 * session.c and the folders in store.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "auth_source.h"
#include "commit.h"
#include "io.h"
#include "line.h"
#include "lock.h"
#include "log.h"
#include "passwd.h"
#include "proxy.h"
#include "seam.h"
#include "session.h"
#include "state.h"
#include "store.h"
#include "util.h"

#define EXIT_USAGE 2
/* A refused login is answered this long after its HELO arrived (SPEC §5). */
#define LOGIN_DEADLINE_MS 2000
#define DEFAULT_STATE_DIR "/var/lib/pop2d"

struct options {
	const char *passwd_file;
	const char *pam_service;
	const char *maildrop;
	const char *folder_dir;
	const char *state_dir;
	const char *lock_helper;
	const char *hostname;
	const char *proxy_list; /* -H, parsed with the other configuration */
	unsigned long idle_seconds;
	unsigned long login_seconds;
	bool lock_helper_given;
	bool debug;
	bool recover_all;
	char error[1024]; /* the first configuration error, or "" */
	bool usage_error; /* it is a bad command line: show the usage */
};

/* Everything one session holds; main() owns the only instance. */
struct server {
	struct options opt;
	int passwd_fd;
	struct auth_source_config auth_cfg;
	const struct auth_source *auth; /* chosen once, before the greeting */
	struct auth_login login;
	struct io io;
	struct line_reader lr;
	struct session session;
	struct session_backend backend;
	struct store store;
	bool have_store;
	int statefd;   /* the user's state directory */
	int sessionfd; /* holds L0 for the whole session */
	char user[LOG_FIELD_MAX]; /* for the log: escaped by log_escape() */
	/* The client as set_peer() names it: "ADDR port N" for the log, ADDR alone. */
	char peer[INET6_ADDRSTRLEN + 16];
	char peer_host[INET6_ADDRSTRLEN];
	/* The connection's own peer, from getpeername(); len 0 if not a socket. */
	struct sockaddr_storage conn_peer;
	socklen_t conn_peer_len;
	struct proxy_nets proxy_nets;
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pop2d [-p passwd-file] [-P pam-service] [-m maildrop-template]\n"
	    "             [-F folder-dir-template] [-S state-dir] [-t idle-seconds]\n"
	    "             [-T login-seconds] [-n hostname] [-L lock-helper]\n"
	    "             [-H proxy-networks] [-d] [-V] [-h]\n"
	    "       pop2d --recover-all [-d] [-p passwd-file] [-m maildrop-template]\n"
	    "             [-F folder-dir-template] [-S state-dir] [-L lock-helper]\n"
	    "             [-t seconds]\n");
}

/*
 * Keeps the first configuration error: it is reported once the log is
 * open, by config_fail(). A bad command line also shows the usage.
 */
static void __attribute__((format(printf, 3, 4)))
bad_config(struct options *o, bool usage_err, const char *fmt, ...)
{
	va_list ap;

	if (o->error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(o->error, sizeof(o->error), fmt, ap);
	va_end(ap);
	o->usage_error = usage_err;
}

static bool
is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * A configuration error ends pop2d before it serves anyone (SPEC §6): the
 * log gets the path and the fix at mail.err; standard error gets it too
 * unless that may be the client's connection (inetd and xinetd give the
 * socket as 0, 1 and 2); the client gets a reply without paths.
 */
static void __attribute__((noreturn))
config_fail(const struct options *o)
{
	struct session_out out;

	session_fail(NULL, SESSION_ERR_UNAVAILABLE, &out);
	log_msg(LOG_ERR, "configuration error: %s", o->error);
	if (!o->debug && !is_socket(STDIN_FILENO) && !is_socket(STDOUT_FILENO)) {
		fprintf(stderr, "pop2d: %s\n", o->error);
		if (o->usage_error)
			usage(stderr);
	}
	if (!o->recover_all)
		(void)!write(STDOUT_FILENO, out.reply, out.len);
	exit(EXIT_USAGE);
}

static unsigned long
parse_seconds(struct options *o, const char *arg, char opt)
{
	unsigned long v;

	if (util_parse_ulong(arg, 1, 86400, &v) == -1) {
		bad_config(o, true, "-%c %s: not a number of seconds from 1 to 86400",
		    opt, arg);
		return 60;
	}
	return v;
}

static const char *
absolute_path(struct options *o, const char *arg, char opt, const char *dflt)
{
	if (arg[0] != '/') {
		bad_config(o, true, "-%c %s: not an absolute path: give one beginning with /",
		    opt, arg);
		return dflt;
	}
	return arg;
}

static const char *
path_template(struct options *o, const char *arg, char opt, const char *dflt)
{
	const char *path = arg;

	/* Only the maildrop may be a Maildir; its folders live inside it. */
	if (opt == 'm' && strncmp(arg, "maildir:", 8) == 0)
		path = arg + 8;
	if (path[0] != '/' && strncmp(path, "%h", 2) != 0) {
		bad_config(o, true, "-%c %s: must be an absolute path or start with %%h",
		    opt, arg);
		return dflt;
	}
	if (util_template_check(arg) == -1) {
		bad_config(o, true, "-%c %s: bad template (only %%u, %%h and %%%% may follow %%)",
		    opt, arg);
		return dflt;
	}
	return arg;
}

static const char *
host_name(struct options *o, const char *arg)
{
	const char *p;

	if (arg[0] == '\0' || strlen(arg) > 255) {
		bad_config(o, true, "-n %s: a host name of 1 to 255 characters is needed", arg);
		return NULL;
	}
	for (p = arg; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			bad_config(o, true, "-n: a host name may not contain spaces or "
			    "control characters");
			return NULL;
		}
	return arg;
}

/* A PAM service is a file name in /etc/pam.d: no '/', not hidden. */
static const char *
pam_service(struct options *o, const char *arg)
{
	const char *p;

	if (!auth_source_have_pam()) {
		bad_config(o, true, "-P %s: pop2d was built without PAM", arg);
		return NULL;
	}
	if (arg[0] == '\0' || arg[0] == '.' || strlen(arg) > 255) {
		bad_config(o, true, "-P %s: a PAM service name of 1 to 255 characters "
		    "is needed, not beginning with '.'", arg);
		return NULL;
	}
	for (p = arg; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '.' && *p != '_' && *p != '-') {
			bad_config(o, true, "-P %s: a PAM service name has only letters, "
			    "digits, '.', '_' and '-'", arg);
			return NULL;
		}
	return arg;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "recover-all", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->pam_service = "pop2";
	o->maildrop = "/var/mail/%u";
	o->folder_dir = "%h";
	o->state_dir = DEFAULT_STATE_DIR;
	o->lock_helper = LOCK_HELPER;
	o->idle_seconds = 600;
	o->login_seconds = 60;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":p:P:m:F:S:t:T:n:L:H:dVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p':
			o->passwd_file = optarg;
			break;
		case 'P':
			o->pam_service = pam_service(o, optarg);
			break;
		case 'm':
			o->maildrop = path_template(o, optarg, 'm', o->maildrop);
			break;
		case 'F':
			o->folder_dir = path_template(o, optarg, 'F', o->folder_dir);
			break;
		case 'S':
			o->state_dir = absolute_path(o, optarg, 'S', o->state_dir);
			break;
		case 'L':
			o->lock_helper = absolute_path(o, optarg, 'L', o->lock_helper);
			o->lock_helper_given = true;
			break;
		case 't':
			o->idle_seconds = parse_seconds(o, optarg, 't');
			break;
		case 'T':
			o->login_seconds = parse_seconds(o, optarg, 'T');
			break;
		case 'n':
			o->hostname = host_name(o, optarg);
			break;
		case 'H':
			o->proxy_list = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'R':
			o->recover_all = true;
			break;
		case 'V':
			printf("pop2d %s\n", PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			bad_config(o, true, "option -%c needs an argument", optopt);
			break;
		default:
			if (optopt != 0)
				bad_config(o, true, "unknown option -%c", optopt);
			else
				bad_config(o, true, "unknown option %s", argv[optind - 1]);
			break;
		}
	}
	if (optind < argc)
		bad_config(o, true, "unexpected argument %s", argv[optind]);
}

/* Writes the session's reply, if any. Returns 0, or -1 with errno. */
static int
send_reply(struct server *sv, const struct session_out *out)
{
	if (out->len == 0)
		return 0;
	if (io_put(&sv->io, out->reply, out->len) == -1)
		return -1;
	return io_flush(&sv->io);
}

/*
 * The one way a session ends: a last reply if the peer can still hear it,
 * one log line, and exit. Nothing is committed here.
 */
static void __attribute__((noreturn))
finish(struct server *sv, const struct session_out *last, const char *reason)
{
	/* Only a session closed by QUIT ends well; the rest exit 1. */
	int status = last != NULL && last->len > 0 && last->reply[0] == '+' ? 0 : 1;

	if (last != NULL && send_reply(sv, last) == -1)
		status = 1;
	line_wipe(&sv->lr);
	/* Deletions count once committed: a cut-short session deleted none. */
	log_msg(LOG_INFO,
	    "session end user=%s reason=%s retrieved=%lu deleted=%lu "
	    "octets=%llu deleted_octets=%llu peer=%s",
	    sv->user[0] != '\0' ? sv->user : "-", reason,
	    sv->have_store ? sv->store.sent_messages : 0,
	    sv->have_store ? sv->store.deleted_total : 0,
	    sv->have_store ? sv->store.sent_octets : 0ULL,
	    sv->have_store ? sv->store.deleted_octets_total : 0ULL, sv->peer);
	if (sv->have_store)
		store_close(&sv->store);
	if (close(STDOUT_FILENO) == -1 && errno != EBADF && status == 0)
		status = 1;
	exit(status);
}

/*
 * Names the client from now on, in every log line's peer= and in
 * sv->peer_host (the address alone, for PAM_RHOST): the one place that
 * says who the client is. SA is the connection's peer, or the source a
 * PROXY header gave. A dual-stack socket (systemd's ListenStream=109)
 * accepts an IPv4 client as ::ffff:a.b.c.d: it is named as the IPv4
 * address it is. Any other family leaves the client "local".
 */
static void
set_peer(struct server *sv, const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned port;

	util_strlcpy(sv->peer, "local", sizeof(sv->peer));
	sv->peer_host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], addr,
			    sizeof(addr));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		port = ntohs(sin6->sin6_port);
	} else {
		return;
	}
	util_strlcpy(sv->peer_host, addr, sizeof(sv->peer_host));
	snprintf(sv->peer, sizeof(sv->peer), "%s port %u", addr, port);
}

/*
 * What the lock helper's failure in REPORT says, for a log line, in BUF
 * (empty when the helper was not involved): its path, its exit status,
 * its own reason, and what kept it from gaining group mail.
 */
static const char *
describe_lock_helper(const struct lock_helper_report *report,
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

/* Logs that WHAT failed on PATH with errno ERR, and why the helper failed. */
static void
log_store_failure(const char *user, const struct store *st, const char *what,
    const char *path, int err)
{
	char helper[1024];

	log_msg(LOG_ERR, "user=%s reason=%s %s: %s%s", user, what, path,
	    strerror(err),
	    describe_lock_helper(
		&st->lock_report, st->helper, helper, sizeof(helper)));
}

/* The connection's own peer, before any PROXY header is read. */
static void
describe_peer(struct server *sv)
{
	struct sockaddr_storage *ss = &sv->conn_peer;

	sv->conn_peer_len = sizeof(*ss);
	if (getpeername(STDIN_FILENO, (struct sockaddr *)ss, &sv->conn_peer_len) == -1) {
		memset(ss, 0, sizeof(*ss));
		sv->conn_peer_len = 0;
	}
	set_peer(sv, (const struct sockaddr *)ss);
}

/* As root, gives the user a state directory of their own before the switch. */
static int
prepare_state(const struct server *sv, const struct auth_user *u)
{
	if (geteuid() != 0 || !u->change_id)
		return 0;
	if (state_prepare(sv->opt.state_dir, u->name, u->uid, u->gid) == -1) {
		if (errno == EPERM)
			log_msg(LOG_ERR, "user=%s reason=state directory %s/%s "
			    "belongs to another uid: not adopted; remove it, or "
			    "give it to the user if it is theirs", sv->user,
			    sv->opt.state_dir, sv->user);
		else
			log_msg(LOG_ERR, "user=%s reason=cannot prepare %s/%s: "
			    "%s", sv->user, sv->opt.state_dir, sv->user,
			    strerror(errno));
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

/*
 * Takes on the user's identity for good; proven by a failing setuid(0).
 * The login's source establishes its credentials (PAM's pam_setcred) once
 * the groups are the user's, while root may still change them.
 */
static int
become_user(struct server *sv, const struct auth_user *u, const char **why)
{
	if (!u->change_id) {
		/* SPEC §5: an entry without uid/gid keeps pop2d's identity. */
		if (geteuid() == 0)
			log_msg(LOG_WARNING, "user=%s has no uid in the passwd-file: "
			    "the maildrop is read as root", u->name);
		return 0;
	}
	*why = "cannot take the entry's uid and gid";
	if (u->uid == 0)
		return -1;
	if (geteuid() != 0)
		return u->uid == geteuid() && u->gid == getegid() ? 0 : -1;
	/* A passwd-file user need not be in the group database. */
	if ((u->system ? initgroups(u->name, u->gid) : setgroups(1, &u->gid)) == -1)
		return -1;
	if (sv->auth->establish != NULL && sv->auth->establish(&sv->login, why) == -1)
		return -1;
	*why = "cannot take the entry's uid and gid";
	if (setgid(u->gid) == -1 || setuid(u->uid) == -1)
		return -1;
	if (setuid(0) != -1)
		return -1;
	return 0;
}

static void
login_failed(struct server *sv, const char *reason)
{
	log_msg(LOG_NOTICE | LOG_AUTHPRIV, "login failed user=%s peer=%s reason=%s",
	    sv->user, sv->peer, reason);
	log_msg(LOG_NOTICE, "login failed user=%s peer=%s reason=%s",
	    sv->user, sv->peer, reason);
	sv->user[0] = '\0';
}

/*
 * Opens the state directory of the account NAME and takes the session lock
 * in it. The directory was prepared by root when pop2d changed identity.
 */
static enum session_error
open_state(struct server *sv, const char *name)
{
	sv->statefd = state_open(sv->opt.state_dir, name);
	if (sv->statefd == -1) {
		log_msg(LOG_ERR, "user=%s reason=state directory %s/%s unusable: %s",
		    sv->user, sv->opt.state_dir, sv->user, strerror(errno));
		return SESSION_ERR_STATE_UNUSABLE;
	}
	sv->sessionfd = lock_session(sv->statefd);
	if (sv->sessionfd == -1) {
		if (errno == EWOULDBLOCK) {
			log_msg(LOG_NOTICE, "user=%s reason=another session is open",
			    sv->user);
			return SESSION_ERR_IN_USE;
		}
		log_msg(LOG_ERR, "user=%s reason=session lock: %s", sv->user,
		    strerror(errno));
		return SESSION_ERR_STATE_UNUSABLE;
	}
	return SESSION_OK;
}

/*
 * Logs what store_recover() found for USER (TAG: "" at a login, "recover "
 * for --recover-all); R is its result, ERR its errno, ST the store it ran
 * on (for the lock helper's report). Each outcome is one "recover user="
 * line, at a login as well.
 */
static void
log_recovery(const struct options *o, const char *tag, const char *user,
    const struct store *st, struct store_recovery *rec, int r, int err)
{
	/* The journal's path comes from a user's file: escaped like a client's. */
	char path[1024], helper[1024];
	const char *folder = rec->path[0] != '\0'
	    ? log_escape(path, sizeof(path), rec->path) : "-";

	if (r != -1 && rec->leftovers > 0)
		log_msg(LOG_NOTICE, "%suser=%s removed %d temporary file(s) left in "
		    "%s/%s by a killed commit", tag, user, rec->leftovers,
		    o->state_dir, user);
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
		    user, folder, o->state_dir, user, COMMIT_RECOVERED);
	else if (r == 2)
		log_msg(LOG_CRIT,
		    "%suser=%s journal %s/%s/%s refused (%s%s%s): kept "
		    "as %s, not followed, nothing was changed",
		    tag, user, o->state_dir, user, COMMIT_JOURNAL, rec->refused,
		    rec->path[0] != '\0' ? ": " : "",
		    rec->path[0] != '\0' ? folder : "", rec->aside);
	else if (r == -1)
		log_msg(LOG_ERR,
		    "recover user=%s maildrop=%s outcome=failed: %s%s", user,
		    folder, strerror(err),
		    describe_lock_helper(
			&st->lock_report, st->helper, helper, sizeof(helper)));
}

/* Ends the login's business with its source (PAM's handle). */
static void
end_auth(struct server *sv)
{
	if (sv->auth->end != NULL)
		sv->auth->end(&sv->login);
}

static enum session_error
backend_login(void *arg, const char *user, char *password, size_t *count)
{
	struct server *sv = arg;
	struct auth_user u;
	const char *reason = NULL;
	char inbox[4096], folders[4096];
	struct store_recovery rec;
	enum auth_result ar;
	enum session_error res;
	int r, e;

	/* The client's name reaches the log only escaped. */
	log_escape(sv->user, sizeof(sv->user), user);
	sv->login = (struct auth_login){ .cfg = &sv->auth_cfg };
	ar = sv->auth->verify(&sv->login, user, password, &u, &reason);
	util_wipe(password, strlen(password));
	if (ar != AUTH_OK) {
		login_failed(sv, reason != NULL ? reason : "denied");
		return SESSION_ERR_BAD_LOGIN;
	}
	/* The account's own spelling names its state directory and the log. */
	log_escape(sv->user, sizeof(sv->user), u.name);
	/* No state is made for a login that cannot go on. */
	if (!identity_usable(&u)) {
		end_auth(sv);
		login_failed(sv, "cannot take the entry's uid and gid");
		return SESSION_ERR_BAD_LOGIN;
	}
	if (prepare_state(sv, &u) == -1) {
		end_auth(sv);
		return SESSION_ERR_STATE_UNUSABLE;
	}
	r = become_user(sv, &u, &reason);
	end_auth(sv);
	if (r == -1) {
		login_failed(sv, reason);
		return SESSION_ERR_BAD_LOGIN;
	}
	if (sv->passwd_fd != -1)
		close(sv->passwd_fd);
	sv->passwd_fd = -1;
	if ((res = open_state(sv, u.name)) != SESSION_OK)
		return res;
	if (util_expand(inbox, sizeof(inbox), sv->opt.maildrop, u.name, u.home) == -1) {
		log_msg(LOG_ERR, "user=%s reason=maildrop template cannot be expanded: %s",
		    sv->user, strerror(errno));
		return SESSION_ERR_MAILDROP_UNUSABLE;
	}
	/* Without a usable folder directory only INBOX can be selected. */
	if (util_expand(folders, sizeof(folders), sv->opt.folder_dir, u.name, u.home) == -1)
		folders[0] = '\0';
	if (store_init(&sv->store, inbox, folders[0] != '\0' ? folders : NULL,
	    sv->statefd, sv->opt.lock_helper) == -1)
		return SESSION_ERR_MAILDROP_UNUSABLE;
	sv->have_store = true;
	r = store_recover(&sv->store, geteuid(), &rec);
	e = errno;
	log_recovery(&sv->opt, "", sv->user, &sv->store, &rec, r, e);
	if (r == -1) {
		log_msg(LOG_ERR,
		    "user=%s reason=cannot finish an interrupted commit: %s",
		    sv->user, strerror(e));
		return e == ETIMEDOUT ? SESSION_ERR_MAILDROP_BUSY :
		    SESSION_ERR_MAILDROP_UNUSABLE;
	}
	if (store_select_inbox(&sv->store, count) == -1) {
		e = errno;
		log_store_failure(
		    sv->user, &sv->store, "cannot read maildrop", inbox, e);
		return e == ETIMEDOUT ? SESSION_ERR_MAILDROP_BUSY :
		    SESSION_ERR_MAILDROP_UNUSABLE;
	}
	log_msg(LOG_INFO, "login user=%s peer=%s messages=%zu", sv->user, sv->peer, *count);
	sv->io.timeout_ms = (int)sv->opt.idle_seconds * 1000;
	sv->io.deadline_ms = 0;
	return SESSION_OK;
}

static int
backend_commit(void *arg, const char **why)
{
	struct server *sv = arg;
	char path[4096];

	/* The folder's name, before a failure could unselect it. */
	util_strlcpy(path, sv->store.path, sizeof(path));
	if (store_commit(&sv->store, why) == -1) {
		log_store_failure(
		    sv->user, &sv->store, "commit failed on", path, errno);
		return -1;
	}
	return 0;
}

static int
backend_select(void *arg, const char *name, size_t *count)
{
	struct server *sv = arg;
	char folder[256], helper[1024];
	int e;

	if (store_select(&sv->store, name, count) == -1) {
		e = errno;
		log_msg(LOG_INFO,
		    "user=%s folder=%s refused or unreadable: %s%s", sv->user,
		    log_escape(folder, sizeof(folder), name), strerror(e),
		    describe_lock_helper(&sv->store.lock_report,
			sv->store.helper, helper, sizeof(helper)));
		return -1;
	}
	return 0;
}

static uint64_t
backend_size(void *arg, uint32_t n)
{
	struct server *sv = arg;

	return store_size(&sv->store, n);
}

static void
backend_mark_deleted(void *arg, uint32_t n)
{
	struct server *sv = arg;

	store_mark_deleted(&sv->store, n);
}

/*
 * Waits until the failed-login deadline: LOGIN_DEADLINE_MS after ARRIVED,
 * the moment the HELO line was read. Every refusal, whatever its kind and
 * whatever its password check cost, is answered at that instant, so the
 * reply time tells nothing; a check that outlasted the deadline cannot be
 * hidden, and is logged so that the operator learns of it.
 */
static void
wait_login_deadline(const struct timespec *arrived)
{
	long ms = seam_login_delay_ms(LOGIN_DEADLINE_MS);
	struct timespec until = *arrived, now;

	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > until.tv_sec ||
	    (now.tv_sec == until.tv_sec && now.tv_nsec > until.tv_nsec)) {
		log_msg(LOG_WARNING,
		    "login deadline of %ld ms missed by %lld ms: "
		    "the refusal's timing shows", ms,
		    (long long)(now.tv_sec - until.tv_sec) * 1000 +
		    (now.tv_nsec - until.tv_nsec) / 1000000);
		return;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
	    EINTR && !stop_signal)
		;
}

static void
setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Why reading a line ended the session, for the reply and the log. */
static void
end_on_line_status(struct server *sv, enum line_status st)
{
	struct session_out out;

	/* A signal caught as the input ended is still the reason. */
	if (stop_signal)
		finish(sv, NULL, "signal");
	switch (st) {
	case LINE_EOF:
	case LINE_PARTIAL:
		finish(sv, NULL, "EOF");
	case LINE_TOO_LONG:
		session_fail(&sv->session, SESSION_ERR_LINE_TOO_LONG, &out);
		finish(sv, &out, "line too long");
	case LINE_NUL:
		session_fail(&sv->session, SESSION_ERR_NUL_OCTET, &out);
		finish(sv, &out, "NUL in command");
	case LINE_ERROR:
	default:
		if (errno == ETIMEDOUT) {
			session_fail(&sv->session, SESSION_ERR_IDLE, &out);
			finish(sv, &out, "timeout");
		}
		if (errno == EINTR && stop_signal)
			finish(sv, NULL, "signal");
		finish(sv, NULL, "read error");
	}
}

/* RETR: the message's octets and nothing else, or the end of the session. */
static void
send_message(struct server *sv, uint32_t n)
{
	unsigned long long before = sv->io.put_total;
	long long deadline = sv->io.deadline_ms;
	struct session_out out;
	int r;

	/*
	 * The whole message must be taken within the idle limit, however the
	 * client spreads its reads: a trickle cannot stretch one RETR.
	 */
	sv->io.deadline_ms = io_now_ms() + (long long)sv->opt.idle_seconds * 1000;
	if (deadline != 0 && deadline < sv->io.deadline_ms)
		sv->io.deadline_ms = deadline;
	r = store_send(&sv->store, n, &sv->io);
	sv->io.deadline_ms = deadline;
	if (r == 0)
		return;
	if (stop_signal)
		finish(sv, NULL, "signal");
	if (errno == ESTALE) {
		/* Once part of the message went out, a reply would pass for data. */
		if (sv->io.put_total != before)
			finish(sv, NULL, "maildrop changed while the message was sent; cut short");
		session_fail(&sv->session, SESSION_ERR_MAILDROP_CHANGED, &out);
		finish(sv, &out, "maildrop changed");
	}
	finish(sv, NULL, errno == ETIMEDOUT ? "message not taken within the idle limit" : "write error");
}

/* Opens -p's file before the greeting: a bad one is a configuration error. */
static void
open_passwd_file(struct server *sv)
{
	const char *path = sv->opt.passwd_file;
	struct stat st;

	sv->passwd_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (sv->passwd_fd == -1 || fstat(sv->passwd_fd, &st) == -1)
		bad_config(&sv->opt, false, "-p %s: %s: make it a file pop2d can read, "
		    "or correct -p", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		bad_config(&sv->opt, false, "-p %s: not a regular file: correct -p", path);
}

/*
 * -S is trusted with the journals that steer writes to maildrops: like
 * sshd's StrictModes, it and every directory above it must be root's (or
 * pop2d's own user's) and writable by nobody else. Run as root, pop2d
 * makes a missing default one.
 */
static void
check_state_dir(struct options *o)
{
	char bad[PATH_MAX];
	const char *why = "";
	const char *owner = geteuid() == 0 ? "root's" : "root's or pop2d's own user's";

	if (state_dir_safe(o->state_dir, geteuid(), bad, sizeof(bad), &why) == 0)
		return;
	if (errno == ENOENT && geteuid() == 0 &&
	    strcmp(o->state_dir, DEFAULT_STATE_DIR) == 0) {
		if (state_make_dir(o->state_dir) == 0) {
			log_msg(LOG_NOTICE, "made the missing state directory %s "
			    "(root, mode 0755)", o->state_dir);
			check_state_dir(o);
			return;
		}
		bad_config(o, false, "-S %s: cannot make it: %s: make its parent "
		    "directory, or make it (root, mode 0755)", o->state_dir, strerror(errno));
		return;
	}
	if (errno == EPERM)
		bad_config(o, false, "-S %s is unsafe: %s is %s: every directory down to "
		    "it must be %s and writable by its owner alone (chown root, "
		    "chmod go-w), or choose another -S", o->state_dir, bad, why, owner);
	else
		bad_config(o, false, "-S %s: %s: make it a directory (not a symbolic "
		    "link), %s, mode 0755", o->state_dir, strerror(errno), owner);
}

/* A lock helper named with -L must be there to run; the default is checked when needed. */
static void
check_lock_helper(struct options *o)
{
	struct stat st;

	if (!o->lock_helper_given)
		return;
	if (stat(o->lock_helper, &st) == -1)
		bad_config(o, false, "-L %s: %s: install pop2-lock there or correct -L",
		    o->lock_helper, strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(o->lock_helper, X_OK) == -1)
		bad_config(o, false, "-L %s: not an executable file: install pop2-lock "
		    "there or correct -L", o->lock_helper);
}

/* Why reading a PROXY header stopped before its end, for the log. */
static const char *
proxy_read_failure(ssize_t n, size_t seen)
{
	if (stop_signal)
		return "signal";
	if (n == 0)
		return seen == 0 ? "EOF before the PROXY header" : "EOF inside the PROXY header";
	if (errno == ETIMEDOUT)
		return seen == 0 ? "timeout before the PROXY header" :
		    "timeout inside the PROXY header";
	return "read error";
}

/*
 * -H: a connection from a listed peer begins with a PROXY header, read
 * before the greeting under the login deadline. The octets after it are
 * left in the line reader: they are the client's first command. A valid
 * header names the client (LOCAL and UNKNOWN keep the proxy's address);
 * anything else ends the connection without a word, logged.
 */
static void
read_proxy_header(struct server *sv)
{
	enum proxy_status st = PROXY_MORE;
	struct proxy_parser pp;
	char proxy[sizeof(sv->peer)];

	util_strlcpy(proxy, sv->peer, sizeof(proxy));
	proxy_init(&pp);
	while (st == PROXY_MORE) {
		const char *data;
		ssize_t n = line_peek(&sv->lr, &data);
		size_t used;

		if (n <= 0) {
			const char *why = proxy_read_failure(n, proxy_length(&pp));

			log_msg(LOG_INFO, "session start peer=%s", sv->peer);
			log_msg(LOG_NOTICE, "PROXY header refused peer=%s reason=%s",
			    sv->peer, why);
			finish(sv, NULL, why);
		}
		st = proxy_feed(&pp, data, (size_t)n, &used);
		line_consume(&sv->lr, used);
	}
	if (st == PROXY_BAD) {
		log_msg(LOG_INFO, "session start peer=%s", sv->peer);
		log_msg(LOG_NOTICE, "PROXY header refused peer=%s reason=%s",
		    sv->peer, pp.why);
		finish(sv, NULL, "bad PROXY header");
	}
	if (!pp.result.local)
		set_peer(sv, (const struct sockaddr *)&pp.result.src);
	log_msg(LOG_INFO, "session start peer=%s proxy=%s header=v%d%s", sv->peer, proxy,
	    pp.result.version, pp.result.local ? "-local" : "");
}

static void
warn_passwd_line(void *arg, unsigned long lineno, const char *why)
{
	log_msg(LOG_WARNING, "passwd-file %s line %lu: %s", (const char *)arg,
	    lineno, why);
}

/*
 * Reports the malformed lines of -p's file once per change of the file:
 * the first session that sees a version of it says so in the state
 * directory (passwd_first_sight). Where nothing can be remembered there,
 * every session reports them.
 */
static void
report_passwd_file(const struct server *sv)
{
	int dirfd, r = -1;

	dirfd = open(sv->opt.state_dir,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd != -1) {
		r = passwd_first_sight(sv->passwd_fd, sv->opt.passwd_file,
		    dirfd);
		close(dirfd);
	}
	if (r != 0)
		(void)passwd_check(sv->passwd_fd, warn_passwd_line,
		    (void *)sv->opt.passwd_file);
}

static void __attribute__((noreturn))
serve(struct server *sv)
{
	struct session_out out;
	char hostname[256];

	if (sv->opt.hostname != NULL)
		util_strlcpy(hostname, sv->opt.hostname, sizeof(hostname));
	else if (gethostname(hostname, sizeof(hostname)) == -1)
		util_strlcpy(hostname, "localhost", sizeof(hostname));
	hostname[sizeof(hostname) - 1] = '\0';

	session_greet(&sv->session, hostname, PACKAGE_VERSION, &out);
	if (send_reply(sv, &out) == -1)
		finish(sv, NULL, "write error");
	for (;;) {
		bool logged_in = sv->session.state != SESSION_AUTH;
		struct timespec arrived;
		enum line_status st;
		char *text;
		size_t len;

		/*
		 * -T bounds the whole login; after it, -t bounds each whole
		 * command line from the previous reply on, however slowly its
		 * octets trickle in.
		 */
		if (logged_in)
			sv->io.deadline_ms = io_now_ms() +
			    (long long)sv->opt.idle_seconds * 1000;
		st = line_read(&sv->lr, &text, &len);
		clock_gettime(CLOCK_MONOTONIC, &arrived);
		if (logged_in)
			sv->io.deadline_ms = 0;
		if (st != LINE_OK)
			end_on_line_status(sv, st);
		session_step(&sv->session, text, len, &out);
		util_wipe(text, len);
		if (out.login_failed)
			wait_login_deadline(&arrived);
		/* A step that ends the session anyway (QUIT) still says so. */
		if (stop_signal && !out.close)
			finish(sv, NULL, "signal");
		if (out.send != 0) {
			send_message(sv, out.send);
			continue;
		}
		if (out.close)
			finish(sv, &out, out.reason != NULL ? out.reason : "closed");
		if (send_reply(sv, &out) == -1)
			finish(sv, NULL, errno == ETIMEDOUT ? "timeout" : "write error");
	}
}

/*
 * Takes on the identity of the owner of a state directory of status SB: the
 * account's own groups when the uid has one (the directory's group is the
 * user's to change), else the directory's group alone (a passwd-file user,
 * whose gid root gave the directory). Proven by a failing setuid(0).
 */
static int
become_owner(const struct stat *sb)
{
	/* cppcheck-suppress getpwuidCalled ; pop2d has one thread */
	struct passwd *pw = getpwuid(sb->st_uid);
	gid_t gid = pw != NULL ? pw->pw_gid : sb->st_gid;

	if ((pw != NULL ? initgroups(pw->pw_name, gid) : setgroups(1, &gid)) == -1 ||
	    setgid(gid) == -1 || setuid(sb->st_uid) == -1)
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
 * The maildrop and folder directory of the user whose state directory is
 * NAME, owned by OWNER, as a login of theirs would compute them: from the
 * passwd-file at PASSWD_FD when there is one, else from the system's
 * accounts. The account must have that uid. Returns 0, or -1 with *WHY.
 */
static int
user_paths(const struct options *o, int passwd_fd, const char *name,
    uid_t owner, char *inbox, char *folders, const char **why)
{
	struct passwd_entry e;
	const char *home = "";
	uid_t uid;

	if (passwd_fd != -1) {
		if (passwd_lookup(passwd_fd, name, &e, NULL, NULL) != 1) {
			*why = "no such user in the passwd-file";
			return -1;
		}
		util_wipe(e.hash, sizeof(e.hash));
		uid = e.has_uid ? e.uid : geteuid();
		home = e.home;
	} else {
		/* cppcheck-suppress getpwnamCalled ; pop2d has one thread */
		struct passwd *pw = getpwnam(name);

		if (pw == NULL) {
			*why = "no such account";
			return -1;
		}
		uid = pw->pw_uid;
		home = pw->pw_dir != NULL ? pw->pw_dir : "";
	}
	if (uid != owner) {
		*why = "the directory's owner is not the account's uid";
		return -1;
	}
	if (util_expand(inbox, 4096, o->maildrop, name, home) == -1) {
		*why = "the maildrop template cannot be expanded";
		return -1;
	}
	if (util_expand(folders, 4096, o->folder_dir, name, home) == -1)
		folders[0] = '\0';
	return 0;
}

/* Whether the state folder NAME in TOP holds a journal (only looked at). */
static bool
has_journal(int top, const char *name)
{
	struct stat st;
	int dfd, r;

	dfd = openat(top, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1)
		return errno != ENOENT;
	r = fstatat(dfd, COMMIT_JOURNAL, &st, AT_SYMLINK_NOFOLLOW);
	close(dfd);
	return r == 0 || errno != ENOENT;
}

/*
 * Finishes the interrupted commit of user NAME in a child that has taken
 * that user's identity, since the journal is the user's own file and must
 * not steer root's writes.
 */
static void __attribute__((noreturn))
recover_child(const struct options *o, const char *name, const char *inbox,
    const char *folders, const struct stat *sb)
{
	struct store_recovery rec;
	struct store st;
	int statefd, sessionfd, r;

	if (geteuid() == 0 && sb->st_uid != 0 && become_owner(sb) == -1) {
		log_msg(LOG_ERR,
		    "recover user=%s outcome=failed: cannot take the "
		    "identity of uid %ld",
		    name, (long)sb->st_uid);
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
	if (store_init(&st, inbox, folders[0] != '\0' ? folders : NULL, statefd,
	    o->lock_helper) == -1) {
		log_msg(LOG_ERR, "recover user=%s outcome=failed: %s", name,
		    strerror(errno));
		_exit(RECOVERY_FAILED);
	}
	r = store_recover(&st, geteuid(), &rec);
	log_recovery(o, "recover ", name, &st, &rec, r, errno);
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
	long long deadline = io_now_ms() + (long long)seconds * 1000;
	struct timespec ts;
	sigset_t chld;
	long long left;
	int status;
	pid_t r;

	*killed = false;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1;
		if ((left = deadline - io_now_ms()) <= 0)
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
recover_one(const struct options *o, int passwd_fd, int top, const char *name)
{
	char inbox[4096], folders[4096];
	const char *why;
	struct stat sb;
	sigset_t chld, old;
	bool killed;
	pid_t pid;
	int status;

	if (fstatat(top, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(sb.st_mode))
		return RECOVERY_NOTHING;
	/* Before the fork: root reads the passwd-file. */
	if (user_paths(o, passwd_fd, name, sb.st_uid, inbox, folders, &why) == -1) {
		/* A former user's folder without a journal is no failure. */
		if (!has_journal(top, name))
			return RECOVERY_NOTHING;
		log_msg(LOG_ERR, "recover user=%s: journal left alone: %s", name, why);
		return RECOVERY_FAILED;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		recover_child(o, name, inbox, folders, &sb);
	}
	status = pid == -1 ? -1 : wait_bounded(pid, o->idle_seconds, &killed);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1 || status == -1)
		return RECOVERY_FAILED;
	if (killed) {
		log_msg(LOG_ERR, "recover user=%s: killed after %lu seconds (-t); the "
		    "journal stays for the next login", name, o->idle_seconds);
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
 * pop2d --recover-all: every user's interrupted commit, at boot. Prints a
 * summary; exits 1 when a user's recovery failed, set data aside or
 * refused a journal.
 */
static int
recover_all(const struct options *o, int passwd_fd)
{
	unsigned long count[RECOVERY_REFUSED + 1] = {0};
	unsigned long users = 0, bad;
	struct dirent *de;
	DIR *dir;
	int top;

	top = open(o->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top == -1 || (dir = fdopendir(top)) == NULL) {
		log_msg(
		    LOG_ERR, "recover: %s: %s", o->state_dir, strerror(errno));
		fprintf(stderr, "pop2d: %s: %s\n", o->state_dir, strerror(errno));
		return 1;
	}
	/* cppcheck-suppress readdirCalled ; pop2d has one thread */
	while ((de = readdir(dir)) != NULL) {
		enum recovery_outcome r;

		if (de->d_name[0] == '.')
			continue;
		users++;
		r = recover_one(o, passwd_fd, dirfd(dir), de->d_name);
		count[r]++;
		if (r == RECOVERY_FAILED)
			fprintf(stderr, "pop2d: %s/%s: recovery failed (see the log)\n",
			    o->state_dir, de->d_name);
		else if (r == RECOVERY_SET_ASIDE)
			fprintf(stderr, "pop2d: %s/%s: maildrop rewritten by another program; "
			    "data saved in %s\n", o->state_dir, de->d_name, COMMIT_RECOVERED);
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

int
main(int argc, char **argv)
{
	static struct server sv = { .statefd = -1, .sessionfd = -1 };
	struct rlimit no_core = { 0, 0 };

	/* No core file may ever hold a password. */
	(void)setrlimit(RLIMIT_CORE, &no_core);
	parse_options(argc, argv, &sv.opt);
	log_open("pop2d", sv.opt.debug);
	/* An inherited SIG_IGN would hide the exit status of our children. */
	(void)signal(SIGCHLD, SIG_DFL);
	if (sv.opt.error[0] != '\0')
		config_fail(&sv.opt);
	/* No session ever ran: nothing to recover. */
	if (sv.opt.recover_all && access(sv.opt.state_dir, F_OK) == -1 && errno == ENOENT)
		return 0;
	/* Without -p: the system's accounts, looked up at HELO. */
	sv.passwd_fd = -1;
	if (sv.opt.passwd_file != NULL)
		open_passwd_file(&sv);
	check_state_dir(&sv.opt);
	check_lock_helper(&sv.opt);
	if (sv.opt.proxy_list != NULL) {
		const char *why = NULL;

		if (proxy_nets_parse(&sv.proxy_nets, sv.opt.proxy_list, &why) == -1)
			bad_config(&sv.opt, false, "-H %s: %s", sv.opt.proxy_list, why);
	}
	if (sv.opt.error[0] != '\0')
		config_fail(&sv.opt);
	if (sv.opt.recover_all)
		return recover_all(&sv.opt, sv.passwd_fd);
	if (sv.passwd_fd != -1)
		report_passwd_file(&sv);
	setup_signals();
	describe_peer(&sv);
	sv.auth_cfg = (struct auth_source_config){
		.passwd_fd = sv.passwd_fd,
		.pam_service = sv.opt.pam_service,
		.rhost = sv.peer_host,
	};
	sv.auth = auth_source_choose(&sv.auth_cfg);

	/* -T bounds the whole login, however the client spreads its octets. */
	io_init(&sv.io, STDIN_FILENO, STDOUT_FILENO, (int)sv.opt.login_seconds * 1000);
	sv.io.deadline_ms = io_now_ms() + (long long)sv.opt.login_seconds * 1000;
	sv.io.stop = &stop_signal;
	line_init(&sv.lr, &sv.io);
	/* Only a listed peer may say who the client is, and then must. */
	if (sv.conn_peer_len > 0 &&
	    proxy_nets_match(&sv.proxy_nets, (const struct sockaddr *)&sv.conn_peer,
	    sv.conn_peer_len))
		read_proxy_header(&sv);
	else
		log_msg(LOG_INFO, "session start peer=%s", sv.peer);
	sv.backend = (struct session_backend){
		.arg = &sv,
		.login = backend_login,
		.commit = backend_commit,
		.select = backend_select,
		.size = backend_size,
		.mark_deleted = backend_mark_deleted,
	};
	session_init(&sv.session, &sv.backend);
	serve(&sv);
}
