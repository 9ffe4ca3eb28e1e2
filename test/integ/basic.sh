#!/bin/bash
# test/integ/basic.sh - the agora tool against a real agora-metad: mkfs,
# the drive labels, put/get of assorted sizes and kinds, ls, stat, mkdir,
# rm, overwrite, dedup of identical content, restart, fsck.
. "$(dirname "$0")/lib.sh"

write_conf

step "mkfs creates and labels $NDRIVES drive files"
ag mkfs || fail "mkfs exited $?"
for ((i = 0; i < NDRIVES; i++)); do
	d=$T/d$i
	[ -f "$d" ] || fail "mkfs did not create $d"
	[ "$(stat -c %s "$d")" -eq $((256 << 20)) ] || fail "$d is not 256M"
	[ "$(head -c 8 "$d")" = AGORADRV ] || fail "$d: no label magic"
	# label: u32 drive index at 12, drive count at 32, k at 36, m at 40
	read -r idx cnt k m < <(od -An -t u4 -j 12 -N 32 "$d" |
		tr -s ' \n' ' ' | awk '{ print $1, $6, $7, $8 }')
	[ "$idx" = "$i" ] || fail "$d: label says drive index $idx"
	[ "$cnt" = "$NDRIVES" ] || fail "$d: label says $cnt drives"
	[ "$k+$m" = "4+2" ] || fail "$d: label says ec $k+$m"
done

step "mkfs refuses a formatted cluster without --force"
expect_fail "mkfs again" "already holds an Agora label; use --force" ag mkfs

step "fsck of the new cluster is clean"
ag fsck || fail "fsck of a fresh cluster exited $?"

step "agora-metad starts; status works"
metad_start
ag status >"$T/status.out" || fail "status exited $?"
sed 's/^/# /' "$T/status.out"

step "put files of assorted sizes and kinds"
ag mkdir /b || fail "mkdir /b exited $?"
mkdata "$T/empty" 0 zero
mkdata "$T/one" 1 random
mkdata "$T/small" 4000 text
mkdata "$T/text" $((3 << 20)) text
mkdata "$T/random" $((5 << 20)) random
mkdata "$T/zeros" $((2 << 20)) zero
big=$((20 << 20))
[ "$AGORA_LONG" = 1 ] && big=$((200 << 20))
mkdata "$T/big" "$big" random
for f in empty one small text random zeros big; do
	ag put "$T/$f" "/b/$f" || fail "put /b/$f exited $?"
done
ag put - /b/stdin <"$T/text" || fail "put from stdin exited $?"

step "get returns every byte"
for f in empty one small text random zeros big; do
	same "$T/$f" "/b/$f"
done
same "$T/text" /b/stdin
ag get /b/small - >"$T/stdout" || fail "get to stdout exited $?"
cmp -s "$T/small" "$T/stdout" || fail "get to stdout differs"

step "put creates missing parents"
ag put "$T/small" /b/deep/er/file || fail "put into new parents exited $?"
same "$T/small" /b/deep/er/file
ag ls /b/deep >"$T/ls" || fail "ls /b/deep exited $?"
grep -qw er "$T/ls" || fail "ls /b/deep does not show er"

step "ls and stat"
ag ls /b >"$T/ls" || fail "ls /b exited $?"
for f in empty one small text random zeros big stdin deep; do
	grep -qw "$f" "$T/ls" || fail "ls /b does not show $f"
done
ag ls -l /b >"$T/ls" || fail "ls -l /b exited $?"
grep -qw big "$T/ls" || fail "ls -l /b does not show big"
ag ls / >"$T/ls" || fail "ls / exited $?"
grep -qw b "$T/ls" || fail "ls / does not show b"
ag stat /b/random >"$T/stat" || fail "stat exited $?"
grep -q $((5 << 20)) "$T/stat" || fail "stat /b/random does not show its size"
expect_fail "stat of a missing path" "/b/nothing: No such file or directory" ag stat /b/nothing
expect_fail "get of a missing path" "/b/nothing: No such file or directory" ag get /b/nothing "$T/x"

step "identical content stores once and reads back from both names"
# figure NAME: one exact figure of status -b
figure() {
	ag status -b | awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' ||
		fail "status -b shows no $1"
}
declare -A was
for f in logical_bytes unique_bytes stored_bytes chunks inodes; do
	was[$f]=$(figure "$f")
done
ag put "$T/random" /b/random-copy || fail "put copy exited $?"
same "$T/random" /b/random-copy
ag status >"$T/status.out" || fail "status exited $?"
sed 's/^/# /' "$T/status.out"
size=$(stat -c %s "$T/random")
[ "$(figure logical_bytes)" -eq $((was[logical_bytes] + size)) ] ||
	fail "logical bytes $(figure logical_bytes), expected ${was[logical_bytes]} + $size"
[ "$(figure inodes)" -eq $((was[inodes] + 1)) ] ||
	fail "inodes $(figure inodes), expected ${was[inodes]} + 1"
for f in unique_bytes stored_bytes chunks; do
	[ "$(figure "$f")" -eq "${was[$f]}" ] ||
		fail "the copy stored new data: $f ${was[$f]} -> $(figure "$f")"
done
say "a 5 MiB copy: logical +$size bytes, chunks ${was[chunks]}, stored ${was[stored_bytes]} bytes, both unchanged"

step "overwrite replaces the content"
mkdata "$T/new" 70000 random
ag put "$T/new" /b/random || fail "overwrite exited $?"
same "$T/new" /b/random
same "$T/random" /b/random-copy

step "rm and mkdir"
ag rm /b/one || fail "rm /b/one exited $?"
expect_fail "get of a removed file" "/b/one: No such file or directory" ag get /b/one "$T/x"
expect_fail "rm of a non-empty directory without -r" "/b/deep: Directory not empty" ag rm /b/deep
ag rm -r /b/deep || fail "rm -r /b/deep exited $?"
expect_fail "ls of a removed directory" "/b/deep: No such file or directory" ag ls /b/deep
ag mkdir /b/newdir || fail "mkdir exited $?"
ag ls /b >"$T/ls" || fail "ls exited $?"
grep -qw newdir "$T/ls" || fail "ls /b does not show newdir"
grep -qw one "$T/ls" && fail "ls /b still shows the removed one"
ag rm /b/newdir || fail "rm of an empty directory exited $?"

step "reads need no metad; writes do"
metad_stop
same "$T/big" /b/big
ag ls /b >/dev/null || fail "ls without metad exited $?"
expect_fail "put without metad" "agora-metad at unix:.* does not answer" ag put "$T/small" /b/nope

step "a restarted metad serves the same cluster"
metad_start
same "$T/text" /b/text
ag put "$T/small" /b/after-restart || fail "put after restart exited $?"
same "$T/small" /b/after-restart

step "fsck is clean, with metad running and after it stopped"
ag fsck || fail "fsck exited $?"
metad_stop
ag fsck || fail "fsck exited $?"

echo "PASS: $steps steps"
