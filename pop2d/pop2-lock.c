/*
 * pop2-lock: takes the dot-lock of the caller's own maildrop for programs
 * that may not create files in the mail spool (MAILDROP.md, SPEC §6).
 *
 * Installed setgid mail. The group is dropped at once and taken back only
 * around the calls that create and remove the lock, from inside the
 * maildrop's folder, on base names, after checking that the maildrop is
 * the caller's own. Nothing from the environment is used.
 *
 * Service mode (pop2d's lib/lock.c): answers "1\n" once the lock is held
 * and keeps it until standard input reaches EOF, or answers "0 reason\n"
 * and exits with a sysexits(3) code. It tries once: back-off belongs to
 * the caller. Command mode ("-- COMMAND"): holds the lock while COMMAND
 * runs without the group, and exits with COMMAND's status.
 */
#include "config.h"

#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dotlock.h"
#include "util.h"

#ifndef SPOOL_DIR
#define SPOOL_DIR "/var/mail"
#endif

/* The search path of COMMAND: the caller's PATH is not trusted. */
#define COMMAND_PATH "/usr/bin:/bin"

/* Exit codes, from sysexits(3). */
#define EXIT_USAGE 64
#define EXIT_OSERR 71
#define EXIT_CANTCREAT 73
#define EXIT_IOERR 74
#define EXIT_BUSY 75
#define EXIT_NOPERM 77

#if defined(__SANITIZE_ADDRESS__)
#define POP2_LOCK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POP2_LOCK_ASAN 1
#endif
#endif

#ifdef POP2_LOCK_ASAN
#include <sys/prctl.h>

/*
 * In a sanitizer build only: LeakSanitizer cannot inspect a process that
 * the kernel made non-dumpable (set-group-ID), and would turn every exit
 * status into 1.
 */
int __lsan_is_turned_off(void);

int
__lsan_is_turned_off(void)
{
	return prctl(PR_GET_DUMPABLE) != 1;
}
#endif

/* Everything the program holds; main() owns the only instance. */
struct helper {
	bool command_mode;
	const char *maildrop; /* -m, or NULL for the spool file */
	char **command;

	uid_t uid;
	gid_t rgid;	/* the caller's group */
	gid_t mail_gid; /* the group we were installed with */
	bool use_group; /* the folder needs mail_gid to be written */

	char user[LOGIN_NAME_MAX + 1];
	char *home;		 /* for COMMAND's $HOME, or NULL */
	char base[NAME_MAX + 1]; /* the maildrop's name in its folder */
	char *abspath; /* the maildrop, for COMMAND's $MAIL, or NULL */
	int cwd_fd;    /* where COMMAND runs */

	mode_t caller_umask; /* given back to COMMAND */
	int sig_fd;
	sigset_t old_mask;
	struct sigaction old_pipe, old_chld, old_xfsz;
	struct dotlock dot;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pop2-lock [-m maildrop]\n"
	    "       pop2-lock [-m maildrop] -- command [argument ...]\n"
	    "       pop2-lock -V | -h\n");
}

/* Switches the effective group to mail_gid (ON) or back to the caller's. */
static void
group(struct helper *h, bool on)
{
	if (!h->use_group)
		return;
	if (setegid(on ? h->mail_gid : h->rgid) == -1) {
		/* Neither way can we go on safely, nor leave a lock behind. */
		fprintf(stderr, "pop2-lock: setegid: %s\n", strerror(errno));
		_exit(EXIT_OSERR);
	}
}

static void
unlock(struct helper *h)
{
	group(h, true);
	dotlock_release(&h->dot);
	group(h, false);
}

/*
 * The single way out after a failure: the reason goes to standard error
 * and, in service mode, also to standard output as the answer. A lock we
 * hold is removed first.
 */
static void __attribute__((noreturn, format(printf, 3, 4)))
die(struct helper *h, int status, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (h->dot.held)
		unlock(h);
	fprintf(stderr, "pop2-lock: %s\n", reason);
	if (!h->command_mode) {
		printf("0 %s\n", reason);
		fflush(stdout);
	}
	exit(status);
}

/* A set-group-ID program must not hand out its lock file as fd 0, 1 or 2. */
static void
open_standard_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			_exit(EXIT_OSERR);
	}
}

static void
parse_options(struct helper *h, int argc, char **argv)
{
	int c, i;

	/* "+": stop at the first operand, which belongs to COMMAND. */
	while ((c = getopt(argc, argv, "+hm:V")) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			exit(fflush(stdout) == 0 ? 0 : EXIT_IOERR);
		case 'm':
			h->maildrop = optarg;
			break;
		case 'V':
			printf("pop2-lock %s\n", PACKAGE_VERSION);
			exit(fflush(stdout) == 0 ? 0 : EXIT_IOERR);
		default:
			goto bad;
		}
	}
	if (optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
		if (optind == argc) {
			fprintf(stderr, "pop2-lock: -- needs a command\n");
			goto bad;
		}
		h->command_mode = true;
		h->command = argv + optind;
	} else if (optind < argc) {
		fprintf(stderr, "pop2-lock: unexpected argument: %s\n",
		    argv[optind]);
		goto bad;
	}
	if (h->maildrop != NULL && h->maildrop[0] == '\0') {
		fprintf(stderr, "pop2-lock: -m: empty path\n");
		goto bad;
	}
	return;

bad:
	usage(stderr);
	/* A service client still gets its one line. */
	i = 1;
	while (i < argc && strcmp(argv[i], "--") != 0)
		i++;
	if (i == argc) {
		printf("0 usage\n");
		fflush(stdout);
	}
	exit(EXIT_USAGE);
}

static void
who_am_i(struct helper *h)
{
	struct passwd *pw;

	errno = 0;
	/* cppcheck-suppress getpwuidCalled ; pop2-lock has one thread */
	pw = getpwuid(h->uid);
	if (pw == NULL)
		die(h, EXIT_NOPERM, "user %ld is not in the password database",
		    (long)h->uid);
	if (util_strlcpy(h->user, pw->pw_name, sizeof(h->user)) >=
		sizeof(h->user) ||
	    h->user[0] == '\0' || strchr(h->user, '/') != NULL ||
	    strcmp(h->user, ".") == 0 || strcmp(h->user, "..") == 0)
		die(h, EXIT_NOPERM, "user name unusable as a spool file name");
	if (pw->pw_dir[0] != '\0' && (h->home = strdup(pw->pw_dir)) == NULL)
		die(h, EXIT_OSERR, "out of memory");
}

/*
 * Enters the maildrop's folder and checks the target rules: a regular
 * file (not a symbolic link) owned by the caller, in a folder the caller
 * may write, or one that group mail may write when we were installed
 * with that group. Only the caller's own spool file may be missing (the
 * first delivery creates it). Everything after this works on h->base.
 */
static void
enter_folder(struct helper *h)
{
	const char *folder, *path, *slash;
	char *prefix = NULL, *cwd;
	struct stat st;
	bool spool = h->maildrop == NULL;

	if (spool) {
		folder = SPOOL_DIR;
		if (util_strlcpy(h->base, h->user, sizeof(h->base)) >=
		    sizeof(h->base))
			die(h, EXIT_USAGE, "user name too long");
	} else {
		path = h->maildrop;
		slash = strrchr(path, '/');
		if (slash == NULL) {
			folder = ".";
			slash = path - 1;
		} else if (slash == path) {
			folder = "/";
		} else {
			prefix = strndup(path, (size_t)(slash - path));
			if (prefix == NULL)
				die(h, EXIT_OSERR, "out of memory");
			folder = prefix;
		}
		if (util_strlcpy(h->base, slash + 1, sizeof(h->base)) >=
		    sizeof(h->base))
			die(h, EXIT_USAGE, "-m: name too long: %s", path);
		if (h->base[0] == '\0' || strcmp(h->base, ".") == 0 ||
		    strcmp(h->base, "..") == 0)
			die(h, EXIT_USAGE, "-m: not a file name: %s", path);
	}
	/* ".lock" and the post's prefix must still fit in NAME_MAX. */
	if (strlen(h->base) > NAME_MAX - 6)
		die(h, EXIT_USAGE, "name too long: %s", h->base);

	/* COMMAND runs where we were started; O_PATH needs no read right. */
	h->cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (h->cwd_fd == -1 && h->command_mode)
		die(h, EXIT_OSERR, "current directory: %s", strerror(errno));
	/* A folder too long for the kernel makes an unusable name. */
	if (chdir(folder) == -1)
		die(h, errno == ENAMETOOLONG ? EXIT_USAGE : EXIT_NOPERM,
		    "%s: %s", folder, strerror(errno));

	if (lstat(h->base, &st) == -1) {
		if (!(spool && errno == ENOENT))
			die(h, EXIT_NOPERM, "%s: %s", h->base, strerror(errno));
	} else if (S_ISLNK(st.st_mode)) {
		die(h, EXIT_NOPERM, "%s: is a symbolic link", h->base);
	} else if (!S_ISREG(st.st_mode)) {
		die(h, EXIT_NOPERM, "%s: not a regular file", h->base);
	} else if (st.st_uid != h->uid) {
		die(h, EXIT_NOPERM, "%s: not the caller's file", h->base);
	}

	if (stat(".", &st) == -1)
		die(h, EXIT_NOPERM, "%s: %s", folder, strerror(errno));
	if (access(".", W_OK) == 0) {
		/* The caller could make the lock alone: lend no group. */
		h->use_group = false;
	} else if (h->mail_gid != h->rgid && st.st_gid == h->mail_gid &&
	    (st.st_mode & S_IWGRP) != 0) {
		h->use_group = true;
	} else {
		die(h, EXIT_NOPERM, "%s: folder not writable by group mail",
		    folder);
	}

	free(prefix);

	/* Where the kernel cannot name the folder, COMMAND gets no $MAIL. */
	if ((cwd = getcwd(NULL, 0)) == NULL && errno == ENOMEM)
		die(h, EXIT_OSERR, "out of memory");
	if (cwd != NULL && util_path_join(&h->abspath, cwd, h->base) == -1)
		die(h, EXIT_OSERR, "out of memory");
	free(cwd);
}

/*
 * Whether a signal is one the caller may send to end us, which must not
 * cut the window between making a hitching post and removing it, or leave
 * a lock behind: all but the ones that cannot be caught, the job-control
 * stops (a shell must still be able to stop us), and the ones ignored by
 * default. SIGXFSZ is ignored instead: a write past the caller's file
 * size limit then fails with EFBIG.
 */
static bool
caught_signal(int sig)
{
	switch (sig) {
	case SIGKILL:
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
	case SIGCONT:
	case SIGWINCH:
	case SIGURG:
	case SIGXFSZ:
		return false;
	default:
		return true;
	}
}

/*
 * Every signal that could end us (unless the caller ignores it, as nohup
 * does with HUP) and CHLD are blocked for good and read from a signalfd,
 * so no handler ever runs and no signal can strike between making a
 * hitching post and removing it, or while the lock is held.
 */
static void
setup_signals(struct helper *h)
{
	struct sigaction sa, old;
	sigset_t set;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, &h->old_pipe) == -1 ||
	    sigaction(SIGXFSZ, &sa, &h->old_xfsz) == -1)
		die(h, EXIT_OSERR, "sigaction: %s", strerror(errno));
	/* An inherited SIG_IGN would let the kernel reap COMMAND for us. */
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &sa, &h->old_chld) == -1)
		die(h, EXIT_OSERR, "sigaction: %s", strerror(errno));

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (sig = 1; sig < NSIG; sig++)
		if (caught_signal(sig) && sig != SIGPIPE &&
		    sigaction(sig, NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			(void)sigaddset(&set, sig);
	if (sigprocmask(SIG_BLOCK, &set, &h->old_mask) == -1)
		die(h, EXIT_OSERR, "sigprocmask: %s", strerror(errno));
	h->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (h->sig_fd == -1)
		die(h, EXIT_OSERR, "signalfd: %s", strerror(errno));
}

/* Returns the next signal waiting on the signalfd, or 0. */
static int
next_signal(struct helper *h)
{
	struct signalfd_siginfo si;

	if (read(h->sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/*
 * Removes the hitching posts the caller's own earlier runs left when they
 * were killed (SIGKILL, which nothing can block): in a spool the caller
 * cannot write, nobody else would.
 */
static void
sweep_posts(struct helper *h)
{
	group(h, true);
	(void)dotlock_sweep(h->base, h->uid);
	group(h, false);
}

static void
take_lock(struct helper *h)
{
	int r, err;

	group(h, true);
	r = dotlock_try(&h->dot, h->base);
	err = errno;
	group(h, false);
	if (r == 0)
		return;
	switch (err) {
	case EEXIST:
		die(h, EXIT_BUSY, "busy");
	case EACCES:
	case EPERM:
		die(h, EXIT_NOPERM, "not permitted: %s", strerror(err));
	default:
		die(h, EXIT_CANTCREAT, "cannot create the lock: %s",
		    strerror(err));
	}
}

/*
 * Service mode: holds the lock until standard input reaches EOF (pop2d
 * closed its end or died), refreshing it meanwhile.
 */
static int
serve(struct helper *h)
{
	static const char yes[] = "1\n";
	char buf[512];

	if (write(STDOUT_FILENO, yes, sizeof(yes) - 1) !=
	    (ssize_t)sizeof(yes) - 1) {
		unlock(h);
		return EXIT_IOERR;
	}
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = h->sig_fd, .events = POLLIN },
		};
		int r, sig;

		r = poll(pfd, 2, DOTLOCK_REFRESH_SECONDS * 1000);
		dotlock_refresh(&h->dot);
		if (r == -1 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (pfd[1].revents != 0) {
			while ((sig = next_signal(h)) != 0) {
				if (sig != SIGCHLD) {
					unlock(h);
					return 128 + sig;
				}
			}
		}
		if (pfd[0].revents & POLLIN) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n == 0 ||
			    (n == -1 && errno != EINTR && errno != EAGAIN))
				break;
		} else if (pfd[0].revents != 0) {
			break;
		}
	}
	unlock(h);
	return 0;
}

/*
 * Between fork() and exec: gives up the group for good (real, effective
 * and saved, proven by a failing setegid), restores what we changed, and
 * runs COMMAND where pop2-lock was started with a small, fixed
 * environment. Never returns.
 */
static void __attribute__((noreturn)) run_command(struct helper *h)
{
	if (setresgid(h->rgid, h->rgid, h->rgid) == -1 ||
	    (h->mail_gid != h->rgid && geteuid() != 0 &&
		setegid(h->mail_gid) != -1)) {
		fprintf(stderr, "pop2-lock: cannot drop group privileges\n");
		_exit(126);
	}
	if (h->cwd_fd != -1 && fchdir(h->cwd_fd) == -1) {
		fprintf(stderr,
		    "pop2-lock: cannot return to the current "
		    "directory: %s\n",
		    strerror(errno));
		_exit(126);
	}
	sigaction(SIGPIPE, &h->old_pipe, NULL);
	sigaction(SIGCHLD, &h->old_chld, NULL);
	sigaction(SIGXFSZ, &h->old_xfsz, NULL);
	umask(h->caller_umask);
	sigprocmask(SIG_SETMASK, &h->old_mask, NULL);

	/* main() cleared the environment: this is all of it. */
	if (setenv("PATH", COMMAND_PATH, 1) == -1 ||
	    setenv("USER", h->user, 1) == -1 ||
	    setenv("LOGNAME", h->user, 1) == -1 ||
	    (h->home != NULL && setenv("HOME", h->home, 1) == -1) ||
	    (h->abspath != NULL && setenv("MAIL", h->abspath, 1) == -1)) {
		fprintf(stderr, "pop2-lock: cannot set the environment\n");
		_exit(126);
	}
	execvp(h->command[0], h->command);
	fprintf(stderr, "pop2-lock: %s: %s\n", h->command[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/*
 * Command mode: runs COMMAND and keeps the lock until it ends. TERM, HUP
 * and INT are passed on to COMMAND rather than ending the lock under it.
 */
static int
command(struct helper *h)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == -1)
		die(h, EXIT_OSERR, "fork: %s", strerror(errno));
	if (pid == 0)
		run_command(h);

	for (;;) {
		struct pollfd pfd = { .fd = h->sig_fd, .events = POLLIN };
		pid_t r;
		int sig;

		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1 && errno != EINTR) {
			unlock(h);
			return EXIT_OSERR;
		}
		if (poll(&pfd, 1, DOTLOCK_REFRESH_SECONDS * 1000) == -1 &&
		    errno != EINTR) {
			unlock(h);
			return EXIT_OSERR;
		}
		dotlock_refresh(&h->dot);
		while ((sig = next_signal(h)) != 0)
			if (sig != SIGCHLD)
				kill(pid, sig);
	}
	unlock(h);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_OSERR;
}

int
main(int argc, char **argv)
{
	struct helper h;
	int status;

	open_standard_fds();
	memset(&h, 0, sizeof(h));
	h.cwd_fd = -1;
	h.sig_fd = -1;
	dotlock_init(&h.dot);
	h.uid = getuid();
	h.rgid = getgid();
	h.mail_gid = getegid();
	if (h.mail_gid != h.rgid && setegid(h.rgid) == -1) {
		fprintf(stderr, "pop2-lock: setegid: %s\n", strerror(errno));
		return EXIT_OSERR;
	}
	/*
	 * Nothing below reads the environment; clearing it keeps library
	 * code from doing so either.
	 */
	if (clearenv() != 0) {
		fprintf(stderr, "pop2-lock: cannot clear the environment\n");
		return EXIT_OSERR;
	}
	h.caller_umask = umask(022);

	parse_options(&h, argc, argv);
	who_am_i(&h);
	enter_folder(&h);
	setup_signals(&h);
	sweep_posts(&h);
	take_lock(&h);
	status = h.command_mode ? command(&h) : serve(&h);
	free(h.home);
	free(h.abspath);
	return status;
}
