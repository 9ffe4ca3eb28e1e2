#!/bin/bash
# test/integ/failover_netns.sh - the cluster as a deployment runs it: two
# agora-metad hosts and three gateway hosts, each in a network namespace
# of its own with a veth pair to a bridge (in a namespace of the test's
# too), talking TCP; the drives stay shared files, standing in for
# NVMe-oF namespaces. g1 runs agora-fused with a writer on it (every
# other file fsync'd), g2 agora-s3d with an S3 client putting objects,
# g3 agora put in a loop. Under that mixed workload:
#   - kill -9 of the active metad, each in turn: the other takes over,
#     the gateways follow it; the time until a durable write that began
#     after the kill succeeds is measured (median printed, at most 5 s);
#   - the active metad's network cut (its veth down; its drives, which a
#     deployment reaches over the same network, hang: the daemon is
#     stopped meanwhile, as its I/O would be): the standby takes over
#     after the lease, and once the link is back (and its I/O goes on)
#     the old one steps down by itself and writes nothing to the rings
#     and leases, so none of its commits can become visible;
#   - kill -9 of the S3 gateway: the mount and agora put go on, and the
#     S3 gateway started again serves on.
# Each step bounded in time. Every acknowledged write (put, S3 PUT,
# close of a file through the mount) reads back; fsck clean. Only the
# test's own namespaces and their loopback are used. AGORA_LONG=1 runs
# more rounds of each.
. "$(dirname "$0")/lib.sh"

command -v ip >/dev/null || skip "no ip(8)"
command -v nsenter >/dev/null || skip "no nsenter(1)"
python3 -c 'import boto3' 2>/dev/null || skip "no boto3 for the S3 client"
rounds=1
[ "$AGORA_LONG" = 1 ] && rounds=5

ns=ag$$
NETS=()
netns_del() {
	local n
	for n in "${NETS[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
}
# the writers stop and the namespaces go first; lib.sh's cleanup stops
# what runs in them and must see the test's status (set -e would end the
# trap at the first command that fails)
trap 'rc=$?; set +e; touch "$T/stop"; netns_del; (exit $rc); cleanup' EXIT
ip netns add "$ns-br" 2>"$T/ip.err" || skip "no network namespaces here: $(cat "$T/ip.err")"
NETS+=("$ns-br")
ip -n "$ns-br" link add br0 type bridge || fail "no bridge"
ip -n "$ns-br" link set br0 up
ip -n "$ns-br" link set lo up
# host NAME N: a namespace with 10.77.0.N on a veth to the bridge (its
# end there is named NAME)
host() {
	ip netns add "$ns-$1" || fail "ip netns add $ns-$1"
	NETS+=("$ns-$1")
	ip -n "$ns-$1" link add eth0 type veth peer name "$1" netns "$ns-br" ||
		fail "no veth for $1"
	ip -n "$ns-br" link set "$1" master br0 up
	ip -n "$ns-$1" addr add "10.77.0.$2/24" dev eth0
	ip -n "$ns-$1" link set eth0 up
	ip -n "$ns-$1" link set lo up
}
host m1 1
host m2 2
host g1 11
host g2 12
host g3 13

write_conf
A=10.77.0.1:7000
B=10.77.0.2:7000
sed -i "s|^metad = .*|metad = $A,$B|" "$CONF"
cat >>"$CONF" <<CONF

[s3]
listen = 10.77.0.12:9000
pidfile = $T/s3d.pid
log = $T/s3d.log
threads = 16
domain = s3.test
timeout = 5
CONF
metad_ha_conf a b
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_ha_start a "$A" sh "$NETNS_RUN" "$ns-m1" ""
metad_serving a 1 5 || fail "agora-metad in m1 does not serve: $(tail -n 3 "$T/metad-a.log")"
metad_ha_start b "$B" sh "$NETNS_RUN" "$ns-m2" ""
# from here on the agora tool runs on the third gateway host
ag() { timeout "$AGORA_TIMEOUT" ip netns exec "$ns-g3" "$AGORA" -c "$CONF" "$@"; }
ag put /etc/hostname /first ||
	fail "put from g3 to the metad of m1, over the bridge, exited $?"
read -r S3_ACCESS S3_SECRET < <(ag user add tester --uid 0 --gid 0) ||
	fail "agora user add failed"

# in_ns PID CMD...: CMD in the network and mount namespaces of PID (a
# daemon's: a mount made there is seen nowhere else)
in_ns() {
	local pid=$1
	shift
	nsenter -t "$pid" -n -m "$@"
}

# g1: the mount, in g1's namespaces (a gateway host of its own)
M=$T/mnt
mkdir -p "$M"
[ -c /dev/fuse ] || skip "no /dev/fuse here"
timeout "$AGORA_TIMEOUT" sh "$NETNS_RUN" "$ns-g1" "" "$FUSED" -c "$CONF" \
	-o allow_other,log="$T/fused.log",pidfile="$T/fused.pid" "$M" 2>>"$T/fused.log" ||
	fail "agora-fused in g1 exited $?: $(tail -n 2 "$T/fused.log")"
FUSED_PID=$(cat "$T/fused.pid")
started_pids+=("$FUSED_PID")
in_ns "$FUSED_PID" mountpoint -q "$M" || fail "agora-fused in g1 did not mount $M"

# g2: agora-s3d
s3d_up() {
	rm -f "$T/s3d.pid"
	timeout "$AGORA_TIMEOUT" sh "$NETNS_RUN" "$ns-g2" "" "$S3D" -c "$CONF" -d ||
		fail "agora-s3d in g2 exited $?"
	S3D_PID=$(cat "$T/s3d.pid")
	started_pids+=("$S3D_PID")
}
s3d_up

# The workload, each writer logging what was acknowledged with the
# monotonic time it began and ended: "I START END durable|lazy".
cat >"$T/writer.py" <<'PY'
import hashlib, os, sys, time
d, log, stop = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(d, exist_ok=True)
now = lambda: time.clock_gettime(time.CLOCK_MONOTONIC)
with open(log, "a", buffering=1) as out:
    i = 0
    while not os.path.exists(stop):
        data = hashlib.sha256(b"%d" % i).digest() * (200 + 97 * (i % 40))
        t0 = now()
        try:
            fd = os.open(os.path.join(d, "f%d" % i), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            os.write(fd, data)
            if i % 2 == 0:
                os.fsync(fd)
            os.close(fd)
            out.write("%d %.6f %.6f %s\n" % (i, t0, now(), "durable" if i % 2 == 0 else "lazy"))
        except OSError as e:
            sys.stderr.write("f%d: %s\n" % (i, e))
        i += 1
        time.sleep(0.01)
PY
cat >"$T/s3put.py" <<'PY'
import hashlib, os, sys, time
import boto3, botocore.config
url, key, secret, log, stop = sys.argv[1:6]
now = lambda: time.clock_gettime(time.CLOCK_MONOTONIC)
cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2,
                             read_timeout=20, signature_version="s3v4",
                             s3={"addressing_style": "path"})
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=key,
                  aws_secret_access_key=secret, region_name="us-east-1",
                  config=cfg)
while True:
    try:
        s3.create_bucket(Bucket="bkt")
        break
    except Exception as e:
        if "BucketAlready" in str(e):
            break
        time.sleep(0.2)
with open(log, "a", buffering=1) as out:
    i = 0
    while not os.path.exists(stop):
        body = hashlib.sha256(b"s3 %d" % i).digest() * (100 + 53 * (i % 30))
        t0 = now()
        try:
            s3.put_object(Bucket="bkt", Key="o%d" % i, Body=body)
            out.write("%d %.6f %.6f durable\n" % (i, t0, now()))
        except Exception as e:
            sys.stderr.write("o%d: %s\n" % (i, e))
            time.sleep(0.1)
        i += 1
PY
in_ns "$FUSED_PID" python3 "$T/writer.py" "$M/w" "$T/acked-fuse" "$T/stop" 2>"$T/writer.err" &
started_pids+=("$!")
sh "$NETNS_RUN" "$ns-g2" "" python3 "$T/s3put.py" "http://10.77.0.12:9000" \
	"$S3_ACCESS" "$S3_SECRET" "$T/acked-s3" "$T/stop" 2>"$T/s3put.err" &
started_pids+=("$!")
mkdata "$T/obj" 40000 random
sh "$NETNS_RUN" "$ns-g3" "" bash -c '
	i=0
	while [ ! -e "$0/stop" ]; do
		t0=$(python3 -c "import time; print(\"%.6f\" % time.clock_gettime(time.CLOCK_MONOTONIC))")
		if timeout 60 "$1" -c "$2" put "$0/obj" "/p/o$i" 2>>"$0/put.err"; then
			t1=$(python3 -c "import time; print(\"%.6f\" % time.clock_gettime(time.CLOCK_MONOTONIC))")
			echo "$i $t0 $t1 durable" >>"$0/acked-put"
		fi
		i=$((i + 1))
	done' "$T" "$AGORA" "$CONF" &
started_pids+=("$!")
for ((i = 0; i < 300; i++)); do
	[ -s "$T/acked-fuse" ] && [ -s "$T/acked-s3" ] && [ -s "$T/acked-put" ] && break
	sleep 0.1
done
[ -s "$T/acked-fuse" ] && [ -s "$T/acked-s3" ] && [ -s "$T/acked-put" ] ||
	fail "not every gateway host writes: $(tail -n 1 "$T/writer.err" "$T/s3put.err" "$T/put.err" 2>&1)"

# resumed T0 SECONDS [LOGS...]: the time from T0 until a durable write
# that began after it succeeded (in any of LOGS, default all three),
# within SECONDS; fails when none came
resumed() {
	local t0=$1 n=$(($2 * 20)) i t
	shift 2
	[ $# -gt 0 ] || set -- "$T/acked-fuse" "$T/acked-s3" "$T/acked-put"
	for ((i = 0; i < n; i++)); do
		t=$(cat "$@" 2>/dev/null | awk -v t0="$t0" '
			$2 > t0 && $4 == "durable" { d = $3 - t0; if (m == "" || d < m) m = d }
			END { print m }')
		[ -n "$t" ] && { echo "$t"; return 0; }
		sleep 0.05
	done
	return 1
}
pid_of() { eval echo "\$PID_$1"; }
addr_of() { [ "$1" = a ] && echo "$A" || echo "$B"; }
host_of() { [ "$1" = a ] && echo m1 || echo m2; }
restart() {
	metad_ha_start "$1" "$(addr_of "$1")" sh "$NETNS_RUN" "$ns-$(host_of "$1")" ""
}
serves=(1 0) # times a and b said they serve
count() { [ "$1" = a ] && echo "${serves[0]}" || echo "${serves[1]}"; }
took_over() {
	[ "$1" = a ] && serves[0]=$((serves[0] + 1)) || serves[1]=$((serves[1] + 1))
	metad_serving "$1" "$(count "$1")" 20 ||
		fail "the standby $1 did not take over: $(tail -n 3 "$T/metad-$1.log")"
}

step "kill -9 of the active agora-metad, $((2 * rounds)) times, under the mixed workload"
times=()
active=a
for ((r = 0; r < 2 * rounds; r++)); do
	[ "$active" = a ] && other=b || other=a
	sleep 1
	pid=$(pid_of "$active")
	kill -KILL "$pid"
	t0=$(mono_now)
	wait_gone "$pid" 10 || fail "agora-metad survived SIGKILL"
	took_over "$other"
	dt=$(resumed "$t0" 30) || fail "no durable write succeeded within 30 s of the kill"
	times+=("$dt")
	say "round $r: $active killed, $other serves, durable writes succeed again after $dt s"
	restart "$active"
	active=$other
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
say "failover between namespaces: median $median s over ${#times[@]} rounds (${times[*]})"
awk -v m="$median" 'BEGIN { exit !(m <= 5) }' ||
	fail "writes succeed again only after $median s (median), more than 5 s"

step "the active agora-metad's network cut, $rounds times: the standby takes over, the old one steps down and writes nothing once back"
for ((r = 0; r < rounds; r++)); do
	[ "$active" = a ] && other=b || other=a
	sleep 1
	pid=$(pid_of "$active")
	h=$(host_of "$active")
	old_epoch=$(grep -o 'fencing epoch [0-9]*' "$T/metad-$active.log" | tail -n 1 | awk '{ print $3 }')
	downs=$(grep -c "stepping down" "$T/metad-$active.log" || true)
	ip -n "$ns-br" link set "$h" down
	kill -STOP "$pid"
	t0=$(mono_now)
	took_over "$other" ||
		{ kill -CONT "$pid"; fail "no takeover"; }
	dt=$(resumed "$t0" 30) ||
		{ kill -CONT "$pid"; fail "no durable write succeeded within 30 s of the cut"; }
	ring_snapshot >"$T/before-back"
	ip -n "$ns-br" link set "$h" up
	kill -CONT "$pid"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c "stepping down" "$T/metad-$active.log" || true)" -gt "$downs" ] && break
		sleep 0.1
	done
	[ "$(grep -c "stepping down" "$T/metad-$active.log" || true)" -gt "$downs" ] ||
		fail "the cut-off metad did not step down: $(tail -n 3 "$T/metad-$active.log")"
	kill -0 "$pid" 2>/dev/null || fail "the cut-off metad died instead of standing by"
	sleep 3 # the old one had its chance to write
	ring_snapshot >"$T/after-back"
	if diff "$T/before-back" "$T/after-back" | grep '^>' | grep -E " epoch $old_epoch( |$)"; then
		fail "the fenced metad (epoch $old_epoch) wrote to the drives once back"
	fi
	say "round $r: $active cut off, $other serves after $dt s; $active stepped down: $(grep 'stepping down' "$T/metad-$active.log" | tail -n 1 | sed 's/^.*lost/lost/')"
	grep -q "standing by: $(addr_of "$other") is the active metad" "$T/metad-$active.log" ||
		fail "the old metad does not stand by"
	active=$other
done

step "kill -9 of the S3 gateway, $rounds times: the mount and agora put go on"
for ((r = 0; r < rounds; r++)); do
	sleep 1
	kill -KILL "$S3D_PID"
	t0=$(mono_now)
	wait_gone "$S3D_PID" 10 || fail "agora-s3d survived SIGKILL"
	dt=$(resumed "$t0" 10 "$T/acked-fuse") || fail "the mount stopped when agora-s3d died"
	dp=$(resumed "$t0" 20 "$T/acked-put") || fail "agora put stopped when agora-s3d died"
	s3d_up
	ds=$(resumed "$t0" 20 "$T/acked-s3") || fail "the S3 gateway does not serve again"
	say "round $r: agora-s3d killed; the mount wrote after $dt s, agora put after $dp s; S3 again after $ds s"
done

step "every acknowledged write is there, fsck clean"
touch "$T/stop"
sleep 2
# all of them through the mount (one reader), the last few of each with
# the agora tool too
in_ns "$FUSED_PID" python3 - "$M" "$T" <<'PY' || fail "an acknowledged write is lost or wrong"
import hashlib, sys
m, t = sys.argv[1], sys.argv[2]
obj = open(t + "/obj", "rb").read()
want = {
    "fuse": lambda i: ("w/f%d" % i, hashlib.sha256(b"%d" % i).digest() * (200 + 97 * (i % 40))),
    "s3": lambda i: ("bkt/o%d" % i, hashlib.sha256(b"s3 %d" % i).digest() * (100 + 53 * (i % 30))),
    "put": lambda i: ("p/o%d" % i, obj),
}
n = {}
for kind, f in want.items():
    n[kind] = 0
    with open("%s/acked-%s" % (t, kind)) as log:
        for line in log:
            path, data = f(int(line.split()[0]))
            with open("%s/%s" % (m, path), "rb") as g:
                if g.read() != data:
                    sys.exit("/%s differs" % path)
            with open("%s/want-%s" % (t, path.replace("/", "-")), "wb") as g:
                g.write(data)
            n[kind] += 1
print("# %d acknowledged writes read back through the mount: %d written through it, %d over S3, %d puts"
      % (sum(n.values()), n["fuse"], n["s3"], n["put"]))
PY
for kind in fuse s3 put; do
	case $kind in fuse) dir=w; p=f ;; s3) dir=bkt; p=o ;; put) dir=p; p=o ;; esac
	tail -n 3 "$T/acked-$kind" | while read -r i _; do
		same "$T/want-$dir-$p$i" "/$dir/$p$i"
	done
done
fsck_clean
tail -n 1 "$T/fsck.out"
printf 'PASS: %d steps, failover median %s s\n' "$steps" "$median"
