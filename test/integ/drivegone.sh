#!/bin/bash
# test/integ/drivegone.sh - drives that go away under running daemons.
# With agora-metad and agora-fused running, one drive file is truncated
# (its label and ring survive, the data past the cut does not) and then
# another is removed. Both daemons notice, say so and mark the drive
# failed instead of writing on into it; agora status shows it; writes go
# on without the two drives (m = 2), and every file reads back, through
# the mount and after a restart, when fsck names both drives.
. "$(dirname "$0")/lib.sh"

M=$T/mnt
write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
fused_start "$M"

# put_synced NAME SIZE: a new random file $T/src.NAME, written through
# the mount as NAME and fsync'd.
put_synced() {
	mkdata "$T/src.$1" "$2" random
	dd if="$T/src.$1" of="$M/$1" bs=1M conv=fsync status=none ||
		fail "writing $1 through the mount failed"
}

# check_mount NAME...: each file reads back equal through the mount.
check_mount() {
	local f
	for f in "$@"; do
		cmp -s "$T/src.$f" "$M/$f" || fail "$f reads back wrong through the mount"
	done
}

# noticed LOG DRIVE WHY: within 10 s, LOG says the daemon marked DRIVE
# failed because it WHY (was truncated / was removed).
noticed() {
	local log=$1 d=$2 why=$3 n=100
	until grep -q "drive $d ($T/d$d) $why: marked failed" "$log"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || fail "$(basename "$log"): no word of drive $d that $why: $(tail -n 2 "$log")"
		sleep 0.1
	done
	say "$(basename "$log"): $(grep -o "drive $d ($T/d$d) $why: marked failed.*" "$log" | head -n 1)"
}

# drive_state DRIVE: the state agora status shows for it.
drive_state() {
	ag status 2>/dev/null | awk -v d="$1" '$1 == d && NF > 3 { print $2 }'
}

step "files written with every drive there"
put_synced f1 $((3 << 20))
put_synced f2 70000
check_mount f1 f2
[ "$(drive_state 3)" = ok ] || fail "drive 3 is $(drive_state 3) before anything happened"

step "drive 3 truncated to 2 MiB under the daemons: both notice"
truncate -s 2M "$T/d3"
put_synced f3 $((2 << 20))
noticed "$T/metad.log" 3 "was truncated"
noticed "$T/fused-mnt.log" 3 "was truncated"
[ "$(drive_state 3)" = FAILED ] || fail "agora status shows drive 3 as $(drive_state 3), not FAILED"
check_mount f1 f2 f3

step "drive 4 removed under the daemons: both notice"
rm -f "$T/d4"
put_synced f4 $((1 << 20))
noticed "$T/metad.log" 4 "was removed"
noticed "$T/fused-mnt.log" 4 "was removed"
[ "$(drive_state 4)" = MISSING ] || fail "agora status shows drive 4 as $(drive_state 4), not MISSING"
[ ! -e "$T/d4" ] || fail "a daemon made $T/d4 again"
check_mount f1 f2 f3 f4

step "writes go on with two drives gone"
put_synced f5 $((3 << 20))
mkdir "$M/dir" || fail "mkdir through the mount"
check_mount f1 f2 f3 f4 f5
mkdata "$T/src.p" 500000 random
ag put "$T/src.p" /p 2>/dev/null || fail "agora put with two drives gone exited $?"
fused_stop "$M"
metad_stop

step "after a restart every file reads back; fsck names both drives"
metad_start
for f in f1 f2 f3 f4 f5; do
	same "$T/src.$f" "/$f"
done
same "$T/src.p" /p
metad_stop
rc=0
ag fsck >"$T/fsck.out" 2>/dev/null || rc=$?
sed 's/^/#   /' "$T/fsck.out" | tail -n 4
[ "$rc" -eq 1 ] || fail "fsck with two drives gone exited $rc, not 1"
grep -q '^DAMAGE: drive 3 ' "$T/fsck.out" || fail "fsck does not name drive 3"
grep -q '^DAMAGE: drive 4 ' "$T/fsck.out" || fail "fsck does not name drive 4"
[ "$(grep -c '^DAMAGE' "$T/fsck.out")" -eq 2 ] ||
	fail "fsck finds more than the two drives: $(grep '^DAMAGE' "$T/fsck.out" | head -n 3)"

echo "PASS: $steps steps"
