#!/bin/bash
# contrib/install-deps.sh - install the Debian packages listed in
# contrib/packages.txt that are not installed yet.
#
# Nothing is done when everything is present. apt-get update runs only if
# the first install attempt fails. Works as root, or as a user with sudo.
# On a system without dpkg it only warns: configure then says what is
# missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
list="$root/contrib/packages.txt"

say() { printf 'install-deps: %s\n' "$*" >&2; }

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	say "no dpkg/apt-get here: not installing anything (see contrib/packages.txt)"
	exit 0
fi

missing=()
while read -r pkg; do
	pkg=${pkg%%#*}
	pkg=${pkg//[[:space:]]/}
	[ -n "$pkg" ] || continue
	if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
		missing+=("$pkg")
	fi
done <"$list"

if [ ${#missing[@]} -eq 0 ]; then
	say "all packages of contrib/packages.txt are installed"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		say "missing packages: ${missing[*]}"
		say "not root and no sudo: install them as root, then run again"
		exit 1
	fi
fi

apt_install() {
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"
}

say "installing: ${missing[*]}"
if ! apt_install; then
	say "install failed; running apt-get update and trying again"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
	apt_install
fi
say "done"
