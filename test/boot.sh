#!/bin/bash
# The Debian package under a booted systemd: a minimal Debian tree
# (debootstrap) gets the package installed with apt-get and is booted
# with systemd-nspawn on a private network. Inside, the boot itself must
# start pop2d-recover.service and listen on pop2d.socket, as the package
# enabled them; a unit that runs after them serves a real session over
# port 109 (pam_unix, /var/mail root:mail 2775, the set-group-ID helper
# making the dot-lock, the deletion committed) and powers the machine
# off. The results are read back from the tree. The host keeps its
# accounts, spool and network: only the tree's files change.
#
# usage: POP2_HOST_TESTS=1 test/boot.sh DEB   (as root; test/package.sh
# runs it on the package it built)
set -u
export LC_ALL=C
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
skip() { echo "SKIP: $(basename "$0"): $*"; exit 77; }
die() { echo "FAIL: $*"; exit 1; }

if [ "${POP2_HOST_TESTS:-0}" != 1 ]; then
	skip "it downloads Debian packages into a scratch tree; run with POP2_HOST_TESTS=1"
fi
deb=${1:?usage: test/boot.sh DEB}
[ -f "$deb" ] || die "no package at $deb"
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap systemd-nspawn; do
	command -v "$tool" >/dev/null ||
		skip "$tool is missing (Debian: debootstrap, systemd-container)"
done
# shellcheck source=/dev/null
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$suite" ] || skip "no VERSION_CODENAME in /etc/os-release"
mirror=${POP2_DEBIAN_MIRROR:-http://deb.debian.org/debian}

work=$(mktemp -d "${TMPDIR:-/tmp}/pop2d-boot.XXXXXX")
chmod 755 "$work"
root=$work/root
# systemd-nspawn leaves entries in the host's /run/systemd (a propagation
# folder, a marker file): remove those it made.
run_before=$(find /run/systemd -maxdepth 1 2>/dev/null)
cleanup() {
	local entry
	rm -rf "$work"
	find /run/systemd -maxdepth 1 2>/dev/null | while read -r entry; do
		grep -q -x -F "$entry" <<<"$run_before" || rm -rf "$entry"
	done
}
trap cleanup EXIT

if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
	"$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -n 20 "$work/debootstrap.log"
	die "debootstrap $suite from $mirror"
fi
pass "debootstrap --variant=minbase $suite with systemd"

cp "$deb" "$root/tmp/pop2d.deb"
if ! chroot "$root" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q /tmp/pop2d.deb >"$work/apt.log" 2>&1; then
	tail -n 20 "$work/apt.log"
	die "apt-get install of the package inside the tree"
fi
pass "apt-get install ./pop2d_*.deb inside the tree"
check "the helper is set-group-ID mail" \
	[ "$(stat -c '%U:%G %a' "$root/usr/libexec/pop2-lock")" = "root:mail 2755" ]

# A system user of the tree's own, with a real password hash, and one
# message in the spool as Debian makes it.
chroot "$root" useradd -m alice || die "useradd inside the tree"
echo 'alice:tree-secret' | chroot "$root" chpasswd || die "chpasswd inside the tree"
chroot "$root" sh -c 'chown root:mail /var/mail && chmod 2775 /var/mail' ||
	die "/var/mail inside the tree"
message='From someone@example.org Thu Dec  3 09:00:00 2026
Subject: booted

Delivered before the boot.
'
printf '%s' "$message" >"$root/var/mail/alice"
chroot "$root" sh -c 'chown alice:mail /var/mail/alice && chmod 660 /var/mail/alice'
# What RETR sends: LF as CRLF, without the "From " line (SPEC 2).
printf '%s' "$message" | sed 1d | sed 's/$/\r/' >"$work/expected"
expected_octets=$(wc -c <"$work/expected")

# The unit that plays the client once the boot is done, then powers off.
mkdir "$root/out"
cat >"$root/usr/local/sbin/pop2d-boot-client" <<'EOF'
#!/bin/bash
# Runs inside the booted tree: records what systemd and pop2d did.
exec >/out/result 2>&1
echo "socket=$(systemctl is-active pop2d.socket)"
echo "socket-enabled=$(systemctl is-enabled pop2d.socket)"
echo "recover=$(systemctl show -p Result --value pop2d-recover.service)"
echo "recover-ran=$(systemctl show -p ExecMainStartTimestampMonotonic --value pop2d-recover.service)"
if exec 3<>/dev/tcp/127.0.0.1/109; then
	read -r -t 10 line <&3; echo "greeting=${line%$'\r'}"
	printf 'HELO alice tree-secret\r\n' >&3
	read -r -t 10 line <&3; echo "helo=${line%$'\r'}"
	printf 'READ\r\n' >&3
	read -r -t 10 line <&3; echo "read=${line%$'\r'}"
	n=${line#=}; n=${n%% *}
	printf 'RETR\r\n' >&3
	IFS= read -r -t 10 -N "$n" body <&3
	printf '%s' "$body" >/out/retr
	printf 'ACKD\r\n' >&3
	read -r -t 10 line <&3; echo "ackd=${line%$'\r'}"
	printf 'QUIT\r\n' >&3
	read -r -t 10 line <&3; echo "quit=${line%$'\r'}"
	exec 3<&-
fi
# The session logs its end after QUIT's reply: wait for it (10 s at most).
for _ in $(seq 100); do
	journalctl -b --no-pager -o cat -t pop2d >/out/journal
	grep -q '^session end ' /out/journal && break
	sleep 0.1
done
systemctl poweroff
EOF
chmod 755 "$root/usr/local/sbin/pop2d-boot-client"
cat >"$root/etc/systemd/system/pop2d-boot-client.service" <<'EOF'
[Unit]
Description=pop2d test client
After=multi-user.target pop2d.socket pop2d-recover.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/pop2d-boot-client

[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/pop2d-boot-client.service \
	"$root/etc/systemd/system/multi-user.target.wants/pop2d-boot-client.service"

# --register=no --keep-unit: no machined or host systemd is needed.
timeout 300 systemd-nspawn -q -D "$root" --register=no --keep-unit \
	--private-network -b >"$work/boot.log" 2>&1
rc=$?
check "the tree booted and powered itself off (status $rc)" [ "$rc" -eq 0 ]
[ -f "$root/out/result" ] || { tail -n 40 "$work/boot.log"; die "the client unit never ran"; }
cat "$root/out/result"
result() { sed -n "s/^$1=//p" "$root/out/result"; }

check "pop2d.socket is enabled by the package" [ "$(result socket-enabled)" = enabled ]
check "pop2d.socket is active after the boot" [ "$(result socket)" = active ]
check "pop2d-recover.service ran at boot" [ "$(result recover-ran)" -gt 0 ]
check "pop2d-recover.service succeeded" [ "$(result recover)" = success ]
check "greeting from the socket-activated pop2d@.service" \
	grep -q -E '^greeting=\+ POP2 .* server ready$' "$root/out/result"
check "HELO through PAM (pam_unix): one message" [ "$(result helo)" = "#1 messages in INBOX" ]
check "READ gives RETR's octets" [ "$(result read | cut -d' ' -f1)" = "=$expected_octets" ]
check "RETR sends the message byte for byte" cmp "$work/expected" "$root/out/retr"
check "ACKD: no more messages" [ "$(result ackd | cut -d' ' -f1)" = "=0" ]
check "QUIT" grep -q -E '^quit=\+' "$root/out/result"
check "the deletion was committed to /var/mail/alice" [ ! -s "$root/var/mail/alice" ]
check "no dot-lock left in the spool" [ ! -e "$root/var/mail/alice.lock" ]
check "the journal logs the recovery at boot" \
	grep -q '^recover-all users=' "$root/out/journal"
check "the journal logs the session's end with the deletion" \
	grep -q -E '^session end user=alice reason=QUIT retrieved=1 deleted=1 ' "$root/out/journal"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
