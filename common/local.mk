# common/local.mk - libagora, the element core (see README: layer order).

noinst_LIBRARIES += common/libagora.a

common_libagora_a_SOURCES = \
	common/agora.h common/base.h \
	common/util.c common/util.h \
	common/config.c common/config.h \
	common/drive.c common/drive.h common/geometry.h \
	common/pool.c common/pool.h \
	common/commit.c common/commit.h \
	common/page.h \
	common/pager.c common/pager.h \
	common/btree.c common/btree.h \
	common/cdc.c common/cdc.h \
	common/ec.c common/ec.h \
	common/keys.c common/keys.h \
	common/format.h \
	common/stripe.c common/stripe.h common/stripe_int.h \
	common/chunkcache.c common/chunkcache.h \
	common/mirror.c \
	common/txn.c common/txn.h \
	common/space.c common/space.h \
	common/meta.c common/meta_int.h \
	common/holds.c \
	common/apply.c common/apply.h common/apply_int.h common/refs.c \
	common/rpc.c common/rpc.h \
	common/watch.c \
	common/cluster.c common/cluster.h \
	common/elem.c common/elem.h \
	common/acl.c \
	common/file_int.h common/read.c common/sink.c common/writer.c \
	common/write.c \
	common/openfile.c common/openfile.h \
	common/handle.c \
	common/objects.c \
	common/uploads.c \
	common/daemon.c \
	common/fsck.c

# What every program links: the core, then the libraries it (and the
# daemons) use. -Wl,--as-needed (when the linker has it) drops the ones a
# given program does not reference.
AGORA_LIBS = common/libagora.a \
	$(ISAL_LIBS) $(ZSTD_LIBS) $(CRYPTO_LIBS) $(SQLITE3_LIBS) \
	$(CURL_LIBS) $(NFS_LIBS) $(FUSE3_LIBS) $(CIVETWEB_LIBS) \
	$(RDMA_LIBS) -lpthread

# The layer order test/check-layers.sh checks (README: Source layout).
EXTRA_DIST += common/LAYERS
