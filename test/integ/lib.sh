# shellcheck shell=bash
# test/integ/lib.sh - shared setup for the integration tests (sourced).
#
# Each test gets its own temporary directory $T holding a cluster of six
# drive files, a config $CONF, a socket and logs, so tests can run in
# parallel (make -j check). Everything started here is stopped by the EXIT
# trap. On failure the directory is kept and its path printed; AGORA_KEEP=1
# keeps it always.
#
# Environment (set by make check; guessed from the script's place if unset):
#   AGORA_BUILDDIR  top of the build tree (programs in metad/)
#   AGORA_SRCDIR    top of the source tree
#   AGORA_LONG=1    run the long tier: more rounds, more data
#   AGORA_TIMEOUT   seconds any one command may take (default 120)

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${AGORA_SRCDIR:=$(cd "$here/../.." && pwd)}"
: "${AGORA_BUILDDIR:=$AGORA_SRCDIR}"
: "${AGORA_LONG:=0}"
: "${AGORA_TIMEOUT:=120}"

AGORA=$AGORA_BUILDDIR/metad/agora
METAD=$AGORA_BUILDDIR/metad/agora-metad

test_name=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/agora-$test_name.XXXXXX")
CONF=$T/agora.conf
PIDFILE=$T/metad.pid
NDRIVES=6
started_pids=()
started_mounts=()
started_netns=()
steps=0

# Every sanitizer report of a program the test starts (a build with
# --enable-asan or --enable-tsan) goes to a file $T/sanitizer.PID, not to
# the program's stderr, which a daemon may have sent anywhere; cleanup
# fails the test when there is one, and so does expect_fail.
for v in ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS; do
	export "$v=${!v:+${!v}:}log_path=$T/sanitizer"
done
unset v
sanitizer_said='ERROR: (Address|Leak|Thread|Memory)Sanitizer|WARNING: ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer|: runtime error: '
sanitizer_notice='^(==[0-9]+==Unable to get registers from thread [0-9]+\.)?$'

# Messages go to stdout, which the test driver keeps in test/integ/NAME.log.
say() { printf '# %s\n' "$*"; }
step() { steps=$((steps + 1)); printf 'step %d: %s\n' "$steps" "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

# sanitizer_reports: print the start of every sanitizer report made in
# this test so far (the files $T/sanitizer.*, and the logs in $T, for a
# program that chose its own log_path); 1 when there is none.
sanitizer_reports() {
	local f found=1
	for f in "$T"/sanitizer.*; do
		[ -s "$f" ] || continue
		# LeakSanitizer's notice that a thread was exiting as it
		# stopped the world is no finding (one would follow it)
		grep -qvE "$sanitizer_notice" "$f" || continue
		found=0
		printf '%s:\n' "${f##*/}"
		head -n 30 "$f"
	done
	for f in "$T"/*.log; do
		grep -qE "$sanitizer_said" "$f" 2>/dev/null || continue
		found=0
		printf '%s:\n' "${f##*/}"
		grep -E -A 20 "$sanitizer_said" "$f" | head -n 30
	done
	return "$found"
}

cleanup() {
	local rc=$? pid mnt i
	set +e
	for mnt in "${started_mounts[@]}"; do
		mountpoint -q "$mnt" 2>/dev/null && fusermount3 -uz "$mnt"
	done
	# newest first: a gateway finishes its last commits while
	# agora-metad still runs
	for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do
		pid=${started_pids[i]}
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null
		fi
	done
	for mnt in "${started_netns[@]}"; do
		ip netns delete "$mnt" 2>/dev/null
	done
	# the daemons have exited (and run the leak check): any report fails
	if sanitizer_reports >"$T/sanitizer-reports.txt"; then
		printf 'FAIL: a sanitizer report\n'
		sed 's/^/# /' "$T/sanitizer-reports.txt"
		[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for f in "$T"/*.log; do
			[ -s "$f" ] || continue
			say "---- last lines of $f"
			tail -n 30 "$f" | sed 's/^/# /'
		done
		say "test directory kept: $T"
	elif [ "${AGORA_KEEP:-0}" = 1 ]; then
		say "test directory kept: $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$AGORA" ] || fail "$AGORA not built"
[ -x "$METAD" ] || fail "$METAD not built"

# wait_gone PID SECONDS: 0 once PID has exited, 1 if still there.
wait_gone() {
	local pid=$1 n=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
	return 0
}

# write_conf: the test cluster's config in $CONF.
write_conf() {
	local drives="" i
	for ((i = 0; i < NDRIVES; i++)); do
		drives+="${drives:+,}$T/d$i"
	done
	cat >"$CONF" <<CONF
# written by test/integ/lib.sh
[cluster]
drives = $drives
ec = 4+2
drive_size = 256M
metad = unix:$T/metad.sock

[metad]
pidfile = $PIDFILE
log = $T/metad.log
lease_timeout = 3
CONF
}

# ag ARGS...: the agora tool on the test cluster, with a time limit.
ag() { timeout "$AGORA_TIMEOUT" "$AGORA" -c "$CONF" "$@"; }

# expect_fail DESCRIPTION ERROR COMMAND...: the command must fail, and
# fail the way ERROR says: either "exit N", the exit status it must
# return, or an extended regular expression (a message, an errno name, an
# HTTP status) that its stdout or stderr must match. Whatever ERROR says,
# a command that times out, dies of a signal (exit 129-192, as the shell
# and timeout(1) report one; awscli's own errors are 252-255) or makes a
# sanitizer report has not failed as it should. Output in $T/out, $T/err.
expect_fail() {
	local what=$1 want=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: succeeded, should have failed with \"$want\""
	[ "$rc" -ne 124 ] || fail "$what: timed out"
	[ "$rc" -le 128 ] || [ "$rc" -gt 192 ] ||
		fail "$what: killed by signal $((rc - 128)): $(tail -n 3 "$T/err")"
	if grep -qE "$sanitizer_said" "$T/out" "$T/err" || sanitizer_reports >/dev/null; then
		fail "$what: a sanitizer report: $(sanitizer_reports; grep -hE "$sanitizer_said" "$T/out" "$T/err" | head -n 3)"
	fi
	case $want in
	"exit "*)
		[ "$rc" -eq "${want#exit }" ] ||
			fail "$what: exit $rc, expected $want: $(head -n 1 "$T/err" | cut -c 1-160)"
		;;
	*)
		grep -qE -- "$want" "$T/out" "$T/err" ||
			fail "$what: exit $rc without \"$want\": $(cat "$T/err" "$T/out" | head -n 2 | cut -c 1-160)"
		;;
	esac
	say "$what: failed as it should (exit $rc): $(grep -hE -m 1 -- "${want#exit *}" "$T/err" "$T/out" | head -n 1 | cut -c 1-160)"
}

metad_start() {
	local pid
	rm -f "$PIDFILE"
	timeout "$AGORA_TIMEOUT" "$METAD" -c "$CONF" -d -p "$PIDFILE" ||
		fail "agora-metad -d exited $?"
	[ -s "$PIDFILE" ] || fail "agora-metad -d returned but wrote no pid file"
	pid=$(cat "$PIDFILE")
	kill -0 "$pid" 2>/dev/null || fail "agora-metad (pid $pid) is not running"
	started_pids+=("$pid")
	METAD_PID=$pid
	say "agora-metad running, pid $pid"
}

metad_stop() {
	kill -TERM "$METAD_PID" 2>/dev/null || fail "agora-metad already gone"
	wait_gone "$METAD_PID" 20 || fail "agora-metad ignored SIGTERM for 20 s"
}

metad_kill() {
	kill -KILL "$METAD_PID" 2>/dev/null || true
	wait_gone "$METAD_PID" 10 || fail "agora-metad survived SIGKILL"
}

# ---- several agora-metad (failover) ----

# metad_ha_conf NAME...: $T/metad-NAME.conf for each, $CONF with its own
# log and pid file ($T/metad-NAME.log, .pid).
metad_ha_conf() {
	local x
	for x in "$@"; do
		sed -e "s|^pidfile = .*|pidfile = $T/metad-$x.pid|" \
			-e "s|^log = .*|log = $T/metad-$x.log|" "$CONF" >"$T/metad-$x.conf"
	done
}

# metad_ha_start NAME ADDR [WRAPPER...]: that metad at ADDR, detached
# (serving or standing by), run through WRAPPER when given (ip netns
# exec NS); its pid in PID_NAME.
metad_ha_start() {
	local x=$1 addr=$2 pid
	shift 2
	rm -f "$T/metad-$x.pid"
	timeout "$AGORA_TIMEOUT" "$@" "$METAD" -c "$T/metad-$x.conf" -l "$addr" -d ||
		fail "agora-metad -l $addr -d exited $?"
	pid=$(cat "$T/metad-$x.pid")
	kill -0 "$pid" 2>/dev/null || fail "agora-metad $x (pid $pid) is not running"
	started_pids+=("$pid")
	eval "PID_$x=$pid"
}

# metad_serving NAME N [SECONDS]: 0 once that metad has said N times
# that it serves (its Nth takeover), within SECONDS (default 20).
metad_serving() {
	local x=$1 n=$2 i
	for ((i = 0; i < ${3:-20} * 20; i++)); do
		[ "$(grep -c 'agora info: serving ' "$T/metad-$x.log" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# ring_snapshot [PREFIX]: one line per commit record and lease copy on
# the drives PREFIX0..PREFIX5 (default $T/d): its slot, generation or
# sequence, fencing epoch, and a digest of the record. A metad that
# wrote nothing between two snapshots leaves no line of its epoch in the
# difference.
ring_snapshot() {
	python3 - "${1:-$T/d}" "$NDRIVES" <<'PY'
import hashlib, struct, sys
prefix, n = sys.argv[1], int(sys.argv[2])
for d in range(n):
    with open("%s%d" % (prefix, d), "rb") as f:
        f.seek(4096)
        ring = f.read(17 * 4096)
    for s in range(17):
        b = ring[s * 4096:(s + 1) * 4096]
        if b[:8] == b"AGORACMT":
            gen, = struct.unpack_from("<Q", b, 8)
            epoch, = struct.unpack_from("<I", b, 24)
            print("d%d record slot %d gen %d epoch %d %s" % (d, s, gen, epoch, hashlib.sha1(b).hexdigest()))
        elif b[:8] == b"AGORALSE":
            epoch, = struct.unpack_from("<I", b, 24)
            seq, = struct.unpack_from("<Q", b, 32)
            addr = b[72:200].split(b"\0")[0].decode()
            print("d%d lease epoch %d seq %d holder %s" % (d, epoch, seq, addr))
PY
}

# mono_now: this host's monotonic clock, in seconds.
mono_now() { python3 -c 'import time; print("%.6f" % time.clock_gettime(time.CLOCK_MONOTONIC))'; }

# mkdata FILE SIZE KIND: test content; KIND is random, text (compressible)
# or zero.
mkdata() {
	local file=$1 size=$2 kind=$3
	case $kind in
	random) head -c "$size" /dev/urandom >"$file" ;;
	zero) head -c "$size" /dev/zero >"$file" ;;
	text)
		python3 - "$file" "$size" <<'PY'
import random, sys
path, size = sys.argv[1], int(sys.argv[2])
words = ("agora stripe chunk parity drive commit segment element bucket "
         "object page tree lease epoch generation fingerprint").split()
rng = random.Random(size)
out, n = [], 0
while n < size:
    line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
    line += " %d\n" % rng.randint(0, 99999)
    out.append(line)
    n += len(line)
with open(path, "w") as f:
    f.write("".join(out)[:size])
PY
		;;
	*) fail "mkdata: unknown kind $kind" ;;
	esac
}

# same LOCAL /PATH: the cluster's /PATH reads back equal to LOCAL.
same() {
	local got=$T/got
	rm -f "$got"
	ag get "$2" "$got" || fail "get $2 exited $?"
	cmp -s "$1" "$got" || fail "get $2 differs from $1"
}

# ---- agora-fused ----

FUSED=$AGORA_BUILDDIR/fused/agora-fused

# fused_start MOUNTPOINT [OPTION...]: mount the test cluster there with
# agora-fused (detached; allow_other, so that checks as another user reach
# it; log in $T/fused-NAME.log, pid in FUSED_PID). Skips the test when
# this machine cannot mount FUSE at all.
fused_start() {
	local mnt=$1 name rc=0
	shift
	name=$(basename "$mnt")
	[ -x "$FUSED" ] || fail "$FUSED not built"
	[ -c /dev/fuse ] || skip "no /dev/fuse here"
	command -v fusermount3 >/dev/null || skip "no fusermount3 (fuse3)"
	mkdir -p "$mnt"
	timeout "$AGORA_TIMEOUT" "$FUSED" -c "$CONF" \
		-o allow_other,log="$T/fused-$name.log",pidfile="$T/fused-$name.pid" \
		"$@" "$mnt" 2>>"$T/fused-$name.log" || rc=$?
	if [ "$rc" -ne 0 ]; then
		if grep -qE "fuse: (device not found|failed to open /dev/fuse)|Operation not permitted|Permission denied" \
			"$T/fused-$name.log"; then
			skip "FUSE mounts are not allowed here: $(tail -n 1 "$T/fused-$name.log")"
		fi
		fail "agora-fused exited $rc"
	fi
	mountpoint -q "$mnt" || fail "agora-fused returned but $mnt is not mounted"
	FUSED_PID=$(cat "$T/fused-$name.pid")
	started_pids+=("$FUSED_PID")
	started_mounts+=("$mnt")
	say "agora-fused mounted $mnt, pid $FUSED_PID"
}

# fused_stop MOUNTPOINT: unmount; the daemon (FUSED_PID of that mount)
# must then exit.
fused_stop() {
	local mnt=$1 pid
	pid=$(cat "$T/fused-$(basename "$mnt").pid")
	fusermount3 -u "$mnt" || fail "fusermount3 -u $mnt exited $?"
	wait_gone "$pid" 20 || fail "agora-fused (pid $pid) still runs after unmount"
}

# ---- agora-s3d (the S3 tests) ----

: "${S3D:=$AGORA_BUILDDIR/s3d/agora-s3d}"  # S3D=... runs another build (ASan)

# free_port: a TCP port on 127.0.0.1 that nobody listens on right now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# s3d_start: an [s3] section on a free port, a user "tester" (uid 1000),
# agora-s3d detached. Sets S3_URL, S3_ACCESS, S3_SECRET and the AWS_*
# variables that awscli and boto3 read, so they need no config file.
s3d_start() {
	local pid i
	[ -x "$S3D" ] || fail "$S3D not built"
	if ! grep -q '^\[s3\]' "$CONF"; then
		S3_PORT=$(free_port)
		cat >>"$CONF" <<CONF

[s3]
listen = 127.0.0.1:$S3_PORT
pidfile = $T/s3d.pid
log = $T/s3d.log
threads = 8
domain = s3.test
timeout = 5
CONF
	fi
	if [ -z "${S3_ACCESS:-}" ]; then
		read -r S3_ACCESS S3_SECRET < <(ag user add tester --uid 1000 --gid 1000) ||
			fail "agora user add failed"
	fi
	rm -f "$T/s3d.pid"
	timeout "$AGORA_TIMEOUT" "$S3D" -c "$CONF" -d || fail "agora-s3d -d exited $?"
	[ -s "$T/s3d.pid" ] || fail "agora-s3d -d returned but wrote no pid file"
	pid=$(cat "$T/s3d.pid")
	started_pids+=("$pid")
	S3D_PID=$pid
	S3_URL=http://127.0.0.1:$S3_PORT
	export AWS_ACCESS_KEY_ID=$S3_ACCESS AWS_SECRET_ACCESS_KEY=$S3_SECRET
	export AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
	export AWS_CONFIG_FILE=$T/aws-config AWS_SHARED_CREDENTIALS_FILE=$T/aws-creds
	export S3_URL S3_ACCESS S3_SECRET
	# SigV4 everywhere (awscli 1 presigns with V2 unless told)
	printf '[default]\ns3 =\n    signature_version = s3v4\n' >"$AWS_CONFIG_FILE"
	for ((i = 0; i < 50; i++)); do
		curl -s -o /dev/null "$S3_URL/" && break
		sleep 0.1
	done
	say "agora-s3d running, pid $pid, $S3_URL"
}

s3d_stop() {
	kill -TERM "$S3D_PID" 2>/dev/null || fail "agora-s3d already gone"
	wait_gone "$S3D_PID" 20 || fail "agora-s3d ignored SIGTERM for 20 s"
}

# s3d_alive: fail unless agora-s3d still runs.
s3d_alive() {
	kill -0 "$S3D_PID" 2>/dev/null || fail "agora-s3d died: $(tail -n 5 "$T/s3d.log" 2>/dev/null)"
}

# aws ARGS...: awscli against the test gateway.
awsc() { timeout "$AGORA_TIMEOUT" aws --endpoint-url "$S3_URL" "$@"; }

# fsck_clean: the cluster checks clean.
fsck_clean() {
	ag fsck >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out"; fail "fsck found damage"; }
}

# ---- triggers (the event tests) ----

# deliverer_start [OPTION...]: agora trigger run --watch in the
# background, its pid in DELIVER_PID, its output in $T/deliver.log
deliverer_start() {
	# no timeout(1) in between: SIGKILL must reach the deliverer
	"$AGORA" -c "$CONF" trigger run --watch --lease 2 "$@" \
		>>"$T/deliver.log" 2>&1 &
	DELIVER_PID=$!
	started_pids+=("$DELIVER_PID")
}
deliverer_stop() {
	kill -TERM "$DELIVER_PID" 2>/dev/null || fail "the deliverer died: $(tail -n 3 "$T/deliver.log")"
	wait_gone "$DELIVER_PID" 20 || fail "the deliverer ignored SIGTERM"
}

# hook_start: events_hook.py listening on 127.0.0.1:$HOOK_PORT, what
# it is POSTed in $T/hook.ok (a line each) and $T/hook.fail.
hook_start() {
	HOOK_PORT=$(free_port)
	python3 "$AGORA_SRCDIR/test/integ/events_hook.py" "$HOOK_PORT" "$T/hook" >"$T/hook.log" 2>&1 &
	started_pids+=("$!")
	eventually 10 curl -s -o /dev/null "http://127.0.0.1:$HOOK_PORT/ok" -d '{}' ||
		fail "the webhook listener did not start"
}

# ---- network namespaces (the NFS and SMB tests) ----

# netns_pair: two network namespaces joined by a veth pair, so that a
# server listens in one and nowhere else: $NS_SRV (address $SRV_ADDR)
# and $NS_CLI (the clients, $CLI_ADDR). Nothing is added to this host's
# own interfaces. Skips the test when namespaces cannot be made here.
netns_pair() {
	local tag=ag$$
	command -v ip >/dev/null || skip "no ip (iproute2)"
	NS_SRV=$tag-srv NS_CLI=$tag-cli SRV_ADDR=192.168.77.1 CLI_ADDR=192.168.77.2
	ip netns add "$NS_SRV" 2>"$T/netns.err" ||
		skip "cannot make a network namespace: $(cat "$T/netns.err")"
	started_netns+=("$NS_SRV")
	ip netns add "$NS_CLI" || fail "ip netns add $NS_CLI exited $?"
	started_netns+=("$NS_CLI")
	ip link add "$tag-s" type veth peer name "$tag-c" ||
		fail "ip link add veth exited $?"
	ip link set "$tag-s" netns "$NS_SRV" && ip link set "$tag-c" netns "$NS_CLI" ||
		fail "cannot move the veth pair into the namespaces"
	ip -n "$NS_SRV" addr add "$SRV_ADDR/24" dev "$tag-s" &&
		ip -n "$NS_SRV" link set "$tag-s" up && ip -n "$NS_SRV" link set lo up &&
		ip -n "$NS_CLI" addr add "$CLI_ADDR/24" dev "$tag-c" &&
		ip -n "$NS_CLI" link set "$tag-c" up && ip -n "$NS_CLI" link set lo up ||
		fail "cannot set up the veth pair"
	say "network namespaces $NS_SRV ($SRV_ADDR) and $NS_CLI ($CLI_ADDR)"
}

# client CMD...: CMD in the clients' namespace, with a time limit.
client() { timeout "$AGORA_TIMEOUT" ip netns exec "$NS_CLI" "$@"; }

# ns_daemon NS KEEP CMD...: CMD, a daemon that lives through the test, in
# network namespace NS, with no copy of other tests' FUSE mounts
# (netns_run.sh says why).
NETNS_RUN="$(dirname "${BASH_SOURCE[0]}")/netns_run.sh"
ns_daemon() { exec sh "$NETNS_RUN" "$@"; }

# ---- nfs-ganesha and Samba re-exporting a mount (netns_pair first) ----

# ganesha_require: skip the test unless ganesha (FSAL VFS), rpcbind and
# libnfs's nfs-ls and nfs-cp are here.
ganesha_require() {
	command -v ganesha.nfsd >/dev/null || skip "nfs-ganesha is not installed"
	ls /usr/lib/*/ganesha/libfsalvfs.so >/dev/null 2>&1 ||
		skip "nfs-ganesha-vfs (FSAL VFS) is not installed"
	command -v nfs-ls >/dev/null && command -v nfs-cp >/dev/null ||
		skip "libnfs-utils (nfs-ls, nfs-cp) is not installed"
	command -v rpcbind >/dev/null || skip "rpcbind is not installed (NFSv3)"
}

# ganesha_conf MOUNT: $T/ganesha.conf, the shipped config exporting
# MOUNT, only the paths changed; v3 PATH and v4 PATH then give the
# libnfs URL of PATH under the export (PATH starts with "/").
ganesha_conf() {
	GANESHA_MNT=$1
	mkdir -p "$T/run" "$T/recov"
	sed -e "s|/mnt/agora|$GANESHA_MNT|" -e "s|RecoveryRoot = .*|RecoveryRoot = $T/recov;|" \
		"$AGORA_SRCDIR/contrib/ganesha-agora.conf" >"$T/ganesha.conf"
	Q3="nfsport=2049&mountport=20048&version=3"
	V3="nfs://$SRV_ADDR$GANESHA_MNT"
	V4="nfs://$SRV_ADDR/agora"
}
v3() { printf '%s%s?%s' "$V3" "$1" "$Q3"; }
v4() { printf '%s%s?version=4' "$V4" "$1"; }

# ganesha_start: rpcbind and ganesha in the server namespace, sharing a
# /run of their own; waits until the export answers.
ganesha_start() {
	local i
	rm -f "$T/rpcbind.pid"
	ns_daemon "$NS_SRV" "$GANESHA_MNT" sh -c '
		mount --bind "$1/run" /run || exit 1
		rpcbind -f & echo $! >"$1/rpcbind.pid"
		sleep 0.3
		exec ganesha.nfsd -F -f "$1/ganesha.conf" -L "$1/ganesha.log" -p "$1/ganesha.pid" -N NIV_EVENT
	' sh "$T" >>"$T/ganesha.out" 2>&1 &
	GANESHA_PID=$!
	started_pids+=("$GANESHA_PID")
	for ((i = 0; i < 50; i++)); do
		[ -s "$T/rpcbind.pid" ] && break
		sleep 0.1
	done
	RPCBIND_PID=$(cat "$T/rpcbind.pid")
	started_pids+=("$RPCBIND_PID")
	for ((i = 0; i < 200; i++)); do
		kill -0 "$GANESHA_PID" 2>/dev/null ||
			fail "ganesha.nfsd exited: $(tail -n 3 "$T/ganesha.log" "$T/ganesha.out")"
		client nfs-ls "$V3/" >/dev/null 2>&1 && break
		sleep 0.1
	done
	[ "$i" -lt 200 ] || fail "ganesha does not answer after 20 s"
	say "ganesha running, pid $GANESHA_PID (rpcbind $RPCBIND_PID)"
}

ganesha_stop() {
	kill -TERM "$GANESHA_PID" "$RPCBIND_PID" 2>/dev/null
	wait_gone "$GANESHA_PID" 20 || fail "ganesha ignored SIGTERM for 20 s"
	wait_gone "$RPCBIND_PID" 10 || kill -KILL "$RPCBIND_PID"
}

# smbd_require: skip the test unless smbd, smbclient and vfs_fileid
# are here.
smbd_require() {
	command -v smbd >/dev/null || skip "samba (smbd) is not installed"
	command -v smbclient >/dev/null || skip "smbclient is not installed"
	ls /usr/lib/*/samba/vfs/fileid.so >/dev/null 2>&1 ||
		skip "samba-vfs-modules (vfs_fileid) is not installed"
}

# smbd_start MOUNT: smbd in the server namespace sharing MOUNT with the
# shipped share (only the path changed) and this test's own
# directories, as user root, password agora-test; waits until it
# answers. Its pid in SMBD_PID.
smbd_start() {
	local mnt=$1 i
	mkdir -p "$T/smb"/{private,lock,state,cache,pid,ncalrpc}
	sed "s|/mnt/agora|$mnt|" "$AGORA_SRCDIR/contrib/smb-agora.conf" >"$T/smb/share.conf"
	cat >"$T/smb.conf" <<CONF
[global]
	private dir = $T/smb/private
	lock directory = $T/smb/lock
	state directory = $T/smb/state
	cache directory = $T/smb/cache
	pid directory = $T/smb/pid
	ncalrpc dir = $T/smb/ncalrpc
	log file = $T/smbd.log
	interfaces = $SRV_ADDR/24
	bind interfaces only = yes
	include = $T/smb/share.conf
CONF
	printf 'agora-test\nagora-test\n' | smbpasswd -c "$T/smb.conf" -s -a root >/dev/null ||
		fail "smbpasswd -a root exited $?"
	ns_daemon "$NS_SRV" "$mnt" smbd -F -s "$T/smb.conf" >"$T/smbd.out" 2>&1 &
	SMBD_PID=$!
	started_pids+=("$SMBD_PID")
	for ((i = 0; i < 100; i++)); do
		kill -0 "$SMBD_PID" 2>/dev/null || fail "smbd exited: $(tail -n 3 "$T/smbd.out" "$T/smbd.log")"
		smb 'ls' >/dev/null 2>&1 && break
		sleep 0.2
	done
	[ "$i" -lt 100 ] || fail "smbd does not answer after 20 s"
	say "smbd running, pid $SMBD_PID"
}

# smb CMDS: smbclient commands on the share, from the clients' namespace
smb() {
	client smbclient "//$SRV_ADDR/agora" -U root%agora-test -m SMB3 -c "$1"
}

# gateway_child KEEPER: the pid of the gateway process serving a
# keep_mount mount under its keeper (the pid fused_start gave), waiting
# up to 10 s for one; 1 when there is none.
gateway_child() {
	local i pid
	for ((i = 0; i < 100; i++)); do
		pid=$(pgrep -P "$1" | head -n 1) && [ -n "$pid" ] &&
			{ echo "$pid"; return 0; }
		sleep 0.1
	done
	return 1
}

# elapsed_since T0: seconds since T0 (date +%s.%N), to 3 decimals.
elapsed_since() { python3 -c "import sys, time; print('%.3f' % (time.time() - float(sys.argv[1])))" "$1"; }

# eventually SECONDS COMMAND...: 0 once COMMAND succeeds, trying every
# 0.05 s; 1 if it still fails after SECONDS (what another gateway's
# kernel caches, names and attributes for 1 s, may take to show).
eventually() {
	local until
	until=$(python3 -c "import sys, time; print(time.time() + float(sys.argv[1]))" "$1")
	shift
	until "$@"; do
		python3 -c "import sys, time; sys.exit(time.time() > float(sys.argv[1]))" "$until" ||
			return 1
		sleep 0.05
	done
}
