# shellcheck shell=bash disable=SC2154
# Private namespaces for the tests that need root: users, identity changes
# and mounts, without changing the machine the tests run on.
#
# A test sources lib.sh, then this file, then calls `ns_enter "$@"` first:
# it re-runs the script as root in its own mount and PID namespaces
# (unshare), where /etc is a private copy bound over the real one (so
# /etc/passwd, /etc/shadow, /etc/group and /etc/gshadow are private), and
# tmpfs mounts are private too. When the script ends or is killed, the namespaces and everything in
# them vanish with it: the host's account files and mount table never
# change. Where that is impossible (not root, no unshare, no namespaces),
# the test is a counted SKIP (exit 77).

# ns_enter "$@": re-runs the calling script inside the namespaces (does not
# return there), or, when already inside, sets up the private account files.
ns_enter() {
	if [ -z "${POP2_IN_NS:-}" ]; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "SKIP: $(basename "$0") needs root for its private namespaces"
			exit 77
		fi
		if ! command -v unshare >/dev/null ||
			! unshare --mount --pid --fork --mount-proc true 2>/dev/null; then
			echo "SKIP: $(basename "$0"): unshare cannot make mount and PID namespaces here"
			exit 77
		fi
		rm -rf "$scratch"
		POP2_IN_NS=1 exec unshare --mount --pid --fork --mount-proc \
			--propagation private --kill-child bash "$0" "$@"
	fi
	local f
	# The scratch folder itself is a tmpfs of this mount namespace: when
	# the script is killed, the private account files (root's test hash
	# among them) and everything else vanish with the namespace; only the
	# empty folder can remain on the host's disk.
	mount -t tmpfs -o mode=0700 pop2d-test "$scratch" ||
		{ echo "FAIL: cannot mount a private tmpfs on $scratch"; exit 1; }
	mkdir -p "$state"
	# Mounts inside the scratch folder go before it is removed.
	trap 'ns_unmount_scratch; umount -l "$scratch"; rm -rf "$scratch"' EXIT
	# The whole of /etc, not its account files one by one: a mount on a
	# file is dropped in every namespace as soon as the host replaces that
	# file (useradd, apt-get, an administrator's vipw rename a new one into
	# place), and the test would then write the host's files. /etc itself
	# is never replaced.
	# A file the host makes or removes meanwhile (a lock of useradd's) may
	# fail to copy; the account files are renamed into place whole.
	cp -a /etc "$scratch/etc" 2>/dev/null
	[ -f "$scratch/etc/passwd" ] && [ -f "$scratch/etc/group" ] ||
		{ echo "FAIL: cannot copy /etc for a private one"; exit 1; }
	mount --bind "$scratch/etc" /etc ||
		{ echo "FAIL: cannot bind a private /etc"; exit 1; }
	ns_private_etc || { echo "FAIL: /etc is not the private copy"; exit 1; }
	# A name service cache would answer with the host's accounts.
	for f in /run/nscd /var/run/nscd; do
		[ -d "$f" ] && mount -t tmpfs -o mode=0755 pop2d-test "$f"
	done
	return 0
}

# ns_tmpfs DIR [MOUNT-OPTIONS]: a private, empty tmpfs on DIR (which must
# exist), e.g. a tiny one to fill, or a private /var/mail.
ns_tmpfs() {
	mount -t tmpfs -o "${2:-mode=0755}" pop2d-test "$1"
}

# ns_private_etc: whether /etc is still this namespace's private copy.
# Every function here that writes to /etc checks it first.
ns_private_etc() {
	[ -n "${POP2_IN_NS:-}" ] && [ "$(stat -c %d:%i /etc)" = "$(stat -c %d:%i "$scratch/etc")" ]
}

# ns_set_hash NAME HASH: NAME's password field in the private /etc/shadow
# (e.g. root's, so that the uid-0 refusal is proven with a right password).
ns_set_hash() {
	ns_private_etc || { echo "FAIL: /etc is not private: not writing it"; exit 1; }
	awk -F: -v OFS=: -v n="$1" -v h="$2" '$1 == n { $2 = h; $8 = "" } { print }' \
		/etc/shadow >"$scratch/shadow.new" && cat "$scratch/shadow.new" >/etc/shadow
	rm -f "$scratch/shadow.new"
}

# ns_hash PREFIX PASSWORD [COUNT]: a real crypt(3) hash ("$y$", "$6$", "$5$",
# "$2b$"), at the method's default cost or at COUNT (see test/mkhash.c).
ns_hash() {
	"$top_builddir/test/mkhash" "$@"
}

# ns_add_group NAME GID: a group in the private /etc/group.
ns_add_group() {
	ns_private_etc || { echo "FAIL: /etc is not private: not writing it"; exit 1; }
	printf '%s:x:%s:\n' "$1" "$2" >>/etc/group
	[ -e /etc/gshadow ] && printf '%s:!::\n' "$1" >>/etc/gshadow
	return 0
}

# ns_add_user NAME UID GID HOME HASH [EXPIRE [SHELL]]: an account in the
# private passwd and shadow files. HASH is the shadow field as is ("!..."
# is locked, "" has no password); EXPIRE is sp_expire in days (empty: none).
ns_add_user() {
	local name=$1 uid=$2 gid=$3 home=$4 hash=$5 expire=${6:-} shell=${7:-/bin/sh}
	ns_private_etc || { echo "FAIL: /etc is not private: not writing it"; exit 1; }
	printf '%s:x:%s:%s::%s:%s\n' "$name" "$uid" "$gid" "$home" "$shell" >>/etc/passwd
	printf '%s:%s:%s:0:99999:7::%s:\n' "$name" "$hash" "$(($(date +%s) / 86400))" \
		"$expire" >>/etc/shadow
}

# ns_add_member USER GROUP: USER becomes a supplementary member of GROUP.
ns_add_member() {
	ns_private_etc || { echo "FAIL: /etc is not private: not writing it"; exit 1; }
	sed -i "s/^\\($2:[^:]*:[^:]*:\\)\\(.*\\)\$/\\1\\2,$1/; s/:,$1\$/:$1/" /etc/group
}

# ns_unmount_scratch: lazily unmounts everything mounted beneath $scratch.
ns_unmount_scratch() {
	findmnt -rn -o TARGET | awk -v s="$scratch/" 'index($0, s) == 1' |
		sort -r | while read -r m; do umount -l "$m"; done
}
