#!/bin/bash
# test/integ/badinput.sh - what must be refused, and what must survive:
# bad configuration files, bad command lines, a second agora-metad on the
# same drives, requests that make no sense, names too long or with dot
# parts (refused, changing nothing), and damaged drives (missing,
# wiped, corrupted) that the erasure code and the page mirrors must ride
# out while fsck reports them.
. "$(dirname "$0")/lib.sh"

write_conf
failed=()
# check_failed MESSAGE: a failure that does not stop the test.
check_failed() {
	printf 'FAIL (continuing): %s\n' "$*"
	failed+=("$*")
}

step "configuration errors name file:line"
bad=$T/bad.conf
{ head -n 4 "$CONF"; echo "no_such_key = 1"; tail -n +5 "$CONF"; } >"$bad"
expect_fail "unknown key" "bad.conf:5: unknown key .no_such_key." "$AGORA" -c "$bad" status
sed 's/^ec = .*/ec = four+two/' "$CONF" >"$bad"
expect_fail "unparsable ec" "bad.conf:4: bad value for ec" "$AGORA" -c "$bad" mkfs
sed 's/^drive_size = .*/drive_size = 12Q/' "$CONF" >"$bad"
expect_fail "unparsable size" "bad.conf:5: bad value for drive_size" "$AGORA" -c "$bad" mkfs
expect_fail "missing config file" "none.conf: No such file or directory" "$AGORA" -c "$T/none.conf" status
sed 's/^ec = .*/ec = 5+2/' "$CONF" >"$bad"
expect_fail "k+m larger than the drive count" "ec 5\+2 needs 7 drives, the config has 6" "$AGORA" -c "$bad" mkfs
sed "s|^drives = .*|drives = $T/x0,$T/x1|" "$CONF" >"$bad"
expect_fail "two drives" "needs at least 3 drives, the config has 2" "$AGORA" -c "$bad" mkfs

step "command line errors"
expect_fail "no -c" "^usage: agora -c CONFIG" "$AGORA" status
expect_fail "no command" "^usage: agora -c CONFIG" ag
expect_fail "unknown command" "unknown command .frobnicate." ag frobnicate
expect_fail "put without arguments" "^usage: agora -c CONFIG put" ag put
expect_fail "get with one argument" "^usage: agora -c CONFIG get" ag get /x

step "fsck that cannot run exits 2"
rc=0
"$AGORA" -c "$T/none.conf" fsck >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "fsck with a missing config exited $rc, not 2"
rc=0
ag fsck >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "fsck of an unformatted cluster exited $rc, not 2"

step "one agora-metad per cluster"
ag mkfs || fail "mkfs exited $?"
metad_start
other=$T/other.conf
sed -e "s|unix:$T/metad.sock|unix:$T/other.sock|" \
	-e "s|^pidfile = .*|pidfile = $T/other.pid|" \
	-e "s|^log = .*|log = $T/other.log|" "$CONF" >"$other"
expect_fail "a second agora-metad" "exit 1" \
	timeout "$AGORA_TIMEOUT" "$METAD" -c "$other" -d -p "$T/other.pid"
grep -q "another agora-metad already serves" "$T/other.log" ||
	fail "a second agora-metad does not say why it stops: $(tail -n 2 "$T/other.log")"
if [ -s "$T/other.pid" ] && kill -0 "$(cat "$T/other.pid")" 2>/dev/null; then
	started_pids+=("$(cat "$T/other.pid")")
	fail "a second agora-metad is running"
fi

step "requests that make no sense"
mkdata "$T/small" 5000 text
ag put "$T/small" /b/file || fail "put exited $?"
expect_fail "get of a missing file" "/b/missing: No such file or directory" ag get /b/missing "$T/x"
expect_fail "put under a file" "/b/file/below: Not a directory" ag put "$T/small" /b/file/below
expect_fail "mkdir over a file" "/b/file: Not a directory" ag mkdir /b/file
expect_fail "rm of a missing path" "/b/missing: No such file or directory" ag rm /b/missing
expect_fail "put of a missing local file" "no-such-file: No such file or directory" ag put "$T/no-such-file" /b/x
expect_fail "ls of a missing directory" "/nothing: No such file or directory" ag ls /nothing
same "$T/small" /b/file

step "names: 255 bytes are fine, 256 are too long, no . or .. parts"
n255=$(printf 'n%.0s' $(seq 255))
n256=${n255}x
ag put "$T/small" "/b/$n255" || fail "put of a 255-byte name exited $?"
same "$T/small" "/b/$n255"
expect_fail "mkdir of a 256-byte name" "File name too long" ag mkdir "/b/d$n255"
ag mkdir "/b/${n255:1}d" || fail "mkdir of a 255-byte name exited $?"
ag ls "/b/${n255:1}d" >/dev/null || fail "ls of a 255-byte directory name exited $?"
ag ls /b | grep -qx "$n255" || fail "ls /b does not show the 255-byte name"
for path in "/b/$n256" "/$n256/file" "/b/$n256/file" "/e/f/$n256/g"; do
	short=${path//$n256/NAME256}
	for cmd in "put $T/small $path" "get $path $T/x" "mkdir $path" "ls $path" \
		"stat $path" "rm $path"; do
		# shellcheck disable=SC2086 # word splitting wanted
		expect_fail "${cmd%% *} $short" "File name too long" ag $cmd
	done
done
say "a 256-byte name: $(head -n 1 "$T/err" | sed "s/$n256/NAME256/")"
for path in /b/.. /b/../b/file /b/./file /b/x/../file /.. /b/. /./b/file; do
	for cmd in "put $T/small $path" "get $path $T/x" "mkdir $path" "ls $path" \
		"stat $path" "rm $path"; do
		# shellcheck disable=SC2086 # word splitting wanted
		expect_fail "${cmd%% *} $path" "$path: Invalid argument" ag $cmd
	done
done
say "a dot part: $(head -n 1 "$T/err")"
# a refused path changes nothing, not even the parents before the bad part
ag ls /b | sort >"$T/ls"
printf '%s\n' "${n255:1}d" "$n255" file | sort >"$T/ls.want"
extra=$(comm -13 "$T/ls.want" "$T/ls" | tr '\n' ' ')
[ -z "$extra" ] || check_failed "refused put/mkdir left directories in /b: $extra"
[ -z "$(comm -23 "$T/ls.want" "$T/ls")" ] || fail "entries of /b went missing"
extra=$(ag ls / | grep -vx b | tr '\n' ' ' || true)
[ -z "$extra" ] || check_failed "refused put/mkdir left directories in /: $extra"
same "$T/small" /b/file

step "data survives lost and damaged drives"
mkdata "$T/random" $((6 << 20)) random
mkdata "$T/text" $((2 << 20)) text
ag put "$T/random" /b/random || fail "put exited $?"
ag put "$T/text" /b/text || fail "put exited $?"
metad_stop
ag fsck || fail "fsck before any damage exited $?"

# a missing drive (not drive 0, which carries metad's lock)
mv "$T/d5" "$T/d5.gone"
same "$T/random" /b/random
same "$T/text" /b/text
rc=0
ag fsck >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "fsck with a missing drive exited $rc, not 1"
mv "$T/d5.gone" "$T/d5"
ag fsck || fail "fsck with the drive back exited $?"

# two wiped drives: m = 2 parity strips and 3 page copies are enough
for d in d4 d2; do
	truncate -s 0 "$T/$d"
	truncate -s 256M "$T/$d"
done
same "$T/random" /b/random
same "$T/text" /b/text
ag ls /b >/dev/null || fail "ls with two wiped drives exited $?"
rc=0
ag fsck >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "fsck with two wiped drives exited $rc, not 1"

step "garbage written over one drive's used blocks"
ag mkfs --force || fail "mkfs --force exited $?"
metad_start
ag put "$T/random" /c/random || fail "put exited $?"
ag put "$T/text" /c/text || fail "put exited $?"
metad_stop
# Overwrite every 7th used 4 KiB block past the commit ring of drive 3.
python3 - "$T/d3" <<'PY' || fail "found no used block to corrupt on $T/d3"
import os, random, sys
path = sys.argv[1]
rng = random.Random(42)
hit = 0
with open(path, "r+b") as f:
    size = os.fstat(f.fileno()).st_size
    off, n = 1 << 20, 0
    while off < size:
        f.seek(off)
        block = f.read(4096)
        if block.strip(b"\0"):
            n += 1
            if n % 7 == 1:
                f.seek(off)
                f.write(rng.randbytes(4096))
                hit += 1
        off += 4096
print("# overwrote %d used blocks" % hit)
if hit == 0:
    sys.exit(1)
PY
same "$T/random" /c/random
same "$T/text" /c/text
rc=0
ag fsck >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "fsck with a corrupted drive exited $rc, not 1"

[ "${#failed[@]}" -eq 0 ] || fail "${#failed[@]} check(s) failed: ${failed[*]}"
echo "PASS: $steps steps"
