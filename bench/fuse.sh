#!/bin/bash
# bench/fuse.sh - agora-fused side by side with libfuse's passthrough_ll
# (the FUSE ceiling) over the same disk: passthrough_ll mirrors a directory
# next to the drive files. fio measures sequential write and read with
# 1 MiB blocks and random 4 KiB reads with 1 and 4 jobs; a small python3
# program times creating, stating and unlinking many small files. Every
# figure is the median of several runs; the table gives both columns and
# their ratio, and `agora put` of the same size for the aim "sequential
# write through FUSE at least 80 % of agora put" (both write random bytes:
# fio refills its buffers for every block). A single-brick GlusterFS
# volume on the same disk (bench/gluster.sh: glusterd in a network
# namespace of the script's own) is a third column when glusterfs-server
# is installed, with the ratio of Agora to it.
#
#   bench/fuse.sh
#
# Builds first (see bench/lib.sh), compiles passthrough_ll from libfuse's
# examples (libfuse3-dev) into the temporary directory, makes a cluster
# there, mounts both file systems and removes it all at the end. Run as
# root so that the caches can be dropped between writing and reading.
#
# Environment (and those of bench/lib.sh):
#   AGORA_BENCH_SIZE=1G      bytes of the sequential file (K, M, G)
#   AGORA_BENCH_FILES=20000  small files of the metadata run
#   AGORA_BENCH_SECS=5       seconds of each random-read run
#   AGORA_FUSED_OPTS=opts    extra -o options for agora-fused
#   AGORA_BENCH_GLUSTER=0    leave GlusterFS out
#   PASSTHROUGH_LL_SRC=file  passthrough_ll.c (default: libfuse3-dev's)
bench_name=fuse
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/gluster.sh"

size_arg=${AGORA_BENCH_SIZE:-1G}
files=${AGORA_BENCH_FILES:-20000}
secs=${AGORA_BENCH_SECS:-5}

size=$(numfmt --from=iec "${size_arg%[bB]}" 2>/dev/null) ||
	die "AGORA_BENCH_SIZE=$size_arg: not a size"
command -v fio >/dev/null || die "fio not installed"
can_drop_caches || say "note: cannot drop caches (not root): reads may come from the page cache"

# ---- the two file systems ------------------------------------------------
drive_size=$(( (size * (runs + 2) + (1 << 30)) >> 30 ))G
cluster_start "$drive_size"
fused_start "$T/agora"
# passthrough_ll keeps a descriptor open per inode it knows: give it room
# for the metadata run, or make the run fit the limit
# (the rates are per second: a smaller run still compares)
files_pt=$files
want_fds=$((files + 4096))
if ! (ulimit -n "$want_fds") 2>/dev/null; then
	files_pt=$(( $(ulimit -Hn) - 4096 ))
	[ "$files_pt" -le "$files" ] || files_pt=$files
	[ "$files_pt" -gt 1000 ] || die "the descriptor limit $(ulimit -Hn) is too low for passthrough_ll"
	say "note: cannot raise the descriptor limit: passthrough_ll's metadata run makes $files_pt files"
	want_fds=$(ulimit -Hn)
fi
pt_fds=$want_fds passthrough_start "$T/pt-src" "$T/pt"

fss=(agora pt)
if [ "${AGORA_BENCH_GLUSTER:-1}" = 0 ]; then
	say "note: GlusterFS left out (AGORA_BENCH_GLUSTER=0)"
elif gluster_start; then
	fss+=(gluster)
else
	say "note: no GlusterFS column: $gluster_why"
fi

# fio_run OUT ARGS...: fio with JSON output in OUT.
fio_run() {
	local out=$1
	shift
	fio --output-format=json --output="$out" --ioengine=psync "$@" >/dev/null ||
		die "fio $* failed: $(tail -n 5 "$out" 2>/dev/null)"
}
# fio_get FILE read|write bw|iops: the figure (bw in MB/s) of the first
# job (group_reporting sums the jobs into it).
fio_get() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0][sys.argv[2]]
print("%.1f" % (j["bw_bytes"] / 1e6) if sys.argv[3] == "bw" else "%.0f" % j["iops"])' "$@"
}

# random reads direct when both file systems take O_DIRECT, else buffered
# with the caches dropped before each run
direct=1
for fs in "${fss[@]}"; do
	mnt=$T/$fs
	if ! fio --name=probe --filename="$mnt/probe" --size=1M --bs=4k --rw=randread \
		--direct=1 --ioengine=psync --output=/dev/null >/dev/null 2>&1; then
		direct=0
	fi
	rm -f "$mnt/probe"
done

# meta_run DIR COUNT OUT: create, stat (after dropping caches) and unlink
# COUNT empty files in DIR; "create N", "stat N", "unlink N" per second in
# OUT.
meta_run() {
	python3 - "$1" "$2" >"$3" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
names = [os.path.join(d, "f%06d" % i) for i in range(n)]
t = time.monotonic()
for p in names:
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
print("create %.0f" % (n / (time.monotonic() - t)))
sys.stdout.flush()
os.sync()
try:
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
except OSError:
    pass
t = time.monotonic()
for p in names:
    os.stat(p)
print("stat %.0f" % (n / (time.monotonic() - t)))
t = time.monotonic()
for p in names:
    os.unlink(p)
print("unlink %.0f" % (n / (time.monotonic() - t)))
os.rmdir(d)
PY
}

say "Agora FUSE benchmarks: agora-fused against passthrough_ll, $runs runs, medians"
say "host: $(nproc) CPUs; work: $T ($(df -T "$T" | awk 'NR == 2 { print $2 }'))"
say "sequential file $size_arg, 1 MiB blocks, end_fsync; random 4 KiB reads" \
	"$([ "$direct" = 1 ] && echo "with O_DIRECT" || echo "buffered, caches dropped")," \
	"$secs s; metadata: $files files"
declare -A fig
rows=(seqw seqr rr1 rr4 create stat unlink)
for ((r = 1; r <= runs; r++)); do
	for fs in "${fss[@]}"; do
		mnt=$T/$fs
		rm -f "$mnt/seq"
		# fresh random bytes in every block, as agora put is fed
		# below: fio's default buffers compress a little (1.13:1
		# here), which costs zstd three times what random bytes do
		fio_run "$T/fio.json" --name=seqw --filename="$mnt/seq" --rw=write --bs=1M \
			--size="$size" --end_fsync=1 --refill_buffers
		fig[seqw,$fs]+=" $(fio_get "$T/fio.json" write bw)"
		drop_caches
		fio_run "$T/fio.json" --name=seqr --filename="$mnt/seq" --rw=read --bs=1M \
			--size="$size"
		fig[seqr,$fs]+=" $(fio_get "$T/fio.json" read bw)"
		for jobs in 1 4; do
			drop_caches
			fio_run "$T/fio.json" --name=rr --filename="$mnt/seq" --rw=randread \
				--bs=4k --size="$size" --direct="$direct" --numjobs="$jobs" \
				--group_reporting --time_based --runtime="$secs"
			fig[rr$jobs,$fs]+=" $(fio_get "$T/fio.json" read iops)"
		done
		rm -f "$mnt/seq"
		n=$files
		[ "$fs" = pt ] && n=$files_pt
		meta_run "$mnt/meta-$r" "$n" "$T/meta.out"
		for k in create stat unlink; do
			fig[$k,$fs]+=" $(awk -v k="$k" '$1 == k { print $2 }' "$T/meta.out")"
		done
	done
	line="run $r:"
	for fs in "${fss[@]}"; do
		line+=" $fs $(echo "${fig[seqw,$fs]}" | awk '{ print $NF }')"
		line+="/$(echo "${fig[seqr,$fs]}" | awk '{ print $NF }') MB/s;"
	done
	say "$line (seq write/read)"
done

say ""
say "== agora put of $size_arg (fresh random data each run) =="
put=$(put_mbps "$size")

label() {
	case $1 in
	seqw) echo "seq write 1 MiB, MB/s" ;;
	seqr) echo "seq read 1 MiB, MB/s" ;;
	rr1) echo "rand read 4 KiB 1 job, IOPS" ;;
	rr4) echo "rand read 4 KiB 4 jobs, IOPS" ;;
	create) echo "creates/s" ;;
	stat) echo "stats/s (cold)" ;;
	unlink) echo "unlinks/s" ;;
	esac
}
say ""
say "== summary (medians of $runs) =="
if [[ " ${fss[*]} " == *" gluster "* ]]; then
	printf '%-30s %12s %14s %9s %9s %10s\n' "" agora-fused passthrough_ll /pt GlusterFS /gluster
else
	printf '%-30s %12s %14s %9s\n' "" agora-fused passthrough_ll /pt
fi
for row in "${rows[@]}"; do
	a=$(median_of "${fig[$row,agora]}")
	p=$(median_of "${fig[$row,pt]}")
	if [[ " ${fss[*]} " == *" gluster "* ]]; then
		g=$(median_of "${fig[$row,gluster]}")
		printf '%-30s %12s %14s %9s %9s %10s\n' "$(label "$row")" "$a" "$p" \
			"$(ratio "$a" "$p")" "$g" "$(ratio "$a" "$g")"
	else
		printf '%-30s %12s %14s %9s\n' "$(label "$row")" "$a" "$p" "$(ratio "$a" "$p")"
	fi
done
seqw=$(median_of "${fig[seqw,agora]}")
printf '%-30s %12s %14s %7s %8s  %s\n' "agora put MB/s; seq write/put" "$put" "" \
	"$(ratio "$seqw" "$put")" ">= 0.80" "$(verdict "$(ratio "$seqw" "$put")" 0.80)"
