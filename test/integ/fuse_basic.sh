#!/bin/bash
# test/integ/fuse_basic.sh - agora-fused on a real cluster: every
# operation once (files, directories, links, rename flags, attributes,
# xattrs, statfs, permissions as another user, set-group-ID directories,
# sticky directories, unlinked-but-open files, sparse files past 4 GiB,
# punch-hole, SEEK_DATA/SEEK_HOLE, copy_file_range as a reference copy,
# readdir offsets that survive changes), then a second mount that sees
# what the first closed, unmount and fsck.
. "$(dirname "$0")/lib.sh"

M=$T/m1
M2=$T/m2

# as_nobody COMMAND...: run as uid/gid 65534 with no other groups.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# py CODE ARGS...: a python3 check; it raises (and the test fails) on a
# mismatch.
py() {
	local code=$1
	shift
	python3 -c "$code" "$@" || fail "python check failed: ${code:0:70}..."
}

# the other user must reach the mount point
chmod 755 "$T"
write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start

step "agora-fused mounts and detaches once the mount works"
fused_start "$M"
kill -0 "$FUSED_PID" || fail "agora-fused is not running"
[ "$(stat -c %i "$M")" = 1 ] || fail "root inode is not 1"

step "create, write, read, append, truncate, exclusive create"
echo hello >"$M/a"
[ "$(cat "$M/a")" = hello ] || fail "read back of a"
echo world >>"$M/a"
[ "$(cat "$M/a")" = "$(printf 'hello\nworld')" ] || fail "O_APPEND"
echo new >"$M/a"
[ "$(cat "$M/a")" = new ] || fail "O_TRUNC: $(cat "$M/a")"
py 'import os, sys, errno
try:
    os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    raise SystemExit("O_EXCL on an existing file succeeded")
except FileExistsError:
    pass' "$M/a"
[ "$(stat -c %U:%G:%a "$M/a")" = root:root:644 ] || fail "owner or mode of a"

step "timestamps: write changes mtime and ctime, utimes sets them"
m0=$(stat -c %Y.%y "$M/a")
sleep 1.1
echo more >>"$M/a"
[ "$(stat -c %Y.%y "$M/a")" != "$m0" ] || fail "mtime unchanged by write"
touch -m -d '2001-02-03 04:05:06' "$M/a"
[ "$(stat -c %Y "$M/a")" = "$(date -d '2001-02-03 04:05:06' +%s)" ] ||
	fail "utimes: mtime $(stat -c %y "$M/a")"
touch -a -d '2002-02-03 04:05:06' "$M/a"
[ "$(stat -c %X "$M/a")" = "$(date -d '2002-02-03 04:05:06' +%s)" ] ||
	fail "utimes: atime $(stat -c %x "$M/a")"
cp -p "$M/a" "$M/a.copy"
[ "$(stat -c %Y "$M/a.copy")" = "$(stat -c %Y "$M/a")" ] ||
	fail "cp -p: mtime not kept (set before the buffered data went)"

step "directories, symlinks, hard links, FIFOs, device nodes"
mkdir -p "$M/d/e"
[ "$(stat -c %h "$M/d")" = 3 ] || fail "nlink of d is $(stat -c %h "$M/d")"
echo x >"$M/d/e/f"
expect_fail "rmdir of a non-empty directory" "Directory not empty" rmdir "$M/d/e"
ln -s ../a "$M/d/sl"
[ "$(readlink "$M/d/sl")" = ../a ] || fail "readlink"
[ "$(cat "$M/d/sl")" = "$(cat "$M/a")" ] || fail "read through symlink"
ln "$M/a" "$M/d/hard"
[ "$(stat -c %h "$M/a")" = 2 ] || fail "nlink after link: $(stat -c %h "$M/a")"
[ "$(stat -c %i "$M/a")" = "$(stat -c %i "$M/d/hard")" ] || fail "hard link inode"
rm "$M/d/hard"
[ "$(stat -c %h "$M/a")" = 1 ] || fail "nlink after unlink"
mkfifo "$M/fifo"
[ "$(stat -c %F "$M/fifo")" = fifo ] || fail "mkfifo made $(stat -c %F "$M/fifo")"
mknod "$M/null" c 1 3
[ "$(stat -c %t:%T "$M/null")" = 1:3 ] || fail "char device numbers"
rm "$M/d/e/f" "$M/fifo" "$M/null"
rmdir "$M/d/e"
[ "$(stat -c %h "$M/d")" = 2 ] || fail "nlink of d after rmdir"

step "rename: plain, over a file, NOREPLACE, EXCHANGE, across directories"
echo 1 >"$M/r1"
echo 2 >"$M/r2"
mv "$M/r1" "$M/d/r1"
[ "$(cat "$M/d/r1")" = 1 ] || fail "rename across directories"
mv "$M/d/r1" "$M/r2"
[ "$(cat "$M/r2")" = 1 ] || fail "rename over a file"
echo 3 >"$M/r3"
py 'import ctypes, os, sys, errno
libc = ctypes.CDLL(None, use_errno=True)
AT = -100
r = libc.renameat2(AT, sys.argv[1].encode(), AT, sys.argv[2].encode(), 1)
assert r == -1 and ctypes.get_errno() == errno.EEXIST, "NOREPLACE replaced"
r = libc.renameat2(AT, sys.argv[1].encode(), AT, sys.argv[2].encode(), 2)
assert r == 0, "EXCHANGE: " + os.strerror(ctypes.get_errno())
assert open(sys.argv[1]).read() == "3\n" and open(sys.argv[2]).read() == "1\n"' \
	"$M/r2" "$M/r3"
rm "$M/r2" "$M/r3"

step "setattr: chmod, chown, truncate both ways, setuid cleared by chown"
echo data >"$M/s"
chmod 4755 "$M/s"
[ "$(stat -c %a "$M/s")" = 4755 ] || fail "chmod 4755"
chown 1234:5678 "$M/s"
[ "$(stat -c %u:%g "$M/s")" = 1234:5678 ] || fail "chown"
[ "$(stat -c %a "$M/s")" = 755 ] || fail "chown kept setuid: $(stat -c %a "$M/s")"
truncate -s 100000 "$M/s"
[ "$(stat -c %s "$M/s")" = 100000 ] || fail "extend"
[ "$(head -c 5 "$M/s")" = data ] || fail "data after extend"
truncate -s 2 "$M/s"
[ "$(cat "$M/s")" = da ] || fail "shrink"

step "xattrs: set, get, list, replace, remove, values up to 64 KiB"
py 'import errno, os, sys
p = sys.argv[1]
os.setxattr(p, "user.color", b"blue")
assert os.getxattr(p, "user.color") == b"blue"
os.setxattr(p, "user.size", b"big")
assert sorted(os.listxattr(p)) == ["user.color", "user.size"], os.listxattr(p)
os.setxattr(p, "user.color", b"red", os.XATTR_REPLACE)
assert os.getxattr(p, "user.color") == b"red"
try:
    os.setxattr(p, "user.color", b"x", os.XATTR_CREATE)
    raise SystemExit("XATTR_CREATE replaced a value")
except FileExistsError:
    pass
os.removexattr(p, "user.color")
try:
    os.getxattr(p, "user.color")
    raise SystemExit("a removed xattr is still there")
except OSError as e:
    assert e.errno == errno.ENODATA, e
big = os.urandom(60000)
os.setxattr(p, "user.big", big)
assert os.getxattr(p, "user.big") == big, "60000-byte value"
os.setxattr(p, "user.big", b"small now")
assert os.getxattr(p, "user.big") == b"small now"
assert sorted(os.listxattr(p)) == ["user.big", "user.size"], os.listxattr(p)
os.removexattr(p, "user.big")
assert os.listxattr(p) == ["user.size"]' "$M/s"

step "statfs reports the cluster's capacity and free space"
ag status -b >"$T/status"
blocks=$(stat -f -c %b "$M")
bsize=$(stat -f -c %S "$M")
cap=$(awk '$1 == "capacity_bytes" { print $2 }' "$T/status")
free=$(awk '$1 == "free_bytes" { print $2 }' "$T/status")
say "statfs: $blocks blocks of $bsize; status: capacity $cap, free $free"
df -h "$M" | sed 's/^/# /'
[ "$((blocks * bsize))" = "$((cap / bsize * bsize))" ] ||
	fail "statfs total $((blocks * bsize)) is not the capacity $cap"
bfree=$(stat -f -c %f "$M")
[ "$bfree" -gt 0 ] && [ "$((bfree * bsize))" -le "$cap" ] ||
	fail "statfs free $((bfree * bsize)) against capacity $cap"

step "permissions: another user gets EACCES and EPERM where POSIX says"
echo secret >"$M/private"
chmod 600 "$M/private"
expect_fail "nobody reads a 0600 file" "Permission denied" as_nobody cat "$M/private"
expect_fail "nobody writes a 0644 file" "Permission denied" as_nobody sh -c "echo x >>'$M/a'"
expect_fail "nobody creates in a 0755 directory" "Permission denied" as_nobody touch "$M/d/nobody"
grep -q "Permission denied" "$T/err" || fail "not EACCES: $(cat "$T/err")"
mkdir "$M/tmp"
chmod 1777 "$M/tmp"
echo mine >"$M/tmp/root-file"
chmod 666 "$M/tmp/root-file"
as_nobody sh -c "echo theirs >'$M/tmp/nobody-file'" || fail "nobody creates in 1777"
[ "$(stat -c %u:%g "$M/tmp/nobody-file")" = 65534:65534 ] ||
	fail "new file not owned by its creator: $(stat -c %u:%g "$M/tmp/nobody-file")"
expect_fail "nobody removes root's file in a sticky directory" "Operation not permitted" \
	as_nobody rm -f "$M/tmp/root-file"
as_nobody rm "$M/tmp/nobody-file" || fail "nobody removes its own file"
chmod 4777 "$M/tmp/root-file"
as_nobody sh -c "echo x >>'$M/tmp/root-file'" || fail "nobody writes a 0777 file"
[ "$(stat -c %a "$M/tmp/root-file")" = 777 ] ||
	fail "a write by another user kept setuid: $(stat -c %a "$M/tmp/root-file")"

step "set-group-ID directories pass their group down"
mkdir "$M/sg"
chgrp 4321 "$M/sg"
chmod 2775 "$M/sg"
mkdir "$M/sg/sub"
touch "$M/sg/file"
[ "$(stat -c %g "$M/sg/sub")" = 4321 ] || fail "subdirectory group"
[ "$(stat -c %g "$M/sg/file")" = 4321 ] || fail "file group"
[ "$(stat -c %a "$M/sg/sub")" = 2755 ] || fail "subdirectory mode $(stat -c %a "$M/sg/sub")"

step "an unlinked file stays readable and writable until its last close"
py 'import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"before unlink " * 1000)
os.unlink(p)
assert not os.path.exists(p)
os.write(fd, b"after")
os.fsync(fd)
assert os.fstat(fd).st_nlink == 0, os.fstat(fd).st_nlink
assert os.pread(fd, 14, 0) == b"before unlink "
assert os.pread(fd, 5, 14000) == b"after"
fd2 = os.open(sys.argv[2], os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd2, b"new")
os.close(fd2)
fd3 = os.open(sys.argv[3], os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd3, b"replaced while open")
os.rename(sys.argv[2], sys.argv[3])
assert os.pread(fd3, 8, 0) == b"replaced"
os.close(fd3)
os.close(fd)' "$M/ghost" "$M/rn-src" "$M/rn-dst"
[ "$(cat "$M/rn-dst")" = new ] || fail "rename over an open file"
# the kernel sends the last close's RELEASE without waiting for it, so
# the orphan goes a moment after close returns (seconds under ASan)
for ((i = 0; i < 50; i++)); do
	ag fsck >"$T/fsck" || fail "fsck after unlinked-open: $(tail -n 3 "$T/fsck")"
	grep -q ' 0 orphans' "$T/fsck" && break
	sleep 0.2
done
grep -q ' 0 orphans' "$T/fsck" || fail "orphans left 10 s after the last close: $(grep orphans "$T/fsck")"

step "sparse files past 4 GiB, SEEK_DATA and SEEK_HOLE"
py 'import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
off = 5 << 30
os.pwrite(fd, b"far away", off)
os.close(fd)
fd = os.open(p, os.O_RDONLY)
assert os.fstat(fd).st_size == off + 8
assert os.pread(fd, 8, off) == b"far away"
assert os.pread(fd, 4096, 1 << 32) == bytes(4096)
assert os.lseek(fd, 0, os.SEEK_HOLE) == 0
d = os.lseek(fd, 0, os.SEEK_DATA)
assert off - (4 << 20) <= d <= off, d
assert os.lseek(fd, off, os.SEEK_HOLE) == off + 8
try:
    os.lseek(fd, off + 8, os.SEEK_DATA)
    raise SystemExit("SEEK_DATA at the end did not fail")
except OSError as e:
    assert e.errno == 6, e
os.close(fd)' "$M/sparse"

step "fallocate: punch a hole, extend the size"
mkdata "$T/four" $((4 << 20)) random
cp "$T/four" "$M/four"
fallocate -p -o $((1 << 20)) -l $((1 << 20)) "$M/four"
[ "$(stat -c %s "$M/four")" = $((4 << 20)) ] || fail "punch changed the size"
cmp -n $((1 << 20)) "$T/four" "$M/four" || fail "bytes before the hole"
cmp -i $((2 << 20)) "$T/four" "$M/four" || fail "bytes after the hole"
head -c $((2 << 20)) "$M/four" | tail -c $((1 << 20)) | cmp -s - <(head -c $((1 << 20)) /dev/zero) ||
	fail "the hole does not read as zeros"
py 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
assert os.lseek(fd, 0, os.SEEK_HOLE) == 1 << 20, os.lseek(fd, 0, os.SEEK_HOLE)
assert os.lseek(fd, 1 << 20, os.SEEK_DATA) == 2 << 20
os.close(fd)' "$M/four"
fallocate -l $((8 << 20)) "$M/alloc"
[ "$(stat -c %s "$M/alloc")" = $((8 << 20)) ] || fail "fallocate size"

step "copy_file_range is a reference copy: no new data stored"
mkdata "$T/big" $((16 << 20)) random
cp "$T/big" "$M/big"
stored() { ag status -b | awk '$1 == "stored_bytes" { print $2 }'; }
s1=$(stored)
py 'import os, sys
src = os.open(sys.argv[1], os.O_RDONLY)
dst = os.open(sys.argv[2], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
n, left = 0, os.fstat(src).st_size
while left:
    k = os.copy_file_range(src, dst, left)
    assert k > 0
    left -= k
os.close(src)
os.close(dst)' "$M/big" "$M/big.copy"
cmp "$T/big" "$M/big.copy" || fail "copy differs"
s2=$(stored)
say "stored bytes: $s1 before the copy, $s2 after"
[ $((s2 - s1)) -lt $((1 << 20)) ] || fail "the copy stored $((s2 - s1)) new bytes"
same "$T/big" /big.copy

step "readdir offsets stay valid across opendirs while entries come and go"
mkdir "$M/many"
for i in $(seq 1 60); do : >"$M/many/n$i"; done
py 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]
libc.opendir.restype = ctypes.c_void_p
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.closedir.argtypes = [ctypes.c_void_p]
def listing(path, start=None):
    d = libc.opendir(path.encode())
    if start is not None:
        libc.seekdir(d, start)
    out = []
    while True:
        e = libc.readdir(d)
        if not e:
            break
        out.append((e.contents.d_name.decode(), e.contents.d_off))
    libc.closedir(d)
    return out
path = sys.argv[1]
first = listing(path)
names = [n for n, _ in first]
assert names[:2] == [".", ".."], names[:3]
assert sorted(names[2:]) == sorted("n%d" % i for i in range(1, 61))
offs = [o for _, o in first]
assert len(set(offs)) == len(offs), "offsets repeat"
# resume after entry 20 in a fresh opendir, with others gone and added
mark_name, mark = first[20]
for n in names[10:15] + names[25:30]:
    os.unlink(os.path.join(path, n))
for i in range(100, 120):
    open(os.path.join(path, "n%d" % i), "w").close()
rest = [n for n, _ in listing(path, mark)]
gone = set(names[10:15] + names[25:30])
want_old = [n for n in names[21:] if n not in gone]
assert [n for n in rest if n in set(names)] == want_old, (rest, want_old)
assert set(rest) - set(names) <= set("n%d" % i for i in range(100, 120))' "$M/many"

step "fsync makes data durable before it returns"
py 'import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"synced" * 1000)
os.fsync(fd)
os.close(fd)' "$M/synced"
ag stat /synced | grep -q 6000 || fail "fsync'd size not committed"

step "a second mount sees what the first closed"
fused_start "$M2"
echo fresh >"$M/fresh"
[ "$(cat "$M2/fresh")" = fresh ] || fail "second mount: new file"
echo changed >"$M/fresh"
sleep 1.2 # the second mount may cache the old attributes for 1 s
[ "$(cat "$M2/fresh")" = changed ] || fail "second mount: changed file"
[ "$(stat -c %s "$M2/big")" = $((16 << 20)) ] || fail "second mount: big"
cmp "$T/big" "$M2/big" || fail "second mount: big differs"

step "both mounts unmount cleanly; fsck is clean"
fused_stop "$M2"
fused_stop "$M"
ag fsck >"$T/fsck" || fail "fsck: $(tail -n 5 "$T/fsck")"
tail -n 2 "$T/fsck" | sed 's/^/# /'
