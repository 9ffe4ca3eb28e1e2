#!/usr/bin/env python3
"""test/integ/fuse_diff.py - randomized differential test of agora-fused.

One long random sequence of file system operations (create, open, write
at random offsets, overlapping and past the end, read back, truncate,
rename, renameat2, link, symlink, unlink, mkdir, rmdir, chmod, xattrs,
fsync, close) runs on an agora-fused mount and on a directory of the
local file system, op by op. Every result (return value or errno, bytes read, stat fields) must be
the same on both; at the end so must the two trees: names, types, sizes,
modes, link counts, which names share an inode, xattrs and every byte.

The seed is printed first; --seed or AGORA_SEED replays a run. A few
thousand ops normally, 100,000 with AGORA_LONG=1 (or --ops N), in 2 (4)
processes at once, each on a tree of its own with seeds SEED, SEED+1...
(--jobs N). On a
mismatch it prints the seed, the op index and the tail of the op log.

Without --mount it makes its own cluster through test/integ/lib.sh (mkfs,
agora-metad, agora-fused), runs, compares the trees again after a
remount and reads every file back with `agora get` (the core, not
FUSE); then it unmounts and requires a clean `agora fsck`. With --mount DIR --ref DIR it only compares the two
directories (any two: e.g. a passthrough FUSE file system and its source).
AGORA_FUSED_OPTS=opts adds -o opts to agora-fused.
"""

import argparse
import ctypes
import errno
import os
import random
import stat
import subprocess
import sys

NAMES = ["a", "b", "c", "dd", "e"]
XATTRS = ["user.k1", "user.k2", "user.long-name-of-an-attribute"]
MAX_FDS = 8
LOG_TAIL = 25

# Errors POSIX leaves a choice between: rename of a directory onto a
# non-empty one may say either.
SAME_ERRNO = {errno.EEXIST: errno.ENOTEMPTY}


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
libc = ctypes.CDLL(None, use_errno=True)


def renameat2(src, dst, flags):
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, src.encode(), at_fdcwd, dst.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Mismatch(Exception):
    pass


def ename(e):
    return errno.errorcode.get(e, str(e))


def attempt(fn, *args):
    """('ok', value) or ('err', errno name)."""
    try:
        return ("ok", fn(*args))
    except OSError as e:
        return ("err", ename(SAME_ERRNO.get(e.errno, e.errno)))


def stat_view(st):
    """What both sides must agree on: not inode numbers, times, nor the
    size of a directory (each file system has its own idea of that)."""
    size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), size, st.st_nlink)


class Side:
    """One of the two trees, and the descriptors open in it."""

    def __init__(self, top):
        self.top = top
        self.fds = {}  # slot -> fd

    def path(self, rel):
        return os.path.join(self.top, rel) if rel else self.top


class Differ:
    def __init__(self, seed, mount, ref, ops):
        self.rng = random.Random(seed)
        self.seed = seed
        self.ops = ops
        self.sides = [Side(mount), Side(ref)]
        self.log = []
        self.index = 0
        self.counts = {}
        self.outcomes = {}

    # --- picking arguments ------------------------------------------------
    def rel(self):
        """A path of one to three components from a small name set, so
        that names collide often: existing files, missing names, files in
        the place of directories."""
        if self.rng.random() < 0.6:
            parent = self.existing(True) if self.rng.random() < 0.7 else ""
            if parent.count("/") < 3:
                return os.path.join(parent, self.rng.choice(NAMES))
        depth = self.rng.choice((1, 1, 2, 2, 2, 3))
        return "/".join(self.rng.choice(NAMES) for _ in range(depth))

    def existing(self, want_dir=None):
        """A path that exists in the reference tree (or a random one)."""
        found = []
        for dirpath, dirs, files in os.walk(self.sides[1].top):
            rel = os.path.relpath(dirpath, self.sides[1].top)
            rel = "" if rel == "." else rel
            if want_dir is not False:
                found += [os.path.join(rel, d) for d in dirs]
            if want_dir is not True:
                found += [os.path.join(rel, f) for f in files]
        if found:
            return self.rng.choice(found)
        depth = self.rng.choice((1, 2))
        return "/".join(self.rng.choice(NAMES) for _ in range(depth))

    def some_path(self, want_dir=None):
        return self.existing(want_dir) if self.rng.random() < 0.7 else self.rel()

    def data(self, n):
        # mostly compressible, sometimes random bytes
        if self.rng.random() < 0.5:
            return self.rng.randbytes(n)
        unit = self.rng.randbytes(self.rng.randint(1, 64))
        return (unit * (n // len(unit) + 1))[:n]

    def offset(self, size):
        r = self.rng.random()
        if r < 0.3:
            return self.rng.randint(0, max(size, 1))
        if r < 0.5:
            return size  # append
        if r < 0.7:
            return size + self.rng.randint(1, 1 << 20)  # past EOF: a hole
        if r < 0.75:
            return self.rng.randint(0, 3) * 131072 + self.rng.choice((0, -1, 1))
        if r < 0.76:
            return self.rng.randint(0, 64 << 20)  # far: a big hole
        return self.rng.randint(0, 4 << 20)

    def length(self):
        r = self.rng.random()
        if r < 0.5:
            return self.rng.randint(1, 4096)
        if r < 0.85:
            return self.rng.randint(4097, 65536)
        return self.rng.randint(65537, 1 << 20)

    def ref_size(self, rel=None, slot=None):
        try:
            if slot is not None:
                return os.fstat(self.sides[1].fds[slot]).st_size
            return os.stat(self.sides[1].path(rel)).st_size
        except OSError:
            return 0

    # --- running one op on both sides ----------------------------------------
    def both(self, what, fn):
        """fn(side) on each side; their results must be equal."""
        self.log.append("%d: %s" % (self.index, what))
        if len(self.log) > 4 * LOG_TAIL:
            del self.log[:-LOG_TAIL]
        got = [attempt(fn, side) for side in self.sides]
        if got[0] != got[1]:
            raise Mismatch("%s: agora-fused %s, reference %s"
                           % (what, short(got[0]), short(got[1])))
        outcome = "ok" if got[1][0] == "ok" else got[1][1]
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return got[1]

    def op_create(self):
        rel = self.rel()
        flags = os.O_CREAT | os.O_RDWR | self.rng.choice(
            (0, os.O_EXCL, os.O_TRUNC, os.O_APPEND))
        mode = self.rng.choice((0o644, 0o600, 0o755, 0o640))
        self.open_slot("create %s flags=%#o mode=%o" % (rel, flags, mode), rel, flags, mode)

    def op_open(self):
        rel = self.some_path(False)
        flags = self.rng.choice((os.O_RDONLY, os.O_RDWR, os.O_RDWR | os.O_APPEND,
                                 os.O_RDWR | os.O_TRUNC, os.O_WRONLY))
        self.open_slot("open %s flags=%#o" % (rel, flags), rel, flags, 0o644)

    def open_slot(self, what, rel, flags, mode):
        if len(self.sides[1].fds) >= MAX_FDS:
            self.op_close()
        slot = max(self.sides[1].fds, default=-1) + 1
        res = self.both(what + " -> slot %d" % slot,
                        lambda s: s.fds.__setitem__(slot, os.open(s.path(rel), flags, mode)))
        if res[0] != "ok":
            for s in self.sides:
                s.fds.pop(slot, None)

    def pick_slot(self):
        return self.rng.choice(sorted(self.sides[1].fds)) if self.sides[1].fds else None

    def op_close(self):
        slot = self.pick_slot()
        if slot is None:
            return
        self.both("close slot %d" % slot, lambda s: os.close(s.fds.pop(slot)))

    def op_write(self):
        slot = self.pick_slot()
        if slot is None or self.rng.random() < 0.3:
            rel = self.some_path(False)
            off = self.offset(self.ref_size(rel))
            buf = self.data(self.length())

            def write_path(s):
                fd = os.open(s.path(rel), os.O_WRONLY)
                try:
                    return os.pwrite(fd, buf, off)
                finally:
                    os.close(fd)
            self.both("write %s off=%d len=%d" % (rel, off, len(buf)), write_path)
            return
        off = self.offset(self.ref_size(slot=slot))
        buf = self.data(self.length())
        self.both("pwrite slot %d off=%d len=%d" % (slot, off, len(buf)),
                  lambda s: os.pwrite(s.fds[slot], buf, off))

    def op_read(self):
        slot = self.pick_slot()
        if slot is None or self.rng.random() < 0.4:
            rel = self.some_path(False)
            off = self.offset(self.ref_size(rel))
            n = self.length()

            def read_path(s):
                fd = os.open(s.path(rel), os.O_RDONLY)
                try:
                    return os.pread(fd, n, off)
                finally:
                    os.close(fd)
            self.both("read %s off=%d len=%d" % (rel, off, n), read_path)
            return
        off = self.offset(self.ref_size(slot=slot))
        n = self.length()
        self.both("pread slot %d off=%d len=%d" % (slot, off, n),
                  lambda s: os.pread(s.fds[slot], n, off))

    def op_truncate(self):
        slot = self.pick_slot()
        if slot is not None and self.rng.random() < 0.4:
            size = self.offset(self.ref_size(slot=slot))
            self.both("ftruncate slot %d size=%d" % (slot, size),
                      lambda s: os.ftruncate(s.fds[slot], size))
            return
        rel = self.some_path(False)
        size = self.offset(self.ref_size(rel))
        self.both("truncate %s size=%d" % (rel, size), lambda s: os.truncate(s.path(rel), size))

    def op_fsync(self):
        slot = self.pick_slot()
        if slot is None:
            return
        self.both("fsync slot %d" % slot, lambda s: os.fsync(s.fds[slot]))

    def op_rename(self):
        src, dst = self.some_path(), self.some_path()
        self.both("rename %s %s" % (src, dst), lambda s: os.rename(s.path(src), s.path(dst)))

    def op_rename2(self):
        """renameat2 with RENAME_NOREPLACE or RENAME_EXCHANGE."""
        src, dst = self.some_path(), self.some_path()
        flags = self.rng.choice((RENAME_NOREPLACE, RENAME_EXCHANGE))
        self.both("renameat2 %s %s flags=%d" % (src, dst, flags),
                  lambda s: renameat2(s.path(src), s.path(dst), flags))

    def op_symlink(self):
        # relative targets only downwards: nothing may lead out of the run's
        # directory (creating through a dangling link would)
        target = self.rng.choice((self.rel(), self.rel(), "/nowhere/" + self.rel()))
        rel = self.rel()
        self.both("symlink %s -> %s" % (rel, target), lambda s: os.symlink(target, s.path(rel)))

    def op_readlink(self):
        rel = self.some_path(False)
        self.both("readlink %s" % rel, lambda s: os.readlink(s.path(rel)))

    def op_link(self):
        src, dst = self.some_path(False), self.rel()
        self.both("link %s %s" % (src, dst), lambda s: os.link(s.path(src), s.path(dst)))

    def op_unlink(self):
        rel = self.some_path(False)
        self.both("unlink %s" % rel, lambda s: os.unlink(s.path(rel)))

    def op_mkdir(self):
        rel = self.rel()
        self.both("mkdir %s" % rel, lambda s: os.mkdir(s.path(rel), 0o755))

    def op_rmdir(self):
        rel = self.some_path(True)
        self.both("rmdir %s" % rel, lambda s: os.rmdir(s.path(rel)))

    def op_chmod(self):
        rel = self.some_path()
        mode = self.rng.choice((0o600, 0o644, 0o755, 0o700, 0o4755, 0o1777))
        self.both("chmod %s %o" % (rel, mode), lambda s: os.chmod(s.path(rel), mode))

    def op_stat(self):
        rel = self.some_path()
        self.both("stat %s" % rel, lambda s: stat_view(os.lstat(s.path(rel))))

    def op_listdir(self):
        rel = self.some_path(True)
        self.both("listdir %s" % rel, lambda s: sorted(os.listdir(s.path(rel))))

    def op_setxattr(self):
        rel = self.some_path()
        name = self.rng.choice(XATTRS)
        val = self.data(self.rng.choice((0, 1, 10, 300, 1000)))
        flags = self.rng.choice((0, 0, os.XATTR_CREATE, os.XATTR_REPLACE))
        self.both("setxattr %s %s len=%d flags=%d" % (rel, name, len(val), flags),
                  lambda s: os.setxattr(s.path(rel), name, val, flags))

    def op_getxattr(self):
        rel = self.some_path()
        name = self.rng.choice(XATTRS)
        self.both("getxattr %s %s" % (rel, name), lambda s: os.getxattr(s.path(rel), name))

    def op_listxattr(self):
        rel = self.some_path()
        self.both("listxattr %s" % rel, lambda s: user_xattrs(s.path(rel)))

    def op_removexattr(self):
        rel = self.some_path()
        name = self.rng.choice(XATTRS)
        self.both("removexattr %s %s" % (rel, name),
                  lambda s: os.removexattr(s.path(rel), name))

    WEIGHTS = [("create", 8), ("open", 6), ("close", 5), ("write", 20), ("read", 12),
               ("truncate", 5), ("fsync", 2), ("rename", 6), ("rename2", 2), ("link", 3),
               ("symlink", 2), ("readlink", 1), ("unlink", 5),
               ("mkdir", 5), ("rmdir", 3), ("chmod", 2), ("stat", 6), ("listdir", 3),
               ("setxattr", 4), ("getxattr", 3), ("listxattr", 1), ("removexattr", 2)]

    def run(self):
        names = [n for n, w in self.WEIGHTS]
        weights = [w for n, w in self.WEIGHTS]
        for self.index in range(self.ops):
            op = self.rng.choices(names, weights)[0]
            self.counts[op] = self.counts.get(op, 0) + 1
            getattr(self, "op_" + op)()
            if self.index % 10000 == 9999:
                print("# seed %d: %d ops done" % (self.seed, self.index + 1), flush=True)
        self.index = self.ops
        while self.sides[1].fds:
            self.op_close()
        self.log.append("%d: final comparison of the trees" % self.index)
        compare_trees(self.sides[0].top, self.sides[1].top)


def short(res):
    kind, val = res
    if isinstance(val, bytes) and len(val) > 32:
        import hashlib
        return "%s(%d bytes, sha256 %s)" % (kind, len(val), hashlib.sha256(val).hexdigest()[:16])
    return "%s(%r)" % (kind, val)


def user_xattrs(path):
    return sorted(a for a in os.listxattr(path, follow_symlinks=False) if a.startswith("user."))


def tree(top):
    """rel path -> (stat view, xattrs, content or None), and the groups of
    names that share an inode."""
    out, inodes = {}, {}
    for dirpath, dirs, files in os.walk(top):
        for n in dirs + files:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, top)
            st = os.lstat(full)
            xa = {a: os.getxattr(full, a, follow_symlinks=False) for a in user_xattrs(full)}
            body = None
            if stat.S_ISLNK(st.st_mode):
                body = os.readlink(full).encode()
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    body = f.read()
                inodes.setdefault(st.st_ino, []).append(rel)
            out[rel] = (stat_view(st), xa, body)
    groups = sorted(sorted(g) for g in inodes.values() if len(g) > 1)
    return out, groups


def compare_trees(mount, ref):
    got, got_groups = tree(mount)
    want, want_groups = tree(ref)
    if sorted(got) != sorted(want):
        raise Mismatch("the trees differ: only on agora-fused %s, only in the reference %s"
                       % (sorted(set(got) - set(want)), sorted(set(want) - set(got))))
    for rel in sorted(want):
        g, w = got[rel], want[rel]
        if g[0] != w[0]:
            raise Mismatch("%s: (type, mode, size, nlink) %r on agora-fused, %r in the reference"
                           % (rel, g[0], w[0]))
        if g[1] != w[1]:
            raise Mismatch("%s: xattrs %r on agora-fused, %r in the reference"
                           % (rel, sorted(g[1]), sorted(w[1])))
        if g[2] != w[2]:
            first = next(i for i in range(min(len(g[2]), len(w[2])) + 1)
                         if i >= len(g[2]) or i >= len(w[2]) or g[2][i] != w[2][i])
            raise Mismatch("%s: content differs from byte %d" % (rel, first))
    if got_groups != want_groups:
        raise Mismatch("hard link groups differ: %r on agora-fused, %r in the reference"
                       % (got_groups, want_groups))
    print("# trees equal: %d names" % len(want), flush=True)


# The cluster for a run without --mount, made by lib.sh: $1 is this
# program, the rest its arguments.
CLUSTER_SCRIPT = r'''
. "$AGORA_DIFF_LIB"
MNT=$T/mnt
self=$1
shift
[ -x "$FUSED" ] || skip "$FUSED not built"

write_conf
# sparse drive files: room for the churn of the long tier
sed -i "s/^drive_size = .*/drive_size = 4G/" "$CONF"
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
mkdir -p "$T/ref"
fused_start "$MNT" ${AGORA_FUSED_OPTS:+-o "$AGORA_FUSED_OPTS"}
step "differential run: agora-fused on $MNT against $T/ref"
python3 "$self" --mount "$MNT" --ref "$T/ref" "$@" || fail "differential run failed"
step "remount: the trees are still equal"
fused_stop "$MNT"
fused_start "$MNT" ${AGORA_FUSED_OPTS:+-o "$AGORA_FUSED_OPTS"}
python3 "$self" --mount "$MNT" --ref "$T/ref" --compare-only "$@" ||
	fail "the trees differ after a remount"
step "agora get reads every file as written through FUSE"
n=0
while read -r f; do
	ag get "/$f" "$T/got" || fail "agora get /$f exited $?"
	cmp -s "$T/got" "$T/ref/$f" || fail "agora get /$f differs from the reference"
	n=$((n + 1))
done < <(cd "$T/ref" && find . -type f -printf '%P\n')
say "$n files read back through the core"
step "unmount; fsck is clean"
fused_stop "$MNT"
ag fsck >"$T/fsck.out" 2>&1 || fail "fsck exited $?: $(tail -n 3 "$T/fsck.out")"
say "fsck: $(tail -n 1 "$T/fsck.out")"
echo "PASS: $steps steps"
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None,
                    help="random seed (default: $AGORA_SEED, else random)")
    ap.add_argument("--ops", type=int, default=None,
                    help="operations (default 5000, 100000 with AGORA_LONG=1)")
    ap.add_argument("--mount", help="the agora-fused mount (a directory in it is used)")
    ap.add_argument("--ref", help="the reference directory (a local file system)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="processes at once, each on its own tree with seeds "
                         "SEED, SEED+1... (default 2, 4 with AGORA_LONG=1)")
    ap.add_argument("--compare-only", action="store_true",
                    help="only compare the trees an earlier run with this seed left")
    args = ap.parse_args()

    seed = args.seed
    if seed is None and os.environ.get("AGORA_SEED"):
        seed = int(os.environ["AGORA_SEED"])
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 32)
    ops = args.ops
    if ops is None:
        ops = 100000 if os.environ.get("AGORA_LONG") == "1" else 5000

    if args.jobs is None:
        args.jobs = 4 if os.environ.get("AGORA_LONG") == "1" else 2

    if not args.mount:
        here = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, AGORA_DIFF_LIB=os.path.join(here, "lib.sh"))
        rc = subprocess.call(["bash", "-c", CLUSTER_SCRIPT, os.path.abspath(__file__),
                              os.path.abspath(__file__), "--seed", str(seed),
                              "--ops", str(ops), "--jobs", str(args.jobs)], env=env)
        return rc
    if not args.ref:
        ap.error("--mount needs --ref")

    if not args.compare_only:
        print("seed %d (replay: AGORA_SEED=%d or --seed %d), %d ops, %d jobs"
              % (seed, seed, seed, ops, args.jobs), flush=True)
    os.umask(0o022)
    # one process per job, each on a tree of its own (seed, seed+1, ...):
    # the daemon serves them at once, the results stay deterministic
    pids = []
    for job in range(args.jobs):
        pid = os.fork()
        if pid == 0:
            os._exit(run_one(seed + job, ops, args))
        pids.append(pid)
    rc = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            rc = 1
    return rc


def run_one(seed, ops, args):
    """One job: 0 if the trees stayed equal."""
    run_dir = "diff.%d" % seed
    mount = os.path.join(args.mount, run_dir)
    ref = os.path.join(args.ref, run_dir)
    if args.compare_only:
        try:
            compare_trees(mount, ref)
        except Mismatch as m:
            print("MISMATCH, seed %d: %s" % (seed, m), flush=True)
            return 1
        return 0
    os.mkdir(mount)
    os.mkdir(ref)
    d = Differ(seed, mount, ref, ops)
    try:
        d.run()
    except Mismatch as m:
        # one write: the jobs' reports must not interleave
        sys.stdout.write("MISMATCH at op %d of %d, seed %d: %s\nop log tail:\n%s\n"
                         % (d.index, ops, seed, m,
                            "\n".join("  " + line for line in d.log[-LOG_TAIL:])))
        sys.stdout.flush()
        return 1
    sys.stdout.write("# seed %d ops run: %s\n# seed %d outcomes: %s\nPASS: %d ops, seed %d\n"
                     % (seed, ", ".join("%s %d" % kv for kv in sorted(d.counts.items())),
                        seed, ", ".join("%s %d" % kv for kv in sorted(d.outcomes.items())),
                        ops, seed))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
