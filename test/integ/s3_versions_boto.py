#!/usr/bin/env python3
# test/integ/s3_versions_boto.py - S3 versioning through boto3 with the
# users s3_versioning.sh makes (alice owns the bucket, bob is refused):
# enable, overwrite, list versions (with markers and paging), GET and
# HEAD each by versionId, delete markers, delete a marker and a version
# by id, copies from a version, completed uploads, suspend and the null
# version, keys below implicit directories. Started by s3_versioning.sh
# with the bucket name in $BUCKET.
import os
import sys
import xml.etree.ElementTree as ET

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["S3_URL"]
B = os.environ["BUCKET"]
steps = 0


def step(what):
    global steps
    steps += 1
    print("step %d: %s" % (steps, what), flush=True)


def fail(what):
    print("FAIL: " + what, flush=True)
    sys.exit(1)


def client(who):
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    return boto3.client("s3", endpoint_url=URL, region_name="us-east-1", config=cfg,
                        aws_access_key_id=who.upper() + "KEY",
                        aws_secret_access_key=who + "secret")


alice, bob = client("alice"), client("bob")


def refused(code, fn, **kw):
    """fn(**kw) must fail with code; the error response is returned."""
    try:
        fn(**kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        if got != code:
            fail("%s %s: expected %s, got %s" % (fn.__name__, kw, code, got))
        return e.response
    fail("%s %s: allowed, expected %s" % (fn.__name__, kw, code))


raw = {}


def keep_raw(http_response, **kw):
    raw["body"] = http_response.content


alice.meta.events.register("after-call.s3.ListObjectVersions", keep_raw)


def versions(key=None, **kw):
    """[(key, id, latest, marker)] of the bucket (or of key), in the
    listing's order (boto3 splits versions and markers apart: read the
    document itself)."""
    alice.list_object_versions(Bucket=B, **({"Prefix": key} if key else {}), **kw)
    out = []
    for el in ET.fromstring(raw["body"]):
        tag = el.tag.split("}")[-1]
        if tag not in ("Version", "DeleteMarker"):
            continue
        f = {c.tag.split("}")[-1]: c.text for c in el}
        if key is None or f["Key"] == key:
            out.append((f["Key"], f["VersionId"], f["IsLatest"] == "true",
                        tag == "DeleteMarker"))
    return out


def body(key, vid=None):
    kw = {"VersionId": vid} if vid else {}
    r = alice.get_object(Bucket=B, Key=key, **kw)
    return r["Body"].read(), r.get("VersionId")


step("a new bucket is not versioned; bob may not enable it (AccessDenied)")
alice.create_bucket(Bucket=B)
if "Status" in alice.get_bucket_versioning(Bucket=B):
    fail("a new bucket has a versioning status")
refused("AccessDenied", bob.put_bucket_versioning, Bucket=B,
        VersioningConfiguration={"Status": "Enabled"})
refused("MalformedXML", alice.put_bucket_versioning, Bucket=B,
        VersioningConfiguration={"Status": "Sometimes"})
alice.put_object(Bucket=B, Key="k", Body=b"v0 before versioning")

step("enable; three overwrites make three versions with their own ids")
alice.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Enabled"})
if alice.get_bucket_versioning(Bucket=B).get("Status") != "Enabled":
    fail("status after enabling: %s" % alice.get_bucket_versioning(Bucket=B))
ids = []
for i in (1, 2, 3):
    r = alice.put_object(Bucket=B, Key="k", Body=b"version %d" % i)
    vid = r.get("VersionId")
    if not vid or vid == "null" or vid in ids:
        fail("PUT %d answered version id %r (have %s)" % (i, vid, ids))
    ids.append(vid)
got = versions("k")
want = [("k", ids[2], True, False), ("k", ids[1], False, False),
        ("k", ids[0], False, False), ("k", "null", False, False)]
if got != want:
    fail("list versions: %s, expected %s" % (got, want))

step("GET and HEAD of each version by versionId; GET without one is the newest")
for i, vid in enumerate(ids):
    data, rid = body("k", vid)
    if data != b"version %d" % (i + 1) or rid != vid:
        fail("GET versionId %s: %r %r" % (vid, data, rid))
    h = alice.head_object(Bucket=B, Key="k", VersionId=vid)
    if h.get("VersionId") != vid or h["ContentLength"] != len(data):
        fail("HEAD versionId %s: %s" % (vid, h))
if body("k", "null")[0] != b"v0 before versioning":
    fail("the object from before versioning is not version null")
if body("k") != (b"version 3", ids[2]):
    fail("GET without versionId: %s" % (body("k"),))
refused("NoSuchVersion", alice.get_object, Bucket=B, Key="k",
        VersionId="00000000000fffff")
refused("InvalidArgument", alice.get_object, Bucket=B, Key="k", VersionId="nonsense")

step("bob may neither read a version nor list them nor delete one (AccessDenied)")
refused("AccessDenied", bob.get_object, Bucket=B, Key="k", VersionId=ids[0])
refused("AccessDenied", bob.list_object_versions, Bucket=B)
refused("AccessDenied", bob.delete_object, Bucket=B, Key="k", VersionId=ids[0])
if body("k", ids[0])[0] != b"version 1":
    fail("bob's refused delete removed a version")

step("DELETE adds a delete marker; GET is then 404 with x-amz-delete-marker")
r = alice.delete_object(Bucket=B, Key="k")
marker = r.get("VersionId")
if not r.get("DeleteMarker") or not marker or marker in ids:
    fail("DELETE: %s" % r)
e = refused("NoSuchKey", alice.get_object, Bucket=B, Key="k")
hdr = e["ResponseMetadata"]["HTTPHeaders"]
if hdr.get("x-amz-delete-marker") != "true" or hdr.get("x-amz-version-id") != marker:
    fail("GET of a deleted key: headers %s" % hdr)
refused("MethodNotAllowed", alice.get_object, Bucket=B, Key="k", VersionId=marker)
if body("k", ids[1])[0] != b"version 2":
    fail("an old version is gone after the delete")
got = versions("k")
if got[0] != ("k", marker, True, True) or [t[1] for t in got[1:]] != ids[::-1] + ["null"]:
    fail("list after delete: %s" % got)
if alice.list_objects_v2(Bucket=B).get("KeyCount") != 0:
    fail("a deleted key is still listed: %s" % alice.list_objects_v2(Bucket=B))

step("deleting the marker brings the object back")
r = alice.delete_object(Bucket=B, Key="k", VersionId=marker)
if r.get("VersionId") != marker or not r.get("DeleteMarker"):
    fail("DELETE of the marker: %s" % r)
if body("k") != (b"version 3", ids[2]):
    fail("GET after the marker went: %s" % (body("k"),))

step("delete one version by id: the others stay; deleting the current one restores the one before")
alice.delete_object(Bucket=B, Key="k", VersionId=ids[1])
refused("NoSuchVersion", alice.get_object, Bucket=B, Key="k", VersionId=ids[1])
if [t[1] for t in versions("k")] != [ids[2], ids[0], "null"]:
    fail("after deleting version 2: %s" % versions("k"))
alice.delete_object(Bucket=B, Key="k", VersionId=ids[2])
if body("k") != (b"version 1", ids[0]):
    fail("after deleting the current version: %s" % (body("k"),))
if versions("k") != [("k", ids[0], True, False), ("k", "null", False, False)]:
    fail("versions after deleting the current one: %s" % versions("k"))

step("copy from a version, and a completed upload, answer with their version ids")
r = alice.copy_object(Bucket=B, Key="copy", CopySource={"Bucket": B, "Key": "k", "VersionId": "null"})
if not r.get("VersionId") or body("copy")[0] != b"v0 before versioning":
    fail("copy of version null: %s %s" % (r, body("copy")))
up = alice.create_multipart_upload(Bucket=B, Key="mp")
part = alice.upload_part(Bucket=B, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 1000)
alice.put_object(Bucket=B, Key="mp", Body=b"before the upload")
r = alice.complete_multipart_upload(Bucket=B, Key="mp", UploadId=up["UploadId"],
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
if not r.get("VersionId") or body("mp") != (b"x" * 1000, r["VersionId"]):
    fail("complete: %s" % r)
if [t[3] for t in versions("mp")] != [False, False] or body("mp", versions("mp")[1][1])[0] != b"before the upload":
    fail("versions of the uploaded key: %s" % versions("mp"))

step("keys below implicit directories: delete, list, restore")
for i in (1, 2):
    alice.put_object(Bucket=B, Key="d/e/f", Body=b"deep %d" % i)
alice.delete_object(Bucket=B, Key="d/e/f")
if alice.list_objects_v2(Bucket=B, Prefix="d/").get("KeyCount") != 0:
    fail("a deleted deep key is listed: %s" % alice.list_objects_v2(Bucket=B, Prefix="d/"))
got = versions("d/e/f")
if [t[3] for t in got] != [True, False, False]:
    fail("versions of d/e/f: %s" % got)
alice.delete_object(Bucket=B, Key="d/e/f", VersionId=got[0][1])
if body("d/e/f")[0] != b"deep 2":
    fail("d/e/f after its marker went: %s" % (body("d/e/f"),))
r = alice.list_object_versions(Bucket=B, Delimiter="/")
if [p["Prefix"] for p in r.get("CommonPrefixes", [])] != ["d/"]:
    fail("versions with a delimiter: %s" % r)

step("paging through ListObjectVersions with key-marker and version-id-marker")
for i in range(5):
    alice.put_object(Bucket=B, Key="p", Body=b"p%d" % i)
alice.delete_object(Bucket=B, Key="p")
full = versions()
pages, kw = [], {}
while True:
    r = alice.list_object_versions(Bucket=B, MaxKeys=2, **kw)
    page = [(v["Key"], v["VersionId"]) for v in r.get("Versions", []) + r.get("DeleteMarkers", [])]
    if len(page) > 2:
        fail("a page of %d for MaxKeys 2" % len(page))
    pages += page
    if not r["IsTruncated"]:
        break
    kw = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
if sorted(pages) != sorted((t[0], t[1]) for t in full) or len(pages) != len(full):
    fail("pages %s, whole listing %s" % (pages, full))

step("suspend: new writes are the null version, which replaces the old null one")
alice.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Suspended"})
if alice.get_bucket_versioning(Bucket=B).get("Status") != "Suspended":
    fail("status after suspending")
for i in (1, 2):
    r = alice.put_object(Bucket=B, Key="k", Body=b"suspended %d" % i)
    if r.get("VersionId") != "null":
        fail("PUT in a suspended bucket: version %r" % r.get("VersionId"))
got = versions("k")
if got != [("k", "null", True, False), ("k", ids[0], False, False)]:
    fail("versions after suspended writes: %s" % got)
if body("k", "null")[0] != b"suspended 2" or body("k", ids[0])[0] != b"version 1":
    fail("the versions' bytes after suspended writes")
r = alice.delete_object(Bucket=B, Key="k")
if r.get("VersionId") != "null" or not r.get("DeleteMarker"):
    fail("DELETE in a suspended bucket: %s" % r)
if versions("k") != [("k", "null", True, True), ("k", ids[0], False, False)]:
    fail("versions after a suspended delete: %s" % versions("k"))
alice.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Enabled"})
print("ok: %d steps" % steps)
