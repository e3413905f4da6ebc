/*
 * pop2d: one POP2 session on standard input and output.
 *
 * This file owns everything that touches the process: options, limits,
 * signals, timeouts and the single way out. The protocol lives in
 * session.c, the way from a HELO to INBOX (identity included) in login.c,
 * the folders in store.c and --recover-all in recover.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth_source.h"
#include "commit.h"
#include "io.h"
#include "line.h"
#include "log.h"
#include "login.h"
#include "passwd.h"
#include "proxy.h"
#include "recover.h"
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
	uint64_t journal_max; /* -J */
	bool lock_helper_given;
	bool debug;
	bool recover_all;
	char error[1024]; /* the first configuration error, or "" */
	bool usage_error; /* it is a bad command line: show the usage */
};

/* Everything one session holds; main() owns the only instance. */
struct server {
	struct options opt;
	/* Its passwd_fd is -p's file (or -1) until the login closes it. */
	struct auth_source_config auth_cfg;
	struct login_config login_cfg;
	struct login login; /* the user, the store, the state directory */
	struct io io;
	struct line_reader lr;
	struct session session;
	struct session_backend backend;
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
	    "             [-H proxy-networks] [-J journal-size] [-d] [-V] [-h]\n"
	    "       pop2d --recover-all [-d] [-p passwd-file] [-m maildrop-template]\n"
	    "             [-F folder-dir-template] [-S state-dir] [-L lock-helper]\n"
	    "             [-t seconds] [-J journal-size]\n");
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
static void __attribute__((noreturn)) config_fail(const struct options *o)
{
	struct session_out out;

	session_fail(NULL, SESSION_ERR_UNAVAILABLE, &out);
	log_msg(LOG_ERR, "configuration error: %s", o->error);
	if (!o->debug && !is_socket(STDIN_FILENO) &&
	    !is_socket(STDOUT_FILENO)) {
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
		bad_config(o, true,
		    "-%c %s: not a number of seconds from 1 to 86400", opt,
		    arg);
		return 60;
	}
	return v;
}

/* -J: octets, or K, M or G of them (binary); 1M to 1024G. */
static uint64_t
parse_size(struct options *o, const char *arg, char opt, uint64_t dflt)
{
	char num[32];
	size_t len = strlen(arg);
	const uint64_t max = (uint64_t)1 << 40;
	unsigned long long v;
	int shift = 0;

	if (len > 0 && len < sizeof(num)) {
		switch (arg[len - 1]) {
		case 'K':
		case 'k':
			shift = 10;
			break;
		case 'M':
		case 'm':
			shift = 20;
			break;
		case 'G':
		case 'g':
			shift = 30;
			break;
		default:
			break;
		}
		memcpy(num, arg, len - (shift != 0));
		num[len - (shift != 0)] = '\0';
		if (util_parse_ull(num, 1, max >> shift, &v) == 0 &&
		    (uint64_t)v << shift >= (uint64_t)1 << 20)
			return (uint64_t)v << shift;
	}
	bad_config(o, true,
	    "-%c %s: not a size from 1M to 1024G (octets, or a "
	    "number followed by K, M or G)",
	    opt, arg);
	return dflt;
}

static const char *
absolute_path(struct options *o, const char *arg, char opt, const char *dflt)
{
	if (arg[0] != '/') {
		bad_config(o, true,
		    "-%c %s: not an absolute path: give one beginning with /",
		    opt, arg);
		return dflt;
	}
	return arg;
}

static const char *
path_template(struct options *o, const char *arg, char opt, const char *dflt)
{
	const char *path = arg;

	/* Only the maildrop's path may name its format. */
	if (opt == 'm')
		(void)maildrop_format(arg, &path);
	if (path[0] != '/' && strncmp(path, "%h", 2) != 0) {
		bad_config(o, true,
		    "-%c %s: must be an absolute path or start with %%h", opt,
		    arg);
		return dflt;
	}
	if (util_template_check(arg) == -1) {
		bad_config(o, true,
		    "-%c %s: bad template (only %%u, %%h and %%%% may follow %%)",
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
		bad_config(o, true,
		    "-n %s: a host name of 1 to 255 characters is needed", arg);
		return NULL;
	}
	for (p = arg; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			bad_config(o, true,
			    "-n: a host name may not contain spaces or "
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
		bad_config(o, true,
		    "-P %s: a PAM service name of 1 to 255 characters "
		    "is needed, not beginning with '.'",
		    arg);
		return NULL;
	}
	for (p = arg; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '.' && *p != '_' &&
		    *p != '-') {
			bad_config(o, true,
			    "-P %s: a PAM service name has only letters, "
			    "digits, '.', '_' and '-'",
			    arg);
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
	o->journal_max = COMMIT_JOURNAL_MAX;
	while ((ch = getopt_long(argc, argv, ":p:P:m:F:S:t:T:n:L:H:J:dVh",
		    longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			o->passwd_file = optarg;
			break;
		case 'P':
			o->pam_service = pam_service(o, optarg);
			break;
		case 'm':
			o->maildrop =
			    path_template(o, optarg, 'm', o->maildrop);
			break;
		case 'F':
			o->folder_dir =
			    path_template(o, optarg, 'F', o->folder_dir);
			break;
		case 'S':
			o->state_dir =
			    absolute_path(o, optarg, 'S', o->state_dir);
			break;
		case 'L':
			o->lock_helper =
			    absolute_path(o, optarg, 'L', o->lock_helper);
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
		case 'J':
			o->journal_max =
			    parse_size(o, optarg, 'J', o->journal_max);
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
			bad_config(
			    o, true, "option -%c needs an argument", optopt);
			break;
		default:
			if (optopt != 0)
				bad_config(
				    o, true, "unknown option -%c", optopt);
			else
				bad_config(o, true, "unknown option %s",
				    argv[optind - 1]);
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
	int status =
	    last != NULL && last->len > 0 && last->reply[0] == '+' ? 0 : 1;
	struct store *st = sv->login.have_store ? &sv->login.store : NULL;

	if (last != NULL && send_reply(sv, last) == -1)
		status = 1;
	line_wipe(&sv->lr);
	/* Deletions count once committed: a cut-short session deleted none. */
	log_msg(LOG_INFO,
	    "session end user=%s reason=%s retrieved=%lu deleted=%lu "
	    "octets=%llu deleted_octets=%llu peer=%s",
	    sv->login.user[0] != '\0' ? sv->login.user : "-", reason,
	    st != NULL ? st->sent_messages : 0,
	    st != NULL ? st->deleted_total : 0,
	    st != NULL ? st->sent_octets : 0ULL,
	    st != NULL ? st->deleted_octets_total : 0ULL, sv->peer);
	if (st != NULL)
		store_close(st);
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
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], addr,
			    sizeof(addr));
		else
			inet_ntop(
			    AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		port = ntohs(sin6->sin6_port);
	} else {
		return;
	}
	util_strlcpy(sv->peer_host, addr, sizeof(sv->peer_host));
	snprintf(sv->peer, sizeof(sv->peer), "%s port %u", addr, port);
}

/* The connection's own peer, before any PROXY header is read. */
static void
describe_peer(struct server *sv)
{
	struct sockaddr_storage *ss = &sv->conn_peer;

	sv->conn_peer_len = sizeof(*ss);
	if (getpeername(STDIN_FILENO, (struct sockaddr *)ss,
		&sv->conn_peer_len) == -1) {
		memset(ss, 0, sizeof(*ss));
		sv->conn_peer_len = 0;
	}
	set_peer(sv, (const struct sockaddr *)ss);
}

/* The reply to each login result (SPEC 4, 5). */
static enum session_error
login_reply(enum login_result r)
{
	switch (r) {
	case LOGIN_OK:
		return SESSION_OK;
	case LOGIN_REFUSED:
		return SESSION_ERR_BAD_LOGIN;
	case LOGIN_STATE_UNUSABLE:
		return SESSION_ERR_STATE_UNUSABLE;
	case LOGIN_IN_USE:
		return SESSION_ERR_IN_USE;
	case LOGIN_MAILDROP_BUSY:
		return SESSION_ERR_MAILDROP_BUSY;
	case LOGIN_MAILDROP_UNUSABLE:
	default:
		return SESSION_ERR_MAILDROP_UNUSABLE;
	}
}

static enum session_error
backend_login(void *arg, const char *user, char *password, size_t *count)
{
	struct server *sv = arg;
	enum login_result r = login_run(&sv->login, user, password, count);

	if (r == LOGIN_OK) {
		/* From now on -t bounds each command, not -T the whole login. */
		sv->io.timeout_ms = (int)sv->opt.idle_seconds * 1000;
		sv->io.deadline_ms = 0;
	}
	return login_reply(r);
}

/* The reply to a commit that ended as R. */
static enum session_error
commit_reply(enum maildrop_commit r)
{
	switch (r) {
	case MAILDROP_COMMITTED:
		return SESSION_OK;
	case MAILDROP_BUSY:
		return SESSION_ERR_COMMIT_BUSY;
	case MAILDROP_LOCK_FAILED:
		return SESSION_ERR_COMMIT_LOCK_FAILED;
	case MAILDROP_TOO_LARGE:
		return SESSION_ERR_COMMIT_TOO_LARGE;
	case MAILDROP_CHANGED:
		return SESSION_ERR_COMMIT_CHANGED;
	case MAILDROP_NO_SPACE:
		return SESSION_ERR_COMMIT_NO_SPACE;
	case MAILDROP_READ_ONLY:
		return SESSION_ERR_COMMIT_READ_ONLY;
	case MAILDROP_PARTLY:
		return SESSION_ERR_COMMIT_PARTLY;
	case MAILDROP_INTERRUPTED:
		return SESSION_ERR_COMMIT_INTERRUPTED;
	case MAILDROP_FAILED:
		break;
	}
	return SESSION_ERR_COMMIT_FAILED;
}

static enum session_error
backend_commit(void *arg)
{
	struct server *sv = arg;
	enum maildrop_commit r;

	/* A failed commit leaves the folder selected, its name with it. */
	if ((r = store_commit(&sv->login.store)) != MAILDROP_COMMITTED)
		login_log_store_failure(sv->login.user, &sv->login.store,
		    "commit failed on", sv->login.store.sel.path, errno);
	return commit_reply(r);
}

static int
backend_select(void *arg, const char *name, size_t *count)
{
	struct server *sv = arg;
	char folder[256], helper[1024];
	int e;

	if (store_select(&sv->login.store, name, count) == -1) {
		e = errno;
		log_msg(LOG_INFO,
		    "user=%s folder=%s refused or unreadable: %s%s",
		    sv->login.user, log_escape(folder, sizeof(folder), name),
		    strerror(e),
		    login_describe_helper(&sv->login.store.lock_report,
			sv->login.store.helper, helper, sizeof(helper)));
		return -1;
	}
	return 0;
}

static uint64_t
backend_size(void *arg, uint32_t n)
{
	struct server *sv = arg;

	return store_size(&sv->login.store, n);
}

static void
backend_mark_deleted(void *arg, uint32_t n)
{
	struct server *sv = arg;

	store_mark_deleted(&sv->login.store, n);
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
		    "the refusal's timing shows",
		    ms,
		    (long long)(now.tv_sec - until.tv_sec) * 1000 +
			(now.tv_nsec - until.tv_nsec) / 1000000);
		return;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
		EINTR &&
	    !stop_signal)
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
	sv->io.deadline_ms =
	    util_now_ms() + (long long)sv->opt.idle_seconds * 1000;
	if (deadline != 0 && deadline < sv->io.deadline_ms)
		sv->io.deadline_ms = deadline;
	r = store_send(&sv->login.store, n, &sv->io);
	sv->io.deadline_ms = deadline;
	if (r == 0)
		return;
	if (stop_signal)
		finish(sv, NULL, "signal");
	if (errno == ESTALE) {
		/* Once part of the message went out, a reply would pass for data. */
		if (sv->io.put_total != before)
			finish(sv, NULL,
			    "maildrop changed while the message was sent; cut short");
		session_fail(&sv->session, SESSION_ERR_MAILDROP_CHANGED, &out);
		finish(sv, &out, "maildrop changed");
	}
	finish(sv, NULL,
	    errno == ETIMEDOUT ? "message not taken within the idle limit"
			       : "write error");
}

/* Opens -p's file before the greeting: a bad one is a configuration error. */
static void
open_passwd_file(struct server *sv)
{
	const char *path = sv->opt.passwd_file;
	struct stat st;

	sv->auth_cfg.passwd_fd =
	    open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (sv->auth_cfg.passwd_fd == -1 ||
	    fstat(sv->auth_cfg.passwd_fd, &st) == -1)
		bad_config(&sv->opt, false,
		    "-p %s: %s: make it a file pop2d can read, "
		    "or correct -p",
		    path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		bad_config(&sv->opt, false,
		    "-p %s: not a regular file: correct -p", path);
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
	char *bad = NULL;
	const char *why = "";
	const char *owner =
	    geteuid() == 0 ? "root's" : "root's or pop2d's own user's";

	if (state_dir_safe(o->state_dir, geteuid(), &bad, &why) == 0)
		return;
	if (errno == ENOENT && geteuid() == 0 &&
	    strcmp(o->state_dir, DEFAULT_STATE_DIR) == 0) {
		if (state_make_dir(o->state_dir) == 0) {
			log_msg(LOG_NOTICE,
			    "made the missing state directory %s "
			    "(root, mode 0755)",
			    o->state_dir);
			check_state_dir(o);
			return;
		}
		bad_config(o, false,
		    "-S %s: cannot make it: %s: make its parent "
		    "directory, or make it (root, mode 0755)",
		    o->state_dir, strerror(errno));
		return;
	}
	if (errno == EPERM) {
		bad_config(o, false,
		    "-S %s is unsafe: %s is %s: every directory down to "
		    "it must be %s and writable by its owner alone (chown root, "
		    "chmod go-w), or choose another -S",
		    o->state_dir, bad, why, owner);
		free(bad);
	} else
		bad_config(o, false,
		    "-S %s: %s: make it a directory (not a symbolic "
		    "link), %s, mode 0755",
		    o->state_dir, strerror(errno), owner);
}

/* Whether an identity of uid UID and the one group GID may create files in DIR (status ST). */
static bool
may_create(const struct stat *st, uid_t uid, gid_t gid)
{
	mode_t need = uid == st->st_uid ? S_IWUSR | S_IXUSR
	    : gid == st->st_gid		? S_IWGRP | S_IXGRP
					: S_IWOTH | S_IXOTH;

	return (st->st_mode & need) == need;
}

/* For passwd_each(): stops at an entry whose session could not lock in the spool ARG. */
static int
entry_cannot_lock(void *arg, const struct passwd_entry *e)
{
	/* Without a uid the session is root's; uid 0 never logs in. */
	if (!e->has_uid || e->uid == 0)
		return 0;
	return may_create(arg, e->uid, e->gid) ? 0 : 1;
}

/*
 * Whether a session's dot-lock in the spool folder SPOOL (status ST) will
 * need the lock helper, because the session's identity may not create
 * files there: pop2d's own when it does not run as root; as root, every
 * identity of the passwd-file's entries (a uid-less entry's session is
 * root's), or, without -p, any system account (its groups are its own, so
 * only a folder writable by all lets every account lock, but a folder of an
 * account's own is that account's, who may).
 */
static bool
spool_needs_helper(
    const struct server *sv, const char *spool, const struct stat *st)
{
	if (geteuid() != 0)
		return faccessat(AT_FDCWD, spool, W_OK | X_OK, AT_EACCESS) ==
		    -1;
	if (sv->auth_cfg.passwd_fd != -1)
		return passwd_each(sv->auth_cfg.passwd_fd, entry_cannot_lock,
			   (void *)st) != 0;
	/* An account's folder is for that account, which may create files. */
	return (st->st_mode & (S_IWOTH | S_IXOTH)) != (S_IWOTH | S_IXOTH) &&
	    st->st_uid == 0;
}

/*
 * Whether -m names one spool folder for every user (no %u or %h before
 * its last '/') of a format that takes the maildrop locks (maildrop.h),
 * into *SPOOL (the caller frees it) with its status in *ST, in which the
 * sessions may not create files: then every dot-lock needs the lock
 * helper. Out of memory, it cannot tell: the sessions then say so.
 */
static bool
dot_lock_needs_helper(const struct server *sv, char **spool, struct stat *st)
{
	const char *tmpl, *slash, *p;
	char *dir;
	int r;

	*spool = NULL;
	if (!maildrop_format(sv->opt.maildrop, &tmpl)->locked)
		return false;
	slash = strrchr(tmpl, '/');
	if (slash == NULL || slash == tmpl)
		return false;
	for (p = tmpl; p < slash; p++)
		if (*p == '%' && (p[1] == 'u' || p[1] == 'h'))
			return false;
		else if (*p == '%')
			p++;
	if ((dir = strndup(tmpl, (size_t)(slash - tmpl))) == NULL)
		return false;
	/* Only "%%" is left to expand. */
	r = util_expand(spool, dir, "", "");
	free(dir);
	if (r == -1 || stat(*spool, st) == -1 || !S_ISDIR(st->st_mode))
		return false;
	return spool_needs_helper(sv, *spool, st);
}

/*
 * The lock helper. When a dot-lock will need it (dot_lock_needs_helper()),
 * it must be root's, a regular executable file, and set-group-ID to the
 * spool's group, which must be able to create files there. When it cannot
 * be needed (a world-writable sticky spool, per-user folders, Maildir),
 * only a helper named with -L is looked at: it must be there to run.
 */
static void
check_lock_helper(struct server *sv)
{
	struct options *o = &sv->opt;
	char *spool, group[32];
	struct stat sp, st;
	struct group *gr;

	if (o->error[0] != '\0')
		return;
	if (!dot_lock_needs_helper(sv, &spool, &sp)) {
		free(spool);
		if (!o->lock_helper_given)
			return;
		if (stat(o->lock_helper, &st) == -1)
			bad_config(o, false,
			    "-L %s: %s: install pop2-lock there "
			    "or correct -L",
			    o->lock_helper, strerror(errno));
		else if (!S_ISREG(st.st_mode) ||
		    access(o->lock_helper, X_OK) == -1)
			bad_config(o, false,
			    "-L %s: not an executable file: "
			    "install pop2-lock there or correct -L",
			    o->lock_helper);
		return;
	}
	/* cppcheck-suppress getgrgidCalled ; pop2d has one thread */
	gr = getgrgid(sp.st_gid);
	if (gr != NULL)
		util_strlcpy(group, gr->gr_name, sizeof(group));
	else
		snprintf(group, sizeof(group), "%lu", (unsigned long)sp.st_gid);
	if (stat(o->lock_helper, &st) == -1)
		bad_config(o, false,
		    "-L %s: %s: the sessions may not create "
		    "files in the spool %s, so a dot-lock there needs the lock "
		    "helper: install pop2-lock there (as root: chown root:%s, "
		    "chmod 2755) or correct -L",
		    o->lock_helper, strerror(errno), spool, group);
	else if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0 ||
	    st.st_uid != 0 || !(st.st_mode & S_ISGID) || st.st_gid != sp.st_gid)
		bad_config(o, false,
		    "-L %s: not a set-group-ID program of "
		    "root's in the group %s of the spool %s, where the sessions "
		    "may not create files: as root, chown root:%s %s && chmod "
		    "2755 %s",
		    o->lock_helper, group, spool, group, o->lock_helper,
		    o->lock_helper);
	else if ((sp.st_mode & (S_IWGRP | S_IXGRP)) != (S_IWGRP | S_IXGRP))
		bad_config(o, false,
		    "-m %s: neither the sessions nor the lock "
		    "helper (group %s) may create a dot-lock in %s: make it "
		    "writable by its group (as root: chmod 2775 %s)",
		    o->maildrop, group, spool, spool);
	free(spool);
}

/* Why reading a PROXY header stopped before its end, for the log. */
static const char *
proxy_read_failure(ssize_t n, size_t seen)
{
	if (stop_signal)
		return "signal";
	if (n == 0)
		return seen == 0 ? "EOF before the PROXY header"
				 : "EOF inside the PROXY header";
	if (errno == ETIMEDOUT)
		return seen == 0 ? "timeout before the PROXY header"
				 : "timeout inside the PROXY header";
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
			const char *why =
			    proxy_read_failure(n, proxy_length(&pp));

			log_msg(LOG_INFO, "session start peer=%s", sv->peer);
			log_msg(LOG_NOTICE,
			    "PROXY header refused peer=%s reason=%s", sv->peer,
			    why);
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
	log_msg(LOG_INFO, "session start peer=%s proxy=%s header=v%d%s",
	    sv->peer, proxy, pp.result.version,
	    pp.result.local ? "-local" : "");
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

	dirfd = open(
	    sv->opt.state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd != -1) {
		r = passwd_first_sight(
		    sv->auth_cfg.passwd_fd, sv->opt.passwd_file, dirfd);
		close(dirfd);
	}
	if (r != 0)
		(void)passwd_check(sv->auth_cfg.passwd_fd, warn_passwd_line,
		    (void *)sv->opt.passwd_file);
}

static void __attribute__((noreturn)) serve(struct server *sv)
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
			sv->io.deadline_ms = util_now_ms() +
			    (long long)sv->opt.idle_seconds * 1000;
		st = line_read(&sv->lr, &text, &len);
		clock_gettime(CLOCK_MONOTONIC, &arrived);
		if (logged_in)
			sv->io.deadline_ms = 0;
		if (st != LINE_OK)
			end_on_line_status(sv, st);
		session_step(&sv->session, text, len, &out);
		util_wipe(text, len);
		/* The accounts' setting is of no more use once logged in. */
		if (!logged_in && sv->session.state != SESSION_AUTH)
			util_wipe(
			    sv->auth_cfg.dummy, sizeof(sv->auth_cfg.dummy));
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
			finish(sv, &out,
			    out.reason != NULL ? out.reason : "closed");
		if (send_reply(sv, &out) == -1)
			finish(sv, NULL,
			    errno == ETIMEDOUT ? "timeout" : "write error");
	}
}

int
main(int argc, char **argv)
{
	static struct server sv;
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
	if (sv.opt.recover_all && access(sv.opt.state_dir, F_OK) == -1 &&
	    errno == ENOENT)
		return 0;
	/* Without -p: the system's accounts, looked up at HELO. */
	sv.auth_cfg.passwd_fd = -1;
	if (sv.opt.passwd_file != NULL)
		open_passwd_file(&sv);
	check_state_dir(&sv.opt);
	check_lock_helper(&sv);
	if (sv.opt.proxy_list != NULL) {
		const char *why = NULL;

		if (proxy_nets_parse(&sv.proxy_nets, sv.opt.proxy_list, &why) ==
		    -1)
			bad_config(&sv.opt, false, "-H %s: %s",
			    sv.opt.proxy_list, why);
	}
	if (sv.opt.error[0] != '\0')
		config_fail(&sv.opt);
	if (sv.opt.recover_all)
		return recover_all(&(struct recover_config){
		    .state_dir = sv.opt.state_dir,
		    .maildrop = sv.opt.maildrop,
		    .folder_dir = sv.opt.folder_dir,
		    .lock_helper = sv.opt.lock_helper,
		    .seconds = sv.opt.idle_seconds,
		    .passwd_fd = sv.auth_cfg.passwd_fd,
		    .journal_max = sv.opt.journal_max,
		});
	if (sv.auth_cfg.passwd_fd != -1)
		report_passwd_file(&sv);
	setup_signals();
	describe_peer(&sv);
	sv.auth_cfg.pam_service = sv.opt.pam_service;
	sv.auth_cfg.rhost = sv.peer_host;
	/* Before any name is read: the dummy hash tells nothing of it. */
	auth_source_prepare(&sv.auth_cfg);
	sv.login_cfg = (struct login_config){
		.state_dir = sv.opt.state_dir,
		.maildrop = sv.opt.maildrop,
		.folder_dir = sv.opt.folder_dir,
		.lock_helper = sv.opt.lock_helper,
		.journal_max = sv.opt.journal_max,
		.auth = auth_source_choose(&sv.auth_cfg),
		.auth_cfg = &sv.auth_cfg,
		.peer = sv.peer,
	};
	login_init(&sv.login, &sv.login_cfg);

	/* -T bounds the whole login, however the client spreads its octets. */
	io_init(&sv.io, STDIN_FILENO, STDOUT_FILENO,
	    (int)sv.opt.login_seconds * 1000);
	sv.io.deadline_ms =
	    util_now_ms() + (long long)sv.opt.login_seconds * 1000;
	sv.io.stop = &stop_signal;
	line_init(&sv.lr, &sv.io);
	/* Only a listed peer may say who the client is, and then must. */
	if (sv.conn_peer_len > 0 &&
	    proxy_nets_match(&sv.proxy_nets,
		(const struct sockaddr *)&sv.conn_peer, sv.conn_peer_len))
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
