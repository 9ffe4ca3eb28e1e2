#!/bin/bash
# test/integ/foreign.sh - drives that are not what the configuration says:
# a drive of another cluster in the list (foreign: ignored, the cluster
# runs degraded, the other cluster is never written), up to m of them
# tolerated and m + 1 refused; mkfs refusing another cluster's drive; and
# the same drive file named twice in the list. agora.conf(5) is silent
# on duplicates, so a duplicate must be named in a message ("duplicate")
# and must never make a read return wrong data. Checks that fail are
# collected and reported together at the end.
. "$(dirname "$0")/lib.sh"

write_conf
failed=()
# check_failed MESSAGE: a failure that does not stop the test.
check_failed() {
	printf 'FAIL (continuing): %s\n' "$*"
	failed+=("$*")
}

# conf_with FILE SED-EXPRESSION: a copy of A's config with its drive list
# edited.
conf_with() {
	sed "/^drives = /s|$2|" "$CONF" >"$1"
}

# reads_right [CONFIG]: every file of A reads back byte-equal and the
# directories list, through CONFIG (default: A's own).
reads_right() {
	local cf=${1:-$CONF} f got=$T/got
	for f in a1 a2 a3; do
		rm -f "$got"
		timeout "$AGORA_TIMEOUT" "$AGORA" -c "$cf" get "/a/$f" "$got" \
			2>>"$T/reads.err" || fail "get /a/$f via ${cf##*/} exited $?"
		cmp -s "$T/$f" "$got" || fail "get /a/$f via ${cf##*/} returned wrong data"
	done
	timeout "$AGORA_TIMEOUT" "$AGORA" -c "$cf" ls /a >"$T/ls" \
		2>>"$T/reads.err" || fail "ls /a via ${cf##*/} exited $?"
	[ "$(sort "$T/ls" | tr '\n' ' ')" = "$A_FILES" ] ||
		fail "ls /a via ${cf##*/} shows: $(tr '\n' ' ' <"$T/ls")"
}

# status_of CONFIG: status into $T/status.out and .err; must exit 0.
status_of() {
	timeout "$AGORA_TIMEOUT" "$AGORA" -c "$1" status >"$T/status.out" \
		2>"$T/status.err" || fail "status via ${1##*/} exited $?"
}
# drive_row N: status's line for drive N.
drive_row() { grep -E "^ +$1 " "$T/status.out"; }

step "cluster A with files"
ag mkfs >/dev/null || fail "mkfs A exited $?"
metad_start
mkdata "$T/a1" $((3 << 20)) random
mkdata "$T/a2" 150000 text
mkdata "$T/a3" 777 random
for f in a1 a2 a3; do
	ag put "$T/$f" "/a/$f" || fail "put /a/$f exited $?"
done
A_FILES="a1 a2 a3 "
metad_stop
A_UUID=$(ag status | awk '$1 == "cluster" { print $2 }')
reads_right

step "cluster B, formatted on its own drives, with a file of its own"
mkdir "$T/B"
BCONF=$T/B.conf
sed -e "/^drives = /s|$T/d|$T/B/d|g" -e "s|$T/metad.sock|$T/B.sock|" \
	-e "s|^pidfile = .*|pidfile = $T/B.pid|" \
	-e "s|^log = .*|log = $T/B.log|" "$CONF" >"$BCONF"
timeout "$AGORA_TIMEOUT" "$AGORA" -c "$BCONF" mkfs >/dev/null || fail "mkfs B exited $?"
timeout "$AGORA_TIMEOUT" "$METAD" -c "$BCONF" -d -p "$T/B.pid" || fail "metad B exited $?"
bpid=$(cat "$T/B.pid")
started_pids+=("$bpid")
mkdata "$T/b1" 500000 random
timeout "$AGORA_TIMEOUT" "$AGORA" -c "$BCONF" put "$T/b1" /bee/b1 || fail "put into B exited $?"
kill -TERM "$bpid"
wait_gone "$bpid" 20 || fail "metad B ignored SIGTERM"
B_UUID=$(timeout "$AGORA_TIMEOUT" "$AGORA" -c "$BCONF" status | awk '$1 == "cluster" { print $2 }')
[ "$A_UUID" != "$B_UUID" ] || fail "A and B have the same uuid $A_UUID"
for ((i = 0; i < NDRIVES; i++)); do
	sha256sum <"$T/B/d$i" >"$T/B/d$i.sha"
done

step "a drive of B in A's config: foreign, ignored, A degraded but whole"
conf_with "$T/A-foreign3.conf" "$T/d3,|$T/B/d3,"
status_of "$T/A-foreign3.conf"
sed 's/^/#   /' "$T/status.err"
grep -q "$T/B/d3.*another cluster" "$T/status.err" ||
	fail "no message that $T/B/d3 belongs to another cluster"
drive_row 3 | grep -q ' ok ' && fail "status shows the foreign drive as ok"
say "status: $(drive_row 3)"
[ "$(grep -cE '^ +[0-9]+ ok ' "$T/status.out")" -eq 5 ] || fail "status does not show 5 drives ok"
grep -q "^cluster *$A_UUID" "$T/status.out" || fail "status shows another cluster than A"
reads_right "$T/A-foreign3.conf"
rc=0
timeout "$AGORA_TIMEOUT" "$AGORA" -c "$T/A-foreign3.conf" fsck >"$T/fsck.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "fsck with a foreign drive exited $rc, not 1"
grep -q 'DAMAGE: drive 3 ' "$T/fsck.out" || fail "fsck does not name drive 3"

step "agora-metad on A's config with the foreign drive: puts work, B untouched"
CONF_A=$CONF
CONF=$T/A-foreign3.conf
metad_start
mkdata "$T/a4" 400000 random
ag put "$T/a4" /a/a4 2>>"$T/reads.err" || fail "degraded put exited $?"
A_FILES="a1 a2 a3 a4 "
same "$T/a4" /a/a4 2>>"$T/reads.err"
metad_stop
CONF=$CONF_A
for ((i = 0; i < NDRIVES; i++)); do
	sha256sum <"$T/B/d$i" | cmp -s - "$T/B/d$i.sha" ||
		fail "drive $i of cluster B was written while it was foreign to A"
done
timeout "$AGORA_TIMEOUT" "$AGORA" -c "$BCONF" fsck >"$T/fsck.out" 2>&1 ||
	fail "fsck of B exited $?"
timeout "$AGORA_TIMEOUT" "$AGORA" -c "$BCONF" get /bee/b1 "$T/got" || fail "get from B exited $?"
cmp -s "$T/b1" "$T/got" || fail "B's file changed"

step "A's own drives again: everything reads, the degraded write too"
reads_right
same "$T/a4" /a/a4 2>>"$T/reads.err"
rc=0
ag fsck >"$T/fsck.out" 2>&1 || rc=$?
# drive 3 missed the degraded writes: damage is possible, not a failure
[ "$rc" -le 1 ] || fail "fsck exited $rc"

step "a foreign drive in place of drive 0 (metad's lock drive)"
conf_with "$T/A-foreign0.conf" "$T/d0,|$T/B/d0,"
reads_right "$T/A-foreign0.conf"

step "two foreign drives (m = 2): degraded but whole; three: refused"
conf_with "$T/A-foreign2.conf" "$T/d1,\\(.*\\)$T/d4,|$T/B/d1,\\1$T/B/d4,"
status_of "$T/A-foreign2.conf"
[ "$(grep -cE '^ +[0-9]+ ok ' "$T/status.out")" -eq 4 ] || fail "status does not show 4 drives ok"
reads_right "$T/A-foreign2.conf"
conf_with "$T/A-foreign3x.conf" "$T/d1,\\(.*\\)$T/d3,\\(.*\\)$T/d5|$T/B/d1,\\1$T/B/d3,\\2$T/B/d5"
[ "$(grep -o "$T/B/d" "$T/A-foreign3x.conf" | wc -l)" -eq 3 ] || fail "the config does not name three drives of B"
for cmd in "get /a/a1 $T/x" "ls /a" status fsck; do
	rc=0
	# shellcheck disable=SC2086 # word splitting wanted
	timeout "$AGORA_TIMEOUT" "$AGORA" -c "$T/A-foreign3x.conf" $cmd \
		>"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "$cmd with three foreign drives exited $rc, not 2"
	grep -q 'missing' "$T/err" || fail "$cmd: no message about missing drives"
done
say "message: $(grep 'missing;' "$T/err" | sed -n "1,1p")"

step "mkfs refuses a drive of another cluster without --force"
sha256sum <"$T/d2" >"$T/d2.sha"
mkdir "$T/N"
sed -e "/^drives = /s|$T/B/d|$T/N/d|g" -e "/^drives = /s|$T/N/d2,|$T/d2,|" \
	"$BCONF" >"$T/N-with-A2.conf"
expect_fail "mkfs over a drive of another cluster" "d2 already holds an Agora label" \
	timeout "$AGORA_TIMEOUT" "$AGORA" -c "$T/N-with-A2.conf" mkfs
grep -q "$T/d2 already holds an Agora label" "$T/err" || fail "mkfs does not say why"
sha256sum <"$T/d2" | cmp -s - "$T/d2.sha" || fail "the refused mkfs changed A's drive 2"
for f in "$T"/N/d*; do
	[ "$(head -c 8 "$f")" != AGORADRV ] || fail "the refused mkfs labelled $f"
done
reads_right

step "the same drive twice in the config, in place of another"
conf_with "$T/A-dup.conf" "$T/d5|$T/d4"
status_of "$T/A-dup.conf"
sed 's/^/#   /' "$T/status.err"
grep -qi duplicate "$T/status.err" || fail "no message about the duplicate drive"
[ "$(grep -cE '^ +[0-9]+ ok ' "$T/status.out")" -eq 5 ] ||
	fail "status does not show 5 drives ok (one is a duplicate)"
reads_right "$T/A-dup.conf"
rc=0
timeout "$AGORA_TIMEOUT" "$AGORA" -c "$T/A-dup.conf" fsck >"$T/fsck.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "fsck with a duplicate instead of drive 5 exited $rc, not 1"

step "the same drive twice, once more than the cluster has"
sed "/^drives = /s|\$|,$T/d4|" "$CONF" >"$T/A-dup7.conf"
status_of "$T/A-dup7.conf"
grep -qi duplicate "$T/status.err" || fail "no message about the duplicate drive"
reads_right "$T/A-dup7.conf"

step "the same drive under two names (a symbolic link)"
ln -s "$T/d2" "$T/d2-alias"
conf_with "$T/A-alias.conf" "$T/d5|$T/d2-alias"
status_of "$T/A-alias.conf"
grep -qi duplicate "$T/status.err" || fail "no message about the aliased drive"
reads_right "$T/A-alias.conf"

step "agora-metad on a config with a duplicate: puts work, nothing is lost"
CONF=$T/A-dup.conf
metad_start
mkdata "$T/a5" 300000 random
ag put "$T/a5" /a/a5 2>>"$T/reads.err" || fail "put with a duplicate drive exited $?"
metad_stop
CONF=$CONF_A
A_FILES="a1 a2 a3 a4 a5 "
reads_right
same "$T/a5" /a/a5 2>>"$T/reads.err"

# Known problems: these checks go last so that everything above runs.
step "mkfs refuses a config that names one drive twice"
mkdir "$T/M"
sed -e "/^drives = /s|$T/d|$T/M/d|g" -e "/^drives = /s|$T/M/d5|$T/M/d4|" \
	"$CONF" >"$T/M-dup.conf"
rc=0
timeout "$AGORA_TIMEOUT" "$AGORA" -c "$T/M-dup.conf" mkfs >"$T/out" 2>"$T/err" || rc=$?
sed 's/^/#   /' "$T/out" "$T/err"
if [ "$rc" -eq 0 ]; then
	check_failed "mkfs with $T/M/d4 listed twice exited 0 (the cluster it made has" \
		"only $(find "$T/M" -type f | wc -l) drive files for 6 drives)"
elif ! grep -Eqi 'duplicate|same drive' "$T/err"; then
	check_failed "mkfs with a drive listed twice failed without saying why: $(cat "$T/err")"
fi
for f in "$T"/M/d*; do
	[ "$(head -c 8 "$f")" != AGORADRV ] || check_failed "the refused mkfs labelled $f"
done

step "status names a foreign drive as such (agora(8): 'a bad or foreign label')"
status_of "$T/A-foreign3.conf"
drive_row 3 | grep -q FOREIGN ||
	check_failed "status shows the drive of another cluster as: $(drive_row 3)"

[ "${#failed[@]}" -eq 0 ] || fail "${#failed[@]} check(s) failed: ${failed[*]}"
echo "PASS: $steps steps"
