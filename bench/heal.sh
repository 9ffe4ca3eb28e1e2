#!/bin/bash
# bench/heal.sh - how fast scrub and a drive rebuild read, beside the
# drives' own sequential read bandwidth, and what a throttled scrub costs
# a reader of the drives.
#
#   bench/heal.sh
#
# Makes a cluster of six sparse drive files (bench/lib.sh, 4+2), stores
# AGORA_BENCH_MB MB of random data in it and reports, the page cache
# dropped before each figure when allowed:
#   - fio reading the six drive files at once (1 MiB direct reads over
#     the bytes they hold), the bandwidth to compare with;
#   - agora scrub unthrottled (the median of $runs runs) and its share of
#     that bandwidth;
#   - drive 2 removed and `agora drive replace 2` unthrottled: the rate it
#     reads at and its share, and the bytes it wrote to the new drive;
#   - fio again beside `agora scrub --rate R` for R of AGORA_BENCH_RATES:
#     what the scrub took from it, against R.
#
# Environment (and those of bench/lib.sh):
#   AGORA_BENCH_MB=1200          data stored
#   AGORA_BENCH_RATES="50 200"   scrub rates (MB/s) for the last figure
bench_name=heal
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mb=${AGORA_BENCH_MB:-1200}
[[ $mb =~ ^[1-9][0-9]*$ ]] || die "AGORA_BENCH_MB=$mb: not a count"
rates=${AGORA_BENCH_RATES:-50 200}
command -v fio >/dev/null || die "fio is needed (apt-get install fio)"

cluster_start 1G
head -c "${mb}M" /dev/urandom >"$T/data"
ag put "$T/data" /data >/dev/null
rm -f "$T/data"
# what each drive holds: a drive's share of the data and its parity
held=$((mb * 6 / 4 / 6 + 8))

# fio_mbps [SECONDS]: MB/s of fio reading the held bytes of all six drive
# files at once, each from start to end (or for SECONDS, again and again).
fio_mbps() {
	local args=(--rw=read --bs=1M --direct=1 --ioengine=psync
		--size="${held}M" --offset=1M --group_reporting --minimal) i
	[ -n "${1:-}" ] && args+=(--time_based --runtime="$1")
	for i in 0 1 2 3 4 5; do
		args+=(--name="d$i" --filename="$T/d$i")
	done
	# terse output: field 7 is the read bandwidth in KiB/s
	fio "${args[@]}" | awk -F';' '{ printf "%.0f", $7 * 1024 / 1e6 }'
}

# read_mbps FILE: the MB/s of the "read" line of a scrub or rebuild report.
read_mbps() { awk '$1 == "read" { gsub(/[(]/, "", $7); print $7 }' "$1"; }

drop_caches
fio=$(fio_mbps)
say "fio, 6 drive files at once:   $fio MB/s"

all=()
for ((i = 1; i <= runs; i++)); do
	drop_caches
	ag scrub >"$T/scrub.out"
	all+=("$(read_mbps "$T/scrub.out")")
done
scrub=$(median "${all[@]}")
say "agora scrub:                  $scrub MB/s ($(ratio "$scrub" "$fio") of fio)"

rm -f "$T/d2"
sleep 2
drop_caches
ag drive replace 2 "$T/d2" >"$T/replace.out"
rebuild=$(read_mbps "$T/replace.out")
strips=$(awk '$1 == "strips" { print $8 }' "$T/replace.out")
say "agora drive replace 2:        $rebuild MB/s read ($(ratio "$rebuild" "$fio") of fio), $strips strips rebuilt"

for r in $rates; do
	ag scrub --rate "$r" >/dev/null &
	pid=$!
	bench_pids+=("$pid")
	sleep 1
	beside=$(fio_mbps 8)
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	alone=$(fio_mbps 8)
	say "fio beside agora scrub --rate $r: $beside MB/s, alone $alone: took $(awk -v a="$alone" -v b="$beside" 'BEGIN { printf "%.0f", a - b }') MB/s"
done
