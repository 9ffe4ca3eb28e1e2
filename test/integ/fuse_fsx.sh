#!/bin/bash
# test/integ/fuse_fsx.sh - random data operations on one file of an
# agora-fused mount against a model file in the test directory (fsx):
# writes, rewrites of the bytes already there, mapped writes, reads,
# truncates, punched holes, fallocate, copy_file_range, fsync, close and
# reopen. Then the file must read back equal through a remount and
# through `agora get`, and fsck must be clean.
#
# 100,000 operations, 1,000,000 with AGORA_LONG=1, mapped writes on in
# both. The seed is printed; AGORA_SEED=N replays a run, AGORA_FSX_OPS=N
# sets the count (a failure prints both).
. "$(dirname "$0")/lib.sh"

FSX=$AGORA_BUILDDIR/test/integ/fsx
[ -x "$FSX" ] || fail "$FSX not built (make check builds it)"
ops=${AGORA_FSX_OPS:-100000}
[ "$AGORA_LONG" = 1 ] && ops=${AGORA_FSX_OPS:-1000000}
seed=${AGORA_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
M=$T/mnt

write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
fused_start "$M"

step "fsx: $ops operations, seed $seed (AGORA_SEED=$seed AGORA_FSX_OPS=$ops replays)"
rc=0
timeout $((AGORA_TIMEOUT * 10 + ops / 50)) "$FSX" -N "$ops" -S "$seed" "$M/f" "$T/model" || rc=$?
[ "$rc" -eq 0 ] || fail "fsx exited $rc: seed $seed, $ops operations (AGORA_SEED=$seed AGORA_FSX_OPS=$ops)"

step "the file reads back equal after a remount and through agora get"
fused_stop "$M"
fused_start "$M"
cmp "$M/f" "$T/model" || fail "after a remount the file differs from the model"
same "$T/model" /f
fused_stop "$M"

step "fsck is clean"
fsck_clean
echo "PASS: $steps steps, seed $seed"
