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
steps=0

# Messages go to stdout, which the test driver keeps in test/integ/NAME.log.
say() { printf '# %s\n' "$*"; }
step() { steps=$((steps + 1)); printf 'step %d: %s\n' "$steps" "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

cleanup() {
	local rc=$? pid
	set +e
	for pid in "${started_pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null
		fi
	done
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

# expect_fail DESCRIPTION COMMAND...: the command must exit non-zero (and
# not time out, which also means not hang).
expect_fail() {
	local what=$1 rc=0
	shift
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: succeeded, should have failed"
	[ "$rc" -ne 124 ] || fail "$what: timed out"
	say "$what: failed as it should (exit $rc): $(head -n 1 "$T/err" | cut -c 1-160)"
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
