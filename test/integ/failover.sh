#!/bin/bash
# test/integ/failover.sh - two agora-metad on one cluster (metad = two
# TCP ports on loopback, standing in for two hosts), one active, under a
# write workload through a mount and the agora tool.
#   - kill -9 of the active one, several rounds, each side in turn: the
#     standby takes the lease once it has run out, and the writes flow
#     again; the time from the kill to the first write that completes
#     after it is measured (the median is printed). No acknowledged write
#     is lost, fsck is clean.
#   - SIGSTOP of the active one: the standby takes over, the clients move
#     to it and commit; SIGCONT: the old one steps down by itself and
#     stands by, and it writes nothing to the drives after its successor
#     took the lease (no commit record, no lease copy of its epoch
#     changes), so none of its writes can ever become visible.
# Each metad logs on its own; the lease is the default (2 s).
. "$(dirname "$0")/lib.sh"

M=$T/mnt
rounds=3
[ "$AGORA_LONG" = 1 ] && rounds=10

write_conf
PA=$(free_port)
PB=$(free_port)
while [ "$PB" = "$PA" ]; do PB=$(free_port); done
A=127.0.0.1:$PA
B=127.0.0.1:$PB
sed -i "s|^metad = .*|metad = $A,$B|" "$CONF"
metad_ha_conf a b
ag mkfs >/dev/null || fail "mkfs exited $?"

# start_one a|b: that metad, detached (active or standing by)
start_one() {
	[ "$1" = a ] && metad_ha_start a "$A" || metad_ha_start b "$B"
}

start_one a
metad_serving a 1 5 || fail "the first agora-metad does not serve: $(tail -n 3 "$T/metad-a.log")"
start_one b
sleep 0.5
grep -q "standing by: $A is the active metad" "$T/metad-b.log" ||
	fail "the second agora-metad does not stand by: $(tail -n 3 "$T/metad-b.log")"
grep -q "serving" "$T/metad-b.log" && fail "both agora-metad serve"
ag put /etc/hostname /first || fail "put through the active metad exited $?"

fused_start "$M"
mkdir -p "$M/w"

# The workload: a writer on the mount (each file written and closed,
# every other one fsync'd first; logged when close returned, with the
# time) and agora put in a loop (logged when it exited 0). The mount
# answers a lazy write before metad has it: the writes that flow are the
# fsync'd ones.
cat >"$T/writer.py" <<'PY'
import hashlib, os, sys, time
mnt, log, stop = sys.argv[1], sys.argv[2], sys.argv[3]
with open(log, "a", buffering=1) as out:
    i = 0
    while not os.path.exists(stop):
        data = hashlib.sha256(b"%d" % i).digest() * (200 + 97 * (i % 40))
        start = time.clock_gettime(time.CLOCK_MONOTONIC)
        path = os.path.join(mnt, "f%d" % i)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.write(fd, data)
        if i % 2 == 0:
            os.fsync(fd)
        os.close(fd)
        out.write("%d %.6f %s %.6f\n" % (i, time.clock_gettime(time.CLOCK_MONOTONIC),
                                       "durable" if i % 2 == 0 else "lazy", start))
        i += 1
        time.sleep(0.01)
PY
python3 "$T/writer.py" "$M/w" "$T/acked" "$T/stop" 2>"$T/writer.err" &
WRITER=$!
started_pids+=("$WRITER")
mkdata "$T/obj" 30000 random
(
	i=0
	while [ ! -e "$T/stop" ]; do
		if timeout 60 "$AGORA" -c "$CONF" put "$T/obj" "/p/o$i" 2>>"$T/put.err"; then
			echo "$i" >>"$T/put-acked"
		fi
		i=$((i + 1))
		sleep 0.05
	done
) &
PUTTER=$!
started_pids+=("$PUTTER")

# resumed T0 SECONDS: the time from T0 until a durable write that began
# after it completed, within SECONDS; fails when none came
resumed() {
	local t0=$1 i t
	for ((i = 0; i < $2 * 20; i++)); do
		t=$(awk -v t0="$t0" '$4 > t0 && $3 == "durable" { print $2 - t0; exit }' "$T/acked")
		[ -n "$t" ] && { echo "$t"; return 0; }
		sleep 0.05
	done
	return 1
}

for ((i = 0; i < 200; i++)); do
	[ -s "$T/acked" ] && break
	sleep 0.1
done
[ -s "$T/acked" ] || fail "no write completed before any failover: $(tail -n 3 "$T/writer.err")"

step "kill -9 of the active agora-metad, $((2 * rounds)) times"
times=()
active=a
na=1
nb=0
for ((r = 0; r < 2 * rounds; r++)); do
	[ "$active" = a ] && other=b || other=a
	sleep 1
	pid=$(eval echo "\$PID_$active")
	kill -KILL "$pid"
	t0=$(mono_now)
	wait_gone "$pid" 10 || fail "agora-metad survived SIGKILL"
	[ "$other" = a ] && na=$((na + 1)) || nb=$((nb + 1))
	metad_serving "$other" "$([ "$other" = a ] && echo $na || echo $nb)" 20 ||
		fail "the standby did not take over: $(tail -n 3 "$T/metad-$other.log")"
	dt=$(resumed "$t0" 30) || fail "no write completed within 30 s of the kill"
	times+=("$dt")
	say "round $r: $active killed, $other serves, writes flow again after $dt s"
	start_one "$active"
	active=$other
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
say "failover after kill -9: median $median s over ${#times[@]} rounds (${times[*]})"
awk -v m="$median" 'BEGIN { exit !(m <= 5) }' ||
	fail "writes flow again only after $median s (median), more than 5 s"

step "SIGSTOP of the active agora-metad, then SIGCONT"
[ "$active" = a ] && other=b || other=a
pid=$(eval echo "\$PID_$active")
sleep 1
old_epoch=$(grep -o 'fencing epoch [0-9]*' "$T/metad-$active.log" | tail -n 1 | awk '{ print $3 }')
kill -STOP "$pid"
t0=$(mono_now)
[ "$other" = a ] && na=$((na + 1)) || nb=$((nb + 1))
metad_serving "$other" "$([ "$other" = a ] && echo $na || echo $nb)" 20 ||
	{ kill -CONT "$pid"; fail "the standby did not take over from a stopped metad: $(tail -n 3 "$T/metad-$other.log")"; }
dt=$(resumed "$t0" 30) || { kill -CONT "$pid"; fail "no write completed within 30 s of the SIGSTOP"; }
say "$active stopped, $other serves, writes flow again after $dt s"
ring_snapshot >"$T/before-cont"
ag put "$T/obj" /during-stop || { kill -CONT "$pid"; fail "put while the old metad is stopped exited $?"; }
kill -CONT "$pid"
for ((i = 0; i < 100; i++)); do
	grep -q "stepping down" "$T/metad-$active.log" && break
	sleep 0.1
done
grep -q "stepping down" "$T/metad-$active.log" ||
	fail "the old metad did not step down: $(tail -n 3 "$T/metad-$active.log")"
kill -0 "$pid" 2>/dev/null || fail "the old metad died instead of standing by"
sleep 3 # the old one's renewer and loop had their chance to write
ring_snapshot >"$T/after-cont"
# whatever changed since is the new one's doing: its epoch, never the old's
if diff "$T/before-cont" "$T/after-cont" | grep '^>' | grep -E " epoch $old_epoch( |$)"; then
	fail "the fenced metad (epoch $old_epoch) wrote to the drives after SIGCONT"
fi
grep -q "standing by: $([ "$other" = a ] && echo "$A" || echo "$B") is the active metad" \
	"$T/metad-$active.log" || fail "the old metad does not stand by"
say "the old metad stepped down: $(grep 'stepping down' "$T/metad-$active.log" | tail -n 1 | sed 's/^.*lost/lost/')"
ag put "$T/obj" /after-cont || fail "put after SIGCONT exited $?"

step "every acknowledged write is there"
touch "$T/stop"
wait "$WRITER" || fail "the writer failed: $(tail -n 3 "$T/writer.err")"
wait "$PUTTER" || true
n=$(wc -l <"$T/acked")
python3 - "$M/w" "$T/acked" <<'PY' || fail "an acknowledged write is lost or wrong"
import hashlib, os, sys
mnt, log = sys.argv[1], sys.argv[2]
for line in open(log):
    i = int(line.split()[0])
    want = hashlib.sha256(b"%d" % i).digest() * (200 + 97 * (i % 40))
    with open(os.path.join(mnt, "f%d" % i), "rb") as f:
        got = f.read()
    if got != want:
        print("f%d: %d bytes, want %d" % (i, len(got), len(want)))
        sys.exit(1)
PY
np=0
if [ -s "$T/put-acked" ]; then
	while read -r i; do
		same "$T/obj" "/p/o$i"
		np=$((np + 1))
	done <"$T/put-acked"
fi
say "$n writes through the mount and $np puts acknowledged, all read back"
fused_stop "$M"
fsck_clean
tail -n 1 "$T/fsck.out"

printf 'PASS: %d steps, failover median %s s\n' "$steps" "$median"
