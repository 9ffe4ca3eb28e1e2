#!/bin/bash
# test/run-all.sh - the whole test run, as CI does it (.ci/run).
#
#  1. install the missing packages of contrib/packages.txt (root or sudo);
#  2. autoreconf -fi;
#  3. build in build-check/ with --enable-werror and run make check
#     (unit tests and integration tests);
#  4. build in build-asan/ with --enable-asan (ASan + UBSan) and run make
#     check there too: the unit tests and the integration tests, whose
#     daemons and tools are then the sanitized ones (a sanitizer report
#     of any of them fails its test), always at their fast-tier size
#     (and fuse_fsx.sh with 30,000 operations);
#  5. make check-dist in build-check/: the release tarball (make
#     distcheck) builds, installs and passes the unit tests and a smoke
#     test of each face; one result;
#  5b. build in build-rdma/ with --enable-werror --with-rdma (the metad
#     RPC over rsockets) and run the tests of the transport there
#     (rdma_tests below): they need no RDMA device, but for rdma.sh's
#     put/get over rdma:, which skips, saying why, where there is none;
#  6. with AGORA_LONG=1, build in build-tsan/ with --enable-tsan
#     (ThreadSanitizer) and run the unit tests and the integration tests
#     of the threaded paths there (tsan_tests below), at their fast-tier
#     size; then, when clang is there, build in build-fuzz/ with
#     --enable-fuzzing and run fuzz/long.sh (every libFuzzer target for
#     1,000,000 executions from its corpus);
#  7. print one last line, "N passed, N failed" (", N skipped" when some
#     were), summed over all runs. Every TAP test point of a unit test and
#     every integration script counts as one result.
#
# Exit status: 0 when nothing failed, 1 otherwise.
#
# Environment:
#   AGORA_LONG=1       also run the long tier (crash and soak loops)
#   AGORA_SKIP_DEPS=1  do not check or install packages
#   AGORA_JOBS=n       parallel make jobs (default: number of CPUs)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

export AGORA_LONG=${AGORA_LONG:-0}
jobs=${AGORA_JOBS:-$(nproc 2>/dev/null || echo 2)}
passed=0
failed=0
skipped=0
run_failed=0

say() { printf '\n=== run-all: %s\n' "$*"; }

# count BUILDDIR: add the results of BUILDDIR's last make check, read from
# the summary automake writes at the top of test-suite.log (the sum of
# every :test-result: line of the .trs files); the failures of this run
# are left in run_failed. Returns 1 when there is nothing to count.
count() {
	local log=$1/test-suite.log p f s
	[ -f "$log" ] || return 1
	read -r p f s < <(awk '
		/^# (PASS|XFAIL):/ { p += $3 }
		/^# (FAIL|XPASS|ERROR):/ { f += $3 }
		/^# SKIP:/ { s += $3 }
		/^# ERROR:/ { exit }
		END { print p + 0, f + 0, s + 0 }' "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	run_failed=$f
	echo "run-all: ${1#"$root"/}: $p passed, $f failed, $s skipped"
	return 0
}

# phase NAME BUILDDIR MAKE-TARGET CONFIGURE-ARGS...: configure (when the
# options changed), build and test one tree, with the make arguments in
# the array phase_args, if any. A step that fails without leaving test
# results counts as one failure. Prints how long the phase took.
phase_args=()
phase() {
	local name=$1 dir=$2 target=$3 start=$SECONDS
	shift 3
	local want="$*" have=""
	say "$name: configure ${want:-(defaults)} in ${dir#"$root"/}/"
	if [ -f "$dir/config.status" ]; then
		have=$("$dir/config.status" --config 2>/dev/null | tr -d "'")
	fi
	if [ ! -f "$dir/Makefile" ] || [ "$have" != "$want" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		if ! (cd "$dir" && "$root/configure" "$@") >"$dir.configure.log" 2>&1; then
			tail -n 30 "$dir.configure.log"
			echo "run-all: $name: configure FAILED (log: ${dir#"$root"/}.configure.log)"
			failed=$((failed + 1))
			return
		fi
	fi
	say "$name: make"
	if ! make -C "$dir" -j"$jobs"; then
		echo "run-all: $name: build FAILED"
		failed=$((failed + 1))
		return
	fi
	say "$name: make $target"
	rm -f "$dir/test-suite.log"
	local rc=0
	make -C "$dir" -j"$jobs" "$target" ${phase_args[@]+"${phase_args[@]}"} || rc=$?
	echo "run-all: $name: configure, build and make $target took $((SECONDS - start)) s"
	if [ "$rc" -ne 0 ] && [ -f "$dir/test-suite.log" ]; then
		# the logs of what failed, for the CI output
		cat "$dir/test-suite.log"
	fi
	if ! count "$dir"; then
		echo "run-all: $name: make $target FAILED before any test ran"
		failed=$((failed + 1))
	elif [ "$rc" -ne 0 ] && [ "$run_failed" -eq 0 ]; then
		echo "run-all: $name: make $target FAILED (exit $rc)"
		failed=$((failed + 1))
	fi
}

if [ "${AGORA_SKIP_DEPS:-0}" != 1 ]; then
	say "packages"
	# on failure go on: configure names what is missing
	"$root/contrib/install-deps.sh" || echo "run-all: installing packages FAILED"
fi

# configure refuses out-of-tree builds of a tree configured in place.
if [ -f "$root/config.status" ]; then
	say "the source tree is configured in place: make distclean there first"
	make -C "$root" distclean >/dev/null 2>&1 || rm -f "$root/config.status"
fi

# dist BUILDDIR: make check-dist there (a configured tree); one result.
dist() {
	local start=$SECONDS
	say "dist: make check-dist"
	if [ -f "$1/Makefile" ] && make -C "$1" check-dist >"$1.dist.log" 2>&1; then
		passed=$((passed + 1))
		echo "run-all: dist: passed in $((SECONDS - start)) s"
	else
		tail -n 40 "$1.dist.log" 2>/dev/null || true
		echo "run-all: dist: make check-dist FAILED (log: ${1#"$root"/}.dist.log)"
		failed=$((failed + 1))
	fi
}

# What the ThreadSanitizer run of the long tier runs.
tsan_tests="test/unit/test_core test/unit/test_stripe test/integ/concurrent.sh \
test/integ/fuse_basic.sh test/integ/fuse_shared.sh test/integ/fuse_fsx.sh \
test/integ/s3_basic.sh test/integ/s3_boto.py"

# What the --with-rdma build runs: the transport's unit tests, the RPC's
# and, through a metad, rdma.sh and basic.sh (over a Unix socket).
rdma_tests="test/unit/test_net test/unit/test_rpc test/integ/rdma.sh \
test/integ/basic.sh"

# UBSan reports stop the program, so undefined behaviour fails its test.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

say "autoreconf -fi"
if autoreconf -fi; then
	phase "werror" "$root/build-check" check --enable-werror
	dist "$root/build-check"
	# the long tier's loops run once, in the werror build; fsx's 100,000
	# operations take over 3 minutes under ASan, 30,000 one
	phase_args=(AGORA_LONG=0 AGORA_FSX_OPS=30000)
	phase "asan" "$root/build-asan" check --enable-asan
	# the rsockets transport: it builds, and the RPC's tests pass (only
	# their programs are built for make check: a minute less)
	phase_args=(AGORA_LONG=0 "TESTS=$rdma_tests"
		"check_PROGRAMS=test/unit/test_net test/unit/test_rpc")
	phase "rdma" "$root/build-rdma" check --enable-werror --with-rdma
	if [ "$AGORA_LONG" = 1 ]; then
		# the threaded paths: metad's group commit and drive pool, the
		# mount's and the S3 gateway's worker threads, the packer
		phase_args=(AGORA_LONG=0 AGORA_FSX_OPS=20000 "TESTS=$tsan_tests")
		phase "tsan" "$root/build-tsan" check --enable-tsan
		if echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
		   clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
			phase_args=(AGORA_LONG=1 "TESTS=fuzz/long.sh")
			# in config.status --config's order, so that an
			# existing build-fuzz/ is kept
			phase "fuzz" "$root/build-fuzz" check \
				--enable-fuzzing CC=clang
		else
			echo "run-all: no clang with libFuzzer: the fuzz targets do not run"
		fi
		phase_args=()
	fi
else
	echo "run-all: autoreconf FAILED"
	failed=$((failed + 1))
fi

if [ "$AGORA_LONG" = 1 ]; then
	say "done (long tier)"
else
	say "done"
fi
if [ $((passed + failed + skipped)) -eq 0 ]; then
	echo "run-all: no test ran at all"
	failed=1
fi
summary="$passed passed, $failed failed"
[ "$skipped" -eq 0 ] || summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
