#!/bin/bash
# bench/run.sh - the element core's benchmarks, side by side with what the
# hardware allows: `agora put` and `agora get` against the single-thread
# pipeline ceiling (bench_pipeline), chunking (bench_cdc) and the stripes
# of the data plane on drive files (bench_stripe) on their own, and
# metad's group commit rate with 1 and 8 clients, and 8 clients of 8
# threads each (bench_commit), durable (as S3 and agora put commit) and
# lazy (as agora-fused commits). Every figure is a median of several
# runs: the machines are noisy.
#
#   bench/run.sh
#
# The gateways have benchmarks of their own, each side by side with its
# ceiling: bench/fuse.sh (agora-fused against libfuse's passthrough_ll,
# fio and a metadata run) and bench/s3.sh (agora-s3d against a bare
# civetweb server, with the s3load load generator).
#
# Builds first (in place, or in build/ as contrib/agora-start.sh does),
# then makes a cluster of six sparse drive files in a temporary directory,
# formats it, starts agora-metad there and removes it all at the end.
#
# Environment:
#   AGORA_BENCH_SIZE=1G     bytes per put (K, M, G suffixes)
#   AGORA_BENCH_RUNS=3      runs per figure; each put gets its own data
#   AGORA_BENCH_CREATES=2000  empty files per client in bench_commit
#   and those of bench/lib.sh (AGORA_BENCH_DIR, AGORA_BUILD, AGORA_KEEP)
size_arg=${AGORA_BENCH_SIZE:-1G}
creates=${AGORA_BENCH_CREATES:-2000}
bench_name=run
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_pipeline=$build/bench/bench_pipeline
bench_commit=$build/bench/bench_commit
bench_cdc=$build/bench/bench_cdc
bench_stripe=$build/bench/bench_stripe

size=$(numfmt --from=iec "${size_arg%[bB]}" 2>/dev/null) ||
	die "AGORA_BENCH_SIZE=$size_arg: not a size"
[ "$size" -gt 0 ] || die "AGORA_BENCH_SIZE must be > 0"
# sparse drives: 4+2 over 6 drives puts a quarter of the data on each;
# leave room for every put even with no reduction at all, four times over,
# and for the metadata of the creates
drive_size=$(( (size * runs + (1 << 30)) >> 30 ))G

# mbps SECONDS: MB/s (10^6 bytes) of $size bytes in that time.
mbps() { awk -v b="$size" -v t="$1" 'BEGIN { printf "%.1f", b / t / 1e6 }'; }
# busy: the cpu share of the last timed command.
busy() { awk -v c="$cpu" -v w="$wall" 'BEGIN { printf "%.0f", 100 * c / w }'; }
# result FILE KEY: the value of a "result KEY VALUE" line.
result() { awk -v k="$2" '$1 == "result" && $2 == k { print $3 }' "$1"; }

say "Agora element core benchmarks: $size_arg per put, $runs runs, medians"
say "host: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' \
	/proc/cpuinfo 2>/dev/null || echo unknown CPU)"
say "work: $T (drives of $drive_size, ec 4+2)"
cluster_start "$drive_size"

say ""
say "== pipeline ceiling (one thread, in memory) =="
"$bench_pipeline" -s "$size" -S 1 -r "$runs" -o "$T/data-1" | tee "$T/pipeline"
for ((i = 2; i <= runs; i++)); do
	"$bench_pipeline" -s "$size" -S "$i" -r 0 -o "$T/data-$i"
done
ceil_w=$(result "$T/pipeline" write_MBps)
ceil_r=$(result "$T/pipeline" read_MBps)

say ""
say "== chunking (one thread, in memory) and stripes (4+2, drive files) =="
"$bench_cdc" | tee "$T/cdc"
"$bench_stripe" | tee "$T/stripe"

say ""
say "== agora put / get ($size_arg, distinct data each run) =="
puts=() gets=()
for ((i = 1; i <= runs; i++)); do
	timed ag put "$T/data-$i" "/bench/data-$i"
	puts+=("$(mbps "$wall")")
	say "put data-$i: ${puts[-1]} MB/s ($wall s, cpu $cpu s: $(busy) %)"
done
for ((i = 1; i <= runs; i++)); do
	timed ag get "/bench/data-$i" /dev/null
	gets+=("$(mbps "$wall")")
	say "get data-$i: ${gets[-1]} MB/s ($wall s, cpu $cpu s: $(busy) %)"
done
want=$(sha256sum <"$T/data-1" | cut -d' ' -f1)
got=$(ag get /bench/data-1 - | sha256sum | cut -d' ' -f1)
[ "$want" = "$got" ] || die "get /bench/data-1 differs from data-1"
say "get /bench/data-1 verified: sha256 matches"
put=$(median "${puts[@]}")
get=$(median "${gets[@]}")

say ""
say "== metad group commit: empty creates, one handle per client =="
say "   (8x8: 8 clients with 8 threads each on the client's one handle, as"
say "   a gateway's threads share one connection; lazy: answered once"
say "   written, synced in the background, as agora-fused commits)"
c1=() c8=() c88=() l1=() l8=()
for ((i = 1; i <= runs; i++)); do
	"$bench_commit" -c "$conf" -t 1 -n "$creates" | tee "$T/commit"
	c1+=("$(result "$T/commit" creates_per_s)")
	"$bench_commit" -c "$conf" -t 8 -n "$creates" | tee "$T/commit"
	c8+=("$(result "$T/commit" creates_per_s)")
	"$bench_commit" -c "$conf" -t 8 -p 8 -n "$((creates / 4))" | tee "$T/commit"
	c88+=("$(result "$T/commit" creates_per_s)")
	"$bench_commit" -c "$conf" -t 1 -l -n "$creates" | tee "$T/commit"
	l1+=("$(result "$T/commit" creates_per_s)")
	"$bench_commit" -c "$conf" -t 8 -l -n "$creates" | tee "$T/commit"
	l8+=("$(result "$T/commit" creates_per_s)")
done
cr1=$(median "${c1[@]}")
cr8=$(median "${c8[@]}")
cr88=$(median "${c88[@]}")
lz1=$(median "${l1[@]}")
lz8=$(median "${l8[@]}")

say ""
say "== agora status =="
ag status

say ""
say "== summary (medians of $runs) =="
printf '%-26s %12s %12s %7s %8s\n' "" measured ceiling ratio target
printf '%-26s %12s %12s %7s %8s  %s\n' "put MB/s" "$put" "$ceil_w" \
	"$(ratio "$put" "$ceil_w")" ">= 0.60" \
	"$(verdict "$(ratio "$put" "$ceil_w")" 0.60)"
printf '%-26s %12s %12s %7s %8s  %s\n' "get MB/s" "$get" "$ceil_r" \
	"$(ratio "$get" "$ceil_r")" ">= 0.60" \
	"$(verdict "$(ratio "$get" "$ceil_r")" 0.60)"
printf '%-26s %12s %12s %7s %8s\n' "creates/s, 1 client" "$cr1" "" "" ""
printf '%-26s %12s %12s %7s %8s  %s\n' "creates/s, 8 clients" "$cr8" \
	20000 "$(ratio "$cr8" 20000)" ">= 1.00" "$(verdict "$cr8" 20000)"
printf '%-26s %12s %12s %7s %8s  %s\n' "creates/s, 8x8 threads" "$cr88" \
	20000 "$(ratio "$cr88" 20000)" ">= 1.00" "$(verdict "$cr88" 20000)"
printf '%-26s %12s %12s %7s %8s\n' "lazy creates/s, 1 client" "$lz1" "" "" ""
printf '%-26s %12s %12s %7s %8s  %s\n' "lazy creates/s, 8 clients" "$lz8" \
	20000 "$(ratio "$lz8" 20000)" ">= 1.00" "$(verdict "$lz8" 20000)"
