#!/bin/bash
# Refused logins, with real accounts (system and passwd-file) in private
# namespaces (test/ns.sh): every shadow date other than -1 is a date, 0
# included (chage -E 0), read as pam_unix reads them; every kind of
# refusal is answered at one deadline measured from the HELO's arrival,
# so that the reply time tells no kind from another; and an unknown user
# costs the CPU time of a wrong password. Needs root.
# shellcheck disable=SC2016
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ns.sh"
ns_enter "$@"


today=$(($(date +%s) / 86400))
chmod 755 "$scratch"
spool=$scratch/spool
mkdir -m 1777 "$spool"

# user NAME UID SHADOW-HASH LSTCHG MAX EXPIRE: a system account with the
# shadow fields as given ("" is an empty field, which reads as -1) and an
# empty maildrop of its own.
user() {
	ns_private_etc || { echo "FAIL: /etc is not private: not writing it"; exit 1; }
	printf '%s:x:%s:%s::%s:/bin/sh\n' "$1" "$2" "$2" "$scratch" >>/etc/passwd
	printf '%s:%s:%s:0:%s:7::%s:\n' "$1" "$3" "$4" "$5" "$6" >>/etc/shadow
	: >"$spool/$1"
	chown "$2:$2" "$spool/$1"
}

pw='the right one'
y=$(ns_hash '$y$' "$pw")
s6=$(ns_hash '$6$' "$pw")
s5=$(ns_hash '$5$' "$pw")
b=$(ns_hash '$2b$' "$pw")

user t-y 2001 "$y" "$today" 99999 ""
user t-s6 2002 "$s6" "$today" 99999 ""
user t-s5 2003 "$s5" "$today" 99999 ""
user t-b 2004 "$b" "$today" 99999 ""
user t-locked 2005 "!$y" "$today" 99999 ""
user t-expired 2006 "$y" "$today" 99999 $((today - 1))
user t-expire0 2007 "$y" "$today" 99999 0
user t-empty 2009 "" "$today" 99999 ""
user t-today 2010 "$y" "$today" 99999 "$today"
user t-tomorrow 2011 "$y" "$today" 99999 $((today + 1))
user t-mustchange 2012 "$y" 0 99999 ""
user t-maxday 2013 "$y" $((today - 30)) 30 ""
user t-maxpast 2014 "$y" $((today - 31)) 30 ""
user t-noaging 2015 "$y" "" "" ""
# Root's own entry, with a known password in the private shadow file.
ns_set_hash root "$y"

passwd=$scratch/passwd
{
	printf 'f-y:%s:2001:2001::%s\n' "$y" "$scratch"
	printf 'f-s6:{SHA512-CRYPT}%s:2002:2002::%s\n' "$s6" "$scratch"
	printf 'f-s5:%s:2003:2003::%s\n' "$s5" "$scratch"
	printf 'f-b:{BLF-CRYPT}%s:2004:2004::%s\n' "$b" "$scratch"
	printf 'f-locked:!%s:2005:2005::%s\n' "$y" "$scratch"
	printf 'f-empty::2009:2009::%s\n' "$scratch"
	printf 'f-root:%s:0:0::/root\n' "$y"
} >"$passwd"
chmod 600 "$passwd"

# pop2 [-p] USER PASSWORD: one HELO and QUIT; the reply to HELO in $reply,
# the -d log in $scratch/err.
pop2() {
	local opt=()
	if [ "$1" = -p ]; then
		opt=(-p "$passwd")
		shift
	fi
	printf 'HELO %s %s\r\nQUIT\r\n' "$1" "$2" |
		POP2_LOGIN_DELAY_MS=0 "$POP2D" -d -n t -S "$state" -m "$spool/%u" "${opt[@]}" \
			>"$scratch/out" 2>"$scratch/err"
	reply=$(sed -n 2p "$scratch/out" | tr -d '\r')
}

# ------------------------------------------------------------ shadow dates

for who in t-y:yescrypt t-s6:SHA-512 t-s5:SHA-256 t-b:bcrypt \
	t-tomorrow:"account expiring tomorrow" t-maxday:"password at its last day (sp_max)" \
	t-noaging:"no aging fields at all"; do
	IFS=: read -r u what <<<"$who"
	pop2 "$u" "$pw"
	check "$what: logs in" [ "$reply" = "#0 messages in INBOX" ]
done
for who in t-expire0:"sp_expire 0 (chage -E 0)" t-expired:"sp_expire yesterday" \
	t-today:"sp_expire today" t-mustchange:"sp_lstchg 0 (must change)" \
	t-maxpast:"password past sp_max"; do
	IFS=: read -r u what <<<"$who"
	pop2 "$u" "$pw"
	check "$what: - Bad login" [ "$reply" = "- Bad login" ]
	# Through PAM (the default source when built with it) pam_unix says why.
	check "$what: logged as expired" grep -Eq "login failed user=$u peer=local reason=(expired|pam_)" "$scratch/err"
done

# ------------------------------------------------ one deadline for all

# The kinds of refusal: [-p] USER PASSWORD REASON-IN-THE-LOG.
kinds=(
	"t-nobody:$pw:unknown user"
	"t-y:wrong:wrong password"
	"t-s6:wrong:wrong password"
	"t-s5:wrong:wrong password"
	"t-b:wrong:wrong password"
	"t-locked:$pw:locked entry"
	"t-expired:$pw:expired"
	"t-expire0:$pw:expired"
	"root:$pw:uid 0"
	"t-empty:$pw:no password"
	"-p f-nobody:$pw:unknown user"
	"-p f-y:wrong:wrong password"
	"-p f-s6:wrong:wrong password"
	"-p f-s5:wrong:wrong password"
	"-p f-b:wrong:wrong password"
	"-p f-locked:$pw:locked entry"
	"-p f-empty:$pw:no password"
	"-p f-root:$pw:cannot take the entry's uid and gid"
)

# The deadline: long enough for every hash here to be done before it even
# on a loaded machine (a sample where it was not is left out, see below).
if [ "${SEAMS:-no}" = yes ]; then
	deadline=200
else
	deadline=2000
fi
# min_rounds rounds of one sample of every kind; then, while some kinds'
# fastest replies lie 5 ms or more behind the fastest of all, one more
# sample of each such kind, up to max_samples samples of a kind.
min_rounds=5
max_samples=40
limit_us=5000

# sample I RUN: one timed HELO of kind I. Whether the reply and the log
# are right goes to $scratch/wrong; its microseconds to $scratch/t.I.RUN,
# unless the password check outlasted the deadline (pop2d logs that: such
# a sample measures the hash, not the deadline).
sample() {
	local i=$1 run=$2 opt=() u password why
	local k=${kinds[$i]}
	if [ "${k:0:3}" = "-p " ]; then
		opt=(-p "$passwd")
		k=${k:3}
	fi
	IFS=: read -r u password why <<<"$k"
	POP2_LOGIN_DELAY_MS=$deadline "$top_builddir/test/helotime" "HELO $u $password" \
		"$POP2D" -d -n t -S "$state" -m "$spool/%u" "${opt[@]}" \
		>"$scratch/h.$i" 2>"$scratch/e.$i"
	if [ "$(cut -d' ' -f2- "$scratch/h.$i")" != "- Bad login" ] ||
		! { grep -qF "login failed user=$u peer=local reason=$why" "$scratch/e.$i" ||
			{ [ "${k:0:3}" != "-p " ] && grep -qF "login failed user=$u peer=local reason=pam_" "$scratch/e.$i"; }; }; then
		echo "kind $i ($u): $(cat "$scratch/h.$i") / $(grep 'login failed' "$scratch/e.$i")" >>"$scratch/wrong"
	fi
	: >"$scratch/n.$i.$run"
	grep -q "login deadline of .* missed" "$scratch/e.$i" ||
		cut -d' ' -f1 "$scratch/h.$i" >"$scratch/t.$i.$run"
}

# round RUN: one sample of every kind, one at a time (two side by side
# would make one's hash delay the other's reading of its HELO), in an
# order that turns from round to round.
round() {
	local run=$1 i n=${#kinds[@]}
	for ((i = 0; i < n; i++)); do
		sample $(((i + run * 7) % n)) "$run"
	done
}

# fastest: the fastest reply of every kind in $scratch/fastest
# ("MICROSECONDS KIND"); fails when a kind has no sample in time yet.
# Load on a shared machine only ever delays a reply, and a leak delays
# (or hastens) every reply of its kind, so the fastest of several samples
# is the reply time with the noise taken out, the leak left in.
fastest() {
	local i f
	: >"$scratch/fastest"
	for ((i = 0; i < ${#kinds[@]}; i++)); do
		f=$(cat "$scratch/t.$i".* 2>/dev/null | sort -n | head -1)
		[ -n "$f" ] || return 1
		printf '%s %s\n' "$f" "${kinds[$i]%%:*}" >>"$scratch/fastest"
	done
}

spread_us() {
	sort -n "$scratch/fastest" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print hi - lo }'
}

# slow: the kinds whose fastest reply lies limit_us or more behind the
# fastest of all, or that have no sample in time yet, and that have fewer
# than max_samples samples.
slow() {
	local i f lo
	lo=$(sort -n "$scratch/fastest" | head -1 | cut -d' ' -f1)
	for ((i = 0; i < ${#kinds[@]}; i++)); do
		f=$(cat "$scratch/t.$i".* 2>/dev/null | sort -n | head -1)
		if { [ -z "$f" ] || [ -z "$lo" ] || [ $((f - lo)) -ge $limit_us ]; } &&
			[ "$(find "$scratch" -maxdepth 1 -name "n.$i.*" | wc -l)" -lt $max_samples ]; then
			echo "$i"
		fi
	done
}

rm -f "$scratch"/t.* "$scratch"/n.* "$scratch/wrong"
for ((rounds = 0; rounds < min_rounds; rounds++)); do
	round "$rounds"
done
# More samples can only bring a kind's fastest reply nearer its true time:
# they never hide a leak, only the bursts of load that hit that kind every
# time so far. Those kinds are sampled again, turn by turn.
run=$min_rounds
while :; do
	fastest
	again=$(slow)
	[ -n "$again" ] || break
	for i in $again; do
		sample "$i" "$run"
	done
	run=$((run + 1))
done
check "every refusal is - Bad login with its own reason in the log" [ ! -e "$scratch/wrong" ]
[ -e "$scratch/wrong" ] && cat "$scratch/wrong"
if ! fastest; then
	skip "timing: a password check outlasted the $deadline ms deadline in $max_samples samples (machine too slow)"
else
	spread=$(spread_us)
	sort -n "$scratch/fastest" | sed 's/^/# /'
	check "the fastest replies of ${#kinds[@]} kinds of refusal lie within 5 ms (spread $spread us, $(find "$scratch" -maxdepth 1 -name 'n.*' | wc -l) samples)" \
		[ "$spread" -lt $limit_us ]
	earliest=$(cat "$scratch"/t.* | sort -n | head -1)
	check "no refusal comes before the $deadline ms deadline (earliest $earliest us of $(cat "$scratch"/t.* | wc -l) samples)" \
		[ "$earliest" -ge $((deadline * 1000)) ]
fi

# ------------------------------------------------- what a refusal costs

# An unknown user costs the CPU time of a wrong password: its dummy hash
# has the method and cost of the passwd-file's own hashes, a cheap one
# ($5$, 1000 rounds) and a dear one ($5$, 400000 rounds) alike. Measured
# as CPU time against the same run's known user, not against a clock.

# cpu_ms FILE USER: the CPU time (user + system, in ms) of 5 refused
# logins of USER with -p FILE, without the deadline's wait.
cpu_ms() {
	local TIMEFORMAT='%3U %3S' i t
	t=$( { time for ((i = 0; i < 5; i++)); do
		printf 'HELO %s wrong\r\nQUIT\r\n' "$2" |
			POP2_LOGIN_DELAY_MS=0 "$POP2D" -d -n t -S "$state" -m "$spool/%u" -p "$1" \
				>/dev/null 2>&1
	done; } 2>&1)
	awk '{ printf "%d\n", ($1 + $2) * 1000 }' <<<"$t"
}

# within_twice A B: A is at least half B and at most twice B.
within_twice() {
	[ $(($1 * 2)) -ge "$2" ] && [ "$1" -le $(($2 * 2)) ]
}

for cost in 1000:cheap 400000:dear; do
	IFS=: read -r rounds what <<<"$cost"
	file=$scratch/passwd.$rounds
	{
		printf 'c-locked:!%s::::\n' "$("$top_builddir/test/mkhash" '$5$' "$pw" "$rounds")"
		printf 'c-known:%s::::\n' "$("$top_builddir/test/mkhash" '$5$' "$pw" "$rounds")"
		printf 'c-other:%s::::\n' "$("$top_builddir/test/mkhash" '$5$' "$pw" "$rounds")"
	} >"$file"
	known=$(cpu_ms "$file" c-known)
	unknown=$(cpu_ms "$file" c-nobody)
	echo "# $what: known user $known ms, unknown user $unknown ms of CPU time (5 logins each)"
	# Within a factor of 2 either way: with a yescrypt dummy at Debian's
	# cost these logins cost about 10 times more (cheap) or 7 times less
	# (dear), the process's start included.
	check "$what hashes: an unknown user costs the CPU time of a wrong password" \
		within_twice "$unknown" "$known"
done

finish
