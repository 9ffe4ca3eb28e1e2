#!/bin/bash
# test/integ/fuse_crash.sh - kill -9 agora-fused in the middle of a write
# workload that fsyncs: after a lazy unmount of the dead mount and a fresh
# mount, every file whose fsync returned is intact, and fsck is clean once
# metad has reaped what the dead gateway held (its orphans and leases).
# Then the same without fsync, killing agora-metad and then agora-fused:
# the mount's changes are lazy (written, not synced), and no process
# death may lose one that returned. Last, a copy of many small files as
# cp -a makes it (data, mode, times), whose closes sync nothing: with
# agora-metad and then agora-fused killed under it, every file whose
# close returned reads back byte for byte, and no commit record names
# data that is not on the drives.
. "$(dirname "$0")/lib.sh"

M=$T/mnt
rounds=2
[ "$AGORA_LONG" = 1 ] && rounds=6

write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start

# The workload: files of assorted sizes, some rewritten in place, each
# fsync'd and then logged with its digest; one file unlinked while open.
cat >"$T/writer.py" <<'PY'
import hashlib, os, random, sys
mnt, log, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
ghost = os.open(os.path.join(mnt, "ghost-%d" % seed), os.O_CREAT | os.O_RDWR)
os.write(ghost, os.urandom(300000))
os.unlink(os.path.join(mnt, "ghost-%d" % seed))
with open(log, "a", buffering=1) as out:
    i = 0
    while True:
        name = "r%d-f%d" % (seed, i)
        size = rng.choice([0, 1, 5000, 70000, 1 << 20, 3 << 20])
        data = bytearray(os.urandom(size))
        fd = os.open(os.path.join(mnt, name), os.O_CREAT | os.O_WRONLY, 0o644)
        for off in range(0, size, 131072):
            os.write(fd, data[off:off + 131072])
        if size and i % 3 == 0:
            # an overwrite in the middle, as a database would
            off = rng.randrange(size)
            patch = os.urandom(min(4096, size - off))
            os.pwrite(fd, patch, off)
            data[off:off + len(patch)] = patch
        os.fsync(fd)
        out.write("%s %s\n" % (name, hashlib.sha256(data).hexdigest()))
        # more bytes after the fsync: may be lost, must not corrupt
        os.write(fd, b"unsynced tail")
        if i % 2:
            os.close(fd)
        i += 1
PY

for ((round = 1; round <= rounds; round++)); do
	step "round $round: kill -9 agora-fused under an fsync'ing writer"
	fused_start "$M"
	python3 "$T/writer.py" "$M" "$T/synced" "$round" 2>"$T/writer.err" &
	wpid=$!
	started_pids+=("$wpid")
	sleep 3
	kill -KILL "$FUSED_PID"
	wait_gone "$FUSED_PID" 10 || fail "agora-fused survived SIGKILL"
	wait "$wpid" 2>/dev/null || true
	fusermount3 -uz "$M" || fail "lazy unmount of the dead mount"
	n=$(wc -l <"$T/synced")
	say "$n files fsync'd so far"
	[ "$n" -gt 0 ] || fail "the writer fsync'd nothing in 3 s: $(tail -n 3 "$T/writer.err")"

	step "round $round: remount; every fsync'd file is intact"
	fused_start "$M"
	while read -r name sum; do
		[ -f "$M/$name" ] || fail "$name: fsync'd but gone"
		got=$(sha256sum <"$M/$name" | cut -d' ' -f1)
		if [ "$got" != "$sum" ]; then
			# the unsynced tail may or may not have made it
			got=$(head -c -13 "$M/$name" | sha256sum | cut -d' ' -f1)
			[ "$got" = "$sum" ] || fail "$name: content differs after the crash"
		fi
	done <"$T/synced"
	fused_stop "$M"
done

# A workload that never syncs: small files made, written and closed, every
# other one renamed, each logged once its last call returned.
cat >"$T/lazy.py" <<'PY'
import os, sys
mnt, log, tag = sys.argv[1], sys.argv[2], sys.argv[3]
d = os.path.join(mnt, "lazy-" + tag)
os.mkdir(d)
with open(log, "w", buffering=1) as out:
    i = 0
    while True:
        name = "f%d" % i
        with open(os.path.join(d, name), "w") as f:
            f.write("%s %d\n" % (tag, i))
        if i % 2:
            os.rename(os.path.join(d, name), os.path.join(d, "r" + name))
            name = "r" + name
        out.write("%s %s\n" % (name, "%s %d" % (tag, i)))
        i += 1
PY

# lazy_check TAG: every file the lazy workload logged is on the cluster
# (agora get), with its content.
lazy_check() {
	local n=0 name want
	while read -r name want; do
		ag get "/lazy-$1/$name" "$T/got" 2>/dev/null ||
			fail "/lazy-$1/$name: returned, then lost"
		[ "$(cat "$T/got")" = "$want" ] || fail "/lazy-$1/$name: wrong content"
		n=$((n + 1))
	done <"$T/lazy-$1"
	[ "$n" -gt 0 ] || fail "the lazy workload made nothing: $(tail -n 3 "$T/lazy.err")"
	say "all $n files made without fsync are there"
}

# lazy_start TAG: mount, run the lazy workload for 2 s (pid in wpid).
lazy_start() {
	fused_start "$M"
	python3 "$T/lazy.py" "$M" "$T/lazy-$1" "$1" 2>"$T/lazy.err" &
	wpid=$!
	started_pids+=("$wpid")
	sleep 2
}

step "kill -9 agora-metad under a mount that never syncs; restart it"
lazy_start m
metad_kill
metad_start
sleep 1 # the mount carries on once metad is back
kill "$wpid"
wait "$wpid" 2>/dev/null || true
lazy_check m
fused_stop "$M"

step "kill -9 agora-fused under a workload that never syncs"
lazy_start f
kill -KILL "$FUSED_PID"
wait_gone "$FUSED_PID" 10 || fail "agora-fused survived SIGKILL"
wait "$wpid" 2>/dev/null || true
fusermount3 -uz "$M" || fail "lazy unmount of the dead mount"
lazy_check f

# A copy of a source tree, file by file as cp -a does it: create, write,
# chmod, set the times, close; each logged with its digest once its
# close returned. Files come from this project's sources, again and again.
cat >"$T/copy.py" <<'PY'
import hashlib, os, sys
mnt, log, tag, src = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
files = sorted(os.path.join(r, f) for r, _, fs in os.walk(src) for f in fs)
d = os.path.join(mnt, "copy-" + tag)
os.mkdir(d)
with open(log, "w", buffering=1) as out:
    i = 0
    while True:
        path = files[i % len(files)]
        data = open(path, "rb").read() + b"%d" % i
        st = os.stat(path)
        name = "c%d-%s" % (i, os.path.basename(path))
        fd = os.open(os.path.join(d, name), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fchmod(fd, st.st_mode & 0o777)
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.close(fd)
        out.write("%s %s\n" % (name, hashlib.sha256(data).hexdigest()))
        i += 1
PY

# copy_check TAG: every file the copy logged reads back with its digest.
copy_check() {
	local n=0 name sum
	while read -r name sum; do
		ag get "/copy-$1/$name" "$T/got" 2>/dev/null ||
			fail "/copy-$1/$name: closed, then lost"
		[ "$(sha256sum <"$T/got" | cut -d' ' -f1)" = "$sum" ] ||
			fail "/copy-$1/$name: content differs"
		n=$((n + 1))
	done <"$T/copy-$1"
	[ "$n" -gt 0 ] || fail "the copy made nothing: $(tail -n 3 "$T/copy.err")"
	say "all $n copied files are there, byte for byte"
}

# copy_start TAG: mount, copy for 2 s (pid in wpid).
copy_start() {
	fused_start "$M"
	python3 "$T/copy.py" "$M" "$T/copy-$1" "$1" "$AGORA_SRCDIR/common" \
		2>"$T/copy.err" &
	wpid=$!
	started_pids+=("$wpid")
	sleep 2
}

step "kill -9 agora-metad under a copy of many small files; restart it"
copy_start m
metad_kill
metad_start
sleep 1
kill "$wpid"
wait "$wpid" 2>/dev/null || true
copy_check m
fused_stop "$M"

step "kill -9 agora-fused under a copy of many small files"
copy_start f
kill -KILL "$FUSED_PID"
wait_gone "$FUSED_PID" 10 || fail "agora-fused survived SIGKILL"
wait "$wpid" 2>/dev/null || true
fusermount3 -uz "$M" || fail "lazy unmount of the dead mount"
copy_check f
metad_kill
metad_start
copy_check f
if grep -q "names data that is not on the drives" "$T/metad.log"; then
	fail "a commit named data that was not on the drives: $(grep -m1 "names data" "$T/metad.log")"
fi

step "fsck is clean once metad has reaped the dead gateways' orphans"
sleep 7 # lease_timeout is 3 s in the test config
ag fsck >"$T/fsck" || fail "fsck: $(tail -n 5 "$T/fsck")"
tail -n 2 "$T/fsck" | sed 's/^/# /'
grep -q ' 0 orphans' "$T/fsck" || fail "orphans left: $(grep orphans "$T/fsck")"
