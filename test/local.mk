# test/local.mk - unit tests (C programs printing TAP) and integration
# tests (scripts that run the real programs in a temporary directory).
#
#   make check              everything (the fast tier)
#   AGORA_LONG=1 make check also the long tier (crash and soak loops)
#   make check-unit         unit tests only
#   make check TESTS=test/integ/basic.sh   one test
#   make check-dist         the release tarball: make distcheck (build,
#                           install, uninstall, VPATH) with the unit tests
#                           and a smoke test of each face

AGORA_UNIT_TESTS = \
	test/unit/test_cdc \
	test/unit/test_delta \
	test/unit/test_ec \
	test/unit/test_btree \
	test/unit/test_pager \
	test/unit/test_drive \
	test/unit/test_stripe \
	test/unit/test_chunkcache \
	test/unit/test_core \
	test/unit/test_net \
	test/unit/test_rpc \
	test/unit/test_unsynced \
	test/unit/test_openfile \
	test/unit/test_keys \
	test/unit/test_txn \
	test/unit/test_event \
	test/unit/test_clean \
	test/unit/test_config \
	test/unit/test_space \
	test/unit/test_fh \
	test/unit/test_lease

AGORA_INTEG_TESTS = \
	test/integ/basic.sh \
	test/integ/status.sh \
	test/integ/crash.sh \
	test/integ/badinput.sh \
	test/integ/corrupt.sh \
	test/integ/scrub.sh \
	test/integ/drivegone.sh \
	test/integ/rebuild.sh \
	test/integ/mirror.sh \
	test/integ/geometry.sh \
	test/integ/foreign.sh \
	test/integ/format_version.sh \
	test/integ/meta_compact.sh \
	test/integ/full.sh \
	test/integ/clean.sh \
	test/integ/reduce.sh \
	test/integ/protocol.sh \
	test/integ/nometad.sh \
	test/integ/rdma.sh \
	test/integ/contrib.sh \
	test/integ/concurrent.sh \
	test/integ/fuse_basic.sh \
	test/integ/fuse_cross.sh \
	test/integ/fuse_shared.sh \
	test/integ/fuse_crash.sh \
	test/integ/failover.sh \
	test/integ/failover_lazy.sh \
	test/integ/failover_netns.sh \
	test/integ/fuse_posix.sh \
	test/integ/fuse_diff.py \
	test/integ/fuse_fsx.sh \
	test/integ/s3_basic.sh \
	test/integ/s3_boto.py \
	test/integ/s3_tagging.py \
	test/integ/s3_parts.py \
	test/integ/s3_cors.py \
	test/integ/s3_post.py \
	test/integ/s3_lifecycle.py \
	test/integ/s3_sse.sh \
	test/integ/s3_clients.sh \
	test/integ/s3_cross.sh \
	test/integ/s3_auth.sh \
	test/integ/s3_versioning.sh \
	test/integ/s3_badinput.py \
	test/integ/s3_race.sh \
	test/integ/s3_fuse.sh \
	test/integ/s3_crash.sh \
	test/integ/s3_tls.sh \
	test/integ/s3_slowloris.sh \
	test/integ/nfs.sh \
	test/integ/smb.sh \
	test/integ/events.sh \
	test/integ/s3_notify.sh \
	test/integ/pipeline_demo.sh

check_PROGRAMS += $(AGORA_UNIT_TESTS) test/integ/fsx test/integ/nfs_tool

test_unit_test_cdc_SOURCES = test/unit/test_cdc.c test/unit/tap.h
test_unit_test_delta_SOURCES = test/unit/test_delta.c test/unit/tap.h
test_unit_test_ec_SOURCES = test/unit/test_ec.c test/unit/tap.h
test_unit_test_btree_SOURCES = test/unit/test_btree.c test/unit/tap.h
test_unit_test_pager_SOURCES = test/unit/test_pager.c test/unit/tap.h \
	test/unit/drives.h
test_unit_test_drive_SOURCES = test/unit/test_drive.c test/unit/tap.h \
	test/unit/drives.h
test_unit_test_chunkcache_SOURCES = test/unit/test_chunkcache.c test/unit/tap.h
test_unit_test_stripe_SOURCES = test/unit/test_stripe.c test/unit/stripes.h \
	test/unit/drives.h test/unit/tap.h
test_unit_test_core_SOURCES = test/unit/test_core.c test/unit/tap.h \
	test/unit/fixture.h
test_unit_test_net_SOURCES = test/unit/test_net.c test/unit/tap.h
test_unit_test_rpc_SOURCES = test/unit/test_rpc.c test/unit/tap.h
test_unit_test_unsynced_SOURCES = test/unit/test_unsynced.c test/unit/tap.h
test_unit_test_openfile_SOURCES = test/unit/test_openfile.c test/unit/tap.h \
	test/unit/fixture.h
test_unit_test_keys_SOURCES = test/unit/test_keys.c test/unit/tap.h
test_unit_test_txn_SOURCES = test/unit/test_txn.c test/unit/tap.h
test_unit_test_event_SOURCES = test/unit/test_event.c test/unit/tap.h
test_unit_test_clean_SOURCES = test/unit/test_clean.c test/unit/tap.h \
	test/unit/fixture.h
test_unit_test_config_SOURCES = test/unit/test_config.c test/unit/tap.h
test_unit_test_space_SOURCES = test/unit/test_space.c test/unit/tap.h
# agora-fused's handle numbers: the module alone, no libagora
test_unit_test_fh_SOURCES = test/unit/test_fh.c test/unit/tap.h fused/fh.c
test_unit_test_fh_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fused
test_unit_test_fh_LDADD =
test_unit_test_lease_SOURCES = test/unit/test_lease.c test/unit/tap.h \
	test/unit/drives.h
# fsx runs against a mount (test/integ/fuse_fsx.sh): no libagora
test_integ_fsx_SOURCES = test/integ/fsx.c
test_integ_fsx_LDADD =
# nfs_tool is an NFS client (libnfs) for test/integ/nfs.sh: no libagora
test_integ_nfs_tool_SOURCES = test/integ/nfs_tool.c
test_integ_nfs_tool_CFLAGS = $(AM_CFLAGS) $(NFS_CFLAGS)
test_integ_nfs_tool_LDADD = $(NFS_LIBS)

# The layer order of common/LAYERS, in includes and in the built objects'
# calls (test/check-layers.sh).
AGORA_CHECKS = test/check-layers.sh

TESTS += $(AGORA_CHECKS) $(AGORA_UNIT_TESTS) $(AGORA_INTEG_TESTS)
EXTRA_DIST += $(AGORA_CHECKS) $(AGORA_INTEG_TESTS) test/integ/lib.sh test/integ/netns_run.sh \
	test/run-all.sh test/integ/s3_env.sh test/integ/s3test.py \
	test/integ/s3_auth_rules.py test/integ/s3_sse_cases.py \
	test/integ/s3_versions_boto.py \
	test/integ/events_hook.py

# Unit tests (no extension) speak TAP: one result per test point.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) \
	$(top_srcdir)/build-aux/tap-driver.sh

# Scripts use automake's plain driver (build-aux/test-driver): exit 0
# pass, 77 skip, 99 hard error, anything else fail. They run through their
# interpreter, so the executable bit does not matter.
TEST_EXTENSIONS = .sh .py
SH_LOG_COMPILER = bash
PY_LOG_COMPILER = python3

# What every test sees. UBSan stops at the first report so that undefined
# behaviour fails the test under --enable-asan instead of scrolling by.
AM_TESTS_ENVIRONMENT = \
	AGORA_BUILDDIR='$(abs_top_builddir)'; \
	AGORA_SRCDIR='$(abs_top_srcdir)'; \
	UBSAN_OPTIONS="$${UBSAN_OPTIONS-print_stacktrace=1:halt_on_error=1}"; \
	export AGORA_BUILDDIR AGORA_SRCDIR UBSAN_OPTIONS;

check-unit:
	$(AM_V_at)$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(AGORA_UNIT_TESTS)'

# What make distcheck runs inside the unpacked tarball: enough to show that
# every source, script and page the tests need was shipped; the whole
# suite runs from the tree.
AGORA_DIST_TESTS = $(AGORA_UNIT_TESTS) test/integ/basic.sh \
	test/integ/fuse_basic.sh test/integ/s3_basic.sh

check-dist:
	$(AM_V_at)$(MAKE) $(AM_MAKEFLAGS) distcheck TESTS='$(AGORA_DIST_TESTS)'

.PHONY: check-unit check-dist
