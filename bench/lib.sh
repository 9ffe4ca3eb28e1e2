# shellcheck shell=bash
# bench/lib.sh - what the benchmarks (bench/run.sh, fuse.sh, s3.sh, reduce.sh)
# share, sourced: build, a cluster of six sparse drive files in a temporary
# directory with agora-metad running, cleanup of every daemon and mount on
# exit, timing, medians and ratios.
#
# The sourcing script sets bench_name first. Environment:
#   AGORA_BENCH_RUNS=3   runs per figure (medians)
#   AGORA_BENCH_DIR=dir  where the temporary directory goes
#                        (default ${TMPDIR:-/tmp}; drive files live there)
#   AGORA_BUILD=dir      build directory (default: in place if the tree is
#                        configured in place, else build/)
#   AGORA_KEEP=1         keep the temporary directory
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${AGORA_BENCH_RUNS:-3}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "AGORA_BENCH_RUNS=$runs: not a count" >&2; exit 1; }

say() { printf '%s\n' "$*"; }
die() { printf '%s: error: %s\n' "$bench_name" "$*" >&2; exit 1; }

if [ -n "${AGORA_BUILD:-}" ]; then
	build=$(cd "$AGORA_BUILD" && pwd)
elif [ -f "$root/config.status" ]; then
	build=$root
else
	build=$root/build
fi
[ -f "$build/Makefile" ] ||
	die "no configured build in $build: run contrib/agora-start.sh, or" \
	    "autoreconf -fi && ./configure at the top of the tree, first"
make -C "$build" -j2 >"${TMPDIR:-/tmp}/agora-$bench_name-make.$$.log" 2>&1 || {
	cat "${TMPDIR:-/tmp}/agora-$bench_name-make.$$.log" >&2
	rm -f "${TMPDIR:-/tmp}/agora-$bench_name-make.$$.log"
	die "make failed"
}
rm -f "${TMPDIR:-/tmp}/agora-$bench_name-make.$$.log"
agora=$build/metad/agora
metad=$build/metad/agora-metad

base=${AGORA_BENCH_DIR:-${TMPDIR:-/tmp}}
mkdir -p "$base"
T=$(mktemp -d "$base/agora-$bench_name.XXXXXX")
T=$(cd "$T" && pwd)
conf=$T/agora.conf
bench_pids=()
bench_mounts=()
bench_cleanups=() # functions cleanup() runs first, newest first

cleanup() {
	local rc=$? pid mnt n i
	set +e
	for ((i = ${#bench_cleanups[@]} - 1; i >= 0; i--)); do
		"${bench_cleanups[i]}"
	done
	for mnt in "${bench_mounts[@]}"; do
		if mountpoint -q "$mnt" 2>/dev/null; then
			fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
		fi
	done
	for pid in "${bench_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		n=100
		while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	done
	if [ "$rc" -ne 0 ]; then
		for f in "$T"/*.log; do
			[ -s "$f" ] || continue
			say "---- last lines of $f" >&2
			tail -n 20 "$f" >&2
		done
	fi
	if [ "${AGORA_KEEP:-0}" = 1 ]; then
		say "kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ag() { "$agora" -c "$conf" "$@"; }

# cluster_start DRIVE_SIZE: write the config, mkfs, start agora-metad.
cluster_start() {
	local drives="" i pid
	for i in 0 1 2 3 4 5; do
		drives+="${drives:+,}$T/d$i"
	done
	cat >"$conf" <<CONF
# written by bench/$bench_name.sh
[cluster]
drives = $drives
ec = 4+2
drive_size = $1
metad = unix:$T/metad.sock

[metad]
pidfile = $T/metad.pid
log = $T/metad.log
CONF
	ag mkfs >/dev/null
	"$metad" -c "$conf" -d -p "$T/metad.pid"
	pid=$(cat "$T/metad.pid")
	kill -0 "$pid" 2>/dev/null || die "agora-metad did not start"
	bench_pids+=("$pid")
}

# passthrough_start SRC MNT: build libfuse's passthrough_ll (the FUSE
# ceiling) from $pt_src into $T once, and mount SRC on MNT with it, with
# room for $pt_fds descriptors (it keeps one per inode it knows).
pt_src=${PASSTHROUGH_LL_SRC:-/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c}
passthrough_start() {
	command -v fusermount3 >/dev/null || die "fusermount3 (fuse3) not installed"
	[ -f "$pt_src" ] || die "no $pt_src: install libfuse3-dev"
	# passthrough_ll.c includes passthrough_helpers.h from its own directory
	# shellcheck disable=SC2046 # pkg-config's flags are words
	[ -x "$T/passthrough_ll" ] ||
		gcc -O2 -o "$T/passthrough_ll" "$pt_src" $(pkg-config --cflags --libs fuse3) ||
		die "cannot build passthrough_ll from $pt_src"
	mkdir -p "$1" "$2"
	(ulimit -n "${pt_fds:-$(ulimit -n)}" && exec "$T/passthrough_ll" -o "source=$1" "$2") \
		>>"$T/pt.log" 2>&1 || die "passthrough_ll exited $?"
	bench_mounts+=("$2")
	mountpoint -q "$2" || die "passthrough_ll did not mount"
}

# fused_start MNT: mount the cluster on MNT with agora-fused
# ($AGORA_FUSED_OPTS: extra -o options).
fused_start() {
	local fused=$build/fused/agora-fused
	[ -x "$fused" ] || die "$fused not built"
	mkdir -p "$1"
	"$fused" -c "$conf" -o "log=$T/fused.log,pidfile=$T/fused.pid${AGORA_FUSED_OPTS:+,$AGORA_FUSED_OPTS}" \
		"$1" 2>>"$T/fused.log" || die "agora-fused exited $?"
	bench_mounts+=("$1")
	bench_pids+=("$(cat "$T/fused.pid")")
	mountpoint -q "$1" || die "agora-fused did not mount"
}

# timed COMMAND...: run it; wall and cpu (user + sys, its children's
# included) seconds in $wall and $cpu. Its own stderr still goes to stderr.
timed() {
	local TIMEFORMAT='%3R %3U %3S' r u s
	{ time "$@" 2>&3; } 3>&2 2>"$T/time"
	read -r r u s <"$T/time"
	wall=$r
	cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
}

# median NUMBERS...: the median (mean of the middle two for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# median_of "N N N...": the median of a space-separated list.
median_of() {
	local -a v
	read -ra v <<<"$1"
	median "${v[@]}"
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
verdict() {
	awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t ? "ok" : "BELOW") }'
}

# put_mbps SIZE: `agora put` MB/s (10^6 bytes) of SIZE fresh random bytes,
# the median of $runs runs, each with its own data (no deduplication).
put_mbps() {
	local size=$1 i t0 t1 all=()
	for ((i = 1; i <= runs; i++)); do
		head -c "$size" /dev/urandom >"$T/put-data"
		t0=$(date +%s.%N)
		ag put "$T/put-data" "/bench-put/data-$i" >/dev/null
		t1=$(date +%s.%N)
		all+=("$(awk -v b="$size" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", b / (z - a) / 1e6 }')")
		say "agora put run $i: ${all[-1]} MB/s" >&2
	done
	rm -f "$T/put-data"
	ag rm -r /bench-put >/dev/null 2>&1 || true
	median "${all[@]}"
}

# drop_caches: the kernel's page, dentry and inode caches, when allowed.
drop_caches() {
	sync
	if [ -w /proc/sys/vm/drop_caches ]; then
		echo 3 >/proc/sys/vm/drop_caches
	fi
}
can_drop_caches() { [ -w /proc/sys/vm/drop_caches ]; }
