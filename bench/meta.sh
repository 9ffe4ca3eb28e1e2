#!/bin/bash
# bench/meta.sh - what metadata costs: the bytes of metadata pages per file
# of a source tree, and what an empty cluster takes on its drives.
#
#   bench/meta.sh
#
# Makes a cluster of six sparse drive files (bench/lib.sh) and reports:
#   - the drive space an empty cluster takes (blocks the drive files hold
#     after mkfs and a first start of agora-metad);
#   - a source tree stored through `agora put`, file by file, COPIES
#     times (the copies share their chunks, as copies of a tree do), then
#     `agora fsck -v`: bytes of one copy of the tree's pages per inode,
#     how full the pages are, and the records' bytes by type;
#   - the same tree copied with `cp -a` through agora-fused, COPIES
#     times, and the same report for the files it added;
#   - the `agora put` copies removed: the metadata segments before, and
#     once metad has compacted them (when their count has not moved for
#     15 seconds: metad compacts a segment 10 s after its last new page),
#     after.
#
# Environment (and those of bench/lib.sh):
#   AGORA_BENCH_TREE=dir    the tree to store (default: the files git
#                           tracks in this repository)
#   AGORA_BENCH_COPIES=3    copies of it, each way
#   AGORA_BENCH_FUSE=0      skip the cp -a part
#   AGORA_BENCH_COMPACT=0   skip the removal and compaction part
bench_name=meta
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

copies=${AGORA_BENCH_COPIES:-3}
[[ $copies =~ ^[1-9][0-9]*$ ]] || die "AGORA_BENCH_COPIES=$copies: not a count"
fused=$build/fused/agora-fused

src=$T/src
if [ -n "${AGORA_BENCH_TREE:-}" ]; then
	cp -a "$AGORA_BENCH_TREE" "$src" || die "cannot copy $AGORA_BENCH_TREE"
else
	mkdir -p "$src"
	git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp -a --parents -t "$src")
fi
nfiles=$(find "$src" -type f | wc -l)

# drive_blocks: bytes the drive files hold on their file system.
drive_blocks() {
	du -cB1 "$T"/d[0-9] | awk 'END { print $1 }'
}

# meta_report LABEL: fsck -v's metadata lines; sets meta_bytes and
# meta_inodes from them.
meta_report() {
	local out
	out=$(ag fsck -v) || die "fsck found problems after $1: $out"
	meta_bytes=$(awk '/^metadata: / { print $2 }' <<<"$out")
	meta_inodes=$(awk '/ inodes, / { for (i = 1; i < NF; i++)
		if ($(i + 1) ~ /^inodes,/) print $i }' <<<"$out")
	say "---- $1"
	grep -E '^(metadata|  )' <<<"$out"
}

cluster_start 4G
sleep 1
empty=$(drive_blocks)
say "empty cluster: $empty bytes on its drives ($(numfmt --to=iec "$empty"))"

for ((i = 1; i <= copies; i++)); do
	(cd "$src" && find . -type f -print0) |
		while IFS= read -r -d '' f; do
			ag put "$src/$f" "/put$i/${f#./}" >/dev/null ||
				die "agora put $f failed"
		done
done
meta_report "agora put: $copies copies of $nfiles files"
put_bytes=$meta_bytes put_inodes=$meta_inodes
say "agora put: $((put_bytes / put_inodes)) bytes of metadata per inode"

if [ "${AGORA_BENCH_FUSE:-1}" != 0 ]; then
	[ -x "$fused" ] || die "$fused not built"
	mkdir -p "$T/mnt"
	"$fused" -c "$conf" -o "log=$T/fused.log,pidfile=$T/fused.pid" \
		"$T/mnt" 2>>"$T/fused.log" || die "agora-fused exited $?"
	bench_mounts+=("$T/mnt")
	bench_pids+=("$(cat "$T/fused.pid")")
	for ((i = 1; i <= copies; i++)); do
		cp -a "$src" "$T/mnt/cp$i" || die "cp -a failed"
	done
	sync
	meta_report "cp -a: $copies more copies of $nfiles files"
	say "cp -a: $(((meta_bytes - put_bytes) / (meta_inodes - put_inodes))) bytes of metadata per inode added"
fi
say "drives now hold $(drive_blocks) bytes"

# meta_segments: metadata segments, as agora status -b says.
meta_segments() {
	ag status -b | awk '$1 == "meta_segments" { print $2 }'
}

if [ "${AGORA_BENCH_COMPACT:-1}" != 0 ]; then
	segs_before=$(meta_segments)
	for ((i = 1; i <= copies; i++)); do
		ag rm -r "/put$i" >/dev/null || die "agora rm -r /put$i failed"
	done
	segs=$(meta_segments) still=0
	for ((t = 0; t < 180 && still < 15; t++)); do
		sleep 1
		now=$(meta_segments)
		if [ "$now" = "$segs" ]; then
			still=$((still + 1))
		else
			segs=$now still=0
		fi
	done
	meta_report "agora put copies removed"
	say "metadata segments: $segs_before before the removal, $segs once compacted (stable after $t s)"
fi
