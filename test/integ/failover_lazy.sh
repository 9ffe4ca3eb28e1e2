#!/bin/bash
# test/integ/failover_lazy.sh - the death of the active agora-metad's
# whole host loses nothing the mount acknowledged and another gateway
# read. Two metad (TCP on loopback, standing in for two hosts), a mount.
# Changes through the mount, none fsync'd, are lazy: metad answers them
# once written, before its sync, and the agora tool reads them. Then
# metad's host dies: kill -9, and the drives lose what it wrote since its
# last sync, as a host's volatile caches would (the commit ring goes back
# to what it held then; [metad] lazy_sync_ms keeps metad from syncing
# meanwhile, and the agora tool only lists them: reading their data would
# store ETags, durable commits). The drives alone then show none of the
# changes. The
# standby takes over and the mount sends it the transactions it kept:
# every file is back with its data (the inodes the lost creates made are
# made again, or the writes naming them would go nowhere), through the
# mount and to the agora tool; fsck clean. Then the same once more with
# the other metad's host, and a mount that goes on writing meanwhile.
. "$(dirname "$0")/lib.sh"

M=$T/mnt
write_conf
PA=$(free_port)
PB=$(free_port)
while [ "$PB" = "$PA" ]; do PB=$(free_port); done
A=127.0.0.1:$PA
B=127.0.0.1:$PB
sed -i "s|^metad = .*|metad = $A,$B|" "$CONF"
# a lazy commit waits for a durable one, a SYNC or the ring's end; the
# clients' heartbeat as by default (every 10 s)
sed -i 's|^lease_timeout = .*|lease_timeout = 30\nlazy_sync_ms = 600000|' "$CONF"
metad_ha_conf a b
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_ha_start a "$A"
metad_serving a 1 5 || fail "the first agora-metad does not serve: $(tail -n 3 "$T/metad-a.log")"
metad_ha_start b "$B"
fused_start "$M"

# ring_save / ring_restore: the commit ring of every drive (AG_COMMIT_OFF
# 4096, AG_COMMIT_SLOTS 16 blocks of 4096), kept in $T/ring.N
ring_save() {
	local i
	for ((i = 0; i < NDRIVES; i++)); do
		dd if="$T/d$i" of="$T/ring.$i" bs=4096 skip=1 count=16 status=none ||
			fail "cannot read the ring of drive $i"
	done
}
ring_restore() {
	local i
	for ((i = 0; i < NDRIVES; i++)); do
		dd if="$T/ring.$i" of="$T/d$i" bs=4096 seek=1 count=16 conv=notrunc,fsync status=none ||
			fail "cannot write the ring of drive $i"
	done
}

# lazy_files DIR N: DIR and N files in it through the mount, each with
# its own content, none fsync'd
lazy_files() {
	python3 - "$M/$1" "$2" <<'PY'
import hashlib, os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
for i in range(n):
    with open(os.path.join(d, "f%d" % i), "wb") as f:
        f.write(hashlib.sha256(b"%s %d" % (d.encode(), i)).digest() * (300 + 41 * i))
PY
}
# expect_files DIR N [AS]: what lazy_files DIR N wrote, through the mount
# and the agora tool, in directory AS (default DIR)
expect_files() {
	local i
	python3 - "$M/$1" "$2" "$T/want" "$M/${3:-$1}" <<'PY' || fail "the mount does not show $1 as it was written"
import hashlib, os, sys
d, n, want = sys.argv[1], int(sys.argv[2]), sys.argv[3]
at = sys.argv[4]
for i in range(n):
    data = hashlib.sha256(b"%s %d" % (d.encode(), i)).digest() * (300 + 41 * i)
    with open(os.path.join(at, "f%d" % i), "rb") as f:
        if f.read() != data:
            sys.exit("%s/f%d differs" % (at, i))
    with open("%s.%d" % (want, i), "wb") as f:
        f.write(data)
PY
	for ((i = 0; i < $2; i++)); do
		same "$T/want.$i" "/${3:-$1}/f$i"
	done
}
# seen_by_tool DIR N: the agora tool lists the N files of DIR
seen_by_tool() {
	[ "$(ag ls "/$1" 2>/dev/null | grep -c '^f[0-9]')" -eq "$2" ]
}

# host_dies X OTHER N: the host of metad X dies (kill -9, and the ring
# as it was at its last sync, which ring_save took); the standby OTHER
# must serve for the Nth time
host_dies() {
	local pid
	pid=$(eval echo "\$PID_$1")
	# the standby waits while the drives lose what they lose
	kill -STOP "$(eval echo "\$PID_$2")"
	kill -KILL "$pid"
	wait_gone "$pid" 10 || fail "agora-metad survived SIGKILL"
	ring_restore
	kill -CONT "$(eval echo "\$PID_$2")"
	metad_serving "$2" "$3" 20 ||
		fail "the standby did not take over: $(tail -n 3 "$T/metad-$2.log")"
}

step "a durable start: a file fsync'd through the mount, a put"
python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"durable\n" * 1000)
os.fsync(fd)
os.close(fd)' "$M/durable" || fail "the durable write exited $?"
ag put /etc/hostname /put0 || fail "put exited $?"
ring_save

step "lazy changes through the mount, read by the agora tool"
# fewer commits than half the ring (metad starts syncing a run there):
# a file written through the mount takes four
n=1
lazy_files lazy $n || fail "the lazy writes exited $?"
# (a listing: reading a file's data would store its ETag, a durable
# commit that syncs the lazy ones before it)
eventually 20 seen_by_tool lazy $n || fail "the agora tool never saw the lazy files"

step "the active metad's host dies before its sync: the drives lose the lazy commits"
kill -STOP "$PID_b"
kill -KILL "$PID_a"
wait_gone "$PID_a" 10 || fail "agora-metad survived SIGKILL"
ring_restore
# the drives alone (no metad answers) say what survived: not /lazy
expect_fail "/lazy on the drives after the host's death" "No such file|ENOENT" ag ls /lazy
kill -CONT "$PID_b"
metad_serving b 1 20 || fail "the standby did not take over: $(tail -n 3 "$T/metad-b.log")"
t0=$(mono_now)

step "the mount sends what it kept to the new metad: every file is back"
eventually 30 seen_by_tool lazy $n ||
	fail "the lazy files are lost: $(ag ls /lazy 2>&1 | head -n 3)"
dt=$(python3 -c "import sys, time; print('%.2f' % (time.clock_gettime(time.CLOCK_MONOTONIC) - float(sys.argv[1])))" "$t0")
say "the lazy files are back $dt s after the takeover"
# a quiet mount's heartbeat comes every second while it keeps any, not
# every 10 s
awk -v t="$dt" 'BEGIN { exit !(t <= 5) }' || fail "the lazy files came back only after $dt s"
expect_files lazy $n
grep -h "unsynced transactions sent again" "$T/fused-mnt.log" | tail -n 1 | sed 's/^/# /'
grep -q "unsynced transactions sent again to agora-metad: [0-9]* applied again, [0-9]* already there, 0 refused" \
	"$T/fused-mnt.log" || fail "the mount did not send its transactions again: $(tail -n 3 "$T/fused-mnt.log")"
same /etc/hostname /put0

step "again with the other host, while the mount writes on"
metad_ha_start a "$A"
ag put /etc/hostname /put1 || fail "put exited $?" # durable: syncs the lost-and-found ones
ring_save
lazy_files lazy2 1 || fail "the lazy writes exited $?"
mv "$M/lazy2" "$M/moved" || fail "the rename failed"
eventually 20 seen_by_tool moved 1 || fail "the agora tool never saw /moved"
host_dies b a 2
# written before the new metad has the lost ones back or after: both go
lazy_files lazy3 2 || fail "writes after the failover exited $?"
eventually 30 seen_by_tool moved 1 || fail "/moved is lost: $(ag ls /moved 2>&1 | head -n 3)"
expect_files lazy2 1 moved
expect_files lazy3 2
expect_files lazy $n

step "unmounted and checked"
fused_stop "$M"
fsck_clean
tail -n 1 "$T/fsck.out"
printf 'PASS: %d steps\n' "$steps"
