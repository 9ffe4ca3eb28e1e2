#!/bin/bash
# test/integ/rebuild.sh - agora drive replace beside running daemons.
# With agora-metad and agora-fused running, files are written, drive 2 is
# removed (both daemons mark it failed, status says so, writes go on), and
# agora drive replace 2 formats a new drive there and rebuilds it, slowed
# down, while files go on being written and read through the mount; it is
# killed with -9 halfway (10 times, each going on from the cursor, with
# AGORA_LONG=1) and run again, and goes on from its cursor. Both daemons
# take the new drive in by themselves; status says degraded until then.
# Then scrub is clean, fsck is clean,
# and with drives 0 and 1 gone too (m = 2), every file, old and new, still
# reads back: what drive 2 holds is really there.
. "$(dirname "$0")/lib.sh"

M=$T/mnt
rounds=1 rate=3 run=8
[ "$AGORA_LONG" = 1 ] && rounds=10 rate=1 run=6
write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
fused_start "$M"

files=()
# put_synced NAME SIZE: a new random file $T/src.NAME, written through
# the mount as NAME and fsync'd.
put_synced() {
	mkdata "$T/src.$1" "$2" random
	dd if="$T/src.$1" of="$M/$1" bs=1M conv=fsync status=none ||
		fail "writing $1 through the mount failed"
	files+=("$1")
}

# drive_state DRIVE: the state agora status shows for it.
drive_state() {
	ag status 2>/dev/null | awk -v d="$1" '$1 == d && NF > 3 { print $2 }'
}

# logged LOG TEXT: within 20 s, LOG says TEXT.
logged() {
	local n=200
	until grep -qF "$2" "$1"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || fail "$(basename "$1") never says '$2': $(tail -n 2 "$1")"
		sleep 0.1
	done
}

step "files written with every drive there"
for ((i = 0; i < 6; i++)); do
	put_synced "a$i" $(((i + 1) * 1500000 + RANDOM))
done
for ((i = 0; i < 40; i++)); do
	put_synced "s$i" $((RANDOM % 30000 + 1))
done

step "drive 2 removed: the daemons mark it failed, status says so"
rm -f "$T/d2"
put_synced b0 2000000
logged "$T/metad.log" "drive 2 ($T/d2) was removed: marked failed"
logged "$T/fused-mnt.log" "drive 2 ($T/d2) was removed: marked failed"
[ "$(drive_state 2)" = MISSING ] || fail "status shows drive 2 as $(drive_state 2), not MISSING"
ag status 2>/dev/null | grep -q '^degraded   1 of 6 drives missing, failed or being rebuilt: serving on' ||
	fail "status does not say the cluster is degraded: $(ag status 2>/dev/null | grep -A1 '^drives')"
# the missing drive is no damage of the others: their rings hold the
# records of lanes that had drive 2, and of lanes without it since
put_synced b1 300000
rc=0
ag scrub >"$T/scrub-degraded.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/scrub-degraded.out"; fail "scrub with drive 2 missing exited $rc"; }
expect_fail "replace of a whole drive" "is in use and no rebuild" ag drive replace 3 "$T/d3"
expect_fail "replace at another path" "names $T/d2 for drive 2" ag drive replace 2 "$T/elsewhere"

step "drive replace 2, slowed down, killed with -9 halfway ($rounds times)"
# a run waits ~3 s for the daemons, then keeps its cursor every 2 s
at=-1
for ((r = 1; r <= rounds; r++)); do
	"$AGORA" -c "$CONF" drive replace 2 "$T/d2" --rate "$rate" \
		>"$T/replace$r.out" 2>&1 &
	rpid=$!
	started_pids+=("$rpid")
	[ "$r" -gt 1 ] || logged "$T/metad.log" "drive 2 ($T/d2): a new drive for this slot, in use again"
	# writes while it runs go to the new drive as well
	put_synced "c$r" $((700000 + RANDOM))
	sleep "$run"
	kill -KILL "$rpid" 2>/dev/null || fail "drive replace ended before it was killed: $(cat "$T/replace$r.out")"
	wait "$rpid" 2>/dev/null || true
	grep -q "drive 2 rebuilt" "$T/replace$r.out" && fail "drive replace ended before it was killed"
	if [ "$r" -gt 1 ]; then
		from=$(awk '/^rebuild: drive 2 goes on from segment/ { print $8 * 1000000 + $10 }' "$T/replace$r.out")
		[ -n "$from" ] || fail "round $r did not go on from the cursor: $(head -n 2 "$T/replace$r.out")"
		[ "$from" -gt "$at" ] || fail "round $r went on from $from, not past $at"
		at=$from
	fi
	[ "$(drive_state 2)" = ok ] || fail "status shows drive 2 as $(drive_state 2) during its rebuild"
	ag status 2>/dev/null | grep -q "^ *2 ok .*, rebuilding: at segment" ||
		fail "status does not say drive 2 is being rebuilt: $(ag status 2>/dev/null | grep '^  *2 ')"
	ag status 2>/dev/null | grep -q '^degraded   1 of 6 drives' ||
		fail "status does not say the cluster is degraded during the rebuild"
	# reads of a drive half rebuilt are served right
	for f in "${files[@]}"; do
		cmp -s "$T/src.$f" "$M/$f" || fail "$f reads back wrong through the mount during the rebuild"
	done
done

step "drive replace 2 again goes on from its cursor"
put_synced d0 1500000
rc=0
ag drive replace 2 "$T/d2" >"$T/replace2.out" 2>&1 || rc=$?
sed 's/^/#   /' "$T/replace2.out"
[ "$rc" -eq 0 ] || fail "drive replace exited $rc"
grep -q "^rebuild: drive 2 goes on from segment" "$T/replace2.out" ||
	fail "drive replace did not go on from its cursor"
grep -q "^rebuild: drive 2 goes on from segment 0 stripe 0$" "$T/replace2.out" &&
	fail "the cursor never moved while the first replace ran"
grep -q "drive 2 rebuilt (resumed)" "$T/replace2.out" || fail "no word of the rebuild"
logged "$T/fused-mnt.log" "drive 2 ($T/d2): a new drive for this slot, in use again"
expect_fail "replace of the rebuilt drive" "is in use and no rebuild" ag drive replace 2 "$T/d2"
ag status 2>/dev/null | grep -q '^degraded' && fail "status says degraded after the rebuild"
put_synced e0 1000000

step "scrub and fsck are clean, every file reads back through the mount"
rc=0
ag scrub >"$T/scrub.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/scrub.out"; fail "scrub after the rebuild exited $rc"; }
fsck_clean
for f in "${files[@]}"; do
	cmp -s "$T/src.$f" "$M/$f" || fail "$f reads back wrong through the mount"
done
fused_stop "$M"
metad_stop

step "with drives 0 and 1 gone too, every file reads from the rebuilt one"
mv "$T/d0" "$T/d0.away"
mv "$T/d1" "$T/d1.away"
for f in "${files[@]}"; do
	same "$T/src.$f" "/$f" 2>/dev/null
done
mv "$T/d0.away" "$T/d0"
mv "$T/d1.away" "$T/d1"
fsck_clean
echo "PASS: $steps steps"
