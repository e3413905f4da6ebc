/*
 * auth_pam: system accounts through PAM (built with --with-pam).
 *
 * verify() runs pam_start() for the service CFG->pam_service, with a
 * conversation that answers every echo-off prompt with the HELO password,
 * ignores informational and error texts, and refuses anything else;
 * PAM_FAIL_DELAY set to a function that does not wait, so that no
 * module's own delay tells one refusal from another (pop2d's fixed
 * failed-login deadline applies to all of them); PAM_RHOST when the client
 * has an address; pam_authenticate() with PAM_DISALLOW_NULL_AUTHTOK;
 * pam_acct_mgmt(), where an expired or locked account and a password that
 * must be changed (PAM_NEW_AUTHTOK_REQD) are all refused; and the final
 * PAM_USER, which a module may have changed, looked up with getpwnam_r().
 * Refused like any other: uid 0, a PAM_USER without a passwd entry, and,
 * when pop2d does not run as root, any user but the one it runs as.
 *
 * On a refusal *WHY is "pam_CALL: PAM's reason" (pam_strerror(), with
 * control characters replaced) or a phrase of auth_system()'s, and the PAM
 * handle is ended. PAM, not the shadow file, decides: an account that PAM
 * accepts logs in whatever its shadow entry says.
 */
#ifndef POP2_AUTH_PAM_H
#define POP2_AUTH_PAM_H

#include "auth_source.h"

/* PASSWORD is wiped as soon as pam_authenticate() returns. */
enum auth_result auth_pam_verify(struct auth_login *l, const char *user,
    char *password, struct auth_user *out, const char **why);

/* pam_setcred(PAM_ESTABLISH_CRED). Returns 0, or -1 with *WHY set. */
int auth_pam_establish(struct auth_login *l, const char **why);

/* pam_end() with the last call's result; session modules never ran. */
void auth_pam_end(struct auth_login *l);

#endif
