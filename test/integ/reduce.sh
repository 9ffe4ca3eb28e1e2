#!/bin/bash
# test/integ/reduce.sh - similarity reduction (agora reduce). Versions of
# a text file, each a few small edits from the one before, are stored
# through agora put: dedup keeps the chunks no edit touched, the edited
# ones are stored whole. agora reduce makes deltas of those against
# their older versions: the stored bytes drop, every version reads back
# byte for byte, fsck is clean and counts the deltas, a second run finds
# nothing left to do, removing the oldest version (whose chunks are the
# references) loses nothing, and with two drives gone every version
# still reads back, references rebuilt from parity.
. "$(dirname "$0")/lib.sh"

write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start

# figure NAME: one exact figure of status -b
figure() {
	ag status -b | awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' ||
		fail "status -b shows no $1"
}

# edit FROM TO SEED: TO is FROM with 6 small edits (a byte changed, a
# line inserted) at places SEED picks.
edit() {
	python3 - "$1" "$2" "$3" <<'PY'
import random, sys
src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = bytearray(open(src, "rb").read())
rng = random.Random(seed)
for i in range(6):
    at = rng.randrange(len(b))
    if i % 2:
        b[at:at] = b"an inserted line %d\n" % seed
    else:
        b[at] = ord("#")
open(dst, "wb").write(bytes(b))
PY
}

step "four versions of a 4 MiB text file, each edited a little"
mkdata "$T/v0" $((4 << 20)) text
for i in 1 2 3; do
	edit "$T/v$((i - 1))" "$T/v$i" "$i"
done
for i in 0 1 2 3; do
	ag put "$T/v$i" "/v$i" || fail "put v$i exited $?"
done
before=$(figure stored_bytes)
say "stored before reduce: $before bytes"

step "agora reduce makes deltas: the stored bytes drop"
ag reduce -v >"$T/reduce.out" 2>&1 || { cat "$T/reduce.out"; fail "reduce exited $?"; }
sed 's/^/# /' "$T/reduce.out"
after=$(figure stored_bytes)
say "stored after reduce: $after bytes"
grep -q "chunks stored as deltas" "$T/reduce.out" || fail "reduce made no delta"
[ "$after" -lt "$before" ] || fail "stored bytes did not drop: $before -> $after"
for i in 0 1 2 3; do
	same "$T/v$i" "/v$i"
done
fsck_clean
deltas=$(grep -o "^[0-9]* delta chunks" "$T/fsck.out" | awk '{ print $1 }')
[ -n "$deltas" ] && [ "$deltas" -gt 0 ] || fail "fsck counts no delta chunks: $(tail -n 2 "$T/fsck.out")"
say "fsck: $(grep "delta chunks" "$T/fsck.out")"
[ "$(figure delta_chunks)" = "$deltas" ] ||
	fail "status counts $(figure delta_chunks) delta chunks, fsck $deltas"
[ "$(figure similar_bytes)" -lt "$(figure unique_bytes)" ] ||
	fail "status: after similarity $(figure similar_bytes) is not below after dedup $(figure unique_bytes)"
say "status: $(ag status | grep '^reduction')"

step "a second reduce has nothing left to do"
ag reduce >"$T/reduce2.out" 2>&1 || { cat "$T/reduce2.out"; fail "second reduce exited $?"; }
! grep -q "chunks stored as deltas" "$T/reduce2.out" || fail "the second reduce made deltas again: $(cat "$T/reduce2.out")"
[ "$(figure stored_bytes)" -le "$after" ] || fail "the second reduce stored more: $after -> $(figure stored_bytes)"

step "the oldest version removed: its chunks stay as references"
ag rm /v0 || fail "rm v0 exited $?"
for i in 1 2 3; do
	same "$T/v$i" "/v$i"
done
fsck_clean

step "two drives gone: the deltas and their references read back"
metad_stop
rm -f "$T/d1" "$T/d2"
metad_start
for i in 1 2 3; do
	same "$T/v$i" "/v$i" 2>/dev/null
done
rc=0
ag fsck >"$T/fsck.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "fsck with two drives gone exited $rc, not 1 (damage found)"
if grep "^DAMAGE" "$T/fsck.out" | grep -qv "drive [12] "; then
	grep "^DAMAGE" "$T/fsck.out"
	fail "fsck with two drives gone finds more than the drives"
fi
metad_stop
say "all good"
