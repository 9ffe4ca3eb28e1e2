# common/local.mk - libagora, the element core: one folder per group of
# layers, bottom first (common/LAYERS, README: Source layout), each with
# its local.mk.

noinst_LIBRARIES += common/libagora.a

common_libagora_a_SOURCES =
include common/base/local.mk
include common/disk/local.mk
include common/meta/local.mk
include common/store/local.mk
include common/client/local.mk

# What every program links: the core, then the libraries it (and the
# daemons) use. -Wl,--as-needed (when the linker has it) drops the ones a
# given program does not reference.
AGORA_LIBS = common/libagora.a \
	$(ISAL_LIBS) $(ZSTD_LIBS) $(CRYPTO_LIBS) $(SQLITE3_LIBS) \
	$(CURL_LIBS) $(NFS_LIBS) $(FUSE3_LIBS) $(CIVETWEB_LIBS) \
	$(RDMA_LIBS) -lpthread

# The layer order test/check-layers.sh checks (README: Source layout).
EXTRA_DIST += common/LAYERS
