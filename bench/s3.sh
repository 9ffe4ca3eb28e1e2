#!/bin/bash
# bench/s3.sh - agora-s3d side by side with the HTTP ceiling: the same
# load (s3load: SigV4-signed PUT and GET of 4 KiB and 1 MiB objects over
# 1, 8 and 32 keep-alive connections) against agora-s3d and against
# civet_null, a civetweb server with the same thread count that stores
# nothing. Prints both columns and their ratio per row (medians of several
# runs), and `agora put` of a large file for the aim "1 MiB PUT at least
# 80 % of agora put". A single-node Ceph radosgw (bench/ceph.sh: one mon,
# mgr and bluestore OSD on a file, from Debian's packages) is a third
# column when installed, with the ratio of agora-s3d to it.
#
#   bench/s3.sh
#
# Builds first (see bench/lib.sh), makes a cluster in a temporary
# directory, starts agora-metad, agora-s3d and civet_null on free ports
# of 127.0.0.1, and removes it all at the end. PUT bodies are random with
# a request number stamped in every 4 KiB: nothing deduplicates or
# compresses.
#
# Environment (and those of bench/lib.sh):
#   AGORA_BENCH_THREADS=64   civetweb threads of both servers (civetweb
#                            serves one connection per thread: keep it
#                            above the 32 connections)
#   AGORA_BENCH_SMALL=4000   at most so many 4 KiB requests per row and run
#   AGORA_BENCH_LARGE=256    at most so many 1 MiB requests per row and run
#   AGORA_BENCH_SECS=5       at most so long per row and run
#   AGORA_BENCH_SIZE=1G      bytes of the agora put reference
#   AGORA_BENCH_RGW=0        leave radosgw out
bench_name=s3
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/ceph.sh"

threads=${AGORA_BENCH_THREADS:-64}
small=${AGORA_BENCH_SMALL:-4000}
large=${AGORA_BENCH_LARGE:-256}
secs=${AGORA_BENCH_SECS:-5}
size_arg=${AGORA_BENCH_SIZE:-1G}
s3d=$build/s3d/agora-s3d
s3load=$build/bench/s3load
civet_null=$build/bench/civet_null

size=$(numfmt --from=iec "${size_arg%[bB]}" 2>/dev/null) ||
	die "AGORA_BENCH_SIZE=$size_arg: not a size"
[ -x "$s3d" ] || die "$s3d not built"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_http URL: until something answers there (10 s).
wait_http() {
	local i
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	die "nothing answers at $1"
}

# room for every PUT of every run, and for agora put, without reduction
bytes=$(( (large * (1 << 20) + small * 4096) * 3 * runs + size * runs ))
cluster_start "$(( (bytes / 2 + (1 << 30)) >> 30 ))G"
s3_port=$(free_port)
cat >>"$conf" <<CONF

[s3]
listen = 127.0.0.1:$s3_port
pidfile = $T/s3d.pid
log = $T/s3d.log
threads = $threads
CONF
read -r access secret < <(ag user add bench --uid 1000 --gid 1000) ||
	die "agora user add failed"
"$s3d" -c "$conf" -d || die "agora-s3d -d exited $?"
bench_pids+=("$(cat "$T/s3d.pid")")
wait_http "http://127.0.0.1:$s3_port/"

null_port=$(free_port)
"$civet_null" -l "127.0.0.1:$null_port" -t "$threads" >"$T/civet_null.log" 2>&1 &
bench_pids+=("$!")
wait_http "http://127.0.0.1:$null_port/"

sides=(s3d null)
declare -A port_of=([s3d]=$s3_port [null]=$null_port)
declare -A access_of=([s3d]=$access [null]=$access)
declare -A secret_of=([s3d]=$secret [null]=$secret)
if [ "${AGORA_BENCH_RGW:-1}" = 0 ]; then
	say "note: radosgw left out (AGORA_BENCH_RGW=0)"
elif rgw_start; then
	sides+=(rgw)
	port_of[rgw]=$rgw_port
	access_of[rgw]=$rgw_access
	secret_of[rgw]=$rgw_secret
else
	say "note: no radosgw column: $rgw_why"
fi

# load SIDE ARGS...: one s3load run; its req/s, MB/s and request
# count in $rps, $mbps, $count.
load() {
	local name=$1
	shift
	"$s3load" -e "http://127.0.0.1:${port_of[$name]}" -a "${access_of[$name]}" \
		-s "${secret_of[$name]}" -b bench "$@" \
		>"$T/load.out" 2>"$T/load.err" ||
		die "s3load against $name ($*) failed: $(head -n 3 "$T/load.err")"
	rps=$(awk '$1 == "result" && $2 == "req_per_s" { print $3 }' "$T/load.out")
	mbps=$(awk '$1 == "result" && $2 == "MBps" { print $3 }' "$T/load.out")
	count=$(awk '$1 == "result" && $2 == "requests" { print $3 }' "$T/load.out")
}

for side in "${sides[@]}"; do
	[ "$side" = null ] && continue
	load "$side" -o mkbucket || die "cannot create the bucket on $side"
done

say "Agora S3 benchmarks: agora-s3d against civet_null ($threads threads each), $runs runs, medians"
say "host: $(nproc) CPUs; work: $T"
say "per row and run: at most $small requests of 4 KiB, $large of 1 MiB, $secs s"
declare -A fig made
rows=()
for ((r = 1; r <= runs; r++)); do
	for obj in 4K 1M; do
		n=$small
		[ "$obj" = 1M ] && n=$large
		for c in 1 8 32; do
			for op in put get; do
				row="$op-$obj-$c"
				[ "$r" = 1 ] && rows+=("$row")
				for side in "${sides[@]}"; do
					# a get reads the objects its put made
					keys=
					[ "$op" = get ] && keys="-k ${made[$side]}"
					# shellcheck disable=SC2086 # $keys: none or two words
					load "$side" -o "$op" -z "$obj" -c "$c" -n "$n" \
						-d "$secs" $keys -p "r$r-$obj-c$c"
					[ "$op" = put ] && made[$side]=$count
					if [ "$obj" = 1M ]; then
						fig[$row,$side]+=" $mbps"
					else
						fig[$row,$side]+=" $rps"
					fi
				done
			done
		done
	done
	say "run $r done: 1 MiB PUT, 32 connections: agora-s3d$(echo "${fig[put-1M-32,s3d]}" |
		awk '{ print " " $NF }') MB/s, civet_null$(echo "${fig[put-1M-32,null]}" |
		awk '{ print " " $NF }') MB/s"
done

say ""
say "== agora put of $size_arg (fresh random data each run) =="
put=$(put_mbps "$size")

say ""
say "== summary (medians of $runs; 4 KiB rows in requests/s, 1 MiB rows in MB/s) =="
has_rgw=0
[[ " ${sides[*]} " == *" rgw "* ]] && has_rgw=1
if [ "$has_rgw" = 1 ]; then
	printf '%-26s %12s %12s %7s %10s %8s\n' "" agora-s3d civet_null ratio radosgw /rgw
else
	printf '%-26s %12s %12s %7s\n' "" agora-s3d civet_null ratio
fi
best_put=0
for row in "${rows[@]}"; do
	a=$(median_of "${fig[$row,s3d]}")
	b=$(median_of "${fig[$row,null]}")
	IFS=- read -r op obj c <<<"$row"
	unit="req/s"
	[ "$obj" = 1M ] && unit="MB/s"
	if [ "$has_rgw" = 1 ]; then
		g=$(median_of "${fig[$row,rgw]}")
		printf '%-26s %12s %12s %7s %10s %8s\n' "${op^^} $obj, $c conn, $unit" \
			"$a" "$b" "$(ratio "$a" "$b")" "$g" "$(ratio "$a" "$g")"
	else
		printf '%-26s %12s %12s %7s\n' "${op^^} $obj, $c conn, $unit" "$a" "$b" "$(ratio "$a" "$b")"
	fi
	if [ "$op-$obj" = put-1M ]; then
		best_put=$(awk -v a="$a" -v b="$best_put" 'BEGIN { print (a > b ? a : b) }')
	fi
done
printf '%-26s %12s %12s %7s %8s  %s\n' "agora put MB/s; best" "$put" "" \
	"$(ratio "$best_put" "$put")" ">= 0.80" "$(verdict "$(ratio "$best_put" "$put")" 0.80)"
say "(the last ratio: the best 1 MiB PUT row of agora-s3d over agora put)"
