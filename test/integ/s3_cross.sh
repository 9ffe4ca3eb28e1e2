# test/integ/s3_cross.sh - one namespace for S3 and the agora tool: put on
# one side, read on the other (byte-equal, stored once), directories made
# over POSIX seen as prefixes, removal seen both ways, owners from the
# S3 user, users known to every gateway (a second one started later).
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v aws >/dev/null || skip "awscli is not installed"

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start
export AWS_PAGER=""

# dedup_figures: the exact unique bytes, stored bytes and chunk count
dedup_figures() {
	ag status -b | awk '$1 ~ /^(unique_bytes|stored_bytes|chunks)$/ { printf "%s %s ", $1, $2 }'
}

step "agora put, then S3 GET and HEAD: same bytes, ETag is the MD5"
mkdata "$T/f" $((5 << 20)) random
# the S3 user's bucket (it writes below), the agora tool's (root's) files
awsc s3 mb s3://cross >/dev/null || fail "mb"
ag mkdir /cross/posix || fail "agora mkdir"
ag put "$T/f" /cross/posix/f || fail "agora put"
awsc s3 cp --no-progress s3://cross/posix/f "$T/f.s3" >/dev/null || fail "S3 GET of an agora put"
cmp -s "$T/f" "$T/f.s3" || fail "S3 GET differs"
etag=$(awsc s3api head-object --bucket cross --key posix/f --query ETag --output text)
[ "$etag" = "\"$(md5sum <"$T/f" | cut -c1-32)\"" ] || fail "ETag of an agora put: $etag"
before=$(dedup_figures)

step "S3 PUT of the same bytes, then agora get: equal, and stored once"
awsc s3api put-object --bucket cross --key s3side/f --body "$T/f" >/dev/null || fail "S3 PUT"
same "$T/f" /cross/s3side/f
after=$(dedup_figures)
say "before: $before"
say "after:  $after"
[ -n "$before" ] && [ "$before" = "$after" ] || fail "the second copy stored new data: $before-> $after"

step "S3-created elements: 0644 files, 0755 implicit dirs, owner of the S3 user"
out=$(ag stat /cross/s3side/f)
grep -q "^uid *1000$" <<<"$out" && grep -q "^mode *0644$" <<<"$out" || fail "file: $out"
out=$(ag stat /cross/s3side)
grep -q "^uid *1000$" <<<"$out" && grep -q "^mode *0755$" <<<"$out" || fail "dir: $out"

step "every write another client has had acknowledged is read at once over S3"
# agora put is another client of metad; the gateway learns its commits
# from metad's notices, not by asking: each GET must see the put before it
AGORA_BIN=$AGORA CONF=$CONF T=$T python3 - <<'PY' || fail "a GET missed an acknowledged put"
import os, subprocess, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_URL"])
path = os.path.join(os.environ["T"], "v")
for i in range(100):
    body = b"version %d\n" % i
    with open(path, "wb") as f:
        f.write(body)
    subprocess.run([os.environ["AGORA_BIN"], "-c", os.environ["CONF"], "put",
                    path, "/cross/versions"], check=True)
    got = s3.get_object(Bucket="cross", Key="versions")["Body"].read()
    if got != body:
        print("FAIL: put %d acknowledged, GET read %r" % (i, got))
        raise SystemExit(1)
PY
ag rm /cross/versions || fail "agora rm versions"

step "directories made over POSIX list as prefixes and as dir/ keys"
ag mkdir /cross/made || fail "agora mkdir made"
got=$(awsc s3api list-objects-v2 --bucket cross --delimiter / --query 'CommonPrefixes[].Prefix' --output text)
[ "$got" = "made/	posix/	s3side/" ] || fail "prefixes: $got"
got=$(awsc s3api list-objects-v2 --bucket cross --prefix made --query 'Contents[].Key' --output text)
[ "$got" = "made/" ] || fail "explicit dir key: $got"

step "removal is seen both ways; S3 DELETE keeps explicit dirs, drops implicit ones"
ag rm /cross/posix/f || fail "agora rm"
expect_fail "S3 GET after agora rm" "An error occurred \(404\) when calling the HeadObject" awsc s3api head-object --bucket cross --key posix/f
awsc s3 rm s3://cross/s3side/f >/dev/null || fail "S3 DELETE"
expect_fail "agora get after S3 DELETE" "/cross/s3side/f: No such file or directory" ag get /cross/s3side/f "$T/x"
ag stat /cross/s3side >/dev/null 2>&1 && fail "implicit /cross/s3side left behind"
ag stat /cross/posix >/dev/null || fail "explicit /cross/posix was removed"

step "a second gateway started later knows the users"
s3d_stop
s3d_start
awsc s3 ls s3://cross >/dev/null || fail "restarted gateway refuses the user"

s3d_alive
s3d_stop
step "fsck is clean"
fsck_clean
