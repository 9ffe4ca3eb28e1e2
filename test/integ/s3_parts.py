#!/usr/bin/env python3
# test/integ/s3_parts.py - what an object completed from parts keeps of
# them, through boto3 as clients call it: GET and HEAD with partNumber
# (the part's bytes, x-amz-mp-parts-count; part 1 of a plain object is all
# of it), GetObjectAttributes (ETag, checksum, parts, size, paging), a
# repeated CompleteMultipartUpload answering 200 with the same ETag, and
# all of it forgotten once the data changes.
import hashlib
import os

from s3test import aws, client, done, expect_error, fail, stage, step

stage(__file__)

s3 = client()
MiB = 1 << 20

B = "parts"
s3.create_bucket(Bucket=B)
bodies = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1000)]
up = s3.create_multipart_upload(Bucket=B, Key="mp", ChecksumAlgorithm="CRC32")
parts = []
for i, body in enumerate(bodies, 1):
    p = s3.upload_part(Bucket=B, Key="mp", UploadId=up["UploadId"], PartNumber=i, Body=body)
    parts.append({"PartNumber": i, "ETag": p["ETag"]})
done1 = s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})
etag = done1["ETag"]

step("a repeated CompleteMultipartUpload answers 200 with the same ETag; another upload ID is NoSuchUpload")
again = s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})
if again["ETag"] != etag:
    fail("repeated completion: %s, first %s" % (again["ETag"], etag))
expect_error("NoSuchUpload", 404, s3.complete_multipart_upload, Bucket=B, Key="mp",
             UploadId="0" * 32, MultipartUpload={"Parts": parts})

step("GET and HEAD with partNumber: each part's bytes, 206, the part count")
for i, body in enumerate(bodies, 1):
    r = s3.get_object(Bucket=B, Key="mp", PartNumber=i)
    got = r["Body"].read()
    if got != body:
        fail("part %d: %d bytes, md5 %s" % (i, len(got), hashlib.md5(got).hexdigest()))
    if r["PartsCount"] != 3 or r["ResponseMetadata"]["HTTPStatusCode"] != 206:
        fail("part %d: PartsCount %s, status %d" % (i, r.get("PartsCount"),
                                                     r["ResponseMetadata"]["HTTPStatusCode"]))
    start = sum(len(b) for b in bodies[:i - 1])
    want = "bytes %d-%d/%d" % (start, start + len(body) - 1, sum(len(b) for b in bodies))
    if r["ContentRange"] != want:
        fail("part %d: Content-Range %s, expected %s" % (i, r["ContentRange"], want))
h = s3.head_object(Bucket=B, Key="mp", PartNumber=2)
if h["ContentLength"] != 5 * MiB or h["PartsCount"] != 3:
    fail("HEAD part 2: %s" % h)
expect_error("InvalidPartNumber", 416, s3.get_object, Bucket=B, Key="mp", PartNumber=4)
expect_error("InvalidArgument", 400, s3.get_object, Bucket=B, Key="mp", PartNumber=0)
expect_error("InvalidRequest", 400, s3.get_object, Bucket=B, Key="mp", PartNumber=1, Range="bytes=0-1")

step("a plain object: part 1 is all of it (200), part 2 InvalidPartNumber")
s3.put_object(Bucket=B, Key="plain", Body=b"plain bytes")
r = s3.get_object(Bucket=B, Key="plain", PartNumber=1)
if r["Body"].read() != b"plain bytes" or r["ResponseMetadata"]["HTTPStatusCode"] != 200 \
        or "PartsCount" in r:
    fail("plain part 1: %s" % r)
expect_error("InvalidPartNumber", 416, s3.get_object, Bucket=B, Key="plain", PartNumber=2)

step("GetObjectAttributes: ETag, size, storage class, parts with paging, checksum")
a = s3.get_object_attributes(Bucket=B, Key="mp",
                             ObjectAttributes=["ETag", "ObjectSize", "StorageClass", "ObjectParts"])
if a["ETag"] != etag.strip('"') or a["ObjectSize"] != sum(len(b) for b in bodies) \
        or a["StorageClass"] != "STANDARD":
    fail("attributes: %s" % a)
op = a["ObjectParts"]
if op["TotalPartsCount"] != 3 or [p["Size"] for p in op["Parts"]] != [len(b) for b in bodies] \
        or op["IsTruncated"]:
    fail("ObjectParts: %s" % op)
a = s3.get_object_attributes(Bucket=B, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2)
op = a["ObjectParts"]
if [p["PartNumber"] for p in op["Parts"]] != [1, 2] or not op["IsTruncated"] \
        or op["NextPartNumberMarker"] != 2:
    fail("first page: %s" % op)
a = s3.get_object_attributes(Bucket=B, Key="mp", ObjectAttributes=["ObjectParts"],
                             MaxParts=2, PartNumberMarker=2)
if [p["PartNumber"] for p in a["ObjectParts"]["Parts"]] != [3] or a["ObjectParts"]["IsTruncated"]:
    fail("second page: %s" % a["ObjectParts"])
s3.put_object(Bucket=B, Key="summed", Body=b"sum me", ChecksumAlgorithm="SHA256")
a = s3.get_object_attributes(Bucket=B, Key="summed", ObjectAttributes=["Checksum", "ObjectParts"])
want = s3.head_object(Bucket=B, Key="summed", ChecksumMode="ENABLED")["ChecksumSHA256"]
if a.get("Checksum", {}).get("ChecksumSHA256") != want or "ObjectParts" in a:
    fail("plain object attributes: %s" % a)
expect_error("InvalidArgument", 400, s3.get_object_attributes, Bucket=B, Key="mp",
             ObjectAttributes=["Colour"])
expect_error("NoSuchKey", 404, s3.get_object_attributes, Bucket=B, Key="missing",
             ObjectAttributes=["ETag"])

step("awscli: get-object-attributes and get-object --part-number")
got = aws("get-object-attributes", "--bucket", B, "--key", "mp", "--object-attributes",
          "ObjectParts", "ObjectSize")
if got["ObjectSize"] != sum(len(b) for b in bodies) or got["ObjectParts"]["TotalPartsCount"] != 3:
    fail("awscli get-object-attributes: %s" % got)
got = aws("get-object", "--bucket", B, "--key", "mp", "--part-number", "3",
          os.path.join(os.environ["T"], "part3"))
with open(os.path.join(os.environ["T"], "part3"), "rb") as f:
    if f.read() != bodies[2] or got["PartsCount"] != 3:
        fail("awscli get-object --part-number 3")

step("a copy of the object is no completed upload: no parts, no repeated completion")
s3.copy_object(Bucket=B, Key="copy", CopySource={"Bucket": B, "Key": "mp"})
r = s3.get_object(Bucket=B, Key="copy", PartNumber=1)
if r["ResponseMetadata"]["HTTPStatusCode"] != 200 or len(r["Body"].read()) != 10 * MiB + 1000:
    fail("part 1 of the copy is not the whole copy")
expect_error("NoSuchUpload", 404, s3.complete_multipart_upload, Bucket=B, Key="copy",
             UploadId=up["UploadId"], MultipartUpload={"Parts": parts})

step("overwritten, the key forgets the upload: completing it again is NoSuchUpload")
s3.put_object(Bucket=B, Key="mp", Body=b"new")
expect_error("NoSuchUpload", 404, s3.complete_multipart_upload, Bucket=B, Key="mp",
             UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
expect_error("InvalidPartNumber", 416, s3.get_object, Bucket=B, Key="mp", PartNumber=2)
done()
