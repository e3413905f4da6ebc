#!/bin/bash
# Runs each libFuzzer harness for SECONDS from its seed corpus, at most
# JOBS harnesses at once (default 2), and fails when any of them finds a
# crash, a leak, a timeout or an invariant violation.
#
#   test/fuzz/run.sh [-j JOBS] SECONDS [HARNESS...]
#
# The harnesses are built by `./configure --enable-fuzzing CC=clang &&
# make fuzz`. HARNESS defaults to all four. New inputs go to a scratch
# corpus that is thrown away (FUZZ_WORK=DIR keeps them in DIR/HARNESS,
# and the logs in DIR/HARNESS.log);
# a failing input is saved as FUZZ_ARTIFACTS/HARNESS-crash-... (default
# test/fuzz/artifacts in the build tree) and its log is printed. Each
# harness's last libFuzzer stats line is printed at the end.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${FUZZ_BIN:=$top_builddir/test/fuzz}"
: "${FUZZ_ARTIFACTS:=$top_builddir/test/fuzz/artifacts}"
seeds=$top_srcdir/test/fuzz/corpus
dict=$top_srcdir/test/fuzz/pop2.dict

jobs=2
if [ "${1:-}" = -j ]; then
	jobs=${2:?-j needs a number}
	shift 2
fi
seconds=${1:?usage: run.sh [-j JOBS] SECONDS [HARNESS...]}
shift
case $seconds in
'' | *[!0-9]*)
	echo "run.sh: SECONDS must be a number" >&2
	exit 2
	;;
esac
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] ||
	harnesses=(fuzz_session fuzz_mbox fuzz_passwd fuzz_folder fuzz_proxy)

# The longest input worth trying: past each parser's limits (a 1024-octet
# command line, a 4096-octet passwd line, PATH_MAX folder names, the
# 65551-octet PROXY v2 header).
max_len() {
	case $1 in
	fuzz_session) echo 8192 ;;
	fuzz_mbox) echo 16384 ;;
	fuzz_passwd) echo 16384 ;;
	fuzz_folder) echo 5000 ;;
	fuzz_proxy) echo 70000 ;;
	*) echo 4096 ;;
	esac
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/pop2d-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$FUZZ_ARTIFACTS"

run_one() {
	local h=$1 bin=$FUZZ_BIN/$1 work log
	if [ -n "${FUZZ_WORK:-}" ]; then
		work=$FUZZ_WORK/$h
	else
		work=$scratch/$h
	fi
	log=${FUZZ_WORK:-$scratch}/$h.log
	mkdir -p "$work"
	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin is missing: ./configure --enable-fuzzing CC=clang && make fuzz" >"$log"
		return 1
	fi
	# -jobs=1 runs in a child of libFuzzer's; -fork would hide crashes
	# from the exit status.
	"$bin" -max_total_time="$seconds" -max_len="$(max_len "$h")" \
		-dict="$dict" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$FUZZ_ARTIFACTS/$h-" \
		"$work" "$seeds/$h" >"$log" 2>&1
}

# Background jobs report through a file: wait -n forgets their status.
run_bg() {
	run_one "$1"
	echo $? >"$scratch/$1.rc"
}

status=0
for h in "${harnesses[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	echo "run.sh: $h for ${seconds}s"
	run_bg "$h" &
done
wait
for h in "${harnesses[@]}"; do
	log=${FUZZ_WORK:-$scratch}/$h.log
	if [ "$(cat "$scratch/$h.rc" 2>/dev/null)" = 0 ]; then
		echo "PASS: $h $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)"
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/      /'
	else
		status=1
		echo "FAIL: $h; its log:"
		grep -v '# Uses: ' "$log" | tail -n 60
	fi
done
exit $status
