# test/integ/s3_crash.sh - an object's implicit parent directories are
# made in the commit that publishes it: agora-s3d killed with SIGKILL in
# the middle of a PUT of a/b/c/d, and agora-metad killed at random moments
# under PUTs of deep keys, leave each key with all of its parents or none.
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python3 -c 'import boto3' 2>/dev/null || skip "boto3 is not installed"

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start

python3 - "$S3_URL" <<'PY' || fail "create-bucket"
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1").create_bucket(Bucket="crashb")
PY

# names DIR: the names in the cluster directory DIR, one a line.
names() { ag ls "$1" 2>/dev/null; }

step "SIGKILL of agora-s3d half-way through the body of PUT a/b/c/d"
python3 - "$S3_URL" >"$T/slow.out" 2>&1 <<'PY' &
import socket, sys, time, urllib.parse
from botocore.config import Config
import boto3
url = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                   config=Config(s3={"addressing_style": "path"})) \
    .generate_presigned_url("put_object", Params={"Bucket": "crashb", "Key": "a/b/c/d"})
u = urllib.parse.urlsplit(url)
s = socket.create_connection((u.hostname, u.port))
s.sendall(("PUT %s?%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
           % (u.path, u.query, u.netloc, 8 << 20)).encode())
s.sendall(b"x" * (1 << 20))  # an eighth of the body, then silence
print("sent", flush=True)
time.sleep(30)
PY
slow=$!
started_pids+=("$slow")
for ((i = 0; i < 100; i++)); do
	grep -q sent "$T/slow.out" && break
	sleep 0.1
done
grep -q sent "$T/slow.out" || fail "the slow PUT did not start: $(cat "$T/slow.out")"
sleep 0.5 # the gateway is reading the body
kill -KILL "$S3D_PID"
wait_gone "$S3D_PID" 10 || fail "agora-s3d survived SIGKILL"
kill "$slow" 2>/dev/null
[ -z "$(names /crashb)" ] || fail "a PUT killed before its commit left: $(names /crashb)"
s3d_start

# puts ROUND: 8 threads PUT r$ROUND/xN/y/z (N 0..299), each making two
# parents; $T/putting appears once the first is in.
puts() {
	python3 - "$S3_URL" "$1" "$T/putting" <<'PY'
import concurrent.futures, os, sys
import boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"},
                                retries={"max_attempts": 1},
                                connect_timeout=2, read_timeout=5))
def put(i):
    try:
        s3.put_object(Bucket="crashb", Key="r%s/x%d/y/z" % (sys.argv[2], i),
                      Body=b"z" * 1000)
        open(sys.argv[3], "a").close()
    except Exception:
        pass  # metad was killed under it: the key is all there or not
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    list(ex.map(put, range(300)))
PY
}

for round in 1 2 3 4 5; do
	step "round $round: SIGKILL of agora-metad under PUTs of r$round/xN/y/z"
	rm -f "$T/putting"
	puts "$round" &
	putter=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "$T/putting" ] && break
		sleep 0.1
	done
	sleep "0.$((RANDOM % 5))"
	metad_kill
	metad_start # the PUTs in flight go on with the new one
	wait "$putter"
	# every xN with y in it, and z in that: a key with all of its
	# parents or none of them, never an empty implicit directory
	made=0
	for x in $(names "/crashb/r$round"); do
		[ "$(names "/crashb/r$round/$x")" = y ] ||
			fail "r$round/$x holds: $(names "/crashb/r$round/$x")"
		[ "$(names "/crashb/r$round/$x/y")" = z ] ||
			fail "r$round/$x/y holds: $(names "/crashb/r$round/$x/y")"
		made=$((made + 1))
	done
	say "round $round: $made keys, each with both its parents"
done

step "the gateway serves after the kills; deleting the keys prunes their parents"
python3 - "$S3_URL" <<'PY' || fail "PUT and DELETE after the kills"
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
s3.put_object(Bucket="crashb", Key="after/p/q", Body=b"after")
assert s3.get_object(Bucket="crashb", Key="after/p/q")["Body"].read() == b"after"
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crashb"):
    for o in page.get("Contents", []):
        s3.delete_object(Bucket="crashb", Key=o["Key"])
PY
[ -z "$(names /crashb)" ] || fail "implicit parents outlived their keys: $(names /crashb)"

s3d_alive
s3d_stop
step "fsck is clean"
fsck_clean
