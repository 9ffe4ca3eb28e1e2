#!/usr/bin/env python3
# test/integ/s3_tagging.py - object and bucket tags through boto3 and
# awscli as users call them: Put/Get/DeleteObjectTagging and
# BucketTagging, x-amz-tagging on PutObject, CreateMultipartUpload and
# CopyObject (with both tagging directives), x-amz-tagging-count, AWS's
# limits (InvalidTag), who may read and change tags (a second user), and
# CopyObject onto itself refused unless it changes something.
import os
import subprocess

from s3test import aws, client, done, expect_error, fail, stage, step

stage(__file__)

from botocore.exceptions import ClientError  # noqa: E402

URL = os.environ["S3_URL"]
s3 = client()



def tags_of(**kw):
    got = s3.get_object_tagging(**kw)["TagSet"]
    return {t["Key"]: t["Value"] for t in got}


def tagset(d):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in d.items()]}


B = "tags"
s3.create_bucket(Bucket=B)

step("PutObject with x-amz-tagging; GET and HEAD say how many; GetObjectTagging lists them")
s3.put_object(Bucket=B, Key="a", Body=b"alpha", Tagging="project=agora&team=storage%20core&empty=")
got = tags_of(Bucket=B, Key="a")
if got != {"project": "agora", "team": "storage core", "empty": ""}:
    fail("tags of a: %s" % got)
if s3.head_object(Bucket=B, Key="a").get("TagCount") != 3:
    fail("HEAD TagCount: %s" % s3.head_object(Bucket=B, Key="a").get("TagCount"))
if s3.get_object(Bucket=B, Key="a").get("TagCount") != 3:
    fail("GET TagCount")
s3.put_object(Bucket=B, Key="plain", Body=b"p")
if "TagCount" in s3.head_object(Bucket=B, Key="plain"):
    fail("an object without tags has a TagCount")
if tags_of(Bucket=B, Key="plain") != {}:
    fail("an object without tags lists some")

step("PutObjectTagging replaces the set; DeleteObjectTagging removes it; the bytes stay")
s3.put_object_tagging(Bucket=B, Key="a", Tagging=tagset({"k=1": "a/b:c@d+e", "ünïcode": "välue"}))
got = tags_of(Bucket=B, Key="a")
if got != {"k=1": "a/b:c@d+e", "ünïcode": "välue"}:
    fail("after put-object-tagging: %s" % got)
s3.delete_object_tagging(Bucket=B, Key="a")
if tags_of(Bucket=B, Key="a") != {}:
    fail("tags after delete-object-tagging")
if s3.get_object(Bucket=B, Key="a")["Body"].read() != b"alpha":
    fail("the bytes changed with the tags")
s3.delete_object_tagging(Bucket=B, Key="a")  # none: still 204

step("an overwrite has only its own tags")
s3.put_object(Bucket=B, Key="o", Body=b"1", Tagging="v=1")
s3.put_object(Bucket=B, Key="o", Body=b"2")
if tags_of(Bucket=B, Key="o") != {}:
    fail("an overwrite kept the old tags")

step("limits: 11 tags, a 129-character key, a 257-character value, a duplicate key, aws: keys, bad characters are InvalidTag")
expect_error("InvalidTag", 400, s3.put_object_tagging, Bucket=B, Key="a",
             Tagging=tagset({"k%d" % i: "v" for i in range(11)}))
s3.put_object_tagging(Bucket=B, Key="a", Tagging=tagset({"k%d" % i: "v" for i in range(10)}))
expect_error("InvalidTag", 400, s3.put_object_tagging, Bucket=B, Key="a",
             Tagging=tagset({"k" * 129: "v"}))
s3.put_object_tagging(Bucket=B, Key="a", Tagging=tagset({"k" * 128: "v" * 256}))
expect_error("InvalidTag", 400, s3.put_object_tagging, Bucket=B, Key="a",
             Tagging=tagset({"k": "v" * 257}))
expect_error("InvalidTag", 400, s3.put_object_tagging, Bucket=B, Key="a",
             Tagging={"TagSet": [{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]})
expect_error("InvalidTag", 400, s3.put_object_tagging, Bucket=B, Key="a",
             Tagging=tagset({"aws:created": "x"}))
expect_error("InvalidTag", 400, s3.put_object_tagging, Bucket=B, Key="a",
             Tagging=tagset({"semi;colon": "x"}))
expect_error("InvalidTag", 400, s3.put_object, Bucket=B, Key="bad", Body=b"x",
             Tagging="=x")
expect_error("InvalidTag", 400, s3.put_object, Bucket=B, Key="bad", Body=b"x",
             Tagging="&".join("k%d=v" % i for i in range(11)))
expect_error("404", 404, s3.head_object, Bucket=B, Key="bad")
expect_error("InvalidArgument", 400, s3.put_object, Bucket=B, Key="bad", Body=b"x",
             Tagging="k=%zz")
if tags_of(Bucket=B, Key="a") != {"k" * 128: "v" * 256}:
    fail("a refused set changed the stored one")
expect_error("NoSuchKey", 404, s3.get_object_tagging, Bucket=B, Key="missing")
expect_error("NoSuchKey", 404, s3.put_object_tagging, Bucket=B, Key="missing",
             Tagging=tagset({"a": "b"}))

step("multipart: the tags of CreateMultipartUpload are the object's")
up = s3.create_multipart_upload(Bucket=B, Key="mp", Tagging="stage=raw&n=2")
part = s3.upload_part(Bucket=B, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"m" * 1000)
s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
if tags_of(Bucket=B, Key="mp") != {"stage": "raw", "n": "2"}:
    fail("multipart tags: %s" % tags_of(Bucket=B, Key="mp"))

step("CopyObject copies the tags (COPY), or takes the request's (REPLACE); an unknown directive is refused")
s3.put_object_tagging(Bucket=B, Key="a", Tagging=tagset({"src": "1"}))
s3.copy_object(Bucket=B, Key="c1", CopySource={"Bucket": B, "Key": "a"})
if tags_of(Bucket=B, Key="c1") != {"src": "1"}:
    fail("copy COPY: %s" % tags_of(Bucket=B, Key="c1"))
s3.copy_object(Bucket=B, Key="c2", CopySource={"Bucket": B, "Key": "a"},
               TaggingDirective="REPLACE", Tagging="dst=2")
if tags_of(Bucket=B, Key="c2") != {"dst": "2"}:
    fail("copy REPLACE: %s" % tags_of(Bucket=B, Key="c2"))
s3.copy_object(Bucket=B, Key="c3", CopySource={"Bucket": B, "Key": "a"},
               TaggingDirective="REPLACE")
if tags_of(Bucket=B, Key="c3") != {}:
    fail("copy REPLACE without tags kept some")
s3.copy_object(Bucket=B, Key="c4", CopySource={"Bucket": B, "Key": "a"},
               MetadataDirective="REPLACE", Metadata={"m": "1"})
if tags_of(Bucket=B, Key="c4") != {"src": "1"}:
    fail("metadata REPLACE lost the tags (their directive is COPY)")

step("CopyObject onto itself: InvalidRequest unless metadata or tags are replaced")
expect_error("InvalidRequest", 400, s3.copy_object, Bucket=B, Key="a",
             CopySource={"Bucket": B, "Key": "a"})
s3.copy_object(Bucket=B, Key="a", CopySource={"Bucket": B, "Key": "a"},
               MetadataDirective="REPLACE", Metadata={"color": "blue"})
if s3.head_object(Bucket=B, Key="a")["Metadata"] != {"color": "blue"}:
    fail("copy onto itself with REPLACE did not replace the metadata")
if s3.get_object(Bucket=B, Key="a")["Body"].read() != b"alpha":
    fail("copy onto itself changed the bytes")
s3.copy_object(Bucket=B, Key="a", CopySource={"Bucket": B, "Key": "a"},
               TaggingDirective="REPLACE", Tagging="again=yes")
if tags_of(Bucket=B, Key="a") != {"again": "yes"}:
    fail("copy onto itself with tagging REPLACE")

step("bucket tagging: none is NoSuchTagSet; 50 tags are taken, 51 refused; delete")
expect_error("NoSuchTagSet", 404, s3.get_bucket_tagging, Bucket=B)
s3.put_bucket_tagging(Bucket=B, Tagging=tagset({"b%d" % i: str(i) for i in range(50)}))
got = s3.get_bucket_tagging(Bucket=B)["TagSet"]
if len(got) != 50 or got[7] != {"Key": "b7", "Value": "7"}:
    fail("bucket tags: %s" % got[:8])
expect_error("InvalidTag", 400, s3.put_bucket_tagging, Bucket=B,
             Tagging=tagset({"b%d" % i: str(i) for i in range(51)}))
s3.delete_bucket_tagging(Bucket=B)
expect_error("NoSuchTagSet", 404, s3.get_bucket_tagging, Bucket=B)
expect_error("NoSuchBucket", 404, s3.get_bucket_tagging, Bucket="no-such-bucket")

step("another user: neither reads nor changes the tags of a bucket or an object they cannot see")
out = subprocess.run([os.environ["AGORA"], "-c", os.environ["CONF"], "user", "add", "mallory",
                      "--uid", "1077", "--gid", "1077", "--key", "MALLORYKEY",
                      "--secret", "mallorysecret"], capture_output=True, text=True)
if out.returncode:
    fail("user add mallory: " + out.stderr)
import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

mallory = boto3.client("s3", endpoint_url=URL, region_name="us-east-1",
                       aws_access_key_id="MALLORYKEY", aws_secret_access_key="mallorysecret",
                       config=Config(s3={"addressing_style": "path"},
                                     retries={"max_attempts": 1}))
for fn, kw in ((mallory.get_object_tagging, {"Key": "a"}),
               (mallory.put_object_tagging, {"Key": "a", "Tagging": tagset({"x": "y"})}),
               (mallory.delete_object_tagging, {"Key": "a"}),
               (mallory.get_bucket_tagging, {}),
               (mallory.put_bucket_tagging, {"Tagging": tagset({"x": "y"})}),
               (mallory.delete_bucket_tagging, {})):
    try:
        fn(Bucket=B, **kw)
        fail("mallory %s allowed" % fn.__name__)
    except ClientError as e:
        if e.response["Error"]["Code"] != "AccessDenied":
            fail("mallory %s: %s" % (fn.__name__, e.response["Error"]["Code"]))
if tags_of(Bucket=B, Key="a") != {"again": "yes"}:
    fail("mallory's refused requests changed the tags")

step("awscli: put-object-tagging and get-object-tagging")
aws("put-object-tagging", "--bucket", B, "--key", "plain", "--tagging",
    "TagSet=[{Key=cli,Value=yes}]")
got = aws("get-object-tagging", "--bucket", B, "--key", "plain")["TagSet"]
if got != [{"Key": "cli", "Value": "yes"}]:
    fail("awscli get-object-tagging: %s" % got)

done()
