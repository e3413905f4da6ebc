# shellcheck shell=bash
# safe_base PREFERRED: prints the first of PREFERRED, $XDG_RUNTIME_DIR,
# /run (for root) and $HOME that is writable and that neither group nor
# others may write, nor any folder above it: pop2d refuses a state
# directory beneath such a folder, so a checkout beneath /tmp keeps its
# state directories elsewhere. Sourced by test/lib.sh, demo.sh and
# bench/bench.sh.
safe_base() {
	local d c
	for c in "$1" "${XDG_RUNTIME_DIR:-}" "$( [ "$(id -u)" -eq 0 ] && echo /run)" "${HOME:-}"; do
		[ -n "$c" ] && [ -d "$c" ] && [ -w "$c" ] || continue
		d=$(cd "$c" && pwd -P) || continue
		while [ -z "$(find "$d" -maxdepth 0 -perm /022)" ] && [ "$d" != / ]; do
			d=$(dirname "$d")
		done
		if [ "$d" = / ] && [ -z "$(find / -maxdepth 0 -perm /022)" ]; then
			echo "$c"
			return 0
		fi
	done
	echo "$1"
}
