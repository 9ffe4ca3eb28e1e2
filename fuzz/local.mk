# fuzz/local.mk - a libFuzzer target on every decoder of untrusted bytes
# (fuzz/fuzz_NAME.c, one LLVMFuzzerTestOneInput each; see fuzz/fuzz.h).
#
#   configure --enable-fuzzing (clang)   fuzz/fuzz_NAME, libFuzzer programs
#   make check (any build)               fuzz/replay_NAME replays
#                                        fuzz/corpus/NAME/, one TAP test
#                                        point per file (sanitized under
#                                        --enable-asan or --enable-fuzzing)
#   AGORA_LONG=1 make check              also fuzz/long.sh: each target
#                                        for AGORA_FUZZ_RUNS executions
#                                        (fuzzing build only)

AGORA_FUZZ_REPLAYS = \
	fuzz/replay_txn fuzz/replay_rpc fuzz/replay_label fuzz/replay_commit \
	fuzz/replay_page fuzz/replay_config fuzz/replay_http \
	fuzz/replay_sigv4 fuzz/replay_range fuzz/replay_xml fuzz/replay_body \
	fuzz/replay_policy

# The gateway's modules without its main, for the s3d targets.
fuzz_libfuzzs3d_a_SOURCES = $(S3D_MODULE_SOURCES)
FUZZ_S3D_LIBS = fuzz/libfuzzs3d.a $(AGORA_LIBS)
FUZZ_REQUEST = fuzz/request.c fuzz/request.h

check_PROGRAMS += $(AGORA_FUZZ_REPLAYS)
TESTS += $(AGORA_FUZZ_REPLAYS)

FUZZ_REPLAY = fuzz/replay.c fuzz/fuzz.h
fuzz_replay_txn_SOURCES = fuzz/fuzz_txn.c $(FUZZ_REPLAY)
fuzz_replay_rpc_SOURCES = fuzz/fuzz_rpc.c $(FUZZ_REPLAY)
fuzz_replay_label_SOURCES = fuzz/fuzz_label.c fuzz/block.h $(FUZZ_REPLAY)
fuzz_replay_commit_SOURCES = fuzz/fuzz_commit.c fuzz/block.h $(FUZZ_REPLAY)
fuzz_replay_page_SOURCES = fuzz/fuzz_page.c $(FUZZ_REPLAY)
fuzz_replay_config_SOURCES = fuzz/fuzz_config.c $(FUZZ_REPLAY)
fuzz_replay_http_SOURCES = fuzz/fuzz_http.c $(FUZZ_REQUEST) $(FUZZ_REPLAY)
fuzz_replay_http_LDADD = $(FUZZ_S3D_LIBS)
fuzz_replay_sigv4_SOURCES = fuzz/fuzz_sigv4.c $(FUZZ_REQUEST) $(FUZZ_REPLAY)
fuzz_replay_sigv4_LDADD = $(FUZZ_S3D_LIBS)
fuzz_replay_range_SOURCES = fuzz/fuzz_range.c $(FUZZ_REQUEST) $(FUZZ_REPLAY)
fuzz_replay_range_LDADD = $(FUZZ_S3D_LIBS)
fuzz_replay_xml_SOURCES = fuzz/fuzz_xml.c $(FUZZ_REPLAY)
fuzz_replay_xml_LDADD = $(FUZZ_S3D_LIBS)
fuzz_replay_body_SOURCES = fuzz/fuzz_body.c $(FUZZ_REQUEST) $(FUZZ_REPLAY)
fuzz_replay_body_LDADD = $(FUZZ_S3D_LIBS)
fuzz_replay_policy_SOURCES = fuzz/fuzz_policy.c $(FUZZ_REPLAY)
fuzz_replay_policy_LDADD = $(FUZZ_S3D_LIBS)

if FUZZING
# The libFuzzer programs: the same targets, libFuzzer's main.
AGORA_FUZZERS = \
	fuzz/fuzz_txn fuzz/fuzz_rpc fuzz/fuzz_label fuzz/fuzz_commit \
	fuzz/fuzz_page fuzz/fuzz_config fuzz/fuzz_http fuzz/fuzz_sigv4 \
	fuzz/fuzz_range fuzz/fuzz_xml fuzz/fuzz_body fuzz/fuzz_policy
noinst_PROGRAMS += $(AGORA_FUZZERS)
FUZZ_LINK = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
fuzz_fuzz_txn_SOURCES = fuzz/fuzz_txn.c fuzz/fuzz.h
fuzz_fuzz_txn_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_rpc_SOURCES = fuzz/fuzz_rpc.c fuzz/fuzz.h
fuzz_fuzz_rpc_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_label_SOURCES = fuzz/fuzz_label.c fuzz/block.h fuzz/fuzz.h
fuzz_fuzz_label_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_commit_SOURCES = fuzz/fuzz_commit.c fuzz/block.h fuzz/fuzz.h
fuzz_fuzz_commit_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_page_SOURCES = fuzz/fuzz_page.c fuzz/fuzz.h
fuzz_fuzz_page_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_config_SOURCES = fuzz/fuzz_config.c fuzz/fuzz.h
fuzz_fuzz_config_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_http_SOURCES = fuzz/fuzz_http.c $(FUZZ_REQUEST) fuzz/fuzz.h
fuzz_fuzz_http_LDADD = $(FUZZ_S3D_LIBS)
fuzz_fuzz_http_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_sigv4_SOURCES = fuzz/fuzz_sigv4.c $(FUZZ_REQUEST) fuzz/fuzz.h
fuzz_fuzz_sigv4_LDADD = $(FUZZ_S3D_LIBS)
fuzz_fuzz_sigv4_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_range_SOURCES = fuzz/fuzz_range.c $(FUZZ_REQUEST) fuzz/fuzz.h
fuzz_fuzz_range_LDADD = $(FUZZ_S3D_LIBS)
fuzz_fuzz_range_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_xml_SOURCES = fuzz/fuzz_xml.c fuzz/fuzz.h
fuzz_fuzz_xml_LDADD = $(FUZZ_S3D_LIBS)
fuzz_fuzz_xml_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_body_SOURCES = fuzz/fuzz_body.c $(FUZZ_REQUEST) fuzz/fuzz.h
fuzz_fuzz_body_LDADD = $(FUZZ_S3D_LIBS)
fuzz_fuzz_body_LDFLAGS = $(FUZZ_LINK)
fuzz_fuzz_policy_SOURCES = fuzz/fuzz_policy.c fuzz/fuzz.h
fuzz_fuzz_policy_LDADD = $(FUZZ_S3D_LIBS)
fuzz_fuzz_policy_LDFLAGS = $(FUZZ_LINK)
# the s3d targets' library is built with everything else here
noinst_LIBRARIES += fuzz/libfuzzs3d.a
else
check_LIBRARIES = fuzz/libfuzzs3d.a
endif

# The long tier: every target for a million executions, when built.
TESTS += fuzz/long.sh
EXTRA_DIST += fuzz/long.sh fuzz/mkseeds.py fuzz/corpus

# Valid seeds from the real encoders, on demand: make fuzz/mkseeds
EXTRA_PROGRAMS = fuzz/mkseeds
fuzz_mkseeds_SOURCES = fuzz/mkseeds.c
CLEANFILES += fuzz/mkseeds
