#!/usr/bin/env python3
# test/integ/s3_boto.py - boto3 against agora-s3d: buckets, objects,
# ranges, conditions (conditional writes, racing ones included), metadata,
# checksums, listings in S3 key order,
# multipart (64 MiB and more), copy, presigned URLs, and the errors of
# each. The cluster and the gateway come from lib.sh (run through bash).
import os
import subprocess

from s3test import client, done, expect_error, fail, stage, step

stage(__file__)

import hashlib  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

URL = os.environ["S3_URL"]
T = os.environ["T"]



s3 = client()

step("buckets: create, head, list, location, bad names, delete non-empty")
s3.create_bucket(Bucket="alpha")
s3.head_bucket(Bucket="alpha")
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
if "alpha" not in names:
    fail("list_buckets: %s" % names)
if s3.get_bucket_location(Bucket="alpha").get("LocationConstraint") not in (None, ""):
    fail("location")
expect_error("BucketAlreadyOwnedByYou", 409, s3.create_bucket, Bucket="alpha")
expect_error("NoSuchBucket", 404, s3.list_objects_v2, Bucket="nothere")
expect_error(None, 404, s3.head_bucket, Bucket="nothere")
for bad in ("ab", "UPPER", "-lead", "a..b", "192.168.1.1", "x" * 64):
    expect_error("InvalidBucketName", 400, s3.create_bucket, Bucket=bad)

step("put, get, head: metadata, content headers, ETag = MD5")
body = os.urandom(300000)
r = s3.put_object(Bucket="alpha", Key="docs/report.bin", Body=body,
                  ContentType="application/x-test", CacheControl="max-age=60",
                  ContentDisposition="attachment", ContentEncoding="identity",
                  Metadata={"owner": "ops", "Color": "blue"})
md5 = hashlib.md5(body).hexdigest()
if r["ETag"] != '"%s"' % md5:
    fail("put etag %s != %s" % (r["ETag"], md5))
g = s3.get_object(Bucket="alpha", Key="docs/report.bin")
if g["Body"].read() != body:
    fail("get body differs")
if g["ContentType"] != "application/x-test" or g["CacheControl"] != "max-age=60":
    fail("content headers: %s %s" % (g["ContentType"], g.get("CacheControl")))
if g["Metadata"] != {"owner": "ops", "color": "blue"}:
    fail("metadata %s" % g["Metadata"])
h = s3.head_object(Bucket="alpha", Key="docs/report.bin")
if h["ContentLength"] != len(body) or h["ETag"] != '"%s"' % md5:
    fail("head %s" % h)
expect_error("NoSuchKey", 404, s3.get_object, Bucket="alpha", Key="docs/none")
expect_error(None, 404, s3.head_object, Bucket="alpha", Key="docs/none")
expect_error("NoSuchKey", 404, s3.get_object, Bucket="alpha", Key="docs")
s3.put_object(Bucket="alpha", Key="empty", Body=b"")
if s3.get_object(Bucket="alpha", Key="empty")["Body"].read() != b"":
    fail("empty object")

step("ranges: a-b, a-, -n, 416")
for rng, want in (("bytes=0-9", body[0:10]), ("bytes=299990-", body[299990:]),
                  ("bytes=-5", body[-5:]), ("bytes=100-100", body[100:101]),
                  ("bytes=299000-999999", body[299000:])):
    g = s3.get_object(Bucket="alpha", Key="docs/report.bin", Range=rng)
    if g["Body"].read() != want or g["ResponseMetadata"]["HTTPStatusCode"] != 206:
        fail("range %s" % rng)
    if not g["ContentRange"].endswith("/%d" % len(body)):
        fail("content-range %s" % g["ContentRange"])
expect_error("InvalidRange", 416, s3.get_object, Bucket="alpha",
             Key="docs/report.bin", Range="bytes=300000-")

step("conditional GET and HEAD")
etag = '"%s"' % md5
lm = h["LastModified"]
s3.get_object(Bucket="alpha", Key="docs/report.bin", IfMatch=etag)
expect_error("PreconditionFailed", 412, s3.get_object, Bucket="alpha",
             Key="docs/report.bin", IfMatch='"0123"')
expect_error(None, 304, s3.get_object, Bucket="alpha", Key="docs/report.bin",
             IfNoneMatch=etag)
s3.get_object(Bucket="alpha", Key="docs/report.bin", IfNoneMatch='"other"')
expect_error(None, 304, s3.get_object, Bucket="alpha", Key="docs/report.bin",
             IfModifiedSince=lm)
expect_error("PreconditionFailed", 412, s3.get_object, Bucket="alpha",
             Key="docs/report.bin",
             IfUnmodifiedSince=lm.replace(year=lm.year - 1))
s3.get_object(Bucket="alpha", Key="docs/report.bin", IfUnmodifiedSince=lm)

expect_error(None, 304, s3.head_object, Bucket="alpha", Key="docs/report.bin",
             IfNoneMatch=etag)
expect_error(None, 412, s3.head_object, Bucket="alpha", Key="docs/report.bin",
             IfMatch='"%s"' % ("0" * 32))
s3.head_object(Bucket="alpha", Key="docs/report.bin", IfMatch=etag,
               IfUnmodifiedSince=lm.replace(year=lm.year - 1))
expect_error("NoSuchKey", 404, s3.get_object, Bucket="alpha", Key="docs/none",
             IfMatch=etag)
# If-None-Match compares weakly, If-Match strongly; a future date is none
expect_error(None, 304, s3.get_object, Bucket="alpha", Key="docs/report.bin",
             IfNoneMatch="W/" + etag)
expect_error("PreconditionFailed", 412, s3.get_object, Bucket="alpha",
             Key="docs/report.bin", IfMatch="W/" + etag)
s3.get_object(Bucket="alpha", Key="docs/report.bin",
              IfModifiedSince=lm.replace(year=lm.year + 1))

step("conditional writes: If-None-Match: * and If-Match on PUT, copy, completion, delete")
s3.create_bucket(Bucket="cond")


def body_of(key):
    return s3.get_object(Bucket="cond", Key=key)["Body"].read()


e1 = s3.put_object(Bucket="cond", Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
expect_error("PreconditionFailed", 412, s3.put_object, Bucket="cond", Key="k",
             Body=b"two", IfNoneMatch="*")
expect_error("PreconditionFailed", 412, s3.put_object, Bucket="cond", Key="k",
             Body=b"two", IfMatch='"%s"' % ("0" * 32))
if body_of("k") != b"one":
    fail("a failed conditional PUT changed the object")
e2 = s3.put_object(Bucket="cond", Key="k", Body=b"two", IfMatch=e1)["ETag"]
expect_error("PreconditionFailed", 412, s3.put_object, Bucket="cond", Key="k",
             Body=b"three", IfMatch=e1)
s3.put_object(Bucket="cond", Key="k", Body=b"two", IfMatch=e2.strip('"'))
s3.put_object(Bucket="cond", Key="k", Body=b"two", IfMatch="*")
expect_error("NoSuchKey", 404, s3.put_object, Bucket="cond", Key="none",
             Body=b"x", IfMatch=e2)
expect_error("NoSuchKey", 404, s3.put_object, Bucket="cond", Key="none",
             Body=b"x", IfMatch="*")
expect_error("NotImplemented", 501, s3.put_object, Bucket="cond", Key="k2",
             Body=b"x", IfNoneMatch=e2)
if body_of("k") != b"two":
    fail("conditional PUTs left %r" % body_of("k"))
src = {"Bucket": "cond", "Key": "k"}
# (onto itself, so it must replace something to be a copy at all)
expect_error("PreconditionFailed", 412, s3.copy_object, Bucket="cond", Key="k",
             CopySource=src, IfNoneMatch="*", MetadataDirective="REPLACE")
s3.copy_object(Bucket="cond", Key="copy", CopySource=src, IfNoneMatch="*")
expect_error("PreconditionFailed", 412, s3.copy_object, Bucket="cond",
             Key="copy", CopySource=src, IfMatch=e1)
s3.copy_object(Bucket="cond", Key="copy", CopySource=src, IfMatch=e2)
if body_of("copy") != b"two":
    fail("conditional copy")
up = s3.create_multipart_upload(Bucket="cond", Key="k")["UploadId"]
pe = s3.upload_part(Bucket="cond", Key="k", UploadId=up, PartNumber=1,
                    Body=b"multi")["ETag"]
parts = {"Parts": [{"PartNumber": 1, "ETag": pe}]}
expect_error("PreconditionFailed", 412, s3.complete_multipart_upload,
             Bucket="cond", Key="k", UploadId=up, MultipartUpload=parts,
             IfNoneMatch="*")
expect_error("PreconditionFailed", 412, s3.complete_multipart_upload,
             Bucket="cond", Key="k", UploadId=up, MultipartUpload=parts,
             IfMatch=e1)
s3.complete_multipart_upload(Bucket="cond", Key="k", UploadId=up,
                             MultipartUpload=parts, IfMatch=e2)
if body_of("k") != b"multi":
    fail("conditional completion")
em = s3.head_object(Bucket="cond", Key="k")["ETag"]
s3.put_object(Bucket="cond", Key="k", Body=b"after", IfMatch=em)
ed = s3.put_object(Bucket="cond", Key="del", Body=b"del")["ETag"]
expect_error("PreconditionFailed", 412, s3.delete_object, Bucket="cond",
             Key="del", IfMatch=e1)
body_of("del")
expect_error("NoSuchKey", 404, s3.delete_object, Bucket="cond", Key="none",
             IfMatch=ed)
s3.delete_object(Bucket="cond", Key="del", IfMatch=ed)
expect_error("NoSuchKey", 404, s3.get_object, Bucket="cond", Key="del")
s3.put_object(Bucket="cond", Key="del", Body=b"del")
s3.delete_object(Bucket="cond", Key="del", IfMatch="*")
expect_error("NoSuchKey", 404, s3.get_object, Bucket="cond", Key="del")
# the S3 error document itself, as curl-like clients see it
try:
    s3.put_object(Bucket="cond", Key="k", Body=b"x", IfNoneMatch="*")
    fail("PUT over an object with If-None-Match: * succeeded")
except ClientError as e:
    if e.response["Error"]["Code"] != "PreconditionFailed" or \
       e.response["ResponseMetadata"]["HTTPStatusCode"] != 412:
        fail("If-None-Match: * over an object: %s" % e.response["Error"])

step("racing conditional PUTs: exactly one of each race wins")
WRITERS = 12


def race(key, rnd, **cond):
    # bodies new to every round: a writer that stored again the bytes
    # the object holds would keep its ETag, and a second If-Match on it
    # rightly succeed
    clients = [client() for _ in range(WRITERS)]
    gate = threading.Barrier(WRITERS)
    res = [None] * WRITERS

    def run(i):
        gate.wait()
        try:
            clients[i].put_object(Bucket="cond", Key=key,
                                  Body=b"round %d writer %d " % (rnd, i) * 1000,
                                  **cond)
            res[i] = 200
        except ClientError as e:
            res[i] = (e.response["ResponseMetadata"]["HTTPStatusCode"],
                      e.response["Error"]["Code"])

    ts = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    won = [i for i in range(WRITERS) if res[i] == 200]
    lost = [r for r in res if r != 200]
    if len(won) != 1 or any(r != (412, "PreconditionFailed") for r in lost):
        fail("race on %s: %s" % (key, res))
    if body_of(key) != b"round %d writer %d " % (rnd, won[0]) * 1000:
        fail("race on %s: the object is not the winner's" % key)
    return won[0]


for rnd in range(5):
    race("new-%d" % rnd, rnd, IfNoneMatch="*")
print("# 5 races of %d PUTs with If-None-Match: * on a new key: one 200 and "
      "%d 412 each" % (WRITERS, WRITERS - 1), flush=True)
cur = s3.put_object(Bucket="cond", Key="cas", Body=b"start")["ETag"]
for rnd in range(3):
    race("cas", rnd, IfMatch=cur)
    cur = s3.head_object(Bucket="cond", Key="cas")["ETag"]
print("# 3 races of %d PUTs with If-Match on one ETag: one 200 and %d 412 each"
      % (WRITERS, WRITERS - 1), flush=True)

step("checksums: CRC32, SHA1, SHA256 sent, verified, returned (CRC32C needs awscrt)")
for algo in ("CRC32", "SHA1", "SHA256"):
    r = s3.put_object(Bucket="alpha", Key="sum/" + algo, Body=body[:5000],
                      ChecksumAlgorithm=algo)
    want = r.get("Checksum" + algo)
    if not want:
        fail("no checksum %s in the PUT reply" % algo)
    h = s3.head_object(Bucket="alpha", Key="sum/" + algo, ChecksumMode="ENABLED")
    if h.get("Checksum" + algo) != want:
        fail("checksum %s: %s != %s" % (algo, h.get("Checksum" + algo), want))
expect_error("BadDigest", 400, s3.put_object, Bucket="alpha", Key="sum/bad",
             Body=b"hello", ChecksumCRC32="AAAAAA==")
expect_error("BadDigest", 400, s3.put_object, Bucket="alpha", Key="sum/badmd5",
             Body=b"hello", ContentMD5="XrY7u+Ae7tCTyyK7j1rNww==")

step("hostile keys refused, odd but legal keys round-trip")
for bad in ("a/../b", "./x", "a//b", "/lead", "k" * 1025, "a/" + "n" * 256):
    try:
        s3.put_object(Bucket="alpha", Key=bad, Body=b"x")
        fail("hostile key %r accepted" % bad[:40])
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("InvalidArgument", "KeyTooLongError"):
            fail("key %r: %s" % (bad[:40], e.response["Error"]["Code"]))
odd = ["sp ace/+plus&amp=eq?q#h", "uni/\u00e9t\u00e9/\u4e2d", "tilde~*'()!$,;:@",
       "percent%20lit", "a-b", "a/x", "a.c", "a0"]
for k in odd:
    s3.put_object(Bucket="alpha", Key=k, Body=k.encode())
    if s3.get_object(Bucket="alpha", Key=k)["Body"].read() != k.encode():
        fail("odd key %r" % k)

step("a key needing a file and a directory of one name is refused")
expect_error("KeyConflict", 409, s3.put_object, Bucket="alpha",
             Key="docs/report.bin/child", Body=b"x")
expect_error("KeyConflict", 409, s3.put_object, Bucket="alpha", Key="docs", Body=b"x")

step("ListObjectsV2 in S3 key order, prefixes, pages, start-after, url encoding")
s3.create_bucket(Bucket="order")
keys = ["a-b", "a/x", "a/y/z", "a.c", "a0", "b", "ab/c", "a/x-1", "a!"]
for k in keys:
    s3.put_object(Bucket="order", Key=k, Body=b"1")
got = [o["Key"] for o in s3.list_objects_v2(Bucket="order")["Contents"]]
if got != sorted(keys, key=lambda k: k.encode()):
    fail("v2 order %s" % got)
r = s3.list_objects_v2(Bucket="order", Delimiter="/")
cps = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
top = [o["Key"] for o in r["Contents"]]
if cps != ["a/", "ab/"] or top != ["a!", "a-b", "a.c", "a0", "b"]:
    fail("delimiter: %s %s" % (cps, top))
r = s3.list_objects_v2(Bucket="order", Prefix="a/", Delimiter="/")
if [o["Key"] for o in r["Contents"]] != ["a/x", "a/x-1"] or \
        [p["Prefix"] for p in r["CommonPrefixes"]] != ["a/y/"]:
    fail("prefix a/: %s" % r)
seen, tok, pages = [], None, 0
while True:
    kw = {"ContinuationToken": tok} if tok else {}
    r = s3.list_objects_v2(Bucket="order", MaxKeys=3, **kw)
    pages += 1
    seen += [o["Key"] for o in r.get("Contents", [])]
    if not r["IsTruncated"]:
        break
    tok = r["NextContinuationToken"]
if seen != sorted(keys, key=lambda k: k.encode()) or pages != 3:
    fail("pages %d: %s" % (pages, seen))
r = s3.list_objects_v2(Bucket="order", StartAfter="a/x")
if [o["Key"] for o in r["Contents"]][0] != "a/x-1":
    fail("start-after: %s" % r["Contents"][0])
r = s3.list_objects(Bucket="order", Marker="a0", MaxKeys=2)
if [o["Key"] for o in r["Contents"]] != ["ab/c", "b"] or r["IsTruncated"]:
    fail("v1 marker: %s" % r)
r = s3.list_objects_v2(Bucket="alpha", Prefix="sp ace/", EncodingType="url")
if urllib.parse.unquote_plus(r["Contents"][0]["Key"]) != "sp ace/+plus&amp=eq?q#h":
    fail("encoding-type url: %r" % r["Contents"][0]["Key"])
v = s3.list_object_versions(Bucket="order")
if len(v["Versions"]) != len(keys) or v["Versions"][0]["VersionId"] != "null":
    fail("versions %s" % v["Versions"][:1])
r = s3.list_objects_v2(Bucket="order", Prefix="zz")
if r["KeyCount"] != 0 or "Contents" in r:
    fail("empty prefix listing")

step("delete: implicit parents go, DeleteObjects batch, bucket delete when empty")
s3.delete_object(Bucket="order", Key="a/y/z")
r = s3.list_objects_v2(Bucket="order", Prefix="a/", Delimiter="/")
if r.get("CommonPrefixes"):
    fail("empty implicit a/y/ still listed: %s" % r["CommonPrefixes"])
s3.delete_object(Bucket="order", Key="never-was")
expect_error("BucketNotEmpty", 409, s3.delete_bucket, Bucket="order")
r = s3.delete_objects(Bucket="order", Delete={
    "Objects": [{"Key": k} for k in keys if k != "a/y/z"] + [{"Key": "x/../y"}]})
if len(r["Deleted"]) != len(keys) - 1 or len(r.get("Errors", [])) != 1:
    fail("delete_objects %s" % r)
if s3.list_objects_v2(Bucket="order")["KeyCount"] != 0:
    fail("bucket not empty after batch delete")
s3.delete_bucket(Bucket="order")
expect_error(None, 404, s3.head_bucket, Bucket="order")

step("copy: COPY and REPLACE directives, shares data")
r = s3.copy_object(Bucket="alpha", Key="copies/c1",
                   CopySource={"Bucket": "alpha", "Key": "docs/report.bin"})
if r["CopyObjectResult"]["ETag"] != etag:
    fail("copy etag")
h = s3.head_object(Bucket="alpha", Key="copies/c1")
if h["Metadata"] != {"owner": "ops", "color": "blue"} or h["ContentType"] != "application/x-test":
    fail("COPY directive lost metadata: %s" % h)
s3.copy_object(Bucket="alpha", Key="copies/c2", MetadataDirective="REPLACE",
               Metadata={"new": "1"}, ContentType="text/plain",
               CopySource={"Bucket": "alpha", "Key": "docs/report.bin"})
h = s3.head_object(Bucket="alpha", Key="copies/c2")
if h["Metadata"] != {"new": "1"} or h["ContentType"] != "text/plain":
    fail("REPLACE directive: %s" % h)
if s3.get_object(Bucket="alpha", Key="copies/c2")["Body"].read() != body:
    fail("copy data")
expect_error("NoSuchKey", 404, s3.copy_object, Bucket="alpha", Key="copies/c3",
             CopySource={"Bucket": "alpha", "Key": "nope"})
src = {"Bucket": "alpha", "Key": "docs/report.bin"}
expect_error("PreconditionFailed", 412, s3.copy_object, Bucket="alpha",
             Key="copies/c4", CopySource=src, CopySourceIfMatch='"0000"')
expect_error("PreconditionFailed", 412, s3.copy_object, Bucket="alpha",
             Key="copies/c4", CopySource=src, CopySourceIfNoneMatch=etag)
s3.copy_object(Bucket="alpha", Key="copies/c4", CopySource=src,
               CopySourceIfMatch=etag)
if s3.head_object(Bucket="alpha", Key="copies/c4")["ETag"] != etag:
    fail("copy under a matching If-Match")

step("multipart: 72 MiB in 9 parts, ETag md5-of-md5s-N, list, abort, errors")
part = 8 << 20
data = os.urandom(part) * 8 + os.urandom(part)
up = s3.create_multipart_upload(Bucket="alpha", Key="mp/big", ContentType="video/x",
                                Metadata={"kind": "mp"})
uid = up["UploadId"]
parts, md5s = [], b""
for i in range(9):
    chunk = data[i * part:(i + 1) * part]
    r = s3.upload_part(Bucket="alpha", Key="mp/big", UploadId=uid, PartNumber=i + 1,
                       Body=chunk)
    parts.append({"PartNumber": i + 1, "ETag": r["ETag"]})
    md5s += hashlib.md5(chunk).digest()
lp = s3.list_parts(Bucket="alpha", Key="mp/big", UploadId=uid)
if [p["PartNumber"] for p in lp["Parts"]] != list(range(1, 10)):
    fail("list_parts %s" % lp["Parts"])
ups = s3.list_multipart_uploads(Bucket="alpha")
if [u["UploadId"] for u in ups.get("Uploads", [])] != [uid]:
    fail("list_multipart_uploads %s" % ups)
expect_error("InvalidPart", 400, s3.complete_multipart_upload, Bucket="alpha",
             Key="mp/big", UploadId=uid,
             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"%s"' % ("0" * 32)}]})
expect_error("InvalidPartOrder", 400, s3.complete_multipart_upload, Bucket="alpha",
             Key="mp/big", UploadId=uid,
             MultipartUpload={"Parts": [parts[1], parts[0]]})
r = s3.complete_multipart_upload(Bucket="alpha", Key="mp/big", UploadId=uid,
                                 MultipartUpload={"Parts": parts})
want = '"%s-9"' % hashlib.md5(md5s).hexdigest()
if r["ETag"] != want:
    fail("multipart etag %s != %s" % (r["ETag"], want))
g = s3.get_object(Bucket="alpha", Key="mp/big")
if g["ETag"] != want or g["ContentType"] != "video/x" or g["Metadata"] != {"kind": "mp"}:
    fail("multipart head %s" % g)
if hashlib.md5(g["Body"].read()).digest() != hashlib.md5(data).digest():
    fail("multipart data differs")
g = s3.get_object(Bucket="alpha", Key="mp/big", Range="bytes=%d-%d" % (part - 3, part + 2))
if g["Body"].read() != data[part - 3:part + 3]:
    fail("range across parts")
if s3.list_multipart_uploads(Bucket="alpha").get("Uploads"):
    fail("completed upload still listed")
expect_error("NoSuchUpload", 404, s3.upload_part, Bucket="alpha", Key="mp/big",
             UploadId=uid, PartNumber=1, Body=b"x")
up2 = s3.create_multipart_upload(Bucket="alpha", Key="mp/aborted")
s3.upload_part(Bucket="alpha", Key="mp/aborted", UploadId=up2["UploadId"],
               PartNumber=1, Body=b"y" * 1000)
s3.abort_multipart_upload(Bucket="alpha", Key="mp/aborted", UploadId=up2["UploadId"])
expect_error("NoSuchKey", 404, s3.get_object, Bucket="alpha", Key="mp/aborted")
expect_error("NoSuchUpload", 404, s3.abort_multipart_upload, Bucket="alpha",
             Key="mp/aborted", UploadId=up2["UploadId"])
up3 = s3.create_multipart_upload(Bucket="alpha", Key="mp/small")
r1 = s3.upload_part(Bucket="alpha", Key="mp/small", UploadId=up3["UploadId"],
                    PartNumber=1, Body=b"a" * 100)
r2 = s3.upload_part(Bucket="alpha", Key="mp/small", UploadId=up3["UploadId"],
                    PartNumber=2, Body=b"b" * 100)
expect_error("EntityTooSmall", 400, s3.complete_multipart_upload, Bucket="alpha",
             Key="mp/small", UploadId=up3["UploadId"], MultipartUpload={"Parts": [
                 {"PartNumber": 1, "ETag": r1["ETag"]}, {"PartNumber": 2, "ETag": r2["ETag"]}]})
s3.abort_multipart_upload(Bucket="alpha", Key="mp/small", UploadId=up3["UploadId"])

step("upload part copy")
up4 = s3.create_multipart_upload(Bucket="alpha", Key="mp/copied")
rc1 = s3.upload_part_copy(Bucket="alpha", Key="mp/copied", UploadId=up4["UploadId"],
                          PartNumber=1, CopySource={"Bucket": "alpha", "Key": "mp/big"},
                          CopySourceRange="bytes=0-%d" % (part - 1))
rc2 = s3.upload_part_copy(Bucket="alpha", Key="mp/copied", UploadId=up4["UploadId"],
                          PartNumber=2, CopySource={"Bucket": "alpha", "Key": "docs/report.bin"})
s3.complete_multipart_upload(Bucket="alpha", Key="mp/copied", UploadId=up4["UploadId"],
                             MultipartUpload={"Parts": [
                                 {"PartNumber": 1, "ETag": rc1["CopyPartResult"]["ETag"]},
                                 {"PartNumber": 2, "ETag": rc2["CopyPartResult"]["ETag"]}]})
g = s3.get_object(Bucket="alpha", Key="mp/copied")
if g["Body"].read() != data[:part] + body:
    fail("upload_part_copy data")
want = '"%s-2"' % hashlib.md5(hashlib.md5(data[:part]).digest() +
                              hashlib.md5(body).digest()).hexdigest()
if g["ETag"] != want:
    fail("upload_part_copy ETag %s != %s" % (g["ETag"], want))

step("presigned URLs: GET and PUT work, expired and tampered ones are refused")
u = s3.generate_presigned_url("get_object", Params={"Bucket": "alpha", "Key": "docs/report.bin"},
                              ExpiresIn=60)
if urllib.request.urlopen(u).read() != body:
    fail("presigned GET")
u = s3.generate_presigned_url("put_object", Params={"Bucket": "alpha", "Key": "pre/put"},
                              ExpiresIn=60)
urllib.request.urlopen(urllib.request.Request(u, data=b"presigned", method="PUT")).read()
if s3.get_object(Bucket="alpha", Key="pre/put")["Body"].read() != b"presigned":
    fail("presigned PUT")
tampered = s3.generate_presigned_url(
    "get_object", Params={"Bucket": "alpha", "Key": "docs/report.bin"},
    ExpiresIn=60).replace("report", "Report")
u = s3.generate_presigned_url("get_object", Params={"Bucket": "alpha", "Key": "docs/report.bin"},
                              ExpiresIn=1)
time.sleep(2.1)
for bad, code in ((u, "AccessDenied"), (tampered, "SignatureDoesNotMatch")):
    try:
        urllib.request.urlopen(bad)
        fail("bad presigned URL accepted")
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        if e.code != 403 or "<Code>%s</Code>" % code not in text:
            fail("presigned: %d %s" % (e.code, text))

step("wrong secret, unknown key, no signature")
bad = boto3.client("s3", endpoint_url=URL, region_name="us-east-1",
                   aws_access_key_id=os.environ["S3_ACCESS"], aws_secret_access_key="wrong" * 8)
expect_error("SignatureDoesNotMatch", 403, bad.list_buckets)
unk = boto3.client("s3", endpoint_url=URL, region_name="us-east-1",
                   aws_access_key_id="AKNOBODY", aws_secret_access_key="x" * 40)
expect_error("InvalidAccessKeyId", 403, unk.list_buckets)
try:
    urllib.request.urlopen(URL + "/alpha/docs/report.bin")
    fail("anonymous GET accepted")
except urllib.error.HTTPError as e:
    if e.code != 403:
        fail("anonymous: %d" % e.code)

step("virtual-host addressing: BUCKET.s3.test (resolved to the gateway here)")
import socket  # noqa: E402
real_getaddrinfo = socket.getaddrinfo


def fake_getaddrinfo(host, *a, **kw):
    if isinstance(host, str) and host.endswith(".s3.test"):
        host = "127.0.0.1"
    return real_getaddrinfo(host, *a, **kw)


socket.getaddrinfo = fake_getaddrinfo
vh = boto3.client("s3", endpoint_url=URL.replace("127.0.0.1", "s3.test"),
                  region_name="us-east-1", aws_access_key_id=os.environ["S3_ACCESS"],
                  aws_secret_access_key=os.environ["S3_SECRET"],
                  config=Config(s3={"addressing_style": "virtual"}))
vh.put_object(Bucket="alpha", Key="vhost/k", Body=b"virtual")
if s3.get_object(Bucket="alpha", Key="vhost/k")["Body"].read() != b"virtual":
    fail("virtual-host PUT not seen path-style")
if [o["Key"] for o in vh.list_objects_v2(Bucket="alpha", Prefix="vhost/")["Contents"]] != ["vhost/k"]:
    fail("virtual-host listing")
done()
