# bench/local.mk - benchmarks (not installed; bench/run.sh runs them).

noinst_PROGRAMS += bench/bench_pipeline bench/bench_commit

bench_bench_pipeline_SOURCES = bench/bench_pipeline.c
bench_bench_commit_SOURCES = bench/bench_commit.c

EXTRA_DIST += bench/run.sh
