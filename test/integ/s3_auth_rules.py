#!/usr/bin/env python3
# test/integ/s3_auth_rules.py - the permission rules of agora-s3d through boto3,
# each both ways, with the users s3_auth.sh makes (alice 1001:1001, bob
# 1002:1002, carol 1003:1001, root 0:0) and anonymous requests: owners,
# canned ACLs, Get/Put of bucket and object ACLs with grants, the modes
# of the POSIX face (read through the mount at $M), and the policy
# subresources that answer 501. Started by s3_auth.sh.
import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["S3_URL"]
M = os.environ["M"]
steps = 0


def step(what):
    global steps
    steps += 1
    print("step %d: %s" % (steps, what), flush=True)


def fail(what):
    print("FAIL: " + what, flush=True)
    sys.exit(1)


def client(who):
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                 signature_version=UNSIGNED if who is None else "s3v4")
    keys = {} if who is None else {"aws_access_key_id": who.upper() + "KEY",
                                   "aws_secret_access_key": who + "secret"}
    return boto3.client("s3", endpoint_url=URL, region_name="us-east-1", config=cfg, **keys)


alice, bob, carol, root, anon = (client(w) for w in ("alice", "bob", "carol", "root", None))


def denied(code, fn, **kw):
    """fn(**kw) must fail with code (AccessDenied when code is None)."""
    code = code or "AccessDenied"
    try:
        fn(**kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        # HEAD carries no body: its status says it
        if got != code and not (code == "AccessDenied" and got == "403"):
            fail("%s %s: expected %s, got %s" % (fn.__name__, kw, code, got))
        return
    fail("%s %s: allowed, expected %s" % (fn.__name__, kw, code))


def allowed(fn, **kw):
    try:
        return fn(**kw)
    except ClientError as e:
        fail("%s %s: refused with %s" % (fn.__name__, kw, e.response["Error"]["Code"]))


def read(c, bucket, key):
    return allowed(c.get_object, Bucket=bucket, Key=key)["Body"].read()


def mode(path):
    """The permission bits of /path, as the cluster has them now (the
    mount may show attributes a second old)."""
    out = subprocess.run([os.environ["AGORA"], "-c", os.environ["CONF"], "stat", path],
                         check=True, capture_output=True, text=True).stdout
    return [int(line.split()[1], 8) for line in out.splitlines() if line.startswith("mode")][0] & 0o777


def buckets(c):
    return [b["Name"] for b in c.list_buckets()["Buckets"]]


def grants(c, **kw):
    acl = c.get_object_acl(**kw) if "Key" in kw else c.get_bucket_acl(**kw)
    return sorted((g["Grantee"].get("ID") or g["Grantee"].get("URI").rsplit("/", 1)[1],
                   g["Permission"]) for g in acl["Grants"])


step("a bucket is its owner's: owner allowed, others AccessDenied, missing keys hidden")
alice.create_bucket(Bucket="alpha")
alice.put_object(Bucket="alpha", Key="doc", Body=b"alice's")
owners = {o["Key"]: o["Owner"]["ID"] for o in
          alice.list_objects_v2(Bucket="alpha", FetchOwner=True)["Contents"]}
if owners != {"doc": "alice"} or alice.list_buckets()["Owner"]["ID"] != "alice":
    fail("the owner's ID in listings: %s" % owners)
if "alpha" not in buckets(alice) or "alpha" in buckets(bob) or "alpha" in buckets(carol):
    fail("ListBuckets: alice %s, bob %s" % (buckets(alice), buckets(bob)))
allowed(alice.head_bucket, Bucket="alpha")
denied(None, bob.head_bucket, Bucket="alpha")
allowed(alice.list_objects_v2, Bucket="alpha")
denied(None, bob.list_objects_v2, Bucket="alpha")
denied(None, bob.get_bucket_location, Bucket="alpha")
denied(None, bob.list_multipart_uploads, Bucket="alpha")
denied(None, bob.get_object, Bucket="alpha", Key="doc")
denied(None, bob.head_object, Bucket="alpha", Key="doc")
denied(None, bob.put_object, Bucket="alpha", Key="doc", Body=b"bob's")
denied(None, bob.delete_object, Bucket="alpha", Key="doc")
# POST ?delete answers for each key, as AWS does
r = bob.delete_objects(Bucket="alpha", Delete={"Objects": [{"Key": "doc"}, {"Key": "nothere"}]})
if sorted(e["Code"] for e in r.get("Errors", [])) != ["AccessDenied", "AccessDenied"] or r.get("Deleted"):
    fail("bob's DeleteObjects in alice's bucket: %s" % r)
denied(None, bob.create_multipart_upload, Bucket="alpha", Key="mp")
denied(None, bob.copy_object, Bucket="alpha", Key="copy", CopySource="alpha/doc")
denied(None, bob.delete_bucket, Bucket="alpha")
denied(None, bob.get_bucket_acl, Bucket="alpha")
denied(None, bob.put_bucket_acl, Bucket="alpha", ACL="public-read")
# a missing key: NoSuchKey to who may list, AccessDenied to others
denied("NoSuchKey", alice.get_object, Bucket="alpha", Key="nothere")
denied(None, bob.get_object, Bucket="alpha", Key="nothere")
denied("BucketAlreadyExists", bob.create_bucket, Bucket="alpha")
denied("BucketAlreadyOwnedByYou", alice.create_bucket, Bucket="alpha")
denied("NoSuchBucket", bob.list_objects_v2, Bucket="nosuchbucket")
if read(alice, "alpha", "doc") != b"alice's":
    fail("alice reads other bytes")
# bob's copy of alice's object into his own bucket: the source is hers
bob.create_bucket(Bucket="bravo")
denied(None, bob.copy_object, Bucket="bravo", Key="stolen", CopySource="alpha/doc")
denied(None, bob.upload_part_copy, Bucket="bravo", Key="stolen", PartNumber=1,
       UploadId=bob.create_multipart_upload(Bucket="bravo", Key="stolen")["UploadId"],
       CopySource="alpha/doc")

step("the administrator (uid 0) passes every check")
if "alpha" not in buckets(root) or "bravo" not in buckets(root):
    fail("root's ListBuckets: %s" % buckets(root))
if read(root, "alpha", "doc") != b"alice's":
    fail("root's GET")
allowed(root.put_object, Bucket="bravo", Key="from-root", Body=b"r")
allowed(root.delete_object, Bucket="bravo", Key="from-root")

step("anonymous requests: refused unless an ACL allows them")
denied(None, anon.list_buckets)
denied(None, anon.get_object, Bucket="alpha", Key="doc")
denied(None, anon.list_objects_v2, Bucket="alpha")
denied(None, anon.put_object, Bucket="alpha", Key="anon", Body=b"x")
denied(None, anon.create_bucket, Bucket="anonbucket")

step("canned ACL public-read: a bucket lists to all, its objects read only with their own")
alice.create_bucket(Bucket="pub", ACL="public-read")
alice.put_object(Bucket="pub", Key="open", Body=b"open", ACL="public-read")
alice.put_object(Bucket="pub", Key="closed", Body=b"closed")
for c in (bob, anon):
    keys = [o["Key"] for o in allowed(c.list_objects_v2, Bucket="pub")["Contents"]]
    if keys != ["closed", "open"]:
        fail("listing of a public-read bucket: %s" % keys)
    if read(c, "pub", "open") != b"open":
        fail("public-read object")
    denied(None, c.get_object, Bucket="pub", Key="closed")
    denied(None, c.put_object, Bucket="pub", Key="new", Body=b"x")
if "pub" not in buckets(bob):
    fail("a public bucket is granted to bob: he lists it")
denied("NoSuchKey", bob.get_object, Bucket="pub", Key="nothere")
if grants(alice, Bucket="pub") != [("AllUsers", "READ"), ("alice", "FULL_CONTROL")]:
    fail("GetBucketAcl of public-read: %s" % grants(alice, Bucket="pub"))
# an overwrite has the ACL its own request asks for (private)
alice.put_object(Bucket="pub", Key="open", Body=b"open again")
denied(None, anon.get_object, Bucket="pub", Key="open")

step("canned ACL authenticated-read: every signed user, never anonymous")
alice.put_object(Bucket="pub", Key="members", Body=b"members", ACL="authenticated-read")
if read(bob, "pub", "members") != b"members":
    fail("authenticated-read for bob")
denied(None, anon.get_object, Bucket="pub", Key="members")

step("canned ACL public-read-write: anyone writes the bucket (its mode follows: 0777)")
alice.create_bucket(Bucket="drop", ACL="public-read-write")
if mode("/drop") != 0o777:
    fail("a public-read-write bucket's mode: %o" % mode("/drop"))
allowed(bob.put_object, Bucket="drop", Key="from-bob", Body=b"bob")
allowed(anon.put_object, Bucket="drop", Key="from-anon", Body=b"anon")


def anon_put(key, body, sha):
    req = urllib.request.Request("%s/drop/%s" % (URL, key), data=body, method="PUT",
                                 headers={"x-amz-content-sha256": sha})
    try:
        return urllib.request.urlopen(req).status, ""
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


# an anonymous body is checked against the hash it names; signed chunks
# cannot be, and are refused
got = anon_put("hashed", b"anon", hashlib.sha256(b"anon").hexdigest())
if got[0] != 200:
    fail("anonymous PUT with its SHA-256: %s" % (got,))
got = anon_put("badhash", b"anon", hashlib.sha256(b"other").hexdigest())
if got[0] != 400 or "XAmzContentSHA256Mismatch" not in got[1]:
    fail("anonymous PUT with another SHA-256: %s" % (got,))
got = anon_put("chunked", b"0;chunk-signature=00\r\n\r\n", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
if got[0] != 403 or "AccessDenied" not in got[1]:
    fail("anonymous signed chunks: %s" % (got,))
st = os.stat(os.path.join(M, "drop", "from-bob"))
if (st.st_uid, st.st_gid) != (1002, 1002):
    fail("bob's object belongs to %d:%d" % (st.st_uid, st.st_gid))
# the bucket's owner has every object in her bucket; carol is not granted
if read(alice, "drop", "from-bob") != b"bob":
    fail("the bucket owner reads bob's object")
denied(None, carol.get_object, Bucket="drop", Key="from-bob")
allowed(bob.put_object, Bucket="drop", Key="bofc", Body=b"b", ACL="bucket-owner-full-control")
if read(alice, "drop", "bofc") != b"b":
    fail("bucket-owner-full-control")
alice.put_bucket_acl(Bucket="drop", ACL="private")
if mode("/drop") != 0o755:
    fail("back to private, the bucket's mode: %o" % mode("/drop"))
denied(None, bob.put_object, Bucket="drop", Key="again", Body=b"x")
denied(None, anon.put_object, Bucket="drop", Key="again", Body=b"x")

step("grants to users: PutObjectAcl, PutBucketAcl (headers and XML), READ_ACP, WRITE_ACP")
alice.put_object(Bucket="alpha", Key="shared", Body=b"for bob")
denied(None, bob.get_object, Bucket="alpha", Key="shared")
alice.put_object_acl(Bucket="alpha", Key="shared", GrantRead='id="bob"')
if read(bob, "alpha", "shared") != b"for bob":
    fail("a READ grant to bob")
denied(None, carol.get_object, Bucket="alpha", Key="shared")
denied(None, bob.get_object_acl, Bucket="alpha", Key="shared")
if grants(alice, Bucket="alpha", Key="shared") != [("alice", "FULL_CONTROL"), ("bob", "READ")]:
    fail("GetObjectAcl: %s" % grants(alice, Bucket="alpha", Key="shared"))
alice.put_object_acl(Bucket="alpha", Key="shared", GrantRead='id="bob"', GrantReadACP='id="bob"')
if grants(bob, Bucket="alpha", Key="shared") != [("alice", "FULL_CONTROL"), ("bob", "READ"),
                                                 ("bob", "READ_ACP")]:
    fail("bob's GetObjectAcl with READ_ACP")
denied(None, bob.put_object_acl, Bucket="alpha", Key="shared", ACL="public-read")
denied("InvalidArgument", alice.put_object_acl, Bucket="alpha", Key="shared",
       GrantRead='id="nobody-of-that-name"')
denied("InvalidRequest", alice.put_object_acl, Bucket="alpha", Key="shared",
       ACL="public-read", GrantRead='id="bob"')
denied("InvalidArgument", alice.put_object, Bucket="alpha", Key="x", Body=b"x", ACL="world-readable")
# the bucket: WRITE to bob as an AccessControlPolicy document
owner = alice.get_bucket_acl(Bucket="alpha")["Owner"]
if owner["ID"] != "alice":
    fail("the bucket's owner: %s" % owner)
alice.put_bucket_acl(Bucket="alpha", AccessControlPolicy={
    "Owner": owner,
    "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "alice"}, "Permission": "FULL_CONTROL"},
               {"Grantee": {"Type": "CanonicalUser", "ID": "bob"}, "Permission": "WRITE"},
               {"Grantee": {"Type": "CanonicalUser", "ID": "bob"}, "Permission": "READ"}]})
if "alpha" not in buckets(bob) or "alpha" in buckets(carol):
    fail("a bucket granted to bob lists to him, not to carol")
allowed(bob.put_object, Bucket="alpha", Key="by-bob", Body=b"bob was here")
allowed(bob.list_objects_v2, Bucket="alpha")
denied(None, carol.put_object, Bucket="alpha", Key="by-carol", Body=b"x")
denied(None, carol.list_objects_v2, Bucket="alpha")
denied(None, bob.get_object, Bucket="alpha", Key="doc")  # the bucket's READ lists, no more
denied(None, bob.put_bucket_acl, Bucket="alpha", ACL="public-read")
denied(None, bob.delete_bucket, Bucket="alpha")  # only its owner deletes a bucket
alice.put_bucket_acl(Bucket="alpha", GrantWriteACP='id="carol"')
allowed(carol.put_bucket_acl, Bucket="alpha", ACL="private")
denied(None, bob.put_object, Bucket="alpha", Key="by-bob2", Body=b"x")
denied(None, carol.put_bucket_acl, Bucket="alpha", ACL="private")  # gone with private
alice.delete_object(Bucket="alpha", Key="by-bob")

step("POSIX modes: the group class, the other class, and directories without search")
# alice's object, granted to bob and carol; its mode decides between them
alice.put_object(Bucket="alpha", Key="grp", Body=b"group", GrantRead='id="bob", id="carol"')
if read(bob, "alpha", "grp") != b"group" or read(carol, "alpha", "grp") != b"group":
    fail("both granted, mode 0644")
os.chmod(os.path.join(M, "alpha", "grp"), 0o640)
if read(carol, "alpha", "grp") != b"group":
    fail("carol is in the file's group (0640)")
denied(None, bob.get_object, Bucket="alpha", Key="grp")
os.chmod(os.path.join(M, "alpha", "grp"), 0o600)
denied(None, carol.get_object, Bucket="alpha", Key="grp")
if read(alice, "alpha", "grp") != b"group":
    fail("the owner class, 0600")
# a directory root made 0700 in alice's bucket: even alice cannot search it
os.mkdir(os.path.join(M, "alpha", "rootonly"), 0o700)
with open(os.path.join(M, "alpha", "rootonly", "f"), "wb") as f:
    f.write(b"root's")
denied(None, alice.get_object, Bucket="alpha", Key="rootonly/f")
denied(None, alice.get_object, Bucket="alpha", Key="rootonly/missing")
denied(None, alice.put_object, Bucket="alpha", Key="rootonly/g", Body=b"x")
denied(None, alice.delete_object, Bucket="alpha", Key="rootonly/f")
r = alice.delete_objects(Bucket="alpha", Delete={"Objects": [{"Key": "rootonly/f"}]})
if [e["Code"] for e in r.get("Errors", [])] != ["AccessDenied"]:
    fail("DeleteObjects of a key below a 0700 directory: %s" % r)
if read(root, "alpha", "rootonly/f") != b"root's":
    fail("root reads it")
# a directory alice owns but may not write: no new keys below it
os.mkdir(os.path.join(M, "alpha", "ro"), 0o555)
os.chown(os.path.join(M, "alpha", "ro"), 1001, 1001)
denied(None, alice.put_object, Bucket="alpha", Key="ro/new", Body=b"x")
os.chmod(os.path.join(M, "alpha", "ro"), 0o755)
allowed(alice.put_object, Bucket="alpha", Key="ro/new", Body=b"x")

step("bucket policies: the owner's alone to read, put and delete; bad ones refused")
alice.create_bucket(Bucket="pol")
alice.put_object(Bucket="pol", Key="public/a", Body=b"pa")
alice.put_object(Bucket="pol", Key="private/b", Body=b"pb")
denied("NoSuchBucketPolicy", alice.get_bucket_policy, Bucket="pol")
ARN = "arn:aws:s3:::pol"


def stmt(sid, effect, principal, action, resource, condition=None):
    s = {"Sid": sid, "Effect": effect, "Principal": principal, "Action": action,
         "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


read_public = stmt("AnyoneReadsPublic", "Allow", "*", "s3:GetObject", ARN + "/public/*")
bob_lists = stmt("BobListsPublic", "Allow", {"AWS": ["bob"]}, ["s3:ListBucket"], ARN,
                 {"StringLike": {"s3:prefix": "public/*"}})
bob_writes = stmt("BobWrites", "Allow", {"AWS": "arn:aws:iam::000000000000:user/bob"},
                  "s3:Put*", ARN + "/bob/*")
no_delete = stmt("NoOneDeletesPublic", "Deny", "*", "s3:DeleteObject", ARN + "/public/?")


def carol_from(op, cidr):
    return stmt("CarolFrom", "Deny", {"AWS": "carol"}, "s3:*", [ARN, ARN + "/*"],
                {op: {"aws:SourceIp": cidr}})


doc = policy(read_public, bob_lists, bob_writes, no_delete, carol_from("IpAddress", "127.0.0.0/8"))
for c in (bob, carol, anon):
    denied(None, c.put_bucket_policy, Bucket="pol", Policy=doc)
allowed(alice.put_bucket_policy, Bucket="pol", Policy=doc)
if mode("/pol") != 0o777:
    fail("a policy letting bob write: the bucket's mode is %o" % mode("/pol"))
if json.loads(alice.get_bucket_policy(Bucket="pol")["Policy"]) != json.loads(doc):
    fail("GetBucketPolicy gives another document")
for c in (bob, anon):
    denied(None, c.get_bucket_policy, Bucket="pol")
    denied(None, c.delete_bucket_policy, Bucket="pol")
for bad, code in (("{not json", "MalformedPolicy"), ("[]", "MalformedPolicy"),
                  (policy(stmt("x", "Maybe", "*", "s3:GetObject", ARN + "/*")), "MalformedPolicy"),
                  (policy(stmt("x", "Allow", "*", "s3:GetObject", "arn:aws:s3:::alpha/*")),
                   "MalformedPolicy"),
                  (json.dumps({"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "bob"},
                                              "Action": "s3:*", "Resource": ARN}]}), "NotImplemented"),
                  (policy(stmt("x", "Allow", "*", "s3:GetObject", ARN + "/*",
                               {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})),
                   "NotImplemented"),
                  (policy(carol_from("IpAddress", "300.1.2.3/8")), "MalformedPolicy")):
    denied(code, alice.put_bucket_policy, Bucket="pol", Policy=bad)
if json.loads(alice.get_bucket_policy(Bucket="pol")["Policy"]) != json.loads(doc):
    fail("a refused policy replaced the one in force")

step("bucket policies: Allow by principal, action and resource wildcards; s3:prefix")
for c in (anon, bob):
    if read(c, "pol", "public/a") != b"pa":
        fail("Allow * of s3:GetObject on pol/public/*")
    denied(None, c.get_object, Bucket="pol", Key="private/b")
    denied(None, c.put_object, Bucket="pol", Key="public/new", Body=b"x")
denied(None, anon.get_object, Bucket="pol", Key="public/missing")  # may not list: no NoSuchKey
allowed(bob.list_objects_v2, Bucket="pol", Prefix="public/")
denied(None, bob.list_objects_v2, Bucket="pol", Prefix="private/")
denied(None, bob.list_objects_v2, Bucket="pol")
denied(None, anon.list_objects_v2, Bucket="pol", Prefix="public/")
allowed(bob.put_object, Bucket="pol", Key="bob/mine", Body=b"bob's")
denied(None, bob.put_object, Bucket="pol", Key="elsewhere", Body=b"x")
denied(None, anon.put_object, Bucket="pol", Key="bob/anon", Body=b"x")
st = os.stat(os.path.join(M, "pol", "bob", "mine"))
if st.st_uid != 1002:
    fail("bob's object through a policy belongs to uid %d" % st.st_uid)

step("bucket policies: an explicit Deny wins, over the owner, an Allow and a grant")
denied(None, alice.delete_object, Bucket="pol", Key="public/a")
r = alice.delete_objects(Bucket="pol", Delete={"Objects": [{"Key": "public/a"}]})
if [e["Code"] for e in r.get("Errors", [])] != ["AccessDenied"]:
    fail("DeleteObjects under a Deny: %s" % r)
alice.put_object(Bucket="pol", Key="public/long", Body=b"l")
allowed(alice.delete_object, Bucket="pol", Key="public/long")  # "?" is one character
alice.put_object_acl(Bucket="pol", Key="public/a", GrantRead='id="carol"')
denied(None, carol.get_object, Bucket="pol", Key="public/a")  # from 127.0.0.1
alice.put_bucket_policy(Bucket="pol", Policy=policy(read_public, carol_from("NotIpAddress", "10.0.0.0/8")))
if mode("/pol") != 0o755:
    fail("no policy letting others write: the bucket's mode is %o" % mode("/pol"))
denied(None, carol.get_object, Bucket="pol", Key="public/a")
alice.put_bucket_policy(Bucket="pol", Policy=policy(read_public, carol_from("IpAddress", "10.0.0.0/8")))
if read(carol, "pol", "public/a") != b"pa":
    fail("a Deny for another address applied")
alice.put_bucket_policy(Bucket="pol", Policy=policy(
    read_public, stmt("TLSOnly", "Deny", "*", "s3:*", ARN + "/*",
                      {"Bool": {"aws:SecureTransport": "false"}})))
denied(None, anon.get_object, Bucket="pol", Key="public/a")
denied(None, alice.get_object, Bucket="pol", Key="private/b")
if read(root, "pol", "private/b") != b"pb":
    fail("the administrator passes a Deny")
allowed(alice.delete_bucket_policy, Bucket="pol")
denied("NoSuchBucketPolicy", alice.get_bucket_policy, Bucket="pol")
denied(None, anon.get_object, Bucket="pol", Key="public/a")
if read(alice, "pol", "private/b") != b"pb":
    fail("the owner after the policy went")

step("PublicAccessBlock: 501 NotImplemented, never ignored")
denied("NotImplemented", alice.put_public_access_block, Bucket="alpha",
       PublicAccessBlockConfiguration={"BlockPublicAcls": True})
denied("NotImplemented", alice.get_public_access_block, Bucket="alpha")
denied("NotImplemented", alice.delete_public_access_block, Bucket="alpha")

step("presigned URLs act for their signer")
u = bob.generate_presigned_url("get_object", Params={"Bucket": "alpha", "Key": "doc"}, ExpiresIn=60)
try:
    urllib.request.urlopen(u)
    fail("bob's presigned URL read alice's object")
except urllib.error.HTTPError as e:
    if e.code != 403 or b"<Code>AccessDenied</Code>" not in e.read():
        fail("bob's presigned URL: %d" % e.code)
u = alice.generate_presigned_url("get_object", Params={"Bucket": "alpha", "Key": "doc"}, ExpiresIn=60)
if urllib.request.urlopen(u).read() != b"alice's":
    fail("alice's presigned URL")

print("ok: %d steps" % steps, flush=True)
