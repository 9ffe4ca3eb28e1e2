# bench/local.mk - benchmarks (not installed; bench/run.sh, bench/fuse.sh
# and bench/s3.sh run them).

noinst_PROGRAMS += bench/bench_pipeline bench/bench_commit bench/bench_cdc \
	bench/bench_stripe bench/bench_delta

bench_bench_pipeline_SOURCES = bench/bench_pipeline.c
bench_bench_commit_SOURCES = bench/bench_commit.c
# The throughput figures the unit tests of cdc.c and stripe.c used to
# print: chunking in memory, and packing and reading stripes of drive files.
bench_bench_cdc_SOURCES = bench/bench_cdc.c
# Similarity reduction: the speed of super-features and deltas, and what
# they save over dedup and zstd on the files given.
bench_bench_delta_SOURCES = bench/bench_delta.c
bench_bench_stripe_SOURCES = bench/bench_stripe.c test/unit/stripes.h \
	test/unit/drives.h test/unit/tap.h

EXTRA_DIST += bench/run.sh

# The gateways' benchmarks (bench/fuse.sh, bench/s3.sh): an S3 load
# generator and the bare-civetweb HTTP ceiling it is compared with.
noinst_PROGRAMS += bench/s3load bench/civet_null

bench_s3load_SOURCES = bench/s3load.c
bench_s3load_LDADD = $(CURL_LIBS) $(CRYPTO_LIBS)
bench_civet_null_SOURCES = bench/civet_null.c
bench_civet_null_LDADD = $(CIVETWEB_LIBS) -lpthread

EXTRA_DIST += bench/lib.sh bench/fuse.sh bench/s3.sh bench/meta.sh \
	bench/reduce.sh bench/gluster.sh bench/ceph.sh bench/heal.sh \
	bench/cpa.sh bench/nfs.sh bench/events.sh
