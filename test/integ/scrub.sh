#!/bin/bash
# test/integ/scrub.sh - agora scrub beside a running agora-metad: a few
# hundred files, then 40 faults (200 with AGORA_LONG=1; AGORA_SEED=N
# places them again) at known live places: bit flips and 4 KiB overwrites
# in metadata page copies, at most 2 of the 3 of a page; in commit record
# copies, one of a record's, whole blocks from byte 0 too (zeros there
# look like a slot never written); in data strips, at most m of a stripe;
# in mirrored stripes, one copy of a block group. scrub must find every
# one (exit 1), scrub --repair must rewrite every one (exit 0), then
# scrub is clean, fsck is clean and every file reads back byte-equal;
# then agora scrub --watch repairs a second round by itself.
. "$(dirname "$0")/lib.sh"

faults=40 nsmall=200 nlarge=8
[ "$AGORA_LONG" = 1 ] && faults=200 nsmall=400 nlarge=16

write_conf
step "format and start agora-metad"
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start

step "put small and large files"
mkdir -p "$T/src"
files=()
ag mkdir /s || fail "mkdir exited $?"
for ((i = 0; i < nsmall; i++)); do
	mkdata "$T/src/s$i" $((RANDOM % 20000 + 1)) random
	files+=("/s/f$i")
done
for ((i = 0; i < nlarge; i++)); do
	mkdata "$T/src/l$i" $(((i % 8 + 1) * 1000000 + RANDOM)) random
	files+=("/l$i")
done
for ((i = 0; i < nsmall; i++)); do
	ag put "$T/src/s$i" "/s/f$i" || fail "put /s/f$i exited $?"
done
for ((i = 0; i < nlarge; i++)); do
	ag put "$T/src/l$i" "/l$i" || fail "put /l$i exited $?"
done

step "scrub a clean cluster"
rc=0
ag scrub >"$T/scrub0.out" || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/scrub0.out"; fail "scrub of a clean cluster exited $rc"; }
sed 's/^/#   /' "$T/scrub0.out"

# inject: damage live copies, print "PAGES RECORDS STRIPS MIRRORED" (copies
# hit), then the live pages and erasure-coded stripes there were.
inject() {
	python3 - "$T" "$NDRIVES" "$faults" "${AGORA_SEED:-}" <<'PY'
import os, random, struct, sys
top, n, faults = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seed = int(sys.argv[4]) if sys.argv[4] else int.from_bytes(os.urandom(4), "little")
sys.stderr.write("# faults placed with AGORA_SEED=%d\n" % seed)
rng = random.Random(seed)
drives = ["%s/d%d" % (top, i) for i in range(n)]
fs = [open(p, "r+b") for p in drives]
def rd(d, off, ln):
    fs[d].seek(off)
    return fs[d].read(ln)
def wr(d, off, b):
    fs[d].seek(off)
    fs[d].write(b)
label = rd(0, 0, 4096)
k, m, psize, strip = struct.unpack_from("<IIII", label, 36)
segsize = struct.unpack_from("<Q", label, 56)[0]
w = k + m
def damage(d, off, ln, lo=0):
    """a bit flip or a random overwrite of [off + lo, off + ln)"""
    if rng.random() < 0.5:
        at = off + rng.randrange(lo, ln)
        b = rd(d, at, 1)[0]
        wr(d, at, bytes([b ^ (1 << rng.randrange(8))]))
    else:
        wr(d, off + lo, os.urandom(ln - lo))
# the rings: copies of each generation
recs = {}
for d in range(n):
    for s in range(16):
        b = rd(d, 4096 + s * 4096, 4096)
        if b[:8] == b"AGORACMT":
            g, root = struct.unpack_from("<QQ", b, 8)
            recs.setdefault(g, []).append((d, s, root))
newest = max(recs)
root = recs[newest][0][2]
def place(addr, c):
    seg, slot = addr >> 32, (addr & 0xffff) * 3 + c
    return slot % n, (1 << 20) + seg * segsize + (slot // n) * psize
# walk the newest tree from its root
pages, stripes, mirrored, todo = [], [], [], [root]
while todo:
    a = todo.pop()
    pages.append(a)
    d, off = place(a, 0)
    p = rd(d, off, psize)
    level, _, nkeys, _, _, plen = struct.unpack_from("<BBHHHH", p, 32)
    prefix = p[42:42 + plen]
    for i in range(nkeys):
        c = struct.unpack_from("<H", p, 42 + plen + 2 * i)[0]
        if level:
            kl, child = struct.unpack_from("<HQ", p, c)
            todo.append(child)
        else:
            sl, vl = struct.unpack_from("<HH", p, c)
            key = prefix + p[c + 4:c + 4 + sl]
            if key[0] == 8 and vl == 4 * w:
                seg, t = struct.unpack_from(">II", key, 1)
                stripes.append((seg, t))
            elif key[0] == 8 and vl == 4:
                seg, t = struct.unpack_from(">II", key, 1)
                nbytes = struct.unpack_from("<I", p, c + 4 + sl)[0]
                if nbytes:
                    mirrored.append((seg, t, nbytes))
# the budget of faults: a tenth in records (at most 8: one copy each of
# the older ones), a tenth in mirrored copies, four tenths in pages, the
# rest in strips (each kind as far as its live copies allow)
want_rec = min(8, max(3, faults // 10))
want_mirr = max(1, faults // 10)
want_pages = max(1, (faults * 4) // 10)
npages = nrec = nstrip = 0
for a in rng.sample(pages, len(pages)):
    if npages >= want_pages:
        break
    for c in rng.sample(range(3), min(rng.randint(1, 2), want_pages - npages)):
        d, off = place(a, c)
        damage(d, off, psize)
        npages += 1
# older records only: the next commits reuse the oldest slots; besides
# damage past the magic, one copy is overwritten from its first byte with
# zeros (it looks like a slot never written) and one with random bytes
gen_hit = False
from_zero = ["zeros", "random"]
for g in [g for g in sorted(recs) if newest - 8 <= g < newest]:
    if len(recs[g]) < 2 or nrec >= want_rec:
        continue
    d, s, _ = rng.choice(recs[g])
    others = [struct.unpack_from("<Q", rd(o, 4096 + s * 4096, 16), 8)[0]
              for o in range(n) if o != d and
              rd(o, 4096 + s * 4096, 8) == b"AGORACMT"]
    if not gen_hit and set(others) == {g}:
        # its generation field: repaired from the one generation every
        # other copy of the slot holds
        at = 4096 + s * 4096 + 8 + rng.randrange(8)
        wr(d, at, bytes([rd(d, at, 1)[0] ^ 0x40]))
        gen_hit = True
        sys.stderr.write("# the generation field of one record copy damaged\n")
    elif from_zero:
        how = from_zero.pop(0)
        wr(d, 4096 + s * 4096,
           bytes(4096) if how == "zeros" else os.urandom(4096))
        sys.stderr.write("# one record copy overwritten with %s from its "
                         "first byte\n" % how)
    else:
        damage(d, 4096 + s * 4096, 4092, 16)
    nrec += 1
# mirrored: one copy of a group (of m + 1), so a majority is left
groups = w // (m + 1)
nmirr = 0
for seg, t, nbytes in rng.sample(mirrored, len(mirrored)):
    for g in rng.sample(range(min(groups, (nbytes + strip - 1) // strip)),
                        min(groups, (nbytes + strip - 1) // strip)):
        if nmirr >= want_mirr:
            break
        ln = min(strip, nbytes - g * strip)
        r = rng.randrange(m + 1)
        j = g if r == 0 else groups + g * m + r - 1
        slot = t * w + j
        damage(slot % n, (1 << 20) + seg * segsize + (slot // n) * strip, ln)
        nmirr += 1
# strips: at most m of a stripe, the rest of the budget
for seg, t in rng.sample(stripes, len(stripes)):
    left = faults - npages - nrec - nmirr - nstrip
    if left <= 0:
        break
    for i in rng.sample(range(w), min(rng.randint(1, m), left)):
        slot = t * w + i
        damage(slot % n, (1 << 20) + seg * segsize + (slot // n) * strip,
               strip)
        nstrip += 1
for f in fs:
    f.flush()
    os.fsync(f.fileno())
print(npages, nrec, nstrip, nmirr, len(pages), len(stripes), newest)
PY
}

# found KIND: bad + missing of KIND in $T/scrub.out; fixed: repaired.
found() { awk -v k="$1" '$1 == k { print $4 + $6 }' "$T/scrub.out"; }
fixed() { awk -v k="$1" '$1 == k { print $8 }' "$T/scrub.out"; }

step "inject faults in live copies"
read -r np nr ns nm lp ls gen < <(inject) || fail "injection failed"
say "damaged $np page copies (of $lp live pages), $nr commit record copies, $ns strips (of $ls stripes), $nm mirrored copies"
[ "$np" -gt 0 ] && [ "$nr" -gt 0 ] && [ "$ns" -gt 0 ] || fail "nothing injected"
[ $((np + nr + ns + nm)) -eq "$faults" ] || fail "$((np + nr + ns + nm)) faults placed, not $faults"

step "scrub finds every fault"
rc=0
ag scrub -v >"$T/scrub.out" 2>&1 || rc=$?
grep -E '^(generation|pages|records|strips|mirrored|read|damage|clean)' "$T/scrub.out" | sed 's/^/#   /'
[ "$rc" -eq 1 ] || fail "scrub exited $rc, not 1"
# a commit of metad's own after the injection (a lapsed lease, a reuse
# round) may replace damaged pages, which are then no longer live
sgen=$(awk '$1 == "generation" { print $2 }' "$T/scrub.out")
if [ "$sgen" = "$gen" ]; then
	[ "$(found pages)" -eq "$np" ] || fail "scrub found $(found pages) page copies, $np damaged"
else
	[ "$(found pages)" -le "$np" ] || fail "scrub found $(found pages) page copies, $np damaged"
	say "generation $gen became $sgen after the injection: $((np - $(found pages))) damaged page copies are no longer live"
	np=$(found pages)
fi
[ "$(found records)" -eq "$nr" ] || fail "scrub found $(found records) record copies, $nr damaged"
[ "$(found strips)" -eq "$ns" ] || fail "scrub found $(found strips) strips, $ns damaged"
[ "$(found mirrored)" -eq "$nm" ] || fail "scrub found $(found mirrored) mirrored copies, $nm damaged"
say "found $((np + nr + ns + nm)) of $((np + nr + ns + nm)) faults still live ($faults placed)"

step "scrub --repair rewrites every fault"
rc=0
ag scrub --repair >"$T/scrub.out" 2>&1 || rc=$?
sed 's/^/#   /' "$T/scrub.out"
[ "$rc" -eq 0 ] || fail "scrub --repair exited $rc"
# every damaged copy still live is repaired; a commit of metad's own
# between the two scrubs (a lapsed lease, a reuse round) may have
# replaced a damaged page or record slot, which is then no longer live
# (the last scrub shows that nothing damaged is left)
repaired_all() { # KIND INJECTED
	local f r sk
	f=$(found "$1") r=$(fixed "$1")
	sk=$(awk '$1 == "skipped" { print $2 }' "$T/scrub.out")
	# a copy rewritten by a commit while it was scrubbed is skipped
	[ "$((r + ${sk:-0}))" -ge "$f" ] || fail "repaired $r $1 of $f found damaged (${sk:-0} skipped)"
	[ "$f" -le "$2" ] || fail "repair found $f $1 damaged, only $2 were"
	[ "$f" -eq "$2" ] || say "$(($2 - f)) damaged $1 were replaced by a commit before the repair"
}
repaired_all pages "$np"
repaired_all records "$nr"
repaired_all strips "$ns"
repaired_all mirrored "$nm"
say "repaired $(($(fixed pages) + $(fixed records) + $(fixed strips) + $(fixed mirrored))) of $((np + nr + ns + nm)) faults"

step "scrub is clean, fsck is clean, every file reads back"
rc=0
ag scrub >"$T/scrub.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/scrub.out"; fail "scrub after repair exited $rc"; }
grep '^read' "$T/scrub.out" | sed 's/^/#   /'
fsck_clean
for f in "${files[@]}"; do
	case $f in
	/s/f*) same "$T/src/s${f#/s/f}" "$f" ;;
	*) same "$T/src/${f#/}" "$f" ;;
	esac
done

step "agora scrub --watch finds and repairs new faults by itself"
read -r np nr ns nm lp ls gen < <(inject) || fail "injection failed"
say "damaged $np page copies, $nr commit record copies, $ns strips, $nm mirrored copies"
printf '[scrub]\ninterval = 1\nrate = 0\n' >>"$CONF"
"$AGORA" -c "$CONF" scrub --watch >"$T/watch.out" 2>&1 &
wpid=$!
started_pids+=("$wpid")
n=300
# a first run repairs (the report ends "clean"), a later one finds nothing
until grep -q '^scrub: generation [0-9]* clean' "$T/watch.out"; do
	n=$((n - 1))
	[ "$n" -gt 0 ] || fail "agora scrub --watch found no clean round within 30 s: $(head -n 8 "$T/watch.out")"
	kill -0 "$wpid" 2>/dev/null || fail "agora scrub --watch exited: $(tail -n 3 "$T/watch.out")"
	sleep 0.1
done
kill "$wpid"
wait "$wpid" 2>/dev/null || true
grep -q '^records .* repaired, 0 unrepairable' "$T/watch.out" ||
	fail "agora scrub --watch repaired nothing: $(head -n 8 "$T/watch.out")"
grep -E '^(pages|records|strips|mirrored)' "$T/watch.out" | sed 's/^/#   /'
rc=0
ag scrub >"$T/scrub.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$T/scrub.out"; fail "scrub after scrub --watch exited $rc"; }
fsck_clean
metad_stop
echo "PASS: $steps steps"
