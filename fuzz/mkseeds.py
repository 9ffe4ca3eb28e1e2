#!/usr/bin/env python3
# fuzz/mkseeds.py - the seeds of the text targets (http, sigv4, range,
# xml, config): python3 fuzz/mkseeds.py fuzz/corpus writes them. The
# SigV4 seeds are signed by botocore with the secret every access key
# has in fuzz/fuzz_sigv4.c, so they reach the signature comparison and
# pass it.
import os, sys, datetime
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

C = sys.argv[1]
def w(t, name, data):
    os.makedirs(f"{C}/{t}", exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(f"{C}/{t}/{name}", "wb").write(data)

def req(method, target, headers, body=b""):
    s = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return s.encode() + body

# ---- http
w("http", "valid-get-object", req("GET", "/bucket/dir/key.txt", [("Host", "localhost:9000")]))
w("http", "valid-list-v2", req("GET", "/bucket?list-type=2&prefix=a%2Fb&delimiter=%2F&max-keys=10", [("Host", "localhost")]))
w("http", "valid-vhost", req("PUT", "/some/key?partNumber=1&uploadId=abc", [("Host", "bucket.s3.test:9000"), ("Content-Length", "5")], b"hello"))
w("http", "valid-service", req("GET", "/", [("Host", "localhost")]))
w("http", "valid-delete-query", req("POST", "/bucket?delete", [("Host", "localhost"), ("Content-Length", "10"), ("Content-Length", "10")]))
w("http", "bad-two-lengths", req("PUT", "/b/k", [("Content-Length", "10"), ("Content-Length", "11")]))
w("http", "bad-length-and-chunked", req("PUT", "/b/k", [("Content-Length", "10"), ("Transfer-Encoding", "chunked")]))
w("http", "bad-escape", req("GET", "/b/k%zz?x=%00", []))
w("http", "bad-encoded-nul", req("GET", "/b/%00", []))
w("http", "bad-no-slash", req("GET", "b/k", []))
w("http", "plus-in-query", req("GET", "/b?prefix=a+b&marker=%41", []))
w("http", "many-params", req("GET", "/b?" + "&".join(f"p{i}=v" for i in range(300)), []))
w("http", "many-headers", req("GET", "/b/k", [(f"x-h{i}", "v") for i in range(70)]))
w("http", "utf8-key", req("GET", "/b/%C3%A9t%C3%A9/%F0%9F%98%80", []))
w("http", "bad-utf8-key", req("GET", "/b/%C3%28", []))

# ---- sigv4: signed with the secret every access key has in the target
# a fixed date in the future: the target accepts 30 years of skew, and a
# presigned URL of 2040 has not expired yet, so the seeds stay valid
import botocore.auth
botocore.auth.get_current_datetime = lambda: datetime.datetime(2040, 1, 1, 12, 0, 0)
creds = Credentials("AKIDFUZZ", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
def signed(method, url, headers, body=b"", presign=False):
    r = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    if presign:
        S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=3600).add_auth(r)
    else:
        r.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        S3SigV4Auth(creds, "s3", "us-east-1").add_auth(r)
    p = r.url.split("localhost:9000", 1)[1]
    hs = [("Host", "localhost:9000")] + [(k, v) for k, v in r.headers.items() if k.lower() != "host"]
    return req(method, p, hs, body)
w("sigv4", "valid-header-get", signed("GET", "http://localhost:9000/bucket/key", []))
w("sigv4", "valid-header-list", signed("GET", "http://localhost:9000/bucket?list-type=2&prefix=a%20b", []))
w("sigv4", "valid-header-put", signed("PUT", "http://localhost:9000/bucket/a/b%20c", [("Content-Length", "3"), ("x-amz-meta-x", "  a   b  ")], b"abc"))
w("sigv4", "valid-presigned-get", signed("GET", "http://localhost:9000/bucket/key", [], presign=True))
w("sigv4", "valid-presigned-put", signed("PUT", "http://localhost:9000/bucket/k%2Fk", [], presign=True))
w("sigv4", "no-auth", req("GET", "/bucket/key", [("Host", "x")]))
w("sigv4", "v2-auth", req("GET", "/bucket/key", [("Authorization", "AWS AKID:sig")]))
w("sigv4", "bad-credential", req("GET", "/b/k", [("Authorization", "AWS4-HMAC-SHA256 Credential=AK/2024/us/s3/aws4_request, SignedHeaders=host, Signature=00"), ("x-amz-date", "20240101T000000Z"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]))
w("sigv4", "missing-signed-header", req("GET", "/b/k", [("Authorization", "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/s3/aws4_request,SignedHeaders=host;x-missing,Signature=" + "0" * 64), ("x-amz-date", "20240101T000000Z"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("Host", "h")]))
w("sigv4", "bad-presigned-expiry", req("GET", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=0&X-Amz-SignedHeaders=host&X-Amz-Signature=00", [("Host", "h")]))
w("sigv4", "long-signed-headers", req("GET", "/b/k", [("Authorization", "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/s3/aws4_request,SignedHeaders=" + ";".join(["host"] * 300) + ",Signature=" + "0" * 64), ("x-amz-date", "20240101T000000Z"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("Host", "h")]))
w("sigv4", "date-header", req("GET", "/b/k", [("Authorization", "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/s3/aws4_request,SignedHeaders=date;host,Signature=" + "0" * 64), ("Date", "20240101T000000Z"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("Host", "h")]))

# ---- range and conditions
rng = ["bytes=0-99", "bytes=100-", "bytes=-500", "bytes=0-0", "bytes=5-2", "bytes=-0",
       "bytes=0-99,200-299", "bytes=18446744073709551615-", "bytes=-18446744073709551616", "items=0-1", "bytes= 1-2"]
for i, r in enumerate(rng):
    w("range", f"range-{i:02d}", req("GET", "/b/k", [("Range", r)]))
for i, r in enumerate(["bytes=0-0", "bytes=0-4095", "bytes=10-5", "bytes=0-4096", "bytes=-5", "bytes=1-2x", "bytes=18446744073709551615-18446744073709551615"]):
    w("range", f"copy-range-{i:02d}", req("PUT", "/b/k", [("x-amz-copy-source", "/src/key"), ("x-amz-copy-source-range", r)]))
etag = '"9e107d9d372bb6826bd81d3542a419d6"'
conds = [[("If-Match", etag)], [("If-Match", "*")], [("If-Match", '"x", ' + etag)],
         [("If-None-Match", "W/" + etag)], [("If-None-Match", "*")], [("If-None-Match", "9e107d9d372bb6826bd81d3542a419d6")],
         [("If-Modified-Since", "Wed, 21 Oct 2015 07:28:00 GMT")], [("If-Unmodified-Since", "2015-10-21T07:28:00")],
         [("If-Modified-Since", "Wed, 21 Oct 2099 07:28:00 GMT")], [("If-Match", etag[:-1] + '-12"')],
         [("x-amz-copy-source-if-match", etag), ("x-amz-copy-source-if-none-match", '""')],
         [("x-amz-copy-source-if-modified-since", "garbage")], [("If-Match", " "), ("If-None-Match", ",,,")],
         [("If-Match", "W/"), ("If-None-Match", "W/")], [("If-Match", '"')], [("If-None-Match", "* "), ("If-Match", etag)]]
for i, c in enumerate(conds):
    w("range", f"cond-{i:02d}", req("PUT", "/b/k", c))

# ---- xml bodies
part = lambda n, e: f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
E = "9e107d9d372bb6826bd81d3542a419d6"
xml = {
 "valid-complete": f'<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{part(1, "&quot;" + E + "&quot;")}{part(2, E)}</CompleteMultipartUpload>',
 "valid-delete": '<Delete><Quiet>true</Quiet><Object><Key>a/b.txt</Key></Object><Object><Key>x&amp;y&#60;&#x3e;</Key><VersionId>null</VersionId></Object></Delete>',
 "valid-create-bucket": '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>',
 "empty-elements": "<Delete><Object><Key/></Object><Quiet/></Delete>",
 "nested-same": "<Delete><Object><Object><Key>k</Key></Object></Object></Delete>",
 "unterminated": "<Delete><Object><Key>k</Key></Object",
 "ends-in-lt": "<Delete><Object><Key>k<",
 "ends-in-empty-tag": "<Delete><>",
 "close-with-space": "<Delete ><Object ><Key >k</Key ></Object ></Delete >",
 "bad-entities": "<Delete><Object><Key>&bogus; &#0; &#x; &#128; &#</Key></Object></Delete>",
 "prefix-tags": "<Deleted><Delete><Objects><Object><Keys>1</Keys><Key>2</Key></Object></Objects></Delete></Deleted>",
 "part-bad-number": "<CompleteMultipartUpload>" + part("99999999999999999999", E) + part("x", E) + part(1, "short") + "</CompleteMultipartUpload>",
 "part-missing": "<CompleteMultipartUpload><Part><ETag>" + E + "</ETag></Part><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
 "long-key": "<Delete><Object><Key>" + "k" * 1100 + "</Key></Object></Delete>",
 "long-etag": "<CompleteMultipartUpload>" + part(1, "&quot;" * 40 + E) + "</CompleteMultipartUpload>",
 "self-closing-parent": "<CompleteMultipartUpload/>",
 "slash-close": "<Delete></Delete/><Delete>",
}
for k, v in xml.items():
    w("xml", k, v)

# ---- config
conf = {
 "valid-cluster": "# a cluster\n[cluster]\ndrives = /d/0,/d/1,/d/2,/d/3\nec = 2+1\ndrive_size = 256M\nmetad = unix:/run/agora.sock\n\n[metad]\npidfile = /run/metad.pid\nlog = /var/log/metad.log ; where\nlease_timeout = 3\nbatch_max = 128\n",
 "valid-all-keys": "[cluster]\ndrives=/a,/b,/c\nec=1+2\ndrive_size=1G\nmetad=127.0.0.1:7000\nchunk_min=16K\nchunk_avg=64K\nchunk_max=256K\nstrip_size=64K\nsegment_size=64M\nzstd_level=-3\npage_cache=64M\nchunk_cache=1T\nmetad_timeout=60\n[s3]\nlisten = 127.0.0.1:9000, [::1]:9000\nregion = us-east-1\n[fuse]\nx = y\n",
 "bad-section": "[cluster\ndrives = /a\n",
 "bad-line": "[cluster]\nno equals here\n",
 "unknown-key": "[cluster]\nbogus = 1\n",
 "bad-numbers": "[cluster]\ndrive_size = 99999999999999999999999T\nchunk_min = -1\nec = 99+99\nzstd_level = 1x\n",
 "long-section": "[" + "s" * 100 + "]\n",
 "long-line": "[cluster]\nmetad = " + "m" * 9000 + "\n",
 "many-drives": "[cluster]\ndrives = " + ",".join(f"/d{i}" for i in range(300)) + "\nmetad = x\n",
 "comments": "; c\n   # c\n[ cluster ]   \n  drives =/a#not a comment, /b # a comment\nmetad = x;y ;z\n",
 "empty-values": "[cluster]\ndrives =\nec =\nmetad =\n",
}
for k, v in conf.items():
    w("config", k, v)

# ---- body: plain, hashed, aws-chunked (signed with the target's signing
# key, 32 zero bytes, chained from a seed signature of 64 zeros)
import hashlib, hmac, base64, zlib
EMPTY = hashlib.sha256(b"").hexdigest()
DATE, SCOPE = "20400101T120000Z", "20400101/us-east-1/s3/aws4_request"
def chunked(chunks, trailer=b"", signed=True):
    out, prev = b"", "0" * 64
    for c in chunks + [b""]:
        if signed:
            sts = f"AWS4-HMAC-SHA256-PAYLOAD\n{DATE}\n{SCOPE}\n{prev}\n{EMPTY}\n{hashlib.sha256(c).hexdigest()}"
            prev = hmac.new(bytes(32), sts.encode(), hashlib.sha256).hexdigest()
            out += f"{len(c):x};chunk-signature={prev}\r\n".encode()
        else:
            out += f"{len(c):x}\r\n".encode()
        out += c + (b"\r\n" if c else b"")
    return out + trailer + b"\r\n"
body = b"hello, world"
md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
w("body", "valid-plain", req("PUT", "/b/k", [("Content-Length", str(len(body)))], body))
w("body", "valid-sha256", req("PUT", "/b/k", [("Content-Length", str(len(body))), ("x-amz-content-sha256", hashlib.sha256(body).hexdigest()), ("Content-MD5", md5)], body))
w("body", "valid-crc32", req("PUT", "/b/k", [("Content-Length", str(len(body))), ("x-amz-checksum-crc32", crc)], body))
w("body", "bad-md5", req("PUT", "/b/k", [("Content-Length", str(len(body))), ("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")], body))
w("body", "short-body", req("PUT", "/b/k", [("Content-Length", "100")], body))
w("body", "no-length", req("PUT", "/b/k", [], body))
w("body", "http-chunked", req("PUT", "/b/k", [("Transfer-Encoding", "chunked")], body))
sc = chunked([b"a" * 100, b"b" * 7])
w("body", "valid-signed-chunks", req("PUT", "/b/k", [("Content-Length", str(len(sc))), ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("x-amz-decoded-content-length", "107")], sc))
uc = chunked([body], trailer=f"x-amz-checksum-crc32:{crc}\r\n".encode(), signed=False)
w("body", "valid-unsigned-trailer", req("PUT", "/b/k", [("Content-Length", str(len(uc))), ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-decoded-content-length", str(len(body))), ("x-amz-trailer", "x-amz-checksum-crc32")], uc))
st = chunked([body], trailer=b"x-amz-checksum-sha256:" + base64.b64encode(hashlib.sha256(body).digest()) + b"\r\nx-amz-trailer-signature:00\r\n")
w("body", "valid-signed-trailer", req("PUT", "/b/k", [("Content-Length", str(len(st))), ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), ("x-amz-decoded-content-length", str(len(body))), ("x-amz-trailer", "x-amz-checksum-sha256")], st))
w("body", "bad-chunk-size", req("PUT", "/b/k", [("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-decoded-content-length", "5"), ("Content-Length", "30")], b"zz\r\nhello\r\n0\r\n\r\n"))
w("body", "huge-chunk-size", req("PUT", "/b/k", [("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-decoded-content-length", "5"), ("Content-Length", "30")], b"ffffffffffffffff\r\nhello\r\n"))
w("body", "trailer-unknown-sum", req("PUT", "/b/k", [("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-decoded-content-length", "0"), ("Content-Length", "40")], b"0\r\nx-amz-checksum-md7:AAAA\r\n\r\n"))
w("body", "long-line", req("PUT", "/b/k", [("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("x-amz-decoded-content-length", "0"), ("Content-Length", "999")], b"0" * 600 + b"\r\n"))
