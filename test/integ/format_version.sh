#!/bin/bash
# test/integ/format_version.sh - drives labelled with another on-drive
# format version (an older Agora's) are refused: every tool and daemon
# that opens the cluster exits non-zero and says which format the drive
# has, which this Agora reads, and what to do; and nothing is written to
# the drives. The label is rewritten with version 3 (the format before
# this one: other EVENT records) and a valid
# checksum, so the refusal is for the version and not for damage.
. "$(dirname "$0")/lib.sh"

write_conf
want="formatted with on-drive format 3; this Agora reads format 4: copy the data out"

step "a cluster with a file"
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
mkdata "$T/f" 100000 random
ag put "$T/f" /f || fail "put exited $?"
metad_stop

# relabel VERSION: every drive's label says VERSION, its crc32c made
# good again (the label's own checksum, format.h, checked against the
# stored one first).
relabel() {
	python3 - "$1" "$T"/d[0-9] <<'PY'
import struct, sys
def crc32c(data, crc=0xffffffff):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc
version = int(sys.argv[1])
for path in sys.argv[2:]:
    with open(path, "r+b") as f:
        label = bytearray(f.read(4096))
        stored = struct.unpack_from("<I", label, 4092)[0]
        if crc32c(label[:4092]) != stored:
            sys.exit("%s: label checksum not reproduced" % path)
        struct.pack_into("<I", label, 8, version)
        struct.pack_into("<I", label, 4092, crc32c(label[:4092]))
        f.seek(0)
        f.write(label)
PY
}

step "drives relabelled with format 3 are refused by every program"
relabel 3 || fail "cannot relabel the drives"
sums_before=$(md5sum "$T"/d[0-9])
expect_fail "agora ls" "$want" ag ls /
expect_fail "agora fsck" "$want" ag fsck
expect_fail "agora status" "$want" ag status
# the daemons say it in their logs ([metad] log, [s3] log, -o log)
: >"$T/metad.log"
expect_fail "agora-metad" "exit 1" \
	timeout "$AGORA_TIMEOUT" "$METAD" -c "$CONF"
grep -q "$want" "$T/metad.log" || fail "agora-metad did not say why"
: >"$T/metad.log"
expect_fail "agora-metad -d" "exit 1" \
	timeout "$AGORA_TIMEOUT" "$METAD" -c "$CONF" -d -p "$PIDFILE"
grep -q "$want" "$T/metad.log" || fail "agora-metad -d did not say why"
mkdir -p "$T/mnt"
expect_fail "agora-fused" "$want" \
	timeout "$AGORA_TIMEOUT" "$FUSED" -c "$CONF" -f "$T/mnt"
mountpoint -q "$T/mnt" && fail "agora-fused mounted drives of format 3"
cat >>"$CONF" <<CONF

[s3]
listen = 127.0.0.1:$(free_port)
log = $T/s3d.log
CONF
expect_fail "agora-s3d" "exit 1" \
	timeout "$AGORA_TIMEOUT" "$S3D" -c "$CONF"
grep -q "$want" "$T/s3d.log" || fail "agora-s3d did not say why"
expect_fail "agora mkfs without --force" "already holds an Agora label" \
	ag mkfs
[ "$(md5sum "$T"/d[0-9])" = "$sums_before" ] ||
	fail "a refused program wrote to the drives"

step "the same drives labelled back with format 4 read as before"
relabel 4 || fail "cannot relabel the drives"
metad_start
same "$T/f" /f
fsck_clean
say "ok"
