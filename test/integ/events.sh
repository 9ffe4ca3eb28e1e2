# test/integ/events.sh - the event log and triggers: a FUSE write, an S3
# PUT and an agora put land in one log, each once and with its protocol;
# renames, deletes and metadata changes too; an exec trigger fires on an
# S3 PUT under its prefix and writes through the mount; a deliverer
# killed with SIGKILL mid-stream and started again loses no event; a
# webhook trigger against a failing endpoint retries, then leaves a dead
# letter, while a working one gets every event. Prints the delivery
# latency (p50, p99) and the events per second delivered.
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

# events_json [SINCE]: the log as JSON lines in $T/ev
events_json() { ag events --since "${1:-0}" >"$T/ev" || fail "agora events exited $?"; }
# count_ev TYPE PATH PROTO: how many events of the log say that
count_ev() {
	python3 - "$T/ev" "$@" <<'PY'
import json, sys
f, kind, path, proto = sys.argv[1:5]
n = 0
for line in open(f):
    e = json.loads(line)
    if e["type"] == kind and e["path"] == path and e["protocol"] == proto:
        n += 1
print(n)
PY
}
expect_ev() { # TYPE PATH PROTO COUNT
	local got
	got=$(count_ev "$1" "$2" "$3")
	[ "$got" = "$4" ] || { sed 's/^/# /' "$T/ev"; fail "$1 $2 over $3: $got events, expected $4"; }
}

step "a FUSE write, an S3 PUT and an agora put: one log, the right protocol"
awsc s3 mb s3://evb >/dev/null || fail "mb"
mkdata "$T/a" $((1 << 20)) random
mkdir -p "$M/evb/fuse"
cp "$T/a" "$M/evb/fuse/a"
awsc s3api put-object --bucket evb --key s3/a --body "$T/a" >/dev/null || fail "put"
ag put "$T/a" /evb/tool/a || fail "agora put"
events_json
expect_ev created /evb/fuse/a fuse 1
expect_ev closed /evb/fuse/a fuse 1
expect_ev created /evb/s3/a s3 1
expect_ev closed /evb/s3/a s3 1
expect_ev created /evb/tool/a agora 1
expect_ev closed /evb/tool/a agora 1
python3 - "$T/ev" <<'PY' || fail "the log is not in order, or a closed event lacks its size"
import json, sys
seqs = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    seqs.append(e["seq"])
    if e["type"] == "closed" and e["path"].endswith("/a"):
        assert e["size"] == 1 << 20, e
        assert e["file_type"] == "file", e
    if e["type"] == "closed" and e["protocol"] == "s3":
        assert e["etag"] is not None, e
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
PY

step "renamed, metadata, deleted"
mv "$M/evb/fuse/a" "$M/evb/fuse/b"
chmod 600 "$M/evb/fuse/b"
awsc s3 rm s3://evb/s3/a >/dev/null || fail "rm"
events_json
expect_ev renamed /evb/fuse/b fuse 1
expect_ev metadata /evb/fuse/b fuse 1
expect_ev deleted /evb/s3/a s3 1
grep -q '"old_path":"/evb/fuse/a"' "$T/ev" || fail "the rename has no old path"
grep -q '"type":"deleted","path":"/evb/s3"' "$T/ev" ||
	fail "the implicit directory S3 pruned has no deleted event"

step "agora events --follow prints the events of each commit as it comes"
last=$(tail -n 1 "$T/ev" | sed 's/^{"seq":\([0-9]*\),.*/\1/')
"$AGORA" -c "$CONF" events --follow --since $((last + 1)) >"$T/follow" 2>&1 &
follow_pid=$!
started_pids+=("$follow_pid")
sleep 0.5
echo new >"$M/evb/fuse/followed"
# wait_for is below; a follower that polled would pass this too, but one
# that waits for nothing would not
for ((i = 0; i < 100; i++)); do
	grep -q '"type":"closed","path":"/evb/fuse/followed"' "$T/follow" && break
	sleep 0.05
done
grep -q '"type":"closed","path":"/evb/fuse/followed"' "$T/follow" ||
	fail "the follower printed no closed event: $(cat "$T/follow")"
! grep -q "\"seq\":$last," "$T/follow" || fail "--since was not followed"
kill -TERM "$follow_pid"
wait_gone "$follow_pid" 10 || fail "the follower ignored SIGTERM"

# seen_at_least N: the exec trigger "count" ran N times or more
seen_at_least() { [ "$(cat "$T/seen" 2>/dev/null | wc -l)" -ge "$1" ]; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds
wait_for() {
	local n=$(($1 * 20))
	shift
	until "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.05
	done
}

step "an exec trigger fires on an S3 PUT under its prefix, and writes through the mount"
mkdir -p "$M/evb/out"
cat >"$T/thumb.sh" <<SH
cat >"$T/ce.\$AGORA_EVENT_SEQ"
head -c 1000 "$M\$AGORA_EVENT_PATH" >"$M/evb/out/\$(basename "\$AGORA_EVENT_PATH").thumb"
SH
ag trigger add thumb --prefix /evb/in/ --suffix .jpg --on closed --exec "sh $T/thumb.sh" ||
	fail "trigger add"
expect_fail "a second trigger of the same name" "File exists" \
	ag trigger add thumb --exec true
expect_fail "a trigger with a bad kind" "Invalid argument" \
	ag trigger add bad --on written --exec true
deliverer_start
awsc s3api put-object --bucket evb --key in/x.jpg --body "$T/a" >/dev/null || fail "put x.jpg"
awsc s3api put-object --bucket evb --key in/y.png --body "$T/a" >/dev/null || fail "put y.png"
awsc s3api put-object --bucket evb --key other/z.jpg --body "$T/a" >/dev/null || fail "put z.jpg"
wait_for 20 test -s "$M/evb/out/x.jpg.thumb" || fail "the trigger did not fire: $(cat "$T/deliver.log")"
cmp -s <(head -c 1000 "$T/a") "$M/evb/out/x.jpg.thumb" || fail "the trigger wrote other bytes"
sleep 1
[ ! -e "$M/evb/out/y.png.thumb" ] || fail "the suffix did not filter"
[ ! -e "$M/evb/out/z.jpg.thumb" ] || fail "the prefix did not filter"
python3 - "$T"/ce.* <<'PY' || fail "the CloudEvent on stdin is wrong"
import json, sys
assert len(sys.argv) == 2, sys.argv
ce = json.load(open(sys.argv[1]))
assert ce["specversion"] == "1.0" and ce["type"] == "org.agora.closed", ce
assert ce["subject"] == "/evb/in/x.jpg", ce
assert ce["data"]["protocol"] == "s3" and ce["data"]["size"] == 1 << 20, ce
PY
ag trigger list >"$T/list" || fail "trigger list"
grep -q '^thumb on=closed prefix=/evb/in/ suffix=.jpg exec=' "$T/list" || fail "list: $(cat "$T/list")"
deliverer_stop

step "the deliverer killed with SIGKILL mid-stream: started again, no event lost"
mkdir -p "$M/evb/many"
cat >"$T/count.sh" <<SH
cat >/dev/null
echo "\$AGORA_EVENT_SEQ \$(date +%s%N) \$AGORA_EVENT_TIME_NS" >>"$T/seen"
SH
ag trigger add count --prefix /evb/many/ --on closed --exec "sh $T/count.sh" ||
	fail "trigger add count"
N=300
for ((i = 0; i < N; i++)); do echo "$i" >"$M/evb/many/f$i"; done
deliverer_start
wait_for 60 seen_at_least 40 || fail "nothing delivered: $(tail -n 3 "$T/deliver.log")"
kill -KILL "$DELIVER_PID"
wait_gone "$DELIVER_PID" 10 || fail "the deliverer survived SIGKILL"
killed_at=$(wc -l <"$T/seen")
say "killed the deliverer after $killed_at deliveries"
[ "$killed_at" -lt "$N" ] || fail "the deliverer was done before the kill: make N larger"
deliverer_start
events_json
grep '"type":"closed","path":"/evb/many/' "$T/ev" | python3 -c '
import json, sys
print("\n".join(str(json.loads(l)["seq"]) for l in sys.stdin))' | sort -n >"$T/want"
[ "$(wc -l <"$T/want")" = "$N" ] || fail "$(wc -l <"$T/want") closed events of $N files"
all_seen() { cut -d" " -f1 "$T/seen" | sort -nu | comm -23 "$T/want" - | grep -q . && return 1 || return 0; }
wait_for 120 all_seen || fail "events lost: $(cut -d" " -f1 "$T/seen" | sort -nu | comm -23 "$T/want" - | head -n 5)"
say "all $N delivered; $(($(wc -l <"$T/seen") - N)) duplicates"
python3 - "$T/seen" <<'PY' || fail "delivered out of order"
import sys
seqs = [int(l.split()[0]) for l in open(sys.argv[1])]
# in order: each delivery is the next, or goes back once after the kill
drops = sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
assert drops <= 1, drops
PY

step "delivery latency and rate"
# the deliverer is caught up: single changes, one at a time
: >"$T/seen"
for ((i = 0; i < 50; i++)); do echo "$i" >"$M/evb/many/l$i"; sleep 0.1; done
wait_for 30 seen_at_least 50 || fail "latency round: $(wc -l <"$T/seen") of 50"
python3 - "$T/seen" <<'PY'
import sys
lat = sorted((int(l.split()[1]) - int(l.split()[2])) / 1e6 for l in open(sys.argv[1]))
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("# delivery latency over %d events: p50 %.1f ms, p99 %.1f ms" % (len(lat), p(0.5), p(0.99)))
PY
deliverer_stop
: >"$T/seen"
for ((i = 0; i < N; i++)); do echo "$i" >"$M/evb/many/r$i"; done
start=$(date +%s%N)
deliverer_start
wait_for 120 seen_at_least "$N" || fail "rate round: $(wc -l <"$T/seen") of $N"
end=$(date +%s%N)
say "delivered a backlog of $N exec events in $(((end - start) / 1000000)) ms: $((N * 1000000000 / (end - start))) events/s"
deliverer_stop
ag trigger remove count || fail "trigger remove"
ag trigger list >"$T/list" || fail "trigger list"
! grep -q '^count ' "$T/list" || fail "count still listed"
expect_fail "removing it again" "No such file" ag trigger remove count

step "webhooks: a working endpoint gets each event, a failing one retries, then a dead letter"
hook_start
rm -f "$T/hook.ok"
ag trigger add hook-ok --prefix /evb/hook/ --on created,closed --webhook "http://127.0.0.1:$HOOK_PORT/ok" ||
	fail "trigger add hook-ok"
ag trigger add hook-bad --prefix /evb/hook/ --webhook "http://127.0.0.1:$HOOK_PORT/fail" ||
	fail "trigger add hook-bad"
deliverer_start --failures 3 --retry 50 -v
ag put "$T/a" /evb/hook/p || fail "put"
wait_for 30 grep -q "^dead hook-bad" "$T/deliver.log" || fail "no dead letter: $(tail -n 5 "$T/deliver.log")"
wait_for 10 eval '[ "$(cat "$T/hook.ok" 2>/dev/null | wc -l)" -ge 2 ]' || fail "the working hook got $(cat "$T/hook.ok")"
[ "$(cat "$T/hook.fail")" = 3 ] || fail "the failing hook was tried $(cat "$T/hook.fail") times, not 3"
python3 - "$T/hook.ok" <<'PY' || fail "the working hook got other events"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
assert [c["type"] for c in got] == ["org.agora.created", "org.agora.closed"], got
assert all(c["subject"] == "/evb/hook/p" and c["data"]["protocol"] == "agora" for c in got), got
PY
ag trigger list >"$T/list" || fail "trigger list"
grep -q '^hook-bad .* dead=1$' "$T/list" || fail "list: $(cat "$T/list")"
grep -q '^dead hook-bad seq=[0-9]* attempts=3 error=HTTP 500$' "$T/list" || fail "dead letter: $(cat "$T/list")"
deliverer_stop
# the rate of webhook deliveries: a backlog of created and closed events
ag trigger remove hook-bad || fail "trigger remove hook-bad"
: >"$T/hook.ok"
mkdir -p "$M/evb/hook/many"
for ((i = 0; i < N; i++)); do echo "$i" >"$M/evb/hook/many/w$i"; done
hooked() { [ "$(wc -l <"$T/hook.ok")" -ge $((2 * N)) ]; }
start=$(date +%s%N)
deliverer_start
wait_for 120 hooked || fail "webhook rate round: $(wc -l <"$T/hook.ok") of $((2 * N))"
end=$(date +%s%N)
say "delivered a backlog of $((2 * N)) webhook events in $(((end - start) / 1000000)) ms: $((2 * N * 1000000000 / (end - start))) events/s"
deliverer_stop

step "a second deliverer waits while one holds the lease"
deliverer_start
sleep 1
expect_fail "a deliverer beside the first" "busy" ag trigger run
deliverer_stop

step "agora catalog: a walk, then kept from the log, equal to a new walk"
command -v sqlite3 >/dev/null || skip "no sqlite3 command"
ag catalog --db "$T/cat.db" >"$T/cat.out" || fail "catalog exited $?"
say "$(head -n 1 "$T/cat.out")"
mkdir -p "$M/evb/cat/sub"
# the S3 user (uid 1000) writes into cat/ below
chown 1000:1000 "$M/evb/cat"
echo one >"$M/evb/cat/sub/f"
mv "$M/evb/cat/sub" "$M/evb/cat/moved"
echo two >"$M/evb/cat/moved/g"
rm -r "$M/evb/fuse"
awsc s3api put-object --bucket evb --key cat/s3obj --body "$T/a" >/dev/null || fail "put"
ag catalog --db "$T/cat.db" >"$T/cat.out" || fail "catalog (again) exited $?"
ag catalog --db "$T/fresh.db" >/dev/null || fail "catalog (fresh) exited $?"
q="select ino, path, parent, name, type, size, mode, uid, gid, etag from elements order by path"
sqlite3 "$T/cat.db" "$q" >"$T/cat.rows"
sqlite3 "$T/fresh.db" "$q" >"$T/fresh.rows"
cmp -s "$T/cat.rows" "$T/fresh.rows" ||
	fail "the catalog kept from the log differs from a new walk: $(diff "$T/cat.rows" "$T/fresh.rows" | head -n 5)"
grep -q '|/evb/cat/moved/f|' "$T/cat.rows" || fail "the renamed directory's file is not under its new path"
! grep -q '/evb/fuse' "$T/cat.rows" || fail "a removed directory is still in the catalog"
[ "$(sqlite3 "$T/cat.db" "select size from elements where path = '/evb/cat/s3obj'")" = $((1 << 20)) ] ||
	fail "the S3 object's size in the catalog"
"$AGORA" -c "$CONF" catalog --db "$T/cat.db" --follow >"$T/catf.out" 2>&1 &
cat_pid=$!
started_pids+=("$cat_pid")
sleep 1
echo three >"$M/evb/cat/followed"
t0=$(date +%s%N)
in_catalog() { [ "$(sqlite3 "$T/cat.db" "select count(*) from elements where path = '/evb/cat/followed'" 2>/dev/null)" = 1 ]; }
wait_for 10 in_catalog || fail "the following catalog did not get the new file: $(cat "$T/catf.out")"
say "the catalog followed a new file within $((($(date +%s%N) - t0) / 1000000)) ms"
kill -TERM "$cat_pid"
wait_gone "$cat_pid" 10 || fail "catalog --follow ignored SIGTERM"

step "the log is trimmed to [events] keep, never below a trigger's cursor"
# the gateways stay: they wait for the restarted agora-metad
metad_stop
printf '\n[events]\nkeep = 20\n' >>"$CONF"
metad_start
for tr in thumb hook-ok; do ag trigger remove "$tr" || fail "trigger remove $tr"; done
ag trigger add held --prefix /evb/trim/ --exec true || fail "trigger add held"
held_from=$(ag trigger list | sed -n 's/^held .* next=\([0-9]*\) .*/\1/p')
ag mkdir /evb/trim || fail "mkdir"
for ((i = 0; i < 40; i++)); do ag mkdir "/evb/trim/d$i" || fail "mkdir $i"; done
events_json
first=$(head -n 1 "$T/ev" | sed 's/^{"seq":\([0-9]*\),.*/\1/')
[ "$first" -le "$held_from" ] ||
	fail "the log was trimmed to $first, past the cursor of a trigger at $held_from"
ag trigger remove held || fail "trigger remove held"
for ((i = 0; i < 40; i++)); do ag rm "/evb/trim/d$i" || fail "rm $i"; done
events_json
kept=$(wc -l <"$T/ev")
say "$kept events kept of keep = 20"
# trimmed by whole runs of 16 from one anchor to the next (the names of
# a run are front-coded from its first, agora-format(5)): 20 to 35
[ "$kept" -ge 20 ] && [ "$kept" -le 35 ] || fail "$kept events kept, keep = 20"
fsck_clean
