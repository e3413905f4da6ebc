#!/bin/bash
# pop2-lock against the real Debian tools that share its dot-lock:
# liblockfile's dotlockfile(1) must see our lock as busy and we must see
# theirs, and procmail must hold back a delivery while we hold the lock.
# Needs liblockfile-bin and procmail; the set-group-ID cases, which need
# root, are test/lock-setgid.sh.
# Many commands below are shell scripts for the locked command to expand.
# shellcheck disable=SC2016
set -u
. "$(dirname "$0")/lib.sh"

: "${POP2_LOCK:=$top_builddir/pop2d/pop2-lock}"
mbox=$scratch/mbox
: >"$mbox"

for tool in dotlockfile procmail; do
	if ! command -v "$tool" >/dev/null; then
		echo "FAIL: $tool is not installed (apt-get install liblockfile-bin procmail)"
		exit 1
	fi
done

# wait_until COMMAND...: waits (at most 30 s) until COMMAND succeeds.
wait_until() {
	wait_for 30 "$@"
}

# dotlockfile's verdict on LOCK without waiting: 0 when it could take it
# (it is then removed again), else its lockfile_create(3) code.
dotlock_try() {
	dotlockfile -l -r 0 "$1"
	local status=$?
	[ "$status" -eq 0 ] && dotlockfile -u "$1"
	return "$status"
}

# hold FILE: pop2-lock -m FILE in service mode in the background, its
# standard input our fd 3, its answer in $scratch/answer.
hold() {
	rm -f "$scratch/in" "$scratch/answer"
	mkfifo "$scratch/in"
	"$POP2_LOCK" -m "$1" <"$scratch/in" >"$scratch/answer" 2>"$scratch/err" &
	holder=$!
	exec 3>"$scratch/in"
	wait_until [ -s "$scratch/answer" ]
}

# release: closes the holder's standard input; its exit status in $?.
release() {
	exec 3>&-
	wait "$holder"
}

# procmail_held_back: procmail holds back its delivery while pop2-lock holds
# the lock, and delivers once it is released. procmail tries a busy lock
# again only after a second, so this case runs beside the others (lib.sh's
# spawn, with a maildrop of its own) and is checked at the end.
procmail_held_back() {
	local mbox=$scratch/mbox marker pm
	printf '' >"$scratch/procmailrc"
	marker="X-Lock-Test: $$-$RANDOM"
	printf 'From: a@example.org\nSubject: locked\n%s\n\nbody\n' "$marker" >"$scratch/msg"
	: >"$mbox"
	# procmail sleeps a second before writing to a mailbox read within the
	# same second (its NFS "atime hack"); an access time ahead of the clock
	# spares it that.
	touch -a -d '+1 hour' "$mbox"
	hold "$mbox"
	# procmail -m delivers to DEFAULT under DEFAULT.lock; LOCKSLEEP=0 tries a
	# busy lock again at once, and then every second (its unique names for
	# the tries run out within a second), instead of every 8.
	# It must not inherit fd 3, or the holder would never see end of file.
	# Its verbose log says "Locking" before each try: a second one means it
	# found the lock busy and is waiting.
	procmail -m VERBOSE=on LOGFILE="$scratch/procmail.log" LOCKSLEEP=0 DEFAULT="$mbox" \
		"$scratch/procmailrc" <"$scratch/msg" 3>&- &
	pm=$!
	procmail_retried() {
		[ "$(grep -c '^procmail: Locking ' "$scratch/procmail.log" 2>/dev/null)" -ge 2 ]
	}
	wait_for 30 procmail_retried
	check "procmail tried the lock and waits while pop2-lock holds it" [ ! -s "$mbox" ]
	check "procmail is still waiting" kill -0 "$pm"
	release
	wait_until [ -s "$mbox" ]
	wait "$pm"
	check "procmail delivers once the lock is released" [ $? -eq 0 ]
	check "the message is there exactly once" [ "$(grep -c -F "$marker" "$mbox")" -eq 1 ]
	check "procmail removed its lock" [ ! -e "$mbox.lock" ]
}
spawn procmail procmail_held_back

# ---------------------------------------------------------------- service

hold "$mbox"
check "service mode answers 1" [ "$(cat "$scratch/answer")" = 1 ]
check "service mode makes FILE.lock" [ -f "$mbox.lock" ]
check "the lock holds pop2-lock's PID" [ "$(cat "$mbox.lock")" = "$holder" ]
dotlock_try "$mbox.lock"
check "dotlockfile sees the lock busy" [ $? -ne 0 ]
check "nothing is left of the hitching post" \
	[ "$(find "$scratch" -maxdepth 1 -name '.mbox.lock.*' | wc -l)" -eq 0 ]
release
check "service mode exits 0 at EOF" [ $? -eq 0 ]
check "service mode removes the lock at EOF" [ ! -e "$mbox.lock" ]
dotlock_try "$mbox.lock"
check "dotlockfile gets the lock afterwards" [ $? -eq 0 ]

hold "$mbox"
kill -TERM "$holder"
wait "$holder"
status=$?
exec 3>&-
check "SIGTERM: exit 128+15" [ "$status" -eq 143 ]
check "SIGTERM removes the lock" [ ! -e "$mbox.lock" ]

# A lock that someone replaced while we held it is not ours to remove.
hold "$mbox"
rm -f "$mbox.lock"
echo 4242 >"$mbox.lock"
release
check "a foreign lock survives our release" [ "$(cat "$mbox.lock" 2>/dev/null)" = 4242 ]
rm -f "$mbox.lock"

# ---------------------------------------------------------------- command

"$POP2_LOCK" -m "$mbox" -- sh -c '
	dotlockfile -l -r 0 "$MAIL.lock"
	echo "$? $(cat "$MAIL.lock") $PPID $MAIL" >"$0"
	[ -e "$MAIL.lock" ]' "$scratch/inner"
status=$?
read -r inner_status inner_pid inner_ppid inner_mail <"$scratch/inner"
check "command mode: the command runs" [ "$status" -eq 0 ]
check "command mode: dotlockfile sees the lock busy" [ "$inner_status" -ne 0 ]
check "command mode: the lock holds pop2-lock's PID" [ "$inner_pid" = "$inner_ppid" ]
check "command mode: \$MAIL names the maildrop" [ "$inner_mail" = "$mbox" ]
check "command mode removes the lock" [ ! -e "$mbox.lock" ]

"$POP2_LOCK" -m "$mbox" -- sh -c 'exit 42'
check "the command's exit status passes through" [ $? -eq 42 ]
"$POP2_LOCK" -m "$mbox" -- sh -c 'kill -TERM $$'
check "a command killed by a signal: 128+signal" [ $? -eq 143 ]
"$POP2_LOCK" -m "$mbox" -- no-such-command-here 2>/dev/null
check "a command not found: 127" [ $? -eq 127 ]
check "no lock left after any of them" [ ! -e "$mbox.lock" ]

cd "$scratch" || exit 1
mkdir sub
printf '#!/bin/sh\npwd >"$1"\n' >sub/where
chmod +x sub/where
"$POP2_LOCK" -m "$mbox" -- ./sub/where "$scratch/where"
check "the command runs where pop2-lock was started" [ "$(cat "$scratch/where")" = "$scratch" ]
"$POP2_LOCK" -m mbox -- sh -c 'echo "$MAIL" >where'
check "a relative -m: \$MAIL is absolute" [ "$(cat "$scratch/where")" = "$mbox" ]
env FOO=bar PATH="$scratch/sub:$PATH" "$POP2_LOCK" -m "$mbox" -- sh -c 'echo "${FOO-unset} $PATH" >"$0"' "$scratch/where"
check "the command gets a fixed environment" [ "$(cat "$scratch/where")" = "unset /usr/bin:/bin" ]
env -i FOO=bar "$POP2_LOCK" -m "$mbox" -- env >"$scratch/env"
me=$(id -un)
home=$(getent passwd "$(id -u)" | cut -d: -f6)
printf 'PATH=/usr/bin:/bin\nUSER=%s\nLOGNAME=%s\nHOME=%s\nMAIL=%s\n' "$me" "$me" "$home" "$mbox" >"$scratch/env.want"
check "the command's whole environment: PATH, USER, LOGNAME, HOME, MAIL" cmp -s "$scratch/env" "$scratch/env.want"
# A folder whose absolute path is longer than PATH_MAX, reached step by
# step: $MAIL is still its whole absolute path.
long=$(printf '%0250d' 0)
deep=$(for _ in $(seq 18); do printf '%s/' "$long"; done)
mkdir -p "$deep"
(
	for _ in $(seq 18); do cd "$long" || exit 1; done
	printf 'x\n' >mbox
	"$POP2_LOCK" -m mbox -- sh -c 'printf %s "$MAIL" >"$0"' "$scratch/where"
)
check "a relative -m in a folder past PATH_MAX: \$MAIL is its whole absolute path" \
	[ "$(cat "$scratch/where")" = "$scratch/${deep}mbox" ]
rm -rf "${deep%%/*}"
cd - >/dev/null || exit 1

# ------------------------------------------------------------ exit codes

usage_error() {
	local name=$1
	shift
	"$POP2_LOCK" "$@" </dev/null >"$scratch/out" 2>"$scratch/err"
	local status=$?
	if [ "$status" -eq 64 ] && [ -s "$scratch/err" ] && [ ! -e "$mbox.lock" ]; then
		pass "$name"
	else
		fail "$name (exit $status)"
	fi
}
usage_error "64: unknown option" -x
usage_error "64: argument without --" -m "$mbox" true
usage_error "64: -- without a command" -m "$mbox" --
usage_error "64: -m without a path" -m
usage_error "64: -m with an empty path" -m ''
usage_error "64: -m naming a folder" -m "$scratch/"
usage_error "64: -m in a folder the kernel finds too long" -m "$scratch/$deep/mbox"
"$POP2_LOCK" -x </dev/null >"$scratch/out" 2>/dev/null
check "64 in service mode answers '0 usage'" [ "$(cat "$scratch/out")" = "0 usage" ]

out=$("$POP2_LOCK" -V)
check "-V prints the version" [ "$out" = "pop2-lock $VERSION" ]
"$POP2_LOCK" -h >"$scratch/out"
check "-h prints usage and exits 0" grep -q '^usage: pop2-lock' "$scratch/out"

# not_permitted NAME ARGS...: exit 77 and no lock made anywhere.
not_permitted() {
	local name=$1
	shift
	"$POP2_LOCK" "$@" </dev/null >"$scratch/out" 2>"$scratch/err"
	local status=$?
	if [ "$status" -eq 77 ] && [ "$(head -c 2 "$scratch/out")" = "0 " ] &&
		[ -z "$(find "$scratch" -path "$scratch/procmail" -prune -o -name '*.lock' -print)" ]; then
		pass "$name"
	else
		fail "$name (exit $status, answer $(head -c 100 "$scratch/out"))"
	fi
}
ln -s "$mbox" "$scratch/link"
not_permitted "77: a symbolic link" -m "$scratch/link"
mkdir "$scratch/dir"
not_permitted "77: a directory" -m "$scratch/dir"
not_permitted "77: a missing maildrop" -m "$scratch/missing"
not_permitted "77: a missing folder" -m "$scratch/nowhere/mbox"
"$POP2_LOCK" -m "$scratch/link" -- touch "$scratch/ran" 2>/dev/null
check "77 in command mode runs nothing" [ ! -e "$scratch/ran" ]
if [ "$(id -u)" -eq 0 ]; then
	cp "$mbox" "$scratch/nobodys"
	chown 65534 "$scratch/nobodys"
	not_permitted "77: someone else's file" -m "$scratch/nobodys"
else
	not_permitted "77: someone else's file" -m /etc/hostname
fi

# 75: a live liblockfile holder (dotlockfile -p writes its own PID while
# it runs a command).
dotlockfile -l -p "$mbox.lock" sh -c 'echo $$ >"$0"; exec sleep 60' "$scratch/sleeper" &
dotlocker=$!
wait_until [ -s "$scratch/sleeper" ]
"$POP2_LOCK" -m "$mbox" </dev/null >"$scratch/out"
status=$?
check "75: busy while dotlockfile holds the lock" [ "$status" -eq 75 ]
check "75 answers '0 busy'" [ "$(cat "$scratch/out")" = "0 busy" ]
"$POP2_LOCK" -m "$mbox" -- touch "$scratch/ran" 2>/dev/null
status=$?
check "75 in command mode" [ "$status" -eq 75 ]
check "75 in command mode runs nothing" [ ! -e "$scratch/ran" ]
check "dotlockfile's lock is untouched" [ "$(cat "$mbox.lock")" = "$dotlocker" ]
# Its holder dies without unlocking: the lock is stale at once.
kill -KILL "$dotlocker"
wait "$dotlocker" 2>/dev/null
kill -KILL "$(cat "$scratch/sleeper")"
"$POP2_LOCK" -m "$mbox" -- sh -c '[ "$(cat "$MAIL.lock")" = "$PPID" ]'
check "a dead holder's lock is broken at once" [ $? -eq 0 ]
check "and ours is gone afterwards" [ ! -e "$mbox.lock" ]
# Without a PID: respected while fresh, broken after 300 s.
: >"$mbox.lock"
"$POP2_LOCK" -m "$mbox" </dev/null >/dev/null
check "a fresh lock without a PID is busy" [ $? -eq 75 ]
touch -d '-301 seconds' "$mbox.lock"
"$POP2_LOCK" -m "$mbox" -- true
check "a PID-less lock untouched for 301 s is broken" [ $? -eq 0 ]
check "and ours is gone again" [ ! -e "$mbox.lock" ]

# --------------------------------------------------------------- procmail

collect procmail

finish
