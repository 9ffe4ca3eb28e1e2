#!/bin/bash
# fuzz/long.sh - the long tier of the fuzz targets: each libFuzzer
# program of a fuzzing build (configure --enable-fuzzing) runs from its
# committed corpus for AGORA_FUZZ_RUNS executions (default 1,000,000) or
# AGORA_FUZZ_SECONDS seconds (default 1800), whichever comes first, and
# prints its execution count. A crash fails the test and leaves the input
# that caused it in the test's directory: copy it into fuzz/corpus/NAME/
# (make check replays it from then on) and fix the decoder.
#
# Runs only with AGORA_LONG=1 in a fuzzing build; skips (77) otherwise.
# AGORA_FUZZ_TARGETS="txn xml" runs some of them.
set -u

: "${AGORA_BUILDDIR:?}" "${AGORA_SRCDIR:?}"
names=${AGORA_FUZZ_TARGETS:-"txn rpc label commit page config http sigv4 range xml body policy"}
runs=${AGORA_FUZZ_RUNS:-1000000}
seconds=${AGORA_FUZZ_SECONDS:-1800}

if [ "${AGORA_LONG:-0}" != 1 ]; then
	echo "long tier only (AGORA_LONG=1)"
	exit 77
fi
if [ ! -x "$AGORA_BUILDDIR/fuzz/fuzz_txn" ]; then
	echo "no libFuzzer programs here: configure --enable-fuzzing (clang)"
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/agora-fuzz.XXXXXX")
failed=0
for name in $names; do
	prog=$AGORA_BUILDDIR/fuzz/fuzz_$name
	mkdir -p "$dir/$name/new" "$dir/$name/crash"
	# new inputs go to the scratch directory, never into the sources
	"$prog" -runs="$runs" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$dir/$name/crash/" \
		"$dir/$name/new" "$AGORA_SRCDIR/fuzz/corpus/$name" \
		>"$dir/$name/log" 2>&1
	rc=$?
	done_line=$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$dir/$name/log" | tail -n 1)
	if [ "$rc" -ne 0 ]; then
		failed=1
		echo "fuzz_$name: FAILED (exit $rc); the input:"
		ls "$dir/$name/crash"/* 2>/dev/null
		tail -n 40 "$dir/$name/log"
		continue
	fi
	echo "fuzz_$name: ${done_line:-no count}, no crash"
done
if [ "$failed" -eq 0 ]; then
	rm -rf "$dir"
else
	echo "kept in $dir"
fi
exit "$failed"
