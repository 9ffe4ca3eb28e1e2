#!/usr/bin/env python3
# test/integ/s3_lifecycle.py - bucket lifecycle rules as users set them
# through boto3 (Put/Get/DeleteBucketLifecycleConfiguration) and as
# `agora lifecycle` applies them, with a day one second long ([lifecycle]
# day): expiration by age, by date, by tag, of a prefix only, a disabled
# rule, incomplete uploads aborted, objects written since kept; the
# configurations AWS refuses, and another user's requests.
import os
import subprocess
import time

from s3test import aws, client, done, expect_error, fail, stage, step

stage(__file__)

CONF = os.environ["CONF"]
s3 = client()
B = "aging"
s3.create_bucket(Bucket=B)
with open(CONF, "a") as f:
    f.write("\n[lifecycle]\nday = 1\n")


def run():
    out = subprocess.run([os.environ["AGORA"], "-c", CONF, "lifecycle"], capture_output=True,
                         text=True, timeout=120)
    if out.returncode:
        fail("agora lifecycle: %d %s" % (out.returncode, out.stderr))
    return out.stdout.strip()


def keys():
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=B).get("Contents", []))


rules = [
    {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
     "Expiration": {"Days": 3}},
    {"ID": "temp", "Filter": {"Tag": {"Key": "class", "Value": "temp"}}, "Status": "Enabled",
     "Expiration": {"Days": 3}},
    {"ID": "old", "Filter": {"And": {"Prefix": "old/", "Tags": [{"Key": "a", "Value": "1"},
                                                               {"Key": "b", "Value": "2"}]}},
     "Status": "Enabled", "Expiration": {"Date": "2020-01-01T00:00:00Z"}},
    {"ID": "uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
    {"ID": "off", "Filter": {"Prefix": "keep/"}, "Status": "Disabled", "Expiration": {"Days": 1}},
]

step("no rules: NoSuchLifecycleConfiguration; put five, get them back")
expect_error("NoSuchLifecycleConfiguration", 404, s3.get_bucket_lifecycle_configuration, Bucket=B)
s3.put_bucket_lifecycle_configuration(Bucket=B, LifecycleConfiguration={"Rules": rules})
got = s3.get_bucket_lifecycle_configuration(Bucket=B)["Rules"]
if [r["ID"] for r in got] != ["logs", "temp", "old", "uploads", "off"]:
    fail("rules: %s" % got)
if got[0]["Filter"] != {"Prefix": "logs/"} or got[0]["Expiration"] != {"Days": 3}:
    fail("rule logs: %s" % got[0])
if got[1]["Filter"] != {"Tag": {"Key": "class", "Value": "temp"}}:
    fail("rule temp: %s" % got[1])
if got[2]["Filter"]["And"]["Prefix"] != "old/" or len(got[2]["Filter"]["And"]["Tags"]) != 2 \
        or got[2]["Expiration"]["Date"].year != 2020:
    fail("rule old: %s" % got[2])
if got[3]["AbortIncompleteMultipartUpload"] != {"DaysAfterInitiation": 3} or got[4]["Status"] != "Disabled":
    fail("rules uploads, off: %s" % got[3:])

step("objects and an upload; a run right away expires only what the date rule names")
for k in ("logs/a", "logs/b", "keep/k", "data/plain"):
    s3.put_object(Bucket=B, Key=k, Body=k.encode())
s3.put_object(Bucket=B, Key="data/tagged", Body=b"t", Tagging="class=temp")
s3.put_object(Bucket=B, Key="old/both", Body=b"o", Tagging="a=1&b=2&c=3")
s3.put_object(Bucket=B, Key="old/one", Body=b"o", Tagging="a=1")
up = s3.create_multipart_upload(Bucket=B, Key="big")["UploadId"]
out = run()
if "1 expired, 0 uploads aborted" not in out:
    fail("first run: %s" % out)
if keys() != ["data/plain", "data/tagged", "keep/k", "logs/a", "logs/b", "old/one"]:
    fail("after the first run: %s" % keys())

step("three 'days' later: logs/ and the temp-tagged expire, the upload is aborted; a new log stays")
time.sleep(3.5)
s3.put_object(Bucket=B, Key="logs/new", Body=b"n")
out = run()
if "3 expired, 1 uploads aborted" not in out:
    fail("second run: %s" % out)
if keys() != ["data/plain", "keep/k", "logs/new", "old/one"]:
    fail("after the second run: %s" % keys())
if s3.list_multipart_uploads(Bucket=B).get("Uploads"):
    fail("the upload is still there")
expect_error("NoSuchUpload", 404, s3.list_parts, Bucket=B, Key="big", UploadId=up)

step("configurations refused: transitions and newer-noncurrent counts 501, bad days, dates, IDs, tags with abort")
bad = [
    ([{"ID": "t", "Filter": {"Prefix": ""}, "Status": "Enabled",
       "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}], "NotImplemented", 501),
    ([{"ID": "n", "Filter": {"Prefix": ""}, "Status": "Enabled",
       "NoncurrentVersionExpiration": {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2}}],
     "NotImplemented", 501),
    ([{"ID": "n0", "Filter": {"Prefix": ""}, "Status": "Enabled",
       "NoncurrentVersionExpiration": {"NoncurrentDays": 0}}], "InvalidArgument", 400),
    ([{"ID": "z", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 0}}],
     "InvalidArgument", 400),
    ([{"ID": "d", "Filter": {"Prefix": ""}, "Status": "Enabled",
       "Expiration": {"Date": "2030-01-01T12:00:00Z"}}], "InvalidArgument", 400),
    ([{"ID": "same", "Filter": {"Prefix": "a"}, "Status": "Enabled", "Expiration": {"Days": 1}},
      {"ID": "same", "Filter": {"Prefix": "b"}, "Status": "Enabled", "Expiration": {"Days": 1}}],
     "InvalidArgument", 400),
    ([{"ID": "ta", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, "Status": "Enabled",
       "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}], "InvalidRequest", 400),
    ([{"ID": "none", "Filter": {"Prefix": ""}, "Status": "Enabled"}], "InvalidRequest", 400),
]
for rs, code, status in bad:
    expect_error(code, status, s3.put_bucket_lifecycle_configuration, Bucket=B,
                 LifecycleConfiguration={"Rules": rs})
if len(s3.get_bucket_lifecycle_configuration(Bucket=B)["Rules"]) != 5:
    fail("a refused configuration replaced the rules")

step("another user neither reads nor changes the rules")
out = subprocess.run([os.environ["AGORA"], "-c", CONF, "user", "add", "oscar", "--uid", "1079",
                      "--gid", "1079", "--key", "OSCARKEY", "--secret", "oscarsecret"],
                     capture_output=True, text=True)
if out.returncode:
    fail("user add oscar: " + out.stderr)
import boto3  # noqa: E402

oscar = boto3.client("s3", endpoint_url=os.environ["S3_URL"], region_name="us-east-1",
                     aws_access_key_id="OSCARKEY", aws_secret_access_key="oscarsecret")
expect_error("AccessDenied", 403, oscar.get_bucket_lifecycle_configuration, Bucket=B)
expect_error("AccessDenied", 403, oscar.delete_bucket_lifecycle, Bucket=B)
expect_error("AccessDenied", 403, oscar.put_bucket_lifecycle_configuration, Bucket=B,
             LifecycleConfiguration={"Rules": rules[:1]})

step("awscli: get-bucket-lifecycle-configuration shows the rules")
got = aws("get-bucket-lifecycle-configuration", "--bucket", B)["Rules"]
if [r["ID"] for r in got] != ["logs", "temp", "old", "uploads", "off"]:
    fail("awscli lifecycle rules: %s" % got)

step("DeleteBucketLifecycle: nothing expires any more")
s3.delete_bucket_lifecycle(Bucket=B)
expect_error("NoSuchLifecycleConfiguration", 404, s3.get_bucket_lifecycle_configuration, Bucket=B)
time.sleep(3.5)
out = run()
if "0 buckets with rules" not in out or keys() != ["data/plain", "keep/k", "logs/new", "old/one"]:
    fail("after delete: %s %s" % (out, keys()))
step("a versioned bucket: noncurrent versions go NoncurrentDays after they stopped being current")
V = "history"
s3.create_bucket(Bucket=V)
s3.put_bucket_versioning(Bucket=V, VersioningConfiguration={"Status": "Enabled"})
s3.put_bucket_lifecycle_configuration(Bucket=V, LifecycleConfiguration={"Rules": [
    {"ID": "old-versions", "Filter": {"Prefix": ""}, "Status": "Enabled",
     "NoncurrentVersionExpiration": {"NoncurrentDays": 2}}]})
got = s3.get_bucket_lifecycle_configuration(Bucket=V)["Rules"][0]
if got.get("NoncurrentVersionExpiration") != {"NoncurrentDays": 2}:
    fail("noncurrent rule: %s" % got)
ids = [s3.put_object(Bucket=V, Key="k", Body=b"v%d" % i)["VersionId"] for i in range(3)]


def versions():
    r = s3.list_object_versions(Bucket=V)
    return [v["VersionId"] for v in r.get("Versions", [])], \
        [m["VersionId"] for m in r.get("DeleteMarkers", [])]


if "0 noncurrent versions removed" not in run() or versions()[0] != ids[::-1]:
    fail("versions went before their days: %s" % (versions(),))
time.sleep(2.5)
ids.append(s3.put_object(Bucket=V, Key="k", Body=b"v3")["VersionId"])
out = run()
if "2 noncurrent versions removed" not in out or versions() != ([ids[3], ids[2]], []):
    fail("after 2.5 days: %s %s" % (out, versions()))
marker = s3.delete_object(Bucket=V, Key="k")["VersionId"]
time.sleep(2.5)
out = run()
if "2 noncurrent versions removed" not in out or versions() != ([], [marker]):
    fail("after the delete: %s %s" % (out, versions()))

done()
