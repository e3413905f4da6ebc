# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Shared by the shell tests: where things are, a scratch folder, and verdicts.
# Each test script sources this, calls `pass`/`fail` per case and ends with `finish`.
# A script that cannot run here calls `skip_all REASON`: exit 77, which
# automake counts as a SKIP (never a PASS that only printed why).

# The same file modes whatever the caller's umask: under umask 000 procmail
# refuses its world-writable rcfile, and the modes the tests check would drift.
umask 022

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POP2D:=$top_builddir/pop2d/pop2d}"
: "${VERSION:=$("$POP2D" -V | sed 's/^pop2d //')}"
data=$top_srcdir/test/data
passed=0
failed=0
skipped=0

# Not in /tmp: pop2d refuses a state directory beneath a directory that
# others may write (sticky or not), so the scratch folder, which holds it,
# lives in the build tree, or, when that lies beneath such a directory (a
# checkout in /tmp), where safe_base finds room.
. "$top_srcdir/test/safedir.sh"
unsafe_parents() {
	local d
	d=$(cd "${1%/*}" && pwd -P) || return 0
	shared_folders "$d"
}
scratch_base=${POP2_TEST_TMPDIR:-$(safe_base "$top_builddir/test")}
scratch=$(mktemp -d "$scratch_base/pop2d-test.XXXXXX") || {
	echo "ERROR: cannot make a scratch folder in $scratch_base"
	exit 99
}
# The state directory (-S) that sessions use.
state=$scratch/state
mkdir -m 755 "$state"
unsafe=$(unsafe_parents "$scratch")
[ -z "$unsafe" ] || echo "WARNING: $unsafe: writable by group or others, so pop2d refuses" \
	"the state directory beneath it; chmod go-w, or set POP2_TEST_TMPDIR" >&2
trap 'rm -rf "$scratch"' EXIT

pass() {
	passed=$((passed + 1))
	echo "PASS: $1"
	# test/hostsafe.sh holds a test here, to kill it at a known point.
	if [ -n "${POP2_HOLD_AFTER:-}" ] && [[ $1 == "$POP2_HOLD_AFTER"* ]]; then
		echo "HELD: $1"
		while :; do sleep 1; done
	fi
}

fail() {
	failed=$((failed + 1))
	echo "FAIL: $1"
}

# check NAME COMMAND...: runs COMMAND, a pass when it succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# Prints both files visibly (CR shown as ^M) when they differ.
show_difference() {
	diff <(cat -A "$1") <(cat -A "$2") | head -40
}

# skip_all REASON: the whole script cannot run here; a counted SKIP.
skip_all() {
	echo "SKIP: $(basename "$0"): $1"
	exit 77
}

# host_test REASON: this script changes the machine it runs on (REASON
# says how), which no test may do unless asked: it runs only with
# POP2_HOST_TESTS=1 (CI sets it), and is a counted SKIP otherwise. Prefer
# test/ns.sh, where nothing outside the test changes.
host_test() {
	[ "${POP2_HOST_TESTS:-0}" = 1 ] ||
		skip_all "it changes the host ($1); run with POP2_HOST_TESTS=1"
}

# skip REASON: one part of the script cannot run here. The script then ends
# as a SKIP (exit 77) unless a case failed: never a PASS with a part missing.
skip() {
	skipped=$((skipped + 1))
	echo "SKIP: $1"
}

# wait_for SECONDS COMMAND...: runs COMMAND until it succeeds, every 10 ms
# for the first 0.2 s, every 0.05 s after; fails after SECONDS (a guard
# against a hang, not a measurement).
wait_for() {
	local left=$(($1 * 100)) i=0
	shift
	until "$@"; do
		[ "$left" -gt 0 ] || return 1
		if [ $((i++)) -lt 20 ]; then
			sleep 0.01
			left=$((left - 1))
		else
			sleep 0.05
			left=$((left - 5))
		fi
	done
}

# Cases that wait on a timer (an idle limit, a lock wait) run side by
# side, and their verdicts are printed in a fixed order all the same.
# spawn ID COMMAND...: runs COMMAND in the background with a scratch
# folder of its own, $scratch/ID (and $state beneath it): whatever it
# names from $scratch at run time is its alone. Its output, verdicts
# included, is kept aside until `collect ID`. A spawned case cannot be
# held by POP2_HOLD_AFTER (hostsafe.sh): hold the script elsewhere.
declare -gA spawned=()
spawn() {
	local id=$1
	shift
	mkdir -m 755 "$scratch/$id" "$scratch/$id/state"
	(
		scratch=$scratch/$id
		state=$scratch/state
		"$@"
		: >"$scratch/ended"
	) >"$scratch/$id.verdicts" 2>&1 &
	spawned[$id]=$!
}

# collect ID: waits for the case spawned as ID, prints its output and
# counts its verdicts as this script's; a case that ends without a
# single verdict, or that stopped (exit, set -u) before its end, whose
# later verdicts would be lost unseen, is a failure.
collect() {
	wait "${spawned[$1]}"
	replay "$scratch/$1.verdicts"
	[ "$REPLY" -gt 0 ] || fail "$1: the case ended without a verdict"
	[ -e "$scratch/$1/ended" ] || fail "$1: the case stopped before its end"
}

# replay FILE: prints what a case run in the background wrote to FILE and
# counts its verdicts as this script's; how many there were in $REPLY.
replay() {
	local line n=0
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		"PASS: "*) passed=$((passed + 1)) n=$((n + 1)) ;;
		"FAIL: "*) failed=$((failed + 1)) n=$((n + 1)) ;;
		"SKIP: "*) skipped=$((skipped + 1)) n=$((n + 1)) ;;
		esac
		printf '%s\n' "$line"
	done <"$1"
	REPLY=$n
}

finish() {
	echo "$passed passed, $failed failed, $skipped parts skipped, in $SECONDS s"
	[ "$failed" -eq 0 ] || return 1
	[ "$skipped" -eq 0 ] || exit 77
}
