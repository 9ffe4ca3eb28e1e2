# test/integ/s3_notify.sh - S3 bucket notifications: a
# NotificationConfiguration put over S3 is kept as the core's triggers
# (agora trigger list shows them) and read back by a GET; the deliverer
# POSTs the S3 event notification JSON to the webhook for objects
# created over S3 and over the mount, and removed, filtered by prefix
# and suffix, with the key URL-encoded, the size, the ETag S3 answered
# and an increasing sequencer; what is not served is refused with the
# error it names, and another user's request with AccessDenied; an empty configuration and DeleteBucket drop the
# triggers.
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v aws >/dev/null || skip "awscli is not installed"
[ -x "$AGORA_BUILDDIR/fused/agora-fused" ] || skip "agora-fused is not built"

M=$T/mnt
write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start
fused_start "$M"
export AWS_PAGER=""
hook_start
HOOK=http://127.0.0.1:$HOOK_PORT/ok

awsc s3 mb s3://nbk >/dev/null || fail "mb"
# notify_put BUCKET JSON: PutBucketNotificationConfiguration
notify_put() {
	printf '%s\n' "$2" >"$T/cfg.json"
	awsc s3api put-bucket-notification-configuration --bucket "$1" \
		--notification-configuration "file://$T/cfg.json"
}

step "a configuration put over S3 becomes triggers, and a GET reads it back"
notify_put nbk '{
  "TopicConfigurations": [{"Id": "jpegs", "TopicArn": "arn:agora:webhook:::'"$HOOK"'",
    "Events": ["s3:ObjectCreated:*"],
    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                       {"Name": "suffix", "Value": ".jpg"}]}}}],
  "QueueConfigurations": [{"Id": "gone", "QueueArn": "'"$HOOK"'",
    "Events": ["s3:ObjectRemoved:*"]}]
}' || fail "put-bucket-notification-configuration"
ag trigger list >"$T/list" || fail "trigger list"
grep -qE "^s3\.[0-9a-f]{16}\.jpegs on=closed prefix=/nbk/in/ suffix=\.jpg webhook=$HOOK form=s3-topic " "$T/list" ||
	fail "no trigger for the topic: $(cat "$T/list")"
grep -qE "^s3\.[0-9a-f]{16}\.gone on=deleted prefix=/nbk/ suffix= webhook=$HOOK form=s3-queue " "$T/list" ||
	fail "no trigger for the queue: $(cat "$T/list")"
awsc s3api get-bucket-notification-configuration --bucket nbk >"$T/got.json" || fail "get"
python3 - "$T/got.json" "$HOOK" <<'PY' || fail "the configuration read back: $(cat "$T/got.json")"
import json, sys
got, hook = json.load(open(sys.argv[1])), sys.argv[2]
t, = got["TopicConfigurations"]
assert t["Id"] == "jpegs" and t["TopicArn"] == "arn:agora:webhook:::" + hook, t
assert t["Events"] == ["s3:ObjectCreated:*"], t
rules = {r["Name"].lower(): r["Value"] for r in t["Filter"]["Key"]["FilterRules"]}
assert rules == {"prefix": "in/", "suffix": ".jpg"}, rules
q, = got["QueueConfigurations"]
assert q["Id"] == "gone" and q["Events"] == ["s3:ObjectRemoved:*"], q
assert "Filter" not in q, q
PY

step "the deliverer POSTs S3 event records, from S3 and from the mount"
rm -f "$T/hook.ok"
deliverer_start
mkdata "$T/a" 70000 random
awsc s3api put-object --bucket nbk --key "in/red flower.jpg" --body "$T/a" >"$T/put.json" || fail "put jpg"
awsc s3api put-object --bucket nbk --key in/b.png --body "$T/a" >/dev/null || fail "put png"
awsc s3api put-object --bucket nbk --key out/c.jpg --body "$T/a" >/dev/null || fail "put out/c.jpg"
mkdir -p "$M/nbk/in/sub"
head -c 1234 "$T/a" >"$M/nbk/in/sub/fuse.jpg"
mkdir "$M/nbk/in/dir.jpg"
awsc s3api delete-object --bucket nbk --key out/c.jpg >/dev/null || fail "delete"
got3() { [ "$(cat "$T/hook.ok" 2>/dev/null | wc -l)" -ge 3 ]; }
eventually 30 got3 || fail "the webhook got $(cat "$T/hook.ok" 2>/dev/null | wc -l) records of 3: $(tail -n 5 "$T/deliver.log")"
sleep 1 # nothing more comes: the filters held
python3 - "$T/hook.ok" "$T/put.json" "$T/a" <<'PY' || fail "the records: $(cat "$T/hook.ok")"
import hashlib, json, sys
recs = []
for line in open(sys.argv[1]):
    body = json.loads(line)
    assert len(body["Records"]) == 1, body
    recs.append(body["Records"][0])
put_etag = json.load(open(sys.argv[2]))["ETag"].strip('"')
data = open(sys.argv[3], "rb").read()
got = sorted((r["eventName"], r["s3"]["configurationId"], r["s3"]["bucket"]["name"],
               r["s3"]["object"]["key"]) for r in recs)
# not in/b.png (suffix), out/c.jpg's creation (prefix), in/dir.jpg (no
# object), nor the directory out/ the delete pruned
assert got == [("ObjectCreated:Put", "jpegs", "nbk", "in/red+flower.jpg"),
               ("ObjectCreated:Put", "jpegs", "nbk", "in/sub/fuse.jpg"),
               ("ObjectRemoved:Delete", "gone", "nbk", "out/c.jpg")], got
for r in recs:
    assert r["eventVersion"] == "2.1" and r["eventSource"] == "agora:s3", r
    assert r["s3"]["bucket"]["arn"] == "arn:aws:s3:::nbk", r
    assert r["eventTime"].endswith("Z"), r
o = {r["s3"]["object"]["key"]: r for r in recs}
jpg = o["in/red+flower.jpg"]["s3"]["object"]
assert jpg["size"] == len(data) and jpg["eTag"] == put_etag, jpg
assert o["in/red+flower.jpg"]["userIdentity"]["principalId"] == "s3", o
fj = o["in/sub/fuse.jpg"]
assert fj["s3"]["object"]["size"] == 1234 and fj["userIdentity"]["principalId"] == "fuse", fj
gone = o["out/c.jpg"]["s3"]["object"]
assert "size" not in gone and "eTag" not in gone, gone
seqs = [int(r["s3"]["object"]["sequencer"], 16) for r in recs
        if r["s3"]["configurationId"] == "jpegs"]
assert len(seqs) == 2 and seqs[0] < seqs[1], seqs
PY
deliverer_stop

step "what is not served is refused, and the configuration stays"
expect_fail "a subtype of ObjectCreated" "NotImplemented" notify_put nbk \
	'{"TopicConfigurations": [{"TopicArn": "'"$HOOK"'", "Events": ["s3:ObjectCreated:Put"]}]}'
expect_fail "an SNS topic" "InvalidArgument" notify_put nbk \
	'{"TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Events": ["s3:ObjectCreated:*"]}]}'
expect_fail "an event S3 does not have" "InvalidArgument" notify_put nbk \
	'{"QueueConfigurations": [{"QueueArn": "'"$HOOK"'", "Events": ["ObjectCreated"]}]}'
expect_fail "a filter rule other than prefix and suffix" "InvalidArgument" notify_put nbk \
	'{"QueueConfigurations": [{"QueueArn": "'"$HOOK"'", "Events": ["s3:ObjectRemoved:*"],
	  "Filter": {"Key": {"FilterRules": [{"Name": "infix", "Value": "x"}]}}}]}'
expect_fail "two configurations of one Id" "InvalidArgument" notify_put nbk \
	'{"QueueConfigurations": [{"Id": "x", "QueueArn": "'"$HOOK"'", "Events": ["s3:ObjectRemoved:*"]},
	                          {"Id": "x", "QueueArn": "'"$HOOK"'", "Events": ["s3:ObjectRemoved:*"]}]}'
expect_fail "a bucket that is not there" "NoSuchBucket" notify_put nothere '{}'
read -r other_access other_secret < <(ag user add other --uid 1001 --gid 1001) || fail "user add other"
expect_fail "a user who does not own the bucket" "AccessDenied" \
	env AWS_ACCESS_KEY_ID="$other_access" AWS_SECRET_ACCESS_KEY="$other_secret" \
	aws --endpoint-url "$S3_URL" s3api get-bucket-notification-configuration --bucket nbk
[ "$(ag trigger list | grep -c '^s3\.')" = 2 ] || fail "a refused PUT changed the triggers: $(ag trigger list)"

step "an Id left out is made up; an empty configuration drops every trigger"
notify_put nbk '{"LambdaFunctionConfigurations": [{"LambdaFunctionArn": "'"$HOOK"'", "Events": ["s3:ObjectRemoved:Delete"]}]}' ||
	fail "put a function"
ag trigger list >"$T/list"
[ "$(grep -c '^s3\.' "$T/list")" = 1 ] && grep -qE '^s3\.[0-9a-f]{16}\.notification-1 on=deleted ' "$T/list" ||
	fail "a replaced configuration: $(cat "$T/list")"
awsc s3api get-bucket-notification-configuration --bucket nbk >"$T/got.json" || fail "get"
grep -q '"Id": "notification-1"' "$T/got.json" || fail "get: $(cat "$T/got.json")"
notify_put nbk '{}' || fail "put an empty configuration"
! ag trigger list | grep -q '^s3\.' || fail "triggers left: $(ag trigger list)"
awsc s3api get-bucket-notification-configuration --bucket nbk >"$T/got.json" || fail "get (empty)"
! grep -q Configurations "$T/got.json" || fail "get (empty): $(cat "$T/got.json")"

step "DeleteBucket drops the bucket's notifications"
awsc s3 mb s3://nbk2 >/dev/null || fail "mb nbk2"
notify_put nbk2 '{"QueueConfigurations": [{"QueueArn": "'"$HOOK"'", "Events": ["s3:ObjectRemoved:*"]}]}' ||
	fail "put nbk2"
ag trigger list | grep -q '^s3\.' || fail "no trigger for nbk2"
awsc s3 rb s3://nbk2 >/dev/null || fail "rb nbk2"
! ag trigger list | grep -q '^s3\.' || fail "the removed bucket's trigger stayed: $(ag trigger list)"
fsck_clean
