# shellcheck shell=bash
# safe_base PREFERRED: prints the first of PREFERRED, $XDG_RUNTIME_DIR,
# /run (for root) and $HOME that is writable and that neither group nor
# others may write, nor any folder above it: pop2d refuses a state
# directory beneath such a folder, so a checkout beneath /tmp keeps its
# state directories elsewhere. Sourced by test/lib.sh, demo.sh and
# bench/bench.sh.
safe_base() {
	local d c
	for c in "$1" "${XDG_RUNTIME_DIR:-}" "$( [ "$EUID" -eq 0 ] && echo /run)" "${HOME:-}"; do
		[ -n "$c" ] && [ -d "$c" ] && [ -w "$c" ] || continue
		d=$(cd "$c" && pwd -P) || continue
		if [ -z "$(shared_folders "$d")" ]; then
			echo "$c"
			return 0
		fi
	done
	echo "$1"
}

# shared_folders DIR: prints DIR (an absolute path without symbolic links)
# and each folder above it, up to /, that group or others may write, one a
# line; nothing when there is none. One stat(1) for them all.
shared_folders() {
	local d=$1 up=() line
	while :; do
		up+=("$d")
		[ "$d" = / ] && break
		d=${d%/*}
		d=${d:-/}
	done
	while read -r line; do
		(((8#${line%% *} & 8#022) != 0)) && printf '%s\n' "${line#* }"
	done < <(stat -c '%a %n' "${up[@]}" 2>/dev/null)
	return 0
}
