# test/integ/s3_auth.sh - S3 tenants and permissions with four users and
# no one: owners, canned ACLs, grants, the modes the mount sets (a 0600
# file and a 0700 directory made over FUSE stay their owner's), anonymous
# requests; boto3 in s3_auth_rules.py, awscli here. Every rule is checked both
# ways, and each refusal names the error code it expects.
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
fused_start "$M"
export AWS_PAGER=""

step "agora user add with given keys; --key without --secret is refused"
# alice and carol share gid 1001 (carol is in alice's group), bob is
# neither, root is the administrator (uid 0)
ag user add alice --uid 1001 --gid 1001 --key ALICEKEY --secret alicesecret >/dev/null ||
	fail "user add alice"
ag user add bob --uid 1002 --gid 1002 --key BOBKEY --secret bobsecret >/dev/null ||
	fail "user add bob"
ag user add carol --uid 1003 --gid 1001 --key CAROLKEY --secret carolsecret >/dev/null ||
	fail "user add carol"
ag user add root --uid 0 --gid 0 --key ROOTKEY --secret rootsecret >/dev/null ||
	fail "user add root"
expect_fail "--key without --secret" "go together" ag user add dave --key DAVEKEY
ag user list | grep -qx "alice ALICEKEY uid=1001 gid=1001" || fail "user list: $(ag user list)"

# as USER: awscli with that user's keys
as() {
	local who=$1
	shift
	AWS_ACCESS_KEY_ID=${who^^}KEY AWS_SECRET_ACCESS_KEY=${who}secret awsc "$@"
}

step "awscli: a bucket is its owner's; others are refused (AccessDenied) and do not list it"
as alice s3 mb s3://alice-cli >/dev/null || fail "alice mb"
echo hello >"$T/hello"
as alice s3 cp --no-progress "$T/hello" s3://alice-cli/hello >/dev/null || fail "alice cp"
as alice s3 ls | grep -q ' alice-cli$' || fail "alice does not list her bucket"
as bob s3 ls | grep -q 'alice-cli' && fail "bob lists alice's bucket"
expect_fail "bob ls of alice's bucket" "AccessDenied" as bob s3 ls s3://alice-cli
expect_fail "bob cp from alice's bucket" "403" as bob s3 cp s3://alice-cli/hello "$T/x"
expect_fail "bob cp into alice's bucket" "AccessDenied" as bob s3 cp "$T/hello" s3://alice-cli/bob
expect_fail "bob rb of alice's bucket" "AccessDenied" as bob s3 rb s3://alice-cli
expect_fail "bob mb of alice's bucket name" "BucketAlreadyExists" as bob s3 mb s3://alice-cli
as root s3 cp --no-progress s3://alice-cli/hello "$T/x" >/dev/null || fail "the administrator is refused"

step "awscli: put-object-acl public-read opens one object to bob and to no one"
as alice s3api put-object-acl --bucket alice-cli --key hello --acl public-read || fail "put-object-acl"
as bob s3 cp --no-progress s3://alice-cli/hello "$T/x" >/dev/null || fail "bob GET of a public-read object"
cmp -s "$T/hello" "$T/x" || fail "bob read other bytes"
code=$(curl -s -o "$T/anon" -w '%{http_code}' "$S3_URL/alice-cli/hello")
[ "$code" = 200 ] && cmp -s "$T/hello" "$T/anon" || fail "anonymous GET of a public-read object: $code"
got=$(as alice s3api get-object-acl --bucket alice-cli --key hello --query 'Grants[].Permission' --output text)
[ "$got" = "FULL_CONTROL	READ" ] || fail "get-object-acl: $got"
as alice s3api put-object-acl --bucket alice-cli --key hello --acl private || fail "put-object-acl private"
expect_fail "bob GET after private" "403" as bob s3 cp s3://alice-cli/hello "$T/x"

step "a file made 0600 over the mount in a 0700 directory stays its owner's"
# alice's bucket, public-read (anyone may list) and every object in it
# granted to everyone: only the modes stand in the way
as alice s3 mb s3://alice-fs >/dev/null || fail "mb alice-fs"
as alice s3api put-bucket-acl --bucket alice-fs --acl public-read || fail "put-bucket-acl"
mkdir -m 0700 "$M/alice-fs/private" || fail "mkdir over FUSE"
echo secret >"$M/alice-fs/private/f"
echo secret >"$M/alice-fs/top600"
echo shared >"$M/alice-fs/top644"
chmod 0600 "$M/alice-fs/private/f" "$M/alice-fs/top600"
chmod 0644 "$M/alice-fs/top644"
chown -R 1001:1001 "$M/alice-fs/private" "$M/alice-fs/top600" "$M/alice-fs/top644"
for k in private/f top600 top644; do
	as alice s3api put-object-acl --bucket alice-fs --key "$k" --acl public-read ||
		fail "put-object-acl $k"
done
as alice s3 cp --no-progress s3://alice-fs/private/f "$T/x" >/dev/null || fail "alice GET of her 0600 file"
as alice s3 cp --no-progress s3://alice-fs/top600 "$T/x" >/dev/null || fail "alice GET of her top600"
as bob s3 cp --no-progress s3://alice-fs/top644 "$T/x" >/dev/null || fail "bob GET of a 0644 file"
expect_fail "bob GET of a 0600 file" "403" as bob s3 cp s3://alice-fs/top600 "$T/x"
expect_fail "bob GET in a 0700 directory" "403" as bob s3 cp s3://alice-fs/private/f "$T/x"
code=$(curl -s -o /dev/null -w '%{http_code}' "$S3_URL/alice-fs/private/f")
[ "$code" = 403 ] || fail "anonymous GET in a 0700 directory: $code"
got=$(as bob s3api list-objects-v2 --bucket alice-fs --query 'Contents[].Key' --output text)
[ "$got" = "private/	top600	top644" ] || fail "bob's listing shows what a 0700 directory holds: $got"
got=$(as alice s3api list-objects-v2 --bucket alice-fs --query 'Contents[].Key' --output text)
[ "$got" = "private/	private/f	top600	top644" ] || fail "alice's listing: $got"

step "boto3: every rule both ways (s3_auth_rules.py)"
export M AGORA CONF
timeout $((AGORA_TIMEOUT * 5)) python3 "$(dirname "${BASH_SOURCE[0]}")/s3_auth_rules.py" ||
	fail "s3_auth_rules.py exited $?"

s3d_alive
fused_stop "$M"
s3d_stop
step "fsck is clean"
fsck_clean
