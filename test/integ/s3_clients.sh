# test/integ/s3_clients.sh - s3cmd and rclone against agora-s3d: buckets,
# put/get (small and multipart), listing, sync, copy, delete, errors.
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v s3cmd >/dev/null || skip "s3cmd is not installed"
command -v rclone >/dev/null || skip "rclone is not installed"

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start

cat >"$T/s3cfg" <<CFG
[default]
access_key = $S3_ACCESS
secret_key = $S3_SECRET
host_base = 127.0.0.1:$S3_PORT
host_bucket = 127.0.0.1:$S3_PORT
use_https = False
signature_v2 = False
check_ssl_certificate = False
multipart_chunk_size_mb = 8
CFG
s3c() { timeout "$AGORA_TIMEOUT" s3cmd -c "$T/s3cfg" --no-progress "$@"; }

cat >"$T/rclone.conf" <<CFG
[ag]
type = s3
provider = Other
access_key_id = $S3_ACCESS
secret_access_key = $S3_SECRET
endpoint = $S3_URL
force_path_style = true
region = us-east-1
CFG
# rclone refuses a custom CA bundle on its own transport: drop it
rc() { env -u AWS_CA_BUNDLE timeout "$AGORA_TIMEOUT" rclone --config "$T/rclone.conf" "$@"; }

mkdata "$T/small" 123457 random
mkdata "$T/big" $((66 << 20)) random

step "s3cmd: mb, put small and multipart, ls, get, info"
s3c mb s3://cmd >/dev/null || fail "s3cmd mb"
s3c put "$T/small" s3://cmd/a/small >/dev/null || fail "s3cmd put small"
s3c put "$T/big" s3://cmd/a/big >/dev/null || fail "s3cmd put big"
out=$(s3c ls s3://cmd/a/)
grep -q "s3://cmd/a/small" <<<"$out" && grep -q "s3://cmd/a/big" <<<"$out" || fail "s3cmd ls: $out"
s3c get s3://cmd/a/big "$T/big.1" >/dev/null || fail "s3cmd get"
cmp -s "$T/big" "$T/big.1" || fail "s3cmd get differs"
out=$(s3c info s3://cmd/a/small)
grep -q "MD5 sum: *$(md5sum <"$T/small" | cut -c1-32)" <<<"$out" || fail "s3cmd info: $out"

step "s3cmd: sync, cp, du, del, errors"
mkdir -p "$T/tree/d"
for i in 1 2 3; do mkdata "$T/tree/d/f$i" $((i * 7000)) text; done
s3c sync "$T/tree/" s3://cmd/tree/ >/dev/null || fail "s3cmd sync"
s3c cp s3://cmd/a/small s3://cmd/b/copy >/dev/null || fail "s3cmd cp"
s3c get s3://cmd/b/copy "$T/copy.1" >/dev/null && cmp -s "$T/small" "$T/copy.1" || fail "s3cmd cp data"
out=$(s3c du s3://cmd)
grep -q "^ *$((123457 * 2 + (66 << 20) + 42000)) " <<<"$out" || fail "s3cmd du: $out"
expect_fail "s3cmd get of a missing key" "Source object .s3://cmd/none. does not exist" s3c get s3://cmd/none "$T/none"
expect_fail "s3cmd rb of a non-empty bucket" "409 \(BucketNotEmpty\)" s3c rb s3://cmd
s3c del --recursive --force s3://cmd >/dev/null || fail "s3cmd del --recursive"
s3c rb s3://cmd >/dev/null || fail "s3cmd rb"

step "rclone: mkdir, copy a tree (small and multipart), check, lsf, cat"
rc mkdir ag:clone || fail "rclone mkdir"
cp "$T/big" "$T/tree/big"
rc copy "$T/tree" ag:clone/t || fail "rclone copy"
rc check "$T/tree" ag:clone/t || fail "rclone check"
got=$(rc lsf -R ag:clone/t | LC_ALL=C sort | tr '\n' ' ')
[ "$got" = "big d/ d/f1 d/f2 d/f3 " ] || fail "rclone lsf: $got"
rc cat ag:clone/t/d/f2 | cmp -s - "$T/tree/d/f2" || fail "rclone cat"

step "rclone: moveto, sync --delete, purge"
rc moveto ag:clone/t/d/f1 ag:clone/t/e/f1 || fail "rclone moveto"
rm "$T/tree/d/f3"
rc sync "$T/tree" ag:clone/t || fail "rclone sync"
got=$(rc lsf -R ag:clone/t | LC_ALL=C sort | tr '\n' ' ')
[ "$got" = "big d/ d/f1 d/f2 " ] || fail "rclone after sync: $got"
rc purge ag:clone || fail "rclone purge"
expect_fail "rclone lsf of a purged bucket" "directory not found" rc lsf ag:clone

s3d_alive
s3d_stop
step "fsck is clean"
fsck_clean
