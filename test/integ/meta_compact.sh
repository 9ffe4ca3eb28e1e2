#!/bin/bash
# test/integ/meta_compact.sh - metadata segments that a few live pages
# pin come back. Small segments (256K a drive: 128 page slots) are filled
# with the metadata of some 8,000 empty files with long names, copied in
# through a mount; nine directories in ten are removed, which leaves live
# pages scattered over every metadata segment the files took. metad then
# compacts them by itself, one segment at a time (its live pages go
# elsewhere with the next commit): the metadata segments must come down
# to what the files left need and return to free, the files left must list
# and read as before and fsck must stay clean. agora-metad is killed with
# SIGKILL while it compacts, and must start again onto a clean cluster
# that goes on compacting, the mount going on with it. (The drives are large for their segments:
# while files pour in, pages waiting for their reuse round spread over
# many metadata segments, some 200 of them at times, and compaction
# brings them back only once most of their slots are free.)
. "$(dirname "$0")/lib.sh"

write_conf
sed -i -e 's/^drive_size = .*/drive_size = 256M\nsegment_size = 256K\nstrip_size = 16K/' "$CONF"
grep -q '^segment_size = 256K' "$CONF" || fail "could not edit $CONF"
# the event log is live metadata too: the 15,000 events of the copy and
# the removal would fill three of these small segments by themselves
printf '\n[events]\nkeep = 100\n' >>"$CONF"
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start

# meta_segments: metadata segments, as agora status -b says.
meta_segments() {
	ag status -b | awk '$1 == "meta_segments" { print $2 }'
}

# wait_meta_segments MAX SECONDS: until at most MAX metadata segments
# are left; fails after SECONDS.
wait_meta_segments() {
	local max=$1 n i
	for ((i = 0; i < $2; i++)); do
		n=$(meta_segments)
		[ "$n" -le "$max" ] && return 0
		sleep 1
	done
	fail "still $n metadata segments after $2 s (wanted at most $max)"
}

step "the metadata of 8000 files with long names takes many segments"
src=$T/src
long=$(printf 'a-rather-long-file-name-to-make-directory-entries-weigh%.0s' 1 2)
for ((d = 0; d < 40; d++)); do
	mkdir -p "$src/dir$d"
	(cd "$src/dir$d" && for ((f = 0; f < 200; f++)); do
		: >"$long-$f"
	done)
done
fused_start "$T/mnt"
cp -a "$src" "$T/mnt/tree" || fail "cp -a exited $?"
sync
n=$(find "$T/mnt/tree" -type f | wc -l)
[ "$n" -eq 8000 ] || fail "$n files copied, not 8000"
full=$(meta_segments)
say "$full metadata segments"
[ "$full" -ge 6 ] || fail "only $full metadata segments: the test needs more"

step "nine directories in ten removed"
moved() { grep -c "pages of the tree move out of it" "$T/metad.log" || true; }
before=$(moved)
for ((d = 0; d < 40; d++)); do
	((d % 10 == 3)) || rm -rf "$T/mnt/tree/dir$d"
done
sync
(cd "$T/mnt/tree" && find . | sort) >"$T/left" ||
	fail "cannot list what is left"
[ "$(grep -c /dir3/ "$T/left")" -eq 200 ] ||
	fail "dir3 does not hold its 200 files"

step "metad compacts them; killed with SIGKILL meanwhile, it starts again"
# (a segment is compacted once no slot of it was handed out for 10 s)
for ((i = 0; i < 80; i++)); do
	[ "$(moved)" -gt "$before" ] && break
	sleep 0.5
done
[ "$(moved)" -gt "$before" ] ||
	fail "metad compacted no segment in 40 s after the removal"
metad_kill
metad_start
fsck_clean

step "the metadata segments return to free"
# what is left (a tenth of the files) fits in 2 segments, and compaction
# leaves at most one more, the one it fills from
wait_meta_segments 3 120
now=$(meta_segments)
say "metadata segments: $full with all the files, $now after; $(moved) compactions logged, $before of them before the removal"
[ "$full" -ge $((4 * now)) ] || fail "only $full -> $now metadata segments"

step "the files left list and read as before, fsck is clean"
(cd "$T/mnt/tree" && find . | sort) >"$T/left2" ||
	fail "cannot list what is left"
cmp -s "$T/left" "$T/left2" || fail "the tree lists otherwise after compaction"
[ -z "$(find "$T/mnt/tree" -type f -size +0)" ] || fail "a file is not empty"
fused_stop "$T/mnt"
fsck_clean
ag status | grep -E "segments" | while read -r line; do say "$line"; done
say "ok"
