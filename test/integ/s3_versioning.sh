# test/integ/s3_versioning.sh - S3 versioning as users call it: boto3
# (s3_versions_boto.py) and awscli with two users, the mount's writes,
# renames and unlinks in a versioned bucket, fsck, and the space that
# comes back once every version is deleted.
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

ag user add alice --uid 1001 --gid 1001 --key ALICEKEY --secret alicesecret >/dev/null ||
	fail "user add alice"
ag user add bob --uid 1002 --gid 1002 --key BOBKEY --secret bobsecret >/dev/null ||
	fail "user add bob"
as() {
	local who=$1
	shift
	AWS_ACCESS_KEY_ID=${who^^}KEY AWS_SECRET_ACCESS_KEY=${who}secret awsc "$@"
}

step "boto3: versions, markers, ids, paging, suspend (s3_versions_boto.py)"
BUCKET=vboto timeout $((AGORA_TIMEOUT * 5)) python3 \
	"$(dirname "${BASH_SOURCE[0]}")/s3_versions_boto.py" ||
	fail "s3_versions_boto.py exited $?"

step "awscli: enable, overwrite, list versions, get one by id"
as alice s3 mb s3://vcli >/dev/null || fail "mb"
as alice s3api put-bucket-versioning --bucket vcli \
	--versioning-configuration Status=Enabled || fail "put-bucket-versioning"
got=$(as alice s3api get-bucket-versioning --bucket vcli --query Status --output text)
[ "$got" = Enabled ] || fail "get-bucket-versioning: $got"
expect_fail "bob get-bucket-versioning" "AccessDenied" \
	as bob s3api get-bucket-versioning --bucket vcli
for i in 1 2 3; do
	echo "cli $i" >"$T/v$i"
	as alice s3 cp --no-progress "$T/v$i" s3://vcli/obj >/dev/null || fail "cp $i"
done
ids=$(as alice s3api list-object-versions --bucket vcli --query 'Versions[].VersionId' --output text)
[ "$(wc -w <<<"$ids")" = 3 ] || fail "list-object-versions: $ids"
first=$(awk '{print $3}' <<<"$ids")
as alice s3api get-object --bucket vcli --key obj --version-id "$first" "$T/x" >/dev/null ||
	fail "get-object --version-id"
cmp -s "$T/x" "$T/v1" || fail "the oldest version reads $(cat "$T/x")"
expect_fail "bob get-object --version-id" "AccessDenied" \
	as bob s3api get-object --bucket vcli --key obj --version-id "$first" "$T/x"

step "the mount: a write over an object keeps the old one as a version"
stat "$M/vcli/obj" >/dev/null || fail "the object is not in the mount"
echo "from the mount" >"$M/vcli/obj"
cmp -s "$M/vcli/obj" <(echo "from the mount") || fail "the mount reads $(cat "$M/vcli/obj")"
n=$(as alice s3api list-object-versions --bucket vcli --query 'length(Versions)' --output text)
[ "$n" = 4 ] || fail "versions after a write through the mount: $n"
as alice s3 cp --no-progress s3://vcli/obj "$T/x" >/dev/null || fail "GET after the mount's write"
cmp -s "$T/x" <(echo "from the mount") || fail "S3 reads $(cat "$T/x") after the mount's write"
prev=$(as alice s3api list-object-versions --bucket vcli --query 'Versions[1].VersionId' --output text)
as alice s3api get-object --bucket vcli --key obj --version-id "$prev" "$T/x" >/dev/null ||
	fail "get-object of the version the mount wrote over"
cmp -s "$T/x" "$T/v3" || fail "the version the mount wrote over reads $(cat "$T/x")"

step "the mount: unlink and rename over an object leave versions"
rm "$M/vcli/obj" || fail "rm through the mount"
expect_fail "GET after an unlink through the mount" "404" as alice s3 cp s3://vcli/obj "$T/x"
n=$(as alice s3api list-object-versions --bucket vcli --query 'length(Versions)' --output text)
[ "$n" = 4 ] || fail "versions after an unlink through the mount: $n"
m=$(as alice s3api list-object-versions --bucket vcli --query 'length(DeleteMarkers)' --output text)
[ "$m" = 1 ] || fail "an unlink through the mount left $m delete markers"
# created_events: how many "created" events the log has for /vcli/obj
created_events() {
	ag events | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin
          if json.loads(l)["type"] == "created" and json.loads(l)["path"] == "/vcli/obj"))'
}
before=$(created_events)
mk=$(as alice s3api list-object-versions --bucket vcli --query 'DeleteMarkers[0].VersionId' --output text)
as alice s3api delete-object --bucket vcli --key obj --version-id "$mk" >/dev/null ||
	fail "delete the marker the mount's unlink made"
cmp -s "$M/vcli/obj" <(echo "from the mount") || fail "the mount reads $(cat "$M/vcli/obj" 2>&1) after the marker went"
# the key names an element again: the event log says so (the catalog
# and triggers follow it)
after=$(created_events)
[ "$after" = $((before + 1)) ] ||
	fail "created events of /vcli/obj: $before, then $after when the marker went"

rm "$M/vcli/obj" || fail "rm through the mount, again"
echo "renamed in" >"$M/vcli/tmp"
as alice s3 cp --no-progress "$T/v1" s3://vcli/target >/dev/null || fail "cp target"
mv "$M/vcli/tmp" "$M/vcli/target" || fail "rename over through the mount"
n=$(as alice s3api list-object-versions --bucket vcli --prefix target --query 'length(Versions)' --output text)
[ "$n" = 2 ] || fail "versions of a key renamed over: $n"

step "agora put and agora rm in a versioned bucket: a version, then a delete marker"
echo "from agora put" >"$T/put"
ag put "$T/put" /vcli/target || fail "agora put"
n=$(as alice s3api list-object-versions --bucket vcli --prefix target --query 'length(Versions)' --output text)
[ "$n" = 3 ] || fail "versions of a key agora put wrote over: $n"
ag rm /vcli/target || fail "agora rm"
m=$(as alice s3api list-object-versions --bucket vcli --prefix target --query 'length(DeleteMarkers)' --output text)
[ "$m" = 1 ] || fail "agora rm left $m delete markers"

s3d_alive
step "fsck is clean with versions and markers"
fsck_clean

step "versions share chunks: three versions of 2 MiB, mostly the same bytes, store about one"
head -c $((2 << 20)) /dev/urandom >"$T/big"
for i in 1 2 3; do
	printf 'edit %d' "$i" | dd of="$T/big" bs=1 seek=$((i * 300000)) conv=notrunc status=none
	as alice s3 cp --no-progress "$T/big" s3://vcli/big >/dev/null || fail "cp big $i"
done
ag status >"$T/status" || fail "agora status"
say "with three versions of big: $(grep ^data "$T/status")"
python3 - "$T/status" <<'PY' || fail "the versions do not share chunks: $(grep ^data "$T/status")"
import re, sys
line = [l for l in open(sys.argv[1]) if l.startswith("data")][0]
units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
(lv, lu), (uv, uu) = re.findall(r"([\d.]+) (B|KiB|MiB|GiB)", line)[:2]
logical, unique = float(lv) * units[lu], float(uv) * units[uu]
sys.exit(0 if logical > 6e6 and unique < 3e6 else 1)
PY

step "deleting every version frees the space; a bucket holding versions is not empty"
as alice s3 rb s3://vcli 2>"$T/rb.err" && fail "a bucket holding versions was removed"
grep -q BucketNotEmpty "$T/rb.err" || fail "rb of a bucket with versions: $(cat "$T/rb.err")"
for b in vcli vboto; do
	for kind in Versions DeleteMarkers; do
		as alice s3api list-object-versions --bucket $b \
			--query "$kind[].[Key,VersionId]" --output text || fail "list $b"
	done >"$T/all"
	while read -r key vid; do
		[ -n "$key" ] && [ "$key" != None ] || continue
		as alice s3api delete-object --bucket $b --key "$key" --version-id "$vid" >/dev/null ||
			fail "delete $b/$key $vid"
	done <"$T/all"
	n=$(as alice s3api list-object-versions --bucket $b --query 'length(Versions || `[]`)' --output text)
	[ "$n" = 0 ] || fail "$n versions left in $b"
	# prefixes that directories made over S3 keep stay: the mount removes them
	find "$M/$b" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
	as alice s3 rb s3://$b >/dev/null || fail "rb $b after deleting every version"
done
s3d_alive
# the mount's last close of a file it wrote lets the last version go
fused_stop "$M"
s3d_stop
ag status >"$T/status" || fail "agora status"
grep -q '^data *logical 0 B, after dedup 0 B' "$T/status" ||
	fail "space left after every version went: $(grep ^data "$T/status")"
# the root and what it holds (the multipart uploads' directory)
n=$(($(ag ls / | wc -l) + 1))
grep -q "^elements *$n inodes, 0 chunks" "$T/status" ||
	fail "elements left after every version went: $(grep ^elements "$T/status"), $(ag ls /)"
step "fsck is clean after"
fsck_clean
