# shellcheck shell=bash disable=SC2154
# PAM service files of a test's own, never the host's /etc/pam.d: pop2d
# runs under pam_wrapper (libpam-wrapper), which makes libpam read its
# services from $pam_services instead. Modules are named by absolute path:
# pam_matrix and friends from $PAM_WRAPPER_MODULES, the real ones
# (pam_unix, pam_deny...) from $PAM_MODULES_DIR.

# pam_wrap_init: SKIPs (exit 77) unless pop2d was built with PAM and
# pam_wrapper is installed; sets pam_services, and pop2d_pam, a program
# that runs pop2d under pam_wrapper with the same arguments (same PID).
pam_wrap_init() {
	local lib=${PAM_WRAPPER_LIB%% *}
	if [ "${PAM:-}" != yes ]; then
		echo "SKIP: $(basename "$0"): pop2d was built without PAM"
		exit 77
	fi
	if [ -z "$lib" ] || [ ! -f "$lib" ] || [ ! -f "$PAM_WRAPPER_MODULES/pam_matrix.so" ]; then
		echo "SKIP: $(basename "$0"): pam_wrapper is not installed (Debian: libpam-wrapper)"
		exit 77
	fi
	if [ ! -f "$PAM_MODULES_DIR/pam_unix.so" ]; then
		echo "SKIP: $(basename "$0"): no pam_unix.so in $PAM_MODULES_DIR"
		exit 77
	fi
	pam_services=$scratch/pam.d
	mkdir -p "$pam_services" "$scratch/pam-bin"
	# A service no file names gets nothing but a refusal.
	pam_service other "auth required $PAM_MODULES_DIR/pam_deny.so" \
		"account required $PAM_MODULES_DIR/pam_deny.so"
	pop2d_pam=$scratch/pam-bin/pop2d
	{
		echo '#!/bin/sh'
		echo "LD_PRELOAD='$lib' PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR='$pam_services'"
		echo 'export LD_PRELOAD PAM_WRAPPER PAM_WRAPPER_SERVICE_DIR'
		# The sanitizers' runtime would insist on coming first, and
		# refuses RTLD_DEEPBIND (pam_wrapper 1.1.4 reads the variable
		# under uid_wrapper's name, later versions under its own).
		if [ "${SANITIZERS:-}" = yes ]; then
			echo 'PAM_WRAPPER_DISABLE_DEEPBIND=1 UID_WRAPPER_DISABLE_DEEPBIND=1'
			echo 'ASAN_OPTIONS=verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}'
			echo 'export PAM_WRAPPER_DISABLE_DEEPBIND UID_WRAPPER_DISABLE_DEEPBIND ASAN_OPTIONS'
		fi
		echo "exec '$POP2D' \"\$@\""
	} >"$pop2d_pam"
	chmod 755 "$scratch/pam-bin" "$pop2d_pam"
}

# pam_service NAME LINE...: the service file NAME, one LINE per rule.
pam_service() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$pam_services/$name"
}
