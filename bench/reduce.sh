#!/bin/bash
# bench/reduce.sh - how much Agora stores for versioned data, and how fast
# it takes it in, side by side with the backup tools people would use for
# the same data: borg (zstd,3), restic (--compression max) and one
# tar | zstd -3 per version.
#
#   bench/reduce.sh
#
# Datasets, each a row of versions, oldest first, one directory per
# version, built from what is at hand:
#   git  this project's own history: `git archive` of commits spread
#        evenly from the first to the newest
#   deb  several builds of one Debian package, unpacked side by side
#        (linux-headers-6.1.0-N-common for the newest N the archive
#        has: apt-get download, then dpkg-deb -x)
# Each dataset goes version by version into a fresh cluster through the
# FUSE mount (cp -a) and, into another fresh cluster, over S3 (rclone
# copy), and into a fresh repository of each other tool. Per dataset it
# prints, for each: the footprint of one copy with metadata (Agora: data
# and metadata pages, plus the garbage its segments hold: padding of
# stripes flushed before they filled), the footprint with parity (Agora:
# erasure-coded stripes at (k+m)/k, mirrored ones at m+1 copies, pages at
# 3; the others keep one copy), the metadata alone, the ratio of the
# one-copy footprint to restic's and to borg's, and ingest MB/s (10^6
# logical bytes), files/s and CPU seconds. Agora's CPU is its daemons'
# (agora-fused or agora-s3d, and agora-metad) plus the client's (cp or
# rclone), the others' their own. After each Agora run, agora clean
# destages the mirrored stripes (the write buffer) into full erasure-coded
# ones and cleans mostly dead segments; the row below it is the footprint
# then, and the CPU seconds the cleaner and agora-metad spent on it.
# Below the table, for each Agora row, the stages (agora status -b): the
# logical bytes, what is left after deduplication, after similarity
# (deltas) and after compression, each with the share of the logical
# bytes that stage removed, then the metadata and the garbage that make
# the one-copy footprint with them.
# Every figure is the median of the runs.
#
# Environment:
#   AGORA_REDUCE_CACHE=dir    downloaded packages are kept here, so reruns
#                             download nothing (default
#                             ${XDG_CACHE_HOME:-~/.cache}/agora-reduce)
#   AGORA_REDUCE_DATASETS="git deb"  which datasets
#   AGORA_REDUCE_TOOLS="fuse s3 borg restic tar"  which stores
#   AGORA_REDUCE_COMMITS=30   versions of the git dataset
#   AGORA_REDUCE_DEBS=5       versions of the deb dataset
#   AGORA_REDUCE_PACKAGE=linux-headers-6.1.0-%s-common  the package, %s
#                             standing for the ABI number
#   AGORA_BENCH_RUNS=3        runs per figure (medians); each run has a
#                             fresh cluster or repository
#   and those of bench/lib.sh (AGORA_BENCH_DIR, AGORA_BUILD, AGORA_KEEP)
#
# Needs root (FUSE mounts), borg, restic, zstd and rclone (apt-get install
# borgbackup restic zstd rclone; contrib/install-deps.sh installs rclone);
# a tool that is missing is left out, saying so.
bench_name=reduce
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cache=${AGORA_REDUCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agora-reduce}
datasets=${AGORA_REDUCE_DATASETS:-git deb}
tools=${AGORA_REDUCE_TOOLS:-fuse s3 borg restic tar}
ncommits=${AGORA_REDUCE_COMMITS:-30}
ndebs=${AGORA_REDUCE_DEBS:-5}
package=${AGORA_REDUCE_PACKAGE:-linux-headers-6.1.0-%s-common}
fused=$build/fused/agora-fused
s3d=$build/s3d/agora-s3d
[[ $ncommits =~ ^[1-9][0-9]*$ ]] || die "AGORA_REDUCE_COMMITS=$ncommits: not a count"
[[ $ndebs =~ ^[1-9][0-9]*$ ]] || die "AGORA_REDUCE_DEBS=$ndebs: not a count"
mkdir -p "$cache/debs"
clk_tck=$(getconf CLK_TCK)

# ---- datasets ---------------------------------------------------------

# dataset_git DIR: $ncommits commits of this tree's history, spread evenly,
# as DIR/v001 ... (oldest first).
dataset_git() {
	local dir=$1 i n pick c
	local -a all
	mapfile -t all < <(git -C "$root" rev-list --first-parent --reverse HEAD)
	n=${#all[@]}
	[ "$n" -gt 0 ] || die "no git history in $root"
	pick=$((ncommits < n ? ncommits : n))
	for ((i = 0; i < pick; i++)); do
		# the first and the newest, and evenly between them
		if [ "$pick" -eq 1 ]; then
			c=${all[n - 1]}
		else
			c=${all[i * (n - 1) / (pick - 1)]}
		fi
		mkdir -p "$dir/$(printf v%03d "$((i + 1))")"
		git -C "$root" archive --format=tar "$c" |
			tar -x -C "$dir/$(printf v%03d "$((i + 1))")"
	done
}

# dataset_deb DIR: the newest $ndebs ABIs of $package the archive has,
# downloaded into the cache once, unpacked as DIR/v001 ... (oldest first).
dataset_deb() {
	local dir=$1 i=0 abi name deb
	local re=${package//./\\.}
	local -a abis
	re="^${re//%s/([0-9]+)}\$"
	mapfile -t abis < <(apt-cache search --names-only "$re" 2>/dev/null |
		awk '{ print $1 }' | sed -nE "s/$re/\\1/p" | sort -n | tail -n "$ndebs")
	[ "${#abis[@]}" -gt 0 ] || die "apt-cache knows no package like $package (apt-get update?)"
	for abi in "${abis[@]}"; do
		# shellcheck disable=SC2059 # the package name is the format
		name=$(printf "$package" "$abi")
		deb=$(find "$cache/debs" -name "${name}_*.deb" | sort | tail -n 1)
		if [ -z "$deb" ]; then
			(cd "$cache/debs" && apt-get download "$name" >/dev/null 2>"$T/apt.err") ||
				die "apt-get download $name failed: $(tail -n 1 "$T/apt.err")"
			deb=$(find "$cache/debs" -name "${name}_*.deb" | sort | tail -n 1)
		fi
		i=$((i + 1))
		mkdir -p "$dir/$(printf v%03d "$i")"
		dpkg-deb -x "$deb" "$dir/$(printf v%03d "$i")"
	done
	printf '%s\n' "${abis[@]}" >"$dir.versions"
}

# ---- the stores -------------------------------------------------------

# proc_cpu PID: user + system seconds the process used so far.
proc_cpu() {
	awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' \
		"/proc/$1/stat"
}
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# cluster_fresh: stop the daemons of the last cluster, start a new one
# with drives large enough for the dataset unreduced, twice over.
cluster_fresh() {
	local pid n
	for pid in "${bench_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		n=200
		while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
	done
	bench_pids=()
	rm -f "$T"/d[0-9] "$T/metad.sock" "$T"/*.pid
	cluster_start "$(( (ds_bytes / 2 + (1 << 30)) >> 30 ))G"
	metad_pid=$(cat "$T/metad.pid")
}

# agora_footprint: fp1, fpp, meta, garbage of the cluster as it is now.
agora_footprint() {
	ag status -b >"$T/status.b"
	local -A f
	local k v
	while read -r k v; do f[$k]=$v; done <"$T/status.b"
	garbage=${f[garbage_bytes]}
	fp1=$((f[physical_bytes] + garbage))
	# garbage lies where it was written: count it at (k+m)/k, the rate of
	# the stripes that hold nearly all of it
	fpp=$((f[protected_bytes] + garbage * 3 / 2))
	meta=${f[meta_bytes]}
	stage_logical=${f[logical_bytes]}
	stage_dedup=${f[unique_bytes]}
	stage_similar=${f[similar_bytes]}
	stage_zstd=${f[stored_bytes]}
	[ "${f[logical_bytes]}" -ge "$ds_bytes" ] ||
		die "the cluster holds ${f[logical_bytes]} logical bytes, the dataset has $ds_bytes"
}

# after_clean: agora clean (destaging the mirrored stripes into full
# erasure-coded ones, and cleaning mostly dead segments) on the cluster
# just measured, then its footprint again; cpu is the cleaner's and
# agora-metad's meanwhile.
after_clean() {
	local m0
	m0=$(proc_cpu "$metad_pid")
	timed ag clean >"$T/clean.out" || die "agora clean failed: $(tail -n 3 "$T/clean.out")"
	cpu=$(plus "$cpu" "$(minus "$(proc_cpu "$metad_pid")" "$m0")")
	agora_footprint
}

# store_fuse DATASET: the versions through a fresh mount, cp -a each.
store_fuse() {
	local ds=$1 v t_cp
	cluster_fresh
	mkdir -p "$T/mnt"
	"$fused" -c "$conf" -o "log=$T/fused.log,pidfile=$T/fused.pid" "$T/mnt" \
		2>>"$T/fused.log" || die "agora-fused exited $?"
	bench_mounts+=("$T/mnt")
	fused_pid=$(cat "$T/fused.pid")
	bench_pids+=("$fused_pid")
	local m0 f0
	m0=$(proc_cpu "$metad_pid")
	f0=$(proc_cpu "$fused_pid")
	timed bash -c 'for v in "$1"/v*; do cp -a "$v" "$2/"; done' - "$ds" "$T/mnt"
	t_cp=$wall
	cpu=$(plus "$cpu" "$(minus "$(proc_cpu "$fused_pid")" "$f0")")
	# what was copied reads back the same (not timed)
	v=$(find "$ds" -mindepth 1 -maxdepth 1 -name 'v*' | sort | tail -n 1)
	diff -r --no-dereference "$v" "$T/mnt/$(basename "$v")" >"$T/diff" 2>&1 ||
		die "$(basename "$v") reads back different through the mount: $(head -n 3 "$T/diff")"
	# the unmount makes every lazy commit durable: part of the ingest
	timed fusermount3 -u "$T/mnt"
	while kill -0 "$fused_pid" 2>/dev/null; do sleep 0.05; done
	wall=$(plus "$t_cp" "$wall")
	cpu=$(plus "$cpu" "$(minus "$(proc_cpu "$metad_pid")" "$m0")")
	agora_footprint
}

# rclone_ag ARGS...: rclone with the cluster's endpoint as ag: (it refuses
# a custom CA bundle on its own transport: drop any).
rclone_ag() { env -u AWS_CA_BUNDLE rclone --config "$T/rclone.conf" "$@"; }

# store_s3 DATASET: the versions over S3 into a fresh cluster, one
# rclone copy each (8 transfers at once), v001/... in one bucket.
store_s3() {
	local ds=$1 port access secret m0 s0 n
	cluster_fresh
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >>"$conf" <<CONF

[s3]
listen = 127.0.0.1:$port
pidfile = $T/s3d.pid
log = $T/s3d.log
CONF
	read -r access secret < <(ag user add bench --uid 1000 --gid 1000) ||
		die "agora user add failed"
	"$s3d" -c "$conf" -d || die "agora-s3d -d exited $?"
	s3d_pid=$(cat "$T/s3d.pid")
	bench_pids+=("$s3d_pid")
	cat >"$T/rclone.conf" <<CFG
[ag]
type = s3
provider = Other
access_key_id = $access
secret_access_key = $secret
endpoint = http://127.0.0.1:$port
force_path_style = true
region = us-east-1
CFG
	for ((n = 0; n < 100; n++)); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.1
	done
	rclone_ag mkdir ag:bench || die "rclone mkdir failed"
	m0=$(proc_cpu "$metad_pid")
	s0=$(proc_cpu "$s3d_pid")
	timed bash -c 'for v in "$1"/v*; do
		env -u AWS_CA_BUNDLE rclone --config "$2" copy --transfers 8 \
			--checkers 8 --skip-links "$v" "ag:bench/${v##*/}" || exit 1
	done' - "$ds" "$T/rclone.conf" 2>"$T/rclone.err" ||
		die "rclone copy failed: $(tail -n 3 "$T/rclone.err")"
	cpu=$(plus "$cpu" "$(minus "$(proc_cpu "$s3d_pid")" "$s0")")
	cpu=$(plus "$cpu" "$(minus "$(proc_cpu "$metad_pid")" "$m0")")
	# every PUT was durable when answered; stopping the gateway seals the
	# segments it leased, so that status counts their garbage
	kill -TERM "$s3d_pid"
	while kill -0 "$s3d_pid" 2>/dev/null; do sleep 0.05; done
	agora_footprint
}

# repo_bytes DIR: the bytes of the files under DIR.
repo_bytes() { du -sb "$1" | awk '{ print $1 }'; }

store_borg() {
	local ds=$1
	rm -rf "$T/borg" "$T/borg-home"
	export BORG_BASE_DIR=$T/borg-home BORG_PASSPHRASE=
	export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
	borg init -e none "$T/borg"
	# from inside each version, so that paths are the same in every archive
	timed bash -c 'for v in "$1"/v*; do
		(cd "$v" && borg create --compression zstd,3 "$2::${v##*/}" .) || exit 1
	done' - "$ds" "$T/borg"
	fp1=$(repo_bytes "$T/borg")
	fpp=$fp1
	meta=-
	garbage=-
}

store_restic() {
	local ds=$1
	rm -rf "$T/restic" "$T/restic-cache"
	export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$T/restic-cache
	restic init -q --repository-version 2 --repo "$T/restic" >/dev/null
	timed bash -c 'for v in "$1"/v*; do
		(cd "$v" && restic backup -q --compression max --repo "$2" \
			--host bench --tag "${v##*/}" .) || exit 1
	done' - "$ds" "$T/restic"
	fp1=$(repo_bytes "$T/restic")
	fpp=$fp1
	meta=-
	garbage=-
}

store_tar() {
	local ds=$1
	rm -rf "$T/tar"
	mkdir -p "$T/tar"
	timed bash -c 'for v in "$1"/v*; do
		tar -C "$v" -cf - . | zstd -3 -q -o "$2/${v##*/}.tar.zst" || exit 1
	done' - "$ds" "$T/tar"
	fp1=$(repo_bytes "$T/tar")
	fpp=$fp1
	meta=-
	garbage=-
}

tool_name() {
	case $1 in
	fuse) echo "agora, FUSE cp -a" ;;
	fuse+clean) echo "  then agora clean" ;;
	s3) echo "agora, S3 rclone" ;;
	s3+clean) echo "  then agora clean" ;;
	borg) echo "borg zstd,3" ;;
	restic) echo "restic max" ;;
	tar) echo "tar | zstd -3" ;;
	esac
}

tool_ready() {
	case $1 in
	fuse) [ -x "$fused" ] && command -v fusermount3 >/dev/null && [ -c /dev/fuse ] ;;
	s3) [ -x "$s3d" ] && command -v rclone >/dev/null ;;
	borg) command -v borg >/dev/null ;;
	restic) command -v restic >/dev/null ;;
	tar) command -v zstd >/dev/null ;;
	*) die "unknown tool $1 in AGORA_REDUCE_TOOLS" ;;
	esac
}

# note TOOL RUN: the figures of one run (wall "-": none for ingest).
note() {
	fig[$1,fp1]+=" $fp1"
	fig[$1,fpp]+=" $fpp"
	fig[$1,meta]+=" $meta"
	fig[$1,garbage]+=" $garbage"
	case $1 in
	fuse* | s3*)
		fig[$1,logical]+=" $stage_logical"
		fig[$1,dedup]+=" $stage_dedup"
		fig[$1,similar]+=" $stage_similar"
		fig[$1,zstd]+=" $stage_zstd"
		;;
	esac
	if [ "$wall" = - ]; then
		fig[$1,mbps]+=" -"
		fig[$1,fps]+=" -"
	else
		fig[$1,mbps]+=" $(awk -v b="$ds_bytes" -v t="$wall" 'BEGIN { printf "%.1f", b / t / 1e6 }')"
		fig[$1,fps]+=" $(awk -v n="$ds_files" -v t="$wall" 'BEGIN { printf "%.0f", n / t }')"
	fi
	fig[$1,cpu]+=" $cpu"
	say "$(tool_name "$1") run $2: $(mb "$fp1") MB one copy, ${wall} s, cpu ${cpu} s" >&2
}

mb() { awk -v b="$1" 'BEGIN { if (b == "-") print "-"; else printf "%.1f", b / 1e6 }'; }

say "Agora data reduction on versioned data: $runs runs, medians"
say "host: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' \
	/proc/cpuinfo 2>/dev/null || echo unknown CPU)"
say "work: $T (six sparse drive files, ec 4+2); downloads cached in $cache"
for tool in $tools; do
	tool_ready "$tool" || say "note: $(tool_name "$tool") left out: not installed here"
done

for set in $datasets; do
	ds=$T/ds-$set
	case $set in
	git) dataset_git "$ds" ;;
	deb) dataset_deb "$ds" ;;
	*) die "unknown dataset $set in AGORA_REDUCE_DATASETS" ;;
	esac
	nver=$(find "$ds" -mindepth 1 -maxdepth 1 -name 'v*' | wc -l)
	ds_bytes=$(find "$ds" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	ds_files=$(find "$ds" -type f | wc -l)
	say ""
	case $set in
	git) what="$nver commits of this tree, first to newest" ;;
	deb)
		list="{$(paste -sd, "$ds.versions")}"
		what=${package//%s/$list}
		;;
	esac
	say "== $set: $what: $nver versions, $(mb "$ds_bytes") MB, $ds_files files =="
	declare -A fig=()
	done_tools=()
	for tool in $tools; do
		tool_ready "$tool" || continue
		done_tools+=("$tool")
		case $tool in fuse | s3) done_tools+=("$tool+clean") ;; esac
		for ((r = 1; r <= runs; r++)); do
			"store_$tool" "$ds"
			note "$tool" "$r"
			case $tool in
			fuse | s3)
				after_clean
				wall=-
				note "$tool+clean" "$r"
				;;
			esac
		done
	done
	med() { case ${fig[$1,$2]} in *-*) echo - ;; *) median_of "${fig[$1,$2]}" ;; esac; }
	# ratio says "-" against a tool that did not run
	restic_fp=0 borg_fp=0
	[ -z "${fig[restic,fp1]:-}" ] || restic_fp=$(med restic fp1)
	[ -z "${fig[borg,fp1]:-}" ] || borg_fp=$(med borg fp1)
	printf '%-20s %10s %10s %9s %9s %8s %8s %8s %8s %8s\n' "MB (10^6 bytes)" \
		"one copy" "w/ parity" metadata garbage "/restic" "/borg" "MB/s" "files/s" "CPU s"
	for tool in "${done_tools[@]}"; do
		f1=$(med "$tool" fp1)
		printf '%-20s %10s %10s %9s %9s %8s %8s %8s %8s %8s\n' "$(tool_name "$tool")" \
			"$(mb "$f1")" "$(mb "$(med "$tool" fpp)")" "$(mb "$(med "$tool" meta)")" \
			"$(mb "$(med "$tool" garbage)")" \
			"$(ratio "$f1" "$restic_fp")" "$(ratio "$f1" "$borg_fp")" \
			"$(med "$tool" mbps)" "$(med "$tool" fps)" "$(med "$tool" cpu)"
	done
	# what each stage of Agora's leaves, and the share of the logical
	# bytes it removed
	for tool in "${done_tools[@]}"; do
		case $tool in fuse* | s3*) ;; *) continue ;; esac
		lg=$(med "$tool" logical)
		share() { awk -v a="$1" -v b="$2" -v l="$lg" 'BEGIN {
			printf "%.1f (-%.1f %%)", b / 1e6, (l > 0 ? 100 * (a - b) / l : 0) }'; }
		say "$(tool_name "$tool"): logical $(mb "$lg") MB, after dedup" \
			"$(share "$lg" "$(med "$tool" dedup)")," \
			"similarity $(share "$(med "$tool" dedup)" "$(med "$tool" similar)")," \
			"compression $(share "$(med "$tool" similar)" "$(med "$tool" zstd)");" \
			"+ metadata $(mb "$(med "$tool" meta)") + garbage" \
			"$(mb "$(med "$tool" garbage)") = $(mb "$(med "$tool" fp1)") MB one copy"
	done
	rm -rf "$ds"
done
