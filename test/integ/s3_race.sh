# test/integ/s3_race.sh - PUTs of one key racing each other, through one
# gateway and through two, and multipart completions racing them: every
# request is answered 200 with the ETag of its own body, and the key then
# holds exactly one of the bodies, whole.
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python3 -c 'import boto3' 2>/dev/null || skip "boto3 is not installed"

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start
S3_URL_A=$S3_URL

# a second gateway on the same cluster: the same config, another port
port_b=$(free_port)
sed -e "s/^listen = .*/listen = 127.0.0.1:$port_b/" \
	-e "s|^pidfile = $T/s3d.pid|pidfile = $T/s3d-b.pid|" \
	-e "s|^log = $T/s3d.log|log = $T/s3d-b.log|" "$CONF" >"$T/b.conf"
timeout "$AGORA_TIMEOUT" "$S3D" -c "$T/b.conf" -d || fail "second agora-s3d -d exited $?"
S3D_B_PID=$(cat "$T/s3d-b.pid")
started_pids+=("$S3D_B_PID")
S3_URL_B=http://127.0.0.1:$port_b
for ((i = 0; i < 50; i++)); do
	curl -s -o /dev/null "$S3_URL_B/" && break
	sleep 0.1
done

# race KEY URL...: 200 PUTs of KEY from 16 threads, spread over the URLs.
race() {
	local key=$1
	shift
	KEY=$key python3 - "$@" <<'PY'
import concurrent.futures, hashlib, os, random, sys
import boto3
from botocore.config import Config

urls, key, n = sys.argv[1:], os.environ["KEY"], 200
clients = [boto3.client("s3", endpoint_url=u, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1},
                                      max_pool_connections=16))
           for u in urls]
rng = random.Random(11)
bodies = [(b"put %d\n" % i) + rng.randbytes(rng.randint(1, 40000)) for i in range(n)]


def put(i):
    s3 = clients[i % len(clients)]
    try:
        r = s3.put_object(Bucket="race", Key=key, Body=bodies[i])
    except s3.exceptions.ClientError as e:
        return "%s %s" % (e.response["ResponseMetadata"]["HTTPStatusCode"],
                          e.response["Error"]["Code"])
    st = r["ResponseMetadata"]["HTTPStatusCode"]
    if st != 200:
        return str(st)
    if r["ETag"] != '"%s"' % hashlib.md5(bodies[i]).hexdigest():
        return "200 with the ETag %s of another body" % r["ETag"]
    return "200"


with concurrent.futures.ThreadPoolExecutor(16) as ex:
    answers = list(ex.map(put, range(n)))
counts = {}
for a in answers:
    counts[a] = counts.get(a, 0) + 1
print("# %s over %d gateway(s): %s" % (key, len(urls), counts), flush=True)
if counts != {"200": n}:
    print("FAIL: not every racing PUT answered 200: %s" % counts)
    sys.exit(1)
for s3 in clients:
    got = s3.get_object(Bucket="race", Key=key)["Body"].read()
    if got not in bodies:
        print("FAIL: %s holds %d bytes that are none of the bodies" % (key, len(got)))
        sys.exit(1)
PY
}

python3 -c '
import boto3, sys
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1").create_bucket(Bucket="race")
' "$S3_URL_A" || fail "create bucket"

step "200 racing PUTs of one key through one gateway: all 200, one body wins"
race one "$S3_URL_A" || fail "racing PUTs, one gateway"

step "200 racing PUTs of one key through two gateways: all 200, one body wins"
race two "$S3_URL_A" "$S3_URL_B" || fail "racing PUTs, two gateways"

step "the same under a deeper key (implicit parents made by racing PUTs)"
race deep/er/key "$S3_URL_A" "$S3_URL_B" || fail "racing PUTs of a deep key"

step "multipart completions racing PUTs of their key: all 200, the multipart ETag, one body wins"
python3 - "$S3_URL_A" "$S3_URL_B" <<'PY' || fail "completions racing PUTs"
import concurrent.futures, hashlib, random, sys
import boto3
from botocore.config import Config

clients = [boto3.client("s3", endpoint_url=u, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1},
                                      max_pool_connections=16))
           for u in sys.argv[1:]]
rng = random.Random(12)
key, nup, nput = "mp", 24, 96
parts = [(b"part %d\n" % i) + rng.randbytes(rng.randint(1, 30000)) for i in range(nup)]
puts = [(b"put %d\n" % i) + rng.randbytes(rng.randint(1, 30000)) for i in range(nput)]
ups = []
for i, body in enumerate(parts):
    s3 = clients[i % len(clients)]
    up = s3.create_multipart_upload(Bucket="race", Key=key)["UploadId"]
    etag = s3.upload_part(Bucket="race", Key=key, UploadId=up, PartNumber=1, Body=body)["ETag"]
    ups.append((up, etag))


def job(i):
    s3 = clients[i % len(clients)]
    try:
        if i < nup:
            up, etag = ups[i]
            r = s3.complete_multipart_upload(
                Bucket="race", Key=key, UploadId=up,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
            want = '"%s-1"' % hashlib.md5(hashlib.md5(parts[i]).digest()).hexdigest()
        else:
            r = s3.put_object(Bucket="race", Key=key, Body=puts[i - nup])
            want = '"%s"' % hashlib.md5(puts[i - nup]).hexdigest()
    except s3.exceptions.ClientError as e:
        return "%s %s" % (e.response["ResponseMetadata"]["HTTPStatusCode"],
                          e.response["Error"]["Code"])
    if r["ETag"] != want:
        return "200 with the ETag %s, not %s" % (r["ETag"], want)
    return "200"


order = list(range(nup + nput))
rng.shuffle(order)
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    answers = list(ex.map(job, order))
counts = {}
for a in answers:
    counts[a] = counts.get(a, 0) + 1
print("# %d completions and %d PUTs of one key: %s" % (nup, nput, counts), flush=True)
if counts != {"200": nup + nput}:
    print("FAIL: not every completion and PUT answered 200: %s" % counts)
    sys.exit(1)
got = clients[0].get_object(Bucket="race", Key=key)["Body"].read()
if got not in parts and got not in puts:
    print("FAIL: %s holds %d bytes that are none of the bodies" % (key, len(got)))
    sys.exit(1)
if clients[0].list_multipart_uploads(Bucket="race").get("Uploads"):
    print("FAIL: completed uploads are still listed")
    sys.exit(1)
PY

s3d_alive
kill -0 "$S3D_B_PID" 2>/dev/null || fail "the second agora-s3d died"
kill -TERM "$S3D_B_PID"
wait_gone "$S3D_B_PID" 20 || fail "the second agora-s3d ignored SIGTERM"
s3d_stop
step "fsck is clean"
fsck_clean
