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
#include "commit.h"
#include "io.h"
#include "line.h"
#include "lock.h"
#include "log.h"
#include "session.h"
#include "state.h"
#include "store.h"
#include "util.h"

#define EXIT_USAGE 2
#define FAILED_LOGIN_DELAY_MS 2000

struct options {
	const char *passwd_file;
	const char *maildrop;
	const char *folder_dir;
	const char *state_dir;
	const char *lock_helper;
	const char *hostname;
	unsigned long idle_seconds;
	unsigned long login_seconds;
	bool debug;
	bool recover_all;
};

/* Everything one session holds; main() owns the only instance. */
struct server {
	struct options opt;
	int passwd_fd;
	struct io io;
	struct line_reader lr;
	struct session session;
	struct session_backend backend;
	struct store store;
	bool have_store;
	int statefd;   /* the user's state directory */
	int sessionfd; /* holds L0 for the whole session */
	char user[256];
	char peer[INET6_ADDRSTRLEN + 16];
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
	    "usage: pop2d [-p passwd-file] [-m maildrop-template] [-F folder-dir-template]\n"
	    "             [-S state-dir] [-t idle-seconds] [-T login-seconds] [-n hostname]\n"
	    "             [-L lock-helper] [-d] [-V] [-h]\n"
	    "       pop2d --recover-all [-S state-dir]\n");
}

static void __attribute__((noreturn))
die_usage(const char *what, const char *arg)
{
	fprintf(stderr, "pop2d: %s: %s\n", what, arg);
	usage(stderr);
	exit(EXIT_USAGE);
}

static unsigned long
parse_seconds(const char *arg, char opt)
{
	unsigned long v;

	if (util_parse_ulong(arg, 1, 86400, &v) == -1) {
		fprintf(stderr, "pop2d: -%c: not a number of seconds from 1 to 86400: %s\n",
		    opt, arg);
		exit(EXIT_USAGE);
	}
	return v;
}

static const char *
absolute_path(const char *arg, char opt)
{
	if (arg[0] != '/') {
		fprintf(stderr, "pop2d: -%c: not an absolute path: %s\n", opt, arg);
		exit(EXIT_USAGE);
	}
	return arg;
}

static const char *
path_template(const char *arg, char opt)
{
	const char *path = arg;

	/* Only the maildrop may be a Maildir; its folders live inside it. */
	if (opt == 'm' && strncmp(arg, "maildir:", 8) == 0)
		path = arg + 8;
	if (path[0] != '/' && strncmp(path, "%h", 2) != 0) {
		fprintf(stderr, "pop2d: -%c: must be an absolute path or start with %%h: %s\n",
		    opt, arg);
		exit(EXIT_USAGE);
	}
	if (util_template_check(arg) == -1) {
		fprintf(stderr, "pop2d: -%c: bad template (only %%u, %%h and %%%% may follow %%): %s\n",
		    opt, arg);
		exit(EXIT_USAGE);
	}
	return arg;
}

static const char *
host_name(const char *arg)
{
	const char *p;

	if (arg[0] == '\0' || strlen(arg) > 255)
		die_usage("-n: a host name of 1 to 255 characters is needed", arg);
	for (p = arg; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			die_usage("-n: a host name may not contain spaces or control characters", arg);
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
	o->maildrop = "/var/mail/%u";
	o->folder_dir = "%h";
	o->state_dir = "/var/lib/pop2d";
	o->lock_helper = LOCK_HELPER;
	o->idle_seconds = 600;
	o->login_seconds = 60;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":p:m:F:S:t:T:n:L:dVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p':
			o->passwd_file = optarg;
			break;
		case 'm':
			o->maildrop = path_template(optarg, 'm');
			break;
		case 'F':
			o->folder_dir = path_template(optarg, 'F');
			break;
		case 'S':
			o->state_dir = absolute_path(optarg, 'S');
			break;
		case 'L':
			o->lock_helper = absolute_path(optarg, 'L');
			break;
		case 't':
			o->idle_seconds = parse_seconds(optarg, 't');
			break;
		case 'T':
			o->login_seconds = parse_seconds(optarg, 'T');
			break;
		case 'n':
			o->hostname = host_name(optarg);
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
			fprintf(stderr, "pop2d: option -%c needs an argument\n", optopt);
			usage(stderr);
			exit(EXIT_USAGE);
		default:
			if (optopt != 0)
				fprintf(stderr, "pop2d: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "pop2d: unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument", argv[optind]);
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
	log_msg(LOG_INFO, "session end user=%s reason=%s retrieved=%lu deleted=%lu octets=%llu",
	    sv->user[0] != '\0' ? sv->user : "-", reason,
	    sv->have_store ? sv->store.sent_messages : 0,
	    sv->have_store ? sv->store.deleted_total : 0,
	    sv->have_store ? sv->store.sent_octets : 0ULL);
	if (sv->have_store)
		store_close(&sv->store);
	if (close(STDOUT_FILENO) == -1 && errno != EBADF && status == 0)
		status = 1;
	exit(status);
}

static void
describe_peer(struct server *sv)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];
	unsigned port;

	util_strlcpy(sv->peer, "local", sizeof(sv->peer));
	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

		/*
		 * A dual-stack socket (systemd's ListenStream=109) accepts an
		 * IPv4 client as ::ffff:a.b.c.d: log the IPv4 address it is.
		 */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], addr,
			    sizeof(addr));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		port = ntohs(sin6->sin6_port);
	} else {
		return;
	}
	snprintf(sv->peer, sizeof(sv->peer), "%s port %u", addr, port);
}

/* As root, gives the user a state directory of their own before the switch. */
static int
prepare_state(const struct server *sv, const struct auth_user *u)
{
	if (geteuid() != 0 || !u->change_id)
		return 0;
	if (state_prepare(sv->opt.state_dir, u->name, u->uid, u->gid) == -1) {
		log_msg(LOG_ERR, "user=%s reason=cannot prepare %s/%s: %s", u->name,
		    sv->opt.state_dir, u->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Takes on the user's identity for good; proven by a failing setuid(0). */
static int
become_user(const struct auth_user *u, const char **why)
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
	if ((u->system ? initgroups(u->name, u->gid) : setgroups(1, &u->gid)) == -1 ||
	    setgid(u->gid) == -1 || setuid(u->uid) == -1)
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
 * Opens the user's state directory and takes the session lock in it. The
 * directory was prepared by root when pop2d changed identity.
 */
static int
open_state(struct server *sv, const char **why)
{
	sv->statefd = state_open(sv->opt.state_dir, sv->user);
	if (sv->statefd == -1) {
		log_msg(LOG_ERR, "user=%s reason=state directory %s/%s unusable: %s",
		    sv->user, sv->opt.state_dir, sv->user, strerror(errno));
		*why = "State directory unusable";
		return -1;
	}
	sv->sessionfd = lock_session(sv->statefd);
	if (sv->sessionfd == -1) {
		if (errno == EWOULDBLOCK) {
			log_msg(LOG_NOTICE, "user=%s reason=another session is open",
			    sv->user);
			*why = "Maildrop already in use";
		} else {
			log_msg(LOG_ERR, "user=%s reason=session lock: %s", sv->user,
			    strerror(errno));
			*why = "State directory unusable";
		}
		return -1;
	}
	return 0;
}

static int
backend_login(void *arg, const char *user, char *password, size_t *count,
    const char **why)
{
	struct server *sv = arg;
	struct auth_user u;
	const char *reason = NULL;
	char inbox[4096], folders[4096];
	enum auth_result ar;
	int r;

	util_strlcpy(sv->user, user, sizeof(sv->user));
	if (sv->passwd_fd != -1)
		ar = auth_passwd_file(sv->passwd_fd, user, password, &u, &reason);
	else
		ar = auth_system(user, password, &u, &reason);
	util_wipe(password, strlen(password));
	if (ar != AUTH_OK) {
		login_failed(sv, reason != NULL ? reason : "denied");
		return 0;
	}
	/* The account's own spelling names its state directory and the log. */
	util_strlcpy(sv->user, u.name, sizeof(sv->user));
	if (prepare_state(sv, &u) == -1) {
		*why = "State directory unusable";
		return -1;
	}
	if (become_user(&u, &reason) == -1) {
		login_failed(sv, reason);
		return 0;
	}
	if (sv->passwd_fd != -1)
		close(sv->passwd_fd);
	sv->passwd_fd = -1;
	if (open_state(sv, why) == -1)
		return -1;
	if (util_expand(inbox, sizeof(inbox), sv->opt.maildrop, u.name, u.home) == -1) {
		log_msg(LOG_ERR, "user=%s reason=maildrop template cannot be expanded: %s",
		    sv->user, strerror(errno));
		*why = "Cannot open maildrop";
		return -1;
	}
	/* Without a usable folder directory only INBOX can be selected. */
	if (util_expand(folders, sizeof(folders), sv->opt.folder_dir, u.name, u.home) == -1)
		folders[0] = '\0';
	if (store_init(&sv->store, inbox, folders[0] != '\0' ? folders : NULL,
	    sv->statefd, sv->opt.lock_helper) == -1) {
		*why = "Cannot open maildrop";
		return -1;
	}
	sv->have_store = true;
	r = store_recover(&sv->store);
	if (r == 1)
		log_msg(LOG_CRIT, "user=%s an interrupted commit met a maildrop rewritten "
		    "by another program: its data is in %s/%s/%s, nothing was changed",
		    sv->user, sv->opt.state_dir, sv->user, COMMIT_RECOVERED);
	if (r == -1) {
		log_msg(LOG_ERR, "user=%s reason=cannot finish an interrupted commit: %s",
		    sv->user, strerror(errno));
		*why = errno == ETIMEDOUT ? "Maildrop busy" : "Cannot open maildrop";
		return -1;
	}
	if (store_select_inbox(&sv->store, count) == -1) {
		log_msg(LOG_ERR, "user=%s reason=cannot read maildrop %s: %s",
		    sv->user, inbox, strerror(errno));
		*why = errno == ETIMEDOUT ? "Maildrop busy" : "Cannot open maildrop";
		return -1;
	}
	log_msg(LOG_INFO, "login user=%s peer=%s messages=%zu", sv->user, sv->peer, *count);
	sv->io.timeout_ms = (int)sv->opt.idle_seconds * 1000;
	sv->io.deadline_ms = 0;
	return 1;
}

static int
backend_commit(void *arg, const char **why)
{
	struct server *sv = arg;

	return store_commit(&sv->store, why);
}

static int
backend_select(void *arg, const char *name, size_t *count)
{
	struct server *sv = arg;

	if (store_select(&sv->store, name, count) == -1) {
		log_msg(LOG_INFO, "user=%s folder refused or unreadable: %s",
		    sv->user, strerror(errno));
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

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !stop_signal)
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
		session_fail(&sv->session, "Command line too long", &out);
		finish(sv, &out, "line too long");
	case LINE_NUL:
		session_fail(&sv->session, "NUL octet in command", &out);
		finish(sv, &out, "NUL in command");
	case LINE_ERROR:
	default:
		if (errno == ETIMEDOUT) {
			session_fail(&sv->session, "Autologout; idle for too long", &out);
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
	struct session_out out;

	if (store_send(&sv->store, n, &sv->io) == 0)
		return;
	if (stop_signal)
		finish(sv, NULL, "signal");
	if (errno == ESTALE) {
		/* Once part of the message went out, a reply would pass for data. */
		if (sv->io.put_total != before)
			finish(sv, NULL, "maildrop changed");
		session_fail(&sv->session, "Maildrop changed by another program", &out);
		finish(sv, &out, "maildrop changed");
	}
	finish(sv, NULL, errno == ETIMEDOUT ? "timeout" : "write error");
}

/* Opens -p's file before the greeting: a bad one is a configuration error. */
static int
open_passwd_file(struct server *sv)
{
	const char *path = sv->opt.passwd_file;
	struct stat st;

	sv->passwd_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (sv->passwd_fd == -1 || fstat(sv->passwd_fd, &st) == -1) {
		fprintf(stderr, "pop2d: -p %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "pop2d: -p %s: not a regular file\n", path);
		return -1;
	}
	return 0;
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
		enum line_status st;
		char *text;
		size_t len;

		st = line_read(&sv->lr, &text, &len);
		if (st != LINE_OK)
			end_on_line_status(sv, st);
		session_step(&sv->session, text, len, &out);
		util_wipe(text, len);
		if (out.login_failed)
			sleep_ms(FAILED_LOGIN_DELAY_MS);
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

/*
 * Finishes the interrupted commit of the user whose state directory is
 * open at STATEFD, in a child that has taken that user's identity: the
 * journal is the user's own file and must not steer root's writes.
 * Returns 0 (nothing to do or done), 1 (left alone, logged), -1 (failed).
 */
static int
recover_one(const struct options *o, int top, const char *name)
{
	struct store st;
	struct stat sb;
	pid_t pid;
	int status, statefd, sessionfd, r;

	if (fstatat(top, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(sb.st_mode))
		return 0;
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid > 0) {
		if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
			return -1;
		return WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == 1 ? 1 : -1;
	}
	if (geteuid() == 0 && sb.st_uid != 0 && become_owner(&sb) == -1)
		_exit(2);
	statefd = state_open(o->state_dir, name);
	if (statefd == -1) {
		log_msg(LOG_ERR, "recover user=%s: state directory unusable: %s",
		    name, strerror(errno));
		_exit(2);
	}
	sessionfd = lock_session(statefd);
	if (sessionfd == -1 && errno == EWOULDBLOCK) {
		/* That session finished any interrupted commit at its login. */
		log_msg(LOG_INFO, "recover user=%s: skipped, a session is running", name);
		_exit(0);
	}
	if (sessionfd == -1) {
		log_msg(LOG_ERR, "recover user=%s: session lock: %s", name, strerror(errno));
		_exit(2);
	}
	store_init(&st, "", NULL, statefd, o->lock_helper);
	r = store_recover(&st);
	if (r == -1)
		log_msg(LOG_ERR, "recover user=%s: %s", name, strerror(errno));
	else if (r == 1)
		log_msg(LOG_CRIT, "recover user=%s: the maildrop was rewritten by another "
		    "program: the journal's data is in %s/%s/%s, nothing was changed",
		    name, o->state_dir, name, COMMIT_RECOVERED);
	_exit(r == 0 ? 0 : r == 1 ? 1 : 2);
}

/* pop2d --recover-all: every user's interrupted commit, at boot. */
static int
recover_all(const struct options *o)
{
	struct dirent *de;
	DIR *dir;
	int top, failed = 0, r;

	top = open(o->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top == -1 && errno == ENOENT)
		return 0;  /* no session ever ran: nothing to recover */
	if (top == -1 || (dir = fdopendir(top)) == NULL) {
		fprintf(stderr, "pop2d: %s: %s\n", o->state_dir, strerror(errno));
		return 1;
	}
	/* cppcheck-suppress readdirCalled ; pop2d has one thread */
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		r = recover_one(o, dirfd(dir), de->d_name);
		if (r == -1) {
			fprintf(stderr, "pop2d: %s/%s: recovery failed (see the log)\n",
			    o->state_dir, de->d_name);
			failed = 1;
		} else if (r == 1) {
			fprintf(stderr, "pop2d: %s/%s: maildrop rewritten by another program; "
			    "data saved in %s\n", o->state_dir, de->d_name, COMMIT_RECOVERED);
			failed = 1;
		}
	}
	closedir(dir);
	return failed;
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
	if (sv.opt.recover_all)
		return recover_all(&sv.opt);
	/* Without -p: the system's accounts, looked up at HELO. */
	sv.passwd_fd = -1;
	if (sv.opt.passwd_file != NULL && open_passwd_file(&sv) == -1)
		return EXIT_USAGE;
	setup_signals();
	describe_peer(&sv);
	log_msg(LOG_INFO, "session start peer=%s", sv.peer);

	/* -T bounds the whole login, however the client spreads its octets. */
	io_init(&sv.io, STDIN_FILENO, STDOUT_FILENO, (int)sv.opt.login_seconds * 1000);
	sv.io.deadline_ms = io_now_ms() + (long long)sv.opt.login_seconds * 1000;
	sv.io.stop = &stop_signal;
	line_init(&sv.lr, &sv.io);
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
