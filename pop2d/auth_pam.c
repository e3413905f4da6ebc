#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_pam.h"
#include "util.h"

/* Frees N responses, wiping the passwords in them. */
static void
auth_pam_drop(struct pam_response *r, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (r[i].resp != NULL) {
			util_wipe(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
}

/*
 * The conversation: the password for every echo-off prompt (a stack may
 * ask more than once), silence for texts, a refusal for anything else,
 * echo-on prompts included: pop2d has nothing else to give. The answers
 * are PAM's to wipe and free once it has them.
 */
static int
auth_pam_conv(int n, const struct pam_message **msg, struct pam_response **resp,
    void *appdata)
{
	const struct auth_login *l = appdata;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	/* Some modules pass no RESP with texts: there is nothing to answer. */
	if (resp == NULL) {
		for (i = 0; i < n; i++)
			if (msg[i]->msg_style != PAM_TEXT_INFO &&
			    msg[i]->msg_style != PAM_ERROR_MSG)
				return PAM_CONV_ERR;
		return PAM_SUCCESS;
	}
	*resp = NULL;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (l->password == NULL ||
			    (r[i].resp = strdup(l->password)) == NULL) {
				auth_pam_drop(r, n);
				return l->password == NULL ? PAM_CONV_ERR
							   : PAM_BUF_ERR;
			}
			break;
		case PAM_TEXT_INFO:
		case PAM_ERROR_MSG:
			break;
		default:
			auth_pam_drop(r, n);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/*
 * PAM_FAIL_DELAY: modules ask for a delay after a failure (pam_unix 2 s,
 * pam_faildelay whatever it is told, each its own), which would tell a
 * client which module refused it. pop2d waits its own fixed deadline for
 * every refusal instead, so this waits for nothing.
 */
static void
auth_pam_no_delay(int status, unsigned usec, void *appdata)
{
	(void)status;
	(void)usec;
	(void)appdata;
}

/* *WHY = "CALL: PAM's reason for STATUS", control characters replaced. */
static void
auth_pam_reason(
    struct auth_login *l, const char *call, int status, const char **why)
{
	char *p;

	snprintf(l->why, sizeof(l->why), "%s: %s", call,
	    pam_strerror((pam_handle_t *)l->pamh, status));
	for (p = l->why; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	*why = l->why;
}

/* Fills *OUT from PAM_USER's passwd entry. Returns NULL, or why not. */
static const char *
auth_pam_account(struct auth_login *l, struct auth_user *out)
{
	const void *item = NULL;
	const char *name, *why = NULL;
	struct passwd pw;
	size_t size;
	char *buf;

	l->pam_status = pam_get_item((pam_handle_t *)l->pamh, PAM_USER, &item);
	if (l->pam_status != PAM_SUCCESS || item == NULL)
		return "PAM gave no user name";
	name = item;
	if (auth_getpw(name, &pw, &buf, &size) == -1)
		return errno == ENOENT ? "PAM user has no passwd entry"
				       : "account database unreadable";
	if (pw.pw_uid == 0)
		why = "uid 0";
	else if (geteuid() != 0 && pw.pw_uid != geteuid())
		why = "not this server's user";
	else if (auth_user_from_pw(out, &pw) == -1)
		why = "user name or home too long";
	auth_getpw_free(buf, size);
	return why;
}

enum auth_result
auth_pam_verify(struct auth_login *l, const char *user, char *password,
    struct auth_user *out, const char **why)
{
	struct pam_conv conv = { auth_pam_conv, l };
	pam_handle_t *pamh = NULL;
	const char *call = "pam_start";
	enum auth_result res = AUTH_DENIED;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	/* Only pam_authenticate() may read the password. */
	l->password = password;
	l->pam_status = pam_start(l->cfg->pam_service, user, &conv, &pamh);
	l->pamh = pamh;
	/* It fails only for want of memory or of a usable service file. */
	if (l->pam_status != PAM_SUCCESS)
		res = AUTH_ERROR;
	if (l->pam_status == PAM_SUCCESS) {
		call = "pam_set_item";
		l->pam_status = pam_set_item(
		    pamh, PAM_FAIL_DELAY, (const void *)auth_pam_no_delay);
	}
	if (l->pam_status == PAM_SUCCESS && l->cfg->rhost != NULL &&
	    l->cfg->rhost[0] != '\0')
		l->pam_status = pam_set_item(pamh, PAM_RHOST, l->cfg->rhost);
	if (l->pam_status == PAM_SUCCESS) {
		call = "pam_authenticate";
		l->pam_status = pam_authenticate(
		    pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	}
	l->password = NULL;
	util_wipe(password, strlen(password));
	if (l->pam_status == PAM_SUCCESS) {
		call = "pam_acct_mgmt";
		l->pam_status =
		    pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	}
	if (l->pam_status == PAM_SUCCESS) {
		*why = auth_pam_account(l, out);
		if (*why == NULL)
			return AUTH_OK;
		memset(out, 0, sizeof(*out));
		/* The modules' cleanup learns that the login was refused. */
		l->pam_status = PAM_PERM_DENIED;
	} else {
		auth_pam_reason(l, call, l->pam_status, why);
	}
	auth_pam_end(l);
	return res;
}

int
auth_pam_establish(struct auth_login *l, const char **why)
{
	l->pam_status = pam_setcred(
	    (pam_handle_t *)l->pamh, PAM_ESTABLISH_CRED | PAM_SILENT);
	if (l->pam_status == PAM_SUCCESS)
		return 0;
	auth_pam_reason(l, "pam_setcred", l->pam_status, why);
	return -1;
}

void
auth_pam_end(struct auth_login *l)
{
	if (l->pamh != NULL)
		(void)pam_end((pam_handle_t *)l->pamh, l->pam_status);
	l->pamh = NULL;
}
