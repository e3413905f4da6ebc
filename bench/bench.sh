#!/bin/bash
# The pop2d benchmark (bench/README.md): generates its maildrops in a
# temporary folder, measures pop2d and, on the same files in the same run,
# the limit each figure is a ratio to, and prints one table.
#
#   bench/bench.sh [POP2D [GEN DRIVE]]
#
# BENCH_SCALE=K divides every size and message count by K (1: the full
# run, about 4 GiB of scratch space; 256: a few MiB, what `make check`
# runs). BENCH_REPS is how many times each figure is measured (the best
# is kept). TMPDIR says where the scratch folder goes. BENCH_NO_CALLGRIND
# set leaves out the callgrind row, BENCH_NO_STRACE the strace check of the
# "nothing deleted" row (a sanitized build runs under neither).
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
POP2D=${1:-${POP2D:-$top_builddir/pop2d/pop2d}}
GEN=${2:-$top_builddir/bench/gen}
DRIVE=${3:-$top_builddir/bench/drive}
PASSWD=$top_srcdir/test/data/passwd
scale=${BENCH_SCALE:-1}
if [ "$scale" -gt 1 ]; then reps_default=1; else reps_default=3; fi
reps=${BENCH_REPS:-$reps_default}

for f in "$POP2D" "$GEN" "$DRIVE"; do
	[ -x "$f" ] || { echo "bench: $f is not built" >&2; exit 2; }
done

# The workloads of issue 6 at scale 1.
big_count=$((200000 / scale))
big_size=5368 # octets per message: 200,000 of them make 1 GiB
stream_size=$((50 * 1024 * 1024 / scale))
many_count=$((20000 / scale))
many_size=4096
tail_n=10

scratch=$(mktemp -d "${TMPDIR:-/tmp}/pop2d-bench.XXXXXX") || exit 2
# The state directory may not be beneath a directory that others may
# write, such as /tmp: it goes in the current (build) directory, or where
# safe_base finds room.
. "$top_srcdir/test/safedir.sh"
state=$(mktemp -d "$(safe_base "$PWD")/pop2d-bench-state.XXXXXX") || exit 2
chmod 755 "$state"
trap 'rm -rf "$scratch" "$state"' EXIT

die() {
	echo "bench: $*" >&2
	exit 1
}

# now: the wall clock in microseconds.
now() {
	local t=${EPOCHREALTIME/./}
	echo "$((10#$t))"
}

# field KEY LINE: the value of KEY=VALUE in a line that drive printed.
field() {
	local kv
	for kv in $2; do
		case $kv in "$1="*) echo "${kv#*=}"; return ;; esac
	done
	echo 0
}

# min A B, max A B
min() { if [ "$1" -le "$2" ]; then echo "$1"; else echo "$2"; fi; }
max() { if [ "$1" -ge "$2" ]; then echo "$1"; else echo "$2"; fi; }

# session MODE MAILDROP: one driven session; its line in $out.
session() {
	out=$("$DRIVE" "$1" -- "$POP2D" -n bench -p "$PASSWD" -S "$state" \
		-m "$2" 2>"$scratch/pop2d.err") ||
		die "session $1 on $2 failed: $(cat "$scratch/pop2d.err")"
}

# timed COMMAND...: runs COMMAND (output dropped); its time in $us.
timed() {
	local t0 t1
	t0=$(now)
	"$@" >/dev/null || die "$* failed"
	t1=$(now)
	us=$((t1 - t0))
}

# The limit of the stream and many rows: the file through a pipe to cat.
# shellcheck disable=SC2002
cat_pipe() { cat "$1" | cat >/dev/null; }

# fresh COPY MASTER: COPY becomes MASTER, on disk, before a commit.
fresh() {
	if ! cp "$2" "$1" || ! sync "$1"; then die "cannot copy $2"; fi
}

# Table rows: name, workload, pop2d, limit, ratio, target, verdict, RSS.
rows=()
row() {
	rows+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 |")
}

# rss KIB MESSAGES NAME: the peak RSS against 8 MiB + 48 octets a message,
# as a table cell in $cell; a row over the cap is named in $rss_over.
rss_over=""
rss() {
	local cap=$(((8 * 1024 * 1024 + 48 * $2) / 1024))
	if [ "$1" -le "$cap" ]; then
		cell="$1 KiB / $cap KiB ok"
	else
		cell="$1 KiB / $cap KiB OVER"
		rss_over="$rss_over $3"
	fi
}

# size OCTETS: in MiB, or KiB when small.
size() { awk -v n="$1" 'BEGIN { if (n >= 1048576) printf "%.0f MiB", n / 1048576; else printf "%.0f KiB", n / 1024 }'; }
# ms US: microseconds as milliseconds with one decimal.
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
# ratio A B [DIGITS]
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# mibs OCTETS US: throughput
mibs() { awk -v n="$1" -v u="$2" 'BEGIN { printf "%.0f MiB/s", (u > 0 ? n / u * 1e6 / 1048576 : 0) }'; }
# verdict OK-CONDITION (an awk expression of r)
verdict() { awk -v r="$1" "BEGIN { exit !($2) }" && echo met || echo MISSED; }

echo "pop2d benchmark: scale 1/$scale, best of $reps, scratch $scratch" >&2

# --- the maildrops
big=$scratch/big.mbox
"$GEN" "$big_count" "$big_size" >"$big.master" || die "gen"
# 16 MiB: the tail commit must cost the same here as at 1 GiB.
small_count=$((big_count / 64))
"$GEN" "$small_count" "$big_size" >"$scratch/small.master" || die "gen"
"$GEN" 1 "$stream_size" >"$scratch/stream.mbox" || die "gen"
"$GEN" 1 "$((stream_size / 8))" >"$scratch/stream8.mbox" || die "gen"
"$GEN" "$many_count" "$many_size" >"$scratch/many.mbox" || die "gen"
: >"$scratch/empty.mbox"
cp "$big.master" "$big" || die "cp"
big_bytes=$(stat -c %s "$big")

# --- index: HELO to #N on the big maildrop, less the login alone
echo "index ..." >&2
best_login=; best_big=; best_wc=; rss_idx=0; rss_login=0
for _ in $(seq "$reps"); do
	session login "$scratch/empty.mbox"
	l=$(field login_us "$out")
	best_login=$(min "${best_login:-$l}" "$l")
	rss_login=$(max "$rss_login" "$(field rss_kib "$out")")
	timed wc -l "$big"
	best_wc=$(min "${best_wc:-$us}" "$us")
	session login "$big"
	[ "$(field status "$out")" = 0 ] || die "index session"
	l=$(field login_us "$out")
	best_big=$(min "${best_big:-$l}" "$l")
	rss_idx=$(max "$rss_idx" "$(field rss_kib "$out")")
done
idx=$((best_big - best_login))
r=$(ratio "$idx" "$best_wc")
rss "$rss_idx" "$big_count" index
row index "HELO to #$big_count, $(size "$big_bytes") mbox" \
	"$(ms "$idx") (HELO $(ms "$best_big") - login $(ms "$best_login"))" \
	"wc -l $(ms "$best_wc")" "$r x" "<= 2 x" "$(verdict "$r" 'r <= 2')" \
	"$cell"
rss "$rss_login" 0 login
row login "HELO on an empty maildrop" "$(ms "$best_login")" "-" "-" "-" "-" \
	"$cell"

# --- stream: RETR of one big message. Each try takes a tenth of a second,
# and the other work on a shared machine moves a single figure by a third:
# at least 7 tries, alternating, the best of each side kept.
echo "stream ..." >&2
best_pop=; best_cat=; rss_stream=0; octets=0
stream_reps=$((reps > 7 ? reps : 7))
[ "$scale" -gt 1 ] && stream_reps=$reps
for _ in $(seq "$stream_reps"); do
	timed cat_pipe "$scratch/stream.mbox"
	best_cat=$(min "${best_cat:-$us}" "$us")
	session retr:1 "$scratch/stream.mbox"
	w=$(field work_us "$out")
	octets=$(field octets "$out")
	best_pop=$(min "${best_pop:-$w}" "$w")
	rss_stream=$(max "$rss_stream" "$(field rss_kib "$out")")
done
stream_bytes=$(stat -c %s "$scratch/stream.mbox")
r=$(awk -v o="$octets" -v p="$best_pop" -v s="$stream_bytes" -v c="$best_cat" \
	'BEGIN { printf "%.2f", (o / p) / (s / c) }')
rss "$rss_stream" 1 stream
row stream "RETR of one $(size "$stream_bytes") message" \
	"$(mibs "$octets" "$best_pop")" "cat \\| cat $(mibs "$stream_bytes" "$best_cat")" \
	"$r x" ">= 0.8 x" "$(verdict "$r" 'r >= 0.8')" \
	"$cell"

# --- system calls of one RETR of a 4 KiB message: strace -c of three
# sessions on the same maildrop, M messages each: login alone (L), READ of
# each (R), READ, RETR and ACKS of each (T). A READ costs (R - L) / M; a
# RETR, with the poll and read of its command line, (T - R) / M less the
# ACKS, which costs what a READ does.
echo "retr syscalls ..." >&2
if [ -n "${BENCH_NO_STRACE:-}" ] || ! command -v strace >/dev/null; then
	row "retr syscalls" "RETR of a 4 KiB message" "not traced" "-" "-" "<= 6" "skipped" "-"
else
	sc_m=$((many_count < 2000 ? many_count : 2000))
	calls() {
		"$DRIVE" "$1" -- "$(command -v strace)" -f -c -o "$scratch/sc.out" \
			"$POP2D" -n bench -p "$PASSWD" -S "$state" \
			-m "$scratch/many.mbox" >/dev/null || die "strace -c $1"
		awk '$NF == "total" { print $4 }' "$scratch/sc.out"
	}
	sc_l=$(calls login)
	sc_r=$(calls "read:1-$sc_m")
	sc_t=$(calls "retr:1-$sc_m")
	per=$(awk -v l="$sc_l" -v r="$sc_r" -v t="$sc_t" -v m="$sc_m" \
		'BEGIN { printf "%.2f", (t - r) / m - (r - l) / m }')
	row "retr syscalls" "READ/RETR/ACKS of $sc_m x 4 KiB, strace -c" \
		"$per calls per RETR (its command's poll and read included)" \
		"sessions: login $sc_l, READ only $sc_r, READ/RETR/ACKS $sc_t calls; a READ $(awk -v l="$sc_l" -v r="$sc_r" -v m="$sc_m" 'BEGIN { printf "%.2f", (r - l) / m }')" \
		"-" "<= 6" "$(verdict "$per" 'r <= 6')" "-"
fi

# --- many: READ/RETR/ACKS of every small message
echo "many ..." >&2
best_pop=; best_cat=; best_floor=; rss_many=0
for _ in $(seq "$reps"); do

	timed cat_pipe "$scratch/many.mbox"
	best_cat=$(min "${best_cat:-$us}" "$us")
	session all "$scratch/many.mbox"
	[ "$(field msgs "$out")" = "$many_count" ] || die "many: $out"
	w=$(field work_us "$out")
	octets=$(field octets "$out")
	best_pop=$(min "${best_pop:-$w}" "$w")
	rss_many=$(max "$rss_many" "$(field rss_kib "$out")")
	# The lock-step floor: the same exchange with a stand-in server that
	# answers from memory (drive floor), as many octets per message.
	fl=$("$DRIVE" "floor:$many_count:$((octets / many_count))" --) ||
		die "drive floor"
	f=$(field work_us "$fl")
	best_floor=$(min "${best_floor:-$f}" "$f")
done
many_bytes=$(stat -c %s "$scratch/many.mbox")
r=$(awk -v o="$octets" -v p="$best_pop" -v s="$many_bytes" -v c="$best_cat" \
	'BEGIN { printf "%.2f", (o / p) / (s / c) }')
fr=$(awk -v p="$best_pop" -v f="$best_floor" -v s="$many_bytes" -v c="$best_cat" \
	'BEGIN { printf "%.2f x cat, pop2d at %.2f x it", (s / f) / (s / c), f / p }')
rss "$rss_many" "$many_count" many
row many "READ/RETR/ACKS of $many_count x 4 KiB" \
	"$(mibs "$octets" "$best_pop")" \
	"cat \\| cat $(mibs "$many_bytes" "$best_cat"); lock-step floor (stand-in server, no maildrop) $(mibs "$octets" "$best_floor") = $fr" \
	"$r x" ">= 0.5 x" "$(verdict "$r" 'r >= 0.5')" \
	"$cell"

# --- commit: delete message 1 of the big maildrop
echo "commit ..." >&2
best_pop=; best_cp=; rss_commit=0
must_move=$((big_bytes - big_size))
for _ in $(seq "$reps"); do
	fresh "$big" "$big.master"
	timed dd if="$big.master" of="$scratch/cp.out" bs=1M iflag=skip_bytes \
		skip="$big_size" conv=fsync status=none
	rm -f "$scratch/cp.out"
	best_cp=$(min "${best_cp:-$us}" "$us")
	session del:1-1 "$big"
	q=$(field quit_us "$out")
	best_pop=$(min "${best_pop:-$q}" "$q")
	rss_commit=$(max "$rss_commit" "$(field rss_kib "$out")")
	[ "$(stat -c %s "$big")" -eq "$must_move" ] || die "commit: wrong size"
done
r=$(ratio "$best_pop" "$best_cp")
rss "$rss_commit" "$big_count" commit
row commit "delete message 1, QUIT" "$(ms "$best_pop")" \
	"cp+fsync of $(size "$must_move") $(ms "$best_cp")" "$r x" "<= 2.5 x" \
	"$(verdict "$r" 'r <= 2.5')" "$cell"

# --- journal: what the commit of "delete message 1" writes to its journal
# (strace of its pwrite and fallocate calls on commit.jnl*), against the
# octets at risk computed here from the layout: in each round [w0, w1) of
# 16 MiB (a quarter of -J's default 64 MiB; the last shorter, rounds after
# the first on 4 KiB pages), the sources [w0 + G, w1 + G) of a maildrop
# that lost G octets at offset 0 overlap the round's own destination in
# w1 - w0 - G octets; each round also writes 16 octets of page hashes per
# page of [w0, w1) and 128 of slot header. The whole journal stays within
# 64 MiB.
echo "journal ..." >&2
if [ -n "${BENCH_NO_STRACE:-}" ] || ! command -v strace >/dev/null; then
	row journal "delete message 1 of $big_count" "not traced" "-" "-" \
		"<= at risk + 128 per round + page tables; <= 64 MiB" "skipped" "-"
else
	fresh "$big" "$big.master"
	"$DRIVE" del:1-1 -- "$(command -v strace)" -f -y -o "$scratch/jnl.out" \
		-e trace=pwrite64,fallocate "$POP2D" -n bench -p "$PASSWD" \
		-S "$state" -m "$big" >/dev/null || die "strace journal"
	jw=$(awk '/commit\.jnl/ && /^[0-9]+ +pwrite64/ && $NF ~ /^[0-9]+$/ { n += $NF } END { print n + 0 }' "$scratch/jnl.out")
	jpeak=$(awk '/commit\.jnl/ && /fallocate/ { s = $0; sub(/.*, /, "", s); sub(/\).*/, "", s); if (s + 0 > m) m = s + 0 } END { print m + 0 }' "$scratch/jnl.out")
	read -r risk rounds tables pages < <(awk -v n="$((big_bytes - big_size))" -v g="$big_size" \
		-v r=$((16 * 1024 * 1024)) -v p=${#big} 'BEGIN {
		for (w0 = 0; w0 < n; w0 = w1) {
			w1 = int((w0 + r) / 4096) * 4096; if (w1 > n) w1 = n
			if (w1 - w0 > g) risk += w1 - w0 - g
			pg += int((w1 - w0 + 4095) / 4096)
			k++
		}
		print risk, k, 120 + p + 16 + 16 * k, 16 * pg }')
	# Plus the phase octet, written once.
	bound=$((risk + 128 * rounds + pages + tables + 1))
	r=$(ratio "$jw" "$bound")
	cap=$((64 * 1024 * 1024))
	if awk -v r="$r" 'BEGIN { exit !(r <= 1) }' && [ "$jpeak" -le "$cap" ]; then v=met; else v=MISSED; fi
	row journal "delete message 1 of $big_count ($(size "$big_bytes")), QUIT" \
		"$jw octets written in $rounds rounds; peak size $(size "$jpeak")" \
		"at risk $risk + 128 per round + page tables $pages + header and tables $tables + 1 = $bound; cap -J 64 MiB" \
		"$r x" "<= 1 x; peak <= cap" "$v" "-"
fi

# --- commit memory: what the commit adds to the session's peak RSS (the
# same session with HELO and QUIT only) at two maildrop sizes.
echo "commit memory ..." >&2
for which in small big; do
	if [ "$which" = big ]; then m=$big.master; n=$big_count; else m=$scratch/small.master; n=$small_count; fi
	fresh "$big" "$m"
	session login "$big"
	base=$(field rss_kib "$out")
	session del:1-1 "$big"
	printf -v "cm_$which" %s $(($(field rss_kib "$out") - base))
	printf -v "cm_base_$which" %s "$base"
done
# shellcheck disable=SC2154
if [ "$cm_big" -le $((cm_small + 1024)) ] && [ "$cm_big" -le 8192 ]; then v=met; else v=MISSED; fi
# shellcheck disable=SC2154
row "commit memory" "delete message 1: peak RSS less that of HELO+QUIT, $(size $((small_count * big_size))) and $(size "$big_bytes")" \
	"$cm_small KiB and $cm_big KiB (sessions $cm_base_small + $cm_small, $cm_base_big + $cm_big KiB)" \
	"-" "-" "flat in mailbox size (within 1 MiB), <= 8 MiB" "$v" "-"

# --- commit, tail: delete the last messages, on two sizes
echo "commit, tail ..." >&2
for which in small big; do
	if [ "$which" = big ]; then n=$big_count; else n=$small_count; fi
	best_pop=; rss_tail=0
	for _ in $(seq "$reps"); do
		if [ "$which" = big ]; then
			fresh "$big" "$big.master"
		else
			fresh "$big" "$scratch/small.master"
		fi
		session "del:$((n - tail_n + 1))-$n" "$big"
		q=$(field quit_us "$out")
		best_pop=$(min "${best_pop:-$q}" "$q")
		rss_tail=$(max "$rss_tail" "$(field rss_kib "$out")")
		[ "$(stat -c %s "$big")" -eq $(((n - tail_n) * big_size)) ] ||
			die "commit, tail: wrong size"
	done
	rss "$rss_tail" "$n" "tail-$which"
	if [ "$which" = small ]; then
		tail_small=$best_pop
		row "commit, tail" "delete the last $tail_n of $n messages ($(size $((n * big_size)))), QUIT" \
			"$(ms "$best_pop")" "-" "-" "< 50 ms" \
			"$(verdict "$best_pop" 'r < 50000')" "$cell"
	else
		# The prefix is not read again: the size must not matter.
		r=$(ratio "$best_pop" "$tail_small")
		row "commit, tail" "delete the last $tail_n of $n messages ($(size $((n * big_size)))), QUIT" \
			"$(ms "$best_pop")" "the same at $(size $((small_count * big_size))): $(ms "$tail_small")" \
			"$r x" "<= 2 x + 5 ms" \
			"$(verdict "$(awk -v a="$best_pop" -v b="$tail_small" 'BEGIN { print a - 2 * b }')" 'r <= 5000')" \
			"$cell"
	fi
done
rm -f "$big"

# --- nothing deleted: not one octet written to the maildrop
echo "nothing deleted ..." >&2
m=$scratch/many.mbox
before=$(stat -c '%s %Y %Z' "$m")$(cksum <"$m")
session all "$m"
wb=$(field write_bytes "$out")
rss_none=$(field rss_kib "$out")
after=$(stat -c '%s %Y %Z' "$m")$(cksum <"$m")
if [ "$before" = "$after" ]; then same="unchanged"; else same="CHANGED"; fi
if [ -n "${BENCH_NO_STRACE:-}" ]; then
	wrote="not traced (BENCH_NO_STRACE)"
	calls=0
elif command -v strace >/dev/null; then
	# Every write-like call on a descriptor of the maildrop (strace -y
	# names the file behind each descriptor).
	"$DRIVE" all -- "$(command -v strace)" -f -y -o "$scratch/strace.out" \
		-e trace=write,pwrite64,writev,pwritev,pwritev2,ftruncate,truncate,fallocate,copy_file_range,sendfile \
		"$POP2D" -n bench -p "$PASSWD" -S "$state" -m "$m" >/dev/null ||
		die "strace session"
	wrote=$(awk -v p="<$m>" 'index($0, p) && $NF ~ /^[0-9]+$/ { n += $NF; c++ }
		END { printf "%d octets in %d calls (strace)", n, c }' "$scratch/strace.out")
	calls=$(awk -v p="<$m>" 'index($0, p) { c++ } END { print c + 0 }' "$scratch/strace.out")
else
	wrote="strace not installed"
	calls=0
fi
if [ "$same" = unchanged ] && [ "$calls" -eq 0 ]; then v=met; else v=MISSED; fi
rss "$rss_none" "$many_count" none
row "nothing deleted" "HELO, READ/RETR/ACKS all $many_count, QUIT" \
	"maildrop: $wrote; size+mtime+ctime+cksum $same" \
	"process write_bytes $wb (state folder, dot-lock)" "-" "0 octets" "$v" \
	"$cell"

# --- memory: the worst row, and growth with message size
session retr:1 "$scratch/stream8.mbox"
rss_stream8=$(field rss_kib "$out")
grow=$((rss_stream - rss_stream8))
if [ -z "$rss_over" ] && [ "$grow" -le 256 ]; then
	v=met
else
	v="MISSED (over the cap:${rss_over:- none}; growth $grow KiB)"
fi
row memory "peak RSS of every row above" \
	"RETR of $(size "$stream_bytes") vs $(size $((stream_size / 8))): $rss_stream vs $rss_stream8 KiB" \
	"8 MiB + 48 octets a message" "-" "<= cap, flat in message size" "$v" "-"

# --- instructions per session: callgrind, HELO+QUIT on 3 messages
echo "callgrind ..." >&2
if [ -n "${BENCH_NO_CALLGRIND:-}" ]; then
	row instructions "HELO+QUIT, 3 messages, SHA-512 hash" \
		"not measured (BENCH_NO_CALLGRIND)" "-" "-" "else < 5 M" "skipped" "-"
elif command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
	"$GEN" 3 2000 >"$scratch/three.mbox"
	cg=$scratch/callgrind.out
	printf 'HELO alice wonderland\r\nQUIT\r\n' |
		valgrind -q --tool=callgrind --callgrind-out-file="$cg" \
			"$POP2D" -n bench -p "$PASSWD" -S "$state" \
			-m "$scratch/three.mbox" >"$scratch/cg.txt" 2>"$scratch/cg.err" ||
		die "callgrind: $(cat "$scratch/cg.err")"
	grep -q '^#3 ' "$scratch/cg.txt" || die "callgrind session: $(cat "$scratch/cg.txt")"
	total=$(awk '/^(summary|totals):/ { print $2; exit }' "$cg")
	hash=$(callgrind_annotate --inclusive=yes "$cg" 2>/dev/null |
		awk '/[: ]crypt_rn |[: ]crypt_r |[: ]crypt_rn$|[: ]crypt_r$/ { gsub(",", "", $1); print $1; exit }')
	hash=${hash:-0}
	rest=$((total - hash))
	row instructions "HELO+QUIT, 3 messages, SHA-512 hash" \
		"crypt $(awk -v n="$hash" 'BEGIN { printf "%.1f M", n / 1e6 }'); everything else $(awk -v n="$rest" 'BEGIN { printf "%.2f M", n / 1e6 }')" \
		"total $(awk -v n="$total" 'BEGIN { printf "%.1f M", n / 1e6 }') Ir" "-" \
		"else < 5 M" "$(verdict "$rest" 'r < 5000000')" "-"
else
	row instructions "HELO+QUIT, 3 messages, SHA-512 hash" "valgrind not installed" \
		"-" "-" "else < 5 M" "skipped" "-"
fi

echo "| what | workload | pop2d | limit | ratio | target | verdict | peak RSS / cap |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
