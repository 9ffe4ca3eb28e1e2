#!/usr/bin/env python3
# test/integ/s3_cors.py - CORS as a browser meets it: a bucket's rules
# through boto3 (Put/Get/DeleteBucketCors, and the configurations AWS
# refuses), preflight OPTIONS requests allowed and refused, and the
# Access-Control-* headers on actual requests with an Origin.
import os
import urllib.error
import urllib.request

from s3test import aws, client, done, expect_error, fail, stage, step

stage(__file__)

URL = os.environ["S3_URL"]
s3 = client()
B = "web"
s3.create_bucket(Bucket=B)
s3.put_object(Bucket=B, Key="page.html", Body=b"<p>hi</p>")


def http(method, path, headers):
    """(status, headers) of a raw request (a preflight carries no signature)."""
    req = urllib.request.Request(URL + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def preflight(origin, method, headers=None, path="/web/page.html"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return http("OPTIONS", path, h)


step("no rules: GetBucketCors is NoSuchCORSConfiguration, a preflight is refused (403)")
expect_error("NoSuchCORSConfiguration", 404, s3.get_bucket_cors, Bucket=B)
st, _ = preflight("https://app.example", "GET")
if st != 403:
    fail("preflight without rules: %d" % st)

step("PutBucketCors; GetBucketCors gives the rules back")
rules = {"CORSRules": [
    {"ID": "app", "AllowedOrigins": ["https://app.example", "https://*.app.example"],
     "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["content-type", "x-amz-*"],
     "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]}
s3.put_bucket_cors(Bucket=B, CORSConfiguration=rules)
got = s3.get_bucket_cors(Bucket=B)["CORSRules"]
if len(got) != 2 or got[0]["AllowedOrigins"] != rules["CORSRules"][0]["AllowedOrigins"] \
        or got[0]["MaxAgeSeconds"] != 600 or got[1]["AllowedMethods"] != ["GET", "HEAD"]:
    fail("get-bucket-cors: %s" % got)

step("a preflight the first rule allows: its origin, methods, headers, max age")
st, h = preflight("https://app.example", "PUT", "Content-Type, X-Amz-Meta-Color")
if st != 200 or h["Access-Control-Allow-Origin"] != "https://app.example" \
        or h["Access-Control-Allow-Methods"] != "GET, PUT" \
        or h["Access-Control-Allow-Headers"] != "Content-Type, X-Amz-Meta-Color" \
        or h["Access-Control-Max-Age"] != "600" \
        or h["Access-Control-Allow-Credentials"] != "true":
    fail("preflight: %d %s" % (st, dict(h)))
st, h = preflight("https://eu.app.example", "GET")
if st != 200 or h["Access-Control-Allow-Origin"] != "https://eu.app.example":
    fail("wildcard origin: %d %s" % (st, dict(h)))

step("the second rule for any other origin: GET and HEAD only, as '*'")
st, h = preflight("https://other.example", "GET")
if st != 200 or h["Access-Control-Allow-Origin"] != "*" or "Access-Control-Allow-Credentials" in h:
    fail("any origin: %d %s" % (st, dict(h)))
for origin, method, hdrs in (("https://other.example", "PUT", None),
                             ("https://other.example", "DELETE", None),
                             ("https://app.example", "DELETE", None),
                             ("https://app.example", "PUT", "Authorization-Extra")):
    st, h = preflight(origin, method, hdrs)
    if st != 403 or "Access-Control-Allow-Origin" in h:
        fail("preflight %s %s %s allowed: %d" % (origin, method, hdrs, st))

step("a preflight without Origin or method is BadRequest; of a missing bucket NoSuchBucket")
st, _ = http("OPTIONS", "/web/page.html", {"Access-Control-Request-Method": "GET"})
if st != 400:
    fail("preflight without Origin: %d" % st)
st, _ = http("OPTIONS", "/web/page.html", {"Origin": "https://app.example"})
if st != 400:
    fail("preflight without a method: %d" % st)
st, _ = preflight("https://app.example", "GET", path="/no-such-bucket/x")
if st != 404:
    fail("preflight of a missing bucket: %d" % st)

step("actual requests with Origin carry the headers; without Origin, none")
url = s3.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "page.html"})
req = urllib.request.Request(url, headers={"Origin": "https://app.example"})
with urllib.request.urlopen(req, timeout=30) as r:
    if r.read() != b"<p>hi</p>" or r.headers["Access-Control-Allow-Origin"] != "https://app.example" \
            or r.headers["Access-Control-Expose-Headers"] != "ETag, x-amz-request-id":
        fail("GET with Origin: %s" % dict(r.headers))
with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as r:
    if "Access-Control-Allow-Origin" in r.headers:
        fail("GET without Origin has CORS headers")
req = urllib.request.Request(url, headers={"Origin": "https://evil.example"}, method="GET")
with urllib.request.urlopen(req, timeout=30) as r:
    if r.headers["Access-Control-Allow-Origin"] != "*":
        fail("GET from any origin: %s" % dict(r.headers))

step("configurations AWS refuses: no origin, an unknown method, two wildcards, no rule")
bad = [
    ({"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}, "InvalidRequest"),
    ({"CORSRules": [{"AllowedOrigins": ["https://*.*.x"], "AllowedMethods": ["GET"]}]}, "InvalidRequest"),
    ({"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"],
                     "AllowedHeaders": ["x-*-*"]}]}, "InvalidRequest"),
    ({"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101}, "InvalidRequest"),
]
for cfg, code in bad:
    expect_error(code, 400, s3.put_bucket_cors, Bucket=B, CORSConfiguration=cfg)
if len(s3.get_bucket_cors(Bucket=B)["CORSRules"]) != 2:
    fail("a refused configuration replaced the rules")
st, _ = http("PUT", "/web?cors", {"Content-Length": "0"})
if st != 403:
    fail("anonymous PutBucketCors: %d" % st)

step("awscli: put-bucket-cors and get-bucket-cors")
aws("put-bucket-cors", "--bucket", B, "--cors-configuration",
    '{"CORSRules":[{"AllowedOrigins":["https://cli.example"],"AllowedMethods":["GET"]}]}')
got = aws("get-bucket-cors", "--bucket", B)["CORSRules"]
if got != [{"AllowedOrigins": ["https://cli.example"], "AllowedMethods": ["GET"]}]:
    fail("awscli get-bucket-cors: %s" % got)
st, h = preflight("https://cli.example", "GET")
if st != 200 or h["Access-Control-Allow-Origin"] != "https://cli.example":
    fail("preflight after awscli's rules: %d" % st)

step("DeleteBucketCors: preflights are refused again")
s3.delete_bucket_cors(Bucket=B)
expect_error("NoSuchCORSConfiguration", 404, s3.get_bucket_cors, Bucket=B)
st, _ = preflight("https://app.example", "GET")
if st != 403:
    fail("preflight after delete: %d" % st)
done()
