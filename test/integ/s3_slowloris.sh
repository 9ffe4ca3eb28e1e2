#!/bin/bash
# test/integ/s3_slowloris.sh - slow and idle clients do not starve
# agora-s3d: 200 connections that dribble a request header a byte at a
# time or send nothing (reconnecting when dropped) while signed GETs must
# each answer within a second; a header still unfinished after
# header_timeout is dropped; a body may still pause longer than that. The
# [s3] section keeps the default threads; header_timeout is 2 s, to keep
# the test short.
. "$(dirname "$0")/lib.sh"
python3 -c 'import boto3' 2>/dev/null || skip "python3-boto3 is not installed"

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
S3_PORT=$(free_port)
cat >>"$CONF" <<CONF

[s3]
listen = 127.0.0.1:$S3_PORT
pidfile = $T/s3d.pid
log = $T/s3d.log
header_timeout = 2
CONF
s3d_start
# room for 200 more descriptors in this shell's children
ulimit -n 4096 2>/dev/null || true

export T
timeout 60 python3 - <<'PY' || fail "slowloris check exited $?"
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["AGORA_SRCDIR"], "test", "integ"))
from s3test import client, fail, step  # noqa: E402

port = int(os.environ["S3_URL"].rsplit(":", 1)[1])
s3 = client()
# a GET that waits for a worker fails the test rather than hangs it
quick = client(connect_timeout=5, read_timeout=5)
s3.create_bucket(Bucket="slow")
s3.put_object(Bucket="slow", Key="k", Body=b"x" * 1000)

N = 200
HEAD = b"GET /slow/k HTTP/1.1\r\nHost: 127.0.0.1\r\n"
stop = False
stats = {"connects": 0, "drops": 0}


def dribbler():
    """N connections, forever: the even ones send a header a byte a second,
    the odd ones nothing at all after connecting; a dropped one is opened
    again."""
    socks = []

    def connect(i):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            if i % 2 == 0:
                s.send(HEAD)
            s.setblocking(False)
            stats["connects"] += 1
            return s
        except OSError:
            s.close()
            return None

    def closed(s):
        try:
            return s.recv(4096) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    while len(socks) < N and not stop:
        s = connect(len(socks))
        if s:
            socks.append(s)
    while not stop:
        for i, s in enumerate(socks):
            try:
                if s is None or closed(s):
                    raise OSError
                if i % 2 == 0:
                    s.send(b"X")
            except OSError:
                if s:
                    s.close()
                    stats["drops"] += 1
                socks[i] = connect(i)
        time.sleep(1)
    for s in socks:
        if s:
            s.close()


step("200 connections dribbling a header or silent; signed GETs answer within 1 s")
t = threading.Thread(target=dribbler, daemon=True)
t.start()
time.sleep(3)  # all 200 connected and dribbling
worst = 0.0
lat = []
end = time.monotonic() + 8
while time.monotonic() < end:
    t0 = time.monotonic()
    try:
        body = quick.get_object(Bucket="slow", Key="k")["Body"].read()
    except Exception as e:  # noqa: BLE001
        fail("GET under slowloris: %s" % e)
    d = time.monotonic() - t0
    lat.append(d)
    if body != b"x" * 1000:
        fail("GET under slowloris: wrong body")
    time.sleep(0.5)
stop = True
lat.sort()
print("# %d GETs under %d dribbling or silent connections: median %.3f s, max %.3f s; "
      "%d connects, %d dropped by the gateway"
      % (len(lat), N, lat[len(lat) // 2], lat[-1], stats["connects"],
         stats["drops"]), flush=True)
if lat[-1] > 1.0:
    fail("a signed GET took %.2f s with %d slow connections" % (lat[-1], N))
if not stats["drops"]:
    fail("no dribbling connection was ever dropped")

step("an unfinished header is dropped after header_timeout")
s = socket.socket()
s.connect(("127.0.0.1", port))
s.send(HEAD)
t0 = time.monotonic()
s.settimeout(1)
closed = None
while time.monotonic() - t0 < 15:
    try:
        s.send(b"X")
        if s.recv(4096) == b"":
            closed = time.monotonic() - t0
            break
    except socket.timeout:
        continue
    except OSError:
        closed = time.monotonic() - t0
        break
s.close()
print("# a dribbled header was dropped after %s s"
      % ("%.1f" % closed if closed else "never"), flush=True)
if closed is None or closed > 6:
    fail("a dribbled header was not dropped within 6 s")

step("a body may pause longer than header_timeout")
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

body = b"y" * 100000
url = "%s/slow/paused" % os.environ["S3_URL"]
req = AWSRequest(method="PUT", url=url, data=b"",
                 headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                          "Content-Length": str(len(body))})
SigV4Auth(Credentials(os.environ["S3_ACCESS"], os.environ["S3_SECRET"]),
          "s3", "us-east-1").add_auth(req)
head = "PUT /slow/paused HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port
for k, v in req.headers.items():
    if k.lower() != "host":
        head += "%s: %s\r\n" % (k, v)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(head.encode() + b"\r\n" + body[:50000])
time.sleep(7)
s.sendall(body[50000:])
s.settimeout(10)
reply = s.recv(4096)
s.close()
if not reply.startswith(b"HTTP/1.1 200"):
    fail("PUT with a 7 s pause in its body: %r" % reply[:200])
if s3.get_object(Bucket="slow", Key="paused")["Body"].read() != body:
    fail("the paused PUT stored other bytes")
PY
s3d_alive
step "fsck is clean"
fsck_clean
