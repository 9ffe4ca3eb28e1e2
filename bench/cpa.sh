#!/bin/bash
# bench/cpa.sh - small-file ingest through the mount: `cp -a` of a real
# source tree into agora-fused, side by side with libfuse's passthrough_ll
# (the FUSE ceiling) over the same disk, in files/s, and their ratio (aim:
# at least 0.5). The tree is /usr/include (thousands of small headers),
# or this repository's `git archive HEAD` where there is none. Each run
# copies into a fresh directory and ends with `sync`, so that what the
# copy left in caches is counted; figures are medians of the runs.
#
#   bench/cpa.sh
#
# Environment (and those of bench/lib.sh):
#   AGORA_BENCH_TREE=dir     the tree to copy (default /usr/include)
#   AGORA_FUSED_OPTS=opts    extra -o options for agora-fused
#   PASSTHROUGH_LL_SRC=file  passthrough_ll.c (default: libfuse3-dev's)
bench_name=cpa
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tree=${AGORA_BENCH_TREE:-/usr/include}
if [ -z "${AGORA_BENCH_TREE:-}" ] && [ ! -d "$tree" ]; then
	tree=$T/tree
	mkdir -p "$tree"
	git -C "$root" archive HEAD | tar -x -C "$tree" ||
		die "no /usr/include and no git archive of $root"
fi
[ -d "$tree" ] || die "AGORA_BENCH_TREE=$tree: not a directory"
nfiles=$(find "$tree" -type f | wc -l)
bytes=$(du -sb "$tree" | awk '{ print $1 }')
[ "$nfiles" -gt 0 ] || die "$tree holds no file"

drive_size=$(( (bytes * (runs + 2) * 4 + (1 << 30)) >> 30 ))G
cluster_start "$drive_size"
fused_start "$T/agora"
# passthrough_ll keeps a descriptor per inode it knows: each run's copy
# is removed before the next
pt_fds=$((2 * nfiles + 4096))
(ulimit -n "$pt_fds") 2>/dev/null || pt_fds=$(ulimit -Hn)
[ "$pt_fds" -gt "$nfiles" ] ||
	die "the descriptor limit $pt_fds is too low for passthrough_ll and $nfiles files"
passthrough_start "$T/pt-src" "$T/pt"

# cpa_rate DIR: copy the tree into DIR with cp -a and sync; files/s.
# The copy is removed afterwards.
cpa_rate() {
	local t0 t1
	t0=$(date +%s.%N)
	cp -a "$tree" "$1" || die "cp -a $tree $1 failed"
	sync
	t1=$(date +%s.%N)
	awk -v n="$nfiles" -v a="$t0" -v z="$t1" 'BEGIN { printf "%.0f", n / (z - a) }'
	rm -rf "$1"
}

say "Agora small-file ingest: cp -a through agora-fused against passthrough_ll, $runs runs, medians"
say "host: $(nproc) CPUs; work: $T ($(df -T "$T" | awk 'NR == 2 { print $2 }'))"
say "tree: $tree, $nfiles files, $(numfmt --to=iec "$bytes")B"
# the tree is read once first, so that every run reads it from the cache
find "$tree" -type f -exec cat {} + >/dev/null
ag_all=() pt_all=()
for ((r = 1; r <= runs; r++)); do
	ag_all+=("$(cpa_rate "$T/agora/cpa-$r")")
	pt_all+=("$(cpa_rate "$T/pt/cpa-$r")")
	say "run $r: agora-fused ${ag_all[-1]} files/s, passthrough_ll ${pt_all[-1]} files/s"
done
a=$(median "${ag_all[@]}")
p=$(median "${pt_all[@]}")
say ""
say "== summary (medians of $runs) =="
printf '%-30s %12s %14s %7s %8s\n' "" agora-fused passthrough_ll ratio aim
printf '%-30s %12s %14s %7s %8s  %s\n' "cp -a, files/s" "$a" "$p" "$(ratio "$a" "$p")" \
	">= 0.50" "$(verdict "$(ratio "$a" "$p")" 0.50)"
