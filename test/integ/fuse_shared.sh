#!/bin/bash
# test/integ/fuse_shared.sh - one file, several writers: a rewrite that
# deduplicates against the chunks it replaces (pwrite and mapped writes),
# two mounts writing disjoint ranges of one file at once, and appends
# from two mounts. Every byte a writer wrote must land, and no writer may
# undo another's.
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

fused_stop "$B"
fused_stop "$A"
fsck_clean
echo "PASS"
