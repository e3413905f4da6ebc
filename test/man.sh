#!/bin/bash
# mandoc -Tlint on the man pages, style notes included: no warning, and
# every cross reference found (the project's own pages from the tree, the
# others from the system's manual pages). Pages of other packages may be
# referred to only when they are in the list below, of pages that Debian
# 12 ships (in manpages-dev, procmail, liblockfile-bin, coreutils, dpkg,
# passwd, xinetd, systemd, openssl, libcrypt-dev, libpam-modules,
# libpam-modules-bin, haproxy, stunnel4); one of those that this machine
# lacks is only reported (Debian's minimal images leave out
# /usr/share/man), unless POP2_SYSTEM_MANPATH names where those packages'
# pages are (CI unpacks them there from the packages themselves): then it
# is a failure. Anything else must be dropped or named without .Xr.
# Then the pages as make install-man installs them (into a DESTDIR) are
# rendered with mandoc without a warning, each under its own title.
set -u
. "$(dirname "$0")/lib.sh"

: "${MAKE:=make}"
command -v mandoc >/dev/null || skip_all "mandoc is not installed (Debian: mandoc)"
mkdir -p "$scratch/man/man5" "$scratch/man/man8"
cp "$top_srcdir"/doc/*.5 "$scratch/man/man5/"
cp "$top_srcdir"/doc/*.8 "$scratch/man/man8/"
system=${POP2_SYSTEM_MANPATH:-$(manpath 2>/dev/null || echo /usr/share/man)}
known=" crypt.3 crypt.5 dotlockfile.1 dpkg-statoverride.1 fcntl.2 flock.2
gethostname.2 getpeername.2 getpwnam.3 getpwnam_r.3 getspnam.3 haproxy.1
initgroups.3 link.2 nohup.1 openat2.2 openssl.1 openssl-passwd.1ssl
pam_access.8 pam_faildelay.8 pam_faillock.8 pam_group.8 pam_nologin.8
pam_time.8 pam_unix.8 procmail.1 shadow.5 stunnel.8 syslog.3 systemd.1
systemd-logind.8 systemd.socket.5 umask.2 unix_chkpwd.8 xinetd.8
xinetd.conf.5 "
for page in "$top_srcdir"/doc/*.[58]; do
	# mandoc's notes about its own stale database are no lint.
	MANPATH="$scratch/man:$system" mandoc -Tlint -W style "$page" 2>&1 |
		grep -v 'outdated mandoc.db' >"$scratch/all"
	: >"$scratch/lint"
	while IFS= read -r line; do
		if [[ $line =~ referenced\ manual\ not\ found:\ Xr\ ([^ ]+)\ ([^ ]+) ]] &&
			[[ $known == *[[:space:]]${BASH_REMATCH[1]}.${BASH_REMATCH[2]}[[:space:]]* ]]; then
			if [ -n "${POP2_SYSTEM_MANPATH:-}" ]; then
				echo "$line (not in POP2_SYSTEM_MANPATH=$POP2_SYSTEM_MANPATH)" >>"$scratch/lint"
			else
				skip "$(basename "$page") refers to ${BASH_REMATCH[1]}(${BASH_REMATCH[2]}), not installed here"
			fi
		else
			echo "$line" >>"$scratch/lint"
		fi
	done <"$scratch/all"
	if [ -s "$scratch/lint" ]; then
		fail "mandoc -Tlint -W style $(basename "$page")"
		cat "$scratch/lint"
	else
		pass "mandoc -Tlint -W style $(basename "$page")"
	fi
done

# The installed pages, rendered.
dest=$scratch/dest
if ! (cd "$top_builddir" && $MAKE -s install-man DESTDIR="$dest") >"$scratch/install.out" 2>&1; then
	fail "make install-man DESTDIR=..."
	cat "$scratch/install.out"
fi
for page in "$top_srcdir"/doc/*.[58]; do
	name=$(basename "$page")
	installed=$(find "$dest" -type f -name "$name" | head -n 1)
	if [ -z "$installed" ]; then
		fail "make install-man installs $name"
		continue
	fi
	title=$(echo "${name%.*}" | tr '[:lower:]' '[:upper:]')
	mandoc -Tutf8 -W warning "$installed" >"$scratch/rendered" 2>"$scratch/warnings"
	status=$?
	check "$name as installed renders without a warning (exit $status)" \
		[ "$status" -eq 0 -a ! -s "$scratch/warnings" ]
	check "$name as installed renders under its title $title(${name##*.})" \
		grep -q "^$title(${name##*.})" "$scratch/rendered"
	[ -s "$scratch/warnings" ] && cat "$scratch/warnings"
done
finish
