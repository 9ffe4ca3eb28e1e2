#!/usr/bin/env python3
# test/integ/s3_sse_cases.py - SSE-C and SSE-S3 through boto3, started by
# s3_sse.sh (whose agora-s3d has a cluster key): PUT, GET, ranged GET and
# HEAD with the right key, refusals of a wrong or missing key, and the
# drives scanned for the plaintext, which they must not hold.
import glob
import hashlib
import os

from s3test import client, expect_error, fail, step

s3 = client()
B = "sec"
T = os.environ["T"]
key = os.urandom(32)
other = os.urandom(32)
ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
body = os.urandom(3 * (1 << 20) + 12345)  # several blocks, incompressible

step("SSE-C: PUT answers the key's MD5; GET and a range with the key give the bytes")
r = s3.put_object(Bucket=B, Key="c.bin", Body=body, **ssec)
if r.get("SSECustomerAlgorithm") != "AES256" or not r.get("SSECustomerKeyMD5"):
    fail("PUT answer: %s" % r)
if r["ETag"].strip('"') != hashlib.md5(body).hexdigest():
    fail("the ETag is not the MD5 of the plaintext")
g = s3.get_object(Bucket=B, Key="c.bin", **ssec)
if g["Body"].read() != body or g["ContentLength"] != len(body):
    fail("SSE-C GET")
g = s3.get_object(Bucket=B, Key="c.bin", Range="bytes=1048570-2097160", **ssec)
if g["Body"].read() != body[1048570:2097161]:
    fail("SSE-C ranged GET across blocks")
h = s3.head_object(Bucket=B, Key="c.bin", **ssec)
if h["ContentLength"] != len(body) or h["SSECustomerKeyMD5"] != r["SSECustomerKeyMD5"]:
    fail("SSE-C HEAD: %s" % h)
lst = s3.list_objects_v2(Bucket=B, Prefix="c.bin")["Contents"][0]
if lst["Size"] != len(body):
    fail("listing size %d" % lst["Size"])

step("SSE-C: a wrong key is 403, a missing one 400, a key on a plain object 400")
expect_error("AccessDenied", 403, s3.get_object, Bucket=B, Key="c.bin",
             SSECustomerAlgorithm="AES256", SSECustomerKey=other)
expect_error("403", 403, s3.head_object, Bucket=B, Key="c.bin",
             SSECustomerAlgorithm="AES256", SSECustomerKey=other)
expect_error("InvalidRequest", 400, s3.get_object, Bucket=B, Key="c.bin")
s3.put_object(Bucket=B, Key="plain", Body=b"plain text")
expect_error("InvalidRequest", 400, s3.get_object, Bucket=B, Key="plain", **ssec)
expect_error("InvalidArgument", 400, s3.put_object, Bucket=B, Key="bad", Body=b"x",
             SSECustomerAlgorithm="AES128", SSECustomerKey=key)

step("SSE-S3: stored under the cluster key, read without one; asking SSE-C of it is 400")
s3.put_object(Bucket=B, Key="s.bin", Body=body[:200000], ServerSideEncryption="AES256")
g = s3.get_object(Bucket=B, Key="s.bin")
if g["Body"].read() != body[:200000] or g.get("ServerSideEncryption") != "AES256":
    fail("SSE-S3 GET")
expect_error("InvalidRequest", 400, s3.get_object, Bucket=B, Key="s.bin", **ssec)
expect_error("NotImplemented", 501, s3.put_object, Bucket=B, Key="kms", Body=b"x",
             ServerSideEncryption="aws:kms")

step("SSE-C multipart: each part with the key, the object read whole, by range and by part")
up = s3.create_multipart_upload(Bucket=B, Key="mp.bin", **ssec)["UploadId"]
p1, p2 = os.urandom(5 << 20), os.urandom(300000)
e1 = s3.upload_part(Bucket=B, Key="mp.bin", UploadId=up, PartNumber=1, Body=p1, **ssec)["ETag"]
expect_error("InvalidRequest", 400, s3.upload_part, Bucket=B, Key="mp.bin", UploadId=up,
             PartNumber=2, Body=p2)
expect_error("AccessDenied", 403, s3.upload_part, Bucket=B, Key="mp.bin", UploadId=up,
             PartNumber=2, Body=p2, SSECustomerAlgorithm="AES256", SSECustomerKey=other)
e2 = s3.upload_part(Bucket=B, Key="mp.bin", UploadId=up, PartNumber=2, Body=p2, **ssec)["ETag"]
s3.complete_multipart_upload(Bucket=B, Key="mp.bin", UploadId=up, MultipartUpload={
    "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
whole = p1 + p2
if s3.get_object(Bucket=B, Key="mp.bin", **ssec)["Body"].read() != whole:
    fail("SSE-C multipart GET")
g = s3.get_object(Bucket=B, Key="mp.bin", Range="bytes=%d-%d" % ((5 << 20) - 10, (5 << 20) + 10),
                  **ssec)
if g["Body"].read() != whole[(5 << 20) - 10:(5 << 20) + 11]:
    fail("SSE-C multipart range across the parts")
if s3.get_object(Bucket=B, Key="mp.bin", PartNumber=2, **ssec)["Body"].read() != p2:
    fail("SSE-C multipart partNumber=2")
expect_error("InvalidRequest", 400, s3.get_object, Bucket=B, Key="mp.bin")

step("not served with encryption: copies of encrypted objects, copies into encrypted uploads (501)")
expect_error("NotImplemented", 501, s3.copy_object, Bucket=B, Key="copy",
             CopySource={"Bucket": B, "Key": "s.bin"})
expect_error("NotImplemented", 501, s3.copy_object, Bucket=B, Key="copy",
             CopySource={"Bucket": B, "Key": "c.bin"}, CopySourceSSECustomerAlgorithm="AES256",
             CopySourceSSECustomerKey=key)
up = s3.create_multipart_upload(Bucket=B, Key="mp2", **ssec)["UploadId"]
expect_error("NotImplemented", 501, s3.upload_part_copy, Bucket=B, Key="mp2", UploadId=up,
             PartNumber=1, CopySource={"Bucket": B, "Key": "plain"}, **ssec)
s3.abort_multipart_upload(Bucket=B, Key="mp2", UploadId=up)

step("the drives hold none of the plaintext of the encrypted objects, and do hold a plain one's")
plain = os.urandom(200000)
s3.put_object(Bucket=B, Key="visible", Body=plain)
probes = [x[i:i + 48] for x in (body, whole) for i in range(0, len(x) - 48, 262144)]
seen_plain = seen_secret = 0
for d in sorted(glob.glob(os.path.join(T, "d[0-9]*"))):
    with open(d, "rb") as f:
        data = f.read()
    seen_plain += plain[100000:100048] in data
    seen_secret += sum(p in data for p in probes)
if not seen_plain:
    fail("the probe finds no plain object on the drives: it proves nothing")
if seen_secret:
    fail("%d pieces of encrypted plaintext found on the drives" % seen_secret)
print("ok: sse cases", flush=True)
