# test/integ/s3_basic.sh - awscli (s3 and s3api) against agora-s3d: buckets,
# small and multipart (64 MiB and more) uploads and downloads, sync,
# metadata, ranges, conditions (conditional puts too), copy, listing,
# presigned URLs, deletes, and the errors of each; the gateway stays up and
# fsck stays clean.
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v aws >/dev/null || skip "awscli is not installed"

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start
export AWS_PAGER=""

step "user add/list/remove"
users=$(ag user list)
grep -q "^tester $S3_ACCESS uid=1000 gid=1000$" <<<"$users" || fail "user list: $users"
read -r k2 _ < <(ag user add second) || fail "user add second"
grep -q "^second $k2" <<<"$(ag user list)" || fail "second user not listed"
expect_fail "adding a user twice" "second: File exists" ag user add second
ag user remove second || fail "user remove"
! grep -q "^second" <<<"$(ag user list)" || fail "removed user still listed"

step "mb, ls, rb of an empty bucket; bad names refused"
awsc s3 mb s3://one >/dev/null || fail "mb"
awsc s3 mb s3://two >/dev/null || fail "mb two"
grep -q " one$" <<<"$(awsc s3 ls)" || fail "ls does not show the bucket"
awsc s3 rb s3://two >/dev/null || fail "rb"
expect_fail "mb of an invalid name" "InvalidBucketName" awsc s3 mb s3://Bad_Name
grep -q InvalidBucketName "$T/err" || fail "no InvalidBucketName: $(cat "$T/err")"
expect_fail "mb of an existing bucket" "BucketAlreadyOwnedByYou" awsc s3 mb s3://one

step "cp up and down: small, and 72 MiB multipart"
mkdata "$T/small" 100000 random
mkdata "$T/big" $((72 << 20)) random
awsc s3 cp --no-progress "$T/small" s3://one/dir/small >/dev/null || fail "cp small up"
awsc s3 cp --no-progress "$T/big" s3://one/dir/big >/dev/null || fail "cp big up"
awsc s3 cp --no-progress s3://one/dir/small "$T/small.back" >/dev/null || fail "cp small down"
awsc s3 cp --no-progress s3://one/dir/big "$T/big.back" >/dev/null || fail "cp big down"
cmp -s "$T/small" "$T/small.back" || fail "small differs"
cmp -s "$T/big" "$T/big.back" || fail "big differs"
etag=$(awsc s3api head-object --bucket one --key dir/small --query ETag --output text)
[ "$etag" = "\"$(md5sum <"$T/small" | cut -c1-32)\"" ] || fail "small ETag $etag"
etag=$(awsc s3api head-object --bucket one --key dir/big --query ETag --output text)
case $etag in *-9\") ;; *) fail "multipart ETag $etag" ;; esac
same "$T/big" /one/dir/big

step "s3api put-object with metadata; head shows it"
awsc s3api put-object --bucket one --key meta/obj --body "$T/small" \
	--content-type text/x-agora --metadata team=storage,tier=gold >/dev/null || fail "put-object"
out=$(awsc s3api head-object --bucket one --key meta/obj --output json)
grep -q '"ContentType": "text/x-agora"' <<<"$out" || fail "content type: $out"
grep -q '"team": "storage"' <<<"$out" || fail "metadata: $out"

step "ranged and conditional get"
awsc s3api get-object --bucket one --key dir/small --range bytes=10-19 "$T/part" >/dev/null ||
	fail "ranged get"
cmp -s "$T/part" <(head -c 20 "$T/small" | tail -c 10) || fail "range bytes differ"
expect_fail "get with a matching If-None-Match (304)" "An error occurred \(304\)" \
	awsc s3api get-object --bucket one --key dir/small --if-none-match "$(md5sum <"$T/small" | cut -c1-32)" "$T/x"
expect_fail "get with a wrong If-Match (412)" "PreconditionFailed" \
	awsc s3api get-object --bucket one --key dir/small --if-match '"nope"' "$T/x"
expect_fail "get past the end (416)" "InvalidRange" \
	awsc s3api get-object --bucket one --key dir/small --range bytes=200000- "$T/x"

step "conditional put: awscli --if-none-match, curl sees the S3 error document"
awsc s3api put-object --bucket one --key cond/k --body "$T/small" --if-none-match '*' >/dev/null ||
	fail "put-object --if-none-match '*' of a new key"
expect_fail "put-object --if-none-match '*' over an object (412)" PreconditionFailed \
	awsc s3api put-object --bucket one --key cond/k --body "$T/small" --if-none-match '*'
code=$(curl -s -o "$T/cond.xml" -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 \
	--user "$S3_ACCESS:$S3_SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
	-H 'If-None-Match: *' -T "$T/small" "$S3_URL/one/cond/k")
[ "$code" = 412 ] || fail "curl PUT with If-None-Match: * over an object: $code"
grep -q '<Code>PreconditionFailed</Code>' "$T/cond.xml" || fail "412 document: $(cat "$T/cond.xml")"
code=$(curl -s -o "$T/cond.xml" -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 \
	--user "$S3_ACCESS:$S3_SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
	-H "If-Match: \"$(md5sum <"$T/small" | cut -c1-32)\"" -T "$T/small" "$S3_URL/one/cond/k")
[ "$code" = 200 ] || fail "curl PUT with a matching If-Match: $code $(cat "$T/cond.xml")"

step "listing: prefixes, delimiter, recursive"
for k in a/1 a/2 a/b/3 c; do
	awsc s3 cp --no-progress "$T/small" "s3://one/list/$k" >/dev/null || fail "cp $k"
done
got=$(awsc s3api list-objects-v2 --bucket one --prefix list/ --delimiter / \
	--query 'CommonPrefixes[].Prefix' --output text)
[ "$got" = "list/a/" ] || fail "common prefixes: $got"
got=$(awsc s3 ls --recursive s3://one/list/ | awk '{print $4}' | tr '\n' ' ')
[ "$got" = "list/a/1 list/a/2 list/a/b/3 list/c " ] || fail "recursive ls: $got"
got=$(awsc s3api list-objects --bucket one --prefix list/a/ --max-items 2 --query 'Contents[].Key' --output text)
[ "$(echo "$got" | head -n 1)" = "list/a/1	list/a/2" ] || fail "v1 paging: $got"

step "sync a tree up and back"
mkdir -p "$T/tree/x/y"
for i in 1 2 3; do mkdata "$T/tree/x/f$i" $((i * 30000)) text; done
mkdata "$T/tree/x/y/deep" 5000 random
awsc s3 sync --no-progress "$T/tree" s3://one/tree >/dev/null || fail "sync up"
awsc s3 sync --no-progress s3://one/tree "$T/tree.back" >/dev/null || fail "sync down"
diff -r "$T/tree" "$T/tree.back" || fail "synced tree differs"

step "copy and move"
awsc s3 cp --no-progress s3://one/dir/big s3://one/copy/big >/dev/null || fail "server-side copy"
awsc s3 mv --no-progress s3://one/dir/small s3://one/moved/small >/dev/null || fail "mv"
expect_fail "get of the moved key" "An error occurred \(404\) when calling the HeadObject" awsc s3api head-object --bucket one --key dir/small
awsc s3 cp --no-progress s3://one/copy/big "$T/copy.back" >/dev/null || fail "get copy"
cmp -s "$T/big" "$T/copy.back" || fail "copy differs"

step "presigned URL: works, expires"
url=$(awsc s3 presign s3://one/moved/small --expires-in 60) || fail "presign"
curl -sf -o "$T/pre" "$url" || fail "presigned GET failed"
cmp -s "$T/small" "$T/pre" || fail "presigned data differs"
url=$(awsc s3 presign s3://one/moved/small --expires-in 1)
sleep 2
code=$(curl -s -o "$T/pre.err" -w '%{http_code}' "$url")
[ "$code" = 403 ] && grep -q "expired" "$T/pre.err" || fail "expired URL: $code $(cat "$T/pre.err")"

step "errors: missing key and bucket, non-empty rb, bad credentials"
expect_fail "get of a missing key" "An error occurred \(404\)" awsc s3 cp s3://one/none "$T/x"
expect_fail "ls of a missing bucket" "NoSuchBucket" awsc s3 ls s3://nosuch
grep -q NoSuchBucket "$T/err" || fail "no NoSuchBucket: $(cat "$T/err")"
expect_fail "rb of a non-empty bucket" "BucketNotEmpty" awsc s3 rb s3://one
AWS_SECRET_ACCESS_KEY=wrong expect_fail "wrong secret" "SignatureDoesNotMatch" awsc s3 ls
grep -q SignatureDoesNotMatch "$T/err" || fail "no SignatureDoesNotMatch: $(cat "$T/err")"
AWS_ACCESS_KEY_ID=NOSUCHKEY expect_fail "unknown access key" "InvalidAccessKeyId" awsc s3 ls
grep -q InvalidAccessKeyId "$T/err" || fail "no InvalidAccessKeyId: $(cat "$T/err")"

step "rm --recursive, rb; implicit directories are gone"
awsc s3 rm --recursive s3://one >/dev/null || fail "rm --recursive"
[ -z "$(ag ls /one)" ] || fail "directories left behind: $(ag ls /one)"
awsc s3 rb s3://one >/dev/null || fail "rb after rm"
s3d_alive
s3d_stop

step "with agora-metad killed, SIGTERM still stops agora-s3d at once"
s3d_start
awsc s3 ls >/dev/null || fail "ls after restart"
metad_kill
kill -TERM "$S3D_PID"
wait_gone "$S3D_PID" 10 || fail "agora-s3d took over 10 s to stop without metad"
metad_start
step "fsck is clean"
fsck_clean
