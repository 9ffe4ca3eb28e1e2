#!/bin/bash
# test/integ/fuse_posix.sh - POSIX semantics of an agora-fused mount: every
# operation and its error cases, checked errno by errno by one python3
# program (below), as root and as unprivileged users (uid 65534 and 65533;
# the program switches users itself, and a few checks go through setpriv):
# ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOTDIR, EACCES, EPERM, ENAMETOOLONG,
# EINVAL, ENODATA; O_EXCL, O_APPEND, O_TRUNC; sticky and setgid
# directories; chmod/chown rules; link counts; timestamps; symlinks
# (targets up to 4095 bytes); FIFOs; xattrs; POSIX ACLs (one that says a
# mode is that mode, others EOPNOTSUPP); umask; truncate; sparse files;
# offsets past 4 GiB; unlinked open files; renameat2 NOREPLACE and
# EXCHANGE; hard links. Ends with agora fsck.
#
# Every check prints one line, "ok - ..." or "FAIL - ..."; all of them run
# and any FAIL fails the test.
#
# AGORA_POSIX_DIR=DIR runs the same checks in DIR (any directory, e.g. a
# local file system or another FUSE file system, mounted with allow_other)
# instead of a fresh agora cluster: the reference the checks were written
# against. AGORA_FUSED_OPTS=opts adds -o opts to agora-fused (e.g.
# attr_timeout=0,entry_timeout=0: every check then reaches the daemon).
. "$(dirname "$0")/lib.sh"

MNT=$T/mnt

[ "$(id -u)" = 0 ] || skip "the unprivileged-user checks need root to switch users"
# the unprivileged users must be able to walk down to the mount point
chmod 0755 "$T"

if [ -n "${AGORA_POSIX_DIR:-}" ]; then
	target=$(cd "$AGORA_POSIX_DIR" && pwd)
	say "checking $target, not an agora cluster"
else
	[ -x "$FUSED" ] || skip "$FUSED not built"
	write_conf
	ag mkfs >/dev/null || fail "mkfs exited $?"
	metad_start
	fused_start "$MNT" ${AGORA_FUSED_OPTS:+-o "$AGORA_FUSED_OPTS"}
	target=$MNT
fi

step "POSIX checks in $target"
rc=0
timeout $((AGORA_TIMEOUT * 5)) python3 - "$target" <<'PY' || rc=$?
import ctypes, errno, os, pickle, stat, struct, sys, time

top = sys.argv[1]
D = os.path.join(top, "posix.%d" % os.getpid())
NOBODY, OTHER = 65534, 65533
failures = []
count = 0

def name(e):
    return errno.errorcode.get(e, str(e)) if e else "success"

def ok(desc):
    global count
    count += 1
    print("ok - " + desc, flush=True)

def bad(desc, why):
    global count
    count += 1
    failures.append(desc + ": " + why)
    print("FAIL - %s: %s" % (desc, why), flush=True)

def call(fn, *args):
    """(errno, result): errno 0 when fn returned."""
    try:
        return 0, fn(*args)
    except OSError as e:
        return e.errno, None

def expect_err(desc, want, fn, *args):
    got, _ = call(fn, *args)
    wants = want if isinstance(want, tuple) else (want,)
    if got in wants:
        ok("%s: %s" % (desc, name(got)))
    else:
        bad(desc, "got %s, expected %s" % (name(got), "/".join(map(name, wants))))

def expect_ok(desc, fn, *args):
    got, res = call(fn, *args)
    if got:
        bad(desc, "failed with %s" % name(got))
    else:
        ok(desc)
    return res

def expect_eq(desc, got, want):
    if got == want:
        ok(desc)
    else:
        bad(desc, "got %r, expected %r" % (got, want))

def as_user(uid, gid, fn, *args):
    """Run fn(*args) in a child with uid/gid and no supplementary groups;
    return (errno, result) as call() does."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            msg = pickle.dumps(call(fn, *args))
        except BaseException as x:  # report anything, never unwind the parent's code
            msg = pickle.dumps((-1, str(x)))
        os.write(w, msg)
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return pickle.loads(data)

def user_err(desc, uid, want, fn, *args):
    got, res = as_user(uid, uid, fn, *args)
    if got == -1:
        bad(desc, "child died: " + res)
    elif got == want:
        ok("%s: %s" % (desc, name(got)))
    else:
        bad(desc, "got %s, expected %s" % (name(got), name(want)))

def user_ok(desc, uid, fn, *args):
    got, res = as_user(uid, uid, fn, *args)
    if got:
        bad(desc, "failed with %s" % (res if got == -1 else name(got)))
    else:
        ok(desc)
    return res

def p(*parts):
    return os.path.join(D, *parts)

def put(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)

def get(path):
    with open(path, "rb") as f:
        return f.read()

def create(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))

def open_close(path, flags):
    os.close(os.open(path, flags, 0o644))

def pause():
    # longer than any timestamp granularity we accept (ext4: a jiffy)
    time.sleep(0.03)

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2

def renameat2(src, dst, flags):
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        rc = libc.syscall(316, AT_FDCWD, src.encode(), AT_FDCWD, dst.encode(), flags)
    else:
        rc = fn(AT_FDCWD, src.encode(), AT_FDCWD, dst.encode(), flags)
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

def getxattr_small(path, attr, size):
    buf = ctypes.create_string_buffer(max(size, 1))
    rc = libc.getxattr(path.encode(), attr.encode(), buf, ctypes.c_size_t(size))
    if rc < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return rc

def section(fn):
    """Run one group of checks now; an unexpected error ends the group
    (reported as a failure), not the whole run."""
    try:
        fn()
    except Exception as x:
        bad("%s: stopped by an unexpected error" % fn.__doc__, repr(x))
    return fn

os.umask(0o022)
os.mkdir(D)
os.chmod(D, 0o755)

@section
def section_1():
    """ENOENT"""
    expect_err("stat of a missing name", errno.ENOENT, os.stat, p("none"))
    expect_err("open of a missing name", errno.ENOENT, os.open, p("none"), os.O_RDONLY)
    expect_err("unlink of a missing name", errno.ENOENT, os.unlink, p("none"))
    expect_err("rmdir of a missing name", errno.ENOENT, os.rmdir, p("none"))
    expect_err("rename of a missing name", errno.ENOENT, os.rename, p("none"), p("x"))
    expect_err("mkdir under a missing directory", errno.ENOENT, os.mkdir, p("none", "x"))
    expect_err("create under a missing directory", errno.ENOENT, create, p("none", "x"))
    expect_err("readlink of a missing name", errno.ENOENT, os.readlink, p("none"))
    expect_err("link from a missing name", errno.ENOENT, os.link, p("none"), p("x"))
    expect_err("chmod of a missing name", errno.ENOENT, os.chmod, p("none"), 0o600)
    expect_err("getxattr of a missing name", errno.ENOENT, os.getxattr, p("none"), "user.a")

@section
def section_2():
    """create, read, write, EEXIST"""
    put(p("f"), b"hello")
    expect_eq("file reads back", get(p("f")), b"hello")
    st = os.stat(p("f"))
    expect_eq("new file mode is 0644 under umask 022", stat.S_IMODE(st.st_mode), 0o644)
    expect_eq("new file is a regular file", stat.S_ISREG(st.st_mode), True)
    expect_eq("new file size", st.st_size, 5)
    expect_eq("new file owner is the creator", (st.st_uid, st.st_gid), (0, 0))
    expect_err("O_CREAT|O_EXCL of an existing file", errno.EEXIST, create, p("f"))
    expect_ok("O_CREAT without O_EXCL opens an existing file", open_close, p("f"),
              os.O_WRONLY | os.O_CREAT)
    expect_eq("O_CREAT alone does not truncate", get(p("f")), b"hello")
    fd = os.open(p("ro0444"), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o444)
    expect_ok("a file created 0444 is writable through the creating fd", os.write, fd, b"w")
    os.close(fd)
    expect_eq("...and it is 0444 and holds the write",
              (stat.S_IMODE(os.stat(p("ro0444")).st_mode), get(p("ro0444"))), (0o444, b"w"))
    os.mkdir(p("d"))
    expect_err("mkdir of an existing directory", errno.EEXIST, os.mkdir, p("d"))
    expect_err("mkdir over an existing file", errno.EEXIST, os.mkdir, p("f"))
    expect_err("O_CREAT|O_EXCL over a directory", errno.EEXIST, create, p("d"))
    expect_err("link onto an existing name", errno.EEXIST, os.link, p("f"), p("d"))
    expect_err("symlink onto an existing name", errno.EEXIST, os.symlink, "x", p("f"))
    expect_err("mkfifo onto an existing name", errno.EEXIST, os.mkfifo, p("f"))
    st = os.stat(p("d"))
    expect_eq("new directory mode is 0755 under umask 022", stat.S_IMODE(st.st_mode), 0o755)
    os.mkdir(p("dsticky"), 0o1777)
    expect_eq("mkdir keeps the sticky bit (less the umask)",
              stat.S_IMODE(os.stat(p("dsticky")).st_mode), 0o1755)
    os.rmdir(p("dsticky"))

@section
def section_3():
    """O_TRUNC, O_APPEND"""
    put(p("t"), b"0123456789")
    open_close(p("t"), os.O_WRONLY | os.O_TRUNC)
    expect_eq("O_TRUNC empties the file", os.stat(p("t")).st_size, 0)
    put(p("t"), b"abc")
    fd = os.open(p("t"), os.O_WRONLY | os.O_APPEND)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b"def")
    os.pwrite(fd, b"ghi", 0)  # Linux: pwrite on O_APPEND still appends
    os.close(fd)
    expect_eq("O_APPEND writes at the end whatever the offset", get(p("t")), b"abcdefghi")
    fd = os.open(p("t"), os.O_RDWR)
    os.pwrite(fd, b"XY", 2)
    expect_eq("pwrite in the middle", os.pread(fd, 20, 0), b"abXYefghi")
    os.pwrite(fd, b"Z", 12)
    expect_eq("pwrite past the end leaves a zero gap", os.pread(fd, 20, 0),
              b"abXYefghi\0\0\0Z")
    expect_ok("fsync", os.fsync, fd)
    expect_ok("fdatasync", os.fdatasync, fd)
    os.close(fd)

@section
def section_4():
    """EISDIR, ENOTDIR, ENOTEMPTY, EINVAL"""
    expect_err("open a directory for writing", errno.EISDIR, os.open, p("d"), os.O_WRONLY)
    expect_err("unlink of a directory", errno.EISDIR, os.unlink, p("d"))
    expect_err("rename a file over a directory", errno.EISDIR, os.rename, p("f"), p("d"))
    expect_err("rmdir of a file", errno.ENOTDIR, os.rmdir, p("f"))
    expect_err("path through a file", errno.ENOTDIR, os.stat, p("f", "x"))
    expect_err("mkdir through a file", errno.ENOTDIR, os.mkdir, p("f", "x"))
    expect_err("O_DIRECTORY on a file", errno.ENOTDIR, os.open, p("f"),
               os.O_RDONLY | os.O_DIRECTORY)
    expect_err("rename a directory over a file", errno.ENOTDIR, os.rename, p("d"), p("f"))
    os.mkdir(p("d", "sub"))
    put(p("d", "sub", "g"), b"g")
    expect_err("rmdir of a non-empty directory", errno.ENOTEMPTY, os.rmdir, p("d", "sub"))
    os.mkdir(p("e"))
    expect_err("rename a directory over a non-empty one", (errno.ENOTEMPTY, errno.EEXIST),
               os.rename, p("e"), p("d"))
    expect_err("rename a directory into its own subtree", errno.EINVAL,
               os.rename, p("d"), p("d", "sub", "in"))
    expect_err("rename a directory onto itself below", errno.EINVAL,
               os.rename, p("d"), p("d", "sub"))
    expect_err("rmdir of '.'", errno.EINVAL, os.rmdir, p("d", "."))
    expect_err("readlink of a file", errno.EINVAL, os.readlink, p("f"))

@section
def section_5():
    """ENAMETOOLONG"""
    expect_ok("a 255-byte name", create, p("n" * 255))
    expect_eq("the 255-byte name is listed", ("n" * 255) in os.listdir(D), True)
    expect_err("create of a 256-byte name", errno.ENAMETOOLONG, create, p("n" * 256))
    expect_err("mkdir of a 256-byte name", errno.ENAMETOOLONG, os.mkdir, p("m" * 256))
    expect_err("stat of a 256-byte name", errno.ENAMETOOLONG, os.stat, p("m" * 256))
    expect_err("rename to a 256-byte name", errno.ENAMETOOLONG, os.rename, p("f"), p("m" * 256))
    os.unlink(p("n" * 255))
    st = os.statvfs(D)
    expect_eq("statvfs f_namemax", st.f_namemax, 255)
    expect_eq("statvfs: blocks > 0, free <= total, available <= free",
              (st.f_blocks > 0, st.f_bfree <= st.f_blocks, st.f_bavail <= st.f_bfree),
              (True, True, True))

@section
def section_6():
    """rename"""
    os.mkdir(p("r1"))
    os.mkdir(p("r2"))
    put(p("r1", "a"), b"A")
    ino = os.stat(p("r1", "a")).st_ino
    expect_ok("rename a file across directories (never EXDEV)", os.rename,
              p("r1", "a"), p("r2", "b"))
    expect_eq("the renamed file keeps its inode", os.stat(p("r2", "b")).st_ino, ino)
    expect_eq("the old name is gone", os.path.lexists(p("r1", "a")), False)
    os.mkdir(p("r1", "dd"))
    put(p("r1", "dd", "inside"), b"in")
    expect_ok("rename a directory across directories", os.rename, p("r1", "dd"), p("r2", "dd"))
    expect_eq("its '..' is the new parent", os.stat(p("r2", "dd", "..")).st_ino,
              os.stat(p("r2")).st_ino)
    expect_eq("its content moved with it", get(p("r2", "dd", "inside")), b"in")
    put(p("r1", "x"), b"old")
    put(p("r1", "y"), b"new")
    fd = os.open(p("r1", "x"), os.O_RDONLY)
    expect_ok("rename over an existing file", os.rename, p("r1", "y"), p("r1", "x"))
    expect_eq("the target now has the new content", get(p("r1", "x")), b"new")
    expect_eq("an fd open on the replaced file still reads the old content",
              os.pread(fd, 10, 0), b"old")
    os.close(fd)
    os.mkdir(p("r1", "emptydir"))
    expect_ok("rename a directory over an empty directory", os.rename, p("r2", "dd"),
              p("r1", "emptydir"))
    expect_eq("...and it is there", get(p("r1", "emptydir", "inside")), b"in")
    os.link(p("r1", "x"), p("r1", "x2"))
    expect_ok("rename between two links of one file", os.rename, p("r1", "x"), p("r1", "x2"))
    expect_eq("...does nothing: both names stay",
              (os.path.exists(p("r1", "x")), os.path.exists(p("r1", "x2"))), (True, True))
    expect_ok("rename a file onto itself", os.rename, p("r1", "x"), p("r1", "x"))

@section
def section_7():
    """renameat2 NOREPLACE and EXCHANGE"""
    put(p("ex1"), b"one")
    put(p("ex2"), b"two")
    expect_err("RENAME_NOREPLACE onto an existing name", errno.EEXIST,
               renameat2, p("ex1"), p("ex2"), RENAME_NOREPLACE)
    expect_ok("RENAME_NOREPLACE onto a free name", renameat2, p("ex1"), p("ex3"),
              RENAME_NOREPLACE)
    expect_eq("...moved", (get(p("ex3")), os.path.exists(p("ex1"))), (b"one", False))
    expect_ok("RENAME_EXCHANGE of two files", renameat2, p("ex2"), p("ex3"), RENAME_EXCHANGE)
    expect_eq("...swapped them", (get(p("ex2")), get(p("ex3"))), (b"one", b"two"))
    os.mkdir(p("exd"))
    put(p("exd", "in"), b"d")
    expect_ok("RENAME_EXCHANGE of a file and a directory", renameat2, p("ex2"), p("exd"),
              RENAME_EXCHANGE)
    expect_eq("...swapped them", (get(p("exd")), get(p("ex2", "in"))), (b"one", b"d"))
    expect_err("RENAME_EXCHANGE with a missing target", errno.ENOENT,
               renameat2, p("ex3"), p("nothere"), RENAME_EXCHANGE)
    expect_err("RENAME_NOREPLACE|RENAME_EXCHANGE together", errno.EINVAL,
               renameat2, p("ex3"), p("exd"), RENAME_NOREPLACE | RENAME_EXCHANGE)

@section
def section_8():
    """hard links and link counts"""
    put(p("h"), b"linked")
    expect_eq("a new file has one link", os.stat(p("h")).st_nlink, 1)
    expect_ok("link in the same directory", os.link, p("h"), p("h2"))
    expect_ok("link across directories", os.link, p("h"), p("r2", "h3"))
    st = os.stat(p("h"))
    expect_eq("three links", st.st_nlink, 3)
    expect_eq("all names are one inode", {os.stat(p("h2")).st_ino,
              os.stat(p("r2", "h3")).st_ino}, {st.st_ino})
    with open(p("h2"), "r+b") as f:
        f.write(b"LINKED")
    expect_eq("a write through one name shows through another", get(p("r2", "h3")), b"LINKED")
    os.unlink(p("h"))
    expect_eq("unlink drops the count", os.stat(p("h2")).st_nlink, 2)
    expect_eq("the other names still read", get(p("r2", "h3")), b"LINKED")
    expect_err("link to a directory", errno.EPERM, os.link, p("d"), p("dlink"))
    os.mkdir(p("lc"))
    expect_eq("a new directory has two links", os.stat(p("lc")).st_nlink, 2)
    os.mkdir(p("lc", "a"))
    os.mkdir(p("lc", "b"))
    put(p("lc", "file"), b"")
    expect_eq("subdirectories add a link each (files do not)", os.stat(p("lc")).st_nlink, 4)
    os.rmdir(p("lc", "a"))
    expect_eq("rmdir drops the parent's count", os.stat(p("lc")).st_nlink, 3)
    os.rename(p("lc", "b"), p("r2", "b2"))
    expect_eq("moving a directory out drops the old parent's count", os.stat(p("lc")).st_nlink, 2)
    n2 = os.stat(p("r2")).st_nlink
    os.rename(p("r2", "b2"), p("lc", "b3"))
    expect_eq("...and moving it in raises the new parent's",
              (os.stat(p("lc")).st_nlink, os.stat(p("r2")).st_nlink), (3, n2 - 1))

@section
def section_9():
    """unlinked but open"""
    put(p("u"), b"before")
    fd = os.open(p("u"), os.O_RDWR)
    os.unlink(p("u"))
    expect_eq("the name is gone", os.path.lexists(p("u")), False)
    expect_eq("an unlinked open file reads", os.pread(fd, 100, 0), b"before")
    expect_ok("an unlinked open file takes writes", os.pwrite, fd, b" and after", 6)
    expect_eq("...and reads them back", os.pread(fd, 100, 0), b"before and after")
    expect_eq("fstat of it says no links", os.fstat(fd).st_nlink, 0)
    expect_ok("ftruncate of it", os.ftruncate, fd, 3)
    expect_eq("...and reads the shorter content", os.pread(fd, 100, 0), b"bef")
    expect_ok("close of it", os.close, fd)
    expect_eq("the directory does not show it", "u" in os.listdir(D), False)

@section
def section_10():
    """truncate, sparse files, offsets past 4 GiB"""
    data = bytes(range(256)) * 40
    put(p("tr"), data)
    os.truncate(p("tr"), 5000)
    expect_eq("truncate shrinks", (os.stat(p("tr")).st_size, get(p("tr"))), (5000, data[:5000]))
    os.truncate(p("tr"), 20000)
    expect_eq("truncate grows with zeros", get(p("tr")), data[:5000] + bytes(15000))
    os.truncate(p("tr"), 0)
    expect_eq("truncate to zero", os.stat(p("tr")).st_size, 0)
    fd = os.open(p("tr"), os.O_RDWR)
    os.pwrite(fd, b"abcdefgh" * 1000, 0)
    os.ftruncate(fd, 100)
    os.ftruncate(fd, 9000)
    expect_eq("ftruncate shrink then grow: the cut part reads as zeros",
              os.pread(fd, 9000, 0), (b"abcdefgh" * 13)[:100] + bytes(8900))
    os.close(fd)
    fd = os.open(p("sp"), os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"!", (1 << 20) + 17)
    expect_eq("a sparse file's size", os.fstat(fd).st_size, (1 << 20) + 18)
    expect_eq("a sparse file's hole reads as zeros", os.pread(fd, (1 << 20) + 17, 0),
              bytes((1 << 20) + 17))
    expect_eq("a sparse file's data byte", os.pread(fd, 10, (1 << 20) + 17), b"!")
    big = (5 << 30) + 3
    expect_ok("pwrite at 5 GiB + 3", os.pwrite, fd, b"far away", big)
    expect_eq("size past 4 GiB", os.fstat(fd).st_size, big + 8)
    expect_eq("read back past 4 GiB", os.pread(fd, 100, big), b"far away")
    expect_eq("read across the 4 GiB boundary is zeros", os.pread(fd, 8192, (4 << 30) - 4096),
              bytes(8192))
    expect_eq("read straddling the data", os.pread(fd, 8, big - 4), b"\0\0\0\0far ")
    os.close(fd)
    expect_eq("stat of the big sparse file", os.stat(p("sp")).st_size, big + 8)
    os.truncate(p("sp"), 4096)
    expect_eq("truncate back below 4 GiB", os.stat(p("sp")).st_size, 4096)

@section
def section_11():
    """a larger file through several requests"""
    blob = os.urandom(3 << 20) + b"tail"
    put(p("blob"), blob)
    expect_eq("3 MiB of random data reads back", get(p("blob")) == blob, True)
    with open(p("blob"), "r+b") as f:
        f.seek(1000000)
        f.write(b"x" * 300000)
    blob = blob[:1000000] + b"x" * 300000 + blob[1300000:]
    expect_eq("an overwrite in its middle reads back", get(p("blob")) == blob, True)

@section
def section_12():
    """readdir"""
    os.mkdir(p("many"))
    names = {"entry-%04d" % i for i in range(600)}
    for n in names:
        create(p("many", n))
    expect_eq("readdir of 600 entries", set(os.listdir(p("many"))), names)
    with os.scandir(p("many")) as it:
        expect_eq("readdir reports the types", {e.is_file() for e in it}, {True})
    for n in list(names)[:300]:
        os.unlink(p("many", n))
    expect_eq("readdir after 300 unlinks", len(os.listdir(p("many"))), 300)

@section
def section_13():
    """symlinks and FIFOs"""
    expect_ok("symlink to a file", os.symlink, "f", p("sl"))
    expect_eq("readlink", os.readlink(p("sl")), "f")
    st = os.lstat(p("sl"))
    expect_eq("lstat says symlink, size = target length", (stat.S_ISLNK(st.st_mode), st.st_size),
              (True, 1))
    expect_eq("following it reads the file", get(p("sl")), b"hello")
    target = "dangling/" + "t" * 900
    expect_ok("a dangling symlink with a long target", os.symlink, target, p("sl2"))
    expect_eq("its target reads back", os.readlink(p("sl2")), target)
    expect_err("stat through it", errno.ENOENT, os.stat, p("sl2"))
    for n in (1025, 2048, 4095):
        target = (("x" * 250 + "/") * 17)[:n - 1] + "t"
        expect_ok("a symlink with a %d-byte target" % n, os.symlink, target, p("sl%d" % n))
        expect_eq("its %d-byte target reads back" % n, os.readlink(p("sl%d" % n)), target)
        expect_eq("lstat size is %d" % n, os.lstat(p("sl%d" % n)).st_size, n)
    expect_err("a symlink with a 4096-byte target", errno.ENAMETOOLONG, os.symlink,
               "y" * 4096, p("sl4096"))
    expect_eq("...makes nothing", os.path.lexists(p("sl4096")), False)
    expect_ok("unlink a symlink with a long target", os.unlink, p("sl2048"))
    expect_ok("unlink a symlink", os.unlink, p("sl"))
    expect_eq("...leaves its target", get(p("f")), b"hello")
    expect_ok("mkfifo", os.mkfifo, p("fifo"), 0o640)
    st = os.stat(p("fifo"))
    expect_eq("it is a FIFO with its mode", (stat.S_ISFIFO(st.st_mode), stat.S_IMODE(st.st_mode)),
              (True, 0o640))
    r = os.open(p("fifo"), os.O_RDONLY | os.O_NONBLOCK)
    w = os.open(p("fifo"), os.O_WRONLY | os.O_NONBLOCK)
    os.write(w, b"through the pipe")
    expect_eq("data passes through the FIFO", os.read(r, 100), b"through the pipe")
    os.close(w)
    os.close(r)
    expect_ok("mknod of a regular file", os.mknod, p("mk"), 0o600 | stat.S_IFREG)
    expect_eq("...is an empty regular file", (stat.S_ISREG(os.stat(p("mk")).st_mode),
              os.stat(p("mk")).st_size), (True, 0))

@section
def section_14():
    """xattrs"""
    put(p("x"), b"x")
    expect_ok("setxattr", os.setxattr, p("x"), "user.colour", b"blue")
    expect_eq("getxattr", os.getxattr(p("x"), "user.colour"), b"blue")
    expect_ok("setxattr of an empty value", os.setxattr, p("x"), "user.empty", b"")
    expect_eq("getxattr of the empty value", os.getxattr(p("x"), "user.empty"), b"")
    val = os.urandom(4000)
    expect_ok("setxattr of a 4000-byte value", os.setxattr, p("x"), "user.big", val)
    expect_eq("...reads back", os.getxattr(p("x"), "user.big") == val, True)
    expect_eq("listxattr", sorted(a for a in os.listxattr(p("x")) if a.startswith("user.")),
              ["user.big", "user.colour", "user.empty"])
    expect_err("XATTR_CREATE of an existing name", errno.EEXIST,
               os.setxattr, p("x"), "user.colour", b"red", os.XATTR_CREATE)
    expect_err("XATTR_REPLACE of a missing name", errno.ENODATA,
               os.setxattr, p("x"), "user.none", b"red", os.XATTR_REPLACE)
    expect_ok("XATTR_REPLACE of an existing name", os.setxattr, p("x"), "user.colour",
              b"green", os.XATTR_REPLACE)
    expect_eq("...replaced", os.getxattr(p("x"), "user.colour"), b"green")
    expect_ok("XATTR_CREATE of a new name", os.setxattr, p("x"), "user.new", b"n",
              os.XATTR_CREATE)
    expect_err("getxattr of a missing name", errno.ENODATA, os.getxattr, p("x"), "user.none")
    expect_err("getxattr into a too small buffer", errno.ERANGE, getxattr_small, p("x"),
               "user.colour", 2)
    expect_eq("getxattr with size 0 returns the size", getxattr_small(p("x"), "user.colour", 0), 5)
    expect_ok("removexattr", os.removexattr, p("x"), "user.colour")
    expect_err("...then getxattr", errno.ENODATA, os.getxattr, p("x"), "user.colour")
    expect_err("removexattr of a missing name", errno.ENODATA, os.removexattr, p("x"),
               "user.colour")
    expect_ok("setxattr on a directory", os.setxattr, p("d"), "user.dir", b"yes")
    expect_eq("...reads back", os.getxattr(p("d"), "user.dir"), b"yes")
    os.chmod(p("x"), 0o600)
    os.chown(p("x"), 1000, 1000)
    expect_eq("chmod and chown keep the xattrs", os.getxattr(p("x"), "user.big") == val, True)
    os.rename(p("x"), p("r2", "x"))
    expect_eq("rename keeps the xattrs", os.getxattr(p("r2", "x"), "user.new"), b"n")
    os.link(p("r2", "x"), p("xl"))
    expect_eq("a hard link shares the xattrs", os.getxattr(p("xl"), "user.new"), b"n")

def acl(*entries, version=2):
    """A POSIX ACL xattr value: entries of (tag, perms, id)."""
    return struct.pack("<I", version) + b"".join(
        struct.pack("<HHI", tag, perm, ident) for tag, perm, ident in entries)

A_USER_OBJ, A_USER, A_GROUP_OBJ, A_GROUP, A_MASK, A_OTHER = 1, 2, 4, 8, 16, 32
ACCESS, DEFAULT = "system.posix_acl_access", "system.posix_acl_default"
NOID = 0xffffffff

def mode_acl(m):
    """The ACL that says the same as permission bits m (what cp -a sets)."""
    return acl((A_USER_OBJ, m >> 6 & 7, NOID), (A_GROUP_OBJ, m >> 3 & 7, NOID),
               (A_OTHER, m & 7, NOID))

@section
def section_14b():
    """POSIX ACLs"""
    # extended and default ACLs: agora refuses them (it would not enforce
    # them); a file system that keeps them takes them
    refused = (errno.EOPNOTSUPP,) if not os.environ.get("AGORA_POSIX_DIR") else (0,)
    put(p("acl"), b"a", 0o600)
    os.chmod(p("acl"), 0o600)
    expect_ok("an ACL that says 0664 (cp -a sets it, not chmod)", os.setxattr, p("acl"),
              ACCESS, mode_acl(0o664))
    expect_eq("...is the mode at once", stat.S_IMODE(os.stat(p("acl")).st_mode), 0o664)
    expect_err("...and is not kept as an xattr: getxattr", errno.ENODATA, os.getxattr,
               p("acl"), ACCESS)
    expect_eq("...nor listed", ACCESS in os.listxattr(p("acl")), False)
    user_ok("...and holds: 65534 reads the file", NOBODY, get, p("acl"))
    os.mkdir(p("acld"), 0o700)
    os.chmod(p("acld"), 0o700)
    expect_ok("an ACL that says 0775 on a directory", os.setxattr, p("acld"), ACCESS,
              mode_acl(0o775))
    expect_eq("...is its mode", stat.S_IMODE(os.stat(p("acld")).st_mode), 0o775)
    os.chmod(p("acld"), 0o2770)
    expect_ok("root sets an ACL of a set-group-ID directory", os.setxattr, p("acld"),
              ACCESS, mode_acl(0o755))
    expect_eq("...which keeps the bit", stat.S_IMODE(os.stat(p("acld")).st_mode), 0o2755)
    put(p("aclg"), b"g")
    os.chown(p("aclg"), NOBODY, 0)
    os.chmod(p("aclg"), 0o2644)
    user_ok("an owner outside the file's group sets an ACL", NOBODY, os.setxattr,
            p("aclg"), ACCESS, mode_acl(0o664))
    expect_eq("...and loses set-group-ID, as with chmod",
              stat.S_IMODE(os.stat(p("aclg")).st_mode), 0o664)
    user_err("a non-owner sets an ACL", OTHER, errno.EPERM, os.setxattr, p("aclg"),
             ACCESS, mode_acl(0o666))
    os.chmod(p("acl"), 0o640)
    expect_err("an ACL naming a user", refused, os.setxattr, p("acl"), ACCESS,
               acl((A_USER_OBJ, 6, NOID), (A_USER, 4, 1000), (A_GROUP_OBJ, 4, NOID),
                   (A_MASK, 4, NOID), (A_OTHER, 0, NOID)))
    expect_err("an ACL naming a group", refused, os.setxattr, p("acl"), ACCESS,
               acl((A_USER_OBJ, 6, NOID), (A_GROUP_OBJ, 4, NOID), (A_GROUP, 6, 1000),
                   (A_MASK, 6, NOID), (A_OTHER, 0, NOID)))
    if refused != (0,):
        expect_eq("...leave the mode as it was", stat.S_IMODE(os.stat(p("acl")).st_mode),
                  0o640)
        expect_err("...and store nothing", errno.ENODATA, os.getxattr, p("acl"), ACCESS)
    expect_err("a default ACL on a directory", refused, os.setxattr, p("acld"), DEFAULT,
               mode_acl(0o750))
    expect_err("a default ACL on a file", errno.EACCES, os.setxattr, p("acl"), DEFAULT,
               mode_acl(0o750))
    expect_err("a malformed ACL", errno.EINVAL, os.setxattr, p("acl"), ACCESS, b"\2\0\0\0x")
    put(p("acl2"), b"b")
    os.mkdir(p("acld2"))
    expect_ok("removexattr of an ACL never set (the mode stays)", os.removexattr,
              p("acl2"), ACCESS)
    expect_eq("...the mode stays", stat.S_IMODE(os.stat(p("acl2")).st_mode), 0o644)
    expect_err("getxattr of a default ACL never set", errno.ENODATA, os.getxattr,
               p("acld2"), DEFAULT)
    old = os.umask(0o027)
    try:
        put(p("um"), b"u", 0o666)
        os.mkdir(p("umd"), 0o777)
    finally:
        os.umask(old)
    expect_eq("umask 027 applies at create (no default ACL)",
              (stat.S_IMODE(os.stat(p("um")).st_mode), stat.S_IMODE(os.stat(p("umd")).st_mode)),
              (0o640, 0o750))

@section
def section_15():
    """timestamps"""
    put(p("ts"), b"t")
    st0 = os.stat(p("ts"))
    pause()
    os.chmod(p("ts"), 0o600)
    st1 = os.stat(p("ts"))
    expect_eq("chmod changes ctime, not mtime",
              (st1.st_ctime_ns > st0.st_ctime_ns, st1.st_mtime_ns == st0.st_mtime_ns), (True, True))
    pause()
    with open(p("ts"), "ab") as f:
        f.write(b"more")
    st2 = os.stat(p("ts"))
    expect_eq("a write changes mtime and ctime",
              (st2.st_mtime_ns > st1.st_mtime_ns, st2.st_ctime_ns > st1.st_ctime_ns), (True, True))
    pause()
    get(p("ts"))
    expect_eq("a read leaves mtime alone", os.stat(p("ts")).st_mtime_ns, st2.st_mtime_ns)
    pause()
    os.truncate(p("ts"), 2)
    st3 = os.stat(p("ts"))
    expect_eq("truncate changes mtime and ctime",
              (st3.st_mtime_ns > st2.st_mtime_ns, st3.st_ctime_ns > st2.st_ctime_ns), (True, True))
    os.utime(p("ts"), ns=(1000000000123456789, 1200000000987654321))
    st = os.stat(p("ts"))
    expect_eq("utimensat sets atime and mtime to the nanosecond",
              (st.st_atime_ns, st.st_mtime_ns), (1000000000123456789, 1200000000987654321))
    os.utime(p("ts"), (0, 86400))
    expect_eq("utime to 1970", os.stat(p("ts")).st_mtime_ns, 86400 * 10**9)
    os.mkdir(p("tsd"))
    d0 = os.stat(p("tsd"))
    pause()
    create(p("tsd", "new"))
    d1 = os.stat(p("tsd"))
    expect_eq("create changes the directory's mtime and ctime",
              (d1.st_mtime_ns > d0.st_mtime_ns, d1.st_ctime_ns > d0.st_ctime_ns), (True, True))
    pause()
    os.unlink(p("tsd", "new"))
    d2 = os.stat(p("tsd"))
    expect_eq("unlink changes the directory's mtime", d2.st_mtime_ns > d1.st_mtime_ns, True)
    pause()
    os.mkdir(p("tsd", "sub"))
    d3 = os.stat(p("tsd"))
    expect_eq("mkdir changes the directory's mtime", d3.st_mtime_ns > d2.st_mtime_ns, True)
    put(p("tsmv"), b"")
    pause()
    s0 = os.stat(p("tsmv"))
    os.rename(p("tsmv"), p("tsd", "moved"))
    d4 = os.stat(p("tsd"))
    expect_eq("rename into a directory changes its mtime", d4.st_mtime_ns > d3.st_mtime_ns, True)
    expect_eq("rename changes the file's ctime", os.stat(p("tsd", "moved")).st_ctime_ns
              >= s0.st_ctime_ns, True)
    c0 = os.stat(p("tsd", "moved")).st_ctime_ns
    pause()
    os.link(p("tsd", "moved"), p("tsd", "moved2"))
    c1 = os.stat(p("tsd", "moved")).st_ctime_ns
    expect_eq("link changes the file's ctime", c1 > c0, True)
    pause()
    os.unlink(p("tsd", "moved2"))
    expect_eq("unlink of another name changes the file's ctime",
              os.stat(p("tsd", "moved")).st_ctime_ns > c1, True)

@section
def section_16():
    """chmod, chown, setgid directories"""
    put(p("own"), b"o")
    expect_ok("root chown", os.chown, p("own"), 1000, 2000)
    expect_eq("...sets uid and gid", (os.stat(p("own")).st_uid, os.stat(p("own")).st_gid),
              (1000, 2000))
    expect_ok("chown with -1 keeps a field", os.chown, p("own"), -1, 3000)
    expect_eq("...kept the uid", (os.stat(p("own")).st_uid, os.stat(p("own")).st_gid),
              (1000, 3000))
    expect_ok("chmod 04755", os.chmod, p("own"), 0o4755)
    expect_eq("...sets the setuid bit", stat.S_IMODE(os.stat(p("own")).st_mode), 0o4755)
    expect_ok("lchown of a symlink", os.lchown, p("sl2"), 1000, 1000)
    expect_eq("...changes the link", os.lstat(p("sl2")).st_uid, 1000)
    os.mkdir(p("sg"))
    os.chown(p("sg"), 0, 1234)
    os.chmod(p("sg"), 0o2775)
    expect_eq("a setgid directory's mode", stat.S_IMODE(os.stat(p("sg")).st_mode), 0o2775)
    create(p("sg", "file"))
    expect_eq("a file created in it takes the directory's group",
              os.stat(p("sg", "file")).st_gid, 1234)
    os.mkdir(p("sg", "sub"))
    st = os.stat(p("sg", "sub"))
    expect_eq("a directory created in it takes its group and setgid bit",
              (st.st_gid, bool(st.st_mode & stat.S_ISGID)), (1234, True))

@section
def section_17():
    """unprivileged users: EACCES, EPERM, sticky directories"""
    os.mkdir(p("priv"))  # 0755 root
    put(p("priv", "f"), b"root's")  # 0644 root
    os.mkdir(p("secret"), 0o700)
    put(p("secret", "s"), b"s")
    put(p("ro"), b"ro", 0o600)
    user_err("non-root create in a 0755 root directory", NOBODY, errno.EACCES,
             create, p("priv", "new"))
    user_err("non-root mkdir in it", NOBODY, errno.EACCES, os.mkdir, p("priv", "nd"))
    user_err("non-root unlink in it", NOBODY, errno.EACCES, os.unlink, p("priv", "f"))
    user_err("non-root rename in it", NOBODY, errno.EACCES, os.rename, p("priv", "f"),
             p("priv", "g"))
    user_err("non-root write open of a 0644 root file", NOBODY, errno.EACCES,
             os.open, p("priv", "f"), os.O_WRONLY)
    user_err("non-root truncate of it", NOBODY, errno.EACCES, os.truncate, p("priv", "f"), 0)
    user_err("non-root setxattr on it", NOBODY, errno.EACCES, os.setxattr, p("priv", "f"),
             "user.a", b"a")
    user_ok("non-root read of a 0644 root file", NOBODY, get, p("priv", "f"))
    user_err("non-root read of a 0600 root file", NOBODY, errno.EACCES, get, p("ro"))
    user_err("non-root lookup through a 0700 directory", NOBODY, errno.EACCES,
             os.stat, p("secret", "s"))
    user_err("non-root listing of a 0700 directory", NOBODY, errno.EACCES,
             os.listdir, p("secret"))
    user_err("non-root chmod of root's file", NOBODY, errno.EPERM, os.chmod, p("priv", "f"), 0o666)
    user_err("non-root chown of root's file", NOBODY, errno.EPERM, os.chown, p("priv", "f"),
             NOBODY, NOBODY)
    user_err("non-root utime with explicit times on root's file", NOBODY, errno.EPERM,
             os.utime, p("priv", "f"), (1, 1))
    user_err("non-root utime(now) on a file it cannot write", NOBODY, errno.EACCES,
             os.utime, p("priv", "f"), None)
    os.mkdir(p("tmp"))
    os.chmod(p("tmp"), 0o1777)
    expect_eq("a sticky directory's mode", stat.S_IMODE(os.stat(p("tmp")).st_mode), 0o1777)
    user_ok("non-root create in a 1777 directory", NOBODY, create, p("tmp", "mine"))
    st = os.stat(p("tmp", "mine"))
    expect_eq("...owned by the creator", (st.st_uid, st.st_gid), (NOBODY, NOBODY))
    user_ok("non-root write to its own file", NOBODY, put, p("tmp", "mine"), b"nobody")
    user_ok("non-root utime(now) of its own file", NOBODY, os.utime, p("tmp", "mine"), None)
    expect_eq("access(W_OK) as non-root on root's 0644 file says no",
              as_user(NOBODY, NOBODY, os.access, p("priv", "f"), os.W_OK), (0, False))
    expect_eq("access(R_OK) as non-root on root's 0644 file says yes",
              as_user(NOBODY, NOBODY, os.access, p("priv", "f"), os.R_OK), (0, True))
    user_ok("non-root chmod of its own file", NOBODY, os.chmod, p("tmp", "mine"), 0o666)
    user_err("non-root chown of its own file to another user", NOBODY, errno.EPERM,
             os.chown, p("tmp", "mine"), OTHER, -1)
    user_err("non-root chgrp of its own file to a group it is not in", NOBODY, errno.EPERM,
             os.chown, p("tmp", "mine"), -1, 0)
    user_ok("non-root chown of its own file to itself", NOBODY, os.chown, p("tmp", "mine"),
            NOBODY, NOBODY)
    user_ok("another user may write a 0666 file", OTHER, put, p("tmp", "mine"), b"other")
    user_err("sticky: another user cannot unlink it", OTHER, errno.EPERM,
             os.unlink, p("tmp", "mine"))
    user_err("sticky: another user cannot rename it", OTHER, errno.EPERM,
             os.rename, p("tmp", "mine"), p("tmp", "stolen"))
    user_ok("another user creates its own file there", OTHER, create, p("tmp", "x"))
    user_err("sticky: another user cannot rename over it", OTHER, errno.EPERM,
             os.rename, p("tmp", "x"), p("tmp", "mine"))
    user_ok("sticky: the owner can rename it", NOBODY, os.rename, p("tmp", "mine"),
            p("tmp", "mine2"))
    user_ok("sticky: the owner can unlink it", NOBODY, os.unlink, p("tmp", "mine2"))
    user_ok("non-root mkdir in a 1777 directory", NOBODY, os.mkdir, p("tmp", "nd"))
    user_ok("non-root create in its own directory", NOBODY, create, p("tmp", "nd", "f"))
    user_ok("non-root setxattr on its own file", NOBODY, os.setxattr, p("tmp", "nd", "f"),
            "user.who", b"nobody")
    user_ok("non-root chmod 0400 of its own file", NOBODY, os.chmod, p("tmp", "nd", "f"), 0o400)
    user_err("non-root write open of its own 0400 file", NOBODY, errno.EACCES,
             os.open, p("tmp", "nd", "f"), os.O_WRONLY)
    expect_ok("root may still write it", open_close, p("tmp", "nd", "f"), os.O_WRONLY)
    expect_ok("root unlinks another's file in a sticky directory", os.unlink, p("tmp", "x"))

@section
def section_18():
    """cleanup: everything removable"""
    def rmtree(path):
        for e in os.scandir(path):
            if e.is_dir(follow_symlinks=False):
                rmtree(e.path)
            else:
                os.unlink(e.path)
        os.rmdir(path)

    expect_ok("remove the whole test tree", rmtree, D)
    expect_eq("it is gone", os.path.exists(D), False)

print("%d checks, %d failed" % (count, len(failures)))
for f in failures:
    print("FAILED: " + f)
sys.exit(1 if failures else 0)
PY
[ "$rc" -eq 0 ] || fail "POSIX checks failed (exit $rc): see the FAIL lines above"

step "unprivileged users through setpriv and the usual tools"
# as_uid UID COMMAND...: COMMAND as UID (group UID, no other groups).
as_uid() {
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}
# refused DESCRIPTION MESSAGE UID COMMAND...: COMMAND as UID must fail
# saying MESSAGE (strerror text).
refused() {
	local what=$1 msg=$2 uid=$3
	shift 3
	if as_uid "$uid" "$@" >"$T/out" 2>"$T/err"; then
		fail "$what: succeeded, should have failed with \"$msg\""
	fi
	grep -q "$msg" "$T/err" || fail "$what: $(head -n 1 "$T/err"), expected \"$msg\""
	echo "ok - $what: $msg"
}
sp=$target/setpriv.$$
mkdir -m 0755 "$sp" "$sp/tmp"
chmod 1777 "$sp/tmp"
echo secret >"$sp/secret"
chmod 0600 "$sp/secret"
refused "touch in a root 0755 directory" "Permission denied" 65534 touch "$sp/new"
refused "cat of a root 0600 file" "Permission denied" 65534 cat "$sp/secret"
refused "rm of a root file in a root directory" "Permission denied" 65534 rm -f "$sp/secret"
refused "chmod of root's file" "Operation not permitted" 65534 chmod 0666 "$sp/secret"
as_uid 65534 sh -c "echo mine >'$sp/tmp/mine'" || fail "create in a 1777 directory as 65534 failed"
[ "$(stat -c %u:%g "$sp/tmp/mine")" = 65534:65534 ] ||
	fail "a file made by 65534 is owned by $(stat -c %u:%g "$sp/tmp/mine")"
echo "ok - create in a 1777 directory as 65534, owned 65534:65534"
refused "chown to another user" "Operation not permitted" 65534 chown 65533 "$sp/tmp/mine"
refused "rm of another's file in a sticky directory" "Operation not permitted" \
	65533 rm -f "$sp/tmp/mine"
refused "mv of another's file in a sticky directory" "Operation not permitted" \
	65533 mv "$sp/tmp/mine" "$sp/tmp/theirs"
as_uid 65534 rm "$sp/tmp/mine" || fail "the owner cannot remove its file in a sticky directory"
echo "ok - the owner removes its file in a sticky directory"
rm -r "$sp" || fail "rm -r of the setpriv test tree exited $?"

step "cp -a, rsync -aHAX and tar -xp of a tree keep every attribute"
# Copies into the mount of a tree with mixed modes (a set-group-ID, a
# sticky and a 0700 directory, a set-user-ID file), other owners, symlinks
# (one with a 2000-byte target), hard links, user xattrs and nanosecond
# timestamps must equal the original in all a user sees: type, mode, owner,
# group, size, mtime, link count, symlink target, xattrs, contents, and
# which names are links of one file. cp -a sets the permissions as a POSIX
# ACL (system.posix_acl_access), not with chmod.
command -v rsync >/dev/null || fail "rsync is not installed (contrib/packages.txt)"
src=$T/tree
python3 - "$src" <<'PY' || fail "could not make the test tree"
import os, sys
top = sys.argv[1]
def p(*a):
    return os.path.join(top, *a)
os.mkdir(top)
dirs = {"d755": 0o755, "d775": 0o775, "d700": 0o700, "sgid": 0o2775, "sticky": 0o1777}
for d in dirs:
    os.mkdir(p(d))
files = {"f600": 0o600, "f644": 0o644, "f664": 0o664, "f755": 0o755, "f775": 0o775,
         "f700": 0o700, "suid": 0o4755, "d775/empty": 0o664, "sgid/inner": 0o640,
         "d700/big": 0o600, "sticky/t": 0o666}
for i, (f, mode) in enumerate(sorted(files.items())):
    with open(p(f), "wb") as fh:
        fh.write(b"" if f.endswith("empty") else
                 os.urandom(300 << 10 if f.endswith("big") else 100 + 997 * i))
os.link(p("f644"), p("d755", "hl"))
os.link(p("f775"), p("d700", "h2"))
os.link(p("f775"), p("sgid", "h3"))
os.symlink("f644", p("ln"))
os.symlink("../d775", p("d755", "dirln"))
os.symlink("nowhere/" + "x" * 1992, p("longln"))
os.setxattr(p("f664"), "user.colour", b"blue")
os.setxattr(p("f600"), "user.empty", b"")
os.setxattr(p("d775"), "user.big", os.urandom(3000))
os.setxattr(p("f775"), "user.linked", b"shared by three names")
owners = {"f664": (1000, 1000), "d775": (65534, 100), "sgid/inner": (1234, 5678),
          "suid": (2000, 2000), "f775": (1000, 5678), "sgid": (0, 5678)}
for f, (u, g) in owners.items():
    os.chown(p(f), u, g)
os.chown(p("ln"), 4321, 8765, follow_symlinks=False)
# chown clears set-user-ID and set-group-ID: the modes go last
for f, mode in list(files.items()) + list(dirs.items()):
    os.chmod(p(f), mode)
t = 1600000000 * 10**9 + 123456789
names = [os.path.relpath(os.path.join(r, n), top) for r, ds, fs in os.walk(top)
         for n in ds + fs]
for i, n in enumerate(sorted(names, key=lambda n: -n.count("/"))):
    os.utime(p(n), ns=(t + i * 1000003, t + i * 7000001), follow_symlinks=False)
os.utime(top, ns=(t, t + 5))
PY
# treecmp A B WHAT: the trees under A and B must be equal (see above).
treecmp() {
	python3 - "$1" "$2" "$3" <<'PY'
import hashlib, os, stat, sys
def walk(top):
    out, links = {}, {}
    def visit(rel):
        path = os.path.join(top, rel)
        st = os.lstat(path)
        a = {"type": stat.S_IFMT(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)),
             "uid": st.st_uid, "gid": st.st_gid, "mtime": st.st_mtime_ns,
             "nlink": st.st_nlink,
             "xattrs": {n: os.getxattr(path, n, follow_symlinks=False)
                        for n in os.listxattr(path, follow_symlinks=False)}}
        if stat.S_ISLNK(st.st_mode):
            a["target"] = os.readlink(path)
            a["size"] = st.st_size
        elif stat.S_ISREG(st.st_mode):
            a["size"] = st.st_size
            with open(path, "rb") as f:
                a["sha256"] = hashlib.sha256(f.read()).hexdigest()
            links.setdefault(st.st_ino, []).append(rel)
        out[rel] = a
        if stat.S_ISDIR(st.st_mode):
            for n in sorted(os.listdir(path)):
                visit(os.path.join(rel, n) if rel != "." else n)
    visit(".")
    return out, sorted(sorted(v) for v in links.values() if len(v) > 1)
(a, la), (b, lb) = walk(sys.argv[1]), walk(sys.argv[2])
bad = []
for rel in sorted(set(a) | set(b)):
    if rel not in b or rel not in a:
        bad.append("%s: only in the %s" % (rel, "original" if rel in a else "copy"))
        continue
    for k in a[rel]:
        if a[rel][k] != b[rel].get(k):
            va, vb = a[rel][k], b[rel].get(k)
            if k == "xattrs":
                va, vb = sorted(va), sorted(vb or {})
            bad.append("%s: %s is %r in the copy, %r in the original" % (rel, k, vb, va))
if la != lb:
    bad.append("hard links: %r in the copy, %r in the original" % (lb, la))
for m in bad:
    print("FAIL - %s: %s" % (sys.argv[3], m))
print("%s - %s: %d names, %d sets of hard links compared" %
      ("FAIL" if bad else "ok", sys.argv[3], len(a), len(la)))
sys.exit(1 if bad else 0)
PY
}
cp -a "$src" "$target/cp-a" 2>"$T/err" || fail "cp -a into the mount exited $?: $(head -n 3 "$T/err")"
treecmp "$src" "$target/cp-a" "cp -a" || fail "cp -a changed attributes (see the FAIL lines above)"
rsync -aHAX "$src/" "$target/rsync/" 2>"$T/err" ||
	fail "rsync -aHAX into the mount exited $?: $(head -n 3 "$T/err")"
treecmp "$src" "$target/rsync" "rsync -aHAX" || fail "rsync -aHAX changed attributes (see the FAIL lines above)"
tar -C "$src" --format=posix --xattrs --xattrs-include='user.*' -cf "$T/tree.tar" . ||
	fail "tar -c of the tree exited $?"
mkdir "$target/tar"
tar -C "$target/tar" --xattrs --xattrs-include='user.*' -xpf "$T/tree.tar" 2>"$T/err" ||
	fail "tar -xp into the mount exited $?: $(head -n 3 "$T/err")"
treecmp "$src" "$target/tar" "tar -xp" || fail "tar -xp changed attributes (see the FAIL lines above)"
rm -r "$target/cp-a" "$target/rsync" "$target/tar" || fail "rm -r of the copies exited $?"

if [ -z "${AGORA_POSIX_DIR:-}" ]; then
	step "unmount; fsck is clean"
	fused_stop "$MNT"
	ag fsck >"$T/fsck.out" 2>&1 || fail "fsck exited $?: $(tail -n 3 "$T/fsck.out")"
	say "fsck: $(tail -n 1 "$T/fsck.out")"
fi
echo "PASS: $steps steps"
