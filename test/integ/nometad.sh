#!/bin/bash
# test/integ/nometad.sh - reads never need agora-metad: with it gone,
# reads, listings and stats through the mount, over S3 and with the agora
# tool go on at once; changes fail with a clear error (EIO through the
# mount, 503 SlowDown with Retry-After over S3) once metad_timeout has
# passed, and work again when metad is back.
. "$(dirname "$0")/lib.sh"

M=$T/m
wait_s=3

write_conf
sed -i "/^\[cluster\]/a metad_timeout = $wait_s" "$CONF"
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
fused_start "$M"
s3d_start

mkdir -p "$M/bkt/d"
mkdata "$T/big" $((3 << 20)) random
cp "$T/big" "$M/bkt/d/big"
echo hello >"$M/bkt/small"
for i in $(seq 1 50); do echo "$i" >"$M/bkt/d/f$i"; done
# the S3 user owns the bucket the mount made (an element's S3 owner is its uid)
chown -R 1000:1000 "$M/bkt"

# timed LIMIT WHAT COMMAND...: the command succeeds within LIMIT seconds
timed() {
	local limit=$1 what=$2 t0 t1 rc=0
	shift 2
	t0=$(date +%s%N)
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	t1=$(date +%s%N)
	[ "$rc" -eq 0 ] || fail "$what exited $rc: $(head -n 2 "$T/err")"
	[ $(((t1 - t0) / 1000000)) -le $((limit * 1000)) ] ||
		fail "$what took $(((t1 - t0) / 1000000)) ms, more than $limit s"
	say "$what: $(((t1 - t0) / 1000000)) ms"
}

# s3_call OP KEY [BODY]: one boto3 call with no retries; prints the HTTP
# status, the error code and the Retry-After header, and fails when the
# call took more than 1 s
s3_call() {
	python3 - "$@" <<'PY'
import os, sys, time, boto3, botocore.config, botocore.exceptions
op, key = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=os.environ["S3_URL"],
                  config=botocore.config.Config(
                      retries={"total_max_attempts": 1},
                      s3={"addressing_style": "path"}))
t0 = time.monotonic()
try:
    if op == "get":
        r = s3.get_object(Bucket="bkt", Key=key)
        r["Body"].read()
    elif op == "list":
        r = s3.list_objects_v2(Bucket="bkt", Prefix="d/")
    else:
        r = s3.put_object(Bucket="bkt", Key=key, Body=sys.argv[3].encode())
    print(r["ResponseMetadata"]["HTTPStatusCode"], "-", "-")
except botocore.exceptions.ClientError as e:
    md = e.response["ResponseMetadata"]
    print(md["HTTPStatusCode"], e.response["Error"]["Code"],
          md["HTTPHeaders"].get("retry-after", "-"))
ms = (time.monotonic() - t0) * 1000
print("%s: %.0f ms" % (op, ms), file=sys.stderr)
if op != "put" and ms > 1000:
    sys.exit("%s took %.0f ms" % (op, ms))
PY
}

check_reads() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	timed 2 "read through the mount" cmp "$T/big" "$M/bkt/d/big"
	timed 2 "listing through the mount" ls -l "$M/bkt/d"
	[ "$(wc -l <"$T/out")" -eq 52 ] || fail "listing: $(wc -l <"$T/out") lines, want 52"
	timed 2 "stat through the mount" stat "$M/bkt/d/f7"
	timed 2 "a small file through the mount" cat "$M/bkt/small"
	[ "$(cat "$T/out")" = hello ] || fail "read $(cat "$T/out")"
	s3_call get small >"$T/out" 2>"$T/err" || fail "S3 GET: $(tail -n 1 "$T/err")"
	[ "$(cat "$T/out")" = "200 - -" ] || fail "S3 GET answered $(cat "$T/out")"
	say "S3 GET: $(tail -n 1 "$T/err")"
	s3_call list - >"$T/out" 2>"$T/err" || fail "S3 list: $(tail -n 1 "$T/err")"
	[ "$(cat "$T/out")" = "200 - -" ] || fail "S3 list answered $(cat "$T/out")"
	say "S3 list: $(tail -n 1 "$T/err")"
	timed 2 "agora get" ag get /bkt/d/big "$T/got"
	cmp -s "$T/big" "$T/got" || fail "agora get read other bytes"
	timed 2 "agora ls" ag ls /bkt/d
}

step "with agora-metad killed, reads, listings and stats go on at once"
metad_kill
check_reads

step "changes fail clearly after metad_timeout, not hang"
t0=$(date +%s)
rc=0
bash -c 'echo new >"$1"' _ "$M/bkt/new" 2>"$T/err" || rc=$?
t1=$(date +%s)
[ "$rc" -ne 0 ] || fail "a create through the mount succeeded with no metad"
grep -q "Input/output error" "$T/err" || fail "create: $(cat "$T/err"), want EIO"
[ $((t1 - t0)) -le $((wait_s + 10)) ] || fail "create failed only after $((t1 - t0)) s"
say "create through the mount: EIO after $((t1 - t0)) s"
t0=$(date +%s)
s3_call put new body >"$T/out" 2>/dev/null
t1=$(date +%s)
[ "$(cat "$T/out")" = "503 SlowDown 1" ] || fail "S3 PUT answered $(cat "$T/out"), want 503 SlowDown with Retry-After"
[ $((t1 - t0)) -le $((wait_s + 10)) ] || fail "S3 PUT failed only after $((t1 - t0)) s"
say "S3 PUT: 503 SlowDown after $((t1 - t0)) s"
check_reads

step "with agora-metad back, changes work and nothing was lost"
metad_start
echo new >"$M/bkt/new" || fail "create after metad came back"
s3_call put new2 body >"$T/out" 2>/dev/null
[ "$(cat "$T/out")" = "200 - -" ] || fail "S3 PUT after metad came back: $(cat "$T/out")"
cmp -s "$T/big" "$M/bkt/d/big" || fail "big file changed"
[ "$(cat "$M/bkt/new")" = new ] || fail "new file reads $(cat "$M/bkt/new")"

step "with agora-metad stopped cleanly, reads go on too"
metad_stop
check_reads

metad_start
fused_stop "$M"
fsck_clean
echo "PASS"
