#!/bin/bash
# test/integ/smb.sh - Samba sharing an agora-fused mount with
# contrib/smb-agora.conf, to smbclient. smbd runs in a network namespace
# of its own, smbclient in another, joined by a veth pair.
#
# ls, stat (allinfo), read, write, rename, delete and mkdir over SMB3;
# DOS attributes kept in user.DOSATTRIB through the mount, so that
# another gateway sees them; a file changed through another gateway seen
# over SMB; a restart of agora-fused (kill -9 under -o keep_mount) that
# the client does not notice.
. "$(dirname "$0")/lib.sh"

smbd_require
command -v getfattr >/dev/null || skip "attr (getfattr) is not installed"

M=$T/mnt
M2=$T/mnt2

write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
fused_start "$M" -o keep_mount
KEEPER=$FUSED_PID
fused_start "$M2" # another gateway on the same cluster
netns_pair

smbd_start "$M"

mkdir "$M/share"
printf 'hello smb\n' >"$M/share/hello.txt"
mkdata "$T/big" $((16 << 20)) random
cp "$T/big" "$M/share/big"

step "ls, stat and read over SMB"
smb 'cd share; ls' >"$T/ls" || fail "smbclient ls exited $?"
grep -qE '^ +hello.txt +[A-Z]* +10 ' "$T/ls" || fail "ls: no hello.txt of 10 bytes: $(cat "$T/ls")"
grep -qE "^ +big +[A-Z]* +$((16 << 20)) " "$T/ls" || fail "ls: no big of 16 MiB"
smb 'cd share; allinfo hello.txt' >"$T/info" || fail "allinfo exited $?"
grep -q 'stream: \[::\$DATA\], 10 bytes' "$T/info" || fail "allinfo: $(cat "$T/info")"
smb "cd share; get big $T/got" >/dev/null || fail "smbclient get exited $?"
cmp -s "$T/big" "$T/got" || fail "big read over SMB differs"

step "write, rename, mkdir and delete over SMB"
mkdata "$T/up" $((6 << 20)) text
smb "cd share; put $T/up up" >/dev/null || fail "smbclient put exited $?"
same "$T/up" /share/up
smb 'cd share; mkdir sub; rename up sub\moved' >/dev/null || fail "mkdir, rename exited $?"
eventually 2 sh -c '[ ! -e "$1/share/up" ] && cmp -s "$2" "$1/share/sub/moved"' sh "$M2" "$T/up" ||
	fail "renamed over SMB: not so on another mount after 2 s"
smb 'cd share; del sub\moved; rmdir sub' >/dev/null || fail "del, rmdir exited $?"
expect_fail "agora stat of a file removed over SMB" "No such file" ag stat /share/sub/moved
expect_fail "get of a file that is gone" "NT_STATUS_OBJECT_NAME_NOT_FOUND" \
	smb "cd share; get gone $T/gone"

step "DOS attributes in user.DOSATTRIB, seen through another gateway"
smb 'cd share; setmode hello.txt +h' >/dev/null || fail "setmode exited $?"
smb 'cd share; allinfo hello.txt' >"$T/info" || fail "allinfo exited $?"
grep -qE '^attributes: [A-Z]*H' "$T/info" || fail "not hidden after setmode +h: $(grep attributes "$T/info")"
eventually 2 sh -c 'getfattr -n user.DOSATTRIB "$1" >/dev/null 2>&1' sh "$M2/share/hello.txt" ||
	fail "no user.DOSATTRIB on another mount: $(getfattr -d -m - "$M2/share/hello.txt" 2>&1)"
smb 'cd share; setmode hello.txt -h' >/dev/null || fail "setmode -h exited $?"
smb 'cd share; allinfo hello.txt' >"$T/info" || fail "allinfo exited $?"
grep -qE '^attributes: [A-Z]*H' "$T/info" && fail "still hidden after setmode -h"

step "a file rewritten through another gateway is seen over SMB"
printf 'from the other mount\n' >"$M2/share/hello.txt"
t0=$(date +%s.%N)
eventually 5 sh -c '[ "$(ip netns exec "$2" smbclient "//$1/agora" -U root%agora-test -m SMB3 -c "cd share; get hello.txt -" 2>/dev/null)" = "from the other mount" ]' \
	sh "$SRV_ADDR" "$NS_CLI" ||
	fail "after 5 s SMB still reads the old bytes"
say "seen over SMB in $(elapsed_since "$t0") s"

step "agora-fused restarts under smbd (kill -9): the share goes on"
gw=$(gateway_child "$KEEPER") || fail "no gateway process under agora-fused $KEEPER"
kill -KILL "$gw"
wait_gone "$gw" 10 || fail "the gateway survived SIGKILL"
smb "cd share; get big $T/got2" >/dev/null || fail "get after the restart exited $?"
cmp -s "$T/big" "$T/got2" || fail "big read over SMB after the restart differs"
smb 'cd share; ls' | grep -q hello.txt || fail "ls after the restart"
kill -0 "$SMBD_PID" || fail "smbd died"
grep -q "Error loading module" "$T/smbd.log" 2>/dev/null && fail "smbd: $(grep -m 1 'Error loading' "$T/smbd.log")"

fsck_clean
echo "PASS: smb"
