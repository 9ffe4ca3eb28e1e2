#!/bin/bash
# test/integ/mirror.sh - small objects in mirrored stripes: they cost
# blocks, not stripes; they read back right when a drive holding one of
# their copies is garbage; fsck names the damaged copies; and they stay
# right through the gateway that wrote them.
. "$(dirname "$0")/lib.sh"

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start

# raw_used: bytes of drive space the cluster's data segments hold
raw_used() { ag status -b | awk '$1 == "used_bytes" { print $2 }'; }

step "200 small files through one gateway share mirrored stripes"
mnt=$T/mnt
mkdir -p "$mnt"
fused_start "$mnt"
before=$(raw_used)
mkdir "$mnt/small" || fail "mkdir"
for ((i = 0; i < 200; i++)); do
	head -c $((1000 + i * 37)) /dev/urandom >"$T/s$i"
	cp "$T/s$i" "$mnt/small/s$i" || fail "cp s$i"
done
fused_stop "$mnt"
after=$(raw_used)
say "drive space in use: $before before, $after after"
# padded to whole 4+2 stripes of 64K strips they would take 200 x 384K
# (75 MiB); shared, they take a few segments (32 MiB here, 48 once in a
# loaded full run, where closes no longer syncing spread them over more)
[ $((after - before)) -lt $((60 << 20)) ] ||
	fail "200 small files took $((after - before)) bytes of drive space"
for ((i = 0; i < 200; i++)); do
	same "$T/s$i" "/small/s$i"
done
fsck_clean

step "a drive full of garbage: every file reads back, fsck names the copies"
metad_stop
for d in 0 1; do
	cp --sparse=always "$T/d$d" "$T/d$d.saved"
	# the metadata and data segments after the label: 64 MiB of garbage
	head -c $((64 << 20)) /dev/urandom |
		dd of="$T/d$d" bs=1M seek=1 conv=notrunc status=none
	for ((i = 0; i < 200; i += 7)); do
		same "$T/s$i" "/small/s$i"
	done
	rc=0
	ag fsck >"$T/fsck.out" 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "fsck with drive $d garbage exited $rc"
	grep -q "mirrored stripe .* (drive $d) differs" "$T/fsck.out" ||
		fail "fsck did not name a mirrored copy on drive $d: $(grep -m3 . "$T/fsck.out")"
	say "drive $d: $(grep -c 'mirrored stripe' "$T/fsck.out") mirrored copies reported"
	mv "$T/d$d.saved" "$T/d$d"
done
metad_start
fsck_clean

echo "ok: $steps steps"
