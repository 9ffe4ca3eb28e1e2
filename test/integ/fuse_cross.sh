#!/bin/bash
# test/integ/fuse_cross.sh - one cluster, two ways in: a file written
# through an agora-fused mount reads back byte-equal with agora get, a
# file stored with agora put reads back through the mount, and writing the
# same large file twice through the mount stores its data once.
. "$(dirname "$0")/lib.sh"

M=$T/mnt
big=$((64 << 20))
[ "$AGORA_LONG" = 1 ] && big=$((256 << 20))

stored() { ag status -b | awk '$1 == "stored_bytes" { print $2 }'; }

write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
fused_start "$M"

step "files written through the mount read back with agora get"
mkdir "$M/in"
for kind in random text zero; do
	for size in 0 1 4097 $((3 << 20)); do
		f=$T/$kind-$size
		mkdata "$f" "$size" "$kind"
		cp "$f" "$M/in/$kind-$size"
		same "$f" "/in/$kind-$size"
	done
done
# written in small pieces, out of order, with an overwrite
mkdata "$T/pieces" $((5 << 20)) random
python3 - "$T/pieces" "$M/in/pieces" <<'PY' || fail "pieces writer failed"
import os, random, sys
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_CREAT | os.O_WRONLY, 0o644)
blocks = list(range(0, len(data), 65536))
random.Random(7).shuffle(blocks)
for off in blocks:
    os.pwrite(fd, b"x" * 65536, off)
for off in blocks:
    os.pwrite(fd, data[off:off + 65536], off)
os.close(fd)
PY
same "$T/pieces" /in/pieces
# past the 32 MiB a file buffers: appends stream out in pieces while
# overwrites land behind them, and reads through another descriptor see
# every byte as written
python3 - "$M/in/mixed" "$T/mixed" <<'PY' || fail "mixed writer failed"
import os, random, sys
rng = random.Random(11)
size = 96 << 20
ref = bytearray(size)
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)
rd = os.open(sys.argv[1], os.O_RDONLY)
off = 0
while off < size:
    n = min(size - off, rng.choice([4096, 131072, 1 << 20]))
    b = rng.randbytes(n)
    os.write(fd, b)
    ref[off:off + n] = b
    off += n
    if rng.random() < 0.05:
        o = rng.randrange(off)
        b = rng.randbytes(min(rng.choice([1, 5000, 300000]), off - o))
        os.pwrite(fd, b, o)
        ref[o:o + len(b)] = b
    if rng.random() < 0.05:
        o = rng.randrange(off)
        n = min(rng.choice([100, 70000, 2 << 20]), off - o)
        assert os.pread(rd, n, o) == ref[o:o + n], "read at %d" % o
os.close(rd)
os.close(fd)
open(sys.argv[2], "wb").write(ref)
PY
same "$T/mixed" /in/mixed
cmp "$T/mixed" "$M/in/mixed" || fail "mixed file reads back differently"

step "files stored with agora put read back through the mount"
ag mkdir /out || fail "mkdir /out"
for kind in random text; do
	f=$T/put-$kind
	mkdata "$f" $((7 << 20)) "$kind"
	ag put "$f" "/out/$kind" || fail "put $kind"
	cmp "$f" "$M/out/$kind" || fail "mount reads /out/$kind differently"
done
# a put over a file the mount has read: the next open sees the new bytes
mkdata "$T/put-again" $((2 << 20)) random
ag put "$T/put-again" /out/random || fail "put over /out/random"
sleep 1.2 # attributes cached by the kernel for up to 1 s
cmp "$T/put-again" "$M/out/random" || fail "mount kept the old /out/random"

step "the same large file written twice through the mount is stored once"
mkdata "$T/big" "$big" random
before=$(stored)
cp "$T/big" "$M/big1"
mid=$(stored)
cp "$T/big" "$M/big2"
after=$(stored)
say "stored bytes: $before, after one copy $mid, after two $after"
[ $((mid - before)) -ge $((big * 9 / 10)) ] || fail "first copy stored only $((mid - before))"
[ $((after - mid)) -le $((big / 50)) ] ||
	fail "second copy stored $((after - mid)) new bytes of $big"
same "$T/big" /big2
ag put "$T/big" /big3 || fail "put of the same file"
final=$(stored)
say "after a put of the same bytes: $final"
[ $((final - after)) -le $((big / 20)) ] ||
	fail "put after the mount's copies stored $((final - after)) new bytes"

step "SIGTERM unmounts cleanly, committing what open files buffer"
python3 - "$M/open-at-exit" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"still open" * 1000)
time.sleep(30)
PY
holder=$!
started_pids+=("$holder")
sleep 1
kill -TERM "$FUSED_PID"
wait_gone "$FUSED_PID" 20 || fail "agora-fused ignored SIGTERM"
mountpoint -q "$M" && fail "still mounted after SIGTERM"
kill "$holder" 2>/dev/null || true
ag stat /open-at-exit | grep -q 10000 || fail "buffered bytes of an open file lost at SIGTERM"

step "fsck is clean"
ag fsck >"$T/fsck" || fail "fsck: $(tail -n 5 "$T/fsck")"
