# common/client/local.mk - libagora's client/ layers (common/LAYERS):
# a cluster handle and what a gateway does with it: elements, permissions,
# reading and writing data, open files, S3 objects and uploads, opening a
# cluster, fsck, scrub, drive rebuild, what is stored.

common_libagora_a_SOURCES += \
	common/client/cluster.c common/client/cluster.h common/client/watch.c \
	common/client/unsynced.c common/client/unsynced.h \
	common/client/elem.c common/client/elem.h common/client/acl.c \
	common/client/file_int.h common/client/read.c common/client/sink.c \
	common/client/writer.c common/client/write.c common/client/openfile.c \
	common/client/openfile.h common/client/objects.c common/client/parts.c \
	common/client/crypt.c \
	common/client/objects_int.h common/client/versions.c \
	common/client/uploads.c common/client/handle.c common/client/fsck.c \
	common/client/scrub.c common/client/scrub.h \
	common/client/rebuild.c common/client/clean.c common/client/usage.c \
	common/client/events.c common/client/events.h common/client/trigger.c \
	common/client/catalog.c common/client/lifecycle.c
