# bench/local.mk - benchmarks (not installed; bench/run.sh runs them).

noinst_PROGRAMS += bench/bench_pipeline

bench_bench_pipeline_SOURCES = bench/bench_pipeline.c

EXTRA_DIST += bench/run.sh
