#!/usr/bin/env python3
# test/integ/s3_post.py - browser form uploads (PostObject) as a web page
# sends them: boto3 signs a POST policy (generate_presigned_post), curl
# posts the form. A good form stores the file with its fields (metadata,
# canned ACL, ${filename}, success_action_status and _redirect); a forged
# signature, a tampered or expired policy, a failed condition, an extra
# field, a file over content-length-range and a user without write
# permission are each refused with the error AWS gives, storing nothing.
import base64
import json
import os
import subprocess
import urllib.request

from s3test import client, done, expect_error, fail, stage, step

stage(__file__)

URL = os.environ["S3_URL"]
T = os.environ["T"]
s3 = client()
B = "forms"
s3.create_bucket(Bucket=B)
photo = os.path.join(T, "photo.jpg")
with open(photo, "wb") as f:
    f.write(b"\xff\xd8\xff\xe0" + os.urandom(5000) + b"\xff\xd9")


def post(fields, file=photo, bucket=B, ctype=None):
    """(status, headers, body) of curl posting the form."""
    cmd = ["curl", "-s", "-o", os.path.join(T, "post.out"), "-D", os.path.join(T, "post.hdr"),
           "-w", "%{http_code}", "--max-time", "60"]
    if ctype:
        cmd += ["-H", "Content-Type: " + ctype, "--data-binary", "x=1"]
    else:
        for k, v in fields.items():
            cmd += ["--form-string", "%s=%s" % (k, v)]
        if file:
            cmd += ["-F", "file=@%s;type=image/jpeg" % file]
    st = subprocess.run(cmd + ["%s/%s" % (URL, bucket)], capture_output=True, text=True).stdout
    with open(os.path.join(T, "post.hdr")) as f:
        hdr = f.read()
    with open(os.path.join(T, "post.out"), "rb") as f:
        body = f.read()
    return int(st), hdr, body


def refused(what, status, code, fields, **kw):
    st, _, body = post(fields, **kw)
    if st != status or ("<Code>%s</Code>" % code).encode() not in body:
        fail("%s: expected %d %s, got %d %r" % (what, status, code, st, body[:300]))


def absent(key):
    expect_error("404", 404, s3.head_object, Bucket=B, Key=key)


good_fields = {"acl": "public-read", "Content-Type": "image/jpeg",
               "success_action_status": "201", "x-amz-meta-who": "browser"}
good_conds = [{"acl": "public-read"}, {"Content-Type": "image/jpeg"},
              {"success_action_status": "201"}, {"x-amz-meta-who": "browser"},
              ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1 << 20]]


def signed(key="uploads/${filename}", fields=None, conds=None, expires=600, c=s3):
    return c.generate_presigned_post(B, key, Fields=dict(good_fields if fields is None else fields),
                                     Conditions=list(good_conds if conds is None else conds),
                                     ExpiresIn=expires)["fields"]


step("a signed form stores the file: 201 PostResponse, its fields as metadata and ACL, ${filename}")
st, hdr, body = post(signed())
if st != 201 or b"<Key>uploads/photo.jpg</Key>" not in body:
    fail("good form: %d %r" % (st, body[:300]))
obj = s3.get_object(Bucket=B, Key="uploads/photo.jpg")
with open(photo, "rb") as f:
    if obj["Body"].read() != f.read():
        fail("the stored bytes differ from the file")
if obj["ContentType"] != "image/jpeg" or obj["Metadata"] != {"who": "browser"}:
    fail("fields not stored: %s %s" % (obj["ContentType"], obj["Metadata"]))
if ('ETag: %s' % obj["ETag"]) not in hdr:
    fail("the answer's ETag: %s" % hdr)
with urllib.request.urlopen(URL + "/forms/uploads/photo.jpg", timeout=30) as r:
    if r.status != 200:
        fail("public-read from the form's acl: %d" % r.status)

step("success_action_redirect: 303 to the page with bucket, key and etag; default status 204")
f = signed(key="uploads/r.jpg", fields={"success_action_redirect": "https://app.example/done?x=1"},
           conds=[{"success_action_redirect": "https://app.example/done?x=1"},
                  ["starts-with", "$key", "uploads/"]])
st, hdr, _ = post(f)
loc = [line for line in hdr.splitlines() if line.lower().startswith("location:")]
if st != 303 or not loc or "https://app.example/done?x=1&bucket=forms&key=uploads%2Fr.jpg&etag=" not in loc[0]:
    fail("redirect: %d %s" % (st, loc))
st, _, _ = post(signed(key="uploads/plain.jpg", fields={}, conds=[["starts-with", "$key", "uploads/"]]))
if st != 204:
    fail("default status: %d" % st)
s3.head_object(Bucket=B, Key="uploads/plain.jpg")

step("a forged signature and a tampered policy: SignatureDoesNotMatch, nothing stored")
f = signed(key="uploads/forged.jpg")
sig = f["x-amz-signature"]
f["x-amz-signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
refused("forged signature", 403, "SignatureDoesNotMatch", f)
f = signed(key="uploads/tampered.jpg")
pol = json.loads(base64.b64decode(f["policy"]))
pol["conditions"].append(["content-length-range", 0, 1 << 40])
f["policy"] = base64.b64encode(json.dumps(pol).encode()).decode()
refused("tampered policy", 403, "SignatureDoesNotMatch", f)
for k in ("uploads/forged.jpg", "uploads/tampered.jpg"):
    absent(k)

step("the policy's rules: expired, a failed condition, an extra field, too large a file")
refused("expired policy", 403, "AccessDenied", signed(key="uploads/old.jpg", expires=-60))
refused("key outside the prefix", 403, "AccessDenied", signed(key="elsewhere/x.jpg"))
f = signed(key="uploads/extra.jpg")
f["x-amz-meta-sneaky"] = "1"
refused("extra field", 403, "AccessDenied", f)
f = signed(key="uploads/mine.jpg")
f["Content-Type"] = "text/html"
refused("changed Content-Type", 403, "AccessDenied", f)
big = os.path.join(T, "big.bin")
with open(big, "wb") as fh:
    fh.write(os.urandom((1 << 20) + 1))
refused("over content-length-range", 400, "EntityTooLarge", signed(key="uploads/big.jpg"), file=big)
for k in ("uploads/old.jpg", "elsewhere/x.jpg", "uploads/extra.jpg", "uploads/mine.jpg",
          "uploads/big.jpg"):
    absent(k)

step("no policy: anonymous, refused on a private bucket; not a form: 412; no key: InvalidArgument")
refused("anonymous form", 403, "AccessDenied", {"key": "anon.jpg"})
absent("anon.jpg")
refused("not multipart", 412, "PreconditionFailed", {}, ctype="application/x-www-form-urlencoded")
f = signed(key="uploads/x.jpg", conds=[["starts-with", "$key", ""]] + good_conds[:4])
del f["key"]
refused("no key", 400, "InvalidArgument", f)
refused("no file", 400, "MalformedPOSTRequest", signed(key="uploads/nofile.jpg"), file=None)

step("another user's signed form cannot write a bucket it may not write")
out = subprocess.run([os.environ["AGORA"], "-c", os.environ["CONF"], "user", "add", "eve",
                      "--uid", "1078", "--gid", "1078", "--key", "EVEKEY",
                      "--secret", "evesecret"], capture_output=True, text=True)
if out.returncode:
    fail("user add eve: " + out.stderr)
import boto3  # noqa: E402

eve = boto3.client("s3", endpoint_url=URL, region_name="us-east-1",
                   aws_access_key_id="EVEKEY", aws_secret_access_key="evesecret")
refused("eve's form", 403, "AccessDenied", signed(key="uploads/eve.jpg", c=eve))
absent("uploads/eve.jpg")
done()
