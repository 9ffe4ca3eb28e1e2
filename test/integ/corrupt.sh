#!/bin/bash
# test/integ/corrupt.sh - damaged metadata on the drives, with agora-metad
# stopped. Each scenario starts from the same saved copy of the drives:
#   (a) every metadata page copy on one drive overwritten with garbage:
#       fsck reports damage (exit 1), reads fall back to other mirrors;
#   (b) the newest commit record damaged on one drive (the generation does
#       not move, fsck names the copy), each copy in turn, on all drives
#       but one; on every drive, or a page of the newest root on every
#       mirror: that is corruption, not a torn commit: status and fsck say
#       which generation it loses (exit 1), reads and agora-metad refuse,
#       and agora-metad --accept-rollback serves the previous generation;
#       the same slots and pages zeroed instead (a commit a crash cut off)
#       fall back to the previous generation without a word;
#   (c) labels damaged or zeroed: up to m drives are missing and the
#       cluster opens degraded; m + 1 and it refuses to open (exit 2).
# AGORA_LONG=1 corrupts the pages of every drive in turn, not only of the
# two that hold the first copy of every page.
. "$(dirname "$0")/lib.sh"

write_conf
# 1G sparse drives: each put of new data takes a segment of its own
sed -i 's/^drive_size = .*/drive_size = 1G/' "$CONF"

# ---- helpers ----

# save_drives / restore_drives: a sparse copy of all drives in $T/saved.
save_drives() {
	mkdir -p "$T/saved"
	for ((i = 0; i < NDRIVES; i++)); do
		cp --sparse=always "$T/d$i" "$T/saved/d$i"
	done
}
restore_drives() {
	for ((i = 0; i < NDRIVES; i++)); do
		cp --sparse=always "$T/saved/d$i" "$T/d$i"
	done
}

# generation: what status says the cluster's generation is.
generation() {
	ag status 2>/dev/null | awk '$1 == "generation" { print $2 }'
}

# check_all: every file reads back byte-equal, every directory lists.
# (Warnings about missing drives go to $T/check.err.)
check_all() {
	check_all_ 2>"$T/check.err"
}
check_all_() {
	local f d
	for f in "${files[@]}"; do
		same "$T/src/${f//\//_}" "$f"
	done
	ag ls / >"$T/ls" || fail "ls / exited $?"
	for d in a b c; do
		ag ls -l "/$d" >"$T/ls" || fail "ls -l /$d exited $?"
		[ "$(grep -c . "$T/ls")" -ge 1 ] || fail "ls -l /$d shows nothing"
	done
	ag ls /c/deep/er >/dev/null || fail "ls /c/deep/er exited $?"
}

# fsck_expect RC WHAT: run fsck, which must exit RC; output in $T/fsck.out.
fsck_expect() {
	local want=$1 what=$2 rc=0
	ag fsck >"$T/fsck.out" 2>"$T/fsck.err" || rc=$?
	sed 's/^/#   /' "$T/fsck.out" | tail -n 4
	[ "$rc" -eq "$want" ] || fail "$what: fsck exited $rc, not $want"
}

# trash_pages DRIVE: overwrite every 4 KiB block of the data area that
# holds a metadata page copy (magic "AGPG" at byte 4) with random bytes.
trash_pages() {
	python3 - "$1" <<'PY' || fail "no metadata page found on $1"
import os, sys
path = sys.argv[1]
hit = 0
with open(path, "r+b") as f:
    size = os.fstat(f.fileno()).st_size
    base = 1 << 20
    while base < size:
        f.seek(base)
        chunk = f.read(1 << 20)
        for off in range(0, len(chunk), 4096):
            if chunk[off + 4:off + 8] == b"AGPG":
                f.seek(base + off)
                f.write(os.urandom(4096))
                hit += 1
        base += 1 << 20
print("# overwrote %d page copies on %s" % (hit, os.path.basename(path)))
sys.exit(0 if hit else 1)
PY
}

# newest_commit DRIVE: "GENERATION SLOT" of the newest commit record in
# the drive's ring (16 slots of 4 KiB at 4096, magic then u64 generation).
newest_commit() {
	python3 - "$1" <<'PY'
import struct, sys
best = None
with open(sys.argv[1], "rb") as f:
    for s in range(16):
        f.seek(4096 + s * 4096)
        b = f.read(4096)
        if b[:8] == b"AGORACMT":
            g = struct.unpack_from("<Q", b, 8)[0]
            if best is None or g > best[0]:
                best = (g, s)
if best is None:
    sys.exit(1)
print(best[0], best[1])
PY
}

# garble DRIVE OFFSET LEN: random bytes over [OFFSET, OFFSET + LEN).
garble() {
	python3 -c '
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    f.write(os.urandom(int(sys.argv[3])))' "$1" "$2" "$3"
}

# trash_newest_commit DRIVE: garble the drive's newest commit record.
trash_newest_commit() {
	local g s
	read -r g s < <(newest_commit "$1") || fail "$1: no commit record"
	garble "$1" $((4096 + s * 4096)) 4096
	echo "$g"
}

# flip DRIVE OFFSET: invert one byte (a bit flip the checksum must see).
flip() {
	python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}

# zero DRIVE OFFSET LEN: zeros over [OFFSET, OFFSET + LEN), as a block
# that was never written holds.
zero() {
	python3 -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    f.write(bytes(int(sys.argv[3])))' "$1" "$2" "$3"
}

# root_copies DRIVE: "DRIVE OFFSET" of each mirror of the root page of
# the drive's newest commit record (agora-format(5): copy c of page slot
# p is slot 3p + c of its segment, on drive slot % N).
root_copies() {
	python3 - "$1" "$T" "$NDRIVES" <<'PY'
import struct, sys
path, top, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
best = None
with open(path, "rb") as f:
    label = f.read(4096)
    segsize = struct.unpack_from("<Q", label, 56)[0]
    for s in range(16):
        f.seek(4096 + s * 4096)
        b = f.read(4096)
        if b[:8] == b"AGORACMT":
            g, root = struct.unpack_from("<QQ", b, 8)
            if best is None or g > best[0]:
                best = (g, root)
root = best[1]
seg, slot = root >> 32, root & 0xffff
for c in range(3):
    l = slot * 3 + c
    print("%s/d%d %d" % (top, l % n, (1 << 20) + seg * segsize + (l // n) * 4096))
PY
}

# metad_refuses WHAT GEN: agora-metad must fail to start, saying that
# generation GEN is damaged and what --accept-rollback would do.
metad_refuses() {
	local what=$1 gen=$2 rc=0
	: >"$T/metad.log"
	rm -f "$T/refused.pid"
	timeout "$AGORA_TIMEOUT" "$METAD" -c "$CONF" -d -p "$T/refused.pid" \
		2>>"$T/metad.log" || rc=$?
	if [ -s "$T/refused.pid" ] && kill -0 "$(cat "$T/refused.pid")" 2>/dev/null; then
		started_pids+=("$(cat "$T/refused.pid")")
		fail "$what: agora-metad started"
	fi
	[ "$rc" -eq 1 ] || fail "$what: agora-metad -d exited $rc, not 1"
	grep -q "generation $gen is damaged on every copy" "$T/metad.log" ||
		fail "$what: agora-metad does not name generation $gen: $(tail -n 1 "$T/metad.log")"
	grep -q -- "--accept-rollback" "$T/metad.log" ||
		fail "$what: agora-metad does not mention --accept-rollback"
	say "$what: agora-metad refused: $(grep -o 'generation [0-9]* is damaged.*' "$T/metad.log" | cut -c 1-150)"
}

# lost_expect GEN WHAT: the newest commit, GEN, is damaged (WHAT: record
# or pages) and the previous generation is the state: status and fsck
# exit 1 and say so, a read refuses, agora-metad refuses to start.
lost_expect() {
	local gen=$1 what=$2 rc=0
	ag status >"$T/status.out" 2>"$T/status.err" || rc=$?
	[ "$rc" -eq 1 ] || fail "status with generation $gen damaged exited $rc, not 1"
	grep -q "^DAMAGED    generation $gen is damaged on every copy of its $what" \
		"$T/status.out" || fail "status does not report generation $gen: $(head -n 3 "$T/status.out")"
	grep -q "^generation $((gen - 1))\$" "$T/status.out" ||
		fail "status does not show generation $((gen - 1)) as the state"
	rc=0
	ag status -b >"$T/status.out" 2>/dev/null || rc=$?
	[ "$rc" -eq 1 ] || fail "status -b exited $rc, not 1"
	grep -qx "lost_generation $gen" "$T/status.out" || fail "status -b shows no lost_generation $gen"
	fsck_expect 1 "generation $gen damaged"
	grep -q "^DAMAGE: generation $gen is damaged on every copy of its $what (not a torn commit)" \
		"$T/fsck.out" || fail "fsck does not report generation $gen as damaged"
	rc=0
	ag get /a/random1 "$T/x" >/dev/null 2>"$T/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "get with generation $gen damaged exited $rc, not 2"
	grep -q "newest commit is damaged" "$T/err" || fail "get: $(tail -n 1 "$T/err")"
	metad_refuses "generation $gen damaged ($what)" "$gen"
}

zero_label() {
	dd if=/dev/zero of="$1" bs=4096 count=1 conv=notrunc status=none ||
		fail "cannot zero the label of $1"
}

# ---- a cluster with enough metadata for several pages ----

step "fill a cluster: files in nested directories"
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
mkdir "$T/src"
files=()
addfile() { # PATH SIZE KIND
	local local_=$T/src/${1//\//_}
	mkdata "$local_" "$2" "$3"
	ag put "$local_" "$1" || fail "put $1 exited $?"
	files+=("$1")
}
for i in 0 1 2 3 4 5; do
	addfile "/a/random$i" $((i * 190000 + 1000 + RANDOM)) random
done
addfile /b/text-big $((3 << 20)) text
addfile /c/deep/er/text 70000 text
addfile /c/empty 0 zero
# many small files in one directory: the tree gets several leaves
mkdata "$T/many" 200 text
for i in $(seq -w 0 39); do
	cp "$T/many" "$T/src/_b_small$i"
	echo "$i" >>"$T/src/_b_small$i"
	ag put "$T/src/_b_small$i" "/b/small$i" || fail "put /b/small$i exited $?"
	files+=("/b/small$i")
done
metad_stop
fsck_expect 0 "the undamaged cluster"
pages=$(sed -n 's/^\([0-9]*\) pages .*/\1/p' "$T/fsck.out")
say "the tree has $pages pages"
[ "${pages:-0}" -ge 2 ] || fail "the tree has only ${pages:-0} page(s); the test needs more"
check_all
gen0=$(generation)
[ -n "$gen0" ] || fail "status shows no generation"
say "generation $gen0"
save_drives

# ---- (a) one mirror copy of every page is garbage ----

# Copy c of page p is on drive (3p + c) % 6: drives 0 and 3 hold every
# first copy, so damaging them makes every read take another mirror.
drives_a="0 3"
[ "$AGORA_LONG" = 1 ] && drives_a="0 1 2 3 4 5"
for d in $drives_a; do
	step "(a) the metadata page copies of drive $d are garbage"
	restore_drives
	trash_pages "$T/d$d"
	fsck_expect 1 "page copies of drive $d trashed"
	grep -q '^DAMAGE: page .*mirrors are corrupt' "$T/fsck.out" ||
		fail "fsck does not report the bad page copies"
	check_all
	[ "$(generation)" = "$gen0" ] || fail "the generation moved"
done

step "(a) agora-metad runs on the damaged drive; new puts work"
metad_start
mkdata "$T/src/_a_new" 300000 random
ag put "$T/src/_a_new" /a/new || fail "put on a damaged cluster exited $?"
ag put "$T/src/_a_random2" /a/gone || fail "put on a damaged cluster exited $?"
ag rm /a/gone || fail "rm on a damaged cluster exited $?"
metad_stop
files+=(/a/new)
check_all
unset 'files[-1]'
expect_fail "get of the removed file" "/a/gone: No such file or directory" ag get /a/gone "$T/x"
rc=0
ag fsck >"$T/fsck.out" 2>&1 || rc=$?
[ "$rc" -le 1 ] || fail "fsck after new commits on a damaged drive exited $rc"

# ---- (b) commit records ----

# A record lies on the 3 drives of its commit's lane (agora-format(5)):
# holders are the drives whose newest record is the newest generation.
restore_drives
holders=()
for ((d = 0; d < NDRIVES; d++)); do
	read -r g _ < <(newest_commit "$T/d$d") || fail "d$d: no commit record"
	[ "$g" = "$gen0" ] && holders+=("$d")
done
say "generation $gen0 is recorded on drives ${holders[*]}"
[ "${#holders[@]}" -ge 3 ] || fail "generation $gen0 is on fewer than 3 drives"
keep=${holders[-1]}

step "(b) the newest commit record of one drive is garbage"
restore_drives
g=$(trash_newest_commit "$T/d${holders[0]}")
[ "$g" = "$gen0" ] || fail "drive ${holders[0]}'s newest record is $g, status said $gen0"
[ "$(generation)" = "$gen0" ] ||
	fail "generation is $(generation), not $gen0, with one bad commit record"
check_all
fsck_expect 1 "one bad copy of the current commit record"
grep -q "^DAMAGE: drive ${holders[0]}: ring slot $((gen0 % 16)) holds a damaged commit record" \
	"$T/fsck.out" || fail "fsck does not name the damaged copy on drive ${holders[0]}"

for d in "${holders[@]}"; do
	step "(b) one byte of the current commit record flipped on drive $d"
	restore_drives
	flip "$T/d$d" $((4096 + (gen0 % 16) * 4096 + 1000 + RANDOM % 3000))
	[ "$(generation)" = "$gen0" ] || fail "generation moved with one flipped copy"
	fsck_expect 1 "a flipped copy of the current record on drive $d"
	grep -q "^DAMAGE: drive $d: the copy of commit record $gen0 in ring slot $((gen0 % 16)) is damaged" \
		"$T/fsck.out" || fail "fsck does not report the flipped copy on drive $d"
	[ "$(grep -c '^DAMAGE' "$T/fsck.out")" -eq 1 ] ||
		fail "fsck reports more than the one flipped copy"
done

# old_copies SLOT: the drives whose ring slot SLOT holds a record.
old_copies() {
	local d
	for ((d = 0; d < NDRIVES; d++)); do
		python3 -c '
import sys
with open(sys.argv[1], "rb") as f:
    f.seek(4096 + int(sys.argv[2]) * 4096)
    sys.exit(0 if f.read(8) == b"AGORACMT" else 1)' "$T/d$d" "$1" && echo "$d"
	done
	return 0 # the last drive holding no such record is no failure
}

step "(b) an older record in the next generation's slot damaged: no loss"
restore_drives
next=$(((gen0 + 1) % 16))
olds=$(old_copies "$next")
[ -n "$olds" ] || fail "no drive holds a record in slot $next"
for d in $olds; do
	flip "$T/d$d" $((4096 + next * 4096 + 1500))
done
[ "$(generation)" = "$gen0" ] || fail "generation moved with an old record damaged"
fsck_expect 1 "damaged copies of an old record"
grep -q "^DAMAGE: generation" "$T/fsck.out" && fail "fsck takes an old damaged record for a lost one"
metad_start
metad_stop

step "(b) an older record in that slot whose generation now says $((gen0 + 1)): no loss"
restore_drives
for d in $olds; do
	# one flipped bit (4, as 16 generations apart) would do the same
	python3 -c '
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    f.write(struct.pack("<Q", int(sys.argv[3])))' "$T/d$d" $((4096 + next * 4096 + 8)) $((gen0 + 1))
done
grep -q "the copy of commit record $((gen0 + 1)) in ring slot $next is damaged" \
	<(ag fsck 2>/dev/null) || fail "fsck does not read the flipped generation $((gen0 + 1))"
[ "$(generation)" = "$gen0" ] || fail "generation moved with an old record's generation flipped"
ag status >/dev/null 2>&1 || fail "status takes an old record with a flipped generation for a lost commit"
metad_start
metad_stop

step "(b) the newest commit record survives on one drive only"
restore_drives
for d in "${holders[@]}"; do
	[ "$d" = "$keep" ] && continue
	g=$(trash_newest_commit "$T/d$d")
	[ "$g" = "$gen0" ] || fail "drive $d's newest record is $g, not $gen0"
done
[ "$(generation)" = "$gen0" ] ||
	fail "generation is $(generation), not $gen0, with one good newest record"
check_all
fsck_expect 1 "a good newest commit record on one drive"
[ "$(grep -c "^DAMAGE: drive .* ring slot $((gen0 % 16)) holds a damaged" "$T/fsck.out")" -eq \
	$((${#holders[@]} - 1)) ] || fail "fsck does not report every damaged copy"

step "(b) the newest commit record is garbage everywhere: corruption, not a torn commit"
trash_newest_commit "$T/d$keep" >/dev/null
prev=$((gen0 - 1))
[ "$(generation)" = "$prev" ] ||
	fail "generation is $(generation), not $prev, with the newest record gone"
lost_expect "$gen0" record

step "(b) one byte flipped in every copy of the newest commit record"
restore_drives
for d in "${holders[@]}"; do
	flip "$T/d$d" $((4096 + (gen0 % 16) * 4096 + 2000))
done
lost_expect "$gen0" record

step "(b) a page of the newest root flipped on every mirror"
restore_drives
while read -r drive off; do
	flip "$drive" $((off + 3000))
done < <(root_copies "$T/d$keep")
lost_expect "$gen0" pages

step "(b) the newest commit's slot zeroed everywhere (never written): one step back"
restore_drives
for d in "${holders[@]}"; do
	zero "$T/d$d" $((4096 + (gen0 % 16) * 4096)) 4096
done
[ "$(generation)" = "$prev" ] || fail "generation is $(generation), not $prev"
fsck_expect 0 "a torn newest commit (its record never written)"

step "(b) the newest root's page zeroed on every mirror (never written): one step back"
restore_drives
while read -r drive off; do
	zero "$drive" "$off" 4096
done < <(root_copies "$T/d$keep")
[ "$(generation)" = "$prev" ] || fail "generation is $(generation), not $prev"
fsck_expect 0 "a torn newest commit (a page never written)"
metad_start
metad_stop

step "(b) agora-metad --accept-rollback serves the previous generation"
restore_drives
trash_newest_commit "$T/d$keep" >/dev/null
for d in "${holders[@]}"; do
	[ "$d" = "$keep" ] && continue
	trash_newest_commit "$T/d$d" >/dev/null
done
rm -f "$PIDFILE"
timeout "$AGORA_TIMEOUT" "$METAD" -c "$CONF" -d -p "$PIDFILE" --accept-rollback ||
	fail "agora-metad --accept-rollback exited $?"
METAD_PID=$(cat "$PIDFILE")
started_pids+=("$METAD_PID")
grep -q "accept-rollback: serving generation $prev, losing generation $gen0 (generation $gen0 is damaged" \
	"$T/metad.log" || fail "agora-metad does not say what it lost: $(tail -n 2 "$T/metad.log")"
g=$(generation)
[ "$g" -gt "$gen0" ] || fail "generation $g after the accepted rollback is not past $gen0"
ag status >/dev/null || fail "status after the accepted rollback exited $?"
# the last commits of the fill were the puts of /b/small*, their
# segment releases and nothing else; the previous generation still
# holds every file but perhaps the very last one
last=${files[-1]}
for f in "${files[@]}"; do
	[ "$f" = "$last" ] && continue
	same "$T/src/${f//\//_}" "$f"
done
if ag get "$last" "$T/got" 2>/dev/null; then
	cmp -s "$T/src/${last//\//_}" "$T/got" ||
		fail "$last is present at generation $prev but not whole"
fi
ag put "$T/src/_a_random1" /a/after-revert || fail "put after the revert exited $?"
same "$T/src/_a_random1" /a/after-revert
metad_stop
fsck_expect 0 "new commits after the revert"
metad_start
metad_stop

# ---- (c) labels ----

step "(c) a damaged label: the drive is missing, the cluster degraded"
restore_drives
garble "$T/d5" 20 4 # inside the uuid: the label checksum fails
ag status >"$T/status.out" 2>"$T/status.err" || fail "status exited $?"
grep -E '^ +5 ' "$T/status.out" | grep -q ' ok ' &&
	fail "status shows the drive with a damaged label as ok"
grep -qi 'label' "$T/status.err" || fail "no message about the label of d5"
check_all
fsck_expect 1 "a damaged label"

step "(c) a zeroed label: the drive is missing, the cluster degraded"
restore_drives
zero_label "$T/d4"
ag status >"$T/status.out" 2>"$T/status.err" || fail "status exited $?"
sed 's/^/#   /' "$T/status.err"
grep -E '^ +4 ' "$T/status.out" | grep -q MISSING ||
	fail "status does not show drive 4 as MISSING: $(grep -E '^ +4 ' "$T/status.out")"
[ "$(grep -c ' ok ' "$T/status.out")" -eq 5 ] || fail "status does not show 5 drives ok"
[ "$(generation)" = "$gen0" ] || fail "the generation moved"
check_all
fsck_expect 1 "a zeroed label"
grep -q 'DAMAGE: drive 4 ' "$T/fsck.out" || fail "fsck does not name drive 4"

step "(c) agora-metad and puts work on the degraded cluster"
metad_start
mkdata "$T/src/_a_degraded" 400000 random
ag put "$T/src/_a_degraded" /a/degraded || fail "degraded put exited $?"
files+=(/a/degraded)
metad_stop
check_all

step "(c) two zeroed labels (m = 2): still readable"
zero_label "$T/d1"
check_all

step "(c) three zeroed labels: the cluster refuses to open"
zero_label "$T/d2"
for cmd in "get /a/random1 $T/x" "ls /a" "status" "stat /a/random1" \
	"put $T/src/_a_random1 /a/nope" "mkdir /nope"; do
	rc=0
	# shellcheck disable=SC2086 # word splitting wanted
	ag $cmd >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "$cmd with 3 of 6 drives missing exited $rc, not 2"
	grep -q 'missing' "$T/err" ||
		fail "$cmd: no message saying drives are missing: $(tail -n 1 "$T/err")"
done
say "message: $(grep -i 'missing;' "$T/err" | sed -n "1,1p")"
fsck_expect 2 "three missing drives"
rc=0
timeout "$AGORA_TIMEOUT" "$METAD" -c "$CONF" -d -p "$T/m3.pid" 2>/dev/null || rc=$?
if [ -s "$T/m3.pid" ] && kill -0 "$(cat "$T/m3.pid")" 2>/dev/null; then
	started_pids+=("$(cat "$T/m3.pid")")
	fail "agora-metad started with 3 of 6 drives missing"
fi
[ "$rc" -ne 0 ] || fail "agora-metad -d exited 0 with 3 of 6 drives missing"

echo "PASS: $steps steps"
