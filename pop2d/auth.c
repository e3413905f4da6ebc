#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "passwd.h"
#include "util.h"

/*
 * The dummy when the accounts offer none (auth_dummy_passwd_file(),
 * auth_dummy_shadow()): yescrypt at Debian's default cost, the method of a
 * default /etc/shadow; it was made with `mkpasswd -m yescrypt` from a
 * random password that was thrown away. Only its cost matters: whatever
 * the dummy hashes to is never compared.
 */
static const char auth_dummy_hash[] =
    "$y$j9T$vFbr22zTIJ.1CoOzoMPGn1$w4fqK7i7qGYbAYGdhvQjOYcaaXRHS5CCLTj4IGDr2oD";

_Static_assert(
    AUTH_DUMMY_SIZE == CRYPT_OUTPUT_SIZE, "a dummy holds any crypt(3) output");

/* getpwnam_r's buffer grows on ERANGE up to this, a bound on a sick NSS. */
#define AUTH_PWBUF_MAX (1024L * 1024L)

enum auth_verdict {
	AUTH_V_MATCH,
	AUTH_V_MISMATCH,
	AUTH_V_LOCKED,	/* '!' or '*' */
	AUTH_V_EMPTY,	/* no password at all */
	AUTH_V_UNUSABLE /* crypt(3) rejects the stored hash */
};

/* Returns the hash of PASSWORD inside *CD, or NULL when crypt(3) fails. */
static const char *
auth_crypt(const char *password, const char *setting, struct crypt_data *cd)
{
	const char *r;

	/* libxcrypt wants a fresh crypt_data zeroed, "initialized" included. */
	memset(cd, 0, sizeof(*cd));
#ifdef HAVE_CRYPT_RN
	r = crypt_rn(password, setting, cd, (int)sizeof(*cd));
#else
	r = crypt_r(password, setting, cd);
#endif
	/* crypt_rn fails with NULL, crypt_r usually with a "*..." string. */
	if (r == NULL || r[0] == '*')
		return NULL;
	return r;
}

/*
 * Every path runs crypt(3) once at a real cost: on HASH when it can match,
 * else on DUMMY (after a failed, cheap call when crypt(3) rejects HASH),
 * or on the built-in dummy when DUMMY is NULL, empty or rejected too. Only
 * a password crypt(3) refuses outright is cheap, for every user alike, so
 * it tells nothing.
 */
static enum auth_verdict
auth_verify(const char *password, const char *hash, const char *dummy)
{
	struct crypt_data cd;
	enum auth_verdict v;
	size_t hlen = strlen(hash);
	const char *r = NULL;

	if (hash[0] == '\0')
		v = AUTH_V_EMPTY;
	else if (hash[0] == '!' || hash[0] == '*')
		v = AUTH_V_LOCKED;
	else if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE)
		v = AUTH_V_MISMATCH;	      /* crypt(3) would refuse it */
	else if (hlen >= CRYPT_OUTPUT_SIZE || /* no crypt output is that long */
	    (r = auth_crypt(password, hash, &cd)) == NULL)
		v = AUTH_V_UNUSABLE;
	else
		v = AUTH_V_MATCH; /* until compared below */

	if (r == NULL) {
		if (dummy == NULL || dummy[0] == '\0')
			dummy = auth_dummy_hash;
		if (auth_crypt(password, dummy, &cd) == NULL &&
		    dummy != auth_dummy_hash)
			(void)auth_crypt(password, auth_dummy_hash, &cd);
	} else {
		char want[CRYPT_OUTPUT_SIZE], got[CRYPT_OUTPUT_SIZE];

		/*
		 * Zero-padded copies of one fixed size, compared whole: the
		 * time depends neither on where they differ nor on their
		 * lengths.
		 */
		memset(want, 0, sizeof(want));
		memset(got, 0, sizeof(got));
		memcpy(want, hash, hlen);
		util_strlcpy(got, r, sizeof(got));
		if (!util_consttime_equal(want, got, sizeof(want)))
			v = AUTH_V_MISMATCH;
		util_wipe(want, sizeof(want));
		util_wipe(got, sizeof(got));
	}
	util_wipe(&cd, sizeof(cd));
	return v;
}

/* The log's word for a verdict other than a match. */
static const char *
auth_refusal(enum auth_verdict v)
{
	switch (v) {
	case AUTH_V_MISMATCH:
		return "wrong password";
	case AUTH_V_LOCKED:
		return "locked entry";
	case AUTH_V_EMPTY:
		return "no password";
	case AUTH_V_UNUSABLE:
	default:
		return "unusable hash";
	}
}

bool
auth_check_hash(const char *password, const char *hash)
{
	return auth_verify(password, hash, NULL) == AUTH_V_MATCH;
}

/*
 * Whether HASH can stand for its accounts' cost: a crypt(3) string of a
 * "$id$" method (not empty, not locked, not DES) that fits a dummy.
 */
static bool
auth_dummy_usable(const char *hash)
{
	return hash != NULL && hash[0] == '$' && strlen(hash) < AUTH_DUMMY_SIZE;
}

/*
 * Sets DUMMY to the setting of the usable HASH alone (method, cost and
 * salt), which crypt(3) hashes at the same cost: up to its last '$', and
 * for bcrypt ("$2b$NN$", no '$' after the salt) the 22 octets of salt too.
 * The hash of the account's password is not kept.
 */
static void
auth_dummy_keep(char *dummy, const char *hash)
{
	size_t len = (size_t)(strrchr(hash, '$') - hash) + 1;

	if (hash[1] == '2')
		len = strnlen(hash, len + 22);
	util_strlcpy(dummy, hash, len + 1);
}

/* For passwd_each(): keeps the first usable setting in ARG, a dummy. */
static int
auth_dummy_entry(void *arg, const struct passwd_entry *e)
{
	if (!auth_dummy_usable(e->hash))
		return 0;
	auth_dummy_keep(arg, e->hash);
	return 1;
}

void
auth_dummy_passwd_file(int fd, char *dummy)
{
	util_strlcpy(dummy, auth_dummy_hash, AUTH_DUMMY_SIZE);
	if (passwd_each(fd, auth_dummy_entry, dummy) != 1)
		util_strlcpy(dummy, auth_dummy_hash, AUTH_DUMMY_SIZE);
}

void
auth_dummy_shadow(const char *path, char *dummy)
{
	struct spwd sp, *spp;
	char buf[4096], iobuf[BUFSIZ];
	FILE *f;

	util_strlcpy(dummy, auth_dummy_hash, AUTH_DUMMY_SIZE);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	/* The file's octets pass through a buffer that is wiped afterwards. */
	(void)setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	/* Root cannot log in here: its hash may be older than the others. */
	while (fgetspent_r(f, &sp, buf, sizeof(buf), &spp) == 0) {
		if (strcmp(sp.sp_namp, "root") != 0 &&
		    auth_dummy_usable(sp.sp_pwdp)) {
			auth_dummy_keep(dummy, sp.sp_pwdp);
			break;
		}
	}
	(void)fclose(f);
	util_wipe(iobuf, sizeof(iobuf));
	util_wipe(buf, sizeof(buf));
	util_wipe(&sp, sizeof(sp));
}

enum auth_result
auth_passwd_file(int fd, const char *dummy, const char *user,
    const char *password, struct auth_user *out, const char **why)
{
	struct passwd_entry e;
	enum auth_result res = AUTH_DENIED;
	enum auth_verdict v;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	/* Malformed lines are main.c's to report, once per file change. */
	switch (passwd_lookup(fd, user, &e, NULL, NULL)) {
	case -1:
		/* A server fault, not a guess: nothing to hide. */
		*why = "passwd-file unreadable";
		return AUTH_ERROR;
	case 0:
		/* Costs the dummy hash, as a known user costs a real one. */
		(void)auth_verify(password, "", dummy);
		*why = "unknown user";
		return AUTH_DENIED;
	default:
		break;
	}

	v = auth_verify(password, e.hash, dummy);
	if (v == AUTH_V_MATCH) {
		util_strlcpy(out->name, e.user, sizeof(out->name));
		util_strlcpy(out->home, e.home, sizeof(out->home));
		/* passwd_parse_line only accepts a uid together with a gid. */
		out->change_id = e.has_uid && e.has_gid;
		if (out->change_id) {
			out->uid = e.uid;
			out->gid = e.gid;
		}
		res = AUTH_OK;
	} else {
		*why = auth_refusal(v);
	}
	util_wipe(&e, sizeof(e));
	return res;
}

/*
 * Whether DAYS days have passed since day SINCE by day TODAY, i.e. TODAY -
 * SINCE > DAYS, as pam_unix counts. A difference too large to compute is
 * taken as passed: an absurd date refuses rather than admits.
 */
static bool
auth_days_passed(long today, long since, long days)
{
	long d;

	if (__builtin_sub_overflow(today, since, &d))
		return true;
	return d > days;
}

/*
 * Shadow dates count days since 1970-01-01, and -1 (an empty field) alone
 * means "not set": any other value is a date, 0 and negative ones included
 * (`chage -E 0` expires an account on 1970-01-01, as pam_unix and OpenSSH
 * read it). The rules are pam_unix's, except that a password that must be
 * changed refuses the login, since POP2 cannot change it.
 */
static bool
auth_expired(const struct spwd *sp)
{
	long today = (long)(time(NULL) / 86400);

	if (sp->sp_expire != -1 && today >= sp->sp_expire)
		return true; /* the account itself has expired */
	if (sp->sp_lstchg == 0)
		return true; /* the password must be changed first */
	if (sp->sp_lstchg != -1 && sp->sp_max != -1 &&
	    auth_days_passed(today, sp->sp_lstchg, sp->sp_max))
		return true; /* the password has expired */
	return false;
}

int
auth_getpw(const char *name, struct passwd *pw, char **buf, size_t *size)
{
	struct passwd *found = NULL;
	long n = sysconf(_SC_GETPW_R_SIZE_MAX);
	int e;

	if (n < 1024)
		n = 1024;
	for (;;) {
		if ((*buf = malloc((size_t)n)) == NULL)
			return -1;
		*size = (size_t)n;
		e = getpwnam_r(name, pw, *buf, *size, &found);
		if (e != ERANGE || n >= AUTH_PWBUF_MAX)
			break;
		auth_getpw_free(*buf, *size);
		n *= 2;
	}
	if (found == NULL) {
		auth_getpw_free(*buf, *size);
		*buf = NULL;
		errno = e == 0 || e == ESRCH || e == EBADF || e == EPERM
		    ? ENOENT
		    : e;
		return -1;
	}
	return 0;
}

void
auth_getpw_free(char *buf, size_t size)
{
	if (buf == NULL)
		return;
	util_wipe(buf, size);
	free(buf);
}

int
auth_user_from_pw(struct auth_user *out, const struct passwd *pw)
{
	if (util_strlcpy(out->name, pw->pw_name, sizeof(out->name)) >=
		sizeof(out->name) ||
	    (pw->pw_dir != NULL &&
		util_strlcpy(out->home, pw->pw_dir, sizeof(out->home)) >=
		    sizeof(out->home))) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->change_id = true;
	out->system = true;
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	return 0;
}

enum auth_result
auth_system(const char *dummy, const char *user, const char *password,
    struct auth_user *out, const char **why)
{
	struct passwd pw;
	struct spwd sp, *spp = NULL;
	char *pwbuf, spbuf[4096];
	const char *hash;
	enum auth_verdict v;
	size_t pwsize;
	int e;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (auth_getpw(user, &pw, &pwbuf, &pwsize) == -1) {
		e = errno;
		(void)auth_verify(password, "", dummy);
		if (e != ENOENT) {
			errno = e;
			*why = "account database unreadable";
			return AUTH_ERROR;
		}
		*why = "unknown user";
		return AUTH_DENIED;
	}
	/* Without the shadow file (not root), the passwd field is all there is.
	 */
	(void)getspnam_r(user, &sp, spbuf, sizeof(spbuf), &spp);
	hash = spp != NULL ? spp->sp_pwdp : pw.pw_passwd;
	v = auth_verify(password, hash, dummy);
	if (v == AUTH_V_MATCH && pw.pw_uid == 0) {
		*why = "uid 0";
	} else if (v == AUTH_V_MATCH && spp != NULL && auth_expired(spp)) {
		*why = "expired";
	} else if (v == AUTH_V_MATCH && geteuid() != 0 &&
	    pw.pw_uid != geteuid()) {
		*why = "not this server's user";
	} else if (v == AUTH_V_MATCH && auth_user_from_pw(out, &pw) == -1) {
		*why = "user name or home too long";
	} else if (v != AUTH_V_MATCH) {
		*why = auth_refusal(v);
	}
	util_wipe(spbuf, sizeof(spbuf));
	util_wipe(&sp, sizeof(sp));
	auth_getpw_free(pwbuf, pwsize);
	util_wipe(&pw, sizeof(pw));
	return *why == NULL ? AUTH_OK : AUTH_DENIED;
}
