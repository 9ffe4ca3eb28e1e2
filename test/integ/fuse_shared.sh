#!/bin/bash
# test/integ/fuse_shared.sh - one file, several writers: a rewrite that
# deduplicates against the chunks it replaces (pwrite and mapped writes),
# two mounts writing disjoint ranges of one file at once, and appends
# from two mounts, and O_TRUNC through a mount racing an S3 PUT. Every
# byte a writer wrote must land, and no writer may undo another's.
. "$(dirname "$0")/lib.sh"

A=$T/a
B=$T/b
rounds=4
[ "$AGORA_LONG" = 1 ] && rounds=20

write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
fused_start "$A"
fused_start "$B"

step "rewriting a file with the bytes it holds (pwrite, then mmap) keeps it"
mkdata "$T/same" $((3 << 20)) random
cp "$T/same" "$A/same"
python3 - "$A/same" "$T/same" <<'PY' || fail "identical rewrite failed"
import mmap, os, sys
path, ref = sys.argv[1], open(sys.argv[2], "rb").read()
for rnd in range(5):
    fd = os.open(path, os.O_RDWR)
    # whole chunks and pieces of chunks, each the bytes already there
    for off, n in ((0, len(ref)), (4096, 100000), (1 << 20, 65536)):
        os.pwrite(fd, ref[off:off + n], off)
        os.fsync(fd)
    os.close(fd)
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, len(ref))
    m[8192:8192 + 200000] = ref[8192:8192 + 200000]
    m.flush()
    m.close()
    os.fsync(fd)
    os.close(fd)
    if open(path, "rb").read() != ref:
        sys.exit("round %d: content changed" % rnd)
PY
cmp -s "$T/same" "$B/same" || fail "the other mount reads other bytes"
same "$T/same" /same

step "two mounts writing disjoint halves of one file never revert each other"
size=$((8 << 20))
for ((r = 0; r < rounds; r++)); do
	mkdata "$T/old" $size random
	cp "$T/old" "$A/halves"
	python3 - "$A/halves" "$B/halves" "$T/old" "$T/want" "$size" "$r" <<'PY' ||
import os, random, sys, threading
pa, pb, old, want, size, r = sys.argv[1:7]
size, r = int(size), int(r)
rng = random.Random(r)
half = size // 2
ref = bytearray(open(old, "rb").read())
na, nb = rng.randbytes(half), rng.randbytes(half)
ref[:half], ref[half:] = na, nb
def writer(path, off, data, piece):
    fd = os.open(path, os.O_WRONLY)
    for i in range(0, len(data), piece):
        os.pwrite(fd, data[i:i + piece], off + i)
    os.close(fd)
ts = [threading.Thread(target=writer, args=(pa, 0, na, rng.choice([4096, 65536, 1 << 20]))),
      threading.Thread(target=writer, args=(pb, half, nb, rng.choice([4096, 65536, 1 << 20])))]
for t in ts: t.start()
for t in ts: t.join()
open(want, "wb").write(ref)
PY
		fail "disjoint writers failed"
	for m in "$A" "$B"; do
		# close-to-open: a fresh open sees both writers' closes
		cmp "$T/want" "$m/halves" >"$T/cmp" 2>&1 ||
			fail "round $r: $m/halves differs from what the writers wrote: $(head -n 1 "$T/cmp")"
	done
	same "$T/want" /halves
done

step "appends from two mounts at once: every record lands whole"
: >"$A/log"
python3 - "$A/log" "$B/log" <<'PY' || fail "appenders failed"
import os, sys, threading
def appender(path, tag):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    for i in range(100):
        os.write(fd, b"%s %04d %s\n" % (tag, i, b"x" * 40))
        if i % 2:
            os.fsync(fd)  # commits what this mount holds: interleaves
        if i % 10 == 9:
            os.close(fd)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.close(fd)
ts = [threading.Thread(target=appender, args=(p, t))
      for p, t in ((sys.argv[1], b"A"), (sys.argv[2], b"B"))]
for t in ts: t.start()
for t in ts: t.join()
PY
python3 - "$A/log" <<'PY' || fail "appended records lost or torn"
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "the log does not end in a whole record"
recs = lines[:-1]
for t in (b"A", b"B"):
    got = [l for l in recs if l.startswith(t + b" ")]
    want = [b"%s %04d %s" % (t, i, b"x" * 40) for i in range(100)]
    assert got == want, "%s: %d of 100 records, in order: %s" % (
        t.decode(), len(got), got == want[:len(got)])
assert len(recs) == 200, "%d records, want 200" % len(recs)
PY

step "an appender reads back what it appended, at once"
python3 - "$A/own" <<'PY' || fail "appender's own reads"
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o644)
want = b""
for i in range(50):
    rec = b"record %d\n" % i
    os.write(fd, rec)
    want += rec
    got = os.pread(fd, len(want) + 10, 0)
    assert got == want, "after %d appends read %r" % (i + 1, got[-40:])
os.close(fd)
PY
for i in 1 2 3; do echo "line $i" >>"$B/own"; done
[ "$(tail -n 3 "$A/own")" = "$(printf 'line 1\nline 2\nline 3')" ] ||
	fail "shell appends from the other mount: $(tail -n 3 "$A/own")"

step "O_TRUNC through a mount racing an S3 PUT of the same key: one whole body wins"
s3d_start
mkdir "$A/race"
# the S3 user owns the bucket the mount made (its S3 owner is its uid)
chown 1000:1000 "$A/race"
python3 - "$A/race" "$B/race" "$rounds" <<'PY' || fail "O_TRUNC against PUT"
import os, random, sys, threading, boto3, botocore.config
da, db, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]) * 5
s3 = boto3.client("s3", endpoint_url=os.environ["S3_URL"],
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
rng = random.Random(5)
for r in range(rounds):
    key = "k%d" % r
    old, x, y = (rng.randbytes(1 << 20) for _ in range(3))
    s3.put_object(Bucket="race", Key=key, Body=old)
    def trunc_write():
        fd = os.open(os.path.join(da, key), os.O_WRONLY | os.O_TRUNC)
        for i in range(0, len(x), 65536):
            os.write(fd, x[i:i + 65536])
        os.close(fd)
    def put():
        s3.put_object(Bucket="race", Key=key, Body=y)
    errors = []
    def guarded(fn):
        try:
            fn()
        except Exception as e:
            errors.append("%s: %r" % (fn.__name__, e))
    ts = [threading.Thread(target=guarded, args=(f,)) for f in (trunc_write, put)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert not errors, "round %d: %s" % (r, errors)
    via_mount = open(os.path.join(db, key), "rb").read()
    via_s3 = s3.get_object(Bucket="race", Key=key)["Body"].read()
    for face, got in (("mount", via_mount), ("S3", via_s3)):
        assert got in (x, y), "round %d: %s reads %d bytes, neither body" % (
            r, face, len(got))
    assert via_mount == via_s3, "round %d: the faces disagree" % r
PY

step "a file open on one mount and removed on another (and over S3) stays usable until closed"
python3 - "$A/race" "$B/race" <<'PY' || fail "removed while open elsewhere"
import os, sys, boto3, botocore.config
da, db = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=os.environ["S3_URL"],
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
body = os.urandom(3 << 20)
for how in ("unlink", "rename", "s3"):
    path = os.path.join(da, "held-" + how)
    with open(path, "wb") as f:
        f.write(body)
    fd = os.open(path, os.O_RDWR)
    if how == "unlink":
        os.unlink(os.path.join(db, "held-" + how))
    elif how == "rename":
        open(os.path.join(db, "other"), "wb").write(b"new")
        os.rename(os.path.join(db, "other"), os.path.join(db, "held-" + how))
    else:
        s3.delete_object(Bucket="race", Key="held-" + how)
    got = os.pread(fd, len(body) + 1, 0)
    assert got == body, "%s: the open file reads %d bytes" % (how, len(got))
    os.pwrite(fd, b"still here", 100)
    assert os.pread(fd, 10, 100) == b"still here", how + ": write lost"
    os.fsync(fd)
    os.close(fd)
PY
[ ! -e "$B/race/held-unlink" ] || fail "the unlinked name came back"
# (within a second: once, under a loaded make check, mount A still
# answered ENOENT for the name right after mount B's rename)
eventually 1 sh -c '[ "$(cat "$1")" = new ]' sh "$A/race/held-rename" ||
	fail "renamed-over name reads $(cat "$A/race/held-rename")"

fused_stop "$B"
fused_stop "$A"
fsck_clean
echo "PASS"
