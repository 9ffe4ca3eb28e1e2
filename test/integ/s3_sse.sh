# test/integ/s3_sse.sh - server-side encryption as clients ask for it:
# SSE-C (the customer's key on every request, never stored) and SSE-S3
# (the cluster key of [s3] sse_key_file, outside the drives), through
# boto3 in s3_sse_cases.py and awscli here; the drives never hold the
# plaintext, the mount and the agora tool refuse the ciphertext, a key
# file others may read is refused, and what is not served answers 501.
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v aws >/dev/null || skip "awscli is not installed"
python3 -c 'import boto3' 2>/dev/null || skip "python3-boto3 is not installed"
[ -x "$AGORA_BUILDDIR/fused/agora-fused" ] || skip "agora-fused is not built"

M=$T/mnt
write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start
s3d_stop

step "a cluster key others may read is refused; one of 0600 is taken"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/sse.key"
chmod 0644 "$T/sse.key"
echo "sse_key_file = $T/sse.key" >>"$CONF"
expect_fail "a world-readable key" "readable by others" "$S3D" -c "$CONF" -d
chmod 0600 "$T/sse.key"
s3d_start
fused_start "$M"
export AWS_PAGER=""

step "awscli: SSE-S3 with s3 cp --sse AES256, read back plainly"
head -c 300000 /dev/urandom >"$T/plain.bin"
awsc s3 mb s3://sec >/dev/null || fail "mb"
chown 1000:1000 "$M/sec"
awsc s3 cp --no-progress --sse AES256 "$T/plain.bin" s3://sec/cli.bin >/dev/null || fail "cp --sse"
got=$(awsc s3api head-object --bucket sec --key cli.bin --query ServerSideEncryption --output text)
[ "$got" = AES256 ] || fail "head-object ServerSideEncryption: $got"
awsc s3 cp --no-progress s3://sec/cli.bin "$T/back.bin" >/dev/null || fail "cp back"
cmp -s "$T/plain.bin" "$T/back.bin" || fail "SSE-S3 bytes differ"

step "awscli: s3 cp --sse-c of a 20 MiB file (a multipart upload) and back"
head -c 32 /dev/urandom >"$T/c.key"
head -c $((20 << 20)) /dev/urandom >"$T/big.bin"
awsc s3 cp --no-progress --sse-c AES256 --sse-c-key "fileb://$T/c.key" "$T/big.bin" s3://sec/big.bin \
	>/dev/null || fail "cp --sse-c"
expect_fail "cp back without the key" "400|Bad Request|InvalidRequest" awsc s3 cp s3://sec/big.bin "$T/x"
awsc s3 cp --no-progress --sse-c AES256 --sse-c-key "fileb://$T/c.key" s3://sec/big.bin "$T/big.back" \
	>/dev/null || fail "cp back with the key"
cmp -s "$T/big.bin" "$T/big.back" || fail "SSE-C multipart bytes differ"

step "boto3: SSE-C and SSE-S3, right, wrong and missing keys (s3_sse_cases.py)"
export M AGORA CONF T
timeout $((AGORA_TIMEOUT * 5)) python3 "$(dirname "${BASH_SOURCE[0]}")/s3_sse_cases.py" ||
	fail "s3_sse_cases.py exited $?"

step "the mount and agora get refuse an encrypted object (EACCES); a plain one reads"
expect_fail "cat of an encrypted object" "Permission denied" cat "$M/sec/cli.bin"
expect_fail "agora get of an encrypted object" "ermission denied" ag get /sec/cli.bin "$T/x"
cat "$M/sec/plain" >/dev/null || fail "a plain object no longer reads over the mount"

s3d_alive
fused_stop "$M"
s3d_stop
step "fsck is clean"
fsck_clean
