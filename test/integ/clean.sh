#!/bin/bash
# test/integ/clean.sh - the cleaner (agora clean). Small drives (40M, 1M
# segments, 64K strips, 4+2) are filled with incompressible files until a
# put fails for want of space, every other file is removed, and agora
# clean must give back at least 40 % of the capacity; then writes work
# again through agora put, a FUSE mount and S3, every remaining file reads
# back byte-equal and fsck is clean. Two cleaners at once, readers through
# a mount during cleaning and segment reuse, agora clean killed at random
# moments (5 rounds, 100 with AGORA_LONG=1) and agora-metad killed during
# a cleaning must lose no acknowledged byte. Then destaging: 500 small
# files written through a mount sit in mirrored stripes; agora clean
# --destage-only must bring the bytes their stripes take on the drives
# down to about the erasure code's overhead, and agora clean --watch must
# destage by itself when the mirrored share passes agora.conf's
# threshold.
. "$(dirname "$0")/lib.sh"

rounds=5
[ "$AGORA_LONG" = 1 ] && rounds=100

write_conf
sed -i -e 's/^drive_size = .*/drive_size = 40M\nsegment_size = 1M\nstrip_size = 64K/' "$CONF"
grep -q '^segment_size = 1M' "$CONF" || fail "could not edit $CONF"
cat >>"$CONF" <<CONF

[clean]
free_pct = 0
mirrored_pct = 5
interval = 1
CONF

# status_value KEY: that figure of agora status -b.
status_value() { ag status -b | awk -v k="$1" '$1 == k { print $2 }'; }
free_pct() { echo $(($(status_value free_bytes) * 100 / $(status_value capacity_bytes))); }

# report_value LINE FIELD: field FIELD of line LINE of agora clean's report
# in $T/clean.out.
report_value() { awk -v l="$1" -v f="$2" '$1 == l { print $f }' "$T/clean.out"; }

: >"$T/sums"
n=0
# put_random SIZE: a new file of SIZE random bytes, acknowledged in $T/sums
# (1 when the put failed, its message in $T/put.err).
put_random() {
	mkdata "$T/f" "$1" random
	ag put "$T/f" "/data/f$n" 2>"$T/put.err" || return 1
	echo "$(sha256sum <"$T/f" | cut -d ' ' -f 1) /data/f$n" >>"$T/sums"
	n=$((n + 1))
}

# remove_every_other: remove every other acknowledged file.
remove_every_other() {
	awk 'NR % 2 == 1 { print $2 }' "$T/sums" | while read -r path; do
		ag rm "$path" || fail "rm $path exited $?"
	done
	awk 'NR % 2 == 0' "$T/sums" >"$T/sums.new"
	mv "$T/sums.new" "$T/sums"
}

# verify_all: every acknowledged file reads back byte-equal.
verify_all() {
	local sum path got k=0
	while read -r sum path; do
		got=$(ag get "$path" - | sha256sum) || fail "get $path exited $?"
		[ "${got%% *}" = "$sum" ] || fail "$1: $path reads back wrong"
		k=$((k + 1))
	done <"$T/sums"
	say "$1: $k files read back right"
}

# garbage COUNT: COUNT new files of 200 KiB to 1.2 MiB, half of them
# removed again.
garbage() {
	local i
	for ((i = 0; i < $1; i++)); do
		put_random $(((RANDOM % 1000 + 200) * 1024)) ||
			fail "put for garbage: $(cat "$T/put.err")"
	done
	remove_every_other
}

step "fill small drives to ENOSPC with incompressible files"
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
for ((tries = 0; ; tries++)); do
	[ "$tries" -lt 500 ] || fail "500 puts and the cluster is not full"
	put_random $(((RANDOM % 2000 + 100) * 1024)) || break
done
grep -q 'No space left' "$T/put.err" ||
	fail "the fill did not end with 'No space left': $(cat "$T/put.err")"
say "$n files fitted; $(free_pct) % free"

step "remove every other file, clean: 40 % of the capacity is free again"
remove_every_other
before=$(free_pct)
ag clean -v >"$T/clean.out" 2>&1 || fail "agora clean exited $?: $(tail -n 3 "$T/clean.out")"
sed -n '/^segments /,$p' "$T/clean.out" | sed 's/^/#   /'
sleep 3 # a reuse round
after=$(free_pct)
say "free: $before % after the removals, $after % after cleaning"
[ "$after" -ge 40 ] || fail "only $after % of the capacity is free after cleaning"

step "writes work again: agora put, a mount, S3"
put_random $((3 << 20)) || fail "put after cleaning: $(cat "$T/put.err")"
fused_start "$T/mnt"
mkdata "$T/m" $((1 << 20)) random
cp "$T/m" "$T/mnt/data/through-mount" || fail "write through the mount exited $?"
echo "$(sha256sum <"$T/m" | cut -d ' ' -f 1) /data/through-mount" >>"$T/sums"
s3d_start
mkdata "$T/s" $((1 << 20)) random
awsc s3 mb s3://bucket >/dev/null || fail "s3 mb exited $?"
awsc s3 cp "$T/s" s3://bucket/through-s3 >/dev/null || fail "s3 cp exited $?"
echo "$(sha256sum <"$T/s" | cut -d ' ' -f 1) /bucket/through-s3" >>"$T/sums"
verify_all "after cleaning"
fsck_clean
say "fsck clean"

step "two cleaners at once"
garbage 16
ag clean >"$T/clean1.out" 2>&1 &
c1=$!
ag clean >"$T/clean2.out" 2>&1 &
c2=$!
wait "$c1" || fail "the first of two cleaners exited $?: $(tail -n 2 "$T/clean1.out")"
wait "$c2" || fail "the second of two cleaners exited $?: $(tail -n 2 "$T/clean2.out")"
say "one: $(grep '^copied' "$T/clean1.out"); other: $(grep '^copied' "$T/clean2.out")"
grep '^lost' "$T/clean1.out" "$T/clean2.out" | sed 's/^/#   /' || true
verify_all "after two cleaners"
fsck_clean
# what the two emptied waits for a reuse round; the copies one lost to
# the other are garbage in its segment, which the next clean collects
sleep 3
say "$(free_pct) % free"

step "readers through the mount while chunks move and their segments are reused"
garbage 16
cp "$T/sums" "$T/sums.read"
(
	# each file read whole through the mount, over and over
	while [ ! -e "$T/stop-reading" ]; do
		while read -r sum path; do
			got=$(sha256sum <"$T/mnt$path") || { echo "read $path failed" >>"$T/read.bad"; continue; }
			[ "${got%% *}" = "$sum" ] || echo "$path read wrong" >>"$T/read.bad"
		done <"$T/sums.read"
	done
) &
reader=$!
ag clean >"$T/clean.out" 2>&1 || fail "agora clean exited $?"
sleep 3 # a reuse round: the emptied segments are written again
for ((i = 0; i < 12; i++)); do
	put_random $((1 << 20)) || break
done
touch "$T/stop-reading"
wait "$reader" || true
[ ! -s "$T/read.bad" ] || fail "readers during cleaning: $(head -n 3 "$T/read.bad")"
say "$(wc -l <"$T/sums.read") files read right throughout"
verify_all "after reuse"
fsck_clean

step "agora clean killed at random moments ($rounds rounds)"
for ((r = 1; r <= rounds; r++)); do
	garbage 6
	# held to a pace, so that the kill lands while it copies
	ag clean --rate 4 >"$T/clean.out" 2>&1 &
	pid=$!
	sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# remove what the next rounds would not reach: the cluster stays
	# roomy however many rounds run
	[ $((r % 10)) -ne 0 ] || remove_every_other
	if [ "$r" -eq "$rounds" ] || [ $((r % 10)) -eq 0 ]; then
		verify_all "after round $r"
		fsck_clean
	fi
done
ag clean >"$T/clean.out" 2>&1 || fail "agora clean after the kills exited $?"
verify_all "after a whole cleaning"
fsck_clean

step "agora-metad killed while agora clean runs"
garbage 16
ag clean --rate 4 >"$T/clean.out" 2>&1 &
pid=$!
sleep 0.5
metad_kill
sleep 1
metad_start
rc=0
wait "$pid" || rc=$?
[ "$rc" -ne 124 ] || fail "agora clean hung when agora-metad was killed"
say "agora clean exited $rc: $(grep -E '^(copied|agora)' "$T/clean.out" | head -n 1)"
verify_all "after agora-metad was killed"
fsck_clean
ag clean >"$T/clean.out" 2>&1 || fail "agora clean after the restart exited $?"

step "destage: 500 small files through a mount, then clean --destage-only"
fused_stop "$T/mnt"
s3d_stop
metad_stop
ag mkfs --force >/dev/null || fail "mkfs --force exited $?"
metad_start
fused_start "$T/mnt"
mkdir -p "$T/small" "$T/mnt/small"
python3 - "$T/small" "$T/mnt/small" 500 <<'PY' || fail "writing the small files failed"
import os, random, sys
local, mnt, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    data = os.urandom(random.randint(512, 3072))
    for d in (local, mnt):
        with open(os.path.join(d, "s%d" % i), "wb") as f:
            f.write(data)
PY
# a mount keeps its lease while it writes: its segment is sealed (and
# destaged) once it is handed back
fused_stop "$T/mnt"
ag clean --destage-only >"$T/clean.out" 2>&1 || fail "clean --destage-only exited $?"
sed -n '/^segments /,$p' "$T/clean.out" | sed 's/^/#   /'
stored=$(report_value mirrored 7)
raw_before=$(report_value raw 2)
raw_after=$(report_value raw 4)
mirrored_after=$(report_value mirrored 4)
# whole EC stripes (3/2 of their payload here) and one stripe left open
slack=$((6 * 64 * 1024))
say "stored $stored bytes: on the drives $raw_before before, $raw_after after ($((raw_after * 100 / stored)) %)"
[ "$raw_after" -le $((stored * 3 / 2 + slack)) ] ||
	fail "after destaging the data takes $raw_after bytes on the drives for $stored stored"
[ "$raw_before" -ge $((stored * 2)) ] ||
	fail "the small files took only $raw_before bytes mirrored: the test shows nothing"
[ "$mirrored_after" -le $((2 * 64 * 1024)) ] ||
	fail "$mirrored_after bytes still mirrored after destaging"
fused_start "$T/mnt"
for ((i = 0; i < 500; i++)); do
	cmp -s "$T/small/s$i" "$T/mnt/small/s$i" || fail "small/s$i reads back wrong through the mount"
done
fused_stop "$T/mnt"
ag get /small/s7 "$T/got" && cmp -s "$T/small/s7" "$T/got" || fail "small/s7 reads back wrong"
say "500 small files read back right"
fsck_clean

step "agora clean --watch destages by itself past mirrored_pct"
for ((i = 0; i < 40; i++)); do
	head -c $((RANDOM % 2000 + 500)) /dev/urandom >"$T/small/w$i"
	ag put "$T/small/w$i" "/small/w$i" || fail "put small/w$i exited $?"
done
"$AGORA" -c "$CONF" clean --watch >"$T/watch.out" 2>&1 &
watcher=$!
started_pids+=("$watcher")
for ((i = 0; i < 30; i++)); do
	grep -q '^raw ' "$T/watch.out" && break
	sleep 1
done
kill -KILL "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
grep -q '^raw ' "$T/watch.out" || fail "agora clean --watch did not clean within 30 s: $(head -n 3 "$T/watch.out")"
sed -n '/^segments /,/^raw /p' "$T/watch.out" | sed 's/^/#   /'
ag clean --destage-only >"$T/clean.out" 2>&1 || fail "clean --destage-only exited $?"
left=$(report_value mirrored 2)
[ "$left" -le $((2 * 64 * 1024)) ] || fail "$left bytes still mirrored after --watch"
for ((i = 0; i < 40; i++)); do
	same "$T/small/w$i" "/small/w$i"
done
fsck_clean

echo "PASS: $steps steps"
