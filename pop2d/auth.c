#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "passwd.h"
#include "util.h"

/*
 * Hashed whenever there is no real hash to check (unknown user, locked or
 * empty entry, a hash crypt(3) rejects), so that such a failure takes as
 * long as a wrong password and the delay does not reveal which accounts
 * exist. It is yescrypt at Debian's default cost, the method of a default
 * /etc/shadow; it was made with `mkpasswd -m yescrypt` from a random
 * password that was thrown away. Only its cost matters: nothing can match.
 */
static const char auth_dummy_hash[] =
    "$y$j9T$vFbr22zTIJ.1CoOzoMPGn1$w4fqK7i7qGYbAYGdhvQjOYcaaXRHS5CCLTj4IGDr2oD";

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
 * else on the dummy hash (after a failed, cheap call when crypt(3) rejects
 * HASH). Only a password crypt(3) refuses outright is cheap, for every
 * user alike, so it tells nothing.
 */
static enum auth_verdict
auth_verify(const char *password, const char *hash)
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
	return auth_verify(password, hash) == AUTH_V_MATCH;
}

enum auth_result
auth_passwd_file(int fd, const char *user, const char *password,
    struct auth_user *out, const char **why)
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
		(void)auth_verify(password, "");
		*why = "unknown user";
		return AUTH_DENIED;
	default:
		break;
	}

	v = auth_verify(password, e.hash);
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

enum auth_result
auth_system(const char *user, const char *password, struct auth_user *out,
    const char **why)
{
	struct passwd pw, *pwp = NULL;
	struct spwd sp, *spp = NULL;
	char pwbuf[4096], spbuf[4096];
	const char *hash;
	enum auth_verdict v;
	int e;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	e = getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp);
	if (pwp == NULL) {
		(void)auth_verify(password, "");
		if (e != 0 && e != ENOENT && e != ESRCH && e != EBADF && e != EPERM) {
			errno = e;
			*why = "account database unreadable";
			return AUTH_ERROR;
		}
		*why = "unknown user";
		return AUTH_DENIED;
	}
	/* Without the shadow file (not root), the passwd field is all there is. */
	(void)getspnam_r(user, &sp, spbuf, sizeof(spbuf), &spp);
	hash = spp != NULL ? spp->sp_pwdp : pw.pw_passwd;
	v = auth_verify(password, hash);
	if (v == AUTH_V_MATCH && pw.pw_uid == 0) {
		*why = "uid 0";
	} else if (v == AUTH_V_MATCH && spp != NULL && auth_expired(spp)) {
		*why = "expired";
	} else if (v == AUTH_V_MATCH && geteuid() != 0 && pw.pw_uid != geteuid()) {
		*why = "not this server's user";
	} else if (v == AUTH_V_MATCH) {
		util_strlcpy(out->name, pw.pw_name, sizeof(out->name));
		if (pw.pw_dir != NULL)
			util_strlcpy(out->home, pw.pw_dir, sizeof(out->home));
		out->change_id = true;
		out->system = true;
		out->uid = pw.pw_uid;
		out->gid = pw.pw_gid;
	} else {
		*why = auth_refusal(v);
	}
	util_wipe(spbuf, sizeof(spbuf));
	util_wipe(&sp, sizeof(sp));
	util_wipe(pwbuf, sizeof(pwbuf));
	return *why == NULL ? AUTH_OK : AUTH_DENIED;
}
