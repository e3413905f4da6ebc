#!/bin/bash
# mandoc -Tlint on the man pages, style notes included: no warning, and
# every cross reference found (the project's own pages from the tree, the
# others from the system's manual pages). Pages of other packages may be
# referred to only when they are in the list below, of pages that Debian
# 12 ships (in manpages-dev, procmail, liblockfile-bin, coreutils, dpkg,
# passwd, xinetd, systemd, openssl, libcrypt-dev); one of those that this
# machine lacks is only reported. Anything else must be dropped or named
# without .Xr.
set -u
. "$(dirname "$0")/lib.sh"

command -v mandoc >/dev/null || skip_all "mandoc is not installed (Debian: mandoc)"
mkdir -p "$scratch/man/man5" "$scratch/man/man8"
cp "$top_srcdir"/doc/*.5 "$scratch/man/man5/"
cp "$top_srcdir"/doc/*.8 "$scratch/man/man8/"
system=$(manpath 2>/dev/null || echo /usr/share/man)
known=" crypt.3 crypt.5 dotlockfile.1 dpkg-statoverride.1 fcntl.2 flock.2
gethostname.2 getpwnam.3 getspnam.3 initgroups.3 link.2 nohup.1 openat2.2
openssl.1 openssl-passwd.1ssl procmail.1 shadow.5 syslog.3 systemd.1
systemd.socket.5 xinetd.8 xinetd.conf.5 "
for page in "$top_srcdir"/doc/*.[58]; do
	# mandoc's notes about its own stale database are no lint.
	MANPATH="$scratch/man:$system" mandoc -Tlint -W style "$page" 2>&1 |
		grep -v 'outdated mandoc.db' >"$scratch/all"
	: >"$scratch/lint"
	while IFS= read -r line; do
		if [[ $line =~ referenced\ manual\ not\ found:\ Xr\ ([^ ]+)\ ([^ ]+) ]] &&
			[[ $known == *[[:space:]]${BASH_REMATCH[1]}.${BASH_REMATCH[2]}[[:space:]]* ]]; then
			skip "$(basename "$page") refers to ${BASH_REMATCH[1]}(${BASH_REMATCH[2]}), not installed here"
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
finish
