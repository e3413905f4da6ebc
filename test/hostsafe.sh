#!/bin/bash
# The tests never change the machine they run on: each test that works as
# root in private namespaces (test/ns.sh) is killed with SIGKILL in the
# middle of its run, once it has made its private accounts and mounts; the
# host's /etc/passwd, /etc/shadow, /etc/group, /etc/gshadow and mount
# table must then be exactly as they were, and nothing of the test may be
# left on disk but its empty scratch folder. And a host that replaces its
# account files while such a test runs never gets the test's accounts.
# Root only (as anyone else the namespace tests skip and change nothing).
# The killed tests and the renaming host run side by side.
set -u
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "the namespace tests run only as root"
unshare --mount --pid --fork --mount-proc true 2>/dev/null ||
	skip_all "unshare cannot make mount and PID namespaces here"

# The host as the tests must leave it: the account files' checksums and
# the mount table (mount point, source, type, options). Mounts beneath
# /tmp are left out: no test of this suite mounts there (safedir.sh never
# puts a scratch folder beneath a world-writable folder), and on a shared
# machine other programs' scratch mounts come and go there meanwhile.
host_state() {
	local f
	for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow; do
		[ -e "$f" ] && sha256sum "$f"
	done
	findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -v '^/tmp/' | sort
}
host_state >"$scratch/before"

# start_midway SCRIPT CASE: starts SCRIPT with its scratch folder beneath
# ours, to be held (lib.sh's POP2_HOLD_AFTER) right after the case whose
# name begins with CASE has passed. The scripts run side by side: each is
# in namespaces of its own, so none can see another's accounts or mounts.
held=()
start_midway() {
	local script=$1 case=$2 name
	name=$(basename "$script" .sh)-killed
	mkdir "$scratch/$name"
	# Its users must reach their files beneath our scratch folder.
	chmod 755 "$scratch" "$scratch/$name"
	: >"$scratch/$name.out"
	POP2_TEST_TMPDIR=$scratch/$name POP2_HOLD_AFTER=$case bash "$top_srcdir/test/$script" \
		>"$scratch/$name.out" 2>&1 &
	held+=("$script:$!:$case")
}

# kill_midway SCRIPT PID CASE: once SCRIPT (started by start_midway as PID)
# is held after CASE, kills it there with SIGKILL.
kill_midway() {
	local script=$1 pid=$2 case=$3 name
	name=$(basename "$script" .sh)-killed
	if ! wait_for 60 grep -q '^HELD: ' "$scratch/$name.out"; then
		fail "$script: never reached '$case'"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid"
		cat "$scratch/$name.out"
		return
	fi
	check "$script was still running when killed" kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	check "$script killed midway: the host's account files and mounts are as they were" \
		cmp -s "$scratch/before" <(host_state)
	host_state | diff "$scratch/before" - | head -20
	check "$script killed midway: nothing of it left on disk but empty folders" \
		[ -z "$(find "$scratch/$name" -mindepth 1 ! -type d | head -n 1)" ]
}

# accounts.sh: after root's test hash is in the private shadow copy.
start_midway accounts.sh 'the private shadow gives root the test hash'
# enospc.sh: while its tiny tmpfs state directory is mounted.
start_midway enospc.sh 'state directory full: QUIT fails'
# lock-setgid.sh: with its set-group-ID helper copy in place.
start_midway lock-setgid.sh 'setgid: nobody locks its file'
# state.sh: with a private /dev (and its /dev/log) mounted.
start_midway state.sh 'an unreadable -p is logged at mail.err'
# xinetd.sh: with xinetd listening and sessions held open.
command -v xinetd >/dev/null && start_midway xinetd.sh 'xinetd (IPv4): the session'
# inetd.sh: with openbsd-inetd listening and a private /run mounted (where
# it can run at all: it skips without openbsd-inetd, see its INETD).
bash "$top_srcdir/test/inetd.sh" --can-run >/dev/null 2>&1 &&
	start_midway inetd.sh 'inetd: listening on 127.0.0.1'

# The host replacing its account files while a namespace test runs (as
# useradd, apt-get and vipw do, by renaming a new file into place) must not
# expose them to the test. Played in a throwaway mount namespace whose /etc
# is a copy standing for the host's: the test inside makes its private
# /etc, the "host" renames new files over passwd and shadow, then the test
# adds an account and sets root's hash; the "host" files must not have them.
cat >"$scratch/inner.sh" <<'INNER'
set -u
. "$top_srcdir/test/lib.sh"
. "$top_srcdir/test/ns.sh"
ns_enter "$@"
echo "inside $$" >"$outer/inside"
wait_for 60 [ -e "$outer/replaced" ]
ns_add_user p2thost 61200 61200 / '!'
ns_set_hash root '$y$hostsafe'
if ns_private_etc && grep -q '^p2thost:' /etc/passwd && grep -q '^root:[$]y[$]hostsafe:' /etc/shadow; then
	echo private >"$outer/added"
else
	echo exposed >"$outer/added"
fi
INNER
mkdir "$scratch/fakehost"
# shellcheck disable=SC2016 # expanded by the inner shell
outer=$scratch timeout 120 unshare --mount --propagation private bash -c '
	mount -t tmpfs fakehost "$outer/fakehost" &&
		cp -a /etc "$outer/fakehost/etc" && mount --bind "$outer/fakehost/etc" /etc || exit 1
	POP2_TEST_TMPDIR=$outer bash "$outer/inner.sh" &
	inner=$!
	for ((i = 0; i < 1200; i++)); do [ -s "$outer/inside" ] && break; sleep 0.05; done
	for f in passwd shadow; do
		cp -p "/etc/$f" "/etc/$f.new" && mv "/etc/$f.new" "/etc/$f"
	done
	: >"$outer/replaced"
	wait "$inner"
	grep -h "p2thost\|hostsafe" /etc/passwd /etc/shadow >"$outer/host-got"
	exit 0
' 2>"$scratch/fakehost.err" &
fakehost=$!

for h in "${held[@]}"; do
	IFS=: read -r script pid case <<<"$h"
	kill_midway "$script" "$pid" "$case"
done

wait "$fakehost"
verdict=$(cat "$scratch/added" 2>/dev/null)
check "a host that renames its account files under a running test: the test keeps its private /etc" \
	[ "$verdict" = private ]
check "and the host's files never get the test's account or root's test hash" \
	[ -e "$scratch/host-got" -a ! -s "$scratch/host-got" ]
[ -s "$scratch/fakehost.err" ] && cat "$scratch/fakehost.err"

finish
