# shellcheck shell=bash disable=SC2154
# The crash matrix, sourced by test/crash-login.sh and test/crash-recover.sh
# after lib.sh: pop2d killed (SIGKILL) at every step of a commit, crossed
# with deleting one, half or all messages and with mail delivered after the
# crash smaller and larger than what was deleted; then the recovery that
# the sourcing script names. Every kept and delivered message must be there
# exactly once afterwards. Needs a build with --enable-test-seams.

[ "${SEAMS:-no}" = yes ] || skip_all "the crash points need ./configure --enable-test-seams"

. "$(dirname "$0")/tenmsgs.sh"

# The commit steps with a crash point (lib/commit.c), in order: with the
# default rounds (one round here), then JMAX:STEP, rounds of JMAX/4 octets
# (POP2_JOURNAL_MAX), so that a commit takes several.
CRASH_STEPS='journal-written journal-synced mid-write written marked phase-t truncated unlinked
	16384:round-saved@1 16384:mid-write@2 16384:written@1'

# append_locked FILE: appends standard input to FILE the way procmail does
# when its rcfile names no lockfile: O_APPEND under a blocking classic
# fcntl write lock, then fsync (test/append.c). The dot-lock the killed
# pop2d left behind is not looked at (procmail would wait LOCKTIMEOUT for
# it); the next login breaks it. test/maildrop.sh and test/lock.sh use the
# real procmail.
append_locked() {
	"$top_builddir/test/append" "$1"
}

# expect_messages LABEL PRESENT... -- ABSENT...: each present once, each absent never.
# One pass over the maildrop counts every subject.
expect_messages() {
	local label=$1
	shift
	# shellcheck disable=SC2016 # awk's own variables
	check "$label" awk -v label="$label" '
		NR == FNR {
			if ($0 == "--") want_absent = 1
			else expect["Subject: " $0] = want_absent ? 0 : 1
			next
		}
		$0 in expect { seen[$0]++ }
		END {
			for (s in expect)
				if (seen[s] + 0 != expect[s]) {
					printf "  %s: %s is there %d times, expected %d\n", label, s, seen[s], expect[s]
					bad = 1
				}
			exit bad
		}' <(printf '%s\n' "$@") "$mbox"
}

# recover HOW: the recovery after a crash, "next login" or "--recover-all".
recover() {
	case $1 in
	"next login") pop2 "$HELO" QUIT ;;
	--recover-all) "$POP2D" --recover-all -p "$data/passwd" -m "$mbox" -S "$state" 2>"$scratch/recover.err" ;;
	esac
}

# The mail delivered after a crash: less or more than what was deleted.
late=$scratch
for extra in small:10 large:60000; do
	{
		printf 'From late@example.org Mon Nov 16 10:00:00 2026\nSubject: late\n\n'
		head -c "${extra#*:}" /dev/zero | tr '\0' 'b' | fold -w 70
		printf '\n'
	} >"$late/late-${extra%:*}"
done

# crash_step HOW [JMAX:]STEP: the step x pattern x late mail, recovered by HOW.
crash_step() {
	local how=$1 seam=$2 pattern extra del cmds n status label kept gone i d jmax=
	# This step's own maildrop (lib.sh's spawn gives it $scratch and $state).
	local mbox=$scratch/maildrop
	case $seam in
	*:*) jmax=${seam%%:*} seam=${seam#*:} ;;
	esac
	for pattern in one half all; do
		[ -n "$jmax" ] && [ "$pattern" = all ] && continue
		for extra in small large; do
			fresh_maildrop
			case $pattern in
			one) del=(1) ;;
			half) del=(2 4 6 8 10) ;;
			all) del=(1 2 3 4 5 6 7 8 9 10) ;;
			esac
			cmds=("$HELO")
			for n in "${del[@]}"; do cmds+=("READ $n" RETR ACKD); done
			cmds+=(QUIT)
			POP2_CRASH_AT=$seam POP2_JOURNAL_MAX=$jmax pop2 "${cmds[@]}"
			status=$?
			label="kill -9 at $seam${jmax:+ (rounds of $((jmax / 4)))}, delete $pattern, then $extra mail"
			if [ "$pattern" = all ] && { [ "$seam" = mid-write ] || [ "$seam" = written ]; }; then
				# Deleting everything moves nothing: the commit has no rounds.
				check "$label: pop2d had nothing to write" [ "$status" -eq 0 ]
				continue
			fi
			check "$label: pop2d was killed" [ "$status" -eq 137 ]
			check "$label: its dot-lock is left behind" [ -e "$mbox.lock" ]
			# Mail delivered after the crash: less or more than what was deleted.
			append_locked "$mbox" <"$late/late-$extra"
			recover "$how"
			kept=() gone=()
			for ((i = 1; i <= 10; i++)); do
				d=0
				for n in "${del[@]}"; do [ "$n" -eq "$i" ] && d=1; done
				# Before the journal is durable the commit never happened.
				if [ "$d" -eq 1 ] && [ "$seam" != journal-written ]; then
					gone+=("m$i")
				else
					kept+=("m$i")
				fi
			done
			expect_messages "$label, recovered by $how" late "${kept[@]}" -- "${gone[@]}"
			check "$label: no journal left" [ ! -e "$state/alice/commit.jnl" ]
			# The dead PID inside it lets the next login break it at once.
			pop2 "$HELO" QUIT
			check "$label: the next login breaks the dead process's dot-lock" \
				[ "$(last_reply)" = "+ OK Sayonara" -a ! -e "$mbox.lock" ]
		done
	done
}

# crash_matrix HOW: every step x pattern x late mail, recovered by HOW. The
# steps run side by side (lib.sh's spawn), each with a scratch folder,
# maildrop and state directory of its own; their verdicts are printed in
# the order of CRASH_STEPS.
crash_matrix() {
	local how=$1 seam n=0 i
	for seam in $CRASH_STEPS; do
		n=$((n + 1))
		spawn "step$n" crash_step "$how" "$seam"
	done
	for ((i = 1; i <= n; i++)); do
		collect "step$i"
	done
}
